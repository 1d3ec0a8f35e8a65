using System.Formats.Tar;
using System.Text;
using ModWsgi.Core.Cache;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Engine;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Pipeline;
using ModWsgi.Core.Destinations;
using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Tests;

/// <summary>
/// The pipeline on a damaged cache (fake engine and registry): the next build heals, and nothing damaged leaves — not
/// into the engine, an archive or a registry; two builds of one project at once run pip once.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class PipelineHealingTests : IDisposable
{
    private const string BaseImageName = "modwsgi/base:bookworm";
    private readonly string _root = Directory.CreateTempSubdirectory("modwsgi-pipeline-heal-").FullName;
    private readonly FakeContainerEngine _engine = new();
    private readonly FakeRegistryHandler _registry = new();
    private readonly ListLogger _log = new();

    public PipelineHealingTests()
    {
        Prepare(_engine);
        Write("wsgi.py", "def application(environ, start_response):\n    pass\n");
        Write("requirements.txt", "flask\n");
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Project => Path.Combine(_root, "site");

    private string CacheRoot => Path.Combine(_root, "cache");

    /// <summary>A base image, and a pip step that leaves a file, so the dependency layer is a blob of its own.</summary>
    private static void Prepare(FakeContainerEngine engine)
    {
        engine.AddBaseImage(BaseImageName);
        engine.Changes.Add(new FilesystemChange("/opt/venv/flask.py", ChangeKind.Added));
        engine.Files["/opt/venv/flask.py"] = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 5000).Select(i => $"line {i}\n")));
    }

    private void Write(string relative, string content)
    {
        var path = Path.Combine(Project, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    private void EditSource(int n) => Write("wsgi.py", $"def application(environ, start_response):\n    return [b'{n}']\n");

    private ImageBuildOptions Options(ProjectSettings? settings = null) =>
        (settings ?? new ProjectSettings()) with { ContainerRepository = "site", WsgiCacheDirectory = CacheRoot } is var s
            ? s.ToOptions(Project, Path.Combine(AppContext.BaseDirectory, "runtime"), null)
            : throw new InvalidOperationException();

    private BuildEnvironment Environment() => BuildEnvironment.From(name => name == "HOME" ? Path.Combine(_root, "home") : null);

    private Task<PublishResult> Publish(ImageBuildOptions? options = null, FakeContainerEngine? engine = null, ListLogger? log = null) =>
        new ImagePipeline(engine ?? _engine, log ?? _log) { RegistryHandler = _registry }.PublishAsync(options ?? Options(), Environment(), default);

    private static int PipRuns(FakeContainerEngine engine) =>
        engine.Scripts.Count(s => s.Contains("pip", StringComparison.Ordinal) && s.Contains("install", StringComparison.Ordinal));

    private BuildCache Cache => new(CacheRoot);

    /// <summary>The one dependency layer the cache holds.</summary>
    private Layer DependencyLayer()
    {
        var entry = Assert.Single(Directory.GetFiles(Path.Combine(CacheRoot, "deps")));
        return Cache.FindDependencies("sha256:" + Path.GetFileNameWithoutExtension(entry))!;
    }

    private string PathOf(Layer layer) => Cache.Blobs.PathOf(layer.Blob.Digest);

    private void FlipAByte(Layer layer)
    {
        var bytes = File.ReadAllBytes(PathOf(layer));
        bytes[bytes.Length / 2] ^= 0xff;
        File.WriteAllBytes(PathOf(layer), bytes);
    }

    private void Truncate(Layer layer)
    {
        using var file = new FileStream(PathOf(layer), FileMode.Open);
        file.SetLength(file.Length / 2);
    }

    private bool Intact(Layer layer) => File.Exists(PathOf(layer)) && Digests.Sha256(File.ReadAllBytes(PathOf(layer))) == layer.Blob.Digest;

    [Fact]
    public async Task TruncatedDependencyBlob_TheNextBuildRebuildsIt()
    {
        await Publish();
        var dependencies = DependencyLayer();
        Truncate(dependencies);
        EditSource(1);
        _engine.RemoveImage("site:latest"); // so the rebuild ships the dependency layer again

        await Publish();

        Assert.Equal(2, PipRuns(_engine));
        Assert.True(Intact(dependencies)); // the same inputs, the same bytes, in place again
        Assert.Contains(dependencies.Blob.Digest, _engine.Loads[^1].ShippedLayerBlobs);
        Assert.Contains(_log.Warnings, w => w.Contains("not the size its entry recorded", StringComparison.Ordinal));
    }

    [Fact]
    public async Task DependencyBlobDamagedWithItsSizeIntact_TheLoadRefusesIt_AndTheBuildRunsOnceMoreAndHeals()
    {
        await Publish();
        var dependencies = DependencyLayer();
        FlipAByte(dependencies);
        EditSource(1);
        _engine.RemoveImage("site:latest"); // so the rebuild ships the dependency layer again

        await Publish();

        Assert.Equal(2, PipRuns(_engine));
        Assert.True(Intact(dependencies));
        Assert.Contains(_log.Warnings, w => w.Contains(dependencies.Blob.Digest, StringComparison.Ordinal) && w.Contains("Building once more", StringComparison.Ordinal));
        Assert.Equal(2, _engine.Loads.Count); // the damaged archive never reached the engine
        Assert.Empty(Directory.GetFiles(Path.Combine(CacheRoot, "tmp")));
    }

    [Fact]
    public async Task Archive_NeverCarriesADamagedBaseLayer_TheBaseIsExportedAgain()
    {
        var archive = Path.Combine(_root, "out", "site.tar");
        var options = Options(new ProjectSettings { ContainerArchiveOutputPath = archive });
        await Publish(options);
        var baseImage = BaseImage.FromInspect(BaseImageName, (await _engine.InspectImageAsync(BaseImageName, default))!);
        var baseLayer = Cache.FindBaseLayers(baseImage.Id)![0];
        FlipAByte(baseLayer);
        File.Delete(archive);

        await Publish(options);

        Assert.Equal(2, _engine.Calls.Count(c => c.StartsWith("save", StringComparison.Ordinal)));
        Assert.True(Intact(baseLayer));
        await AssertEveryBlobMatchesItsNameAsync(archive);
        Assert.Empty(Directory.GetFiles(Path.Combine(_root, "out"), "*.partial-*"));
    }

    [Fact]
    public async Task Push_NeverSendsADamagedBlob_TheLayerIsRebuiltAndPushed()
    {
        await Publish();
        var dependencies = DependencyLayer();
        FlipAByte(dependencies);

        await Publish(Options(new ProjectSettings { ContainerRegistry = "registry.example.com" }));

        // The fake registry answers 400 to a blob whose bytes do not match its digest: every upload was accepted.
        Assert.Equal(_registry.Count("PUT", "/blobs/uploads/"), _registry.Blobs.Count);
        Assert.Contains(dependencies.Blob.Digest, _registry.Blobs);
        Assert.Equal(2, PipRuns(_engine));
        Assert.True(Intact(dependencies));
    }

    [Fact]
    public async Task DamagedAgainOnTheSecondRun_IsTheCodedError_NotALoop()
    {
        await Publish();
        var dependencies = DependencyLayer();
        EditSource(1);
        _engine.RemoveImage("site:latest");
        FlipAByte(dependencies);
        // A disk that damages what is written: the dependency layer is damaged again as soon as its build container
        // goes (after the layer is written, before the load reads it).
        _engine.OnRemove = (_, _) =>
        {
            if (File.Exists(PathOf(dependencies)))
                FlipAByte(dependencies);
            return Task.CompletedTask;
        };

        var error = await Assert.ThrowsAsync<ModWsgiException>(() => Publish());

        Assert.Equal(DiagnosticCodes.CacheBlobDamaged, error.Code);
        Assert.Equal(2, PipRuns(_engine)); // the first run found it damaged at the load; the second rebuilt it, damaged again
        Assert.Single(_engine.Loads);
    }

    [Fact]
    public async Task TwoBuildsOfOneProjectAtOnce_RunPipOnce_TheSecondWaitsAndTakesTheLayer()
    {
        var other = new FakeContainerEngine();
        Prepare(other);
        var pipStarted = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        _engine.OnScript = async (script, _) =>
        {
            if (script.Contains("pip", StringComparison.Ordinal))
            {
                pipStarted.TrySetResult();
                await release.Task;
            }
            return (0L, Array.Empty<string>());
        };
        var otherLog = new ListLogger();

        var first = Publish();
        await pipStarted.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var second = Publish(engine: other, log: otherLog);
        await WaitForAsync(() => otherLog.Messages.ToArray().Any(m => m.Contains("waiting for another build of", StringComparison.Ordinal)));
        release.SetResult();
        var results = await Task.WhenAll(first, second);

        Assert.Equal(1, PipRuns(_engine) + PipRuns(other));
        Assert.Equal(results[0].ImageId, results[1].ImageId);
        Assert.Contains(otherLog.Messages, m => m.Contains("made by the build waited for", StringComparison.Ordinal));
    }

    [Fact]
    public async Task BuildsOfDifferentProjects_DoNotWaitForEachOther()
    {
        var other = new FakeContainerEngine();
        Prepare(other);
        var release = new TaskCompletionSource();
        _engine.OnScript = async (script, _) =>
        {
            if (script.Contains("pip", StringComparison.Ordinal))
                await release.Task;
            return (0L, Array.Empty<string>());
        };
        var first = Publish();
        await WaitForAsync(() => PipRuns(_engine) == 1);
        var otherProject = Path.Combine(_root, "other");
        Directory.CreateDirectory(otherProject);
        File.WriteAllText(Path.Combine(otherProject, "wsgi.py"), "def application(e, s):\n    pass\n");
        File.WriteAllText(Path.Combine(otherProject, "requirements.txt"), "django\n");
        var otherOptions = new ProjectSettings { ContainerRepository = "other", WsgiCacheDirectory = CacheRoot }
            .ToOptions(otherProject, Path.Combine(AppContext.BaseDirectory, "runtime"), null);

        await Publish(otherOptions, other, new ListLogger()).WaitAsync(TimeSpan.FromSeconds(30)); // finishes while the first is in pip

        Assert.False(first.IsCompleted);
        release.SetResult();
        await first;
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        for (var i = 0; i < 300 && !condition(); i++)
            await Task.Delay(100);
        Assert.True(condition(), "timed out");
    }

    private static async Task AssertEveryBlobMatchesItsNameAsync(string archive)
    {
        await using var file = File.OpenRead(archive);
        await using var reader = new TarReader(file);
        var blobs = 0;
        while (await reader.GetNextEntryAsync(copyData: true) is { } entry)
        {
            if (!entry.Name.StartsWith("blobs/sha256/", StringComparison.Ordinal) || entry.DataStream is null)
                continue;
            using var content = new MemoryStream();
            await entry.DataStream.CopyToAsync(content);
            Assert.Equal("sha256:" + entry.Name["blobs/sha256/".Length..], Digests.Sha256(content.ToArray()));
            blobs++;
        }
        Assert.True(blobs >= 5, $"only {blobs} blobs");
    }
}
