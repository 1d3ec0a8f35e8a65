using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using ModWsgi.Core;
using ModWsgi.Core.Build;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Engine;

namespace ModWsgi.Sdk.Tasks;

/// <summary>
/// Builds the application image into the local container engine. Maps properties and items onto
/// <see cref="ImageBuildOptions"/> and calls Core; every failure becomes one coded error.
/// </summary>
public sealed class PublishImage : Microsoft.Build.Utilities.Task, ICancelableTask
{
    private readonly CancellationTokenSource _cancellation = new();

    [Required] public string ProjectDirectory { get; set; } = "";
    [Required] public string ContainerRepository { get; set; } = "";
    [Required] public string RuntimeDirectory { get; set; } = "";
    public string? ContainerImageTag { get; set; }
    public string[]? ContainerImageTags { get; set; }
    public string? ContainerBaseImage { get; set; }
    public string? BaseImageRecipe { get; set; }
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
    public string? DockerHost { get; set; }

    [Output] public string? GeneratedImageId { get; private set; }
    [Output] public string[]? GeneratedImageNames { get; private set; }

    public void Cancel() => _cancellation.Cancel();

    public override bool Execute()
    {
        try
        {
            var options = CreateOptions();
            var builder = new ImageBuilder(new DockerEngineClient(string.IsNullOrEmpty(options.DockerHost)
                ? EngineEndpoint.FromEnvironment() : EngineEndpoint.Parse(options.DockerHost)), new MSBuildLogger(Log));
            var result = builder.BuildAsync(options, _cancellation.Token).GetAwaiter().GetResult();
            GeneratedImageId = result.ImageId;
            GeneratedImageNames = result.Images.Select(i => i.ToString()).ToArray();
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
        Tags = TagsToUse(),
        BaseImage = string.IsNullOrWhiteSpace(ContainerBaseImage) ? ImageBuildOptions.DefaultBaseImage : ContainerBaseImage,
        BaseImageRecipe = NullIfEmpty(BaseImageRecipe),
        RuntimeDirectory = RuntimeDirectory,
        DockerHost = NullIfEmpty(DockerHost),
        Server = new WsgiServerOptions
        {
            ApplicationType = NullIfEmpty(WsgiApplicationType) ?? "script",
            EntryPoint = NullIfEmpty(WsgiEntryPoint),
            CallableObject = NullIfEmpty(WsgiCallableObject),
            WorkingDirectory = NullIfEmpty(WsgiWorkingDirectory),
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

    private string[] TagsToUse()
    {
        if (ContainerImageTags is { Length: > 0 } tags)
            return tags;
        return [NullIfEmpty(ContainerImageTag) ?? "latest"];
    }

    private void LogCoded(DiagnosticCode code, string message)
        => Log.LogError(null, code.Id, null, BuildEngine?.ProjectFileOfTaskNode, 0, 0, 0, 0, message);

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
