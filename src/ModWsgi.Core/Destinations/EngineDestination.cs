using Microsoft.Extensions.Logging;
using ModWsgi.Core.Engine;
using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Destinations;

/// <summary>The local engine (Docker or Podman): the image loaded and tagged with every name.</summary>
public sealed class EngineDestination(IContainerEngine engine, EngineImageLoader loader, IReadOnlyList<string> names, ILogger logger) : IImageDestination
{
    /// <summary>
    /// Every name is on the image the engine was given: its id is the config digest, or on the containerd store
    /// (where the engine's id is the manifest digest) the manifest digest recorded.
    /// </summary>
    public async Task<bool> IsUpToDateAsync(PublishRecord last, CancellationToken cancellationToken)
    {
        var engineId = last.Result.ManifestDigest ?? last.Result.ImageId;
        foreach (var name in names)
        {
            var inspect = await engine.InspectImageAsync(name, cancellationToken).ConfigureAwait(false);
            if (inspect?["Id"]?.GetValue<string>() != engineId)
                return false;
        }
        return true;
    }

    /// <summary>
    /// Loads the image. The result's ImageId is the config digest on every engine; on the containerd store, which
    /// keeps our manifest and calls the image by its digest, the manifest digest is reported (and checked) too.
    /// </summary>
    public async Task<PublishResult> PublishAsync(BuiltImage image, CancellationToken cancellationToken)
    {
        logger.LogInformation(" -----> Loading {Images} into the local engine", string.Join(", ", names));
        var engineId = await loader.LoadAsync(image.ConfigBytes, image.Base, image.Added.Select(a => a.Layer).ToArray(), names, cancellationToken).ConfigureAwait(false);
        return new PublishResult(image.ImageId, engineId == image.ImageId ? null : engineId, names, null);
    }
}
