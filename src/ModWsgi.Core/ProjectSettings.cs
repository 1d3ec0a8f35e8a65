using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Engine;
using ModWsgi.Core.Settings;
using ModWsgi.Core.Project;
using ModWsgi.Core.Python;
using ModWsgi.Core.Tags;

namespace ModWsgi.Core;

/// <summary>
/// A project's settings under the SDK's own names (MSBuild properties and items), before defaults. Both
/// front ends fill this — the PublishImage task from MSBuild, the CLI from a .proj and its options — and
/// <see cref="ToOptions"/> is the one place that turns it into <see cref="ImageBuildOptions"/>, so the same
/// settings always give the same image. Blank means unset; defaults come from <see cref="SettingsTable"/>.
/// </summary>
public sealed record ProjectSettings
{
    public string? ContainerRepository { get; init; }
    public string? ContainerImageTag { get; init; }
    public IReadOnlyList<string> ContainerImageTags { get; init; } = [];
    public string? Version { get; init; }
    public string? ContainerBaseImage { get; init; }
    public string? WsgiPythonVersion { get; init; }
    public string? ContainerRegistry { get; init; }
    public string? ContainerArchiveOutputPath { get; init; }
    /// <summary>Registries allowed over plain HTTP; an entry may itself be ',' separated, as the .NET SDK allows.</summary>
    public IReadOnlyList<string> ContainerInsecureRegistries { get; init; } = [];
    public string? LocalRegistry { get; init; }
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
    public IReadOnlyList<string> WsgiDependencyGroups { get; init; } = [];
    public string? WsgiLockName { get; init; }
    public string? WsgiCacheDirectory { get; init; }
    public string? WsgiCacheSizeLimit { get; init; }
    public string? DockerHost { get; init; }
    public string? ContainerUser { get; init; }
    /// <summary>ContainerPort items' numbers; the first is the port Apache listens on.</summary>
    public IReadOnlyList<string> ContainerPort { get; init; } = [];
    public string? WsgiServer { get; init; }
    public string? WsgiGracefulStopTimeout { get; init; }
    /// <summary>"true"/"false" (any case); blank takes the table's default.</summary>
    public string? WsgiFrameworkDetection { get; init; }
    public string? WsgiDjangoCollectStatic { get; init; }
    /// <summary>The HEALTHCHECK command, `none` for none; blank takes the table's default (the probe).</summary>
    public string? WsgiHealthCheck { get; init; }
    public string? WsgiHealthCheckInterval { get; init; }
    public string? WsgiHealthCheckTimeout { get; init; }
    public string? WsgiHealthCheckStartPeriod { get; init; }
    public string? WsgiHealthCheckRetries { get; init; }

