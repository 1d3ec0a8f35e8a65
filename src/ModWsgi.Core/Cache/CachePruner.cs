using System.Text.Json;
using System.Text.Json.Nodes;
using ModWsgi.Core.Oci;

namespace ModWsgi.Core.Cache;

/// <summary>What a prune of the cache folder did.</summary>
/// <param name="BytesBefore">Blobs and entries before.</param>
/// <param name="BytesAfter">Blobs and entries after.</param>
/// <param name="KeptDependencyLayers">Diff ids of the dependency layers still cached: a stage image of any other is of no further use.</param>
/// <param name="RemovedDependencyLayers">Diff ids of the dependency layers this prune removed from the cache: their stage images
/// are this cache's to remove. (Another cache on the same engine, another user's or CI job's, may hold other stages.)</param>
public sealed record CachePruneResult(long BytesBefore, long BytesAfter, int BlobsRemoved, int EntriesRemoved, IReadOnlySet<string> KeptDependencyLayers)
{
    public IReadOnlySet<string> RemovedDependencyLayers { get; init; } = new HashSet<string>();
}

/// <summary>
/// Keeps the cache folder bounded. Removes blobs no entry names (the application layers of earlier builds, the
/// dependency step's input archives, stale temp files), then, over a size limit, whole entries least recently used
/// first (a dependency layer, a project install, a base image's exported layers) with the blobs only they named.
/// An entry's last use is the newest mtime of its file and its blobs: a build marks what it used
/// (<see cref="MarkUsed"/>). Run only under <see cref="PruneLock.ExclusiveAsync"/>: a running build's fresh blobs
/// are named by no entry yet. Per-project notes (tiny; they make an unchanged project up to date) stay.
/// </summary>
public static class CachePruner
{
    /// <summary>
    /// Folders of the cache root that hold no entries: every other folder's JSON files are entries (deps,
    /// project-install, base, checks, base-config, and kinds later versions add), and a blob any of them names stays.
    /// </summary>
    private static readonly string[] NotEntryFolders = ["blobs", "tmp", "projects"];

    /// <summary>A temp file this old belongs to no running build (a build by an SDK without the lock may share the folder).</summary>
    private static readonly TimeSpan StaleTempFile = TimeSpan.FromHours(1);

    private sealed record Entry(string Path, string Kind, long Size, DateTime LastUsed, IReadOnlyList<string> Blobs, IReadOnlyList<string> DiffIds);

    /// <param name="sizeLimit">Blobs and entries together stay at or under this many bytes; null for no bound.</param>
    /// <param name="everything">Every entry and blob goes (the project notes stay).</param>
    public static CachePruneResult Prune(string root, long? sizeLimit, bool everything, DateTime utcNow)
    {
        var blobsFolder = Path.Combine(root, "blobs", "sha256");
        var blobs = Directory.Exists(blobsFolder)
            ? new DirectoryInfo(blobsFolder).EnumerateFiles().ToDictionary(f => "sha256:" + f.Name, f => f, StringComparer.Ordinal)
            : new Dictionary<string, FileInfo>(StringComparer.Ordinal);
        var kinds = Directory.Exists(root)
            ? new DirectoryInfo(root).EnumerateDirectories().Select(d => d.Name).Where(n => !NotEntryFolders.Contains(n, StringComparer.Ordinal)).ToArray()
            : [];
        var all = kinds.SelectMany(kind => ReadEntries(root, kind, blobs)).ToList();
        // Entries that name blobs are what a size bound weighs; the rest are facts of a few bytes, removed only with everything.
        var entries = all.Where(e => e.Blobs.Count > 0).ToList();
        var facts = all.Where(e => e.Blobs.Count == 0).Select(e => new FileInfo(e.Path)).ToList();
        var before = blobs.Values.Sum(b => b.Length) + entries.Sum(e => e.Size) + facts.Sum(f => f.Length);
        var entriesRemoved = 0;

        // An entry whose blob is gone is a miss for every build: it only takes room.
        foreach (var broken in entries.Where(e => everything || e.Blobs.Any(b => !blobs.ContainsKey(b))).ToArray())
        {
            Delete(broken.Path);
            entries.Remove(broken);
            entriesRemoved++;
        }
        if (everything)
        {
            foreach (var fact in facts)
                Delete(fact.FullName);
            entriesRemoved += facts.Count;
            facts.Clear();
        }

        var references = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var digest in entries.SelectMany(e => e.Blobs.Distinct()))
            references[digest] = references.GetValueOrDefault(digest) + 1;
        var blobsRemoved = 0;
        foreach (var (digest, file) in blobs.Where(b => !references.ContainsKey(b.Key)).ToArray())
        {
            Delete(file.FullName);
            blobs.Remove(digest);
            blobsRemoved++;
        }
        foreach (var temp in Files(Path.Combine(root, "tmp")).Where(f => utcNow - f.LastWriteTimeUtc > StaleTempFile))
            Delete(temp.FullName);

