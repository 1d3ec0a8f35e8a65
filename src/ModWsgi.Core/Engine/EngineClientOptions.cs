namespace ModWsgi.Core.Engine;

/// <summary>
/// How long the engine client waits. Streams (exec output, load, save, archive uploads) run as long as the
/// build does and have no timeout: the caller cancels them. Everything else is a short question.
/// </summary>
public sealed record EngineClientOptions
{
    public static EngineClientOptions Default { get; } = new();

    /// <summary>Opening a connection to the engine's socket or port.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A call that is not a stream (inspect, create, start, changes, exec set-up, version).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Removing a container, also the cleanup after a failed or cancelled build: short, so a paused or hung
    /// engine cannot keep a cancelled build alive.
    /// </summary>
    public TimeSpan RemovalTimeout { get; init; } = TimeSpan.FromSeconds(10);
}
