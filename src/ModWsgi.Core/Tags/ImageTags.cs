using System.Text.RegularExpressions;
using ModWsgi.Core.Diagnostics;
using NuGet.Versioning;

namespace ModWsgi.Core.Tags;

/// <summary>
/// Which tags an image gets. Precedence follows the .NET SDK's container publishing:
/// <list type="number">
/// <item><c>ContainerImageTags</c> (several) when it has any entry: taken literally unless <c>expandVersions</c>;</item>
/// <item>else <c>ContainerImageTag</c>, expanded;</item>
/// <item>else the project's <c>Version</c>, expanded;</item>
/// <item>else <c>latest</c>.</item>
/// </list>
/// Expansion turns a SemVer 2 release into its floating tags (1.2.3 -> 1.2.3, 1.2, 1) so users pulling
/// "1.2" or "1" get the newest patch; a prerelease or any other tag is kept as it is.
/// </summary>
public static partial class ImageTags
{
    public const string Latest = "latest";

    /// <summary>The tags to apply, validated, duplicates removed with the first occurrence kept.</summary>
    public static IReadOnlyList<string> Resolve(
        string? containerImageTag,
        IReadOnlyList<string>? containerImageTags,
        string? projectVersion,
        bool expandVersions = false)
    {
        // MSBuild drops empty list entries ("a;;b"), so an all-blank list counts as unset.
        var explicitTags = (containerImageTags ?? []).Select(t => t.Trim()).Where(t => t.Length > 0).ToList();
        IEnumerable<string> tags =
            explicitTags.Count > 0 ? (expandVersions ? explicitTags.SelectMany(Expand) : explicitTags)
            : !string.IsNullOrWhiteSpace(containerImageTag) ? Expand(containerImageTag.Trim())
            : !string.IsNullOrWhiteSpace(projectVersion) ? Expand(projectVersion.Trim())
            : [Latest];

        var resolved = tags.Distinct(StringComparer.Ordinal).ToList();
        resolved.ForEach(Validate);
        return resolved;
    }

    /// <summary>
    /// "1.2.3" -> ["1.2.3", "1.2", "1"]. Build metadata ("+build.5") is dropped because a tag cannot hold '+'.
    /// A prerelease ("1.2.3-beta.1") is not expanded: "1.2" must never float to a prerelease. Anything that is
    /// not a full SemVer 2 version ("latest", "1.2") comes back unchanged.
    /// </summary>
    public static IReadOnlyList<string> Expand(string tag)
    {
        if (!SemanticVersion.TryParse(tag, out var version))
            return [tag];
        if (version.IsPrerelease)
            return [version.ToNormalizedString()];
        return [$"{version.Major}.{version.Minor}.{version.Patch}", $"{version.Major}.{version.Minor}", $"{version.Major}"];
    }

    /// <summary>Throws <see cref="DiagnosticCodes.InvalidImageTag"/> unless the tag is a valid OCI/Docker tag.</summary>
    public static void Validate(string tag)
    {
        if (!IsValid(tag))
            throw new ModWsgiException(DiagnosticCodes.InvalidImageTag,
                $"Image tag '{tag}' is not valid: a tag is 1 to 128 characters of letters, digits, '_', '.' and '-', "
                + "and does not start with '.' or '-' (pattern [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}). "
                + "Fix ContainerImageTag, ContainerImageTags or Version.");
    }

    /// <summary>The distribution spec's tag grammar: the one tag check, for every front end and the engine's references.</summary>
    public static bool IsValid(string tag) => TagPattern().IsMatch(tag);

    // \z so a trailing newline is not accepted (ImageReference's old '$' accepted "v1\n").
    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\z", RegexOptions.CultureInvariant)]
    private static partial Regex TagPattern();
}
