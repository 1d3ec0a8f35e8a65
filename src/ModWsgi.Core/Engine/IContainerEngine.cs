using System.Text.Json.Nodes;

namespace ModWsgi.Core.Engine;

/// <summary>
/// The part of a container engine (Docker or Podman, Engine API) the build needs, and no more. The seam tests use
/// at the edge; <see cref="DockerEngineClient"/> is the real one.
/// </summary>
public interface IContainerEngine
{
    /// <summary>The image's inspect document, or null when the engine has no such image.</summary>
    Task<JsonObject?> InspectImageAsync(string image, CancellationToken cancellationToken);

    Task<string> CreateContainerAsync(ContainerSpec spec, CancellationToken cancellationToken);

    Task StartContainerAsync(string containerId, CancellationToken cancellationToken);

    Task RemoveContainerAsync(string containerId, CancellationToken cancellationToken);

    /// <summary>Extracts a tar stream into the container at <paramref name="path"/>.</summary>
    Task PutArchiveAsync(string containerId, string path, Stream tar, CancellationToken cancellationToken);

    /// <summary>Runs a command in a running container, streaming each output line; returns its exit code.</summary>
    Task<long> ExecAsync(string containerId, ExecSpec spec, Action<OutputLine> onLine, CancellationToken cancellationToken);

    /// <summary>What the container changed in its root filesystem, relative to its image.</summary>
    Task<IReadOnlyList<FilesystemChange>> GetChangesAsync(string containerId, CancellationToken cancellationToken);

    /// <summary>Runs a command whose stdout is binary (a tar) into <paramref name="stdout"/>; stderr lines go to <paramref name="onStderr"/>.</summary>
    Task<long> ExecToStreamAsync(string containerId, ExecSpec spec, Stream stdout, Action<string> onStderr, CancellationToken cancellationToken);

    /// <summary>The image's history (one entry per layer or empty step, newest first), as `docker history` shows it.</summary>
    Task<JsonArray> GetImageHistoryAsync(string image, CancellationToken cancellationToken);

    /// <summary>Streams the image as a docker-archive tar (`docker save`).</summary>
    Task<Stream> SaveImageAsync(string image, CancellationToken cancellationToken);

    /// <summary>What kind of engine this is (Docker's classic or containerd store, or Podman): how images load into it.</summary>
    Task<EngineKind> GetEngineKindAsync(CancellationToken cancellationToken);

    /// <summary>Loads a docker-archive tar (manifest.json + config + layers) into the engine.</summary>
    Task LoadImageAsync(Stream archive, CancellationToken cancellationToken);

    /// <summary>Containers, running or not, that carry every label of <paramref name="labels"/> ("key" or "key=value").</summary>
    Task<IReadOnlyList<ContainerSummary>> ListContainersAsync(IReadOnlyList<string> labels, CancellationToken cancellationToken);

    /// <summary>Images that carry every label of <paramref name="labels"/>; only untagged ones when <paramref name="danglingOnly"/>.</summary>
    Task<IReadOnlyList<ImageSummary>> ListImagesAsync(IReadOnlyList<string> labels, bool danglingOnly, CancellationToken cancellationToken);

    /// <summary>
    /// Removes an image (by name: that name; by id: the image), never forced: false when a container still uses it
    /// or another name still holds it (409), or it is gone already.
    /// </summary>
    Task<bool> RemoveImageAsync(string image, CancellationToken cancellationToken);
}

/// <param name="State">created, running, paused, restarting, removing, exited or dead (the engine's word).</param>
/// <param name="Created">When the engine created it.</param>
public sealed record ContainerSummary(string Id, string State, IReadOnlyDictionary<string, string> Labels, DateTimeOffset Created);

/// <param name="RepoTags">The names on it (none for a dangling image).</param>
/// <param name="Size">Its size in the engine, in bytes, as the engine counts it.</param>
public sealed record ImageSummary(string Id, IReadOnlyList<string> RepoTags, IReadOnlyDictionary<string, string> Labels, long Size);

public enum ChangeKind { Modified = 0, Added = 1, Deleted = 2 }

/// <summary>One path (absolute, as the engine reports it) the container changed.</summary>
public sealed record FilesystemChange(string Path, ChangeKind Kind);

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
