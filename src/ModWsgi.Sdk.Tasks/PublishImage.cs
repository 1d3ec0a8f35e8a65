using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using ModWsgi.Core;
using ModWsgi.Core.Build;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Engine;
using ModWsgi.Core.Tags;

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

    internal ImageBuildOptions CreateOptions() => new()
    {
        ProjectDirectory = ProjectDirectory,
        Repository = ContainerRepository,
        Tags = ImageTags.Resolve(NullIfEmpty(ContainerImageTag), ContainerImageTags is { Length: > 0 } tags ? tags : null, NullIfEmpty(Version)),
        Version = NullIfEmpty(Version),
        BaseImage = NullIfEmpty(ContainerBaseImage) ?? ImageBuildOptions.DefaultBaseImage,
        BaseImageRecipe = NullIfEmpty(BaseImageRecipe),
        RuntimeDirectory = RuntimeDirectory,
        DockerHost = NullIfEmpty(DockerHost),
        Registry = NullIfEmpty(ContainerRegistry),
        ArchiveOutputPath = NullIfEmpty(ContainerArchiveOutputPath),
        InsecureRegistries = (ContainerInsecureRegistries ?? "").Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
        CacheDirectory = NullIfEmpty(WsgiCacheDirectory),
        Labels = Pairs(ContainerLabel),
        User = NullIfEmpty(ContainerUser),
        WsgiServer = NullIfEmpty(WsgiServer),
        FrameworkDetection = WsgiFrameworkDetection,
        DjangoCollectStatic = WsgiDjangoCollectStatic,
        EnvironmentVariables = Pairs(ContainerEnvironmentVariable),
        Server = new WsgiServerOptions
        {
            ApplicationType = NullIfEmpty(WsgiApplicationType) ?? "script",
            EntryPoint = NullIfEmpty(WsgiEntryPoint),
            CallableObject = NullIfEmpty(WsgiCallableObject),
            WorkingDirectory = NullIfEmpty(WsgiWorkingDirectory),
            Port = ServerPort(),
            UrlAliases = (WsgiUrlAlias ?? []).Select(i => new UrlAlias(i.ItemSpec, i.GetMetadata("Path"))).ToArray(),
            Arguments = WsgiServerArgument ?? [],
        },
        Pip = new PipSettings
        {
            IndexUrl = NullIfEmpty(WsgiPipIndexUrl),
            ExtraIndexUrls = WsgiPipExtraIndexUrl ?? [],
            TrustedHosts = WsgiPipTrustedHost ?? [],
        },
    };

    private int ServerPort()
    {
        if (ContainerPort is not { Length: > 0 } ports)
            return WsgiServerOptions.DefaultPort;
        return int.TryParse(ports[0].ItemSpec, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port)
            ? port
            : throw new ModWsgiException(DiagnosticCodes.InvalidServerOption, $"ContainerPort '{ports[0].ItemSpec}' is not a port number: use e.g. <ContainerPort Include=\"8080\" />.");
    }

    private static Dictionary<string, string> Pairs(ITaskItem[]? items) =>
        (items ?? []).GroupBy(i => i.ItemSpec).ToDictionary(g => g.Key, g => g.Last().GetMetadata("Value"));

    private void LogCoded(DiagnosticCode code, string message)
        => Log.LogError(null, code.Id, null, ProjectFile, 0, 0, 0, 0, message);

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
