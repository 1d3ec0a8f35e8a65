using Microsoft.Extensions.Logging;
using ModWsgi.Core.Cache;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Engine;
using ModWsgi.Core.Oci;

namespace ModWsgi.Core.Pipeline;

/// <summary>What a prune removed.</summary>
/// <param name="Cache">The cache folder's part; null when a build held the cache (nothing there was touched).</param>
/// <param name="ImagesRemoved">Our dangling images and stage images removed from the engine.</param>
public sealed record PruneReport(CachePruneResult? Cache, IReadOnlyList<string> ImagesRemoved);

/// <summary>
/// `modwsgi prune` and the size bound after every build: the cache folder (<see cref="CachePruner"/>, under the
/// prune lock), our dangling images (earlier builds' images a rebuild moved the tag off) and `modwsgi/stage:*` images
/// whose dependency layer this prune removed from the cache (with --all, every stage image of ours). Images are found by our label (<see cref="ImageLabels.Owned"/>):
/// never another tool's, and never one a container still uses (removals are not forced).
/// </summary>
public static class Pruning
{
    public static async Task<PruneReport> RunAsync(IContainerEngine? engine, string cacheRoot, long? sizeLimit, bool everything,
        TimeSpan lockPatience, ILogger logger, CancellationToken cancellationToken)
    {
        CachePruneResult? cache = null;
        using (var held = await PruneLock.ExclusiveAsync(cacheRoot, lockPatience, cancellationToken).ConfigureAwait(false))
        {
            if (held is not null)
                cache = CachePruner.Prune(cacheRoot, sizeLimit, everything, DateTime.UtcNow);
            else
                logger.LogDebug("The build cache at {Root} is held by a running build: its folder was not pruned", cacheRoot);
        }
        var removed = new List<string>();
        if (engine is not null)
        {
            foreach (var image in await engine.ListImagesAsync([ImageLabels.Owned], danglingOnly: true, cancellationToken).ConfigureAwait(false))
            {
                if (await engine.RemoveImageAsync(image.Id, cancellationToken).ConfigureAwait(false))
                    removed.Add(image.Id);
            }
            // A stage is base + runtime + dependencies: of use while the cache holds its dependency layer. Without --all only
            // the stages of dependency layers this prune removed from this cache go: the engine may serve other caches (another
            // user's, a parallel CI job's), whose stages this cache knows nothing of.
            if (everything || cache is { RemovedDependencyLayers.Count: > 0 })
            {
                foreach (var stage in await engine.ListImagesAsync([$"{ImageLabels.Owned}={ImageLabels.Stage}"], danglingOnly: false, cancellationToken).ConfigureAwait(false))
                {
                    if (!everything && (await TopLayerAsync(engine, stage.Id, cancellationToken).ConfigureAwait(false) is not { } top || !cache!.RemovedDependencyLayers.Contains(top)))
                        continue;
                    foreach (var name in stage.RepoTags.DefaultIfEmpty(stage.Id))
                    {
                        if (await engine.RemoveImageAsync(name, cancellationToken).ConfigureAwait(false))
                            removed.Add(name);
                    }
                }
            }
        }
        return new PruneReport(cache, removed);
    }

    /// <summary>After a build (the build's hold on the cache released): the size bound, never failing the build.</summary>
    public static async Task AfterBuildAsync(IContainerEngine engine, string cacheRoot, long? sizeLimit, ILogger logger, CancellationToken cancellationToken)
    {
        try
        {
            var report = await RunAsync(engine, cacheRoot, sizeLimit, everything: false, TimeSpan.Zero, logger, cancellationToken).ConfigureAwait(false);
            if (report.Cache is { } cache && (cache.BlobsRemoved > 0 || cache.EntriesRemoved > 0))
                logger.LogDebug("Cache pruned: {Blobs} blobs and {Entries} entries removed, {Before} -> {After}",
                    cache.BlobsRemoved, cache.EntriesRemoved, CacheSize.Describe(cache.BytesBefore), CacheSize.Describe(cache.BytesAfter));
            if (report.ImagesRemoved.Count > 0)
                logger.LogInformation(" -----> Removed {Count} image(s) of earlier builds no name points at any more: {Images}",
                    report.ImagesRemoved.Count, string.Join(", ", report.ImagesRemoved.Select(Short)));
        }
        catch (Exception ex) when (ex is ModWsgiException or IOException or UnauthorizedAccessException)
        {
            logger.LogWarning("The build cache and earlier builds' images could not be pruned ({Reason}); run 'modwsgi prune' later.", ex.Message);
        }
    }

    private static async Task<string?> TopLayerAsync(IContainerEngine engine, string image, CancellationToken cancellationToken) =>
        (await engine.InspectImageAsync(image, cancellationToken).ConfigureAwait(false))?["RootFS"]?["Layers"] is System.Text.Json.Nodes.JsonArray { Count: > 0 } layers
            ? layers[^1]?.GetValue<string>()
            : null;

    private static string Short(string id) => id.StartsWith("sha256:", StringComparison.Ordinal) && id.Length > 19 ? id[..19] : id;
}
