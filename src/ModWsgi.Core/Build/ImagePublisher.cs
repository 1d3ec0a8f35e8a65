using Microsoft.Extensions.Logging;
using ModWsgi.Core.Engine;
using ModWsgi.Core.Layers;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Registry;

namespace ModWsgi.Core.Build;

/// <summary>Where the image went and under which names.</summary>
public sealed record PublishResult(string ImageId, string? ManifestDigest, IReadOnlyList<string> Images, string? ArchivePath, bool UpToDate = false);

/// <summary>
/// Sends a built image where the project says, chosen as the .NET SDK's container publishing chooses:
/// ContainerRegistry → push; ContainerArchiveOutputPath → OCI archive; neither → the local engine.
/// </summary>
public sealed class ImagePublisher(IContainerEngine engine, ImageBuilder builder, ILogger logger)
{
    public async Task<PublishResult> PublishAsync(BuiltImage image, ImageBuildOptions options, BuildEnvironment environment, BuildCache cache, CancellationToken cancellationToken)
    {
        var names = options.ImageNames();
        string? manifestDigest = null;
        string? archivePath = null;
        var toRegistry = !string.IsNullOrEmpty(options.Registry);
        var toArchive = !string.IsNullOrEmpty(options.ArchiveOutputPath);

        if (toRegistry || toArchive)
        {
            var oci = await ToOciImageAsync(image, cache, cancellationToken).ConfigureAwait(false);
            manifestDigest = oci.Digest;
            if (toRegistry)
            {
                var client = new RegistryClient(
                    RegistryClientOptions.For(options.InsecureRegistries, environment),
                    new DockerConfigCredentialStore(environment.Credentials), logger);
                logger.LogInformation(" -----> Pushing to {Registry}/{Repository}", options.Registry, options.Repository);
                var pushed = await client.PushAsync(oci, cache.Blobs, options.Registry!, options.Repository, options.Tags, cancellationToken).ConfigureAwait(false);
                logger.LogInformation("Pushed {Images} ({Uploaded} blobs uploaded, {Skipped} already there)",
                    string.Join(", ", pushed.Images), pushed.BlobsUploaded, pushed.BlobsSkipped);
            }
            if (toArchive)
                archivePath = await WriteArchiveAsync(oci, options, names, cache, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            logger.LogInformation(" -----> Loading {Images} into the local engine", string.Join(", ", names));
            await builder.LoadAsync(image.ConfigBytes, image.Base, image.Added.Select(a => a.Layer).ToArray(), names, cache, cancellationToken).ConfigureAwait(false);
        }
        return new PublishResult(image.ImageId, manifestDigest, names, archivePath);
    }

    /// <summary>The complete OCI image: registries and archives need the base layers as blobs too.</summary>
    private async Task<OciImage> ToOciImageAsync(BuiltImage image, BuildCache cache, CancellationToken cancellationToken)
    {
        if (cache.FindBaseLayers(image.Base.Id) is null)
            logger.LogInformation(" -----> Exporting base image layers of {Base} (once per base image)", image.Base.Name);
        var baseLayers = await BaseLayerExporter.EnsureAsync(engine, image.Base, cache, cancellationToken).ConfigureAwait(false);
        var layers = baseLayers.Concat(image.Added.Select(a => a.Layer)).ToArray();
        var config = new Descriptor(MediaTypes.OciConfig, image.ImageId, image.ConfigBytes.Length);
        var manifestBytes = ImageConfigWriter.WriteManifest(config, layers.Select(l => l.Blob));
        cache.Blobs.Put(image.ConfigBytes);
        var manifest = new Descriptor(MediaTypes.OciManifest, Digests.Sha256(manifestBytes), manifestBytes.Length);
        return new OciImage(config, image.ConfigBytes, manifest, manifestBytes, layers);
    }

    private async Task<string> WriteArchiveAsync(OciImage image, ImageBuildOptions options, IReadOnlyList<string> names, BuildCache cache, CancellationToken cancellationToken)
    {
        var target = options.ArchiveTargetPath()!;
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        // Written beside the target and moved into place: a failed build never leaves a half archive.
        var temp = target + ImageBuildOptions.ArchiveTempSuffix + Guid.NewGuid().ToString("N")[..8];
        try
        {
            await using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
                await ImageArchiveWriter.WriteAsync(stream, image, cache.Blobs, names, cancellationToken).ConfigureAwait(false);
            File.Move(temp, target, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp))
                File.Delete(temp);
        }
        logger.LogInformation("Wrote OCI archive {Path}", target);
        return target;
    }
}
