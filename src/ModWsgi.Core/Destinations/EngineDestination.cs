using Microsoft.Extensions.Logging;
using ModWsgi.Core.Engine;
using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Destinations;

/// <summary>The local engine (Docker or Podman): the image loaded and tagged with every name.</summary>
public sealed class EngineDestination(IContainerEngine engine, EngineImageLoader loader, IReadOnlyList<string> names, ILogger logger) : IImageDestination
{
    public async Task<bool> IsUpToDateAsync(PublishRecord last, CancellationToken cancellationToken)
    {
        foreach (var name in names)
        {
            var inspect = await engine.InspectImageAsync(name, cancellationToken).ConfigureAwait(false);
            if (inspect?["Id"]?.GetValue<string>() != last.Result.ImageId)
                return false;
        }
        return true;
    }

    public async Task<PublishResult> PublishAsync(BuiltImage image, CancellationToken cancellationToken)
    {
        logger.LogInformation(" -----> Loading {Images} into the local engine", string.Join(", ", names));
        await loader.LoadAsync(image.ConfigBytes, image.Base, image.Added.Select(a => a.Layer).ToArray(), names, cancellationToken).ConfigureAwait(false);
        return new PublishResult(image.ImageId, null, names, null);
    }
}
