using Tomlyn.Model;

namespace ModWsgi.Core.Python;

/// <summary>
/// What a self-installing project needs, read from pyproject.toml alone (PEP 621 and PEP 735): its requirements
/// for the chosen extras and dependency groups, and its build backend's. Null metadata means the file does not
/// say (no [project] table, or dependencies listed in <c>dynamic</c>): the build backend has to compute them.
/// </summary>
/// <param name="Requirements">PEP 508 requirement strings: [project] dependencies, then the chosen extras and groups.</param>
/// <param name="BuildRequirements">[build-system] requires (setuptools' legacy default when the table is missing).</param>
/// <param name="IsFullyStatic">Nothing in [project] dynamic (no version read from the package, no setup.py).</param>
public sealed record StaticMetadata(IReadOnlyList<string> Requirements, IReadOnlyList<string> BuildRequirements, bool IsFullyStatic);

public static class PyProject
{
    public const string FileName = "pyproject.toml";

    /// <summary>What pip assumes without [build-system] (PEP 517's fallback to setuptools' legacy backend).</summary>
    public static readonly IReadOnlyList<string> LegacyBuildRequirements = ["setuptools>=40.8.0", "wheel"];

    /// <summary>
    /// [build-system] requires, plus what the backend asks for at build time: pip installs the project with
    /// --no-build-isolation, which skips the get_requires_for_build_* hook, and setuptools before 70.1 answers it with
    /// "wheel" (without it the editable install fails with "invalid command 'bdist_wheel'").
    /// </summary>
    public static IReadOnlyList<string> BuildRequirementsOf(TomlTable document)
    {
        if (document.Table("build-system") is not { } buildSystem)
            return LegacyBuildRequirements;
        var requires = buildSystem.Strings("requires") ?? [];
        var backend = buildSystem.TryGetValue("build-backend", out var value) ? value as string : null;
        var setuptools = backend is null || backend.StartsWith("setuptools.build_meta", StringComparison.Ordinal);
        // The name is what a PEP 508 line starts with, up to a version, extra, marker or URL.
        var hasWheel = requires.Any(r => string.Equals(RequirementLine.Name(r), "wheel", StringComparison.OrdinalIgnoreCase));
        return setuptools && !hasWheel ? [.. requires, "wheel"] : requires;
    }

    /// <summary>The static metadata, or null with <paramref name="whyNot"/> saying what is dynamic or missing.</summary>
    public static StaticMetadata? ReadStatic(string projectDirectory, IReadOnlyList<string> selected, out string whyNot)
    {
        whyNot = "";
        var path = Path.Combine(projectDirectory, FileName);
        if (!File.Exists(path))
        {
            whyNot = "there is no pyproject.toml";
            return null;
        }
        var document = TomlFile.Read(path, FileName);
        if (document.Table("project") is not { } project)
        {
            whyNot = "pyproject.toml has no [project] table";
            return null;
        }
        var dynamic = (project.Strings("dynamic") ?? []).ToHashSet(StringComparer.Ordinal);
        var chosen = selected.Select(MarkerSelection.Normalize).ToHashSet(StringComparer.Ordinal);
        if (dynamic.Contains("dependencies") || (chosen.Count > 0 && dynamic.Contains("optional-dependencies")))
        {
            whyNot = "pyproject.toml lists " + (dynamic.Contains("dependencies") ? "dependencies" : "optional-dependencies") + " in [project] dynamic";
            return null;
        }

        var extras = (project.Table("optional-dependencies") ?? new TomlTable())
            .ToDictionary(e => MarkerSelection.Normalize(e.Key), e => (e.Value as TomlArray)?.OfType<string>().ToArray() ?? []);
        var groups = (document.Table("dependency-groups") ?? new TomlTable())
            .ToDictionary(g => MarkerSelection.Normalize(g.Key), g => g.Value as TomlArray ?? []);
        var unknown = chosen.Where(c => !extras.ContainsKey(c) && !groups.ContainsKey(c)).Order(StringComparer.Ordinal).ToArray();
        if (unknown.Length > 0)
            throw new Diagnostics.ModWsgiException(Diagnostics.DiagnosticCodes.DependencyGroupUnknown,
                $"WsgiDependencyGroups names {string.Join(", ", unknown.Select(u => $"'{u}'"))}, which pyproject.toml does not define "
                + $"(its [project.optional-dependencies] and [dependency-groups]: {string.Join(", ", extras.Keys.Concat(groups.Keys).Order(StringComparer.Ordinal).DefaultIfEmpty("none"))}).");

        var requirements = new List<string>(project.Strings("dependencies") ?? []);
        foreach (var name in chosen.Order(StringComparer.Ordinal))
        {
            if (extras.TryGetValue(name, out var extra))
                requirements.AddRange(extra);
            if (groups.ContainsKey(name))
                requirements.AddRange(GroupRequirements(groups, name, []));
        }
        var build = BuildRequirementsOf(document);
        foreach (var requirement in requirements.Concat(build))
            RequirementLine.Check(FileName, requirement);
        var fullyStatic = dynamic.Count == 0 && !File.Exists(Path.Combine(projectDirectory, "setup.py"));
        return new StaticMetadata(requirements.Distinct(StringComparer.Ordinal).ToArray(), build, fullyStatic);
    }

    /// <summary>Files the [tool.setuptools.dynamic] table reads metadata from (file = …): metadata inputs too.</summary>
    public static IReadOnlyList<string> DynamicMetadataFiles(string projectDirectory)
    {
        var path = Path.Combine(projectDirectory, FileName);
        if (!File.Exists(path))
            return [];
        var dynamic = TomlFile.Read(path, FileName).Table("tool")?.Table("setuptools")?.Table("dynamic");
        if (dynamic is null)
            return [];
        return dynamic.Values.OfType<TomlTable>()
            .SelectMany(entry => entry.TryGetValue("file", out var file) ? file is string one ? [one] : (file as TomlArray)?.OfType<string>() ?? [] : [])
            .Select(f => f.Replace('\\', '/').TrimStart('.', '/'))
            .Where(f => f.Length > 0 && !f.Contains("..", StringComparison.Ordinal))
            .Distinct(StringComparer.Ordinal).ToArray();
    }

    // PEP 735: a group's entries are requirement strings or { include-group = "other" }.
    private static IEnumerable<string> GroupRequirements(Dictionary<string, TomlArray> groups, string name, HashSet<string> visiting)
    {
        if (!visiting.Add(name) || !groups.TryGetValue(name, out var entries))
            yield break;
        foreach (var entry in entries)
        {
            if (entry is string requirement)
                yield return requirement;
            else if (entry is TomlTable table && table.Text("include-group") is { } included)
                foreach (var nested in GroupRequirements(groups, MarkerSelection.Normalize(included), visiting))
                    yield return nested;
        }
    }
}

/// <summary>A requirement the build writes into a generated requirements file: one line, not an option, no comment.</summary>
public static class RequirementLine
{
    public static void Check(string file, string requirement)
    {
        var text = requirement.Trim();
        if (text.Length == 0 || !char.IsLetterOrDigit(text[0]) || text.Contains('\n') || text.Contains('\r') || text.Contains(" #") || text.Contains(" -"))
            throw TomlFile.Invalid(file, $"'{requirement}' is not a PEP 508 requirement");
    }

    /// <summary>The project a PEP 508 requirement names (what it starts with, up to a version, extra, marker or URL).</summary>
    public static string Name(string requirement) =>
        new(requirement.Trim().TakeWhile(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.').ToArray());
}
