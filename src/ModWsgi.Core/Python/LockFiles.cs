using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ModWsgi.Core.Diagnostics;
using Tomlyn.Model;

namespace ModWsgi.Core.Python;

/// <summary>One package a lock file pins: installed as <c>name==version</c> with exactly these hashes, where the marker holds.</summary>
public sealed record LockedPackage(string Name, string Version, IReadOnlyList<string> Hashes, string? Marker);

/// <summary>A lock file format the build installs exactly.</summary>
/// <param name="FileName">The file at the project root.</param>
/// <param name="Tool">Who writes it, for messages.</param>
public sealed record LockFormat(string FileName, string Tool)
{
    public static readonly LockFormat PyLock = new("pylock.toml", "PEP 751 (pip lock, uv export, pdm export)");
    public static readonly LockFormat Uv = new("uv.lock", "uv lock");
    public static readonly LockFormat Poetry = new("poetry.lock", "poetry lock");
    public static readonly LockFormat Pipfile = new("Pipfile.lock", "pipenv lock");

    /// <summary>In the order the build prefers them when several exist (README "Which file the dependencies come from").</summary>
    public static IReadOnlyList<LockFormat> All { get; } = [PyLock, Uv, Poetry, Pipfile];

    /// <summary>PEP 751: pylock.toml or a named lock pylock.NAME.toml (NAME without dots).</summary>
    public bool IsPyLock => Tool == PyLock.Tool;

    /// <summary>The format of a lock file by its name (pylock.NAME.toml is PEP 751's); null for any other file.</summary>
    public static LockFormat? ForFile(string fileName) =>
        LockFiles.IsNamedPyLock(fileName) ? PyLock with { FileName = fileName } : All.FirstOrDefault(l => l.FileName == fileName);
}

/// <summary>
/// Reads the lock files of pip (PEP 751), uv, Poetry and Pipenv into the packages one selection of groups and extras
/// installs. The build then installs them with pip's hash-checking mode from the configured index: the lock's URLs
/// are not used (they name PyPI), its versions and hashes are enforced.
/// </summary>
public static partial class LockFiles
{
    /// <summary>The packages <paramref name="format"/>'s file installs for <paramref name="selected"/> groups/extras (empty: the lock's default).</summary>
    public static IReadOnlyList<LockedPackage> Read(string projectDirectory, LockFormat format, IReadOnlyList<string> selected)
    {
        var path = Path.Combine(projectDirectory, format.FileName);
        var chosen = selected.Select(MarkerSelection.Normalize).ToHashSet(StringComparer.Ordinal);
        var packages = format == LockFormat.Pipfile ? ReadPipfile(path, chosen)
            : ReadToml(format, TomlFile.Read(path, format.FileName), chosen);
        return Merge(packages);
    }

    private static IReadOnlyList<LockedPackage> ReadToml(LockFormat format, TomlTable document, HashSet<string> chosen) =>
        format.IsPyLock ? ReadPyLock(format.FileName, document, chosen)
        : format == LockFormat.Uv ? ReadUv(document, chosen)
        : ReadPoetry(document, chosen);

    /// <summary>name==version --hash=… lines, with markers: what pip installs with --require-hashes --no-deps.</summary>
    public static string ToHashedRequirements(IEnumerable<LockedPackage> packages)
    {
        var text = new StringBuilder();
        foreach (var package in packages)
        {
            text.Append(package.Name).Append("==").Append(package.Version);
            if (package.Marker is { } marker)
                text.Append(" ; ").Append(marker);
            foreach (var hash in package.Hashes)
                text.Append(" --hash=").Append(hash);
            text.Append('\n');
        }
        return text.ToString();
    }

