using System.Text;
using System.Text.RegularExpressions;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Project;

namespace ModWsgi.Core.Python;

/// <summary>A version-control tool pip needs to install some requirement.</summary>
public enum VcsTool { Git, Mercurial, Subversion, Bazaar }

/// <summary>What a requirements file tree pulls into the dependencies step.</summary>
/// <param name="RequirementFiles">Project-relative paths ('/' separators) of every file visited, in visit order, each once.</param>
/// <param name="VcsTools">The tools the requirements need, distinct, in enum order.</param>
/// <param name="LocalPaths">Project-relative local paths the requirements install from (editables, local folders and
/// archives, <c>file:</c> URLs, local <c>--find-links</c>), distinct, in visit order.</param>
public sealed record RequirementsScan(
    IReadOnlyList<string> RequirementFiles,
    IReadOnlyList<VcsTool> VcsTools,
    IReadOnlyList<string> LocalPaths)
{
    /// <summary>Every VCS requirement, parsed, in visit order.</summary>
    public IReadOnlyList<VcsRequirement> VcsRequirements { get; init; } = [];
}

/// <summary>
/// Reads requirements files the way pip's <c>req_file.py</c> does (line joining, comments, the
/// <c>optparse</c> option syntax, nesting) to find the VCS tools and local inputs the dependencies step needs.
/// </summary>
public static class RequirementsScanner
{
    private enum OptionKind { Other, Requirement, Constraint, Editable, FindLinks }

    // The options pip's requirements-file parser knows, with whether they take a value. Listed in full because
    // optparse accepts any unambiguous prefix of a long option ("--requirem x").
    private static readonly Dictionary<string, (OptionKind Kind, bool TakesValue)> LongOptions = new(StringComparer.Ordinal)
    {
        ["--index-url"] = (OptionKind.Other, true),
        ["--pypi-url"] = (OptionKind.Other, true),
        ["--extra-index-url"] = (OptionKind.Other, true),
        ["--no-index"] = (OptionKind.Other, false),
        ["--constraint"] = (OptionKind.Constraint, true),
        ["--requirement"] = (OptionKind.Requirement, true),
        ["--editable"] = (OptionKind.Editable, true),
        ["--find-links"] = (OptionKind.FindLinks, true),
        ["--no-binary"] = (OptionKind.Other, true),
        ["--only-binary"] = (OptionKind.Other, true),
        ["--prefer-binary"] = (OptionKind.Other, false),
        ["--require-hashes"] = (OptionKind.Other, false),
        ["--pre"] = (OptionKind.Other, false),
        ["--trusted-host"] = (OptionKind.Other, true),
        ["--use-feature"] = (OptionKind.Other, true),
        ["--global-option"] = (OptionKind.Other, true),
        ["--hash"] = (OptionKind.Other, true),
        ["--config-settings"] = (OptionKind.Other, true),
    };

    // Every short option pip accepts here takes a value, attached ("-rfile") or as the next word.
    private static readonly Dictionary<char, OptionKind> ShortOptions = new()
    {
        ['i'] = OptionKind.Other,
        ['c'] = OptionKind.Constraint,
        ['r'] = OptionKind.Requirement,
        ['e'] = OptionKind.Editable,
        ['f'] = OptionKind.FindLinks,
        ['C'] = OptionKind.Other,
    };

    private static readonly string[] ArchiveExtensions =
        [".zip", ".whl", ".tar.bz2", ".tbz", ".tar.gz", ".tgz", ".tar", ".tar.xz", ".txz", ".tlz", ".tar.lz", ".tar.lzma"];

    private static readonly Regex CommentStart = new(@"^\s*#", RegexOptions.CultureInvariant);
    private static readonly Regex Comment = new(@"(^|\s+)#.*$", RegexOptions.CultureInvariant);
    private static readonly Regex UrlScheme = new(@"^(?<scheme>[A-Za-z][A-Za-z0-9+.\-]*):", RegexOptions.CultureInvariant);
    private static readonly Regex Extras = new(@"^(?<path>.+)\[[^\]]+\]$", RegexOptions.CultureInvariant);
    private static readonly Regex DirectReference = new(
        @"^[A-Za-z0-9](?:[A-Za-z0-9._\-]*[A-Za-z0-9])?\s*(?:\[[^\]]*\])?\s*@\s*(?<url>\S+)", RegexOptions.CultureInvariant);
    private static readonly Regex EnvironmentReference = new(@"\$\{[A-Z0-9_]+\}", RegexOptions.CultureInvariant);

