using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Registry;

namespace ModWsgi.Core.Engine;

/// <summary>
/// Where the Engine API listens, as DOCKER_HOST (or a docker context) spells it: a unix socket (default),
/// TCP (plain, or TLS when <see cref="Tls"/> is set) or ssh (<see cref="Ssh"/>: the remote's
/// <c>docker system dial-stdio</c>). How to connect lives in <see cref="EngineTransport"/>.
/// </summary>
public sealed record EngineEndpoint(string Display, string? SocketPath, Uri? TcpBase)
{
    public const string DefaultSocket = "/var/run/docker.sock";

    /// <summary>TLS for a tcp:// endpoint (DOCKER_TLS_VERIFY/DOCKER_TLS, or a context's TLS material); null is plain TCP.</summary>
    public EngineTls? Tls { get; init; }

    /// <summary>The ssh target of an ssh:// endpoint.</summary>
    public SshTarget? Ssh { get; init; }

    /// <summary>Resolves <paramref name="dockerHost"/> (DOCKER_HOST syntax) without TLS; null or empty means the default socket.</summary>
    public static EngineEndpoint Parse(string? dockerHost) => Parse(dockerHost, tls: null, sshProgram: "ssh");

    /// <summary>Resolves <paramref name="dockerHost"/>; <paramref name="tls"/> applies to tcp:// only (as in the docker CLI).</summary>
    public static EngineEndpoint Parse(string? dockerHost, EngineTls? tls, string sshProgram)
    {
        if (string.IsNullOrWhiteSpace(dockerHost))
            return new EngineEndpoint("unix://" + DefaultSocket, DefaultSocket, null);
        if (dockerHost.StartsWith("unix://", StringComparison.OrdinalIgnoreCase))
        {
            var path = dockerHost["unix://".Length..];
            return new EngineEndpoint(dockerHost, path, null);
        }
        if (dockerHost.StartsWith("tcp://", StringComparison.OrdinalIgnoreCase))
        {
            var authority = dockerHost["tcp://".Length..].TrimEnd('/');
            // The docker CLI's default ports: 2376 with TLS, 2375 without.
            if (!HasPort(authority))
                authority += tls is null ? ":2375" : ":2376";
            if (authority.Length > 0 && !authority.Contains('/') && Uri.TryCreate((tls is null ? "http://" : "https://") + authority, UriKind.Absolute, out var tcp))
                return new EngineEndpoint(dockerHost, null, tcp) { Tls = tls };
        }
        if (dockerHost.StartsWith("ssh://", StringComparison.OrdinalIgnoreCase)
            && Uri.TryCreate(dockerHost, UriKind.Absolute, out var ssh) && ssh.Host.Length > 0
            && !ssh.UserInfo.Contains(':') && ssh.AbsolutePath is "/" or "")
        {
            var user = ssh.UserInfo.Length > 0 ? Uri.UnescapeDataString(ssh.UserInfo) : null;
            return new EngineEndpoint(dockerHost, null, null) { Ssh = new SshTarget(user, ssh.Host, ssh.IsDefaultPort || ssh.Port < 0 ? null : ssh.Port, sshProgram) };
        }
        throw new ModWsgiException(DiagnosticCodes.InvalidEngineEndpoint,
            $"DOCKER_HOST '{dockerHost}' is not supported: use unix:///path/to/docker.sock, tcp://host:port " +
            "(with DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH for TLS) or ssh://[user@]host[:port].");
    }

    private static bool HasPort(string authority)
    {
        var colon = authority.LastIndexOf(':');
        return colon > authority.LastIndexOf(']') && colon < authority.Length - 1 && authority[(colon + 1)..].All(char.IsAsciiDigit);
    }

    /// <summary>
    /// The engine as the docker CLI picks it: <paramref name="dockerHost"/> (the project's, like <c>-H</c>) wins,
    /// then DOCKER_HOST (both with DOCKER_TLS_VERIFY/DOCKER_TLS/DOCKER_CERT_PATH), then the docker context
    /// (DOCKER_CONTEXT, else config.json's currentContext); the context <c>default</c> is the default socket.
    /// </summary>
    public static EngineEndpoint Resolve(string? dockerHost, BuildEnvironment environment)
    {
        var sshProgram = DockerConfigCredentialStore.FindOnPath("ssh", environment.Credentials.SearchPath) ?? "ssh";
        var host = !string.IsNullOrWhiteSpace(dockerHost) ? dockerHost : environment.DockerHost;
        if (host is not null)
            return Parse(host, EngineTls.FromEnvironment(environment), sshProgram);
        return DockerContexts.Resolve(environment, sshProgram) ?? Parse(null);
    }

    /// <summary>Podman's system service socket (rootful: <c>podman system service</c> as root, or podman.socket's system unit).</summary>
    public const string PodmanRootfulSocket = "/run/podman/podman.sock";

