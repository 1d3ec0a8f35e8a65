using System.Text.Json.Nodes;
using System.Text;
using ModWsgi.Core.Cache;
using ModWsgi.Core.Destinations;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Engine;
using ModWsgi.Core.Layers;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Pipeline;
using ModWsgi.Core.Project;
using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Tests;

/// <summary>
/// The pipeline's decisions on a fake engine (and a fake registry): what runs, what is loaded, pushed or
/// written, when nothing is done at all, and that build containers never outlive a build.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class PipelineTests : IDisposable
{
    private const string BaseImageName = "modwsgi/base:bookworm";
    private readonly string _root = Directory.CreateTempSubdirectory("modwsgi-pipeline-").FullName;
    private readonly FakeContainerEngine _engine = new();
    private readonly FakeRegistryHandler _registry = new();
    private readonly Registry.RegistryRetryOptions _registryRetry = new() { TimeProvider = new InstantTimeProvider() };
    private readonly ListLogger _log = new();

    public PipelineTests()
    {
        _engine.AddBaseImage(BaseImageName);
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

    private ImageBuildOptions Options(ProjectSettings? settings = null) =>
        (settings ?? new ProjectSettings()) with { ContainerRepository = "site", WsgiCacheDirectory = Path.Combine(_root, "cache") } is var s
            ? s.ToOptions(Project, Path.Combine(AppContext.BaseDirectory, "runtime"), null)
            : throw new InvalidOperationException();

    private BuildEnvironment Environment(string? sourceDateEpoch = null) => BuildEnvironment.From(name => name switch
    {
        "HOME" => Path.Combine(_root, "home"),
        "SOURCE_DATE_EPOCH" => sourceDateEpoch,
        _ => null,
    });

    private Task<PublishResult> Publish(ImageBuildOptions? options = null, CancellationToken cancellationToken = default) =>
        new ImagePipeline(_engine, _log) { RegistryHandler = _registry, RegistryRetry = _registryRetry }.PublishAsync(options ?? Options(), Environment(), cancellationToken);

    private int PipRuns => _engine.Scripts.Count(s => s.Contains("pip", StringComparison.Ordinal) && s.Contains("install", StringComparison.Ordinal));

    [Fact]
    public async Task SourceOnlyRebuild_ReusesTheDependencyLayer_AndLoadsOnlyTheApplicationLayer()
    {
        var first = await Publish();

        Assert.Equal(1, PipRuns);
        Assert.Contains(_log.Messages, m => m.Contains("dependencies: miss", StringComparison.Ordinal));
        var firstLoad = Assert.Single(_engine.Loads);
        Assert.Equal(["site:latest"], firstLoad.Tags);
        Assert.Equal(3, firstLoad.ShippedLayerBlobs.Count); // runtime, dependencies, application; never the base
        Assert.Equal(first.ImageId, firstLoad.ImageId);

        Write("wsgi.py", "def application(environ, start_response):\n    return []\n");
        var second = await Publish();

        Assert.Equal(1, PipRuns); // a hit: pip did not run again
        Assert.Contains(_log.Messages, m => m.Contains("dependencies: cached", StringComparison.Ordinal));
        Assert.NotEqual(first.ImageId, second.ImageId);
        var secondLoad = _engine.Loads[1];
        Assert.Single(secondLoad.ShippedLayerBlobs); // the engine held runtime and dependencies under site:latest
        Assert.Equal(firstLoad.DiffIds.Take(3), secondLoad.DiffIds.Take(3));
        Assert.Empty(_engine.LiveContainers);
    }

    [Theory]
    [InlineData(EngineKind.Podman)]
    [InlineData(EngineKind.DockerContainerdStore)]
    public async Task IntoAnEngineThatNeedsCompleteArchives_EveryLayerTravels_TheBaseExportedOnce(EngineKind kind)
    {
        var classic = await Publish(); // the same project into the classic store first: the image id to match
        var cache = Path.Combine(_root, "cache");
        Directory.Delete(cache, recursive: true);
        _engine.Kind = kind;
        var savesBefore = _engine.Calls.Count(c => c.StartsWith("save", StringComparison.Ordinal));

        var first = await Publish();

        Assert.Equal(classic.ImageId, first.ImageId); // the same config: how layers travel never changes the id
        var load = _engine.Loads[^1];
        Assert.Equal(load.DiffIds.Count, load.ShippedLayerBlobs.Count); // base, runtime, dependencies, application
        var baseImage = BaseImage.FromInspect(BaseImageName, (await _engine.InspectImageAsync(BaseImageName, default))!);
        var baseLayers = new BuildCache(cache).FindBaseLayers(baseImage.Id);
        Assert.NotNull(baseLayers);
        Assert.Equal(baseLayers.Select(l => l.Blob.Digest), load.ShippedLayerBlobs.Take(baseLayers.Count));
        Assert.Equal(classic.ImageId, load.ImageId);

        Write("wsgi.py", "def application(environ, start_response):\n    return []\n");
        await Publish();

        var second = _engine.Loads[^1];
        // Podman takes complete archives only; the containerd store holds the blobs of site:latest's leading layers.
        Assert.Equal(kind == EngineKind.Podman ? second.DiffIds.Count : 1, second.ShippedLayerBlobs.Count);
        Assert.Equal(savesBefore + 1, _engine.Calls.Count(c => c.StartsWith("save", StringComparison.Ordinal))); // then from the cache
    }

    [Fact]
    public async Task IntoTheClassicStore_NeverExportsTheBase()
    {
        await Publish();

        Assert.DoesNotContain(_engine.Calls, c => c.StartsWith("save", StringComparison.Ordinal));
        Assert.Contains("kind", _engine.Calls);
    }

    [Fact]
    public async Task ThePythonVersionFile_PicksTheBaseImage_TheLogSaysWhy_AndAChangeRebuildsOnTheOther()
    {
        _engine.AddBaseImage("modwsgi/base:trixie", "trixie layer");
        var bookworm = await Publish();
        Assert.Contains(_log.Messages, m => m.Contains("Python 3.11 (the default", StringComparison.Ordinal));

        Write(".python-version", "3.13\n");
        var trixie = await Publish();

        Assert.False(trixie.UpToDate);
        Assert.NotEqual(bookworm.ImageId, trixie.ImageId);
        Assert.Contains(_log.Messages, m => m.Contains("Python 3.13 (.python-version: 3.13): base image modwsgi/base:trixie", StringComparison.Ordinal));
        Assert.Contains("inspect modwsgi/base:trixie", _engine.Calls);
        Assert.Equal(2, PipRuns); // another base image: another dependency layer
    }

    [Fact]
    public async Task AMissingTrixieBase_SaysHowToBuildIt_WithItsSuite()
    {
        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => Publish(Options(new ProjectSettings { WsgiPythonVersion = "3.13" }) with { BaseImageRecipe = "/sdk/baseimage/build-base-image.sh" }));

        Assert.Equal(DiagnosticCodes.BaseImageMissing, ex.Code);
        Assert.Contains("sudo bash /sdk/baseimage/build-base-image.sh --suite trixie modwsgi/base:trixie", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AContainerBaseImageAgainstTheProjectsPython_IsUsed_WithWarning2027()
    {
        Write(".python-version", "3.13\n");

        await Publish(Options(new ProjectSettings { ContainerBaseImage = BaseImageName }));

        Assert.Contains(_log.Warnings, w => w.Contains("gives Python 3.11, but .python-version asks for '3.13'", StringComparison.Ordinal));
        Assert.Contains("inspect " + BaseImageName, _engine.Calls);
        Assert.DoesNotContain("inspect modwsgi/base:trixie", _engine.Calls);
    }

    [Fact]
    public async Task NothingChanged_IsUpToDate_AndRunsNoStep_UntilTheEngineLosesTheTag()
    {
        var first = await Publish();
        var calls = _engine.Calls.Count;

        var again = await Publish();

        Assert.True(again.UpToDate);
        Assert.Equal(first.ImageId, again.ImageId);
        Assert.Single(_engine.Loads);
        Assert.DoesNotContain(_engine.Calls.Skip(calls), c => c.StartsWith("create", StringComparison.Ordinal) || c.StartsWith("load", StringComparison.Ordinal));
        Assert.Contains(_log.Messages, m => m.StartsWith("Image up to date", StringComparison.Ordinal));

        _engine.RemoveImage("site:latest");
        var rebuilt = await Publish();

        Assert.False(rebuilt.UpToDate);
        Assert.Equal(first.ImageId, rebuilt.ImageId);
        Assert.Equal(2, _engine.Loads.Count);
    }

    [Fact]
    public async Task AFailedStep_RemovesItsBuildContainer_TagsNothing_AndQuotesTheOutput()
    {
        _engine.OnScript = (script, _) => Task.FromResult(script.Contains("pip", StringComparison.Ordinal)
            ? (1L, new[] { "ERROR: No matching distribution found for flask" })
            : (0L, Array.Empty<string>()));

        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => Publish());

        Assert.Equal(DiagnosticCodes.BuildStepFailed, ex.Code);
        Assert.Contains("No matching distribution found for flask", ex.Message);
        Assert.Empty(_engine.LiveContainers);
        Assert.Contains(_engine.Calls, c => c.StartsWith("remove", StringComparison.Ordinal));
        Assert.Empty(_engine.Loads);
        Assert.False(_engine.HasImage("site:latest"));
    }

    private static ModWsgiException RemovalConflict(string id) => new(DiagnosticCodes.EngineRequestFailed,
        $"The container engine refused to remove container: 409 You cannot remove a running container {id}. Stop the container before attempting removal or force remove");

    /// <summary>Makes the pip step fail; returns what tells the container that ran it (not the server options' check).</summary>
    private Func<string, bool> FailThePipStep()
    {
        _engine.OnScript = (script, _) => Task.FromResult(script.Contains("pip", StringComparison.Ordinal)
            ? (1L, new[] { "ERROR: No matching distribution found for flask" })
            : (0L, Array.Empty<string>()));
        return id => _engine.Calls.Any(c => c.StartsWith($"exec {id} ", StringComparison.Ordinal) && c.Contains("pip", StringComparison.Ordinal) && !IsServerCheck(c));
    }

    [Fact]
    public async Task AFailedStep_WhoseContainerCannotBeRemoved_SurfacesTheStepsError_AndWarnsOfTheContainer()
    {
        var ranPip = FailThePipStep();
        _engine.OnRemove = (id, _) => ranPip(id) ? throw RemovalConflict(id) : Task.CompletedTask;

        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => Publish());

        Assert.Equal(DiagnosticCodes.BuildStepFailed, ex.Code);
        Assert.Equal("MODWSGI5001", ex.Id);
        Assert.Contains("No matching distribution found for flask", ex.Message);
        var pipContainer = _engine.LiveContainers.Single(ranPip);
        var warning = Assert.Single(_log.Warnings);
        Assert.Contains(pipContainer, warning);
        Assert.Contains("409", warning);
        Assert.Contains("docker rm -f " + pipContainer, warning);
    }

    [Fact]
    public async Task ACancelledBuild_WhoseContainerCannotBeRemoved_IsStillACancellation()
    {
        using var cancel = new CancellationTokenSource();
        _engine.OnScript = async (_, token) =>
        {
            await cancel.CancelAsync();
            await Task.Delay(Timeout.Infinite, token);
            return (0L, Array.Empty<string>());
        };
        _engine.OnRemove = (id, _) => throw RemovalConflict(id);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Publish(cancellationToken: cancel.Token));

        Assert.Contains("c1", Assert.Single(_log.Warnings));
    }

    [Fact]
    public async Task ASuccessfulStep_WhoseContainerCannotBeRemoved_FailsWithTheRemovalsError()
    {
        _engine.OnRemove = (id, _) => throw RemovalConflict(id);

        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => Publish());

        Assert.Equal(DiagnosticCodes.EngineRequestFailed, ex.Code);
        Assert.Contains("409", ex.Message);
        Assert.Empty(_log.Warnings);
        Assert.Empty(_engine.Loads);
    }

    private static ModWsgiException RemovalTimedOut() => new(DiagnosticCodes.EngineTimedOut,
        "The container engine at unix:///var/run/docker.sock did not answer remove container within 10 s.");

    [Fact]
    public async Task ASuccessfulStep_WhoseRemovalTimesOutWhileTheEngineRemovesIt_AsksAgain_AndTheBuildSucceeds()
    {
        // Each container's first removal times out (a big venv on a busy disk), the second finds it gone.
        var timedOut = new HashSet<string>();
        _engine.OnRemove = (id, _) => timedOut.Add(id) ? throw RemovalTimedOut() : Task.CompletedTask;

        await Publish();

        Assert.NotEmpty(timedOut);
        Assert.All(timedOut, id => Assert.Equal(2, _engine.Calls.Count(c => c == "remove " + id)));
        Assert.Empty(_engine.LiveContainers);
        Assert.Empty(_log.Warnings);
        Assert.True(_engine.HasImage("site:latest"));
    }

    [Fact]
    public async Task ASuccessfulStep_WhoseRemovalNeverAnswers_FailsWithTheTimeout_AfterABoundedNumberOfAsks()
    {
        _engine.OnRemove = (_, _) => throw RemovalTimedOut();

        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => Publish());

        Assert.Equal(DiagnosticCodes.EngineTimedOut, ex.Code);
        var first = _engine.Calls.First(c => c.StartsWith("remove ", StringComparison.Ordinal));
        Assert.Equal(1 + ModWsgi.Core.Steps.BuildContainer.RemovalRetries, _engine.Calls.Count(c => c == first));
        Assert.Empty(_engine.Loads);
    }

    [Fact]
    public async Task AFailedStep_WhoseRemovalTimesOut_IsAskedOnce_AndWarns()
    {
        var ranPip = FailThePipStep();
        _engine.OnRemove = (id, _) => ranPip(id) ? throw RemovalTimedOut() : Task.CompletedTask;

        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => Publish());

        Assert.Equal(DiagnosticCodes.BuildStepFailed, ex.Code);
        var pipContainer = _engine.LiveContainers.Single(ranPip);
        Assert.Single(_engine.Calls, c => c == "remove " + pipContainer);
        Assert.Contains("docker rm -f " + pipContainer, Assert.Single(_log.Warnings));
    }

    [Fact]
    public async Task ACancelledBuild_RemovesItsBuildContainer()
    {
        using var cancel = new CancellationTokenSource();
        _engine.OnScript = async (_, token) =>
        {
            await cancel.CancelAsync();
            await Task.Delay(Timeout.Infinite, token);
            return (0L, Array.Empty<string>());
        };

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Publish(cancellationToken: cancel.Token));

        Assert.Contains(_engine.Calls, c => c.StartsWith("create", StringComparison.Ordinal));
        Assert.Empty(_engine.LiveContainers);
        Assert.Empty(_engine.Loads);
    }

    [Fact]
    public async Task Archive_IsWritten_UpToDateWhileUnchanged_AndWrittenAgainWhenTheFileChangedOrWentAway()
    {
        var archive = Path.Combine(_root, "out", "site.tar");
        var options = Options(new ProjectSettings { ContainerArchiveOutputPath = archive });

        var first = await Publish(options);

        Assert.Equal(archive, first.ArchivePath);
        Assert.True(File.Exists(archive));
        Assert.Equal(new FileInfo(archive).Length, first.ArchiveSize);
        Assert.Equal(Oci.Digests.Sha256(File.ReadAllBytes(archive)), first.ArchiveDigest);
        Assert.Empty(_engine.Loads); // an archive is not the engine
        Assert.True((await Publish(options)).UpToDate);

        // Same size, other bytes: a file that exists is not enough.
        var bytes = File.ReadAllBytes(archive);
        bytes[^1] ^= 0xff;
        File.WriteAllBytes(archive, bytes);
        var rewritten = await Publish(options);
        Assert.False(rewritten.UpToDate);
        Assert.Equal(first.ArchiveDigest, Oci.Digests.Sha256(File.ReadAllBytes(archive)));

        File.Delete(archive);
        Assert.False((await Publish(options)).UpToDate);
        Assert.True(File.Exists(archive));
    }

    [Fact]
    public async Task Archive_NamesEachTagFullyQualifiedForContainerd_AndKeepsTheTagsAsGiven()
    {
        var archive = Path.Combine(_root, "out", "site.tar");
        await Publish(Options(new ProjectSettings { ContainerArchiveOutputPath = archive, ContainerImageTags = ["1.0", "latest"] }));

        var entries = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        await using (var reader = new System.Formats.Tar.TarReader(File.OpenRead(archive)))
        {
            while (await reader.GetNextEntryAsync(copyData: true) is { } entry)
            {
                using var content = new MemoryStream();
                entry.DataStream?.CopyTo(content);
                entries[entry.Name] = content.ToArray();
            }
        }
        // One index entry per tag (as Docker 25+'s docker save writes it): the containerd store loads each one as an image.
        var indexed = JsonNode.Parse(entries["index.json"])!["manifests"]!.AsArray();
        Assert.Equal(["docker.io/library/site:1.0", "docker.io/library/site:latest"], indexed.Select(m => m!["annotations"]!["io.containerd.image.name"]!.GetValue<string>()));
        Assert.Equal(["1.0", "latest"], indexed.Select(m => m!["annotations"]!["org.opencontainers.image.ref.name"]!.GetValue<string>()));
        Assert.Single(indexed.Select(m => m!["digest"]!.GetValue<string>()).Distinct());
        // docker load (classic store) reads manifest.json: the names as the user gave them.
        Assert.Equal(["site:1.0", "site:latest"], JsonNode.Parse(entries["manifest.json"])![0]!["RepoTags"]!.AsArray().Select(t => t!.GetValue<string>()));
    }

    [Fact]
    public async Task Registry_IsPushed_UpToDateWhileItServesTheManifest_AndPushedAgainWhenTheManifestIsGone()
    {
        var options = Options(new ProjectSettings { ContainerRegistry = "registry.example.com", ContainerImageTags = ["1.0", "latest"] });

        var first = await Publish(options);

        Assert.Equal(["registry.example.com/site:1.0", "registry.example.com/site:latest"], first.Images);
        Assert.Equal(2, _registry.Count("PUT", "/manifests/"));
        Assert.Equal(Oci.Digests.Sha256(_registry.Manifests["site:latest"]), first.ManifestDigest);
        Assert.Equal(5, _registry.Blobs.Count); // base, runtime, dependencies, application, config
        Assert.Empty(_engine.Loads);

        var again = await Publish(options);
        Assert.True(again.UpToDate);
        Assert.Equal(2, _registry.Count("HEAD", "/manifests/"));
        Assert.Equal(2, _registry.Count("PUT", "/manifests/"));

        // The registry lost one tag (deleted, garbage-collected, wiped): the next publish pushes again.
        _registry.Manifests.Remove("site:latest");
        var pushed = await Publish(options);
        Assert.False(pushed.UpToDate);
        Assert.Equal(4, _registry.Count("PUT", "/manifests/"));
        Assert.True(_registry.Manifests.ContainsKey("site:latest"));

        // Another image under the tag is not ours either.
        _registry.Manifests["site:1.0"] = Encoding.UTF8.GetBytes("{\"other\":true}");
        Assert.False((await Publish(options)).UpToDate);
    }

    [Fact]
    public async Task Registry_Unreachable_IsNotUpToDate_AndThePushReportsIt()
    {
        var options = Options(new ProjectSettings { ContainerRegistry = "registry.example.com" });
        await Publish(options);
        _registry.Down = true;

        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => Publish(options));

        Assert.Equal(DiagnosticCodes.RegistryUnreachable, ex.Code);
        Assert.DoesNotContain(_log.Messages, m => m.StartsWith("Image up to date", StringComparison.Ordinal));
        Assert.Contains("tried 6 times", ex.Message);
    }

    [Fact]
    public async Task SourceDateEpoch_FromTheEnvironment_SetsTheCreatedTime()
    {
        await new ImagePipeline(_engine, _log).PublishAsync(Options(), Environment("1700000000"), CancellationToken.None);

        Assert.Equal("2023-11-14T22:13:20Z", _engine.Loads[0].Config["created"]!.GetValue<string>());
    }

    [Fact]
    public async Task Django_SettingsComeBackAsAFile_NotThroughTheLog()
    {
        Write("requirements.txt", "django\n");
        Write("manage.py", "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n");
        Write("mysite/settings.py", "STATIC_URL = '/static/'\n");
        var report = """{"static_url": "/static/", "static_root": "/app/htdocs", "wsgi_application": "mysite.wsgi.application", "defaulted": true}""";
        _engine.OnScript = (script, _) =>
        {
            if (script.Contains("collectstatic", StringComparison.Ordinal))
                _engine.Files[DjangoSupport.SettingsFile] = Encoding.UTF8.GetBytes(report);
            return Task.FromResult((0L, new[] { "1 static file copied to '/app/htdocs'." }));
        };

        await Publish();

        var cmd = _engine.Loads.Single(l => l.Tags.Contains("site:latest")).Config["config"]!["Cmd"]!.AsArray().Select(c => c!.GetValue<string>()).ToArray();
        Assert.Equal(["--application-type", "module", "--entry-point", "mysite.wsgi", "--callable-object", "application", "--url-alias", "/static", "htdocs"], cmd);
        Assert.Contains(_engine.Calls, c => c.StartsWith("exec-to-stream", StringComparison.Ordinal) && c.EndsWith(" cat", StringComparison.Ordinal));
        Assert.DoesNotContain(_log.Messages, m => m.Contains("MODWSGI-DJANGO", StringComparison.Ordinal) || m.Contains("static_root", StringComparison.Ordinal));
        Assert.Contains(_log.Messages, m => m.Contains("static file copied", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Django_WithoutItsReport_IsMODWSGI5003()
    {
        Write("manage.py", "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n");

        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => Publish());

        Assert.Equal(DiagnosticCodes.DjangoSettingsUnreadable, ex.Code);
        Assert.Empty(_engine.LiveContainers);
    }

    [Theory]
    [InlineData(EngineKind.DockerClassicStore)]
    [InlineData(EngineKind.DockerContainerdStore)] // image ids there are manifest digests: the stage is found by its name
    [InlineData(EngineKind.Podman)]
    public async Task BuildHook_RunsOnTheDependencyStage_LoadedOnce(EngineKind kind)
    {
        _engine.Kind = kind;
        Write(".docker/action_hooks/build", "#!/bin/sh\necho built > built.txt\n");
        File.SetUnixFileMode(Path.Combine(Project, ".docker/action_hooks/build"), (UnixFileMode)0b111_101_101);
        _engine.Changes.Add(new FilesystemChange("/app/built.txt", ChangeKind.Added));
        _engine.Files["/app/built.txt"] = Encoding.UTF8.GetBytes("built\n");

        await Publish();
        Write("wsgi.py", "# edited\n");
        await Publish();

        var stages = _engine.Loads.Where(l => l.Tags.Single().StartsWith(ApplicationLayerStep.StageImagePrefix, StringComparison.Ordinal)).ToArray();
        var stage = Assert.Single(stages); // the second build found it in the engine
        Assert.Equal(2, stage.DiffIds.Count - 1); // base + runtime + dependencies
        Assert.Equal(2, _engine.Scripts.Count(s => s.Contains("action_hooks/build", StringComparison.Ordinal)));
        Assert.Empty(_engine.LiveContainers);
    }

    // ----- the server options, checked by the launcher in the build -----

    private static bool IsServerCheck(string script) => script.Contains("modwsgi-launch --check-only", StringComparison.Ordinal);

    [Fact]
    public async Task ServerOptions_AreCheckedByTheLauncher_WithTheLayoutsServerArgs_BeforePip_AndOnceForTheSameOptions()
    {
        Write(".whiskey/server_args", "--directory-index index.html\n");
        var options = Options(new ProjectSettings { WsgiServerArgument = ["--processes=2"] });

        await Publish(options);

        var check = Assert.Single(_engine.Scripts, IsServerCheck);
        Assert.Equal("/usr/bin/python3 /tmp/modwsgi-check/modwsgi-launch --check-only --application-type script --processes=2 "
            + "--server-args-file .whiskey/server_args", check);
        Assert.True(_engine.Scripts.IndexOf(check) < _engine.Scripts.FindIndex(s => s.Contains("pip", StringComparison.Ordinal) && !IsServerCheck(s)));
        Assert.Equal("--directory-index index.html\n", Encoding.UTF8.GetString(_engine.Files["/tmp/modwsgi-check/.whiskey/server_args"]));
        Assert.Empty(_engine.LiveContainers);

        Write("wsgi.py", "def application(environ, start_response):\n    return []\n");
        await Publish(options);
        Assert.Single(_engine.Scripts, IsServerCheck); // the same options passed before: not checked again

        Write(".whiskey/server_args", "--directory-index start.html\n");
        await Publish(options);
        Assert.Equal(2, _engine.Scripts.Count(IsServerCheck));
    }

    [Fact]
    public async Task ARefusedServerOption_FailsTheBuild_NamingTheOptionAndItsFile_AndLeavesNothingBehind()
    {
        Write(".whiskey/server_args", "--directory-indx index.html\n");
        _engine.OnScript = (script, _) => Task.FromResult(IsServerCheck(script)
            ? (2L, new[] { "modwsgi-launch: error: unknown option --directory-indx (in .whiskey/server_args line 1) (see --help)" })
            : (0L, Array.Empty<string>()));

        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => Publish());

        Assert.Equal(DiagnosticCodes.ServerOptionRejected, ex.Code);
        Assert.Equal("MODWSGI2036", ex.Id);
        Assert.Contains("unknown option --directory-indx (in .whiskey/server_args line 1)", ex.Message);
        Assert.Contains("comes from the project's .whiskey/server_args", ex.Message);
        Assert.DoesNotContain("(see --help)", ex.Message);
        Assert.DoesNotContain(_engine.Scripts, s => s.Contains("pip", StringComparison.Ordinal) && !IsServerCheck(s)); // before pip
        Assert.Empty(_engine.LiveContainers);
        Assert.Empty(_engine.Loads);
    }

    [Fact]
    public async Task ACheckThatCannotRun_IsNotBlamedOnTheOptions()
    {
        _engine.OnScript = (script, _) => Task.FromResult(IsServerCheck(script)
            ? (126L, new[] { "OCI runtime exec failed: exec failed: unable to start container process" })
            : (0L, Array.Empty<string>()));

        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => Publish());

        Assert.Equal(DiagnosticCodes.UnexpectedFailure, ex.Code);
        Assert.Contains("could not be checked", ex.Message);
        Assert.Contains("OCI runtime exec failed", ex.Message);
        Assert.Empty(_engine.LiveContainers);
    }

    [Fact]
    public async Task ARefusedCmdOption_NamesTheProjectsServerOptions()
    {
        _engine.OnScript = (script, _) => Task.FromResult(IsServerCheck(script)
            ? (2L, new[] { "modwsgi-launch: error: unknown option --bogus (see --help)" })
            : (0L, Array.Empty<string>()));

        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => Publish(Options(new ProjectSettings { WsgiServerArgument = ["--bogus"] })));

        Assert.Equal(DiagnosticCodes.ServerOptionRejected, ex.Code);
        Assert.Contains("unknown option --bogus", ex.Message);
        Assert.Contains("WsgiServerArgument", ex.Message);
    }

    [Fact]
    public async Task AnExecutableStartHook_ReplacesTheServer_SoItsOptionsAreNotChecked()
    {
        Write(".whiskey/action_hooks/start", "#!/bin/sh\nexec mod_wsgi-express start-server \"$@\"\n");
        File.SetUnixFileMode(Path.Combine(Project, ".whiskey/action_hooks/start"), (UnixFileMode)0b111_101_101);

        await Publish();

        Assert.DoesNotContain(_engine.Scripts, IsServerCheck);
        Assert.Contains(_log.Messages, m => m.Contains("Server options not checked: .whiskey/action_hooks/start", StringComparison.Ordinal));
    }
}
