using System.Text.Json.Nodes;
using ModWsgi.Core.Cache;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Layers;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Pipeline;
using ModWsgi.Core.Project;
using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Engine;

/// <summary>
/// Loads an image into the engine (`docker load`). Into Docker's classic store it ships only layers the engine
/// lacks: never the base, and not the leading layers it already holds under the first tag's current image
/// (runtime and dependencies on a source-only rebuild). Podman takes only complete archives: every layer travels.
/// Docker's containerd store gets an OCI layout with our manifest, so its image id (the manifest digest there) is the
/// same manifest digest a registry or archive gets; layer blobs it holds from an image loaded or found in this build,
/// or from the leading layers of the image under the first tag, stay out. Used by the engine destination and for the build hook's dependency stage. One per build.
/// </summary>
public sealed class EngineImageLoader(IContainerEngine engine, BuildCache cache, PhaseTimings? timings = null)
{
    /// <summary>Layer blobs the containerd store's content store holds: of the images loaded or found by this loader.</summary>
    private readonly HashSet<string> _blobsInContentStore = new(StringComparer.Ordinal);

    /// <summary>
    /// The id the engine gives the image: the config digest, except on Docker's containerd store, where it is the
    /// digest of the manifest (ours: see <see cref="LoadAsync"/>).
    /// </summary>
    public async Task<string> ImageIdAsync(byte[] config, BaseImage baseImage, IReadOnlyList<Layer> added, CancellationToken cancellationToken) =>
        await engine.GetEngineKindAsync(cancellationToken).ConfigureAwait(false) == EngineKind.DockerContainerdStore
            ? (await ContainerdImageAsync(config, baseImage, added, cancellationToken).ConfigureAwait(false)).Digest
            : Digests.Sha256(config);

    /// <summary>The engine's id of the image when the engine holds it already, else null.</summary>
    public async Task<string?> FindAsync(byte[] config, BaseImage baseImage, IReadOnlyList<Layer> added, CancellationToken cancellationToken)
    {
        var id = await ImageIdAsync(config, baseImage, added, cancellationToken).ConfigureAwait(false);
        if (await engine.InspectImageAsync(id, cancellationToken).ConfigureAwait(false) is null)
            return null;
        if (await engine.GetEngineKindAsync(cancellationToken).ConfigureAwait(false) == EngineKind.DockerContainerdStore)
            _blobsInContentStore.UnionWith((await ContainerdImageAsync(config, baseImage, added, cancellationToken).ConfigureAwait(false)).Layers.Select(l => l.Blob.Digest));
        return id;
    }

    /// <summary>Loads the image under <paramref name="tags"/>; returns the engine's id of it (<see cref="ImageIdAsync"/>).</summary>
    public async Task<string> LoadAsync(byte[] config, BaseImage baseImage, IReadOnlyList<Layer> added, IReadOnlyList<string> tags, CancellationToken cancellationToken)
    {
        var kind = await engine.GetEngineKindAsync(cancellationToken).ConfigureAwait(false);
        if (kind == EngineKind.DockerContainerdStore)
            return await LoadIntoContainerdStoreAsync(config, baseImage, added, tags, cancellationToken).ConfigureAwait(false);

        var (shipped, held) = await ChooseLayersAsync(kind, baseImage, added, tags, cancellationToken).ConfigureAwait(false);
        var diffIds = baseImage.DiffIds.Concat(added.Select(l => l.DiffId)).ToArray();
        await LoadArchiveAsync(stream => ImageArchiveWriter.WriteForEngineAsync(stream, config, diffIds, held, shipped, Blobs, tags, cancellationToken),
            cancellationToken).ConfigureAwait(false);
        return Digests.Sha256(config);
    }

