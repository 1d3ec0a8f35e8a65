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
    public static readonly IReadOnlyList<string> RuntimeScriptNames = ["mod_wsgi-docker-start", "mod_wsgi-docker-shell", "modwsgi-launch", "modwsgi-environment"];

    public ImagePlan Run(ImageBuildOptions options, BuildEnvironment environment, BaseImage baseImage, GitCheckout git)
    {
        var runtimeScripts = RuntimeScriptPaths(options);
        var build = BuildPlan.Create(options.ProjectDirectory, options.DependencyGroups);
        // mod_wsgi-docker's server_args may choose the application itself (and wins over the .proj's defaults).
        var serverArgsChooseApp = ProjectLayout.ServerArgsChooseTheApplication(options.ProjectDirectory, build.Layout);
        var detected = FrameworkDetection.Detect(options.ProjectDirectory, options.WsgiServer,
            entryPointGiven: options.Server.EntryPoint is not null || options.Server.ApplicationType != WsgiApplicationType.Script || serverArgsChooseApp,
            options.FrameworkDetection, build.Requirements);
        if (detected.Django is null && detected.Server is not (ServerKind.PythonApp or ServerKind.ShellApp))
            ServerOptionsValidator.Validate(options.ProjectDirectory, options.Server, checkEntryPoint: !serverArgsChooseApp);
        foreach (var warning in build.Warnings)
            logger.LogWarning(new EventId(warning.Code.Number, warning.Code.Id), "{Message}", warning.Message);
        if (detected.Server != ServerKind.ModWsgi || detected.Django is not null)
            logger.LogInformation(" -----> Detected: server {Server}{Django}", detected.Server.Name(),
                detected.Django is { } d ? $", Django project (settings {d.SettingsModule})" : "");

        var files = ProjectFiles.For(options);
        var epoch = SourceDateEpoch.Resolve(git, environment.SourceDateEpoch);
        return new ImagePlan(options, baseImage, git, build, detected, files, epoch, runtimeScripts);
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
