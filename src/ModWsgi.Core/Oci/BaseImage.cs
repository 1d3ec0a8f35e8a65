using System.Text.Json.Nodes;

namespace ModWsgi.Core.Oci;

/// <summary>What the build knows of the base image from the engine.</summary>
/// <param name="Id">The engine's image id: what the engine finds the image by (the config digest, except on
/// Docker's containerd store, where it is the manifest digest).</param>
public sealed record BaseImage(string Name, string Id, string Architecture, string Os, IReadOnlyList<string> DiffIds, IReadOnlyList<string> Env)
{
    /// <summary>
    /// The digest of the base's config: the image's identity on every engine, so what goes into our config and
    /// cache keys. The engine's id where that is the config digest; on the containerd store it is read from the
    /// base's export (<see cref="Layers.BaseLayerExporter.WithConfigDigestAsync"/>).
    /// </summary>
    public string ConfigDigest { get; init; } = Id;

    public static BaseImage FromInspect(string name, JsonObject inspect) => new(
        name,
        inspect["Id"]!.GetValue<string>(),
        inspect["Architecture"]?.GetValue<string>() ?? "amd64",
        inspect["Os"]?.GetValue<string>() ?? "linux",
        inspect["RootFS"]?["Layers"]?.AsArray().Select(l => l!.GetValue<string>()).ToArray() ?? [],
        inspect["Config"]?["Env"]?.AsArray().Select(e => e!.GetValue<string>()).ToArray() ?? []);
}
