using ModWsgi.Core.Registry;

namespace ModWsgi.Core;

/// <summary>
/// What a build takes from its environment, resolved once by the front end and passed in: Core reads no
/// environment variables itself. The MSBuild task and the CLI resolve it from their process, the build server
/// from the client's request, so a warm server builds with the client's values without touching its own.
/// </summary>
public sealed record BuildEnvironment
{
    /// <summary>Every variable <see cref="From"/> reads, for documentation and for front ends that forward them.</summary>
    public static readonly IReadOnlyList<string> Variables =
    [
        "DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_TLS", "DOCKER_CERT_PATH", "DOCKER_CONTEXT", "XDG_RUNTIME_DIR", "MODWSGI_CACHE_DIR", "XDG_CACHE_HOME", "HOME", "SOURCE_DATE_EPOCH",
        .. RegistryCredentialSources.Variables, RegistryClientOptions.InsecureRegistriesVariable,
    ];

    /// <summary>DOCKER_HOST: the engine endpoint when the project names none; null means the default socket.</summary>
    public string? DockerHost { get; init; }

    /// <summary>DOCKER_TLS_VERIFY set to anything (as the docker CLI reads it): TLS to a tcp:// engine, its certificate verified.</summary>
    public bool DockerTlsVerify { get; init; }

    /// <summary>DOCKER_TLS set: TLS to a tcp:// engine without verifying it (the docker CLI's --tls).</summary>
    public bool DockerTls { get; init; }

    /// <summary>DOCKER_CERT_PATH: the folder with ca.pem, cert.pem, key.pem; null means <see cref="DockerConfigDirectory"/>.</summary>
    public string? DockerCertPath { get; init; }

    /// <summary>DOCKER_CONTEXT: the docker context to use when no DOCKER_HOST is given (else config.json's currentContext).</summary>
    public string? DockerContext { get; init; }

    /// <summary>The docker CLI's config folder ($DOCKER_CONFIG, else ~/.docker): config.json, contexts/, default certificates.</summary>
    public string DockerConfigDirectory { get; init; } = "";

    /// <summary>XDG_RUNTIME_DIR: where Podman's rootless socket lives (LocalRegistry=Podman).</summary>
    public string? RuntimeDirectory { get; init; }

    /// <summary>The build cache when the project names none: $MODWSGI_CACHE_DIR, else $XDG_CACHE_HOME/modwsgi, else ~/.cache/modwsgi.</summary>
    public required string CacheDirectory { get; init; }

    /// <summary>SOURCE_DATE_EPOCH (seconds) as given; null or unparsable falls back to the commit time, then a fixed epoch.</summary>
    public string? SourceDateEpoch { get; init; }

    /// <summary>Where registry credentials come from: the SDK's variables, docker's config.json, credential helpers on PATH.</summary>
    public required RegistryCredentialSources Credentials { get; init; }

    /// <summary>DOTNET_CONTAINER_INSECURE_REGISTRIES: registries allowed over plain HTTP besides the project's list.</summary>
    public IReadOnlyList<string> InsecureRegistries { get; init; } = [];

    /// <summary>Resolves the record from <paramref name="variable"/> (a variable's value, or null when unset), and nothing else.</summary>
    public static BuildEnvironment From(Func<string, string?> variable)
    {
        string? Value(string name) => variable(name) is { Length: > 0 } value ? value : null;
        var cacheHome = Value("XDG_CACHE_HOME") ?? Path.Combine(HomeDirectory(variable), ".cache");
        var credentials = RegistryCredentialSources.From(variable);
        return new BuildEnvironment
        {
            DockerHost = Value("DOCKER_HOST"),
            DockerTlsVerify = Value("DOCKER_TLS_VERIFY") is not null,
            DockerTls = Value("DOCKER_TLS") is not null,
            DockerCertPath = Value("DOCKER_CERT_PATH"),
            DockerContext = Value("DOCKER_CONTEXT"),
            DockerConfigDirectory = Path.GetDirectoryName(credentials.DockerConfigPath)!,
            RuntimeDirectory = Value("XDG_RUNTIME_DIR"),
            CacheDirectory = Value("MODWSGI_CACHE_DIR") ?? Path.Combine(cacheHome, "modwsgi"),
            SourceDateEpoch = Value("SOURCE_DATE_EPOCH"),
            Credentials = credentials,
            InsecureRegistries = RegistryClientOptions.ParseList(Value(RegistryClientOptions.InsecureRegistriesVariable)),
        };
    }

    /// <summary>$HOME; without one, the account's home folder (what the docker CLI and pip fall back to).</summary>
    internal static string HomeDirectory(Func<string, string?> variable) =>
        variable("HOME") is { Length: > 0 } home ? home : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
}
