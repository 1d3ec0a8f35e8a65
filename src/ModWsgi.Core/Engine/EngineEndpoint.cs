using ModWsgi.Core.Diagnostics;

namespace ModWsgi.Core.Engine;

/// <summary>Where the Engine API listens: a unix socket (default) or plain TCP, as DOCKER_HOST spells it.</summary>
public sealed record EngineEndpoint(string Display, string? SocketPath, Uri? TcpBase)
{
    public const string DefaultSocket = "/var/run/docker.sock";

    /// <summary>Resolves <paramref name="dockerHost"/> (DOCKER_HOST syntax); null or empty means the default socket.</summary>
    public static EngineEndpoint Parse(string? dockerHost)
    {
        if (string.IsNullOrWhiteSpace(dockerHost))
            return new EngineEndpoint("unix://" + DefaultSocket, DefaultSocket, null);
        if (dockerHost.StartsWith("unix://", StringComparison.OrdinalIgnoreCase))
        {
            var path = dockerHost["unix://".Length..];
            return new EngineEndpoint(dockerHost, path, null);
        }
        if (dockerHost.StartsWith("tcp://", StringComparison.OrdinalIgnoreCase)
            && Uri.TryCreate("http://" + dockerHost["tcp://".Length..], UriKind.Absolute, out var tcp))
            return new EngineEndpoint(dockerHost, null, tcp);
        throw new ModWsgiException(DiagnosticCodes.InvalidEngineEndpoint,
            $"DOCKER_HOST '{dockerHost}' is not supported: use unix:///path/to/docker.sock or tcp://host:port (TLS is not supported yet).");
    }

    /// <summary>
    /// The engine for LocalRegistry (Docker or Podman, both speak the Engine API): an explicit host wins,
    /// then the environment's DOCKER_HOST; Podman's default is its rootless socket, then the system one.
    /// </summary>
    public static EngineEndpoint ForLocalRegistry(string? localRegistry, string? dockerHost, BuildEnvironment environment)
    {
        if (!string.IsNullOrWhiteSpace(dockerHost))
            return Parse(dockerHost);
        if (string.Equals(localRegistry, "Podman", StringComparison.OrdinalIgnoreCase) && environment.DockerHost is null)
        {
            var rootless = environment.RuntimeDirectory is { } runtimeDir ? Path.Combine(runtimeDir, "podman", "podman.sock") : null;
            return Parse("unix://" + (rootless is not null && File.Exists(rootless) ? rootless : "/run/podman/podman.sock"));
        }
        return Parse(environment.DockerHost);
    }
}
