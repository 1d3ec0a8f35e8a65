using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModWsgi.Core.Oci;

namespace ModWsgi.Core.Cache;

/// <summary>
/// The on-disk cache that survives across builds: a content-addressed blob store (layers), dependency
/// layers indexed by their cache key, and per-project notes (the last key's components, to say on a miss
/// which input changed; the last publish, for incrementality). Location: WsgiCacheDirectory,
/// else the build environment's (<see cref="BuildEnvironment.CacheDirectory"/>).
/// An entry counts only while its blob is there with the size the entry recorded (<see cref="FileBlobStore.Holds"/>):
/// a damaged blob is removed and the entry is a miss, so the build makes it again. Builds of one key take turns
/// (<see cref="LockAsync"/>).
/// </summary>
public sealed class BuildCache
{
    /// <summary>How long a build waits for another build of the same key before it does the work itself.</summary>
    public static readonly TimeSpan DefaultLockTimeout = TimeSpan.FromMinutes(30);

    private readonly ILogger _logger;

    public BuildCache(string root, ILogger? logger = null)
    {
        Root = Path.GetFullPath(root);
        Blobs = new FileBlobStore(Root);
        _logger = logger ?? NullLogger.Instance;
    }

    public string Root { get; }

    public FileBlobStore Blobs { get; }

    /// <summary>See <see cref="DefaultLockTimeout"/>.</summary>
    public TimeSpan LockTimeout { get; init; } = DefaultLockTimeout;

    /// <summary>The cached dependency layer for <paramref name="key"/>, when its entry and blob are both present.</summary>
    public Layer? FindDependencies(string key) => Usable(ParseLayer((ReadJson(EntryPath("deps", key)) as JsonObject)?["layer"]), "dependency layer");

    public void SaveDependencies(string key, Layer layer) =>
        WriteJson(EntryPath("deps", key), new JsonObject { ["layer"] = LayerJson(layer) });

    /// <summary>Whether the server options of <paramref name="key"/> (their digest) already passed the launcher's check.</summary>
    public bool HasPassedServerCheck(string key) => File.Exists(EntryPath("checks", key));

    public void SavePassedServerCheck(string key) => WriteJson(EntryPath("checks", key), new JsonObject { ["passed"] = true });

    /// <summary>What installing a self-installing project added outside /app (its editable .pth/finder and dist-info), by <see cref="Steps.ProjectInstallKey"/>.</summary>
    public Layer? FindProjectInstall(string key) => Usable(ParseLayer((ReadJson(EntryPath("project-install", key)) as JsonObject)?["layer"]), "project install");

    public void SaveProjectInstall(string key, Layer layer) =>
        WriteJson(EntryPath("project-install", key), new JsonObject { ["layer"] = LayerJson(layer) });

    /// <summary>Per-project notes (keyed by the project's full path): what the last build and publish saw.</summary>
    public JsonObject ReadProjectNotes(string projectDirectory) =>
        ReadJson(ProjectPath(projectDirectory)) as JsonObject ?? new JsonObject();

    public void WriteProjectNotes(string projectDirectory, JsonObject notes) => WriteJson(ProjectPath(projectDirectory), notes);

    /// <summary>Compressed blobs of a base image's layers (by diff id), exported once per base image id.</summary>
    public IReadOnlyList<Layer>? FindBaseLayers(string baseImageId)
    {
        if (ReadJson(EntryPath("base", baseImageId)) is not JsonArray entries)
            return null;
        var layers = entries.Select(ParseLayer).OfType<Layer>().ToArray();
        return layers.Length == entries.Count && layers.All(l => Usable(l, "base image layer") is not null) ? layers : null;
    }

    /// <summary>
    /// Waits until no other build (of any process) works on <paramref name="key"/> of <paramref name="kind"/>, and
    /// holds it until disposed. Look in the cache again once it is held: the build waited for may have made the entry.
    /// </summary>
    public Task<CacheLock> LockAsync(string kind, string key, string what, CancellationToken cancellationToken) =>
        CacheLock.AcquireAsync(Path.Combine(Root, "locks", kind + "-" + Digests.Hex(key) + ".lock"), what, LockTimeout, _logger, cancellationToken);

    /// <summary>Temp files of builds that died (see <see cref="FileBlobStore.RemoveStaleTempFiles"/>); logged when there were any.</summary>
    public void RemoveStaleTempFiles()
    {
        var removed = Blobs.RemoveStaleTempFiles(DateTimeOffset.UtcNow);
        if (removed > 0)
            _logger.LogInformation("Removed {Count} temp file(s) that builds which did not finish left in {Folder}", removed, Blobs.TempDirectory);
    }

    /// <summary>The layer when its blob is there with the recorded size; a damaged blob is removed and said so (the caller rebuilds).</summary>
    private Layer? Usable(Layer? layer, string what)
    {
        if (layer is null)
            return null;
        var present = Blobs.Contains(layer.Blob.Digest);
        if (Blobs.Holds(layer.Blob))
            return layer;
        if (present)
            _logger.LogWarning(new EventId(Diagnostics.DiagnosticCodes.CacheBlobDamaged.Number, Diagnostics.DiagnosticCodes.CacheBlobDamaged.Id),
                "The cached {What} {Digest} is not the size its entry recorded ({Size} bytes): {Outcome}; making it again.",
                what, layer.Blob.Digest, layer.Blob.Size, Blobs.Contains(layer.Blob.Digest) ? "the entry is wrong" : "the damaged blob was removed");
        return null;
    }

    public void SaveBaseLayers(string baseImageId, IReadOnlyList<Layer> layers) =>
        WriteJson(EntryPath("base", baseImageId), new JsonArray(layers.Select(l => (JsonNode?)LayerJson(l)).ToArray()));

    /// <summary>The config digest a base image's export named (by base image id; see <see cref="Oci.BaseImage.ConfigDigest"/>).</summary>
    public string? FindBaseConfigDigest(string baseImageId) =>
        (ReadJson(EntryPath("base-config", baseImageId)) as JsonObject)?["config"] is JsonValue value && value.TryGetValue<string>(out var digest) && IsDigest(digest) ? digest : null;

    public void SaveBaseConfigDigest(string baseImageId, string configDigest) =>
        WriteJson(EntryPath("base-config", baseImageId), new JsonObject { ["config"] = configDigest });

    /// <summary>A layer entry, or null for anything else: the cache is shared across SDK versions and may hold other shapes.</summary>
    private static Layer? ParseLayer(JsonNode? node)
    {
        if (node is not JsonObject layer
            || layer["digest"] is not JsonValue digest || !digest.TryGetValue<string>(out var blobDigest) || !IsDigest(blobDigest)
            || layer["diffId"] is not JsonValue diff || !diff.TryGetValue<string>(out var diffId) || !IsDigest(diffId)
            || layer["size"] is not JsonValue sizeValue || !sizeValue.TryGetValue<long>(out var size))
            return null;
        return new Layer(new Descriptor(MediaTypes.OciLayerGzip, blobDigest, size), diffId);
    }

    private static bool IsDigest(string value)
    {
        try
        {
            Digests.Hex(value);
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

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
        try
        {
            FileBlobStore.WriteDurably(temp, Encoding.UTF8.GetBytes(node.ToJsonString()));
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }
}
