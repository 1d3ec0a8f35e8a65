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

    [GeneratedRegex(@"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")]
    private static partial Regex RepositoryPattern();

    [GeneratedRegex(@"[^a-z0-9._/-]+")]
    private static partial Regex InvalidRepositoryChars();
}
