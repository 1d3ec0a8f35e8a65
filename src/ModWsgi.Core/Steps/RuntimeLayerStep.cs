using ModWsgi.Core.Cache;
using ModWsgi.Core.Layers;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Pipeline;
using ModWsgi.Core.Project;
using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Steps;

/// <summary>The runtime layer: our start/shell/launcher scripts and the /data folder, written directly; changes only with the SDK (and ContainerUser, /data's owner).</summary>
public sealed record RuntimeLayer(AddedLayer Added);

public sealed class RuntimeLayerStep(BuildCache cache)
{
    public async Task<RuntimeLayer> RunAsync(ImagePlan plan, CancellationToken cancellationToken)
    {
        // The fixed epoch: a new commit must not invalidate a layer that only the SDK changes.
        var layer = await LayerWriter.WriteAsync(cache.Blobs, SourceDateEpoch.Fixed,
            w => LayerSources.WriteRuntimeAsync(w, plan.RuntimeScripts, LayerSources.DataDirectoryOwner(plan.Options.User), cancellationToken)).ConfigureAwait(false);
        return new RuntimeLayer(new AddedLayer(layer, "ModWsgi.Sdk runtime: " + string.Join(", ", PlanStep.RuntimeScriptNames)));
    }
}
