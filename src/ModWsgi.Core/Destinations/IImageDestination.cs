using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Destinations;

/// <summary>
/// Where a built image goes: the local engine, a registry or an OCI archive, chosen once from the options
/// (<see cref="ImageDestinations.For"/>), as the .NET SDK's container publishing chooses.
/// </summary>
public interface IImageDestination
{
    /// <summary>
    /// Whether the destination still holds exactly what <paramref name="last"/> recorded, asked of the destination
    /// itself (a registry that lost the manifest, an archive overwritten or deleted, an engine tag moved: not up to date).
    /// </summary>
    Task<bool> IsUpToDateAsync(PublishRecord last, CancellationToken cancellationToken);

    Task<PublishResult> PublishAsync(BuiltImage image, CancellationToken cancellationToken);
}
