using ModWsgi.Core.Engine;
using ModWsgi.Core.Tags;

namespace ModWsgi.Core;

/// <summary>
/// A project's settings under the SDK's own names (MSBuild properties and items), before defaults. Both
/// front ends fill this — the PublishImage task from MSBuild, the CLI from a .proj and its options — and
/// <see cref="ToOptions"/> is the one place that turns it into <see cref="ImageBuildOptions"/>, so the same
/// settings always give the same image. Blank means unset.
/// </summary>
public sealed record ProjectSettings
{
    public string? ContainerRepository { get; init; }
    public string? ContainerImageTag { get; init; }
    public IReadOnlyList<string> ContainerImageTags { get; init; } = [];
    public string? Version { get; init; }
    public string? ContainerBaseImage { get; init; }
    public string? ContainerRegistry { get; init; }
    public string? ContainerArchiveOutputPath { get; init; }
    /// <summary>Registries allowed over plain HTTP, ',' or ';' separated, as the .NET SDK spells it.</summary>
    public string? ContainerInsecureRegistries { get; init; }
    /// <summary>ContainerLabel items in order; a later name wins, as MSBuild items do.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ContainerLabel { get; init; } = [];
    public IReadOnlyList<KeyValuePair<string, string>> ContainerEnvironmentVariable { get; init; } = [];
    public string? WsgiApplicationType { get; init; }
    public string? WsgiEntryPoint { get; init; }
    public string? WsgiCallableObject { get; init; }
    public string? WsgiWorkingDirectory { get; init; }
    public IReadOnlyList<UrlAlias> WsgiUrlAlias { get; init; } = [];
    public IReadOnlyList<string> WsgiServerArgument { get; init; } = [];
    public string? WsgiPipIndexUrl { get; init; }
    public IReadOnlyList<string> WsgiPipExtraIndexUrl { get; init; } = [];
    public IReadOnlyList<string> WsgiPipTrustedHost { get; init; } = [];
    public string? WsgiCacheDirectory { get; init; }
    public string? DockerHost { get; init; }
    public string? ContainerUser { get; init; }
    /// <summary>ContainerPort items' numbers; the first is the port Apache listens on.</summary>
    public IReadOnlyList<string> ContainerPort { get; init; } = [];
    public string? WsgiServer { get; init; }
    public bool WsgiFrameworkDetection { get; init; } = true;
    public bool WsgiDjangoCollectStatic { get; init; } = true;

    /// <param name="projectDirectory">The Python project folder.</param>
    /// <param name="runtimeDirectory">The SDK's in-image scripts.</param>
    /// <param name="baseImageRecipe">The base image recipe, quoted when the base image is missing.</param>
    public ImageBuildOptions ToOptions(string projectDirectory, string runtimeDirectory, string? baseImageRecipe) => new()
    {
        ProjectDirectory = projectDirectory,
        // The .NET SDK's default: the project's name. Without a .proj the folder is the project.
        Repository = Blank(ContainerRepository)
            ?? ImageReference.RepositoryFromProjectName(Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(projectDirectory)))),
        Tags = ImageTags.Resolve(Blank(ContainerImageTag), ContainerImageTags.Count > 0 ? ContainerImageTags : null, Blank(Version)),
        Version = Blank(Version),
        BaseImage = Blank(ContainerBaseImage) ?? ImageBuildOptions.DefaultBaseImage,
        BaseImageRecipe = Blank(baseImageRecipe),
        RuntimeDirectory = runtimeDirectory,
        DockerHost = Blank(DockerHost),
        Registry = Blank(ContainerRegistry),
        ArchiveOutputPath = Blank(ContainerArchiveOutputPath),
        InsecureRegistries = (ContainerInsecureRegistries ?? "").Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
        CacheDirectory = Blank(WsgiCacheDirectory),
        Labels = LastWins(ContainerLabel),
        EnvironmentVariables = LastWins(ContainerEnvironmentVariable),
        User = Blank(ContainerUser),
        WsgiServer = Blank(WsgiServer),
        FrameworkDetection = WsgiFrameworkDetection,
        DjangoCollectStatic = WsgiDjangoCollectStatic,
        Server = new WsgiServerOptions
        {
            ApplicationType = Blank(WsgiApplicationType) ?? "script",
            EntryPoint = Blank(WsgiEntryPoint),
            CallableObject = Blank(WsgiCallableObject),
            WorkingDirectory = Blank(WsgiWorkingDirectory),
            Port = ServerPort(),
            UrlAliases = WsgiUrlAlias,
            Arguments = WsgiServerArgument,
        },
        Pip = new PipSettings
        {
            IndexUrl = Blank(WsgiPipIndexUrl),
            ExtraIndexUrls = WsgiPipExtraIndexUrl,
            TrustedHosts = WsgiPipTrustedHost,
        },
    };

    private int ServerPort()
    {
        if (ContainerPort.Count == 0)
            return WsgiServerOptions.DefaultPort;
        return int.TryParse(ContainerPort[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port)
            ? port
            : throw new Diagnostics.ModWsgiException(Diagnostics.DiagnosticCodes.InvalidServerOption,
                $"ContainerPort '{ContainerPort[0]}' is not a port number: use e.g. <ContainerPort Include=\"8080\" />.");
    }

    private static Dictionary<string, string> LastWins(IEnumerable<KeyValuePair<string, string>> pairs)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in pairs)
            result[name] = value;
        return result;
    }

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
