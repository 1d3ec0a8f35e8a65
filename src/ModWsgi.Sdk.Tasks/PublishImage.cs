using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using ModWsgi.Core;
using ModWsgi.Core.Build;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Engine;

namespace ModWsgi.Sdk.Tasks;

/// <summary>
/// Builds and publishes the application image (local engine, registry or archive). Maps properties and
/// items onto <see cref="ImageBuildOptions"/> and calls Core's <see cref="ImagePipeline"/>; every failure
/// becomes one coded error.
/// </summary>
public sealed class PublishImage : Microsoft.Build.Utilities.Task, ICancelableTask
{
    private readonly CancellationTokenSource _cancellation = new();

    [Required] public string ProjectDirectory { get; set; } = "";
    /// <summary>The .proj, so errors point at the user's project rather than at Sdk.targets.</summary>
    public string? ProjectFile { get; set; }
    [Required] public string ContainerRepository { get; set; } = "";
    [Required] public string RuntimeDirectory { get; set; } = "";
    public string? ContainerImageTag { get; set; }
    public string[]? ContainerImageTags { get; set; }
    public string? Version { get; set; }
    public string? ContainerBaseImage { get; set; }
    public string? BaseImageRecipe { get; set; }
    public string? ContainerRegistry { get; set; }
    public string? ContainerArchiveOutputPath { get; set; }
    public string? ContainerInsecureRegistries { get; set; }
    public string? LocalRegistry { get; set; }
    public string? ContainerUser { get; set; }
    /// <summary>Items: Include = port number (Type metadata tcp); the first is the port Apache listens on.</summary>
    public ITaskItem[]? ContainerPort { get; set; }
    /// <summary>Items: Include = label name, metadata Value.</summary>
    public ITaskItem[]? ContainerLabel { get; set; }
    /// <summary>Items: Include = variable name, metadata Value.</summary>
    public ITaskItem[]? ContainerEnvironmentVariable { get; set; }
    public string? WsgiApplicationType { get; set; }
    public string? WsgiEntryPoint { get; set; }
    public string? WsgiCallableObject { get; set; }
    public string? WsgiWorkingDirectory { get; set; }
    /// <summary>Items: Include = URL path, metadata Path = folder or file relative to the project.</summary>
    public ITaskItem[]? WsgiUrlAlias { get; set; }
    public string[]? WsgiServerArgument { get; set; }
    public string? WsgiPipIndexUrl { get; set; }
    public string[]? WsgiPipExtraIndexUrl { get; set; }
    public string[]? WsgiPipTrustedHost { get; set; }
    public string? WsgiCacheDirectory { get; set; }
    public string? WsgiServer { get; set; }
    public bool WsgiFrameworkDetection { get; set; } = true;
    public bool WsgiDjangoCollectStatic { get; set; } = true;
    public string? DockerHost { get; set; }

    [Output] public string? GeneratedImageId { get; private set; }
    [Output] public string? GeneratedManifestDigest { get; private set; }
    [Output] public string[]? GeneratedImageNames { get; private set; }
    [Output] public string? GeneratedArchiveOutputPath { get; private set; }

    public void Cancel() => _cancellation.Cancel();

    public override bool Execute()
    {
        try
        {
            var options = CreateOptions();
            using var engine = new DockerEngineClient(EngineEndpoint.ForLocalRegistry(LocalRegistry, options.DockerHost));
            var result = new ImagePipeline(engine, new MSBuildLogger(Log)).PublishAsync(options, _cancellation.Token).GetAwaiter().GetResult();
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
            LogCoded(DiagnosticCodes.BuildCancelled, "The image build was cancelled; its build container was removed and no image was tagged.");
        }
        catch (Exception ex)
        {
            LogCoded(DiagnosticCodes.UnexpectedFailure,
                $"Unexpected failure while building the image: {ex.GetType().Name}: {ex.Message}. Please report this with the build log (-v:d).");
            Log.LogMessage(MessageImportance.Low, ex.ToString());
        }
        return !Log.HasLoggedErrors;
    }

    /// <summary>Properties and items as <see cref="ProjectSettings"/>: Core maps them to options, for the task and the CLI alike.</summary>
    internal ImageBuildOptions CreateOptions() => new ProjectSettings
    {
        ContainerRepository = ContainerRepository,
        ContainerImageTag = ContainerImageTag,
        ContainerImageTags = ContainerImageTags ?? [],
        Version = Version,
        ContainerBaseImage = ContainerBaseImage,
        ContainerRegistry = ContainerRegistry,
        ContainerArchiveOutputPath = ContainerArchiveOutputPath,
        ContainerInsecureRegistries = ContainerInsecureRegistries,
        ContainerLabel = Pairs(ContainerLabel),
        ContainerEnvironmentVariable = Pairs(ContainerEnvironmentVariable),
        ContainerUser = ContainerUser,
        ContainerPort = (ContainerPort ?? []).Select(p => p.ItemSpec).ToArray(),
        WsgiApplicationType = WsgiApplicationType,
        WsgiEntryPoint = WsgiEntryPoint,
        WsgiCallableObject = WsgiCallableObject,
        WsgiWorkingDirectory = WsgiWorkingDirectory,
        WsgiUrlAlias = (WsgiUrlAlias ?? []).Select(i => new UrlAlias(i.ItemSpec, i.GetMetadata("Path"))).ToArray(),
        WsgiServerArgument = WsgiServerArgument ?? [],
        WsgiPipIndexUrl = WsgiPipIndexUrl,
        WsgiPipExtraIndexUrl = WsgiPipExtraIndexUrl ?? [],
        WsgiPipTrustedHost = WsgiPipTrustedHost ?? [],
        WsgiCacheDirectory = WsgiCacheDirectory,
        WsgiServer = WsgiServer,
        WsgiFrameworkDetection = WsgiFrameworkDetection,
        WsgiDjangoCollectStatic = WsgiDjangoCollectStatic,
        DockerHost = DockerHost,
    }.ToOptions(ProjectDirectory, RuntimeDirectory, BaseImageRecipe);

    private static KeyValuePair<string, string>[] Pairs(ITaskItem[]? items) =>
        (items ?? []).Select(i => KeyValuePair.Create(i.ItemSpec, i.GetMetadata("Value"))).ToArray();

    private void LogCoded(DiagnosticCode code, string message)
        => Log.LogError(null, code.Id, null, ProjectFile, 0, 0, 0, 0, message);

}