    /// <summary>Typed settings from what a front end found, walking <see cref="SettingsTable"/>.</summary>
    public static ProjectSettings From(SettingValues values) => new()
    {
        ContainerRepository = values.Text(SettingsTable.ContainerRepository),
        ContainerImageTag = values.Text(SettingsTable.ContainerImageTag),
        ContainerImageTags = values.Includes(SettingsTable.ContainerImageTags),
        Version = values.Text(SettingsTable.Version),
        ContainerBaseImage = values.Text(SettingsTable.ContainerBaseImage),
        WsgiPythonVersion = values.Text(SettingsTable.WsgiPythonVersion),
        ContainerRegistry = values.Text(SettingsTable.ContainerRegistry),
        ContainerArchiveOutputPath = values.Text(SettingsTable.ContainerArchiveOutputPath),
        ContainerInsecureRegistries = values.Includes(SettingsTable.ContainerInsecureRegistries),
        LocalRegistry = values.Text(SettingsTable.LocalRegistry),
        DockerHost = values.Text(SettingsTable.DockerHost),
        ContainerLabel = Pairs(values, SettingsTable.ContainerLabel),
        ContainerEnvironmentVariable = Pairs(values, SettingsTable.ContainerEnvironmentVariable),
        WsgiApplicationType = values.Text(SettingsTable.WsgiApplicationType),
        WsgiEntryPoint = values.Text(SettingsTable.WsgiEntryPoint),
        WsgiCallableObject = values.Text(SettingsTable.WsgiCallableObject),
        WsgiWorkingDirectory = values.Text(SettingsTable.WsgiWorkingDirectory),
        WsgiUrlAlias = values.Items(SettingsTable.WsgiUrlAlias).Select(i => new UrlAlias(i.Include, i.Metadatum("Path"))).ToArray(),
        WsgiServerArgument = values.Includes(SettingsTable.WsgiServerArgument),
        WsgiPipIndexUrl = values.Text(SettingsTable.WsgiPipIndexUrl),
        WsgiPipExtraIndexUrl = values.Includes(SettingsTable.WsgiPipExtraIndexUrl),
        WsgiPipTrustedHost = values.Includes(SettingsTable.WsgiPipTrustedHost),
        WsgiDependencyGroups = values.Includes(SettingsTable.WsgiDependencyGroups),
        WsgiLockName = values.Text(SettingsTable.WsgiLockName),
        WsgiCacheDirectory = values.Text(SettingsTable.WsgiCacheDirectory),
        WsgiCacheSizeLimit = values.Text(SettingsTable.WsgiCacheSizeLimit),
        ContainerUser = values.Text(SettingsTable.ContainerUser),
        ContainerPort = values.Includes(SettingsTable.ContainerPort),
        WsgiServer = values.Text(SettingsTable.WsgiServer),
        WsgiGracefulStopTimeout = values.Text(SettingsTable.WsgiGracefulStopTimeout),
        WsgiFrameworkDetection = values.Text(SettingsTable.WsgiFrameworkDetection),
        WsgiDjangoCollectStatic = values.Text(SettingsTable.WsgiDjangoCollectStatic),
        WsgiHealthCheck = values.Text(SettingsTable.WsgiHealthCheck),
        WsgiHealthCheckInterval = values.Text(SettingsTable.WsgiHealthCheckInterval),
        WsgiHealthCheckTimeout = values.Text(SettingsTable.WsgiHealthCheckTimeout),
        WsgiHealthCheckStartPeriod = values.Text(SettingsTable.WsgiHealthCheckStartPeriod),
        WsgiHealthCheckRetries = values.Text(SettingsTable.WsgiHealthCheckRetries),
    };

    private static KeyValuePair<string, string>[] Pairs(SettingValues values, Setting setting) =>
        values.Items(setting).Select(i => KeyValuePair.Create(i.Include, i.Metadatum("Value"))).ToArray();

    /// <param name="projectDirectory">The Python project folder.</param>
    /// <param name="runtimeDirectory">The SDK's in-image scripts.</param>
    /// <param name="baseImageRecipe">The base image recipe, quoted when the base image is missing.</param>
    public ImageBuildOptions ToOptions(string projectDirectory, string runtimeDirectory, string? baseImageRecipe)
    {
        // The project's files say which Python (and so which base image) unless a property does.
        var python = PythonVersionSelection.Select(projectDirectory, Blank(WsgiPythonVersion), Blank(ContainerBaseImage));
        return ToOptions(projectDirectory, runtimeDirectory, baseImageRecipe, python);
    }

