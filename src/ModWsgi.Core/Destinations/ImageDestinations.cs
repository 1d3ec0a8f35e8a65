using Microsoft.Extensions.Logging;
using ModWsgi.Core.Cache;
using ModWsgi.Core.Engine;
using ModWsgi.Core.Layers;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Pipeline;
using ModWsgi.Core.Project;
using ModWsgi.Core.Registry;
using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Destinations;

/// <summary>
/// Chooses the destination once, from the options: ContainerRegistry → push; ContainerArchiveOutputPath → OCI
/// archive (both set: both); neither → the local engine.
/// </summary>
public static class ImageDestinations
{
    /// <param name="registryHandler">Replaces the registry client's network stack (tests).</param>
    /// <param name="registryRetry">Replaces the registry client's retry settings (tests).</param>
    public static IImageDestination For(ImageBuildOptions options, BuildEnvironment environment, IContainerEngine engine, BuildCache cache,
        EngineImageLoader loader, ILogger logger, HttpMessageHandler? registryHandler = null, RegistryRetryOptions? registryRetry = null)
    {
        var toRegistry = !string.IsNullOrEmpty(options.Registry);
        var toArchive = !string.IsNullOrEmpty(options.ArchiveOutputPath);
        if (!toRegistry && !toArchive)
            return new EngineDestination(engine, loader, options.ImageNames(), logger);

        var assembler = new OciImageAssembler(engine, cache, logger);
        var archive = toArchive ? new ArchiveDestination(assembler, cache, options, logger) : null;
        if (!toRegistry)
            return archive!;
        var client = new RegistryClient(RegistryClientOptions.For(options.InsecureRegistries, environment) with
            {
                HttpHandler = registryHandler,
                Retry = registryRetry ?? new RegistryRetryOptions(),
                // Where our pushes left each blob: a later push to another repository of the registry mounts it.
                PushedBlobs = new FilePushedBlobRecord(Path.Combine(cache.Root, "registry-blobs")),
            },
            new DockerConfigCredentialStore(environment.Credentials), logger);
        var registry = new RegistryDestination(client, assembler, cache, options, logger);
        return archive is null ? registry : new RegistryAndArchiveDestination(registry, archive);
    }

    /// <summary>Both outputs of one build: up to date when both are, published to both.</summary>
    private sealed class RegistryAndArchiveDestination(RegistryDestination registry, ArchiveDestination archive) : IImageDestination
    {
        public async Task<bool> IsUpToDateAsync(PublishRecord last, CancellationToken cancellationToken) =>
            await archive.IsUpToDateAsync(last, cancellationToken).ConfigureAwait(false)
            && await registry.IsUpToDateAsync(last, cancellationToken).ConfigureAwait(false);

        public async Task<PublishResult> PublishAsync(BuiltImage image, CancellationToken cancellationToken)
        {
            var pushed = await registry.PublishAsync(image, cancellationToken).ConfigureAwait(false);
            var written = await archive.PublishAsync(image, cancellationToken).ConfigureAwait(false);
            return written with { ManifestDigest = pushed.ManifestDigest };
        }
    }
}