    // PEP 751: [[packages]] with wheels/sdist hashes; groups and extras are marker variables.
    private static List<LockedPackage> ReadPyLock(string file, TomlTable document, HashSet<string> chosen)
    {
        if (document.Text("lock-version") is null)
            throw TomlFile.Invalid(file, "it has no lock-version (PEP 751)");
        var extras = Names(document.Strings("extras"));
        var groups = Names(document.Strings("dependency-groups"));
        RefuseUnknown(file, chosen, extras.Concat(groups));
        var selectedGroups = chosen.Count == 0 ? Names(document.Strings("default-groups")) : chosen.Where(groups.Contains).ToHashSet();
        var selectedExtras = chosen.Where(extras.Contains).ToHashSet();
        var result = new List<LockedPackage>();
        foreach (var package in document.Tables("packages"))
        {
            var name = Required(file, package, "name");
            MarkerSelection.Result marker;
            try
            {
                marker = MarkerSelection.Apply(package.Text("marker"), selectedExtras, selectedGroups);
            }
            catch (FormatException ex)
            {
                throw TomlFile.Invalid(file, $"the marker of '{name}' is not PEP 508 ({ex.Message})");
            }
            if (marker.Never)
                continue;
            if (package.Table("directory") is { } directory && directory.Text("path") is "." or "./")
                continue; // the project itself: /app
            if (package.Table("vcs") is not null || package.Table("directory") is not null || package.Table("archive") is not null)
                throw NotHashable(file, name, "a VCS, directory or archive source");
            var hashes = package.Tables("wheels").Append(package.Table("sdist") ?? new TomlTable())
                .SelectMany(artifact => artifact.Table("hashes") is { } table ? table.Select(h => $"{h.Key}:{h.Value}") : [])
                .ToArray();
            result.Add(Package(file, name, Required(file, package, "version"), hashes, marker.Residual));
        }
        return result;
    }

    /// <summary>PEP 751's pylock.NAME.toml: one name part, no dots.</summary>
    public static bool IsNamedPyLock(string fileName) => NamedPyLockRule().IsMatch(fileName);

    /// <summary>
    /// The PEP 751 lock to install: pylock.NAME.toml for <paramref name="name"/> (WsgiLockName), else pylock.toml, else the
    /// only pylock.NAME.toml; null when there is none. <paramref name="others"/> are the PEP 751 locks left unused.
    /// </summary>
    public static string? ChoosePyLock(string projectDirectory, string? name, out IReadOnlyList<string> others)
    {
        var named = Directory.EnumerateFiles(projectDirectory, "pylock.*.toml").Select(Path.GetFileName).OfType<string>()
            .Where(IsNamedPyLock).Order(StringComparer.Ordinal).ToArray();
        var plain = File.Exists(Path.Combine(projectDirectory, LockFormat.PyLock.FileName));
        string[] all = [.. plain ? [LockFormat.PyLock.FileName] : Array.Empty<string>(), .. named];
        string? chosen;
        if (name is not null)
        {
            chosen = $"pylock.{name}.toml";
            if (!IsNamedPyLock(chosen) || !named.Contains(chosen, StringComparer.Ordinal))
                throw new ModWsgiException(DiagnosticCodes.NamedLockMissing,
                    $"WsgiLockName is '{name}', but the project has no {chosen}"
                    + (named.Length > 0 ? $" (its named locks: {string.Join(", ", named)}, i.e. WsgiLockName {string.Join(" or ", named.Select(n => n["pylock.".Length..^".toml".Length]))})" : " (it has no pylock.NAME.toml)")
                    + ": fix WsgiLockName, or write the lock (pip lock -o " + chosen + ").");
        }
        else if (plain)
            chosen = LockFormat.PyLock.FileName;
        else if (named.Length > 1)
            throw new ModWsgiException(DiagnosticCodes.NamedLockAmbiguous,
                $"The project has several PEP 751 locks ({string.Join(", ", named)}) and no pylock.toml: choose one with WsgiLockName "
                + $"(<WsgiLockName>{named[0]["pylock.".Length..^".toml".Length]}</WsgiLockName> for {named[0]}; modwsgi --lock-name), or name the default one pylock.toml.");
        else
            chosen = named.FirstOrDefault();
        others = all.Where(f => f != chosen).ToArray();
        return chosen;
    }

    /// <summary>uv.lock's project entry says <c>source = { virtual = "." }</c>: the project is not a package (uv does not install it).</summary>
    public static bool UvProjectIsVirtual(string projectDirectory) =>
        TomlFile.Read(Path.Combine(projectDirectory, LockFormat.Uv.FileName), LockFormat.Uv.FileName).Tables("package")
            .Any(p => p.Table("source") is { } s && s.Text("virtual") is "." or "./");

