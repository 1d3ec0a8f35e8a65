using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;
using ModWsgi.Core.Diagnostics;

namespace ModWsgi.Core.Project;

/// <summary>
/// The app's <c>.dockerignore</c>, with Docker's semantics so the application layer holds what
/// <c>docker build</c> would have sent: lines are read like moby's <c>ignorefile.ReadAll</c>, patterns compiled
/// like <c>patternmatcher</c>, and a path is judged the way BuildKit's context walk judges it, each directory's
/// per-pattern results carried down to its children (<c>MatchesUsingParentResults</c>).
/// </summary>
/// <remarks>
/// A walker asks <see cref="MayIncludeUnder"/> before descending. It may find included paths below an excluded
/// directory (<c>static/*</c> then <c>!static/keep.css</c>); like BuildKit it must then still create that directory.
/// </remarks>
public sealed class DockerIgnore
{
    public const string FileName = ".dockerignore";

    private static readonly DockerIgnore Empty = Parse("");

    private readonly Pattern[] _patterns;
    private readonly bool _hasExceptions;

    // Exceptions as "dir/" prefixes, or null when one of them has a wildcard and so may match at any depth.
    private readonly string[]? _exceptionPrefixes;

    // Per-pattern results of every directory judged so far, which its children start from.
    private readonly ConcurrentDictionary<string, bool[]> _directoryMatches = new(StringComparer.Ordinal);