    private ImageBuildOptions ToOptions(string projectDirectory, string runtimeDirectory, string? baseImageRecipe, PythonChoice python) => new()
    {
        ProjectDirectory = projectDirectory,
        // The .NET SDK's default: the project's name. Without a .proj the folder is the project.
        Repository = Blank(ContainerRepository)
            ?? ImageReference.RepositoryFromProjectName(Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(projectDirectory)))),
        Tags = ImageTags.Resolve(Blank(ContainerImageTag), ContainerImageTags.Count > 0 ? ContainerImageTags : null, Blank(Version)),
        Version = Blank(Version),
        BaseImage = python.BaseImage,
        Python = python,
        BaseImageRecipe = Blank(baseImageRecipe),
        RuntimeDirectory = runtimeDirectory,
        DockerHost = Blank(DockerHost),
        Registry = Blank(ContainerRegistry),
        ArchiveOutputPath = Blank(ContainerArchiveOutputPath),
        InsecureRegistries = ContainerInsecureRegistries
            .SelectMany(r => r.Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray(),
        LocalRegistry = OneOf(SettingsTable.LocalRegistry, LocalRegistry),
        CacheDirectory = Blank(WsgiCacheDirectory),
        CacheSizeLimit = Cache.CacheSize.Parse(Blank(WsgiCacheSizeLimit) ?? SettingsTable.WsgiCacheSizeLimit.Default!, SettingsTable.WsgiCacheSizeLimit.Name),
        Labels = LastWins(ContainerLabel),
        EnvironmentVariables = LastWins(ContainerEnvironmentVariable),
        User = Blank(ContainerUser),
        WsgiServer = ServerKinds.Parse(WsgiServer),
        FrameworkDetection = Switch(SettingsTable.WsgiFrameworkDetection, WsgiFrameworkDetection),
        DjangoCollectStatic = Switch(SettingsTable.WsgiDjangoCollectStatic, WsgiDjangoCollectStatic),
        HealthCheck = Oci.HealthCheck.From(WsgiHealthCheck, WsgiHealthCheckInterval, WsgiHealthCheckTimeout, WsgiHealthCheckStartPeriod, WsgiHealthCheckRetries),
        DependencyGroups = WsgiDependencyGroups
            .SelectMany(g => g.Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray(),
        LockName = Blank(WsgiLockName)?.Trim(),
        Server = new WsgiServerOptions
        {
            ApplicationType = WsgiApplicationTypes.Parse(Blank(WsgiApplicationType) ?? SettingsTable.WsgiApplicationType.Default),
            EntryPoint = Blank(WsgiEntryPoint),
            CallableObject = Blank(WsgiCallableObject),
            WorkingDirectory = Blank(WsgiWorkingDirectory),
            Port = ServerPort(),
            UrlAliases = WsgiUrlAlias,
            Arguments = WsgiServerArgument,
            GracefulStopTimeout = GracefulStopTimeout(),
        },
        Pip = new PipSettings
        {
            IndexUrl = Blank(WsgiPipIndexUrl),
            ExtraIndexUrls = WsgiPipExtraIndexUrl,
            TrustedHosts = WsgiPipTrustedHost,
        },
    };

    private int? GracefulStopTimeout()
    {
        if (Blank(WsgiGracefulStopTimeout) is not { } text)
            return null;
        return int.TryParse(text.Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds) && seconds >= 1
            ? seconds
            : throw new ModWsgiException(DiagnosticCodes.InvalidGracefulStopTimeout,
                $"WsgiGracefulStopTimeout '{text}' is not a whole number of seconds from 1: set e.g. <WsgiGracefulStopTimeout>8</WsgiGracefulStopTimeout> (modwsgi: --graceful-stop-timeout 8), or remove it for the default 5.");
    }

    private int ServerPort()
    {
        var text = ContainerPort.Count == 0 ? SettingsTable.ContainerPort.Default! : ContainerPort[0];
        return int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) && port is >= 1 and <= 65535
            ? port
            : throw new ModWsgiException(DiagnosticCodes.InvalidServerOption,
                $"ContainerPort '{text}' is not a port number (1 to 65535): use e.g. <ContainerPort Include=\"8080\" /> (modwsgi: --container-port 8080).");
    }

    private static bool Switch(Setting setting, string? value)
    {
        if (Blank(value) is not { } text)
            return setting.DefaultSwitch;
        return bool.TryParse(text.Trim(), out var result)
            ? result
            : throw new ModWsgiException(DiagnosticCodes.InvalidServerOption,
                $"{setting.Name} '{text}' is not true or false: set <{setting.Name}>false</{setting.Name}> or remove it (default {setting.Default}).");
    }

    /// <summary>The value spelled as the table spells it (MSBuild is case-insensitive), or the table's default.</summary>
    private static string? OneOf(Setting setting, string? value)
    {
        if (Blank(value) is not { } text)
            return setting.Default;
        return setting.AllowedValues.FirstOrDefault(v => string.Equals(v, text.Trim(), StringComparison.OrdinalIgnoreCase))
            ?? throw new ModWsgiException(DiagnosticCodes.InvalidServerOption,
                $"{setting.Name} '{text}' is not one of {string.Join(", ", setting.AllowedValues)}: set <{setting.Name}>{setting.AllowedValues[0]}</{setting.Name}> or remove it.");
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
