using System.Text;
using System.Text.RegularExpressions;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Python;

namespace ModWsgi.Core.Steps;

/// <summary>How the dependency phase installs the project's packages: which file they come from and what keys them.</summary>
/// <param name="Steps">The pip steps of the dependency phase.</param>
/// <param name="Inputs">Project files the dependency phase sees (and is keyed by).</param>
/// <param name="KeyComponents">Derived key components (a lock's selected groups, pyproject.toml's dependency tables).</param>
/// <param name="ProjectInstall">Installs the project itself, with no dependencies, in the application layer.</param>
/// <param name="Fallback">When the dependencies may turn out to need the source: the plan that installs the whole folder.</param>
/// <param name="Source">What the dependencies come from, for the log.</param>
public sealed record PipPlan(
    IReadOnlyList<BuildStep> Steps,
    IReadOnlyList<string> Inputs,
    IReadOnlyDictionary<string, string> KeyComponents,
    BuildStep? ProjectInstall,
    IReadOnlyList<string>? ProjectInstallInputs,
    PipPlan? Fallback,
    string? Source)
{
    /// <summary>
    /// The names of the packages the chosen source installs, when the plan knows them on the host (a lock's pins, PEP 621
    /// dependencies with the chosen extras and groups); null for requirements files (read as files) and for metadata
    /// only the build backend can compute.
    /// </summary>
    public IReadOnlyList<string>? Packages { get; init; }
}

/// <summary>
/// Chooses where the dependencies come from (README "Which file the dependencies come from"), first match wins:
/// requirements.txt (hash-checked when it carries hashes), pylock.toml, uv.lock, poetry.lock, Pipfile.lock, then a
/// project that installs itself (pyproject.toml, setup.py, setup.cfg). Locks are converted here, on the host, into a
/// hashed requirements file that pip installs with --require-hashes --no-deps. A self-installing project's
/// dependencies are installed from its metadata, keyed by the metadata only; the project goes in on top in the
/// application layer with --no-deps, so a code or template edit reuses the dependency layer.
/// </summary>
public static partial class PipStepPlanner
{
    public const string Pip = $"/usr/bin/python3 -m pip --python {BuildPlan.VirtualEnv}/bin/python";
    public const string Install = $"{Pip} install --no-cache-dir --src {BuildPlan.EditableCheckouts}";

    /// <summary>Script exit codes the steps use to say why they failed.</summary>
    public const int HashMismatchExit = 65;
    public const int MetadataNeedsSourceExit = 66;

    /// <summary>Metadata files of a self-installing project besides pyproject.toml's dynamic files (setup.py commonly reads the README).</summary>
    private static readonly string[] MetadataFiles = ["setup.py", "setup.cfg", PyProject.FileName, "MANIFEST.in"];

    public static PipPlan Plan(string projectDirectory, RequirementsScan requirements, IReadOnlyList<string> groups, string? lockName = null)
    {
        var present = new List<string>();
        bool Has(string file) => File.Exists(Path.Combine(projectDirectory, file));
        if (Has("requirements.txt"))
            present.Add("requirements.txt");
        // PEP 751 locks take pylock.toml's place: the chosen one there, the others only named as present, not used.
        if (LockFiles.ChoosePyLock(projectDirectory, lockName, out var otherPyLocks) is { } pyLock)
            present.Add(pyLock);
        present.AddRange(LockFormat.All.Where(l => !l.IsPyLock && Has(l.FileName)).Select(l => l.FileName));
        present.AddRange(otherPyLocks);
        var selfInstalling = Has("setup.py") || Has(PyProject.FileName) || Has("setup.cfg");

        if (present.Count == 0)
            return selfInstalling ? SelfInstalling(projectDirectory, groups) : new PipPlan([], [], new Dictionary<string, string>(), null, null, null, null);
        var chosen = present[0];
        var lockFormat = LockFormat.ForFile(chosen);
        // A lock pins the project's dependencies, not the project: a packaged project goes in on top, as with metadata.
        var installsItself = lockFormat is not null && selfInstalling && IsPackage(projectDirectory, lockFormat);
        var ignored = present.Skip(1).Concat(selfInstalling && !installsItself ? ["the project's own metadata"] : []).ToArray();
        var source = chosen + (ignored.Length > 0 ? $" (also present, not used: {string.Join(", ", ignored)})" : "")
            + (installsItself ? "; the project itself installed on top (--no-deps)" : "");
        if (lockFormat is null)
            return FromRequirements(projectDirectory, requirements, source);
        return FromLock(projectDirectory, lockFormat, groups, source, installsItself);
    }