    private DockerIgnore(IReadOnlyList<string> lines, Pattern[] patterns)
    {
        Patterns = lines;
        _patterns = patterns;
        _hasExceptions = patterns.Any(p => p.IsException);
        var exceptions = patterns.Where(p => p.IsException).Select(p => WithoutTrailingGlob(p.Text)).ToArray();
        // BuildKit's patternChars on a '/'-separated platform.
        _exceptionPrefixes = exceptions.Any(e => e.AsSpan().IndexOfAny(@"*[]?^\") >= 0)
            ? null
            : exceptions.Select(e => e + "/").ToArray();
    }

    /// <summary>The patterns as Docker reads them: cleaned, without a leading '/', exceptions still starting with '!'.</summary>
    public IReadOnlyList<string> Patterns { get; }

    /// <summary>Reads <c>.dockerignore</c> in the project folder; without one nothing is excluded.</summary>
    public static DockerIgnore Load(string projectDirectory)
    {
        var path = Path.Combine(projectDirectory, FileName);
        return File.Exists(path) ? Parse(File.ReadAllText(path)) : Empty;
    }

    /// <summary>Parses <c>.dockerignore</c> text; a malformed pattern fails the way Docker fails the build.</summary>
    public static DockerIgnore Parse(string text)
    {
        var lines = new List<string>();
        var patterns = new List<Pattern>();
        var rawLines = text.Split('\n');
        for (var i = 0; i < rawLines.Length; i++)
        {
            var line = rawLines[i].TrimEnd('\r');
            if (i == 0 && line.StartsWith('\uFEFF'))
                line = line[1..];
            // Docker tests for '#' before trimming: "  #x" is a pattern, not a comment.
            if (line.StartsWith('#'))
                continue;
            var pattern = line.Trim();
            if (pattern.Length == 0)
                continue;
            var isException = pattern[0] == '!';
            if (isException)
                pattern = pattern[1..].Trim();
            if (pattern.Length > 0)
            {
                pattern = CleanPath(pattern);
                // Patterns are relative to the context root, so "/build" means "build".
                if (pattern.Length > 1 && pattern[0] == '/')
                    pattern = pattern[1..];
            }
            var entry = isException ? "!" + pattern : pattern;
            lines.Add(entry);
            patterns.Add(Pattern.Compile(entry, i + 1, line.Trim()));
        }
        return new DockerIgnore(lines, patterns.ToArray());
    }

    /// <summary>Whether the image leaves out this '/'-separated path relative to the project root.</summary>
    public bool IsExcluded(string relativePath)
    {
        var path = Normalize(relativePath);
        // Docker never excludes the context root itself.
        if (path == "." || _patterns.Length == 0)
            return false;
        var slash = path.LastIndexOf('/');
        return Evaluate(path, slash < 0 ? null : DirectoryMatches(path[..slash])).Excluded;
    }

    /// <summary>The .dockerignore line (as written) that leaves out this path or the nearest folder above it; null if none does.</summary>
    public string? ExcludedBy(string relativePath)
    {
        var prefix = Normalize(relativePath);
        while (true)
        {
            if (IsExcluded(prefix) && _patterns.LastOrDefault(p => !p.IsException && p.Matches(prefix)) is { } pattern)
                return pattern.Text;
            var slash = prefix.LastIndexOf('/');
            if (slash <= 0)
                return null;
            prefix = prefix[..slash];
        }
    }

    /// <summary>
    /// False when the directory is excluded and no exception could re-include anything below it, so a walker may
    /// skip it. Decided like BuildKit: with only plain-path exceptions, one must lie under the directory; a single
    /// wildcard exception (<c>!**/*.css</c>) could match anywhere, so then every excluded directory is walked.
    /// </summary>
    public bool MayIncludeUnder(string relativeDirectory)
    {
        var directory = Normalize(relativeDirectory);
        if (!IsExcluded(directory))
            return true;
        if (!_hasExceptions)
            return false;
        if (_exceptionPrefixes is null)
            return true;
        var directorySlash = directory + "/";
        return _exceptionPrefixes.Any(e => e.StartsWith(directorySlash, StringComparison.Ordinal));
    }

    private static string Normalize(string relativePath) => CleanPath(relativePath.TrimStart('/'));

    private bool[] DirectoryMatches(string directory) =>
        _directoryMatches.GetOrAdd(directory, d =>
        {
            var slash = d.LastIndexOf('/');
            return Evaluate(d, slash < 0 ? null : DirectoryMatches(d[..slash])).Matches;
        });

    /// <summary>
    /// patternmatcher's <c>MatchesUsingParentResults</c>: the last pattern that matches decides; a pattern the
    /// parent directory matched matches its children too. Without parent results (a top-level path, or a caller
    /// outside a walk) the path's ancestors are tested instead.
    /// </summary>
    private (bool Excluded, bool[] Matches) Evaluate(string path, bool[]? parentMatches)
    {
        var excluded = false;
        var matches = new bool[_patterns.Length];
        for (var i = 0; i < _patterns.Length; i++)
        {
            var pattern = _patterns[i];
            var match = parentMatches?[i] ?? false;
            if (!match)
            {
                // An exclusion cannot change an excluded path, nor an exception an included one.
                if (pattern.IsException != excluded)
                    continue;
                match = pattern.Matches(path) || (parentMatches is null && AnyAncestorMatches(pattern, path));
            }
            matches[i] = match;
            if (match)
                excluded = !pattern.IsException;
        }
        return (excluded, matches);
    }

    private static bool AnyAncestorMatches(Pattern pattern, string path)
    {
        for (var slash = path.IndexOf('/'); slash >= 0; slash = path.IndexOf('/', slash + 1))
        {
            if (pattern.Matches(path[..slash]))
                return true;
        }
        return false;
    }

    // fsutil's patternWithoutTrailingGlob: "dir/**" and "dir/*" re-include below "dir" only.
    private static string WithoutTrailingGlob(string pattern)
    {
        if (pattern.EndsWith("/**", StringComparison.Ordinal))
            pattern = pattern[..^3];
        if (pattern.EndsWith("/*", StringComparison.Ordinal))
            pattern = pattern[..^2];
        return pattern;
    }

    /// <summary>Go's <c>path.Clean</c>: collapses '//', '.' and 'dir/..', drops a trailing '/'; empty becomes ".".</summary>
    internal static string CleanPath(string path)
    {
        if (path.Length == 0)
            return ".";
        var rooted = path[0] == '/';
        var parts = new List<string>();
        foreach (var part in path.Split('/'))
        {
            if (part is "" or ".")
                continue;
            if (part == "..")
            {
                if (parts.Count > 0 && parts[^1] != "..")
                    parts.RemoveAt(parts.Count - 1);
                else if (!rooted)
                    parts.Add(part);
                continue;
            }
            parts.Add(part);
        }
        var cleaned = (rooted ? "/" : "") + string.Join('/', parts);
        return cleaned.Length == 0 ? "." : cleaned;
    }

    private enum MatchKind { Exact, Prefix, Suffix, Regex }

    /// <summary>One compiled pattern. Like patternmatcher, plain text and leading/trailing <c>**</c> skip the regex.</summary>
    private sealed class Pattern
    {
        private readonly MatchKind _kind;
        private readonly Regex? _regex;

        private Pattern(string text, bool isException, MatchKind kind, Regex? regex)
        {
            Text = text;
            IsException = isException;
            _kind = kind;
            _regex = regex;
        }

        /// <summary>The cleaned pattern without its '!'.</summary>
        public string Text { get; }

        public bool IsException { get; }

        public bool Matches(string path) => _kind switch
        {
            MatchKind.Exact => path == Text,
            MatchKind.Prefix => path.StartsWith(Text[..^2], StringComparison.Ordinal),
            // "**/foo" also matches "foo" at the root.
            MatchKind.Suffix => path.EndsWith(Text[2..], StringComparison.Ordinal)
                || (Text[2..].StartsWith('/') && path == Text[3..]),
            _ => _regex!.IsMatch(path),
        };

        public static Pattern Compile(string entry, int lineNumber, string line)
        {
            // patternmatcher.New cleans once more; only "!/" changes, into the rejected "!".
            var text = CleanPath(entry);
            var isException = text[0] == '!';
            if (isException)
            {
                if (text.Length == 1)
                    throw Invalid(lineNumber, line, "'!' needs the path to re-include after it, e.g. !static/keep.css");
                text = text[1..];
            }
            if (!IsValidGlob(text))
                throw Invalid(lineNumber, line, "an unclosed or empty '[...]', a '-' or ']' misplaced in one, or a trailing '\\'");

            var (kind, regex) = Translate(text);
            if (kind != MatchKind.Regex)
                return new Pattern(text, isException, kind, null);
            try
            {
                // Non-backtracking, like Go's RE2: "a/**/**/**/b" stays linear.
                return new Pattern(text, isException, kind,
                    new Regex(regex, RegexOptions.CultureInvariant | RegexOptions.NonBacktracking));
            }
            catch (ArgumentException e)
            {
                // Go's regexp rejects the same classes Docker then fails on, e.g. the reversed range "[z-a]".
                throw Invalid(lineNumber, line, e.Message);
            }
        }

        /// <summary>patternmatcher's <c>compile</c>: the kind of match and, for <see cref="MatchKind.Regex"/>, its regex.</summary>
        private static (MatchKind Kind, string Regex) Translate(string pattern)
        {
            var regex = new StringBuilder("^");
            var kind = MatchKind.Exact;
            for (int i = 0, pos = 0; pos < pattern.Length; i++)
            {
                var ch = pattern[pos++];
                switch (ch)
                {
                    case '*' when pos < pattern.Length && pattern[pos] == '*':
                        pos++;
                        // "**/" is "**".
                        if (pos < pattern.Length && pattern[pos] == '/')
                            pos++;
                        if (pos == pattern.Length)
                        {
                            // A trailing "**" takes everything below, as in .gitignore.
                            if (kind == MatchKind.Exact)
                                kind = MatchKind.Prefix;
                            else
                            {
                                regex.Append(".*");
                                kind = MatchKind.Regex;
                            }
                        }
                        else
                        {
                            // Zero or more whole directories.
                            regex.Append("(.*/)?");
                            kind = MatchKind.Regex;
                        }
                        if (i == 0)
                            kind = MatchKind.Suffix;
                        break;
                    case '*':
                        regex.Append("[^/]*");
                        kind = MatchKind.Regex;
                        break;
                    case '?':
                        regex.Append("[^/]");
                        kind = MatchKind.Regex;
                        break;
                    case '.' or '+' or '(' or ')' or '|' or '{' or '}' or '$':
                        regex.Append('\\').Append(ch);
                        break;
                    case '\\':
                        // IsValidGlob guarantees a next char. Docker copies "\x" into its regex as is, so "\d" would
                        // mean a digit there; we take every escaped char literally, as filepath.Match does.
                        var escaped = pattern[pos++];
                        if (!char.IsLetterOrDigit(escaped) && escaped != '_')
                            regex.Append('\\');
                        regex.Append(escaped);
                        kind = MatchKind.Regex;
                        break;
                    case '[' or ']':
                        regex.Append(ch);
                        kind = MatchKind.Regex;
                        break;
                    default:
                        regex.Append(ch);
                        break;
                }
            }
            return (kind, regex.Append(@"\z").ToString());
        }

        /// <summary>
        /// The syntax <c>filepath.Match</c> accepts, which Docker checks every pattern against: a class is '[', an
        /// optional '^', one or more chars or ranges (a '-' or ']' only escaped), then ']'; a '\' escapes one char.
        /// </summary>
        private static bool IsValidGlob(string pattern)
        {
            var i = 0;
            while (i < pattern.Length)
            {
                switch (pattern[i])
                {
                    case '\\':
                        if (i + 1 == pattern.Length)
                            return false;
                        i += 2;
                        break;
                    case '[':
                        i++;
                        if (i < pattern.Length && pattern[i] == '^')
                            i++;
                        for (var ranges = 0; ; ranges++)
                        {
                            if (ranges > 0 && i < pattern.Length && pattern[i] == ']')
                            {
                                i++;
                                break;
                            }
                            if (!ClassChar(pattern, ref i))
                                return false;
                            if (pattern[i] == '-')
                            {
                                i++;
                                if (!ClassChar(pattern, ref i))
                                    return false;
                            }
                        }
                        break;
                    default:
                        i++;
                        break;
                }
            }
            return true;
        }

        // Go's getEsc: one class member, which must not end the pattern.
        private static bool ClassChar(string pattern, ref int i)
        {
            if (i >= pattern.Length || pattern[i] is '-' or ']')
                return false;
            if (pattern[i] == '\\' && ++i >= pattern.Length)
                return false;
            i++;
            return i < pattern.Length;
        }

        private static ModWsgiException Invalid(int lineNumber, string line, string reason) =>
            new(DiagnosticCodes.InvalidDockerIgnorePattern,
                $".dockerignore line {lineNumber}: '{line}' is not a valid pattern: {reason}. Patterns use Go's "
                + "filepath.Match syntax ('*', '?', '[a-z]', '[^a]', '\\' escapes) plus '**' for any number of "
                + "directories; fix or remove the line.");
    }
}