    /// <summary>
    /// Scans <paramref name="requirementsFile"/> under <paramref name="projectDirectory"/> and every file it pulls in
    /// with <c>-r</c>/<c>-c</c>. A missing top-level file gives an empty scan; a missing nested file is an error.
    /// </summary>
    public static RequirementsScan Scan(string projectDirectory, string requirementsFile = "requirements.txt")
    {
        var scan = new Scanner(Path.GetFullPath(projectDirectory));
        var topLevel = Path.Combine(scan.ProjectDirectory, requirementsFile);
        if (File.Exists(topLevel))
            scan.Visit(Path.GetFullPath(topLevel));
        return new RequirementsScan(scan.Files, scan.Tools.Order().ToArray(), scan.LocalPaths) { VcsRequirements = scan.Vcs };
    }

    /// <summary>The Debian package that provides <paramref name="tool"/>.</summary>
    public static string DebianPackage(VcsTool tool) => tool switch
    {
        VcsTool.Git => "git",
        VcsTool.Mercurial => "mercurial",
        VcsTool.Subversion => "subversion",
        VcsTool.Bazaar => "bzr",
        _ => throw new ArgumentOutOfRangeException(nameof(tool), tool, null),
    };

    /// <summary>The largest requirements file read: 8 MiB (pip-compile's hashed output for a large app is a few hundred KiB).</summary>
    public const long MaxRequirementsFileBytes = 8L * 1024 * 1024;

    private sealed class Scanner(string projectDirectory)
    {
        private readonly HashSet<string> _visited = new(StringComparer.Ordinal);
        private readonly HashSet<string> _localPaths = new(StringComparer.Ordinal);

        public string ProjectDirectory { get; } = projectDirectory;
        public List<string> Files { get; } = [];
        public HashSet<VcsTool> Tools { get; } = [];
        public List<string> LocalPaths { get; } = [];
        public List<VcsRequirement> Vcs { get; } = [];

        // The line being read, for messages.
        private (string File, int Line) _at;

        public void Visit(string file)
        {
            // pip itself would recurse forever on a cycle; a second visit adds nothing new.
            if (!_visited.Add(file))
                return;
            RefuseUnreadable(file);
            Files.Add(Relative(file));

            foreach (var (lineNumber, line) in LogicalLines(File.ReadAllLines(file)))
            {
                _at = (file, lineNumber);
                var (args, optionWords) = BreakArgsOptions(line);
                var options = ParseOptions(optionWords);
                if (args.Length > 0)
                    AddRequirement(args);
                else if (options.TryGetValue(OptionKind.Editable, out var editable))
                    AddEditable(editable);
                else if (options.TryGetValue(OptionKind.Requirement, out var nested))
                    VisitNested(file, lineNumber, "-r", nested);
                else if (options.TryGetValue(OptionKind.Constraint, out nested))
                    VisitNested(file, lineNumber, "-c", nested);
                else if (options.TryGetValue(OptionKind.FindLinks, out var findLinks))
                    AddFindLinks(file, findLinks);
            }
        }

        private void VisitNested(string referencingFile, int lineNumber, string flag, string value)
        {
            string target;
            if (SchemeOf(value) is { } scheme)
            {
                // Remote files are fetched by pip and are not project inputs; file: URLs are read from the working folder.
                if (scheme != "file" || FileUrlPath(value) is not { } path)
                    return;
                target = Path.GetFullPath(Path.Combine(ProjectDirectory, path));
            }
            else
            {
                target = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(referencingFile)!, value));
            }

