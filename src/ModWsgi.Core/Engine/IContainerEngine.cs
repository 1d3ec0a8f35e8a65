using System.Text.Json.Nodes;

namespace ModWsgi.Core.Engine;

/// <summary>
/// The part of a container engine (Docker or Podman, Engine API) the builder needs. The seam tests use
/// at the edge; <see cref="DockerEngineClient"/> is the real one.
/// </summary>
public interface IContainerEngine
{
    EngineEndpoint Endpoint { get; }

    /// <summary>Checks the engine answers; throws MODWSGI3001 naming the endpoint when it does not.</summary>
    Task<EngineVersion> PingAsync(CancellationToken cancellationToken);

    /// <summary>The image's inspect document, or null when the engine has no such image.</summary>
    Task<JsonObject?> InspectImageAsync(string image, CancellationToken cancellationToken);

    Task<string> CreateContainerAsync(ContainerSpec spec, CancellationToken cancellationToken);

    Task StartContainerAsync(string containerId, CancellationToken cancellationToken);

    Task RemoveContainerAsync(string containerId, CancellationToken cancellationToken);

    /// <summary>Extracts a tar stream into the container at <paramref name="path"/>.</summary>
    Task PutArchiveAsync(string containerId, string path, Stream tar, CancellationToken cancellationToken);

    /// <summary>Runs a command in a running container, streaming each output line; returns its exit code.</summary>
    Task<long> ExecAsync(string containerId, ExecSpec spec, Action<OutputLine> onLine, CancellationToken cancellationToken);

    /// <summary>Commits the container's filesystem as an image with <paramref name="config"/>; returns the image id.</summary>
    Task<string> CommitAsync(string containerId, ImageReference reference, JsonObject config, CancellationToken cancellationToken);

    Task TagImageAsync(string image, ImageReference reference, CancellationToken cancellationToken);
}

public sealed record EngineVersion(string Version, string ApiVersion, string Os, string Architecture);

public sealed record ContainerSpec(string Image, IReadOnlyList<string> Command)
{
    public string? Name { get; init; }
    public string? WorkingDir { get; init; }
    public IReadOnlyList<string> Env { get; init; } = [];
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();
}

public sealed record ExecSpec(IReadOnlyList<string> Command)
{
    public string? WorkingDir { get; init; }
    /// <summary>Variables for this exec only: they never reach the committed image config.</summary>
    public IReadOnlyList<string> Env { get; init; } = [];
    public string? User { get; init; }
}

public enum OutputStream { Stdout, Stderr }

public readonly record struct OutputLine(OutputStream Stream, string Text);
