namespace ModWsgi.Core.Settings;

/// <summary>How a setting is spelled in MSBuild, and so how each front end carries it.</summary>
public enum SettingKind
{
    /// <summary>One MSBuild property (a string task parameter, one CLI value).</summary>
    Property,
    /// <summary>A true/false property; blank takes the table's default (a CLI flag turns a true default off).</summary>
    Switch,
    /// <summary>A ';'-separated property (a string[] task parameter, a repeatable CLI option).</summary>
    List,
    /// <summary>An item: Include plus the metadata the setting names (an ITaskItem[] parameter, a repeatable CLI option).</summary>
    Item,
}

/// <summary>Which CLI commands offer a setting's option.</summary>
public enum CliScope
{
    /// <summary>build, publish, run and shell.</summary>
    Builds,
    /// <summary>publish only: where an image goes is publish's choice (build/run/shell use the local engine).</summary>
    Publish,
    /// <summary>No option: only a .proj (or -p:NAME=VALUE) sets it.</summary>
    None,
}

/// <summary>One setting of the SDK, as every front end (task, targets, CLI, README) must spell it.</summary>
/// <param name="Name">The MSBuild property or item name.</param>
/// <param name="Kind">Property, switch, list or item.</param>
/// <param name="Default">The literal default both front ends apply (Sdk.targets sets it MSBuild-visibly); null when unset or computed.</param>
/// <param name="DefaultText">The default as the README states it.</param>
/// <param name="Help">What the setting means (README "meaning" column and the CLI help).</param>
public sealed record Setting(string Name, SettingKind Kind, string? Default, string DefaultText, string Help)
{
    /// <summary>Item metadata read besides Include (e.g. Value, Path).</summary>
    public IReadOnlyList<string> Metadata { get; init; } = [];

    /// <summary>The CLI option (e.g. "--repository"); null for none.</summary>
    public string? CliOption { get; init; }

    /// <summary>The placeholder the CLI help shows (e.g. NAME).</summary>
    public string? CliHelpName { get; init; }

    public CliScope Cli { get; init; } = CliScope.Builds;

    /// <summary>The only values accepted (case-insensitively by the CLI's parser as given); empty for any.</summary>
    public IReadOnlyList<string> AllowedValues { get; init; } = [];

    /// <summary>The default is an MSBuild expression in Sdk.targets (e.g. from MSBuildProjectName), not a literal.</summary>
    public bool DefaultComputedByTargets { get; init; }

    /// <summary>A switch's default as a bool.</summary>
    public bool DefaultSwitch => Kind == SettingKind.Switch && bool.Parse(Default ?? "false");
}

/// <summary>
/// The one table of the SDK's settings: names, kinds, defaults, CLI options and help. The PublishImage task's
/// parameters, the PublishImage call in Sdk.targets and its defaults, the CLI's options and the README's
/// "Properties and items" table are generated from it or held to it by tests, so a setting is added here once
/// and a front end that drifts fails a test. (Modelled on jib's RawConfiguration/PropertyNames: one list of
/// names that every plugin front end reads through.)
/// </summary>
public static class SettingsTable
{
    public const string DefaultBaseImage = "modwsgi/base:bookworm";
    public const int DefaultContainerPort = 80;

    public static readonly Setting ContainerRepository = new("ContainerRepository", SettingKind.Property, null,
        "project name, lower-cased", "image repository")
    {
        // MSBuildProjectName is only known to MSBuild (and the CLI, which evaluates the .proj); a folder without a .proj uses its own name.
        DefaultComputedByTargets = true,
        CliOption = "--repository", CliHelpName = "NAME",
    };

    public static readonly Setting ContainerImageTag = new("ContainerImageTag", SettingKind.Property, null,
        "—", "one tag (semantic versions expand)")
    { Cli = CliScope.None };

    public static readonly Setting ContainerImageTags = new("ContainerImageTags", SettingKind.List, null,
        "—", "several tags (`;`-separated), taken literally; wins over `ContainerImageTag`")
    { CliOption = "--tag", CliHelpName = "TAG" };

    public static readonly Setting Version = new("Version", SettingKind.Property, null,
        "—", "project version: tags (when no tag is set) and the version label")
    { CliOption = "--version", CliHelpName = "VERSION" };

    public static readonly Setting ContainerBaseImage = new("ContainerBaseImage", SettingKind.Property, null,
        "from the Python version: `modwsgi/base:bookworm` (3.11, the default) or `modwsgi/base:trixie` (3.13)",
        "base image in the local engine; set, it wins over the Python version (`MODWSGI2027` when they disagree)")
    // Unset, the Python version the project asks for picks one of the SDK's base images (Core's PythonVersionSelection),
    // so Sdk.targets must leave it blank. They are built locally from Debian packages by the SDK's recipe: no registry has them.
    { CliOption = "--base-image", CliHelpName = "IMAGE" };

