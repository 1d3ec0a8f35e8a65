using System.Text.Json.Nodes;
using ModWsgi.Core.Cache;
using ModWsgi.Core.Layers;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Pipeline;
using ModWsgi.Core.Project;
using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Engine;

/// <summary>
/// Loads an image into the engine (`docker load`), shipping only layers it lacks: never the base, and not
/// the leading layers it already holds under the first tag's current image (runtime and dependencies on a
/// source-only rebuild). Used by the engine destination and for the build hook's dependency stage.
/// </summary>
public sealed class EngineImageLoader(IContainerEngine engine, BuildCache cache, PhaseTimings? timings = null)
{
    public async Task LoadAsync(byte[] config, BaseImage baseImage, IReadOnlyList<Layer> added, IReadOnlyList<string> tags, CancellationToken cancellationToken)
    {
        var diffIds = baseImage.DiffIds.Concat(added.Select(l => l.DiffId)).ToArray();
        var held = baseImage.DiffIds.Count;
        if (tags.Count > 0 && await engine.InspectImageAsync(tags[0], cancellationToken).ConfigureAwait(false) is { } current
            && current["RootFS"]?["Layers"] is JsonArray layers)
        {
            var common = layers.Select(l => l?.GetValue<string>()).Zip(diffIds).TakeWhile(p => p.First == p.Second).Count();
            held = Math.Max(held, common);
        }
        var spool = cache.Blobs.NewTempFile();
        await using var stream = new FileStream(spool, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.DeleteOnClose);
        await ImageArchiveWriter.WriteForEngineAsync(stream, config, diffIds, held, added, cache.Blobs, tags, cancellationToken).ConfigureAwait(false);
        stream.Position = 0;
        timings?.Lap("engine-archive");
        await engine.LoadImageAsync(stream, cancellationToken).ConfigureAwait(false);
        timings?.Lap("engine-load");
    }
}