            if (!File.Exists(target))
            {
                // ${VAR} is expanded by pip inside the build container; the host cannot resolve it.
                if (EnvironmentReference.IsMatch(value))
                    return;
                throw new ModWsgiException(
                    DiagnosticCodes.RequirementsFileMissing,
                    $"{Relative(referencingFile)} line {lineNumber} names '{value}' with {flag}, but '{Relative(target)}' does not exist. " +
                    $"Create the file or fix the path; {flag} paths are relative to the folder of the file that names them.");
            }
            if (IsOutsideProject(target))
                throw new ModWsgiException(
                    DiagnosticCodes.RequirementsFileMissing,
                    $"{Relative(referencingFile)} line {lineNumber} names '{value}' with {flag}, which is outside the project folder "
                    + $"'{ProjectDirectory}': the build container sees only the project, so pip could not read it there. Copy the file "
                    + $"into the project and name it by its path there.");
            Visit(target);
        }

        private bool IsOutsideProject(string path)
        {
            var relative = Path.GetRelativePath(ProjectDirectory, path).Replace('\\', '/');
            return relative == ".." || relative.StartsWith("../", StringComparison.Ordinal) || Path.IsPathRooted(relative);
        }

        /// <summary>
        /// Requirements files are read whole, on the host: a FIFO would block the build, a device (-r /dev/zero) or a huge
        /// file would grow memory without bound. A lock-exported requirements file with hashes is well under the limit.
        /// </summary>
        private void RefuseUnreadable(string file)
        {
            var target = new FileInfo(file).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? file;
            var kind = FileKinds.Of(target);
            var size = kind == FileKind.Regular ? new FileInfo(target).Length : 0;
            if (kind == FileKind.Regular && size <= MaxRequirementsFileBytes)
                return;
            var what = kind == FileKind.Regular ? $"{size / (1024 * 1024)} MiB, over the {MaxRequirementsFileBytes / (1024 * 1024)} MiB a requirements file may have" : FileKinds.Describe(kind);
            throw new ModWsgiException(DiagnosticCodes.RequirementsFileUnreadable,
                $"'{Relative(file)}' is named as a requirements file but is {what}: -r/-c must name a text file in the project.");
        }

        private void AddRequirement(string requirement)
        {
            var scheme = SchemeOf(requirement);
            // pip splits markers off a URL only at "; " (a URL may contain ';'), off anything else at ';'.
            var markerAt = requirement.IndexOf(scheme is null ? ";" : "; ", StringComparison.Ordinal);
            var name = (markerAt >= 0 ? requirement[..markerAt] : requirement).Trim();

            if (scheme is not null)
            {
                AddUrl(name, scheme, editable: false);
            }
            else if (DirectReference.Match(name) is { Success: true } direct)
            {
                // pip accepts only URLs after '@', not bare paths.
                var url = direct.Groups["url"].Value;
                if (SchemeOf(url) is { } urlScheme)
                    AddUrl(url, urlScheme, editable: false);
            }
            else
            {
                var path = StripExtras(name);
                if (LooksLikePath(path) || IsArchive(path))
                    AddLocalPath(path);
            }
        }

        private void AddEditable(string editable)
        {
            var target = StripExtras(editable.Trim());
            if (SchemeOf(target) is { } scheme)
                AddUrl(target, scheme, editable: true);
            else
                AddLocalPath(target);
        }

        private void AddUrl(string url, string scheme, bool editable)
        {
            if (scheme == "file")
            {
                AddFileUrl(url);
                return;
            }
            if (VcsRequirement.Parse(url, editable) is not { } vcs)
                return;
            Vcs.Add(vcs);
            Tools.Add(vcs.Tool);
            // A repository in the project folder (git+file:///app/repo@v1) is an input like any local path.
            if (vcs.LocalPath is not null)
                AddLocalRepository(url, vcs);
        }

        private void AddLocalRepository(string url, VcsRequirement vcs)
        {
            var path = vcs.LocalPath!;
            // ${VAR} is expanded by pip inside the build container; the host cannot resolve it.
            if (EnvironmentReference.IsMatch(path))
                return;
            var where = $"{Relative(_at.File)} line {_at.Line}";
            var relative = ContainerPathInProject(path);
            if (relative is null)
            {
                var prefix = url[..url.IndexOf('+')].ToLowerInvariant();
                var hostRelative = Path.GetRelativePath(ProjectDirectory, path).Replace('\\', '/');
                var hint = !Path.IsPathRooted(hostRelative) && hostRelative != ".." && !hostRelative.StartsWith("../", StringComparison.Ordinal)
                    ? $"'{path}' is the project's path on this machine; name it as the build container sees it: {prefix}+file://{ContainerAppRoot}/{hostRelative}."
                    : $"Copy or clone the repository into the project (git: 'git clone --bare {path} vendor/NAME') and name it as {prefix}+file://{ContainerAppRoot}/vendor/NAME.";
                throw new ModWsgiException(DiagnosticCodes.VcsRepositoryOutsideProject,
                    $"{where}: '{url}' names the local repository '{path}', outside the project: the build container sees only the project folder, at {ContainerAppRoot}. {hint}");
            }
            var repository = FindRepository(relative, vcs.Tool) ?? throw new ModWsgiException(DiagnosticCodes.VcsRepositoryMissing,
                $"{where}: '{url}' names the local repository '{path}', but '{relative}' does not exist in the project. Fix the path " +
                $"({ContainerAppRoot}/... is the project folder; '@revision', '#egg=' and '#subdirectory=' are not part of it) or create the repository there.");
            if (_localPaths.Add(repository))
                LocalPaths.Add(repository);
        }

        /// <summary>A path pip sees in the build container, project-relative; null when it is outside the project.</summary>
        private string? ContainerPathInProject(string path)
        {
            // pip runs in the build container, where the project folder is /app (also its working folder).
            if (path.StartsWith('/'))
            {
                if (path != ContainerAppRoot && !path.StartsWith(ContainerAppRoot + "/", StringComparison.Ordinal))
                    return null;
                path = "." + path[ContainerAppRoot.Length..];
            }
            var relative = Relative(Path.Combine(ProjectDirectory, path));
            return relative == ".." || relative.StartsWith("../", StringComparison.Ordinal) ? null : relative;
        }

        /// <summary>
        /// The repository folder a local VCS URL names: the path itself, or for Subversion the repository that holds it
        /// (svn+file:///app/repo/trunk names the folder trunk inside the repository at repo).
        /// </summary>
        private string? FindRepository(string relative, VcsTool tool)
        {
            if (Path.Exists(Path.Combine(ProjectDirectory, relative)))
                return relative;
            if (tool != VcsTool.Subversion)
                return null;
            for (var folder = ParentOf(relative); folder is not null; folder = ParentOf(folder))
            {
                var full = Path.Combine(ProjectDirectory, folder);
                if (File.Exists(Path.Combine(full, "format")) && Directory.Exists(Path.Combine(full, "db")))
                    return folder;
                if (Path.Exists(full))
                    return null; // an existing folder that is no repository: nothing further up is meant
            }
            return null;
        }

        private static string? ParentOf(string relative) =>
            relative == "." ? null : relative.LastIndexOf('/') is var slash and > 0 ? relative[..slash] : ".";

        private void AddFindLinks(string file, string value)
        {
            // Index and link URLs are never VCS requirements; only a file: URL is a local input.
            if (SchemeOf(value) is { } scheme)
            {
                if (scheme == "file")
                    AddFileUrl(value);
                return;
            }
            // pip prefers the path relative to the requirements file when it exists there, else the working folder.
            var besideFile = Path.Combine(Path.GetDirectoryName(file)!, value);
            AddLocalPath(Path.Exists(besideFile) ? besideFile : value);
        }

        private void AddFileUrl(string url)
        {
            if (FileUrlPath(url) is { } path)
                AddLocalPath(path);
        }

        // Local requirement paths are relative to pip's working folder, the project, not to the file naming them.
        private void AddLocalPath(string path)
        {
            // pip runs in the build container, where the project folder is /app.
            if (path == ContainerAppRoot || path.StartsWith(ContainerAppRoot + "/", StringComparison.Ordinal))
                path = "." + path[ContainerAppRoot.Length..];
            var relative = Relative(Path.Combine(ProjectDirectory, path));
            if (relative == ".." || relative.StartsWith("../", StringComparison.Ordinal))
                return; // outside the project: not something the build can copy in
            if (_localPaths.Add(relative))
                LocalPaths.Add(relative);
        }

        private string Relative(string path) =>
            Path.TrimEndingDirectorySeparator(Path.GetRelativePath(ProjectDirectory, Path.GetFullPath(path))).Replace('\\', '/');
    }

    /// <summary>pip's <c>preprocess</c>: joins backslash continuations, drops comments and blank lines.</summary>
    private static IEnumerable<(int Number, string Text)> LogicalLines(string[] lines) =>
        JoinLines(lines)
            .Select(l => (l.Number, Text: Comment.Replace(l.Text, "").Trim()))
            .Where(l => l.Text.Length > 0);

    /// <summary>pip's <c>join_lines</c>: a joined line keeps the number of its first physical line.</summary>
    private static IEnumerable<(int Number, string Text)> JoinLines(string[] lines)
    {
        var joined = new StringBuilder();
        var firstNumber = 0;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            var isComment = CommentStart.IsMatch(line);
            if (line.EndsWith('\\') && !isComment)
            {
                if (joined.Length == 0)
                    firstNumber = i + 1;
                joined.Append(line.Trim('\\'));
                continue;
            }
            // A comment ends a continuation; the leading space keeps it matched as a comment once joined.
            if (isComment)
                line = " " + line;
            if (joined.Length > 0)
            {
                yield return (firstNumber, joined.Append(line).ToString());
                joined.Clear();
            }
            else
            {
                yield return (i + 1, line);
            }
        }
        if (joined.Length > 0)
            yield return (firstNumber, joined.ToString());
    }

    /// <summary>pip's <c>break_args_options</c>: words before the first one starting with '-' are the requirement.</summary>
    private static (string Args, string Options) BreakArgsOptions(string line)
    {
        var words = line.Split(' ');
        var firstOption = Array.FindIndex(words, w => w.StartsWith('-'));
        return firstOption < 0
            ? (line, "")
            : (string.Join(' ', words[..firstOption]), string.Join(' ', words[firstOption..]));
    }

    /// <summary>optparse over pip's options, keeping the first value of each kind as pip uses it.</summary>
    private static Dictionary<OptionKind, string> ParseOptions(string options)
    {
        var values = new Dictionary<OptionKind, string>();
        var words = ShellSplit(options);
        for (var i = 0; i < words.Count; i++)
        {
            var word = words[i];
            if (word == "--")
                break;
            if (word.StartsWith("--", StringComparison.Ordinal))
            {
                var equals = word.IndexOf('=');
                var name = equals < 0 ? word : word[..equals];
                // An unknown or ambiguous option makes pip reject the line; pip reports it, so it is skipped here.
                if (MatchLongOption(name) is not { } option)
                    continue;
                var value = equals >= 0 ? word[(equals + 1)..] : null;
                if (option.TakesValue && value is null && i + 1 < words.Count)
                    value = words[++i];
                if (option.TakesValue && value is not null)
                    values.TryAdd(option.Kind, value);
            }
            else if (word.Length > 1 && word[0] == '-' && ShortOptions.TryGetValue(word[1], out var kind))
            {
                var value = word.Length > 2 ? word[2..] : i + 1 < words.Count ? words[++i] : null;
                if (value is not null)
                    values.TryAdd(kind, value);
            }
        }
        return values;
    }

    private static (OptionKind Kind, bool TakesValue)? MatchLongOption(string name)
    {
        if (LongOptions.TryGetValue(name, out var exact))
            return exact;
        var candidates = LongOptions.Where(o => o.Key.StartsWith(name, StringComparison.Ordinal)).Take(2).ToArray();
        return candidates.Length == 1 ? candidates[0].Value : null;
    }

    /// <summary>POSIX <c>shlex.split</c>, which pip applies to the options part of a line.</summary>
    private static List<string> ShellSplit(string text)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var inWord = false;
        char quote = '\0';
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quote == '\'')
            {
                if (c == '\'') quote = '\0'; else word.Append(c);
            }
            else if (quote == '"')
            {
                if (c == '"') quote = '\0';
                else if (c == '\\' && i + 1 < text.Length && text[i + 1] is '\\' or '"' or '$' or '`') word.Append(text[++i]);
                else word.Append(c);
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord) words.Add(word.ToString());
                word.Clear();
                inWord = false;
            }
            else
            {
                inWord = true;
                if (c is '\'' or '"') quote = c;
                else if (c == '\\' && i + 1 < text.Length) word.Append(text[++i]);
                else word.Append(c);
            }
        }
        if (inWord)
            words.Add(word.ToString());
        return words;
    }

    private const string ContainerAppRoot = "/app";

    /// <summary>The local path of a <c>file:</c> URL (<c>file:./x</c>, <c>file:///abs</c>); null for another host.</summary>
    private static string? FileUrlPath(string url)
    {
        var rest = url["file:".Length..];
        var end = rest.IndexOfAny(['#', '?']);
        if (end >= 0)
            rest = rest[..end];
        if (rest.StartsWith("//", StringComparison.Ordinal))
        {
            var slash = rest.IndexOf('/', 2);
            var host = slash < 0 ? rest[2..] : rest[2..slash];
            if (host.Length > 0 && !host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
                return null;
            rest = slash < 0 ? "/" : rest[slash..];
        }
        return Uri.UnescapeDataString(rest);
    }

    private static string? SchemeOf(string value) =>
        UrlScheme.Match(value) is { Success: true } m ? m.Groups["scheme"].Value.ToLowerInvariant() : null;

    private static string StripExtras(string path) =>
        Extras.Match(path) is { Success: true } m ? m.Groups["path"].Value : path;

    // pip's _looks_like_path, for the Linux pip in the build container: a '/' or a leading '.'.
    private static bool LooksLikePath(string name) => name.Contains('/') || name.StartsWith('.');

    private static bool IsArchive(string name) =>
        ArchiveExtensions.Any(e => name.EndsWith(e, StringComparison.OrdinalIgnoreCase));
}
