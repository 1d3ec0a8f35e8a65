namespace ModWsgi.Core;

/// <summary>
/// Everything one image build needs. Filled by the MSBuild task from properties/items and by the CLI from
/// its arguments, so both front ends build exactly the same image from the same inputs.
/// </summary>
public sealed record ImageBuildOptions
{
    /// <summary>Built by the SDK's own recipe (sdk/ModWsgi.Sdk/baseimage/build-base-image.sh); no registry has it.</summary>
    public const string DefaultBaseImage = Settings.SettingsTable.DefaultBaseImage;

    /// <summary>The Python project folder (requirements.txt, setup.py, .docker/action_hooks).</summary>
    public required string ProjectDirectory { get; init; }

    public required string Repository { get; init; }

    public IReadOnlyList<string> Tags { get; init; } = ["latest"];

    public string BaseImage { get; init; } = DefaultBaseImage;

    /// <summary>Why <see cref="BaseImage"/> was chosen (the Python asked for, and where); null when the options were made by hand.</summary>
    public Python.PythonChoice? Python { get; init; }

    /// <summary>The SDK's in-image scripts (mod_wsgi-docker-start, mod_wsgi-docker-shell, modwsgi-launch).</summary>
    public required string RuntimeDirectory { get; init; }

    /// <summary>The base image recipe, quoted in the error that says how to build a missing base image.</summary>
    public string? BaseImageRecipe { get; init; }

    public WsgiServerOptions Server { get; init; } = new();

    public PipSettings Pip { get; init; } = new();

    /// <summary>LocalRegistry: the local engine, Docker or Podman (whose socket is used when DockerHost is unset).</summary>
    public string? LocalRegistry { get; init; }

    /// <summary>DOCKER_HOST syntax; null uses the build environment's DOCKER_HOST or the default socket.</summary>
    public string? DockerHost { get; init; }

    /// <summary>Registry host[:port] to push to (ContainerRegistry); null keeps the image local.</summary>
    public string? Registry { get; init; }

    /// <summary>Write an OCI archive here (ContainerArchiveOutputPath); a path ending in '/' is a folder and gets REPOSITORY.tar.</summary>
    public string? ArchiveOutputPath { get; init; }

    /// <summary>The archive is written to TARGET + this + a random suffix, then moved into place.</summary>
    public const string ArchiveTempSuffix = ".partial-";

    /// <summary>The full path of the archive file this build writes (a folder gets REPOSITORY.tar), or null without one.</summary>
    public string? ArchiveTargetPath()
    {
        if (string.IsNullOrEmpty(ArchiveOutputPath))
            return null;
        var target = ArchiveOutputPath;
        if (target.EndsWith('/') || Directory.Exists(target))
            target = Path.Combine(target, Repository.Replace('/', '-') + ".tar");
        return Path.GetFullPath(target);
    }

    /// <summary>Registries reached over plain HTTP besides loopback ones (ContainerInsecureRegistries).</summary>
    public IReadOnlyList<string> InsecureRegistries { get; init; } = [];

    /// <summary>The build cache (layers, dependency keys); null uses the build environment's (<see cref="BuildEnvironment.CacheDirectory"/>).</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>WsgiCacheSizeLimit in bytes (null: no bound). Not what the image is made of: the fingerprint leaves it out.</summary>
    public long? CacheSizeLimit { get; init; }

    /// <summary>The project's version, for the org.opencontainers.image.version label.</summary>
    public string? Version { get; init; }

    /// <summary>ContainerLabel items: added to (and overriding) the generated org.opencontainers.image.* labels.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    /// <summary>WsgiServer: mod_wsgi (default), gunicorn, waitress, python-app (app.py) or shell-app (app.sh); null lets the folder decide.</summary>
    public Project.ServerKind? WsgiServer { get; init; }

    /// <summary>WsgiFrameworkDetection: guess the kind of app (Django, app.py, app.sh) from the folder.</summary>
    public bool FrameworkDetection { get; init; } = Settings.SettingsTable.WsgiFrameworkDetection.DefaultSwitch;

    /// <summary>WsgiDjangoCollectStatic: run `collectstatic --noinput` in the build of a Django project.</summary>
    public bool DjangoCollectStatic { get; init; } = Settings.SettingsTable.WsgiDjangoCollectStatic.DefaultSwitch;

    /// <summary>WsgiHealthCheck*: the image's HEALTHCHECK; null leaves the config without one (WsgiHealthCheck=none).
    /// Options made by hand have none; the settings' default is the runtime layer's probe.</summary>
    public Oci.HealthCheck? HealthCheck { get; init; }

    /// <summary>WsgiDependencyGroups: lock groups/extras (or pyproject extras and dependency groups) installed besides the main ones.</summary>
    public IReadOnlyList<string> DependencyGroups { get; init; } = [];

    /// <summary>WsgiLockName: the NAME of the PEP 751 lock pylock.NAME.toml to install; null for pylock.toml or the only named one.</summary>
    public string? LockName { get; init; }

    /// <summary>ContainerUser: the user the container runs as (e.g. 1001); null keeps the base image's (root,
    /// with Apache's children and the mod_wsgi daemons as www-data).</summary>
    public string? User { get; init; }

    /// <summary>ContainerEnvironmentVariable items: NAME=value pairs added to the image's environment.</summary>
    public IReadOnlyDictionary<string, string> EnvironmentVariables { get; init; } = new Dictionary<string, string>();

    /// <summary>Image names the outputs will carry: registry/repository:tag when pushing, else repository:tag.</summary>
    public IReadOnlyList<string> ImageNames() =>
        Tags.Select(tag => (Registry is { Length: > 0 } registry ? registry.TrimEnd('/') + "/" : "") + Repository + ":" + tag).ToArray();
}