        var size = blobs.Values.Sum(b => b.Length) + entries.Sum(e => e.Size) + facts.Sum(f => f.Length);
        if (sizeLimit is { } limit)
        {
            foreach (var entry in entries.OrderBy(e => e.LastUsed).ThenBy(e => e.Path, StringComparer.Ordinal).ToArray())
            {
                if (size <= limit)
                    break;
                Delete(entry.Path);
                entries.Remove(entry);
                entriesRemoved++;
                size -= entry.Size;
                foreach (var digest in entry.Blobs.Distinct())
                {
                    if ((references[digest] -= 1) > 0 || !blobs.Remove(digest, out var file))
                        continue;
                    Delete(file.FullName);
                    blobsRemoved++;
                    size -= file.Length;
                }
            }
        }
        var kept = entries.Where(e => e.Kind == "deps").SelectMany(e => e.DiffIds).ToHashSet(StringComparer.Ordinal);
        var removed = all.Where(e => e.Kind == "deps").SelectMany(e => e.DiffIds).Where(d => !kept.Contains(d)).ToHashSet(StringComparer.Ordinal);
        return new CachePruneResult(before, size, blobsRemoved, entriesRemoved, kept) { RemovedDependencyLayers = removed };
    }

    /// <summary>
    /// Marks, as of now, the blobs and dependency entry a build used, so a size-bound prune takes entries used longest
    /// ago first (the cache's own reads leave no trace: atime is off or lazy on most mounts).
    /// </summary>
    public static void MarkUsed(BuildCache cache, IEnumerable<string> blobDigests, string? dependencyKey, DateTime utcNow)
    {
        foreach (var digest in blobDigests)
            Touch(cache.Blobs.PathOf(digest), utcNow);
        if (dependencyKey is not null)
            Touch(Path.Combine(cache.Root, "deps", Digests.Hex(dependencyKey) + ".json"), utcNow);
    }

    private static void Touch(string path, DateTime utcNow)
    {
        try
        {
            File.SetLastWriteTimeUtc(path, utcNow);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // gone meanwhile, or not ours to touch: it merely counts as older
        }
    }

    private static IEnumerable<Entry> ReadEntries(string root, string kind, Dictionary<string, FileInfo> blobs)
    {
        foreach (var file in Files(Path.Combine(root, kind)))
        {
            JsonNode? json;
            try
            {
                json = JsonNode.Parse(File.ReadAllText(file.FullName));
            }
            catch (Exception ex) when (ex is JsonException or IOException)
            {
                json = null;
            }
            // Layers wherever they sit ({"layer": {...}}, [{...}, ...], or a shape a later version writes): any object with a digest.
            var layers = ObjectsIn(json).Where(o => o["digest"] is JsonValue).ToArray();
            var digests = layers.Select(l => (l["digest"] as JsonValue)?.TryGetValue<string>(out var d) == true ? d : null).OfType<string>().ToArray();
            var diffIds = layers.Select(l => (l["diffId"] as JsonValue)?.TryGetValue<string>(out var d) == true ? d : null).OfType<string>().ToArray();
            var lastUsed = digests.Select(d => blobs.TryGetValue(d, out var blob) ? blob.LastWriteTimeUtc : DateTime.MinValue)
                .Append(file.LastWriteTimeUtc).Max();
            yield return new Entry(file.FullName, kind, file.Length, lastUsed, digests, diffIds);
        }
    }

    private static IEnumerable<JsonObject> ObjectsIn(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject o:
                yield return o;
                foreach (var child in o.Select(p => p.Value).SelectMany(ObjectsIn))
                    yield return child;
                break;
            case JsonArray a:
                foreach (var child in a.SelectMany(ObjectsIn))
                    yield return child;
                break;
        }
    }

    private static IEnumerable<FileInfo> Files(string folder) =>
        Directory.Exists(folder) ? new DirectoryInfo(folder).EnumerateFiles() : [];

    private static void Delete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // left for the next prune
        }
    }
}
