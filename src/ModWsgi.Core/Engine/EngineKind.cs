using System.Text.Json.Nodes;

namespace ModWsgi.Core.Engine;

/// <summary>What kind of engine answers, as far as loading an image into it goes.</summary>
public enum EngineKind
{
    /// <summary>Docker with its classic image store (graph drivers such as overlay2).</summary>
    DockerClassicStore,

    /// <summary>Docker with the containerd image store (the containerd snapshotter).</summary>
    DockerContainerdStore,

    Podman,
}

public static class EngineKinds
{
    /// <summary>
    /// Tells the kind from GET /version and GET /info. Podman names itself in /version's Components; the
    /// containerd store reports <c>driver-type io.containerd.snapshotter.v1</c> in /info's DriverStatus
    /// (Docker 26.1 with the snapshotter: Driver "overlayfs"). Anything else is taken for the classic store.
    /// </summary>
    public static EngineKind Classify(JsonObject? version, JsonObject? info)
    {
        if (version?["Components"] is JsonArray components
            && components.Any(c => c?["Name"] is JsonValue name && name.TryGetValue<string>(out var n) && n.StartsWith("Podman", StringComparison.OrdinalIgnoreCase)))
            return EngineKind.Podman;
        if (info?["DriverStatus"] is JsonArray status
            && status.Any(pair => pair is JsonArray { Count: 2 } p && p[1] is JsonValue v && v.TryGetValue<string>(out var s)
                && s.StartsWith("io.containerd.snapshotter", StringComparison.Ordinal)))
            return EngineKind.DockerContainerdStore;
        return EngineKind.DockerClassicStore;
    }

    /// <summary>
    /// Whether `docker load` takes an archive that names layers the engine already holds without carrying
    /// them. Only the classic store does; Podman ("Some layer tarfiles are missing") and the containerd store
    /// (`layer "..." not found`) need every layer in the archive.
    /// </summary>
    public static bool LoadsArchivesWithoutHeldLayers(this EngineKind kind) => kind == EngineKind.DockerClassicStore;
}