    public static readonly Setting WsgiPythonVersion = new("WsgiPythonVersion", SettingKind.Property, null,
        "`.python-version`, else `runtime.txt`, else `requires-python`, else 3.11",
        "the Python version (`3.11` or `3.13`), which picks the base image; wins over the project's files")
    { CliOption = "--python-version", CliHelpName = "VERSION" };

    public static readonly Setting ContainerRegistry = new("ContainerRegistry", SettingKind.Property, null,
        "—", "push to this registry (`host[:port]`) instead of the local engine")
    { CliOption = "--registry", CliHelpName = "HOST[:PORT]", Cli = CliScope.Publish };

    public static readonly Setting ContainerArchiveOutputPath = new("ContainerArchiveOutputPath", SettingKind.Property, null,
        "—", "write an OCI/docker archive instead of loading into the engine (a path ending in `/` gets `REPOSITORY.tar`)")
    { CliOption = "--archive", CliHelpName = "PATH", Cli = CliScope.Publish };

    public static readonly Setting ContainerInsecureRegistries = new("ContainerInsecureRegistries", SettingKind.List, null,
        "—", "registries (`;`/`,`-separated) reached over plain HTTP besides loopback")
    { CliOption = "--insecure-registry", CliHelpName = "HOST[:PORT]", Cli = CliScope.Publish };

    public static readonly Setting LocalRegistry = new("LocalRegistry", SettingKind.Property, "Docker",
        "`Docker`", "`Docker` or `Podman` (Engine API socket)")
    // The .NET SDK's default local engine.
    { CliOption = "--local-registry", CliHelpName = "ENGINE", AllowedValues = ["Docker", "Podman"] };

    public static readonly Setting DockerHost = new("DockerHost", SettingKind.Property, null,
        "`$DOCKER_HOST`, else the docker context, else the engine's socket",
        "engine endpoint: `unix:///path`, `tcp://host[:port]` (TLS from `DOCKER_TLS_VERIFY`) or `ssh://[user@]host[:port]`")
    { CliOption = "--docker-host", CliHelpName = "HOST" };

    public static readonly Setting ContainerLabel = new("ContainerLabel", SettingKind.Item, null,
        "—", "`Include` = label, `Value` = value; overrides generated labels")
    { Metadata = ["Value"], CliOption = "--label", CliHelpName = "NAME=VALUE" };

    public static readonly Setting ContainerEnvironmentVariable = new("ContainerEnvironmentVariable", SettingKind.Item, null,
        "—", "`Include` = name, `Value` = value, added to the image environment")
    { Metadata = ["Value"], CliOption = "--env", CliHelpName = "NAME=VALUE" };

    public static readonly Setting WsgiApplicationType = new("WsgiApplicationType", SettingKind.Property, "script",
        "`script`", "`script`, `module`, `paste` or `static`")
    // mod_wsgi-express's own default: a WSGI script.
    { CliOption = "--application-type", CliHelpName = "TYPE", AllowedValues = ["script", "module", "paste", "static"] };

    public static readonly Setting WsgiEntryPoint = new("WsgiEntryPoint", SettingKind.Property, null,
        "`wsgi.py` (script)", "script path relative to the project, or dotted module name")
    // Unset, the launcher (and detection) decide: wsgi.py for a script.
    { CliOption = "--entry-point", CliHelpName = "PATH|MODULE" };

    public static readonly Setting WsgiCallableObject = new("WsgiCallableObject", SettingKind.Property, null,
        "`application`", "the WSGI callable's name")
    { CliOption = "--callable-object", CliHelpName = "NAME" };

    public static readonly Setting WsgiWorkingDirectory = new("WsgiWorkingDirectory", SettingKind.Property, null,
        "the app folder", "the application's working directory (and sys.path entry), relative to the project")
    { CliOption = "--working-directory", CliHelpName = "PATH" };

    public static readonly Setting WsgiUrlAlias = new("WsgiUrlAlias", SettingKind.Item, null,
        "—", "`Include` = URL path, `Path` = folder or file in the project, served by Apache")
    { Metadata = ["Path"], CliOption = "--url-alias", CliHelpName = "URL=PATH" };

    public static readonly Setting WsgiServerArgument = new("WsgiServerArgument", SettingKind.Item, null,
        "—", "further `modwsgi-launch` options, e.g. `--processes=2`")
    { CliOption = "--server-arg", CliHelpName = "ARG" };