    // uv: a graph from the project (source editable/virtual "."), edges carrying markers and extras.
    private static List<LockedPackage> ReadUv(TomlTable document, HashSet<string> chosen)
    {
        const string file = "uv.lock";
        var packages = document.Tables("package").ToArray();
        var roots = packages.Where(p => p.Table("source") is { } s && (s.Text("editable") ?? s.Text("virtual")) is "." or "./").ToArray();
        if (roots.Length == 0)
            roots = packages.Where(p => p.Table("source") is { } s && (s.ContainsKey("editable") || s.ContainsKey("virtual"))).ToArray();
        if (roots.Length == 0)
            throw TomlFile.Invalid(file, "no package is the project itself (source = { editable = \".\" } or { virtual = \".\" })");
        var available = roots.SelectMany(r => Keys(r.Table("optional-dependencies")).Concat(Keys(r.Table("dev-dependencies")))).ToHashSet();
        RefuseUnknown(file, chosen, available);

        var byName = packages.ToLookup(p => MarkerSelection.Normalize(Required(file, p, "name")));
        // Each package's markers over every path that reaches it; null = reached unconditionally.
        var reached = new Dictionary<TomlTable, HashSet<string?>>(ReferenceEqualityComparer.Instance);
        var queue = new Queue<(TomlTable Package, string? Marker, IReadOnlyList<string> Extras)>();
        void Follow(TomlTable edge, string? marker)
        {
            var name = MarkerSelection.Normalize(Required(file, edge, "name"));
            var edgeMarker = And(marker, edge.Text("marker"));
            var candidates = byName[name].Where(p => edge.Text("version") is not { } v || p.Text("version") == v).ToArray();
            if (candidates.Length == 0)
                throw TomlFile.Invalid(file, $"it names a dependency '{name}' that has no [[package]] entry");
            foreach (var candidate in candidates)
                queue.Enqueue((candidate, edgeMarker, edge.Strings("extra") ?? []));
        }
        foreach (var root in roots)
        {
            foreach (var edge in root.Tables("dependencies"))
                Follow(edge, null);
            foreach (var (group, edges) in Groups(root.Table("optional-dependencies")).Concat(Groups(root.Table("dev-dependencies"))))
                if (chosen.Contains(group))
                    foreach (var edge in edges)
                        Follow(edge, null);
        }
        var seenExtras = new HashSet<(TomlTable, string?, string)>();
        while (queue.Count > 0)
        {
            var (package, marker, extras) = queue.Dequeue();
            if (!reached.TryGetValue(package, out var markers))
                reached[package] = markers = [];
            var isNew = !markers.Contains(null) && markers.Add(marker);
            if (isNew)
                foreach (var edge in package.Tables("dependencies"))
                    Follow(edge, marker);
            foreach (var extra in extras.Select(MarkerSelection.Normalize))
                if (seenExtras.Add((package, marker, extra)))
                    foreach (var (name, edges) in Groups(package.Table("optional-dependencies")))
                        if (name == extra)
                            foreach (var edge in edges)
                                Follow(edge, marker);
        }

        var result = new List<LockedPackage>();
        foreach (var (package, markers) in reached)
        {
            if (roots.Contains(package))
                continue;
            var name = Required(file, package, "name");
            if (package.Table("source") is { } source && !source.ContainsKey("registry"))
                throw NotHashable(file, name, $"a {string.Join("/", source.Keys)} source");
            var hashes = package.Tables("wheels").Append(package.Table("sdist") ?? new TomlTable())
                .Select(a => a.Text("hash")).OfType<string>().ToArray();
            result.Add(Package(file, name, Required(file, package, "version"), hashes, Or(markers)));
        }
        return result;
    }

