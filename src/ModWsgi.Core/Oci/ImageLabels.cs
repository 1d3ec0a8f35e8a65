using System.Globalization;
using ModWsgi.Core.Project;

namespace ModWsgi.Core.Oci;

/// <summary>The org.opencontainers.image.* labels: known facts only, project labels win.</summary>
public static class ImageLabels
{
    /// <summary>
    /// On every image we make (the application's and the build hook's dependency stages): what `modwsgi prune` and a
    /// build's own clean-up list by, so they remove only our dangling and stage images, never another tool's.
    /// </summary>
    public const string Owned = "modwsgi.image";

    /// <summary><see cref="Owned"/>'s value on an application image.</summary>
    public const string Application = "application";

    /// <summary><see cref="Owned"/>'s value on a dependency stage (base + runtime + dependencies, for the build hook).</summary>
    public const string Stage = "stage";

    public static IReadOnlyDictionary<string, string> For(ImageBuildOptions options, DateTimeOffset epoch, GitCheckout git)
    {
        var labels = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["org.opencontainers.image.title"] = options.Repository,
            ["org.opencontainers.image.created"] = epoch.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            ["org.opencontainers.image.base.name"] = options.BaseImage,
            [Owned] = Application,
        };
        // The project's Version, else a tag that is a semantic version (ContainerImageTag=1.2.3).
        if ((options.Version is { Length: > 0 } ? options.Version : options.Tags.FirstOrDefault(t => NuGet.Versioning.SemanticVersion.TryParse(t, out _))) is { } version)
            labels["org.opencontainers.image.version"] = version;
        if (git.Revision is { } revision)
            labels["org.opencontainers.image.revision"] = revision;
        if (git.Origin is { } remote && PublicUrl(remote) is { } source)
            labels["org.opencontainers.image.source"] = source;
        foreach (var (name, value) in options.Labels)
            labels[name] = value;
        return labels;
    }

    /// <summary>A remote URL without credentials; local paths are not a useful source and stay out.</summary>
    private static string? PublicUrl(string remote)
    {
        if (Uri.TryCreate(remote, UriKind.Absolute, out var uri) && uri.Scheme is "https" or "http" or "ssh" or "git")
            return new UriBuilder(uri) { UserName = "", Password = "" }.Uri.ToString().TrimEnd('/');
        return remote.Contains('@') && remote.Contains(':') && !remote.Contains("://") ? remote[(remote.IndexOf('@') + 1)..] : null;
    }
}
