using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Project;
using ModWsgi.Core.Python;

namespace ModWsgi.Core.Steps;

/// <summary>A warning found while planning, with its diagnostic code.</summary>
public sealed record PlanWarning(DiagnosticCode Code, string Message);

/// <summary>
/// The seed's mod_wsgi-docker-build contract, decided on the host from the project folder before any
/// container exists. Steps fall in two phases: the dependency phase (pre-build hook, VCS tools, pip) sees
/// only <see cref="DependencyInputs"/> and is cached by them; the build hook runs with the whole app.
/// </summary>
public sealed record BuildPlan(
    IReadOnlyList<BuildStep> DependencySteps,
    BuildStep? BuildHook,
    IReadOnlyList<string> DependencyInputs,
    IReadOnlyList<PlanWarning> Warnings,
    RequirementsScan Requirements)
{
    public const string AppRoot = "/app";
    public const string VirtualEnv = "/opt/venv";
    /// <summary>Scratch space under the app folder (the seed's .docker/tmp); never part of a layer.</summary>
    public const string ScratchDirectory = AppRoot + "/.docker/tmp";
    /// <summary>
    /// pip's --src: where editable VCS requirements (-e git+...) are checked out. The installs point at these
    /// folders, so they live in the venv and reach the dependency layer (the seed's scratch --src lost them).
    /// </summary>
    public const string EditableCheckouts = VirtualEnv + "/src";
    /// <summary>In <see cref="DependencyInputs"/>: the whole project folder is an input (it installs itself).</summary>
    public const string WholeProject = ".";

    /// <summary>The folder of hooks, user_vars and server_args: .docker or .whiskey (<see cref="ProjectLayout.Folder"/>).</summary>
    public string Layout { get; init; } = ProjectLayout.Docker;

    /// <summary>Installs the project itself (--no-deps) in the application layer, before the build hook; null when the dependency phase installs it or nothing.</summary>
    public BuildStep? ProjectInstall { get; init; }

    /// <summary>
    /// Files whose contents (with the project's file layout) decide what <see cref="ProjectInstall"/> writes outside /app,
    /// so its result can be reused; null when the install may read anything (setup.py, dynamic metadata).
    /// </summary>
    public IReadOnlyList<string>? ProjectInstallInputs { get; init; }

    /// <summary>Key components that are not files: a lock's selected groups, pyproject.toml's dependency tables.</summary>
    public IReadOnlyDictionary<string, string> DerivedInputs { get; init; } = new Dictionary<string, string>();

    /// <summary>Where the dependencies come from, for the log (null when nothing is installed with pip).</summary>
    public string? DependencySource { get; init; }

    /// <summary>The packages the dependency source installs, when known on the host (<see cref="PipPlan.Packages"/>).</summary>
    public IReadOnlyList<string>? DependencyPackages { get; init; }

    /// <summary>
    /// The plan to switch to when the dependency phase finds that the metadata needs the project's source (a setup.py that
    /// reads the package): today's whole-folder <c>pip install -e .</c>. Null when the plan cannot turn out that way.
    /// </summary>
    public BuildPlan? MetadataFallback { get; init; }

    /// <param name="lockName">WsgiLockName: which pylock.NAME.toml to install (null: pylock.toml, or the only named one).</param>
    public static BuildPlan Create(string projectDirectory, IReadOnlyList<string>? dependencyGroups = null, string? lockName = null)
    {
        if (!Directory.Exists(projectDirectory))
            throw new ModWsgiException(DiagnosticCodes.ProjectDirectoryMissing,
                $"The project folder '{projectDirectory}' does not exist: run the build from the folder that holds the Python application.");

        var steps = new List<BuildStep>();
        var warnings = new List<PlanWarning>();
        var inputs = new List<string>();
        var layout = ProjectLayout.Folder(projectDirectory);
        ActionHooks.RefuseWindowsLineEndings(projectDirectory, layout);

        if (AddHook(ActionHooks.PreBuild, layout, projectDirectory, warnings) is { } preBuild)
            steps.Add(preBuild);
        if (ActionHooks.Probe(projectDirectory, ActionHooks.PreBuild) != HookState.Missing)
            inputs.Add(ActionHooks.RelativePath(ActionHooks.PreBuild, layout));

        var requirements = RequirementsScanner.Scan(projectDirectory);
        inputs.AddRange(requirements.RequirementFiles);
        inputs.AddRange(requirements.LocalPaths);
        if (requirements.VcsTools.Count > 0)
        {
            var packages = string.Join(' ', requirements.VcsTools.Select(RequirementsScanner.DebianPackage));
            steps.Add(new BuildStep("vcs-tools", $"Installing version control tools: {packages}",
                "apt-get update -q\n" +
                $"apt-get install -y -q --no-install-recommends {packages}\n" +
                "apt-get clean\n" +
                "rm -rf /var/lib/apt/lists/* /var/cache/apt/*" + BazaarWrapper(requirements)) { FailureCode = DiagnosticCodes.VcsToolInstallFailed });
        }

        var stepsBeforePip = steps.Count;
        var pip = PipStepPlanner.Plan(projectDirectory, requirements, dependencyGroups ?? [], lockName);
        steps.AddRange(pip.Steps);
        inputs.AddRange(pip.Inputs);

        if (StripCheckoutMetadata(requirements) is { } strip)
            steps.Add(strip);

        var buildHook = AddHook(ActionHooks.Build, layout, projectDirectory, warnings);
        // The probe's hooks run in the container, not the build; a non-executable one would be skipped there too.
        foreach (var probeHook in new[] { ActionHooks.Alive, ActionHooks.Ready })
            AddHook(probeHook, layout, projectDirectory, warnings);
        inputs.AddRange(inputs.SelectMany(input => SymlinkTargets(projectDirectory, input)).ToArray());
        RefuseAlwaysExcluded(inputs);
        var distinctInputs = inputs.Contains(WholeProject) ? [WholeProject] : inputs.Distinct(StringComparer.Ordinal).ToArray();
        var plan = new BuildPlan(steps, buildHook, distinctInputs, warnings, requirements)
        {
            Layout = layout,
            ProjectInstall = pip.ProjectInstall,
            ProjectInstallInputs = pip.ProjectInstallInputs,
            DerivedInputs = pip.KeyComponents,
            DependencySource = pip.Source,
            DependencyPackages = pip.Packages,
        };
        return pip.Fallback is not { } fallback ? plan : plan with
        {
            MetadataFallback = plan with
            {
                DependencySteps = [.. steps.Take(stepsBeforePip), .. fallback.Steps, .. steps.Skip(stepsBeforePip + pip.Steps.Count)],
                DependencyInputs = [WholeProject],
                ProjectInstall = null,
                ProjectInstallInputs = null,
                DerivedInputs = fallback.KeyComponents,
                DependencySource = fallback.Source,
                DependencyPackages = fallback.Packages,
            },
        };
    }

    /// <summary>
    /// Debian's bzr is breezy, a program that embeds Python and takes the first python3 on PATH for its own: the
    /// venv's (no breezy there). A wrapper earlier on PATH than /usr/bin hands it the system Python.
    /// </summary>
    private static string BazaarWrapper(RequirementsScan requirements) =>
        !requirements.VcsTools.Contains(VcsTool.Bazaar) ? "" :
            "\nprintf '#!/bin/sh\\nPYTHONEXECUTABLE=/usr/bin/python3 exec /usr/bin/bzr \"$@\"\\n' > /usr/local/bin/bzr\n" +
            "chmod 755 /usr/local/bin/bzr";

    /// <summary>
    /// Editable VCS checkouts stay in the image (the installs point at them) but without their .git/.hg/.svn/.bzr:
    /// that metadata holds clone times, the index's file stat data and the remote URL (credentials included), so
    /// it would make the layer differ on every build and could leak a secret; nothing in a running image uses it.
    /// </summary>
    private static BuildStep? StripCheckoutMetadata(RequirementsScan requirements) =>
        !requirements.VcsRequirements.Any(v => v.Editable) ? null :
            new BuildStep("vcs-checkouts", "Removing version control metadata from editable checkouts",
                $"[ ! -d {EditableCheckouts} ] || find {EditableCheckouts} -mindepth 2 -maxdepth 2 " +
                @"\( -name .git -o -name .hg -o -name .svn -o -name .bzr \) -prune -exec rm -rf {} +");

    /// <summary>Which project paths the dependency phase sees: the inputs and the folders leading to them.</summary>
    public Func<string, bool> DependencyInputFilter()
    {
        if (DependencyInputs.Contains(WholeProject))
            return _ => true;
        return path => DependencyInputs.Any(input =>
            path == input
            || path.StartsWith(input + "/", StringComparison.Ordinal)
            || input.StartsWith(path + "/", StringComparison.Ordinal));
    }

    /// <summary>
    /// An input under an always-excluded path (<c>-r bin/reqs.txt</c>) would never reach the pip step, which
    /// would then fail on a missing file: say why instead.
    /// </summary>
    private static void RefuseAlwaysExcluded(IEnumerable<string> inputs)
    {
        foreach (var input in inputs)
        {
            if (input != WholeProject && AlwaysExcluded.Covering(input) is { } covered)
                throw new ModWsgiException(DiagnosticCodes.InputAlwaysExcluded,
                    $"The requirements need '{input}', but '{covered}' is never part of the image (build outputs, MSBuild "
                    + "and NuGet files, VCS metadata and .docker/tmp are always left out, whatever .dockerignore says): "
                    + "move the file elsewhere in the project and fix the -r/-c/-e reference to it.");
        }
    }

    /// <summary>A symlinked input (requirements.txt -> requirements/prod.txt) needs what it points at, inside the project.</summary>
    private static IEnumerable<string> SymlinkTargets(string projectDirectory, string input)
    {
        var path = Path.Combine(projectDirectory, input);
        for (var hops = 0; hops < 40 && new FileInfo(path).LinkTarget is { } target; hops++)
        {
            path = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, target));
            var relative = Path.GetRelativePath(projectDirectory, path).Replace('\\', '/');
            if (relative == ".." || relative.StartsWith("../", StringComparison.Ordinal) || Path.IsPathRooted(relative))
                yield break;
            yield return relative;
        }
    }

    private static BuildStep? AddHook(string hook, string layout, string projectDirectory, List<PlanWarning> warnings)
    {
        var path = ActionHooks.RelativePath(hook, layout);
        switch (ActionHooks.Probe(projectDirectory, hook))
        {
            case HookState.Executable:
                return new BuildStep(hook, $"Running {path}", $"./{path}");
            case HookState.NotExecutable:
                warnings.Add(new PlanWarning(DiagnosticCodes.HookNotExecutable,
                    $"{path} exists but is not executable, so it was skipped. Make it executable with 'chmod +x {path}' (and 'git update-index --chmod=+x {path}' in git)."));
                return null;
            default:
                return null;
        }
    }
}