    private async Task<string> LoadIntoContainerdStoreAsync(byte[] config, BaseImage baseImage, IReadOnlyList<Layer> added, IReadOnlyList<string> tags, CancellationToken cancellationToken)
    {
        var image = await ContainerdImageAsync(config, baseImage, added, cancellationToken).ConfigureAwait(false);
        // The image now under the first tag (our previous load, on a source-only rebuild) holds the blobs of the
        // leading layers it shares with this one: our layer blobs are reproducible, so they are the same blobs.
        // Should the store hold other bytes for them after all, the load below is refused and retried with all.
        var common = await LeadingLayersHeldUnderAsync(tags, image.Layers.Select(l => l.DiffId).ToArray(), cancellationToken).ConfigureAwait(false);
        _blobsInContentStore.UnionWith(image.Layers.Take(common).Select(l => l.Blob.Digest));
        var held = image.Layers.Select(l => l.Blob.Digest).Where(_blobsInContentStore.Contains).ToHashSet(StringComparer.Ordinal);
        try
        {
            await LoadArchiveAsync(stream => ImageArchiveWriter.WriteOciForEngineAsync(stream, image, held, Blobs, tags, cancellationToken), cancellationToken).ConfigureAwait(false);
        }
        catch (ModWsgiException ex) when (held.Count > 0 && ex.Code != DiagnosticCodes.CacheBlobDamaged)
        {
            // The store let go of a blob since (an image removed meanwhile): every layer, then.
            _blobsInContentStore.Clear();
            await LoadArchiveAsync(stream => ImageArchiveWriter.WriteOciForEngineAsync(stream, image, new HashSet<string>(), Blobs, tags, cancellationToken),
                cancellationToken).ConfigureAwait(false);
        }
        _blobsInContentStore.UnionWith(image.Layers.Select(l => l.Blob.Digest));
        return image.Digest;
    }

    private async Task<OciImage> ContainerdImageAsync(byte[] config, BaseImage baseImage, IReadOnlyList<Layer> added, CancellationToken cancellationToken)
    {
        var baseLayers = await BaseLayerExporter.EnsureAsync(engine, baseImage, cache, cancellationToken).ConfigureAwait(false);
        return OciImage.Of(config, [.. baseLayers, .. added]);
    }

    /// <summary>The blobs as a load reads them: each checked against its digest while the spool is written (a damaged one fails the load before the engine sees it).</summary>
    private IBlobStore Blobs => new VerifyingBlobStore(cache.Blobs);

    private async Task LoadArchiveAsync(Func<Stream, Task> write, CancellationToken cancellationToken)
    {
        var spool = cache.Blobs.NewTempFile();
        await using var stream = new FileStream(spool, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.DeleteOnClose);
        await write(stream).ConfigureAwait(false);
        stream.Position = 0;
        timings?.Lap("engine-archive");
        await engine.LoadImageAsync(stream, cancellationToken).ConfigureAwait(false);
        timings?.Lap("engine-load");
    }

    /// <summary>
    /// The layers the archive may carry and how many leading ones the engine holds (named, not carried). Only
    /// Docker's classic store takes an archive without the layers it holds; Podman gets every layer, the base's
    /// from its export (done once per base image id, then from the build cache).
    /// </summary>
    private async Task<(IReadOnlyList<Layer> Shipped, int Held)> ChooseLayersAsync(EngineKind kind, BaseImage baseImage, IReadOnlyList<Layer> added, IReadOnlyList<string> tags, CancellationToken cancellationToken)
    {
        if (!kind.LoadsArchivesWithoutHeldLayers())
        {
            var baseLayers = await BaseLayerExporter.EnsureAsync(engine, baseImage, cache, cancellationToken).ConfigureAwait(false);
            timings?.Lap("engine-base-layers");
            return ([.. baseLayers, .. added], 0);
        }
        var diffIds = baseImage.DiffIds.Concat(added.Select(l => l.DiffId)).ToArray();
        var held = Math.Max(baseImage.DiffIds.Count, await LeadingLayersHeldUnderAsync(tags, diffIds, cancellationToken).ConfigureAwait(false));
        return (added, held);
    }

    /// <summary>How many leading layers of <paramref name="diffIds"/> the image now under the first tag has (0 without one).</summary>
    private async Task<int> LeadingLayersHeldUnderAsync(IReadOnlyList<string> tags, IReadOnlyList<string> diffIds, CancellationToken cancellationToken) =>
        tags.Count > 0 && await engine.InspectImageAsync(tags[0], cancellationToken).ConfigureAwait(false) is { } current
            && current["RootFS"]?["Layers"] is JsonArray layers
            ? layers.Select(l => l?.GetValue<string>()).Zip(diffIds).TakeWhile(p => p.First == p.Second).Count()
            : 0;
}
