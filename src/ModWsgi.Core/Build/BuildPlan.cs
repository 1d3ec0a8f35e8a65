using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Project;
using ModWsgi.Core.Python;

namespace ModWsgi.Core.Build;

/// <summary>One command run inside the build container, under a ` -----> Title` header.</summary>
public sealed record BuildStep(string Name, string Title, string Script);

/// <summary>A warning found while planning, with its diagnostic code.</summary>
public sealed record PlanWarning(DiagnosticCode Code, string Message);

/// <summary>
/// The seed's mod_wsgi-docker-build contract, decided on the host from the project folder before any
/// container exists: which hooks run, which VCS tools to install, what pip installs.
/// </summary>
public sealed record BuildPlan(IReadOnlyList<BuildStep> Steps, IReadOnlyList<PlanWarning> Warnings, RequirementsScan Requirements)
{
    public const string AppRoot = "/app";
    public const string VirtualEnv = "/opt/venv";
    /// <summary>Scratch space for pip's --src checkouts; removed before the image is committed.</summary>
    public const string ScratchDirectory = AppRoot + "/.docker/tmp";

    public static BuildPlan Create(string projectDirectory)
    {
        if (!Directory.Exists(projectDirectory))
            throw new ModWsgiException(DiagnosticCodes.ProjectDirectoryMissing,
                $"The project folder '{projectDirectory}' does not exist: run the build from the folder that holds the Python application.");

        var steps = new List<BuildStep>();
        var warnings = new List<PlanWarning>();

        AddHook(ActionHooks.PreBuild, projectDirectory, steps, warnings);

        var requirements = RequirementsScanner.Scan(projectDirectory);
        if (requirements.VcsTools.Count > 0)
        {
            var packages = string.Join(' ', requirements.VcsTools.Select(RequirementsScanner.DebianPackage));
            steps.Add(new BuildStep("vcs-tools", $"Installing version control tools: {packages}",
                "export DEBIAN_FRONTEND=noninteractive\n" +
                "apt-get update -q\n" +
                $"apt-get install -y -q --no-install-recommends {packages}\n" +
                "apt-get clean\n" +
                "rm -rf /var/lib/apt/lists/* /var/cache/apt/*"));
        }

        var pip = $"/usr/bin/python3 -m pip --python {VirtualEnv}/bin/python install --no-cache-dir --src {ScratchDirectory}/src";
        if (File.Exists(Path.Combine(projectDirectory, "requirements.txt")))
            steps.Add(new BuildStep("pip", "Installing dependencies with pip", $"{pip} -r requirements.txt"));
        else if (File.Exists(Path.Combine(projectDirectory, "setup.py")) || File.Exists(Path.Combine(projectDirectory, "pyproject.toml")))
            steps.Add(new BuildStep("pip", "Installing the application folder with pip (no requirements.txt)", $"{pip} -e ."));

        AddHook(ActionHooks.Build, projectDirectory, steps, warnings);

        steps.Add(new BuildStep("cleanup", "Cleaning up build scratch space",
            $"rm -rf {ScratchDirectory} /root/.cache /tmp/pip-*"));
        return new BuildPlan(steps, warnings, requirements);
    }

    private static void AddHook(string hook, string projectDirectory, List<BuildStep> steps, List<PlanWarning> warnings)
    {
        var path = ActionHooks.RelativePath(hook);
        switch (ActionHooks.Probe(projectDirectory, hook))
        {
            case HookState.Executable:
                steps.Add(new BuildStep(hook, $"Running {path}", $"./{path}"));
                break;
            case HookState.NotExecutable:
                warnings.Add(new PlanWarning(DiagnosticCodes.HookNotExecutable,
                    $"{path} exists but is not executable, so it was skipped. Make it executable with 'chmod +x {path}' (and 'git update-index --chmod=+x {path}' in git)."));
                break;
        }
    }
}
