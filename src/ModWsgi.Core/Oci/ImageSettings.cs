namespace ModWsgi.Core.Oci;

/// <summary>The runtime settings the image config carries.</summary>
public sealed record ImageSettings
{
    public IReadOnlyList<string> Entrypoint { get; init; } = [];
    public IReadOnlyList<string> Cmd { get; init; } = [];
    public string WorkingDir { get; init; } = "/";
    public IReadOnlyList<string> Env { get; init; } = [];
    public IReadOnlyList<string> ExposedPorts { get; init; } = [];
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();
    public string? User { get; init; }
    public string? StopSignal { get; init; }
    public HealthCheck? HealthCheck { get; init; }
}
