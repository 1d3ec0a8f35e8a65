using System.Globalization;
using ModWsgi.Core.Project;

namespace ModWsgi.Core.Layers;

/// <summary>
/// The time every layer entry is clamped to and the image's created time: SOURCE_DATE_EPOCH when set, else
/// the commit time of a git checkout, else a fixed epoch. Layers the SDK caches across commits (runtime,
/// dependencies) always use the fixed epoch, so a new commit never invalidates them.
/// </summary>
public static class SourceDateEpoch
{
    /// <summary>1980-01-01T00:00:00Z: the earliest time a zip (and so a wheel) can record.</summary>
    public static readonly DateTimeOffset Fixed = new(1980, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Reads the checkout itself; a build passes the <see cref="GitCheckout"/> it already read.</summary>
    public static DateTimeOffset Resolve(string projectDirectory, string? sourceDateEpoch) =>
        Resolve(GitCheckout.Read(projectDirectory), sourceDateEpoch);

    public static DateTimeOffset Resolve(GitCheckout git, string? sourceDateEpoch)
    {
        if (!string.IsNullOrWhiteSpace(sourceDateEpoch)
            && long.TryParse(sourceDateEpoch, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
            return DateTimeOffset.FromUnixTimeSeconds(seconds);
        return git.CommitTime ?? Fixed;
    }
}
