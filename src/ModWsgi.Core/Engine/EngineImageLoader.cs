using System.Text.Json.Nodes;
using ModWsgi.Core.Cache;
using ModWsgi.Core.Layers;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Pipeline;
using ModWsgi.Core.Project;
using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Engine;

/// <summary>
/// Loads an image into the engine (`docker load`). Into Docker's classic store it ships only layers the engine
/// lacks: never the base, and not the leading layers it already holds under the first tag's current image
/// (runtime and dependencies on a source-only rebuild). Podman and the containerd store take only complete
/// archives: every layer travels. Used by the engine destination and for the build hook's dependency stage.
/// </summary>
public sealed class EngineImageLoader(IContainerEngine engine, BuildCache cache, PhaseTimings? timings = null)
{
    public async Task LoadAsync(byte[] config, BaseImage baseImage, IReadOnlyList<Layer> added, IReadOnlyList<string> tags, CancellationToken cancellationToken)
    {
        var (shipped, held) = await ChooseLayersAsync(baseImage, added, tags, cancellationToken).ConfigureAwait(false);
        var diffIds = baseImage.DiffIds.Concat(added.Select(l => l.DiffId)).ToArray();
        var spool = cache.Blobs.NewTempFile();
        await using var stream = new FileStream(spool, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.DeleteOnClose);
        await ImageArchiveWriter.WriteForEngineAsync(stream, config, diffIds, held, shipped, cache.Blobs, tags, cancellationToken).ConfigureAwait(false);
        stream.Position = 0;
        timings?.Lap("engine-archive");
        await engine.LoadImageAsync(stream, cancellationToken).ConfigureAwait(false);
        timings?.Lap("engine-load");
    }

    /// <summary>
    /// The layers the archive may carry and how many leading ones the engine holds (named, not carried). Only
    /// Docker's classic store takes an archive without the layers it holds; Podman and the containerd store
    /// get every layer, the base's from its export (done once per base image id, then from the build cache).
    /// </summary>
    private async Task<(IReadOnlyList<Layer> Shipped, int Held)> ChooseLayersAsync(BaseImage baseImage, IReadOnlyList<Layer> added, IReadOnlyList<string> tags, CancellationToken cancellationToken)
    {
        var kind = await engine.GetEngineKindAsync(cancellationToken).ConfigureAwait(false);
        if (!kind.LoadsArchivesWithoutHeldLayers())
        {
            var baseLayers = await BaseLayerExporter.EnsureAsync(engine, baseImage, cache, cancellationToken).ConfigureAwait(false);
            timings?.Lap("engine-base-layers");
            return ([.. baseLayers, .. added], 0);
        }
        var diffIds = baseImage.DiffIds.Concat(added.Select(l => l.DiffId)).ToArray();
        var held = baseImage.DiffIds.Count;
        if (tags.Count > 0 && await engine.InspectImageAsync(tags[0], cancellationToken).ConfigureAwait(false) is { } current
            && current["RootFS"]?["Layers"] is JsonArray layers)
        {
            var common = layers.Select(l => l?.GetValue<string>()).Zip(diffIds).TakeWhile(p => p.First == p.Second).Count();
            held = Math.Max(held, common);
        }
        return (added, held);
    }
}
