using ModWsgi.Core.Diagnostics;

namespace ModWsgi.Core.Engine;

/// <summary>
/// The Engine API versions this client speaks, and the choice of one an engine also speaks. Docker 20.10 and
/// Podman 4 speak 1.41 (our floor); newer Docker engines raise their minimum (Docker 29: 1.44), so a fixed
/// version stops working on them.
/// </summary>
public static class EngineApiVersion
{
    /// <summary>The oldest version whose calls and answers this client knows (Docker 20.10).</summary>
    public static Version Oldest { get; } = new(1, 41);

    /// <summary>The newest version whose calls and answers this client knows (Docker 27).</summary>
    public static Version Newest { get; } = new(1, 47);

    /// <summary>
    /// The highest version both sides speak: min(engine's newest, ours), which must be neither below our oldest
    /// nor below the engine's minimum. <paramref name="engineMinimum"/> is null when the engine does not say.
    /// </summary>
    public static Version Choose(Version engineNewest, Version? engineMinimum, string engineDisplay)
    {
        var chosen = engineNewest < Newest ? engineNewest : Newest;
        if (chosen < Oldest || (engineMinimum is not null && chosen < engineMinimum))
        {
            var engineRange = engineMinimum is null ? $"up to {engineNewest}" : $"{engineMinimum} to {engineNewest}";
            throw new ModWsgiException(DiagnosticCodes.EngineApiVersionUnsupported,
                $"The container engine at {engineDisplay} speaks Engine API {engineRange}; ModWsgi speaks {Oldest} to {Newest}, so no version is common. " +
                (chosen < Oldest
                    ? "Upgrade the engine (Docker 20.10 or newer, Podman 4 or newer)."
                    : "Upgrade ModWsgi.Sdk, or start the engine with a lower minimum (dockerd reads DOCKER_MIN_API_VERSION)."));
        }
        return chosen;
    }

    /// <summary>"1.45" as the engine writes it; null for anything else.</summary>
    public static Version? Parse(string? text) =>
        Version.TryParse(text?.Trim(), out var version) && version.Build < 0 ? version : null;
}