    /// <summary>
    /// Whether a locked project is a package pip can install: a setup.py or setup.cfg, or a pyproject.toml with a
    /// [build-system] or [project] table — unless its lock or tool says it is not one (uv's <c>source = { virtual = "." }</c>,
    /// Poetry's <c>package-mode = false</c>).
    /// </summary>
    private static bool IsPackage(string projectDirectory, LockFormat format)
    {
        bool Has(string file) => File.Exists(Path.Combine(projectDirectory, file));
        var pyproject = Has(PyProject.FileName) ? TomlFile.Read(Path.Combine(projectDirectory, PyProject.FileName), PyProject.FileName) : null;
        if (pyproject?.Table("tool")?.Table("poetry") is { } poetry && poetry.TryGetValue("package-mode", out var mode) && mode is false)
            return false;
        if (format == LockFormat.Uv && LockFiles.UvProjectIsVirtual(projectDirectory))
            return false;
        return Has("setup.py") || Has("setup.cfg") || pyproject?.Table("build-system") is not null || pyproject?.Table("project") is not null;
    }

    private static PipPlan FromRequirements(string projectDirectory, RequirementsScan requirements, string source)
    {
        var hashed = requirements.RequirementFiles.Any(file => HashOption().IsMatch(File.ReadAllText(Path.Combine(projectDirectory, file))));
        var step = hashed
            ? HashCheckedInstall("pip", "Installing hash-pinned dependencies with pip (--require-hashes)", "", "requirements.txt")
            : new BuildStep("pip", "Installing dependencies with pip", $"{Install} -r requirements.txt");
        return new PipPlan([step], [], new Dictionary<string, string>(), null, null, null, source);
    }

    private static PipPlan FromLock(string projectDirectory, LockFormat format, IReadOnlyList<string> groups, string source, bool installsItself)
    {
        var packages = LockFiles.Read(projectDirectory, format, groups);
        const string file = "/tmp/modwsgi-locked-requirements.txt";
        List<BuildStep> steps = [HashCheckedInstall("pip", $"Installing {packages.Count} locked packages from {format.FileName} with pip (--require-hashes --no-deps)",
            WriteFile(file, LockFiles.ToHashedRequirements(packages)), file)];
        var key = new Dictionary<string, string> { ["lock groups"] = groups.Count == 0 ? "(default)" : string.Join(",", groups.Select(MarkerSelection.Normalize).Order(StringComparer.Ordinal)) };
        if (!installsItself)
            return new PipPlan(steps, [format.FileName], key, null, null, null, source) { Packages = packages.Select(p => p.Name).ToArray() };

        // The project goes in without build isolation (no index in the application layer): its backend joins the
        // dependency layer, installed over the locked packages (a locked setuptools that satisfies it stays).
        // The script carries the requirements, so they key the layer; pyproject.toml itself does not.
        var build = BuildRequirements(projectDirectory);
        const string buildFile = "/tmp/modwsgi-build-requirements.txt";
        steps.Add(new BuildStep("build-backend", $"Installing the project's build backend ({string.Join(", ", build)}) with pip",
            WriteFile(buildFile, string.Concat(build.Select(l => l.Trim() + "\n"))) + $"{Install} -r {buildFile}\n"));
        var installInputs = ReusableInstallInputs(projectDirectory);
        return new PipPlan(steps, [format.FileName], key, ProjectInstallStep, installInputs, null, source) { Packages = packages.Select(p => p.Name).ToArray() };
    }

    /// <summary>The project itself, in the application layer: no dependencies (the layer below has them), no index, no isolation.</summary>
    private static BuildStep ProjectInstallStep => new("project", "Installing the project itself (pip install --no-deps -e .)",
        $"{Pip} install --no-cache-dir --no-deps --no-build-isolation --no-index --use-pep517 -e .");

