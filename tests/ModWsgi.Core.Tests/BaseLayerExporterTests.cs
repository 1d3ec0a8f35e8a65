using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using ModWsgi.Core.Cache;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Layers;
using ModWsgi.Core.Oci;

namespace ModWsgi.Core.Tests;

/// <summary>
/// The base image's layers from `docker save` archives in each engine's layout (see /work/shared/ENGINES.md):
/// whatever the layout, the same layers come out (same diff ids, same blobs).
/// </summary>
public sealed class BaseLayerExporterTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "modwsgi-base-export-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly byte[] _first = LayerTar(("etc/os-release", "ID=debian\n"), ("usr/bin/python3", "#!python"));
    private readonly byte[] _second = LayerTar(("opt/mod_wsgi/README", "mod_wsgi\n"));
    private readonly byte[] _config;
    private readonly BaseImage _image;

    public BaseLayerExporterTests()
    {
        // The first layer twice (as an image whose two steps made the same files has it): one blob serves both.
        string[] diffIds = [Digests.Sha256(_first), Digests.Sha256(_second), Digests.Sha256(_first)];
        _config = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["architecture"] = "amd64",
            ["os"] = "linux",
            ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray(diffIds.Select(d => (JsonNode?)d).ToArray()) },
        }.ToJsonString());
        _image = new BaseImage("modwsgi/base:bookworm", Digests.Sha256(_config), "amd64", "linux", diffIds, []);
    }

    public void Dispose()
    {
        if (Directory.Exists(_root))
            Directory.Delete(_root, recursive: true);
    }

    // ---- the layouts, as each engine writes them -------------------------------------------------------------

    /// <summary>Docker 20.10: &lt;id&gt;/layer.tar (a repeated layer is a symlink to the first), &lt;id&gt;.json, manifest.json, repositories.</summary>
    private byte[] Docker2010()
    {
        var hex = Digests.Hex(_image.Id);
        return Archive(
            File("1111/VERSION", "1.0"), File("1111/json", "{}"), File("1111/layer.tar", _first),
            File("2222/VERSION", "1.0"), File("2222/layer.tar", _second),
            Link("3333/layer.tar", "../1111/layer.tar"),
            File(hex + ".json", _config),
            File("manifest.json", $$"""[{"Config":"{{hex}}.json","RepoTags":["modwsgi/base:bookworm"],"Layers":["1111/layer.tar","2222/layer.tar","3333/layer.tar"]}]"""),
            File("repositories", "{}"));
    }

    /// <summary>Docker 26 classic store: an OCI layout whose layer blobs are the uncompressed tars (named by diff id), and manifest.json.</summary>
    private byte[] Docker26Classic() => OciLayout(_first, _second, withDockerManifest: true);

    /// <summary>Docker 26 containerd store: the layer blobs as stored, gzip (another compressor's bytes than ours).</summary>
    private byte[] ContainerdStore(bool withDockerManifest = true, bool platformIndex = false) =>
        OciLayout(Gzip(_first), Gzip(_second), withDockerManifest, platformIndex);

    /// <summary>Podman 4: &lt;diffid&gt;.tar with &lt;id&gt;/layer.tar symlinks to it; manifest.json names the .tar files.</summary>
    private byte[] Podman()
    {
        var (d1, d2) = (Digests.Hex(Digests.Sha256(_first)), Digests.Hex(Digests.Sha256(_second)));
        return Archive(
            File(d1 + ".tar", _first), Link("aaaa/layer.tar", "../" + d1 + ".tar"),
            File(d2 + ".tar", _second), Link("bbbb/layer.tar", "../" + d2 + ".tar"),
            File(Digests.Hex(_image.Id) + ".json", _config),
            File("manifest.json", $$"""[{"Config":"{{Digests.Hex(_image.Id)}}.json","Layers":["aaaa/layer.tar","bbbb/layer.tar","aaaa/layer.tar"]}]"""));
    }

    private byte[] OciLayout(byte[] firstBlob, byte[] secondBlob, bool withDockerManifest, bool platformIndex = false)
    {
        var (b1, b2) = (Digests.Sha256(firstBlob), Digests.Sha256(secondBlob));
        var mediaType = firstBlob[0] == 0x1f ? MediaTypes.OciLayerGzip : "application/vnd.oci.image.layer.v1.tar";
        JsonObject Layer(string digest, byte[] blob) => new() { ["mediaType"] = mediaType, ["digest"] = digest, ["size"] = blob.Length };
        var manifest = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = MediaTypes.OciManifest,
            ["config"] = new JsonObject { ["mediaType"] = MediaTypes.OciConfig, ["digest"] = _image.Id, ["size"] = _config.Length },
            ["layers"] = new JsonArray(Layer(b1, firstBlob), Layer(b2, secondBlob), Layer(b1, firstBlob)),
        }.ToJsonString());
        var manifestDigest = Digests.Sha256(manifest);
        var entries = new List<TarEntry>
        {
            File(ImageArchiveWriter.BlobPath(b1), firstBlob),
            File(ImageArchiveWriter.BlobPath(b2), secondBlob),
            File(ImageArchiveWriter.BlobPath(_image.Id), _config),
            File(ImageArchiveWriter.BlobPath(manifestDigest), manifest),
        };
        var imageDescriptor = new JsonObject { ["mediaType"] = MediaTypes.OciManifest, ["digest"] = manifestDigest, ["size"] = manifest.Length };
        if (platformIndex)
        {
            // containerd's multi-platform form: index.json → an index per platform → the manifest.
            imageDescriptor["platform"] = new JsonObject { ["architecture"] = "amd64", ["os"] = "linux" };
            var other = new JsonObject { ["mediaType"] = MediaTypes.OciManifest, ["digest"] = Digests.Sha256("arm64"u8), ["size"] = 2, ["platform"] = new JsonObject { ["architecture"] = "arm64", ["os"] = "linux" } };
            var platforms = Encoding.UTF8.GetBytes(new JsonObject { ["schemaVersion"] = 2, ["mediaType"] = MediaTypes.OciIndex, ["manifests"] = new JsonArray(other, imageDescriptor) }.ToJsonString());
            entries.Add(File(ImageArchiveWriter.BlobPath(Digests.Sha256(platforms)), platforms));
            imageDescriptor = new JsonObject { ["mediaType"] = MediaTypes.OciIndex, ["digest"] = Digests.Sha256(platforms), ["size"] = platforms.Length };
        }
        entries.Add(File("index.json", new JsonObject { ["schemaVersion"] = 2, ["mediaType"] = MediaTypes.OciIndex, ["manifests"] = new JsonArray(imageDescriptor) }.ToJsonString()));
        if (withDockerManifest)
        {
            entries.Add(File("manifest.json",
                $$"""[{"Config":"{{ImageArchiveWriter.BlobPath(_image.Id)}}","RepoTags":["modwsgi/base:bookworm"],"Layers":["{{ImageArchiveWriter.BlobPath(b1)}}","{{ImageArchiveWriter.BlobPath(b2)}}","{{ImageArchiveWriter.BlobPath(b1)}}"]}]"""));
        }
        entries.Add(File("oci-layout", """{"imageLayoutVersion":"1.0.0"}"""));
        return Archive([.. entries]);
    }

    // ---- tests ------------------------------------------------------------------------------------------------

    private async Task<IReadOnlyList<Layer>> Export(byte[] saved, string cacheName)
    {
        var engine = new FakeContainerEngine();
        engine.SavedArchives[_image.Id] = saved;
        var cache = new BuildCache(Path.Combine(_root, cacheName));
        var layers = await BaseLayerExporter.EnsureAsync(engine, _image, cache, CancellationToken.None);
        // Each blob holds the layer's tar, gzipped.
        Assert.All(layers, l =>
        {
            using var blob = new GZipStream(cache.Blobs.OpenRead(l.Blob.Digest), CompressionMode.Decompress);
            Assert.Equal(l.DiffId, Digests.Sha256(blob));
        });
        return layers;
    }

    [Fact]
    public async Task EveryEnginesLayout_GivesTheSameLayers_InTheImagesOrder()
    {
        var docker2010 = await Export(Docker2010(), "docker2010");
        var classic = await Export(Docker26Classic(), "classic");
        var containerd = await Export(ContainerdStore(), "containerd");
        var podman = await Export(Podman(), "podman");

        Assert.Equal(_image.DiffIds, docker2010.Select(l => l.DiffId));
        Assert.Equal(docker2010[0], docker2010[2]);
        Assert.NotEqual(docker2010[0].Blob.Digest, docker2010[1].Blob.Digest);
        Assert.Equal(docker2010, classic);
        Assert.Equal(docker2010, containerd);
        Assert.Equal(docker2010, podman);
    }

    [Fact]
    public async Task AnOciLayoutWithoutManifestJson_IsReadThroughIndexJson_AndAPlatformIndexPicksTheImagesPlatform()
    {
        var docker2010 = await Export(Docker2010(), "docker2010");

        var indexOnly = await Export(ContainerdStore(withDockerManifest: false), "index-only");
        var platformIndex = await Export(ContainerdStore(withDockerManifest: false, platformIndex: true), "platform-index");

        Assert.Equal(docker2010, indexOnly);
        Assert.Equal(docker2010, platformIndex);
    }

    [Fact]
    public async Task EveryEnginesLayout_NamesTheImagesConfigDigest()
    {
        // On the containerd store the engine's id is not the config digest: the export is where it is read.
        var onTheContainerdStore = _image with { Id = Digests.Sha256("a manifest"u8) };
        byte[][] layouts = [Docker2010(), Docker26Classic(), ContainerdStore(), ContainerdStore(withDockerManifest: false), ContainerdStore(withDockerManifest: false, platformIndex: true), Podman()];

        foreach (var saved in layouts)
        {
            var layout = await SavedImageLayout.ReadAsync(new MemoryStream(saved), onTheContainerdStore, CancellationToken.None);
            Assert.Equal(Digests.Sha256(_config), layout.ConfigDigest);
        }
    }

    [Fact]
    public async Task TheLayersAreCached_PerBaseImageId_SoASecondExportSavesNothing()
    {
        var engine = new FakeContainerEngine();
        engine.SavedArchives[_image.Id] = Docker26Classic();
        var cache = new BuildCache(Path.Combine(_root, "cache"));

        var first = await BaseLayerExporter.EnsureAsync(engine, _image, cache, CancellationToken.None);
        var second = await BaseLayerExporter.EnsureAsync(engine, _image, cache, CancellationToken.None);

        Assert.Equal(first, second);
        Assert.Single(engine.Calls, c => c.StartsWith("save", StringComparison.Ordinal));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_root, "cache", "tmp"))); // the spooled export is gone
    }

    [Fact]
    public async Task AnArchiveWithoutAManifest_IsACodedErrorNamingTheImage()
    {
        var saved = Archive(File("1111/layer.tar", _first), File("2222/layer.tar", _second));

        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => Export(saved, "none"));

        Assert.Equal(DiagnosticCodes.EngineRequestFailed, ex.Code);
        Assert.Contains("modwsgi/base:bookworm", ex.Message);
        Assert.Contains("neither manifest.json nor index.json", ex.Message);
    }

    // ---- archive building --------------------------------------------------------------------------------------

    private static byte[] LayerTar(params (string Path, string Content)[] files)
    {
        var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var (path, content) in files)
                writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, path) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)), ModificationTime = DateTimeOffset.UnixEpoch });
        }
        return tar.ToArray();
    }

    private static byte[] Gzip(byte[] data)
    {
        var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.SmallestSize, leaveOpen: true))
            gzip.Write(data);
        return output.ToArray();
    }

    private static TarEntry File(string name, string content) => File(name, Encoding.UTF8.GetBytes(content));

    private static TarEntry File(string name, byte[] content) =>
        new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(content), ModificationTime = DateTimeOffset.UnixEpoch };

    private static TarEntry Link(string name, string target) =>
        new PaxTarEntry(TarEntryType.SymbolicLink, name) { LinkName = target, ModificationTime = DateTimeOffset.UnixEpoch };

    private static byte[] Archive(params TarEntry[] entries)
    {
        var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var entry in entries)
                writer.WriteEntry(entry);
        }
        return tar.ToArray();
    }
}