    // Poetry: every package says its groups (lock 2.1; 1.x: category) and whether only an extra brings it.
    private static List<LockedPackage> ReadPoetry(TomlTable document, HashSet<string> chosen)
    {
        const string file = "poetry.lock";
        var packages = document.Tables("package").ToArray();
        var extras = (document.Table("extras") ?? new TomlTable()).ToDictionary(
            e => MarkerSelection.Normalize(e.Key),
            e => (e.Value as TomlArray)?.OfType<string>().Select(n => MarkerSelection.Normalize(n.Split([' ', '[', '(', ';'])[0])).ToHashSet() ?? []);
        var groupsOf = packages.ToDictionary<TomlTable, TomlTable, HashSet<string>>(p => p, PoetryGroups, ReferenceEqualityComparer.Instance);
        RefuseUnknown(file, chosen, groupsOf.Values.SelectMany(g => g).Concat(extras.Keys));
        var wantedGroups = chosen.Append("main").ToHashSet();
        var wantedByExtra = extras.Where(e => chosen.Contains(e.Key)).SelectMany(e => e.Value).ToHashSet();
        var legacyFiles = document.Table("metadata")?.Table("files");

        var result = new List<LockedPackage>();
        foreach (var package in packages)
        {
            var name = Required(file, package, "name");
            var groups = groupsOf[package].Where(wantedGroups.Contains).ToArray();
            if (groups.Length == 0)
                continue;
            if (package.TryGetValue("optional", out var optional) && optional is true && !wantedByExtra.Contains(MarkerSelection.Normalize(name)))
                continue;
            if (package.Table("source") is { } source && source.Text("type") is { } type && type != "legacy")
                throw NotHashable(file, name, $"a {type} source");
            string? marker = package.TryGetValue("markers", out var markers) switch
            {
                false => null,
                true when markers is string text => text,
                // lock 2.1: one marker per group; the package is wanted where any chosen group's marker holds.
                true when markers is TomlTable perGroup => groups.Any(g => !perGroup.ContainsKey(g)) ? null
                    : Or(groups.Select(g => perGroup[g] as string).ToHashSet()),
                _ => null,
            };
            var files = package.Tables("files").Concat(legacyFiles?.Tables(name) ?? []);
            result.Add(Package(file, name, Required(file, package, "version"), files.Select(f => f.Text("hash")).OfType<string>().ToArray(), marker));
        }
        return result;
    }

    private static HashSet<string> PoetryGroups(TomlTable package) =>
        package.Strings("groups") is { } groups ? Names(groups)
        : package.Text("category") is { } category ? [MarkerSelection.Normalize(category)]
        : ["main"];

    // Pipenv: JSON sections: "default" always, "develop" for the group dev/develop, any other category by name.
    private static List<LockedPackage> ReadPipfile(string path, HashSet<string> chosen)
    {
        const string file = "Pipfile.lock";
        JsonDocument json;
        try
        {
            json = JsonDocument.Parse(File.ReadAllText(path));
        }
        catch (JsonException ex)
        {
            throw TomlFile.Invalid(file, ex.Message);
        }
        using var _ = json;
        if (json.RootElement.ValueKind != JsonValueKind.Object)
            throw TomlFile.Invalid(file, "it is not a JSON object");
        var sections = json.RootElement.EnumerateObject().Where(s => s.Name != "_meta" && s.Value.ValueKind == JsonValueKind.Object)
            .ToDictionary(s => MarkerSelection.Normalize(s.Name), s => s.Value);
        var available = sections.Keys.Where(k => k != "default").SelectMany(k => k == "develop" ? new[] { "dev", "develop" } : [k]);
        RefuseUnknown(file, chosen, available);
        var wanted = chosen.Select(g => g == "dev" ? "develop" : g).Append("default").ToHashSet();

        var result = new List<LockedPackage>();
        foreach (var (section, entries) in sections.Where(s => wanted.Contains(s.Key)))
        {
            foreach (var entry in entries.EnumerateObject())
            {
                var value = entry.Value;
                string? Field(string name) => value.ValueKind == JsonValueKind.Object && value.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;
                if (Field("path") is "." or "./")
                    continue;
                if (Field("path") is not null || Field("git") is not null || Field("file") is not null)
                    throw NotHashable(file, entry.Name, "a path, file or git source");
                var version = Field("version") is { } pin && pin.StartsWith("==", StringComparison.Ordinal) ? pin[2..]
                    : throw NotHashable(file, entry.Name, "no ==version pin");
                var hashes = value.TryGetProperty("hashes", out var list) && list.ValueKind == JsonValueKind.Array
                    ? list.EnumerateArray().Select(h => h.GetString()).OfType<string>().ToArray() : [];
                result.Add(Package(file, entry.Name, version, hashes, Field("markers")));
            }
        }
        return result;
    }

