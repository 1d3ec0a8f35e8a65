using System.Formats.Tar;
using System.Text;
using System.Text.Json.Nodes;

namespace ModWsgi.Core.Oci;

/// <summary>
/// Writes an image as one tar that is both an OCI image layout (oci-layout, index.json, blobs/sha256/…:
/// what skopeo and umoci read as oci-archive) and a docker-archive (manifest.json: what `docker load`
/// reads), sharing the same blob files.
/// </summary>
public static class ImageArchiveWriter
{
    /// <summary>A complete archive: every blob, an OCI index with one entry per tag.</summary>
    public static async Task WriteAsync(Stream output, OciImage image, IBlobStore blobs, IReadOnlyList<string> repoTags, CancellationToken cancellationToken)
    {
        await using var tar = new TarWriter(output, TarEntryFormat.Gnu, leaveOpen: true);
        foreach (var layer in image.Layers.DistinctBy(l => l.Blob.Digest))
            await AddBlobAsync(tar, layer.Blob.Digest, blobs, cancellationToken).ConfigureAwait(false);
        await AddBytesAsync(tar, BlobPath(image.Config.Digest), image.ConfigBytes, cancellationToken).ConfigureAwait(false);
        await AddBytesAsync(tar, BlobPath(image.Manifest.Digest), image.ManifestBytes, cancellationToken).ConfigureAwait(false);
        await AddBytesAsync(tar, "oci-layout", Encoding.UTF8.GetBytes("{\"imageLayoutVersion\":\"1.0.0\"}"), cancellationToken).ConfigureAwait(false);

        // One index entry per tag, as Docker 25+'s own `docker save` writes it: containerd (and Docker's containerd
        // store) loads each entry as one image, named by io.containerd.image.name literally, so fully qualified, as
        // `docker run site:1` looks it up. With several tags `skopeo inspect oci-archive:FILE` needs one (FILE:TAG, the
        // ref.name). docker's manifest.json (the classic store, Podman) carries every tag as given.
        var manifests = new JsonArray(repoTags.Select(tag => (JsonNode?)ImageConfigWriter.Descriptor(image.Manifest with
        {
            Annotations = new Dictionary<string, string>
            {
                ["io.containerd.image.name"] = Engine.ImageReference.FullyQualifiedName(tag),
                ["org.opencontainers.image.ref.name"] = tag[(tag.LastIndexOf(':') + 1)..],
            },
        })).ToArray());
        var index = new JsonObject { ["schemaVersion"] = 2, ["mediaType"] = MediaTypes.OciIndex, ["manifests"] = manifests };
        await AddBytesAsync(tar, "index.json", Encoding.UTF8.GetBytes(index.ToJsonString()), cancellationToken).ConfigureAwait(false);
        await AddDockerManifestAsync(tar, image.Config.Digest, image.Layers.Select(l => BlobPath(l.Blob.Digest)), repoTags, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The smallest archive `docker load` takes: the engine skips a layer whose chain it already holds before
    /// it opens the layer's file, so only the layers after <paramref name="layersTheEngineHas"/> travel (Docker's
    /// classic store only). <paramref name="added"/> is every layer that may travel: base layers too, for an
    /// engine that needs them all (gzip blobs: `docker load` and Podman decompress layer tars themselves).
    /// </summary>
    public static async Task WriteForEngineAsync(Stream output, byte[] configBytes, IReadOnlyList<string> diffIds, int layersTheEngineHas,
        IReadOnlyList<Layer> added, IBlobStore blobs, IReadOnlyList<string> repoTags, CancellationToken cancellationToken)
    {
        await using var tar = new TarWriter(output, TarEntryFormat.Gnu, leaveOpen: true);
        // A layer can repeat (the same empty layer twice in a base): one blob serves each place.
        var byDiffId = added.DistinctBy(l => l.DiffId).ToDictionary(l => l.DiffId, StringComparer.Ordinal);
        var paths = new List<string>();
        var written = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < diffIds.Count; i++)
        {
            if (i < layersTheEngineHas || !byDiffId.TryGetValue(diffIds[i], out var layer))
            {
                paths.Add("known/" + Digests.Hex(diffIds[i]));
                continue;
            }
            paths.Add(BlobPath(layer.Blob.Digest));
            if (written.Add(layer.Blob.Digest))
                await AddBlobAsync(tar, layer.Blob.Digest, blobs, cancellationToken).ConfigureAwait(false);
        }
        var configDigest = Digests.Sha256(configBytes);
        await AddBytesAsync(tar, BlobPath(configDigest), configBytes, cancellationToken).ConfigureAwait(false);
        await AddDockerManifestAsync(tar, configDigest, paths, repoTags, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// An OCI layout for Docker's containerd store, which keeps the manifest it is given (so its image id is our
    /// manifest digest) and names the image after each index entry's <c>io.containerd.image.name</c>: one entry per
    /// tag. Layer blobs in <paramref name="blobsTheEngineHas"/> stay out: the store unpacks layers from its content
    /// store, which holds the blobs of images loaded before.
    /// </summary>
    public static async Task WriteOciForEngineAsync(Stream output, OciImage image, IReadOnlySet<string> blobsTheEngineHas, IBlobStore blobs,
        IReadOnlyList<string> repoTags, CancellationToken cancellationToken)
    {
        await using var tar = new TarWriter(output, TarEntryFormat.Gnu, leaveOpen: true);
        foreach (var layer in image.Layers.DistinctBy(l => l.Blob.Digest).Where(l => !blobsTheEngineHas.Contains(l.Blob.Digest)))
            await AddBlobAsync(tar, layer.Blob.Digest, blobs, cancellationToken).ConfigureAwait(false);
        await AddBytesAsync(tar, BlobPath(image.Config.Digest), image.ConfigBytes, cancellationToken).ConfigureAwait(false);
        await AddBytesAsync(tar, BlobPath(image.Manifest.Digest), image.ManifestBytes, cancellationToken).ConfigureAwait(false);
        await AddBytesAsync(tar, "oci-layout", Encoding.UTF8.GetBytes("{\"imageLayoutVersion\":\"1.0.0\"}"), cancellationToken).ConfigureAwait(false);
        var manifests = new JsonArray(repoTags.Select(tag => (JsonNode?)ImageConfigWriter.Descriptor(image.Manifest with
        {
            Annotations = new Dictionary<string, string> { ["io.containerd.image.name"] = Engine.ImageReference.FullyQualifiedName(tag) },
        })).ToArray());
        var index = new JsonObject { ["schemaVersion"] = 2, ["mediaType"] = MediaTypes.OciIndex, ["manifests"] = manifests };
        await AddBytesAsync(tar, "index.json", Encoding.UTF8.GetBytes(index.ToJsonString()), cancellationToken).ConfigureAwait(false);
    }

    public static string BlobPath(string digest) => "blobs/sha256/" + Digests.Hex(digest);

    private static async Task AddDockerManifestAsync(TarWriter tar, string configDigest, IEnumerable<string> layerPaths, IReadOnlyList<string> repoTags, CancellationToken cancellationToken)
    {
        var manifest = new JsonArray(new JsonObject
        {
            ["Config"] = BlobPath(configDigest),
            ["RepoTags"] = new JsonArray(repoTags.Select(t => (JsonNode?)JsonValue.Create(t)).ToArray()),
            ["Layers"] = new JsonArray(layerPaths.Select(p => (JsonNode?)JsonValue.Create(p)).ToArray()),
        });
        await AddBytesAsync(tar, "manifest.json", Encoding.UTF8.GetBytes(manifest.ToJsonString()), cancellationToken).ConfigureAwait(false);
    }

    private static async Task AddBlobAsync(TarWriter tar, string digest, IBlobStore blobs, CancellationToken cancellationToken)
    {
        await using var content = blobs.OpenRead(digest);
        var entry = new GnuTarEntry(TarEntryType.RegularFile, BlobPath(digest)) { Mode = (UnixFileMode)0b110_100_100, ModificationTime = DateTimeOffset.UnixEpoch, DataStream = content };
        await tar.WriteEntryAsync(entry, cancellationToken).ConfigureAwait(false);
    }

    private static async Task AddBytesAsync(TarWriter tar, string name, byte[] bytes, CancellationToken cancellationToken)
    {
        var entry = new GnuTarEntry(TarEntryType.RegularFile, name) { Mode = (UnixFileMode)0b110_100_100, ModificationTime = DateTimeOffset.UnixEpoch, DataStream = new MemoryStream(bytes) };
        await tar.WriteEntryAsync(entry, cancellationToken).ConfigureAwait(false);
    }
}