    private static PipPlan SelfInstalling(string projectDirectory, IReadOnlyList<string> groups)
    {
        var fallback = new PipPlan([new BuildStep("pip", "Installing the application folder with pip (no requirements.txt)", $"{Install} -e .")],
            [BuildPlan.WholeProject], new Dictionary<string, string>(), null, null, null, "the whole folder (pip install -e .)");
        var project = ProjectInstallStep;

        if (PyProject.ReadStatic(projectDirectory, groups, out var whyNot) is { } metadata)
        {
            // The backend too: the project goes in without build isolation, so the application layer needs no index.
            var lines = metadata.BuildRequirements.Concat(metadata.Requirements).Distinct(StringComparer.Ordinal).ToArray();
            var text = string.Concat(lines.Select(l => l.Trim() + "\n"));
            const string file = "/tmp/modwsgi-project-requirements.txt";
            var step = new BuildStep("pip", "Installing the project's dependencies from pyproject.toml with pip", WriteFile(file, text) + $"{Install} -r {file}\n");
            var key = new Dictionary<string, string> { ["metadata pyproject.toml"] = Digests.Sha256(Encoding.UTF8.GetBytes(text)) };
            return new PipPlan([step], [], key, project, ReusableInstallInputs(projectDirectory), null,
                "pyproject.toml [project] dependencies and [build-system] requires") { Packages = metadata.Requirements.Select(RequirementLine.Name).ToArray() };
        }

        // Dynamic metadata: the build backend computes it, in the dependency phase, from the metadata files alone.
        var inputs = MetadataFiles.Concat(PyProject.DynamicMetadataFiles(projectDirectory))
            .Concat(Directory.EnumerateFiles(projectDirectory, "README*").Select(Path.GetFileName).OfType<string>())
            .Where(f => File.Exists(Path.Combine(projectDirectory, f))).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        var build = BuildRequirements(projectDirectory);
        var extras = groups.Select(MarkerSelection.Normalize).Order(StringComparer.Ordinal).ToArray();
        if (extras.FirstOrDefault(e => !ExtraName().IsMatch(e)) is { } bad)
            throw new ModWsgiException(DiagnosticCodes.DependencyGroupUnknown, $"WsgiDependencyGroups '{bad}' is not an extra's name.");
        var target = extras.Length == 0 ? "." : $".[{string.Join(',', extras)}]";
        const string buildFile = "/tmp/modwsgi-build-requirements.txt";
        var script = new StringBuilder()
            .Append(WriteFile(buildFile, string.Concat(build.Select(l => l + "\n"))))
            .Append($"{Install} -r {buildFile}\n")
            .Append("rm -rf /tmp/modwsgi-metadata && mkdir -p /tmp/modwsgi-metadata\n")
            .Append($"cp -a --parents {string.Join(' ', inputs.Select(Quote))} /tmp/modwsgi-metadata/\n")
            .Append("cd /tmp/modwsgi-metadata\n")
            .Append($"if ! {Pip} install --no-cache-dir --dry-run --no-build-isolation --report /tmp/modwsgi-metadata.json '{target}' 2>&1 | tee /tmp/modwsgi-metadata.log; then\n")
            .Append("  if grep -qE 'metadata-generation-failed|egg_info did not run successfully|did not run successfully' /tmp/modwsgi-metadata.log; then\n")
            .Append($"    echo 'modwsgi: the project metadata needs more than {string.Join(", ", inputs)}'\n")
            .Append($"    exit {MetadataNeedsSourceExit}\n")
            .Append("  fi\n  exit 1\nfi\n")
            // Every package pip resolved except the project itself (a local folder: dir_info), pinned as resolved.
            .Append("/usr/bin/python3 - > /tmp/modwsgi-resolved.txt <<'MODWSGI_PY'\n")
            .Append("import json\n")
            .Append("for item in json.load(open('/tmp/modwsgi-metadata.json'))['install']:\n")
            .Append("    if 'dir_info' not in item.get('download_info', {}):\n")
            .Append("        print(item['metadata']['name'] + '==' + item['metadata']['version'])\n")
            .Append("MODWSGI_PY\n")
            .Append("cd /app\n")
            .Append($"if [ -s /tmp/modwsgi-resolved.txt ]; then {Install} --no-deps -r /tmp/modwsgi-resolved.txt; fi\n")
            .ToString();
        var metadataStep = new BuildStep("pip", $"Installing the project's dependencies from its metadata ({string.Join(", ", inputs)}) with pip", script)
        {
            ExplainFailure = (exit, tail) => exit == MetadataNeedsSourceExit
                ? new ModWsgiException(DiagnosticCodes.MetadataNeedsSource,
                    $"The project's metadata could not be computed from {string.Join(", ", inputs)} alone ({whyNot}; the build backend needs other files of the project): "
                    + "installing the whole folder instead (pip install -e .), so every edit re-runs pip. To cache the dependencies by the metadata, list them "
                    + "statically in pyproject.toml [project] dependencies (or setup.cfg install_requires) and keep setup.py from reading the package. pip said:"
                    + Environment.NewLine + string.Join(Environment.NewLine, tail.TakeLast(6).Select(l => "    " + l)))
                : null,
        };
        return new PipPlan([metadataStep], inputs, new Dictionary<string, string>(), project, ReusableInstallInputs(projectDirectory), fallback, $"the project's metadata ({string.Join(", ", inputs)})");
    }

