using System.Text;
using System.Text.Json.Nodes;
using ModWsgi.Core.Cache;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Engine;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Pipeline;

namespace ModWsgi.Core.Tests;

/// <summary>The cache stays bounded: garbage goes always, entries least recently used first, only our images, never during a build.</summary>
public sealed class CachePruneTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("modwsgi-prune-").FullName;
    private readonly BuildCache _cache;
    private readonly ListLogger _log = new();
    private static readonly DateTime Now = new(2026, 12, 1, 12, 0, 0, DateTimeKind.Utc);

    public CachePruneTests() => _cache = new BuildCache(Path.Combine(_root, "cache"));

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private Layer Blob(string content, int size, DateTime written)
    {
        var bytes = Encoding.UTF8.GetBytes(content.PadRight(size, '.'));
        var digest = _cache.Blobs.Put(bytes);
        File.SetLastWriteTimeUtc(_cache.Blobs.PathOf(digest), written);
        return new Layer(new Descriptor(MediaTypes.OciLayerGzip, digest, bytes.Length), Digests.Sha256(Encoding.UTF8.GetBytes("diff " + content)));
    }

    private static string Key(string name) => Digests.Sha256(Encoding.UTF8.GetBytes(name));

    private string DepsEntry(string key) => Path.Combine(_cache.Root, "deps", Digests.Hex(key) + ".json");

    private Layer Dependencies(string name, int size, DateTime used)
    {
        var layer = Blob(name, size, used);
        _cache.SaveDependencies(Key(name), layer);
        File.SetLastWriteTimeUtc(DepsEntry(Key(name)), used);
        return layer;
    }

    [Fact]
    public void Prune_RemovesBlobsNoEntryNames_AndKeepsEveryEntryAndItsBlobs()
    {
        var deps = Dependencies("deps", 1000, Now.AddDays(-3));
        var app = Enumerable.Range(0, 20).Select(i => Blob("application layer " + i, 5000, Now.AddMinutes(-i))).ToArray();
        var baseLayers = new[] { Blob("base 1", 2000, Now.AddDays(-9)), Blob("base 2", 2000, Now.AddDays(-9)) };
        _cache.SaveBaseLayers(Key("base image"), baseLayers);

        var result = CachePruner.Prune(_cache.Root, sizeLimit: null, everything: false, Now);

        Assert.Equal(20, result.BlobsRemoved);
        Assert.All(app, l => Assert.False(_cache.Blobs.Contains(l.Blob.Digest)));
        Assert.Equal(deps, _cache.FindDependencies(Key("deps")));
        Assert.NotNull(_cache.FindBaseLayers(Key("base image")));
        Assert.Equal(0, result.EntriesRemoved);
        Assert.True(result.BytesBefore - result.BytesAfter >= 20 * 5000);
        Assert.Equal([deps.DiffId], result.KeptDependencyLayers);
    }

    [Fact]
    public void ABlobAnEntryOfAKindThisVersionDoesNotKnowNames_Stays()
    {
        var layer = Blob("named by a later version's entry", 100, Now.AddDays(-1));
        Directory.CreateDirectory(Path.Combine(_cache.Root, "later-kind"));
        File.WriteAllText(Path.Combine(_cache.Root, "later-kind", "x.json"), $"{{\"nested\":{{\"layers\":[{{\"digest\":\"{layer.Blob.Digest}\"}}]}}}}");

        var result = CachePruner.Prune(_cache.Root, sizeLimit: null, everything: false, Now);

        Assert.Equal(0, result.BlobsRemoved);
        Assert.True(_cache.Blobs.Contains(layer.Blob.Digest));
    }

    [Fact]
    public void OverTheLimit_EntriesGoLeastRecentlyUsedFirst_AndABlobTwoEntriesShareStaysWhileOneNamesIt()
    {
        var oldest = Dependencies("oldest", 4000, Now.AddDays(-10));
        var middle = Dependencies("middle", 4000, Now.AddDays(-5));
        var newest = Dependencies("newest", 4000, Now.AddDays(-1));
        // Used just now by a build, though written long ago: the mark is what counts.
        var old = Dependencies("old but just used", 4000, Now.AddDays(-30));
        CachePruner.MarkUsed(_cache, [old.Blob.Digest], Key("old but just used"), Now);

        var result = CachePruner.Prune(_cache.Root, sizeLimit: 9000, everything: false, Now);

        Assert.Null(_cache.FindDependencies(Key("oldest")));
        Assert.Null(_cache.FindDependencies(Key("middle")));
        Assert.NotNull(_cache.FindDependencies(Key("newest")));
        Assert.NotNull(_cache.FindDependencies(Key("old but just used")));
        Assert.False(_cache.Blobs.Contains(oldest.Blob.Digest));
        Assert.False(_cache.Blobs.Contains(middle.Blob.Digest));
        Assert.True(_cache.Blobs.Contains(newest.Blob.Digest));
        Assert.True(result.BytesAfter <= 9000, $"{result.BytesAfter} bytes left");
        Assert.Equal(2, result.EntriesRemoved);
        Assert.Equal(new[] { newest.DiffId, old.DiffId }.Order(), result.KeptDependencyLayers.Order());
    }

    [Fact]
    public void Everything_RemovesEveryEntryAndBlob_ButKeepsTheProjectNotes()
    {
        Dependencies("deps", 1000, Now);
        _cache.SavePassedServerCheck(Key("check"));
        var notes = new JsonObject { ["x"] = 1 };
        _cache.WriteProjectNotes(Path.Combine(_root, "site"), notes);

        CachePruner.Prune(_cache.Root, sizeLimit: null, everything: true, Now);

        Assert.Null(_cache.FindDependencies(Key("deps")));
        Assert.False(_cache.HasPassedServerCheck(Key("check")));
        Assert.Empty(Directory.GetFiles(Path.Combine(_cache.Root, "blobs", "sha256")));
        Assert.Equal(1, (int)_cache.ReadProjectNotes(Path.Combine(_root, "site"))["x"]!);
    }

    [Fact]
    public void AnEntryWhoseBlobIsGone_IsRemoved_AndStaleTempFilesGo()
    {
        var layer = Dependencies("deps", 1000, Now);
        File.Delete(_cache.Blobs.PathOf(layer.Blob.Digest));
        var stale = _cache.Blobs.NewTempFile();
        File.WriteAllText(stale, "half a layer");
        File.SetLastWriteTimeUtc(stale, Now.AddHours(-3));
        var fresh = _cache.Blobs.NewTempFile();
        File.WriteAllText(fresh, "being written");
        File.SetLastWriteTimeUtc(fresh, Now);

        var result = CachePruner.Prune(_cache.Root, sizeLimit: null, everything: false, Now);

        Assert.Equal(1, result.EntriesRemoved);
        Assert.False(File.Exists(DepsEntry(Key("deps"))));
        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(fresh));
    }

    [Theory]
    [InlineData("5GB", 5L << 30)]
    [InlineData("500MB", 500L << 20)]
    [InlineData("1.5G", 3L << 29)]
    [InlineData("800k", 800L << 10)]
    [InlineData("2TiB", 2L << 40)]
    [InlineData("1024", 1024L)]
    [InlineData("0", 0L)]
    public void Sizes_AreReadAsDockerReadsThem(string text, long bytes) => Assert.Equal(bytes, CacheSize.Parse(text, "WsgiCacheSizeLimit"));

    [Fact]
    public void None_IsNoBound_AndANonSizeIsMODWSGI3020()
    {
        Assert.Null(CacheSize.Parse("none", "WsgiCacheSizeLimit"));
        var error = Assert.Throws<ModWsgiException>(() => CacheSize.Parse("lots", "WsgiCacheSizeLimit"));
        Assert.Equal(DiagnosticCodes.CacheSizeInvalid, error.Code);
        Assert.Contains("WsgiCacheSizeLimit 'lots'", error.Message);
        Assert.Contains("5GB", error.Message);
    }

    [Fact]
    public async Task WhileABuildHoldsTheCache_APruneGetsNoHold_AndTouchesNothingThere()
    {
        var fresh = Blob("a build's application layer, named by no entry yet", 100, Now);
        var engine = new FakeContainerEngine();
        using (await PruneLock.SharedAsync(_cache.Root, TimeSpan.FromSeconds(5), CancellationToken.None))
        {
            Assert.Null(await PruneLock.ExclusiveAsync(_cache.Root, TimeSpan.FromMilliseconds(300), CancellationToken.None));
            var report = await Pruning.RunAsync(engine, _cache.Root, 0, everything: false, TimeSpan.Zero, _log, CancellationToken.None);
            Assert.Null(report.Cache);
            Assert.True(_cache.Blobs.Contains(fresh.Blob.Digest));
        }
        using (var held = await PruneLock.ExclusiveAsync(_cache.Root, TimeSpan.FromSeconds(5), CancellationToken.None))
        {
            Assert.NotNull(held);
            // A build waits for the prune, and says so when it waited too long.
            var busy = await Assert.ThrowsAsync<ModWsgiException>(() => PruneLock.SharedAsync(_cache.Root, TimeSpan.FromMilliseconds(300), CancellationToken.None));
            Assert.Equal(DiagnosticCodes.CacheBusy, busy.Code);
        }
    }

    [Fact]
    public async Task Pruning_RemovesOurDanglingImagesAndTheStagesOfDependenciesItRemoved_AndNothingElse()
    {
        var engine = new FakeContainerEngine();
        var kept = Dependencies("kept deps", 100, Now);
        // An entry whose blob is gone: this prune removes it, and with it its stage.
        var broken = Dependencies("broken deps", 100, Now);
        File.Delete(_cache.Blobs.PathOf(broken.Blob.Digest));
        Dictionary<string, string> Ours(string kind) => new() { [ImageLabels.Owned] = kind };
        engine.ListedImages.AddRange(
        [
            new ImageSummary("sha256:ours-dangling", [], Ours(ImageLabels.Application), 10),
            new ImageSummary("sha256:ours-tagged", ["site:latest"], Ours(ImageLabels.Application), 10),
            new ImageSummary("sha256:someone-elses-dangling", [], new Dictionary<string, string>(), 10),
        ]);
        AddStage(engine, "modwsgi/stage:aaaaaaaaaaaa", kept.DiffId);
        // A stage of a dependency layer this cache never held: another cache's (another user's, a parallel CI job's).
        AddStage(engine, "modwsgi/stage:bbbbbbbbbbbb", "sha256:" + new string('b', 64));
        AddStage(engine, "modwsgi/stage:cccccccccccc", broken.DiffId);

        var report = await Pruning.RunAsync(engine, _cache.Root, null, everything: false, TimeSpan.Zero, _log, CancellationToken.None);

        Assert.Equal(["sha256:ours-dangling", "modwsgi/stage:cccccccccccc"], report.ImagesRemoved);
        Assert.Equal(["sha256:ours-tagged", "sha256:someone-elses-dangling", "stage-aaaaaaaaaaaa", "stage-bbbbbbbbbbbb"],
            engine.ListedImages.Select(i => i.Id).Order());
        Assert.Contains($"list-images {ImageLabels.Owned} dangling", engine.Calls);

        var all = await Pruning.RunAsync(engine, _cache.Root, null, everything: true, TimeSpan.Zero, _log, CancellationToken.None);
        Assert.Equal(["modwsgi/stage:aaaaaaaaaaaa", "modwsgi/stage:bbbbbbbbbbbb"], all.ImagesRemoved);
    }

    [Fact]
    public async Task TwentySourceEdits_LeaveOneApplicationLayerAndNoDanglingImageOfOurs()
    {
        var engine = new FakeContainerEngine();
        engine.AddBaseImage("modwsgi/base:bookworm");
        var project = Path.Combine(_root, "site");
        Directory.CreateDirectory(project);
        File.WriteAllText(Path.Combine(project, "requirements.txt"), "flask\n");
        var options = (new ProjectSettings { ContainerRepository = "site", WsgiCacheDirectory = _cache.Root })
            .ToOptions(project, Path.Combine(AppContext.BaseDirectory, "runtime"), null);
        var environment = BuildEnvironment.From(name => name == "HOME" ? Path.Combine(_root, "home") : null);
        var ids = new List<string>();
        for (var edit = 0; edit < 20; edit++)
        {
            // A large, incompressible edit each time: 20 of them would add up without the bound.
            File.WriteAllText(Path.Combine(project, "wsgi.py"), $"# edit {edit}\n" + Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(60_000)));
            ids.Add((await new ImagePipeline(engine, _log).PublishAsync(options, environment, CancellationToken.None)).ImageId);
        }

        Assert.Equal(20, ids.Distinct().Count());
        // Blobs: the dependency layer, and the runtime and application layers of the last build only... then
        // the after-build prune took even those two (named by no entry): what is left is what a rebuild reuses.
        var blobs = Directory.GetFiles(Path.Combine(_cache.Root, "blobs", "sha256"));
        Assert.True(blobs.Length <= 2, $"{blobs.Length} blobs left: {string.Join(", ", blobs.Select(Path.GetFileName))}");
        Assert.True(blobs.Sum(b => new FileInfo(b).Length) < 60_000, "an application layer was kept");
        Assert.Empty(await engine.ListImagesAsync([ImageLabels.Owned], danglingOnly: true, CancellationToken.None));
        Assert.True(engine.HasImage("site:latest"));
        Assert.Equal(19, engine.Calls.Count(c => c.StartsWith("remove-image sha256:", StringComparison.Ordinal)));
    }

    private static void AddStage(FakeContainerEngine engine, string name, string topLayer)
    {
        var id = "stage-" + name[^12..];
        engine.ListedImages.Add(new ImageSummary(id, [name], new Dictionary<string, string> { [ImageLabels.Owned] = ImageLabels.Stage }, 10));
        engine.StageLayers[id] = ["sha256:" + new string('0', 64), topLayer];
    }
}