    public static readonly Setting WsgiPipIndexUrl = new("WsgiPipIndexUrl", SettingKind.Property, null,
        "pip's", "pip's index; given to the pip step's environment only, never stored in the image")
    { CliOption = "--pip-index-url", CliHelpName = "URL" };

    public static readonly Setting WsgiPipExtraIndexUrl = new("WsgiPipExtraIndexUrl", SettingKind.List, null,
        "—", "further pip indexes (`;`-separated); the pip step's environment only")
    { CliOption = "--pip-extra-index-url", CliHelpName = "URL" };

    public static readonly Setting WsgiPipTrustedHost = new("WsgiPipTrustedHost", SettingKind.List, null,
        "—", "hosts pip may reach without valid HTTPS (`;`-separated); the pip step's environment only")
    { CliOption = "--pip-trusted-host", CliHelpName = "HOST" };

    public static readonly Setting WsgiDependencyGroups = new("WsgiDependencyGroups", SettingKind.List, null,
        "— (the lock's default; main only)", "dependency groups and extras to install besides the main ones (`;`-separated): a lock file's groups/extras, pyproject.toml's optional-dependencies and dependency-groups")
    // Images are for production: like Heroku (`poetry sync --only main`, `uv sync --no-default-groups`), no dev groups unless asked.
    { CliOption = "--dependency-group", CliHelpName = "NAME" };

    public static readonly Setting WsgiLockName = new("WsgiLockName", SettingKind.Property, null,
        "— (`pylock.toml`, else the only `pylock.NAME.toml`)", "which PEP 751 named lock to install: `prod` installs `pylock.prod.toml`")
    // PEP 751 lets a project keep several locks (pylock.dev.toml, pylock.prod.toml); only the project knows which one an image is.
    { CliOption = "--lock-name", CliHelpName = "NAME" };

    public static readonly Setting WsgiCacheDirectory = new("WsgiCacheDirectory", SettingKind.Property, null,
        "`$MODWSGI_CACHE_DIR`, else `~/.cache/modwsgi`", "the build cache")
    { CliOption = "--cache-dir", CliHelpName = "DIR" };

    public static readonly Setting WsgiCacheSizeLimit = new("WsgiCacheSizeLimit", SettingKind.Property, "5GB",
        "`5GB`", "the build cache's bound: after a build, blobs no entry names go, then the least recently used entries (and their `modwsgi/stage:*` images) until the cache fits; K, M, G, T are powers of 1024; `none` for no bound")
    // Without one, every source edit added its application layer for good (100 MB for 20 edits here); 5 GB holds many dependency layers.
    { CliOption = "--cache-size-limit", CliHelpName = "SIZE" };

    public static readonly Setting ContainerUser = new("ContainerUser", SettingKind.Property, null,
        "base image's (root)", "user the container runs as, e.g. `1001`")
    { CliOption = "--user", CliHelpName = "USER" };

    public static readonly Setting ContainerPort = new("ContainerPort", SettingKind.Item, $"{DefaultContainerPort}",
        "`80`", "port Apache listens on and the image exposes (first item); `modwsgi run` publishes it")
    // Apache's (and the seed image's) port; `--container-port`, since `modwsgi run --port` is the host's port.
    { Metadata = ["Type"], CliOption = "--container-port", CliHelpName = "PORT" };

    public static readonly Setting WsgiServer = new("WsgiServer", SettingKind.Property, null,
        "detected (`mod_wsgi`)", "`mod_wsgi`, `gunicorn`, `waitress`, `python-app`, `shell-app`")
    { CliOption = "--server", CliHelpName = "SERVER", AllowedValues = ["mod_wsgi", "gunicorn", "waitress", "python-app", "shell-app"] };

    public static readonly Setting WsgiGracefulStopTimeout = new("WsgiGracefulStopTimeout", SettingKind.Property, null,
        "`5` (the launcher's)", "seconds `docker stop` lets requests in flight finish (the image's `--graceful-stop-timeout`; above 10 also raise `docker stop -t`)")
    // Unset, the launcher's default (5 s, below docker stop's 10 s) stands and the image's Cmd is unchanged.
    { CliOption = "--graceful-stop-timeout", CliHelpName = "SECS" };

    public static readonly Setting WsgiFrameworkDetection = new("WsgiFrameworkDetection", SettingKind.Switch, "true",
        "`true`", "detect Django / app.py / app.sh")
    // Each guess is overridable, so guessing is the helpful default.
    { CliOption = "--no-framework-detection" };