    /// <summary>
    /// The files that decide what the project's editable install writes outside /app, when only they (and the file layout)
    /// do: fully static metadata, or a setuptools pyproject.toml whose [project] dynamic fields all come from
    /// [tool.setuptools.dynamic] <c>file =</c> entries (those files join the inputs; the dependency phase computed the
    /// metadata from exactly these files, without the package's source). Null, so the install runs on every
    /// build, when the backend may read or write anything: a setup.py (arbitrary code; it may also build extensions into
    /// /app, which a reuse drops), an <c>attr =</c> (imports the package's source), setup.cfg-only metadata, another
    /// backend's dynamic fields, or setuptools ext-modules.
    /// </summary>
    private static IReadOnlyList<string>? ReusableInstallInputs(string projectDirectory)
    {
        bool Has(string file) => File.Exists(Path.Combine(projectDirectory, file));
        if (Has("setup.py") || !Has(PyProject.FileName))
            return null;
        var document = TomlFile.Read(Path.Combine(projectDirectory, PyProject.FileName), PyProject.FileName);
        if (document.Table("project") is not { } project)
            return null;
        var dynamic = project.Strings("dynamic") ?? [];
        if (dynamic.Count == 0)
            return ProjectInstallInputs(projectDirectory);
        var backend = document.Table("build-system") is { } buildSystem && buildSystem.TryGetValue("build-backend", out var b) ? b as string : null;
        var setuptools = document.Table("tool")?.Table("setuptools");
        if (backend is not null && !backend.StartsWith("setuptools.build_meta", StringComparison.Ordinal) || setuptools?.ContainsKey("ext-modules") == true)
            return null;
        var table = setuptools?.Table("dynamic");
        static bool FileOnly(object? entry) => entry is Tomlyn.Model.TomlTable t && t.Count == 1 && t.ContainsKey("file");
        // (optional-dependencies' files sit one table deeper, out of DynamicMetadataFiles' sight: not reused.)
        var fromFiles = dynamic.All(field => table is not null && table.TryGetValue(field, out var entry) && FileOnly(entry));
        return fromFiles ? [.. ProjectInstallInputs(projectDirectory).Concat(PyProject.DynamicMetadataFiles(projectDirectory)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)] : null;
    }

    /// <summary>
    /// With fully static metadata, what an editable install writes outside /app depends only on these files' contents
    /// (pyproject.toml, the readme and license files it copies into the dist-info) and on the project's file layout.
    /// </summary>
    private static IReadOnlyList<string> ProjectInstallInputs(string projectDirectory) =>
        new[] { "README*", "readme*", "LICEN[CS]E*", "COPYING*", "NOTICE*", "AUTHORS*" }
            .SelectMany(pattern => Directory.EnumerateFiles(projectDirectory, pattern))
            .Select(Path.GetFileName).OfType<string>()
            .Prepend(PyProject.FileName).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();

    private static IReadOnlyList<string> BuildRequirements(string projectDirectory)
    {
        var path = Path.Combine(projectDirectory, PyProject.FileName);
        if (!File.Exists(path))
            return PyProject.LegacyBuildRequirements;
        var requires = PyProject.BuildRequirementsOf(TomlFile.Read(path, PyProject.FileName));
        foreach (var requirement in requires)
            RequirementLine.Check(PyProject.FileName, requirement);
        return requires;
    }

    /// <summary>pip in hash-checking mode; a hash that does not match the index fails with MODWSGI5005 naming the package.</summary>
    private static BuildStep HashCheckedInstall(string name, string title, string prelude, string file) =>
        new(name, title, prelude
            + $"if ! {Install} --require-hashes --no-deps -r {file} 2>&1 | tee /tmp/modwsgi-pip.log; then\n"
            + "  if grep -q 'DO NOT MATCH THE HASHES' /tmp/modwsgi-pip.log; then\n"
            + "    sed -nE 's/^    ([^ ]+) from .*/modwsgi: hash mismatch: \\1/p' /tmp/modwsgi-pip.log\n"
            + $"    exit {HashMismatchExit}\n"
            + "  fi\n  exit 1\nfi\n")
        {
            ExplainFailure = (exit, tail) => exit == HashMismatchExit
                ? new ModWsgiException(DiagnosticCodes.LockHashMismatch,
                    $"The hash of {string.Join(", ", tail.Where(l => l.StartsWith("modwsgi: hash mismatch: ", StringComparison.Ordinal)).Select(l => $"'{l[24..]}'").DefaultIfEmpty("a package"))} "
                    + $"in {(file.StartsWith('/') ? "the lock file" : file)} does not match the file the index serves: it was tampered with, or the lock was made "
                    + "against another index. Check the package, then regenerate the lock (or the --hash lines) from the index you build with. pip said:"
                    + Environment.NewLine + string.Join(Environment.NewLine, tail.TakeLast(8).Select(l => "    " + l)))
                : null,
        };

    /// <summary>A heredoc that writes generated text (validated lines: no line can end it early).</summary>
    private static string WriteFile(string path, string text) => $"cat > {path} <<'MODWSGI_EOF'\n{text}MODWSGI_EOF\n";

    private static string Quote(string path) => "'" + path.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    [GeneratedRegex(@"(^|\s)--hash[=\s]", RegexOptions.Multiline)]
    private static partial Regex HashOption();

    [GeneratedRegex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")]
    private static partial Regex ExtraName();
}
