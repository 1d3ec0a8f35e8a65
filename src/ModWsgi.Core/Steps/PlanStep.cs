using Microsoft.Extensions.Logging;
using ModWsgi.Core.Cache;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Layers;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Pipeline;
using ModWsgi.Core.Project;
using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Steps;

/// <summary>
/// The plan: the project folder read once (build steps, detection, .dockerignore, epoch), settings that would
/// only fail in the container checked now, and planning warnings logged.
/// </summary>
public sealed class PlanStep(ILogger logger)
{
    public static readonly IReadOnlyList<string> RuntimeScriptNames = ["mod_wsgi-docker-start", "mod_wsgi-docker-shell", "modwsgi-launch", "modwsgi-environment", "mod_wsgi-docker-probe"];

    public ImagePlan Run(ImageBuildOptions options, BuildEnvironment environment, BaseImage baseImage, GitCheckout git)
    {
        var runtimeScripts = RuntimeScriptPaths(options);
        var build = BuildPlan.Create(options.ProjectDirectory, options.DependencyGroups, options.LockName);
        // mod_wsgi-docker's server_args may choose the application itself (and wins over the .proj's defaults).
        var serverArgsChooseApp = ProjectLayout.ServerArgsChooseTheApplication(options.ProjectDirectory, build.Layout);
        var detected = FrameworkDetection.Detect(options.ProjectDirectory, options.WsgiServer,
            entryPointGiven: options.Server.EntryPoint is not null || options.Server.ApplicationType != WsgiApplicationType.Script || serverArgsChooseApp,
            options.FrameworkDetection, DeclaredDependencies.Of(build));
        if (detected.Django is null && detected.Server is not (ServerKind.PythonApp or ServerKind.ShellApp))
            ServerOptionsValidator.Validate(options.ProjectDirectory, options.Server, checkEntryPoint: !serverArgsChooseApp);
        foreach (var warning in build.Warnings)
            logger.LogWarning(new EventId(warning.Code.Number, warning.Code.Id), "{Message}", warning.Message);
        if (detected.Server != ServerKind.ModWsgi || detected.Django is not null)
            logger.LogInformation(" -----> Detected: server {Server}{Django}", detected.Server.Name(),
                detected.Django is { } d ? $", Django project (settings {d.SettingsModule})" : "");

        var files = ProjectFiles.For(options);
        RefuseIgnoredInputs(options, build, files, checkEntryPoint: detected.Django is null && !serverArgsChooseApp
            && detected.Server is not (ServerKind.PythonApp or ServerKind.ShellApp));
        WarnAboutFilesLeftAsIs(files);
        var epoch = SourceDateEpoch.Resolve(git, environment.SourceDateEpoch);
        return new ImagePlan(options, baseImage, git, build, detected, files, epoch, runtimeScripts);
    }

    /// <summary>
    /// A file the build needs (a requirements file, a hook, the WSGI script) that .dockerignore leaves out would reach the
    /// build container or the image missing: pip fails on a file that is not there, an empty /app serves 404. Say which
    /// line of .dockerignore did it, before any container starts.
    /// </summary>
    private static void RefuseIgnoredInputs(ImageBuildOptions options, BuildPlan build, ProjectFiles files, bool checkEntryPoint)
    {
        IEnumerable<(string Path, string Why)> entryPoint = checkEntryPoint && options.Server.ApplicationType == WsgiApplicationType.Script
            ? [((options.Server.EntryPoint ?? "wsgi.py").Replace('\\', '/'), "the WSGI entry point")]
            : [];
        var needed = entryPoint
            .Concat(build.DependencyInputs.Where(input => input != BuildPlan.WholeProject).Select(input => (Path: input, Why: "the dependency step")))
            .Concat(new[] { ActionHooks.PreBuild, ActionHooks.Build, ActionHooks.Deploy, ActionHooks.DeployEnv, ActionHooks.Start }
                .Select(hook => (Path: ActionHooks.RelativePath(hook, build.Layout), Why: "an action hook")));
        foreach (var (path, why) in needed)
        {
            if (FileKinds.Of(Path.Combine(options.ProjectDirectory, path)) == FileKind.Missing || files.Ignore.ExcludedBy(path) is not { } pattern)
                continue;
            // An exception further down may bring it back: only a path the walk really leaves out counts.
            if (files.Enumerate(p => p == path || path.StartsWith(p + "/", StringComparison.Ordinal)).Any(f => f.RelativePath == path))
                continue;
            throw new ModWsgiException(DiagnosticCodes.InputIgnored,
                $"{DockerIgnore.FileName} leaves out '{path}' (the line '{pattern}'), which {why} needs: remove that line, or add "
                + $"'!{path}' after it.");
        }
    }

    /// <summary>What the image holds differently from the folder, said once per build: special files left out, set-id bits dropped.</summary>
    private void WarnAboutFilesLeftAsIs(ProjectFiles files)
    {
        // One walk for both: the special files it skips, the set-id files it yields.
        var special = new List<(string RelativePath, FileKind Kind)>();
        var setId = files.Enumerate((path, kind) => special.Add((path, kind)))
            .Where(f => f.Info.LinkTarget is null && (f.Info.UnixFileMode & LayerSources.SetIdBits) != 0)
            .Select(f => f.RelativePath).ToArray();
        if (special.Count > 0)
            logger.LogWarning(new EventId(DiagnosticCodes.SpecialFileSkipped.Number, DiagnosticCodes.SpecialFileSkipped.Id), "{Message}",
                "Left out of the image (not regular files): " + string.Join(", ", special.Take(10).Select(s => $"{s.RelativePath} ({FileKinds.Describe(s.Kind)})"))
                + (special.Count > 10 ? $" and {special.Count - 10} more" : "") + ". List them in .dockerignore to silence this warning.");
        if (setId.Length > 0)
            logger.LogWarning(new EventId(DiagnosticCodes.SetIdBitsDropped.Number, DiagnosticCodes.SetIdBitsDropped.Id), "{Message}",
                "Setuid/setgid bits dropped in the image (the files would be root's there): " + string.Join(", ", setId.Take(10))
                + (setId.Length > 10 ? $" and {setId.Length - 10} more" : "") + $". 'chmod u-s,g-s' them to silence this warning.");
    }

    /// <summary>The SDK's runtime scripts; a missing one means a broken SDK package.</summary>
    public static IReadOnlyList<string> RuntimeScriptPaths(ImageBuildOptions options)
    {
        var files = RuntimeScriptNames.Select(name => Path.Combine(options.RuntimeDirectory, name)).ToArray();
        if (files.FirstOrDefault(f => !File.Exists(f)) is { } missing)
            throw new ModWsgiException(DiagnosticCodes.RuntimeFilesMissing,
                $"The SDK's runtime script '{missing}' is missing: the ModWsgi.Sdk package is incomplete; clear it from the NuGet cache and restore again.");
        return files;
    }
}
