using System.Formats.Tar;
using System.IO.Compression;
using ModWsgi.Core.Engine;
using ModWsgi.Core.Oci;

namespace ModWsgi.Core.Layers;

/// <summary>
/// Registries and archives need the base image's layers as compressed blobs; the engine only hands out
/// uncompressed tars (`docker save`). Done once per base image id: the blobs stay in the build cache.
/// </summary>
public static class BaseLayerExporter
{
    public static async Task<IReadOnlyList<Layer>> EnsureAsync(IContainerEngine engine, Oci.BaseImage baseImage, Cache.BuildCache cache, CancellationToken cancellationToken)
    {
        if (cache.FindBaseLayers(baseImage.Id) is { } cached)
            return cached;

        var byDiffId = new Dictionary<string, Layer>(StringComparer.Ordinal);
        await using (var saved = await engine.SaveImageAsync(baseImage.Id, cancellationToken).ConfigureAwait(false))
        await using (var reader = new TarReader(saved))
        {
            while (await reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false) is { } entry)
            {
                if (entry.DataStream is null || !entry.Name.EndsWith(".tar", StringComparison.Ordinal))
                    continue;
                var layer = await CompressAsync(cache.Blobs, entry.DataStream, cancellationToken).ConfigureAwait(false);
                byDiffId[layer.DiffId] = layer;
            }
        }
        var layers = baseImage.DiffIds.Select(d => byDiffId.TryGetValue(d, out var l) ? l
            : throw new InvalidOperationException($"The engine's export of {baseImage.Name} lacks layer {d}.")).ToArray();
        cache.SaveBaseLayers(baseImage.Id, layers);
        return layers;
    }

    /// <summary>Gzips a layer tar as it is (its bytes define the diff id) into the store.</summary>
    private static async Task<Layer> CompressAsync(FileBlobStore store, Stream layerTar, CancellationToken cancellationToken)
    {
        await using var blob = new GzipBlobWriter(store, CompressionLevel.Fastest);
        await layerTar.CopyToAsync(blob.Input, 1 << 16, cancellationToken).ConfigureAwait(false);
        return await blob.CompleteAsync().ConfigureAwait(false);
    }
}
