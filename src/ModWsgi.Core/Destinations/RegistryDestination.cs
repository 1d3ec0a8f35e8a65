using Microsoft.Extensions.Logging;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Registry;
using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Destinations;

/// <summary>A registry (ContainerRegistry): blobs it lacks, then the manifest once per tag.</summary>
public sealed class RegistryDestination(RegistryClient client, OciImageAssembler assembler, Cache.BuildCache cache, ImageBuildOptions options, ILogger logger)
    : IImageDestination
{
    private readonly string registry = options.Registry ?? throw new ArgumentException("No registry in the options.", nameof(options));
    private readonly string repository = options.Repository;
    private readonly IReadOnlyList<string> tags = options.Tags;

    /// <summary>
    /// Up to date only when the registry answers, for every tag, with the manifest digest last pushed. An
    /// unreachable registry is not up to date: the push that follows reports why.
    /// </summary>
    public async Task<bool> IsUpToDateAsync(PublishRecord last, CancellationToken cancellationToken)
    {
        if (last.Result.ManifestDigest is not { } pushed)
            return false;
        foreach (var tag in tags)
        {
            string? digest;
            try
            {
                digest = await client.GetManifestDigestAsync(registry, repository, tag, cancellationToken).ConfigureAwait(false);
            }
            catch (ModWsgiException ex)
            {
                logger.LogDebug("Could not ask {Registry} for {Repository}:{Tag} ({Message}); publishing again.", registry, repository, tag, ex.Message);
                return false;
            }
            if (digest != pushed)
            {
                logger.LogInformation("{Registry}/{Repository}:{Tag} is {Found}, not the {Digest} pushed last: publishing again.",
                    registry, repository, tag, digest is null ? "gone" : digest, pushed);
                return false;
            }
        }
        return true;
    }

    public async Task<PublishResult> PublishAsync(BuiltImage image, CancellationToken cancellationToken)
    {
        var oci = await assembler.AssembleAsync(image, cancellationToken).ConfigureAwait(false);
        logger.LogInformation(" -----> Pushing to {Registry}/{Repository}", registry, repository);
        // Every layer blob is checked against its digest before the push starts: bytes once sent cannot be called back,
        // and the client opens blobs inside its retried, chunked uploads, where a failure would read as the registry's.
        foreach (var layer in oci.Layers.DistinctBy(l => l.Blob.Digest))
        {
            if (!await Task.Run(() => cache.Blobs.VerifyOrRemove(layer.Blob.Digest), cancellationToken).ConfigureAwait(false))
                throw Oci.VerifyingBlobStore.Damaged(cache.Blobs, layer.Blob.Digest);
        }
        var pushed = await client.PushAsync(oci, cache.Blobs, registry, repository, tags, cancellationToken).ConfigureAwait(false);
        logger.LogInformation("Pushed {Images} ({Uploaded} blobs uploaded, {Mounted} mounted, {Skipped} already there)",
            string.Join(", ", pushed.Images), pushed.BlobsUploaded, pushed.BlobsMounted, pushed.BlobsSkipped);
        return new PublishResult(image.ImageId, oci.Digest, options.ImageNames(), null);
    }
}
