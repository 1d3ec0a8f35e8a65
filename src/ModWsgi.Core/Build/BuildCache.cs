using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ModWsgi.Core.Oci;

namespace ModWsgi.Core.Build;

/// <summary>
/// The on-disk cache that survives across builds: a content-addressed blob store (layers), dependency
/// layers indexed by their cache key, and per-project notes (the last key's components, to say on a miss
/// which input changed; the last publish, for incrementality). Location: WsgiCacheDirectory,
/// $MODWSGI_CACHE_DIR, $XDG_CACHE_HOME/modwsgi or ~/.cache/modwsgi.
/// </summary>
public sealed class BuildCache
{
    public BuildCache(string root)
    {
        Root = Path.GetFullPath(root);
        Blobs = new FileBlobStore(Root);
    }

    public string Root { get; }

    public FileBlobStore Blobs { get; }

    public static string DefaultRoot()
    {
        if (Environment.GetEnvironmentVariable("MODWSGI_CACHE_DIR") is { Length: > 0 } explicitRoot)
            return explicitRoot;
        var cacheHome = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(cacheHome, "modwsgi");
    }

    /// <summary>The cached dependency layer for <paramref name="key"/>, when its entry and blob are both present.</summary>
    public Layer? FindDependencies(string key)
    {
        var entry = ReadJson(EntryPath("deps", key));
        if (entry?["layer"] is not JsonObject layer)
            return null;
        var found = new Layer(new Descriptor(MediaTypes.OciLayerGzip, layer["digest"]!.GetValue<string>(), layer["size"]!.GetValue<long>()),
            layer["diffId"]!.GetValue<string>());
        return Blobs.Contains(found.Blob.Digest) ? found : null;
    }

    public void SaveDependencies(string key, Layer layer) =>
        WriteJson(EntryPath("deps", key), new JsonObject { ["layer"] = LayerJson(layer) });

    /// <summary>Per-project notes (keyed by the project's full path): what the last build and publish saw.</summary>
    public JsonObject ReadProjectNotes(string projectDirectory) =>
        ReadJson(ProjectPath(projectDirectory)) as JsonObject ?? new JsonObject();

    public void WriteProjectNotes(string projectDirectory, JsonObject notes) => WriteJson(ProjectPath(projectDirectory), notes);

    /// <summary>Compressed blobs of a base image's layers (by diff id), exported once per base image id.</summary>
    public IReadOnlyList<Layer>? FindBaseLayers(string baseImageId)
    {
        if (ReadJson(EntryPath("base", baseImageId)) is not JsonArray layers)
            return null;
        var found = layers.Select(l => new Layer(new Descriptor(MediaTypes.OciLayerGzip, l!["digest"]!.GetValue<string>(), l["size"]!.GetValue<long>()),
            l["diffId"]!.GetValue<string>())).ToArray();
        return found.All(l => Blobs.Contains(l.Blob.Digest)) ? found : null;
    }

    public void SaveBaseLayers(string baseImageId, IReadOnlyList<Layer> layers) =>
        WriteJson(EntryPath("base", baseImageId), new JsonArray(layers.Select(l => (JsonNode?)LayerJson(l)).ToArray()));

    private static JsonObject LayerJson(Layer layer) =>
        new() { ["digest"] = layer.Blob.Digest, ["size"] = layer.Blob.Size, ["diffId"] = layer.DiffId };

    private string EntryPath(string kind, string digest) => Path.Combine(Root, kind, Digests.Hex(digest) + ".json");

    private string ProjectPath(string projectDirectory) =>
        Path.Combine(Root, "projects", Digests.Hex(Digests.Sha256(Encoding.UTF8.GetBytes(Path.GetFullPath(projectDirectory)))) + ".json");

    private static JsonNode? ReadJson(string path)
    {
        try
        {
            return File.Exists(path) ? JsonNode.Parse(File.ReadAllText(path)) : null;
        }
        catch (JsonException)
        {
            return null; // a damaged entry is a miss, not a failure
        }
    }

    private void WriteJson(string path, JsonNode node)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temp = Blobs.NewTempFile();
        File.WriteAllText(temp, node.ToJsonString());
        File.Move(temp, path, overwrite: true);
    }
}