    public static readonly Setting WsgiDjangoCollectStatic = new("WsgiDjangoCollectStatic", SettingKind.Switch, "true",
        "`true`", "run `collectstatic` for Django projects")
    // So Apache can serve STATIC_ROOT without a build hook.
    { CliOption = "--no-collectstatic" };

    public static readonly Setting WsgiHealthCheck = new("WsgiHealthCheck", SettingKind.Property, "mod_wsgi-docker-probe ready",
        "`mod_wsgi-docker-probe ready`",
        "the image's HEALTHCHECK command: plain words run as given, any other command line through `/bin/sh -c`; `none`: no HEALTHCHECK")
    // The runtime layer's probe: the application answers (or the project's action_hooks/ready says so), for `docker ps`.
    { CliOption = "--health-cmd", CliHelpName = "COMMAND" };

    public static readonly Setting WsgiHealthCheckInterval = new("WsgiHealthCheckInterval", SettingKind.Property, "10s",
        "`10s`", "time between two health checks (`30s`, `1m30s`, `500ms`)")
    // Docker's 30 s leaves `docker ps` saying "starting" for half a minute; a probe costs about 25 ms of CPU.
    { CliOption = "--health-interval", CliHelpName = "DURATION" };

    public static readonly Setting WsgiHealthCheckTimeout = new("WsgiHealthCheckTimeout", SettingKind.Property, "5s",
        "`5s`", "a health check that takes longer fails")
    // Above the probe's own 3 s request timeout, so the probe's message (not Docker's kill) says what was slow.
    { CliOption = "--health-timeout", CliHelpName = "DURATION" };

    public static readonly Setting WsgiHealthCheckStartPeriod = new("WsgiHealthCheckStartPeriod", SettingKind.Property, "30s",
        "`30s`", "failed checks in this time after the start do not count (the deploy hook runs before the server listens)")
    // Room for a deploy hook's migrations before failures count; a success within it is healthy at once.
    { CliOption = "--health-start-period", CliHelpName = "DURATION" };

    public static readonly Setting WsgiHealthCheckRetries = new("WsgiHealthCheckRetries", SettingKind.Property, "3",
        "`3`", "failed checks in a row that make the container unhealthy")
    // Docker's default.
    { CliOption = "--health-retries", CliHelpName = "N" };

    /// <summary>Every setting, in the README's order.</summary>
    public static IReadOnlyList<Setting> All { get; } =
    [
        ContainerRepository, ContainerImageTag, ContainerImageTags, Version, ContainerBaseImage, WsgiPythonVersion, ContainerRegistry,
        ContainerArchiveOutputPath, ContainerInsecureRegistries, LocalRegistry, DockerHost, ContainerLabel,
        ContainerEnvironmentVariable, WsgiApplicationType, WsgiEntryPoint, WsgiCallableObject, WsgiWorkingDirectory,
        WsgiUrlAlias, WsgiServerArgument, WsgiPipIndexUrl, WsgiPipExtraIndexUrl, WsgiPipTrustedHost, WsgiDependencyGroups, WsgiLockName, WsgiCacheDirectory,
        WsgiCacheSizeLimit, ContainerUser, ContainerPort, WsgiServer, WsgiGracefulStopTimeout, WsgiFrameworkDetection, WsgiDjangoCollectStatic,
        WsgiHealthCheck, WsgiHealthCheckInterval, WsgiHealthCheckTimeout, WsgiHealthCheckStartPeriod, WsgiHealthCheckRetries,
    ];

    public static Setting? Find(string name) => All.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The README's "Properties and items" table, exactly as it must appear there.</summary>
    public static string ReadmeTable()
    {
        var lines = new List<string> { "| name | default | meaning | `modwsgi` option |", "| --- | --- | --- | --- |" };
        foreach (var setting in All)
            lines.Add($"| {(setting.Kind == SettingKind.Item ? "item " : "")}`{setting.Name}` | {setting.DefaultText} | {setting.Help} | {CliCell(setting)} |");
        return string.Join('\n', lines);
    }

    private static string CliCell(Setting setting)
    {
        if (setting.CliOption is null || setting.Cli == CliScope.None)
            return "—";
        var cell = setting.CliHelpName is null ? $"`{setting.CliOption}`" : $"`{setting.CliOption} {setting.CliHelpName.Replace("|", "\\|", StringComparison.Ordinal)}`";
        var notes = new List<string>();
        if (setting.Kind is SettingKind.List or SettingKind.Item)
            notes.Add("repeatable");
        if (setting.Cli == CliScope.Publish)
            notes.Add("publish only");
        return notes.Count == 0 ? cell : $"{cell} ({string.Join(", ", notes)})";
    }
}
