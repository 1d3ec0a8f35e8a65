using System.Text.RegularExpressions;
using ModWsgi.Core.Diagnostics;

namespace ModWsgi.Core.Engine;

/// <summary>A repository (optionally with registry host) and one tag, validated the way the distribution spec does.</summary>
public sealed partial record ImageReference(string Repository, string Tag)
{
    public override string ToString() => $"{Repository}:{Tag}";

    public static ImageReference Create(string repository, string tag)
    {
        if (!RepositoryPattern().IsMatch(repository))
            throw new ModWsgiException(DiagnosticCodes.InvalidRepositoryName,
                $"'{repository}' is not a valid image repository: use lower-case letters, digits and separators (. _ - /), e.g. 'mysite' or 'registry.example.com/team/mysite'. Set ContainerRepository.");
        Tags.ImageTags.Validate(tag); // the one tag grammar, shared with tag resolution
        return new ImageReference(repository, tag);
    }

    /// <summary>Turns a project name into a repository name ("Hello World" -> "hello-world").</summary>
    public static string RepositoryFromProjectName(string projectName)
    {
        var lowered = InvalidRepositoryChars().Replace(projectName.ToLowerInvariant(), "-").Trim('-', '.', '_');
        return lowered.Length == 0 ? "app" : lowered;
    }

    /// <summary>
    /// The name as the containerd image store and registries spell it, as Docker normalizes a reference:
    /// "site:1" is "docker.io/library/site:1", "team/site:1" is "docker.io/team/site:1"; a first component
    /// with a '.' or ':' (a registry host), "localhost", or upper-case letters is a registry and stays.
    /// The containerd store keeps an archive's name literally, so a short one is not found as what `docker run` asks for.
    /// </summary>
    public static string FullyQualifiedName(string reference)
    {
        const string DockerHub = "docker.io";
        var slash = reference.IndexOf('/');
        if (slash < 0)
            return $"{DockerHub}/library/{reference}";
        var first = reference[..slash];
        var isRegistry = first.Contains('.') || first.Contains(':') || first == "localhost" || !string.Equals(first, first.ToLowerInvariant(), StringComparison.Ordinal);
        if (!isRegistry)
            return $"{DockerHub}/{reference}";
        if (first is DockerHub or "index.docker.io")
        {
            var rest = reference[(slash + 1)..];
            return rest.Contains('/') ? $"{DockerHub}/{rest}" : $"{DockerHub}/library/{rest}";
        }
        return reference;
    }

    [GeneratedRegex(@"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")]
    private static partial Regex RepositoryPattern();

    [GeneratedRegex(@"[^a-z0-9._/-]+")]
    private static partial Regex InvalidRepositoryChars();
}
