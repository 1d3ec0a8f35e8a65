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

    /// <summary>The endpoint named by the environment (DOCKER_HOST), as the docker CLI picks it.</summary>
    public static EngineEndpoint FromEnvironment() => Parse(Environment.GetEnvironmentVariable("DOCKER_HOST"));
}