    /// <summary>
    /// The engine for LocalRegistry (Docker or Podman, both speak the Engine API): an explicit host wins,
    /// then the environment's DOCKER_HOST and docker context. Podman without a host: its rootless socket
    /// ($XDG_RUNTIME_DIR/podman/podman.sock) when it exists, else the rootful one, else MODWSGI3016 saying what to start.
    /// Docker contexts are the docker CLI's, so they are not read for Podman.
    /// </summary>
    /// <param name="socketExists">Whether a socket file exists (a seam for tests); null asks the file system.</param>
    public static EngineEndpoint ForLocalRegistry(string? localRegistry, string? dockerHost, BuildEnvironment environment, Func<string, bool>? socketExists = null)
    {
        if (string.IsNullOrWhiteSpace(dockerHost) && environment.DockerHost is null
            && string.Equals(localRegistry, "Podman", StringComparison.OrdinalIgnoreCase))
            return Parse("unix://" + FindPodmanSocket(environment, socketExists ?? File.Exists));
        return Resolve(dockerHost, environment);
    }

    private static string FindPodmanSocket(BuildEnvironment environment, Func<string, bool> socketExists)
    {
        var rootless = environment.RuntimeDirectory is { } runtimeDir ? Path.Combine(runtimeDir, "podman", "podman.sock") : null;
        if (rootless is not null && socketExists(rootless))
            return rootless;
        if (socketExists(PodmanRootfulSocket))
            return PodmanRootfulSocket;
        var looked = rootless is null ? $"{PodmanRootfulSocket} (and XDG_RUNTIME_DIR is unset, so no rootless socket)" : $"{rootless} (rootless) and {PodmanRootfulSocket} (rootful)";
        throw new ModWsgiException(DiagnosticCodes.PodmanSocketMissing,
            $"LocalRegistry=Podman, but there is no Podman socket at {looked}. Start Podman's API service: " +
            "'systemctl --user start podman.socket' (rootless), 'sudo systemctl start podman.socket' (rootful), " +
            $"or 'podman system service --time=0 unix://{rootless ?? PodmanRootfulSocket} &'; or set DOCKER_HOST to the socket Podman listens on.");
    }
}

/// <summary>
/// TLS to a tcp:// engine. <paramref name="Verify"/>: check the engine's certificate against
/// <paramref name="CaFile"/> (the system's roots when null) and its name; <paramref name="CertFile"/> and
/// <paramref name="KeyFile"/> are the client certificate. <paramref name="Origin"/> says where they came from, for messages.
/// </summary>
public sealed record EngineTls(bool Verify, string? CaFile, string? CertFile, string? KeyFile, string CertDirectory, string Origin)
{
    /// <summary>
    /// The docker CLI's environment: DOCKER_TLS_VERIFY set (to anything) means TLS with verification, DOCKER_TLS set means
    /// TLS without; files from DOCKER_CERT_PATH (default: the docker config folder), each used only when it exists.
    /// </summary>
    public static EngineTls? FromEnvironment(BuildEnvironment environment)
    {
        if (!environment.DockerTlsVerify && !environment.DockerTls)
            return null;
        var directory = environment.DockerCertPath ?? environment.DockerConfigDirectory;
        var origin = environment.DockerCertPath is null ? $"{directory} (DOCKER_CERT_PATH is unset)" : $"DOCKER_CERT_PATH={directory}";
        if (environment.DockerCertPath is not null)
        {
            // Named explicitly: a folder that is not there, or holds none of the three, is a mistake, not "no files".
            if (!Directory.Exists(directory))
                throw new ModWsgiException(DiagnosticCodes.EngineTlsFilesInvalid,
                    $"DOCKER_CERT_PATH names '{directory}', which does not exist: point it at the folder holding ca.pem, cert.pem and key.pem.");
            if (!new[] { "ca.pem", "cert.pem", "key.pem" }.Any(f => File.Exists(Path.Combine(directory, f))))
                throw new ModWsgiException(DiagnosticCodes.EngineTlsFilesInvalid,
                    $"DOCKER_CERT_PATH={directory} holds none of ca.pem, cert.pem, key.pem: copy the engine's CA and your client certificate there.");
        }
        return FromDirectory(environment.DockerTlsVerify, directory, origin);
    }

    internal static EngineTls FromDirectory(bool verify, string directory, string origin)
    {
        string? Existing(string name) => Path.Combine(directory, name) is var path && File.Exists(path) ? path : null;
        return new EngineTls(verify, Existing("ca.pem"), Existing("cert.pem"), Existing("key.pem"), directory, origin);
    }
}

/// <summary>An ssh:// engine: <c>ssh [-l User] [-p Port] Host docker system dial-stdio</c>, run with <paramref name="Program"/>.</summary>
public sealed record SshTarget(string? User, string Host, int? Port, string Program);
