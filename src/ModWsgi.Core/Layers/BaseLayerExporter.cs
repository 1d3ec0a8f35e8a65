using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Engine;
using ModWsgi.Core.Oci;

namespace ModWsgi.Core.Layers;

/// <summary>
/// Registries and archives need the base image's layers as compressed blobs; the engine hands them out in
/// `docker save`'s archive, whose layout differs by engine (see <see cref="SavedImageLayout"/>). Done once per
/// base image id: the blobs stay in the build cache.
/// </summary>
public static class BaseLayerExporter
{
    public static async Task<IReadOnlyList<Layer>> EnsureAsync(IContainerEngine engine, Oci.BaseImage baseImage, Cache.BuildCache cache, CancellationToken cancellationToken)
    {
        if (cache.FindBaseLayers(baseImage.Id) is { } found)
            return found;
        // One export per base image at a time: a second build waits and takes the first one's blobs.
        using var held = await LockAsync(baseImage, cache, cancellationToken).ConfigureAwait(false);
        return (held.Held ? cache.FindBaseLayers(baseImage.Id) : null) ?? (await ExportAsync(engine, baseImage, cache, cancellationToken).ConfigureAwait(false)).Layers;
    }

    private static Task<Cache.CacheLock> LockAsync(Oci.BaseImage baseImage, Cache.BuildCache cache, CancellationToken cancellationToken) =>
        cache.LockAsync("base", baseImage.Id, $"the base image layers of {baseImage.Name}", cancellationToken);

    /// <summary>
    /// The base with its <see cref="Oci.BaseImage.ConfigDigest"/>. The engine's id is the config digest except on
    /// Docker's containerd store, where it is the manifest digest and nothing but the export names the config:
    /// there the export (which that store needs anyway, to load every layer) is made now, once per base image id.
    /// </summary>
    public static async Task<Oci.BaseImage> WithConfigDigestAsync(IContainerEngine engine, Oci.BaseImage baseImage, Cache.BuildCache cache,
        ILogger logger, CancellationToken cancellationToken)
    {
        if (await engine.GetEngineKindAsync(cancellationToken).ConfigureAwait(false) != EngineKind.DockerContainerdStore)
            return baseImage;
        if (cache.FindBaseConfigDigest(baseImage.Id) is not { } digest || cache.FindBaseLayers(baseImage.Id) is null)
        {
            using var held = await LockAsync(baseImage, cache, cancellationToken).ConfigureAwait(false);
            if (!held.Held || cache.FindBaseConfigDigest(baseImage.Id) is not { } exported || cache.FindBaseLayers(baseImage.Id) is null)
            {
                logger.LogInformation(" -----> Exporting base image layers of {Base} (once per base image)", baseImage.Name);
                exported = (await ExportAsync(engine, baseImage, cache, cancellationToken).ConfigureAwait(false)).ConfigDigest;
            }
            digest = exported;
        }
        return baseImage with { ConfigDigest = digest };
    }

