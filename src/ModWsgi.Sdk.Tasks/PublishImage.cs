using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using ModWsgi.Core;
using ModWsgi.Core.Destinations;
using ModWsgi.Core.Pipeline;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Engine;
using ModWsgi.Core.Settings;

namespace ModWsgi.Sdk.Tasks;

/// <summary>
/// Builds and publishes the application image (local engine, registry or archive). Maps properties and
/// items onto <see cref="ImageBuildOptions"/> and calls Core's <see cref="ImagePipeline"/>; every failure
/// becomes one coded error.
/// </summary>
public sealed class PublishImage : Microsoft.Build.Utilities.Task, ICancelableTask
{
    private readonly CancellationTokenSource _cancellation = new();

    // Plumbing: where things are, not settings.
    [Required] public string ProjectDirectory { get; set; } = "";
    /// <summary>The .proj, so errors point at the user's project rather than at Sdk.targets.</summary>
    public string? ProjectFile { get; set; }
    [Required] public string RuntimeDirectory { get; set; } = "";
    public string? BaseImageRecipe { get; set; }

    // The settings: one parameter per SettingsTable entry, named as the table names it (a test holds them
    // equal): a property or switch is a string (blank = the table's default), a list a string[], an item an ITaskItem[].
    public string? ContainerRepository { get; set; }
    public string? ContainerImageTag { get; set; }
    public string[]? ContainerImageTags { get; set; }
    public string? Version { get; set; }
    public string? ContainerBaseImage { get; set; }
    public string? WsgiPythonVersion { get; set; }
    public string? ContainerRegistry { get; set; }
    public string? ContainerArchiveOutputPath { get; set; }
    public string[]? ContainerInsecureRegistries { get; set; }
    public string? LocalRegistry { get; set; }
    public string? DockerHost { get; set; }
    public ITaskItem[]? ContainerLabel { get; set; }
    public ITaskItem[]? ContainerEnvironmentVariable { get; set; }
    public string? WsgiApplicationType { get; set; }
    public string? WsgiEntryPoint { get; set; }
    public string? WsgiCallableObject { get; set; }
    public string? WsgiWorkingDirectory { get; set; }
    public ITaskItem[]? WsgiUrlAlias { get; set; }
    public ITaskItem[]? WsgiServerArgument { get; set; }
    public string? WsgiPipIndexUrl { get; set; }
    public string[]? WsgiPipExtraIndexUrl { get; set; }
    public string[]? WsgiPipTrustedHost { get; set; }
    public string[]? WsgiDependencyGroups { get; set; }
    public string? WsgiLockName { get; set; }
    public string? WsgiCacheDirectory { get; set; }
    public string? WsgiCacheSizeLimit { get; set; }
    public string? ContainerUser { get; set; }
    public ITaskItem[]? ContainerPort { get; set; }
    public string? WsgiServer { get; set; }
    public string? WsgiGracefulStopTimeout { get; set; }
    public string? WsgiFrameworkDetection { get; set; }
    public string? WsgiDjangoCollectStatic { get; set; }
    public string? WsgiHealthCheck { get; set; }
    public string? WsgiHealthCheckInterval { get; set; }
    public string? WsgiHealthCheckTimeout { get; set; }
    public string? WsgiHealthCheckStartPeriod { get; set; }
    public string? WsgiHealthCheckRetries { get; set; }

    [Output] public string? GeneratedImageId { get; private set; }
    [Output] public string? GeneratedManifestDigest { get; private set; }
    [Output] public string[]? GeneratedImageNames { get; private set; }
    [Output] public string? GeneratedArchiveOutputPath { get; private set; }

    public void Cancel() => _cancellation.Cancel();

    public override bool Execute()
    {
        using var signals = new TerminationSignals(_cancellation);
        try
        {
            var options = CreateOptions();
            var environment = BuildEnvironment.From(Environment.GetEnvironmentVariable);
            using var engine = new DockerEngineClient(EngineEndpoint.ForLocalRegistry(options.LocalRegistry, options.DockerHost, environment));
            var result = new ImagePipeline(engine, new MSBuildLogger(Log)).PublishAsync(options, environment, _cancellation.Token).GetAwaiter().GetResult();
            GeneratedImageId = result.ImageId;
            GeneratedManifestDigest = result.ManifestDigest;
            GeneratedImageNames = result.Images.ToArray();
            GeneratedArchiveOutputPath = result.ArchivePath;
        }
        catch (ModWsgiException ex)
        {
            LogCoded(ex.Code, ex.Message);
        }
        catch (OperationCanceledException) when (_cancellation.IsCancellationRequested)
        {
            LogCoded(DiagnosticCodes.BuildCancelled, "The image build was cancelled; no image was tagged, and its build container was removed unless a warning above names it.");
        }
        catch (Exception ex)
        {
            LogCoded(DiagnosticCodes.UnexpectedFailure,
                $"Unexpected failure while building the image: {ex.GetType().Name}: {ex.Message}. Please report this with the build log (-v:d).");
            Log.LogMessage(MessageImportance.Low, ex.ToString());
        }
        return !Log.HasLoggedErrors;
    }

    /// <summary>The parameters as <see cref="SettingValues"/>, walking the table: Core types them and maps them to
    /// options, for the task and the CLI alike.</summary>
    internal ImageBuildOptions CreateOptions() =>
        ProjectSettings.From(TaskSettings.Read(this)).ToOptions(ProjectDirectory, RuntimeDirectory, BaseImageRecipe);

    private void LogCoded(DiagnosticCode code, string message)
        => Log.LogError(null, code.Id, null, ProjectFile, 0, 0, 0, 0, message);

}
