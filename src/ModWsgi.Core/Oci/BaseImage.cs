using System.Text.Json.Nodes;

namespace ModWsgi.Core.Oci;

/// <summary>What the build knows of the base image from the engine.</summary>
public sealed record BaseImage(string Name, string Id, string Architecture, string Os, IReadOnlyList<string> DiffIds, IReadOnlyList<string> Env)
{
    public static BaseImage FromInspect(string name, JsonObject inspect) => new(
        name,
        inspect["Id"]!.GetValue<string>(),
        inspect["Architecture"]?.GetValue<string>() ?? "amd64",
        inspect["Os"]?.GetValue<string>() ?? "linux",
        inspect["RootFS"]?["Layers"]?.AsArray().Select(l => l!.GetValue<string>()).ToArray() ?? [],
        inspect["Config"]?["Env"]?.AsArray().Select(e => e!.GetValue<string>()).ToArray() ?? []);
}
