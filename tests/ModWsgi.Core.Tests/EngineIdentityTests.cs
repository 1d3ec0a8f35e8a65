using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using ModWsgi.Core.Cache;
using ModWsgi.Core.Destinations;
using ModWsgi.Core.Engine;
using ModWsgi.Core.Layers;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Pipeline;
using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Tests;

/// <summary>
/// Issue 9: the same inputs give the same config and manifest on every engine kind, although Docker's containerd
/// store calls images by their manifest digest (a config digest finds nothing there); and the up-to-date check and
/// the build hook's stage image work on each kind.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class EngineIdentityTests : IDisposable
{
    private const string BaseImageName = "modwsgi/base:bookworm";
    private readonly string _root = Directory.CreateTempSubdirectory("modwsgi-identity-").FullName;
    private readonly FakeContainerEngine _engine = new();
    private readonly ListLogger _log = new();
    private readonly BaseImage _base;

    public EngineIdentityTests()
    {
        _base = _engine.AddBaseImage(BaseImageName);
        Write("wsgi.py", "def application(environ, start_response):\n    pass\n");
        Write("requirements.txt", "flask\n");
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Project => Path.Combine(_root, "site");

    private void Write(string relative, string content)
    {
        var path = Path.Combine(Project, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    private ImageBuildOptions Options(string cache, string? archive = null) =>
        new ProjectSettings { ContainerRepository = "site", WsgiCacheDirectory = Path.Combine(_root, cache), ContainerArchiveOutputPath = archive }
            .ToOptions(Project, Path.Combine(AppContext.BaseDirectory, "runtime"), null);

    private Task<PublishResult> Publish(string cache, string? archive = null) =>
        new ImagePipeline(_engine, _log).PublishAsync(Options(cache, archive), BuildEnvironment.From(name => name == "HOME" ? Path.Combine(_root, "home") : null), CancellationToken.None);

    private void AddBuildHook()
    {
        Write(".docker/action_hooks/build", "#!/bin/sh\necho built > built.txt\n");
        File.SetUnixFileMode(Path.Combine(Project, ".docker/action_hooks/build"), (UnixFileMode)0b111_101_101);
        _engine.Changes.Add(new FilesystemChange("/app/built.txt", ChangeKind.Added));
        _engine.Files["/app/built.txt"] = Encoding.UTF8.GetBytes("built\n");
    }

    private string DependencyKeyLogged() =>
        _log.Messages.Last(m => m.Contains("dependencies: miss (key ", StringComparison.Ordinal)).Split("(key ")[1].Split(')')[0];

    [Fact]
    public async Task OnTheContainerdStore_TheSameInputsGiveTheClassicStoresConfig_AndTheArchivesManifest()
    {
        var classic = await Publish("cache-classic");
        var classicConfig = _engine.Loads[^1].Config.ToJsonString();
        var classicKey = DependencyKeyLogged();
        _engine.Kind = EngineKind.DockerContainerdStore;
        var engineId = (await _engine.InspectImageAsync(BaseImageName, CancellationToken.None))!["Id"]!.GetValue<string>();
        Assert.NotEqual(_base.Id, engineId); // the store's id of the base is not its config digest

        var containerd = await Publish("cache-containerd");

        var load = _engine.Loads[^1];
        Assert.Equal(classicConfig, load.Config.ToJsonString());
        Assert.Equal(classic.ImageId, containerd.ImageId);
        Assert.Equal(classicKey, DependencyKeyLogged()); // the dependency cache key names the base by its config digest too
        // The base's history names its config digest, not the store's id of it.
        Assert.All(load.Config["history"]!.AsArray().Take(_base.DiffIds.Count), h => Assert.Equal(_base.Id, h!["comment"]!.GetValue<string>()));
        // The store holds our manifest: its id of the image is the manifest digest an archive of the same build gets.
        var archive = await Publish("cache-archive", Path.Combine(_root, "out", "site.tar"));
        Assert.Equal(containerd.ImageId, archive.ImageId);
        Assert.Equal(archive.ManifestDigest, containerd.ManifestDigest);
        Assert.Equal(archive.ManifestDigest, load.ManifestDigest);
        Assert.Equal(archive.ManifestDigest, (await _engine.InspectImageAsync("site:latest", CancellationToken.None))!["Id"]!.GetValue<string>());
        Assert.Null(classic.ManifestDigest); // the classic store's id is the config digest: no manifest of ours there
    }

    [Theory]
    [InlineData(EngineKind.DockerClassicStore)]
    [InlineData(EngineKind.DockerContainerdStore)]
    [InlineData(EngineKind.Podman)]
    public async Task NothingChanged_IsUpToDate_OnEveryEngineKind_UntilTheTagMoves(EngineKind kind)
    {
        _engine.Kind = kind;
        var first = await Publish("cache");

        var again = await Publish("cache");

        Assert.True(again.UpToDate);
        Assert.Equal(first.ImageId, again.ImageId);
        Assert.Single(_engine.Loads);

        _engine.RemoveImage("site:latest");
        var reloaded = await Publish("cache");
        Assert.False(reloaded.UpToDate);
        Assert.Equal(2, _engine.Loads.Count);
    }

    [Theory]
    [InlineData(EngineKind.DockerClassicStore)]
    [InlineData(EngineKind.DockerContainerdStore)]
    [InlineData(EngineKind.Podman)]
    public async Task TheBuildHooksStage_IsFoundByTheEnginesIdOfIt_SoASecondBuildDoesNotLoadItAgain(EngineKind kind)
    {
        _engine.Kind = kind;
        AddBuildHook();

        await Publish("cache");
        Write("wsgi.py", "# edited\n");
        await Publish("cache");

        var stage = Assert.Single(_engine.Loads, l => l.Tags.Single().StartsWith(ApplicationLayerStep.StageImagePrefix, StringComparison.Ordinal));
        var stageId = kind == EngineKind.DockerContainerdStore ? stage.ManifestDigest! : stage.ImageId;
        Assert.Equal(2, _engine.Calls.Count(c => c.StartsWith($"create {stageId} ", StringComparison.Ordinal))); // each build hook ran on it
        Assert.Equal(2, _engine.Scripts.Count(s => s.Contains("action_hooks/build", StringComparison.Ordinal)));
        Assert.Empty(_engine.LiveContainers);
    }

    [Fact]
    public async Task OnTheContainerdStore_AfterTheStage_TheFinalLoadCarriesOnlyTheApplicationLayer()
    {
        _engine.Kind = EngineKind.DockerContainerdStore;
        AddBuildHook();

        await Publish("cache");

        var stage = _engine.Loads[0];
        var final = _engine.Loads[1];
        Assert.Equal(stage.DiffIds.Count, stage.ShippedLayerBlobs.Count); // base, runtime, dependencies
        Assert.Single(final.ShippedLayerBlobs); // the rest is in the store's content from the stage

        Write("wsgi.py", "# edited\n");
        await Publish("cache");
        Assert.Single(_engine.Loads[^1].ShippedLayerBlobs); // the stage was found: its blobs are held
    }

    [Fact]
    public async Task OnTheContainerdStore_ASourceOnlyRebuild_CarriesOnlyTheApplicationLayer()
    {
        _engine.Kind = EngineKind.DockerContainerdStore;
        await Publish("cache");
        Assert.Equal(_engine.Loads[0].DiffIds.Count, _engine.Loads[0].ShippedLayerBlobs.Count);

        Write("wsgi.py", "# edited\n");
        await Publish("cache");

        // base, runtime and dependencies are under the tag's current image already: only the edit travels.
        Assert.Single(_engine.Loads[^1].ShippedLayerBlobs);
    }

    [Fact]
    public async Task OnTheContainerdStore_ABlobTheStoreLetGoOf_IsShippedOnASecondTry()
    {
        _engine.Kind = EngineKind.DockerContainerdStore;
        AddBuildHook();
        // The build hook's run is when the stage's blobs go (as if someone removed the stage image meanwhile).
        _engine.OnScript = (script, _) =>
        {
            if (script.Contains("action_hooks/build", StringComparison.Ordinal))
                _engine.ClearContentStore();
            return Task.FromResult((0L, Array.Empty<string>()));
        };

        var result = await Publish("cache");

        var final = _engine.Loads[^1];
        Assert.Equal(final.DiffIds.Count, final.ShippedLayerBlobs.Count);
        Assert.Equal(final.ManifestDigest, result.ManifestDigest);
    }

    [Fact]
    public async Task OnTheContainerdStore_TheBasesConfigDigest_ComesFromItsExport_OncePerBaseImage()
    {
        _engine.Kind = EngineKind.DockerContainerdStore;
        var inspect = (await _engine.InspectImageAsync(BaseImageName, CancellationToken.None))!;
        var onTheStore = BaseImage.FromInspect(BaseImageName, inspect);
        var cache = new BuildCache(Path.Combine(_root, "cache"));

        var resolved = await BaseLayerExporter.WithConfigDigestAsync(_engine, onTheStore, cache, _log, CancellationToken.None);
        var again = await BaseLayerExporter.WithConfigDigestAsync(_engine, onTheStore, cache, _log, CancellationToken.None);

        Assert.Equal(_base.Id, resolved.ConfigDigest); // what the classic store calls the base
        Assert.Equal(onTheStore.Id, resolved.Id); // still found by the store's own id
        Assert.Equal(resolved, again);
        Assert.Single(_engine.Calls, c => c.StartsWith("save", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(EngineKind.DockerClassicStore)]
    [InlineData(EngineKind.Podman)]
    public async Task WhereTheEnginesIdIsTheConfigDigest_NothingIsExported(EngineKind kind)
    {
        _engine.Kind = kind;

        var resolved = await BaseLayerExporter.WithConfigDigestAsync(_engine, _base, new BuildCache(Path.Combine(_root, "cache")), _log, CancellationToken.None);

        Assert.Equal(_base.Id, resolved.ConfigDigest);
        Assert.DoesNotContain(_engine.Calls, c => c.StartsWith("save", StringComparison.Ordinal));
    }

    // ---- the change list: what Podman reports that Docker does not -------------------------------------------

    private async Task<string[]> Captured(params FilesystemChange[] changes)
    {
        _engine.Changes.AddRange(changes);
        var blobs = new FileBlobStore(Path.Combine(_root, "blobs"));
        var layer = await LayerWriter.WriteAsync(blobs, DateTimeOffset.UnixEpoch,
            w => ContainerDiffCapture.CaptureAsync(_engine, "c1", w, _ => false, CancellationToken.None));
        var names = new List<string>();
        await using var reader = new TarReader(new GZipStream(blobs.OpenRead(layer.Blob.Digest), CompressionMode.Decompress));
        while (await reader.GetNextEntryAsync() is { } entry)
            names.Add(entry.Name);
        return [.. names];
    }

    [Fact]
    public async Task PodmansLoneEtcChange_TheMountPointsItMadeThere_IsLeftOut()
    {
        // Podman 4.3's change list for a container that wrote only /opt/note.
        var names = await Captured(new("/etc", ChangeKind.Modified), new("/opt", ChangeKind.Modified), new("/opt/note", ChangeKind.Added));

        Assert.Equal(["opt", "opt/note"], names.Select(n => n.TrimEnd('/')));
    }

    [Fact]
    public async Task AnEtcChangeOfTheBuilds_KeepsTheFolder_AsOnDocker()
    {
        var names = await Captured(new("/etc", ChangeKind.Modified), new("/etc/hosts", ChangeKind.Modified), new("/etc/app.conf", ChangeKind.Added));

        Assert.Equal(["etc", "etc/app.conf"], names.Select(n => n.TrimEnd('/')));
    }
}