    private static async Task<(IReadOnlyList<Layer> Layers, string ConfigDigest)> ExportAsync(IContainerEngine engine, Oci.BaseImage baseImage, Cache.BuildCache cache, CancellationToken cancellationToken)
    {
        // The archive names its layers in manifest.json (or index.json), written after the layers: spooled to
        // a file, read once for the names and once for the layers.
        var spool = cache.Blobs.NewTempFile();
        await using var archive = new FileStream(spool, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.DeleteOnClose | FileOptions.Asynchronous);
        await using (var saved = await engine.SaveImageAsync(baseImage.Id, cancellationToken).ConfigureAwait(false))
            await saved.CopyToAsync(archive, 1 << 16, cancellationToken).ConfigureAwait(false);

        archive.Position = 0;
        var layout = await SavedImageLayout.ReadAsync(archive, baseImage, cancellationToken).ConfigureAwait(false);
        var wanted = layout.LayerFiles.ToHashSet(StringComparer.Ordinal);
        var byDiffId = new Dictionary<string, Layer>(StringComparer.Ordinal);
        archive.Position = 0;
        await using (var reader = new TarReader(archive, leaveOpen: true))
        {
            while (await reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false) is { } entry)
            {
                if (entry.DataStream is null || !wanted.Remove(SavedImageLayout.Normalize(entry.Name)))
                    continue;
                var layer = await CompressAsync(cache.Blobs, entry.DataStream, entry.Name, cancellationToken).ConfigureAwait(false);
                byDiffId[layer.DiffId] = layer;
            }
        }
        var layers = baseImage.DiffIds.Select(d => byDiffId.TryGetValue(d, out var l) ? l
            : throw new InvalidOperationException($"The engine's export of {baseImage.Name} lacks layer {d}.")).ToArray();
        cache.SaveBaseLayers(baseImage.Id, layers);
        cache.SaveBaseConfigDigest(baseImage.Id, layout.ConfigDigest);
        return (layers, layout.ConfigDigest);
    }

    /// <summary>
    /// Gzips a layer tar as it is (its bytes define the diff id) into the store. A layer the engine stored
    /// compressed (gzip, on the containerd store) is decompressed first, so every engine gives the same blob.
    /// </summary>
    private static async Task<Layer> CompressAsync(FileBlobStore store, Stream layerFile, string name, CancellationToken cancellationToken)
    {
        var magic = new byte[4];
        var read = await layerFile.ReadAtLeastAsync(magic, magic.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        // The archive is a file, so its entries' streams seek.
        layerFile.Position = 0;
        await using Stream layerTar = read >= 2 && magic[0] == 0x1f && magic[1] == 0x8b
            ? new GZipStream(layerFile, CompressionMode.Decompress, leaveOpen: true)
            : read == 4 && magic is [0x28, 0xb5, 0x2f, 0xfd]
                ? throw new ModWsgiException(DiagnosticCodes.EngineRequestFailed,
                    $"The container engine exported the base image's layer {name} zstd-compressed, which ModWsgi cannot read. Store the base image with gzip or uncompressed layers (rebuild it with its recipe).")
                : new NonClosingStream(layerFile);
        await using var blob = new GzipBlobWriter(store, CompressionLevel.Fastest);
        await layerTar.CopyToAsync(blob.Input, 1 << 16, cancellationToken).ConfigureAwait(false);
        return await blob.CompleteAsync().ConfigureAwait(false);
    }

    /// <summary>The entry's stream belongs to the tar reader: reading it through this leaves it open.</summary>
    private sealed class NonClosingStream(Stream inner) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

/// <summary>
/// Where a `docker save` archive keeps the image's layers, from its own manifest. Engines differ:
/// Docker 20.10 writes <c>&lt;id&gt;/layer.tar</c>; Docker 25+ an OCI layout (<c>blobs/sha256/&lt;hex&gt;</c>,
/// uncompressed on the classic store, as stored — maybe gzip — on the containerd store) with a
/// manifest.json beside index.json; Podman <c>&lt;diffid&gt;.tar</c> with <c>&lt;id&gt;/layer.tar</c> symlinks.
/// manifest.json's Layers are the paths; without it, index.json leads to the OCI manifest's layer blobs.
/// </summary>
/// <param name="ConfigDigest">The image's config digest, from the config file the archive names.</param>
public sealed record SavedImageLayout(IReadOnlyList<string> LayerFiles, string ConfigDigest)
{
    /// <summary>Documents kept from the first pass to follow index.json: indexes and manifests are small.</summary>
    private const long DocumentSizeLimit = 4 << 20;

    public static async Task<SavedImageLayout> ReadAsync(Stream archive, Oci.BaseImage image, CancellationToken cancellationToken)
    {
        var documents = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var links = new Dictionary<string, string>(StringComparer.Ordinal);
        await using (var reader = new TarReader(archive, leaveOpen: true))
        {
            while (await reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false) is { } entry)
            {
                var name = Normalize(entry.Name);
                if (entry.EntryType == TarEntryType.SymbolicLink)
                    links[name] = Normalize(CombineRelative(name, entry.LinkName));
                else if (entry.EntryType == TarEntryType.HardLink)
                    links[name] = Normalize(entry.LinkName);
                else if (entry.DataStream is not null && entry.Length <= DocumentSizeLimit
                         && (name is "manifest.json" or "index.json" || name.StartsWith("blobs/", StringComparison.Ordinal)))
                {
                    using var content = new MemoryStream();
                    await entry.DataStream.CopyToAsync(content, cancellationToken).ConfigureAwait(false);
                    documents[name] = content.ToArray();
                }
            }
        }
        var (paths, config) = documents.TryGetValue("manifest.json", out var dockerManifest)
            ? FromDockerManifest(dockerManifest, image)
            : documents.TryGetValue("index.json", out var index)
                ? FromOciIndex(index, documents, image)
                : throw Unreadable(image, "it has neither manifest.json nor index.json");
        return new SavedImageLayout(paths.Select(p => Resolve(p, links)).ToArray(), config);
    }

    /// <summary>An archive path as the manifests write it: no leading "./" or "/".</summary>
    public static string Normalize(string path)
    {
        var parts = new List<string>();
        foreach (var part in path.Replace('\\', '/').Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == ".")
                continue;
            if (part == "..")
            {
                if (parts.Count > 0)
                    parts.RemoveAt(parts.Count - 1);
                continue;
            }
            parts.Add(part);
        }
        return string.Join('/', parts);
    }

    private static string CombineRelative(string linkPath, string target) =>
        target.StartsWith('/') ? target : (linkPath.Contains('/') ? linkPath[..linkPath.LastIndexOf('/')] + "/" : "") + target;

    private static string Resolve(string path, Dictionary<string, string> links)
    {
        var normalized = Normalize(path);
        for (var hops = 0; hops < 16 && links.TryGetValue(normalized, out var target); hops++)
            normalized = target;
        return normalized;
    }

    /// <summary>
    /// manifest.json: one entry per image; ours is the one whose Config is the image id (or the only one). Config is
    /// the config file's path, named by its digest: <c>HEX.json</c> (Docker 20.10, Podman) or <c>blobs/sha256/HEX</c>.
    /// </summary>
    private static (IReadOnlyList<string> Layers, string ConfigDigest) FromDockerManifest(byte[] json, Oci.BaseImage image)
    {
        var entries = Parse(json, image, "manifest.json") as JsonArray ?? throw Unreadable(image, "its manifest.json is not a list");
        var hex = Digests.Hex(image.Id);
        var entry = entries.OfType<JsonObject>().FirstOrDefault(e => e["Config"]?.GetValue<string>().Contains(hex, StringComparison.Ordinal) == true)
            ?? (entries.Count == 1 ? entries[0] as JsonObject : null)
            ?? throw Unreadable(image, "its manifest.json does not name the image's config");
        var configPath = entry["Config"] is JsonValue config && config.TryGetValue<string>(out var p) ? p : throw Unreadable(image, "its manifest.json names no Config");
        var configHex = Path.GetFileName(configPath) is var file && file.EndsWith(".json", StringComparison.Ordinal) ? file[..^".json".Length] : Path.GetFileName(configPath);
        var configDigest = IsHex64(configHex) ? "sha256:" + configHex : throw Unreadable(image, $"its manifest.json's Config {configPath} is not named by a sha256 digest");
        return entry["Layers"] is JsonArray layers
            ? (layers.Select(l => l?.GetValue<string>() ?? throw Unreadable(image, "a layer path in manifest.json is empty")).ToArray(), configDigest)
            : throw Unreadable(image, "its manifest.json lists no Layers");
    }

    private static bool IsHex64(string text) => text.Length == 64 && text.All(char.IsAsciiHexDigitLower);

    /// <summary>index.json → (an index for several platforms → the image's platform) → the manifest's layer blobs.</summary>
    private static (IReadOnlyList<string> Layers, string ConfigDigest) FromOciIndex(byte[] indexJson, Dictionary<string, byte[]> documents, Oci.BaseImage image)
    {
        var node = Parse(indexJson, image, "index.json");
        for (var depth = 0; depth < 4; depth++)
        {
            if (node?["layers"] is JsonArray layers)
                return (layers.Select(l => ImageArchiveWriter.BlobPath(l?["digest"]?.GetValue<string>() ?? throw Unreadable(image, "a layer descriptor has no digest"))).ToArray(),
                    node["config"]?["digest"]?.GetValue<string>() ?? throw Unreadable(image, "its image manifest has no config digest"));
            if (node?["manifests"] is not JsonArray manifests || manifests.Count == 0)
                break;
            var chosen = manifests.OfType<JsonObject>().FirstOrDefault(m =>
                    m["platform"]?["architecture"]?.GetValue<string>() == image.Architecture && m["platform"]?["os"]?.GetValue<string>() == image.Os)
                ?? manifests.OfType<JsonObject>().First();
            var path = ImageArchiveWriter.BlobPath(chosen["digest"]?.GetValue<string>() ?? throw Unreadable(image, "a manifest descriptor has no digest"));
            node = documents.TryGetValue(path, out var blob) ? Parse(blob, image, path) : throw Unreadable(image, $"it lacks {path}");
        }
        throw Unreadable(image, "its index.json leads to no image manifest");
    }

    private static JsonNode? Parse(byte[] json, Oci.BaseImage image, string what)
    {
        try
        {
            return JsonNode.Parse(json);
        }
        catch (JsonException ex)
        {
            throw Unreadable(image, $"its {what} is not JSON ({ex.Message})");
        }
    }

    private static ModWsgiException Unreadable(Oci.BaseImage image, string why) =>
        new(DiagnosticCodes.EngineRequestFailed,
            $"The container engine's export (docker save) of the base image {image.Name} cannot be read: {why}. Check that `docker save {image.Name}` works with this engine.");
}