    private static LockedPackage Package(string file, string name, string version, IReadOnlyList<string> hashes, string? marker)
    {
        if (!NameRule().IsMatch(name))
            throw TomlFile.Invalid(file, $"'{name}' is not a package name");
        if (!VersionRule().IsMatch(version))
            throw TomlFile.Invalid(file, $"the version '{version}' of '{name}' is not a version");
        if (hashes.Count == 0)
            throw NotHashable(file, name, "no hashes");
        if (hashes.FirstOrDefault(h => !HashRule().IsMatch(h)) is { } bad)
            throw TomlFile.Invalid(file, $"the hash '{bad}' of '{name}' is not algorithm:hex (sha256:…)");
        // A requirements line ends at a comment or a newline: a marker must not smuggle either in.
        if (marker is not null && (marker.Contains('#') || marker.Contains('\n') || marker.Contains('\r') || marker.Contains(" -")))
            throw TomlFile.Invalid(file, $"the marker of '{name}' holds characters a requirements line cannot carry");
        return new LockedPackage(name, version, hashes.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray(), marker);
    }

    /// <summary>One line per package and version; markers of the same pin joined with or.</summary>
    private static LockedPackage[] Merge(IEnumerable<LockedPackage> packages) =>
        packages.GroupBy(p => (Name: MarkerSelection.Normalize(p.Name), p.Version))
            .Select(g => g.First() with
            {
                Hashes = g.SelectMany(p => p.Hashes).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray(),
                Marker = Or(g.Select(p => p.Marker).ToHashSet()),
            })
            .OrderBy(p => MarkerSelection.Normalize(p.Name), StringComparer.Ordinal).ThenBy(p => p.Version, StringComparer.Ordinal)
            .ToArray();

    private static void RefuseUnknown(string file, HashSet<string> chosen, IEnumerable<string> available)
    {
        var known = available.Select(MarkerSelection.Normalize).ToHashSet();
        var unknown = chosen.Where(g => !known.Contains(g)).Order(StringComparer.Ordinal).ToArray();
        if (unknown.Length > 0)
            throw new ModWsgiException(DiagnosticCodes.DependencyGroupUnknown,
                $"WsgiDependencyGroups names {string.Join(", ", unknown.Select(u => $"'{u}'"))}, which {file} does not define "
                + $"(it has: {(known.Count == 0 ? "no groups or extras" : string.Join(", ", known.Order(StringComparer.Ordinal)))}): fix WsgiDependencyGroups or lock the group.");
    }

    private static ModWsgiException NotHashable(string file, string name, string why) => new(DiagnosticCodes.LockedPackageNotHashed,
        $"{file} pins '{name}' with {why}, so it cannot be installed by hash from the package index: lock it from an index "
        + "(with hashes), or move it to requirements.txt and drop the lock file.");

    private static HashSet<string> Names(IEnumerable<string>? names) => (names ?? []).Select(MarkerSelection.Normalize).ToHashSet();

    private static IEnumerable<string> Keys(TomlTable? table) => table?.Keys.Select(MarkerSelection.Normalize) ?? [];

    private static IEnumerable<(string Group, IEnumerable<TomlTable> Edges)> Groups(TomlTable? table) =>
        table?.Select(g => (MarkerSelection.Normalize(g.Key), g.Value is TomlArray a ? a.OfType<TomlTable>() : g.Value is TomlTableArray t ? t.Cast<TomlTable>() : [])) ?? [];

    private static string Required(string file, TomlTable table, string key) =>
        table.Text(key) ?? throw TomlFile.Invalid(file, $"an entry has no '{key}'");

    private static string? And(string? a, string? b) =>
        string.IsNullOrWhiteSpace(a) ? NullIfBlank(b) : string.IsNullOrWhiteSpace(b) ? a : $"({a}) and ({b})";

    private static string? Or(IReadOnlySet<string?> markers) =>
        markers.Count == 0 || markers.Any(string.IsNullOrWhiteSpace) ? null
        : markers.Count == 1 ? markers.Single()
        : string.Join(" or ", markers.Order(StringComparer.Ordinal).Select(m => $"({m})"));

    private static string? NullIfBlank(string? text) => string.IsNullOrWhiteSpace(text) ? null : text;

    [GeneratedRegex("^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")]
    private static partial Regex NameRule();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9.+!_-]*$")]
    private static partial Regex VersionRule();

    [GeneratedRegex(@"^pylock\.[^./\\]+\.toml$")]
    private static partial Regex NamedPyLockRule();

    [GeneratedRegex("^(sha256|sha384|sha512):[0-9a-f]+$")]
    private static partial Regex HashRule();
}
