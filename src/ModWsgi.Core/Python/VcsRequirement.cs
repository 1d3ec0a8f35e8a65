using System.Text.RegularExpressions;

namespace ModWsgi.Core.Python;

/// <summary>
/// One VCS requirement as pip reads it: <c>[-e] vcs+transport://[auth@]host/path[@rev][?query][#egg=name&amp;subdirectory=dir]</c>
/// (pip's <c>VersionControl.get_url_rev_and_auth</c> and the <c>Link</c> fragment rules).
/// </summary>
/// <param name="Tool">The tool pip runs for it.</param>
/// <param name="Repository">The URL the tool is given: transport scheme, host, path and query, without the revision or the fragment.</param>
/// <param name="Revision">What follows the last '@' of the path (a tag, branch, commit or svn revision), or null.</param>
/// <param name="Egg">The <c>#egg=</c> project name, or null.</param>
/// <param name="Subdirectory">The <c>#subdirectory=</c> folder of the project inside the repository, or null.</param>
/// <param name="Editable">Named with <c>-e</c>: pip keeps the checkout (in its <c>--src</c> folder) and the install points at it.</param>
/// <param name="LocalPath">For the <c>file:</c> transport on this host, the repository's path as pip sees it (decoded); otherwise null.</param>
public sealed record VcsRequirement(
    VcsTool Tool, string Repository, string? Revision, string? Egg, string? Subdirectory, bool Editable, string? LocalPath)
{
    private static readonly (string Prefix, VcsTool Tool)[] Prefixes =
        [("git", VcsTool.Git), ("hg", VcsTool.Mercurial), ("svn", VcsTool.Subversion), ("bzr", VcsTool.Bazaar)];

    private static readonly Regex EggFragment = new(@"(?:^|&)egg=(?<value>[^&]*)", RegexOptions.CultureInvariant);
    private static readonly Regex SubdirectoryFragment = new(@"(?:^|&)subdirectory=(?<value>[^&]*)", RegexOptions.CultureInvariant);

    /// <summary>The VCS requirement <paramref name="url"/> names, or null when it is not one (a plain URL, a path).</summary>
    public static VcsRequirement? Parse(string url, bool editable)
    {
        var colon = url.IndexOf(':');
        if (colon <= 0)
            return null;
        var scheme = url[..colon].ToLowerInvariant();
        var plus = scheme.IndexOf('+');
        var toolName = plus < 0 ? scheme : scheme[..plus];
        // An editable may name the bare scheme (-e git://host/repo); pip reads it as git+git://.
        var known = Array.FindIndex(Prefixes, p => p.Prefix == toolName);
        if (known < 0 || (plus < 0 && !editable))
            return null;
        var transport = plus < 0 ? scheme : scheme[(plus + 1)..];
        if (transport.Length == 0)
            return null;

        var rest = url[(colon + 1)..];
        string? fragment = null;
        if (rest.IndexOf('#') is var hash and >= 0)
            (rest, fragment) = (rest[..hash], rest[(hash + 1)..]);
        var query = "";
        if (rest.IndexOf('?') is var question and >= 0)
            (rest, query) = (rest[..question], rest[question..]);
        var netloc = "";
        var path = rest;
        if (rest.StartsWith("//", StringComparison.Ordinal))
        {
            var slash = rest.IndexOf('/', 2);
            (netloc, path) = slash < 0 ? (rest[2..], "") : (rest[2..slash], rest[slash..]);
        }
        // pip splits the revision off the path only (a user@ in the host is not one), at the last '@'.
        string? revision = null;
        if (path.LastIndexOf('@') is var at and >= 0)
            (path, revision) = (path[..at], path[(at + 1)..]);

        var repository = transport + ":" + (netloc.Length > 0 || transport == "file" && path.StartsWith('/') ? "//" + netloc : "") + path + query;
        string? localPath = null;
        if (transport == "file" && (netloc.Length == 0 || netloc.Equals("localhost", StringComparison.OrdinalIgnoreCase)))
            localPath = Uri.UnescapeDataString(path);
        return new VcsRequirement(Prefixes[known].Tool, repository, string.IsNullOrEmpty(revision) ? null : revision,
            FragmentValue(EggFragment, fragment), FragmentValue(SubdirectoryFragment, fragment), editable, localPath);
    }

    private static string? FragmentValue(Regex pattern, string? fragment) =>
        fragment is not null && pattern.Match(fragment) is { Success: true } m && m.Groups["value"].Value.Length > 0
            ? Uri.UnescapeDataString(m.Groups["value"].Value)
            : null;
}
