using ModWsgi.Core.Cache;
using ModWsgi.Core.Engine;
using ModWsgi.Core.Layers;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Pipeline;
using ModWsgi.Core.Project;
using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Tests;

/// <summary>Each step on its own, with a fake engine: what it decides from the results before it.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class StepsTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("modwsgi-steps-").FullName;
    private readonly FakeContainerEngine _engine = new();
    private readonly ListLogger _log = new();
    private readonly BaseImage _base;
    private readonly BuildCache _cache;

    public StepsTests()
    {
        _base = _engine.AddBaseImage("modwsgi/base:bookworm");
        _cache = new BuildCache(Path.Combine(_root, "cache"));
        Write("wsgi.py", "def application(environ, start_response):\n    pass\n");
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Project => Path.Combine(_root, "app");

    private void Write(string relative, string content, UnixFileMode? mode = null)
    {
        var path = Path.Combine(Project, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        if (mode is { } m)
            File.SetUnixFileMode(path, m);
    }

    private ImagePlan Plan(ProjectSettings? settings = null, string? sourceDateEpoch = null) =>
        new PlanStep(_log).Run(
            (settings ?? new ProjectSettings()).ToOptions(Project, Path.Combine(AppContext.BaseDirectory, "runtime"), null),
            BuildEnvironment.From(name => name == "SOURCE_DATE_EPOCH" ? sourceDateEpoch : name == "HOME" ? _root : null),
            _base, GitCheckout.None);

    [Fact]
    public void Plan_TakesTheEpochFromTheEnvironment_AndOrdersDjangoBeforeTheBuildHook()
    {
        Write("manage.py", "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'site.settings')\n");
        Write(".docker/action_hooks/build", "#!/bin/sh\n", (UnixFileMode)0b111_101_101);

        var plan = Plan(sourceDateEpoch: "1600000000");

        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1_600_000_000), plan.Epoch);
        Assert.Equal(["django", "build"], plan.ApplicationSteps.Select(s => s.Name));
        Assert.Equal(SourceDateEpoch.Fixed, Plan().Epoch);
    }

    [Theory]
    [InlineData(null, 33, 0)]        // root: the daemons (and the deploy hook) are www-data; group 0 for any uid (OpenShift)
    [InlineData("root", 33, 0)]
    [InlineData("www-data", 33, 0)]
    [InlineData("1001", 1001, 0)]    // a uid without a passwd entry gets Docker's group 0
    [InlineData("1001:1002", 1001, 1002)]
    public async Task RuntimeLayer_HasTheDataFolder_OwnedByTheApplicationsUser(string? user, int uid, int gid)
    {
        var plan = Plan(new ProjectSettings { ContainerUser = user });

        var runtime = await new RuntimeLayerStep(_cache).RunAsync(plan, CancellationToken.None);

        using var blob = _cache.Blobs.OpenRead(runtime.Added.Layer.Blob.Digest);
        using var gzip = new System.IO.Compression.GZipStream(blob, System.IO.Compression.CompressionMode.Decompress);
        using var reader = new System.Formats.Tar.TarReader(gzip);
        var entries = new List<System.Formats.Tar.TarEntry>();
        while (reader.GetNextEntry() is { } entry)
            entries.Add(entry);
        var data = Assert.Single(entries, e => e.Name.TrimEnd('/') == "data");
        Assert.Equal(System.Formats.Tar.TarEntryType.Directory, data.EntryType);
        Assert.Equal((uid, gid), (data.Uid, data.Gid));
        Assert.Equal((UnixFileMode)0b111_111_101, data.Mode); // 0775: group-writable
        Assert.Contains(entries, e => e.Name == "usr/local/bin/mod_wsgi-docker-start");
        Assert.Contains(entries, e => e.Name == "usr/local/bin/mod_wsgi-docker-probe" && e.Mode == (UnixFileMode)0b111_101_101);
    }

    [Fact]
    public async Task ApplicationLayer_IsGroupZero_WithTheOwnersPermissionsForTheGroup()
    {
        Write("wsgi.py", "def application(environ, start_response):\n    pass\n", (UnixFileMode)0b110_100_100);
        Write("scripts/run.sh", "#!/bin/sh\n", (UnixFileMode)0b111_101_101);
        Write("secret.cfg", "x\n", (UnixFileMode)0b110_000_000);
        File.CreateSymbolicLink(Path.Combine(Project, "link.py"), "wsgi.py");
        var plan = Plan();
        var runtime = await new RuntimeLayerStep(_cache).RunAsync(plan, CancellationToken.None);
        var dependencies = await new DependencyLayerStep(_engine, _cache, _log).RunAsync(plan, runtime, CancellationToken.None);

        var application = await new ApplicationLayerStep(_engine, _cache, new EngineImageLoader(_engine, _cache), _log)
            .RunAsync(plan, runtime, dependencies, CancellationToken.None);

        using var blob = _cache.Blobs.OpenRead(application.Added.Layer.Blob.Digest);
        using var gzip = new System.IO.Compression.GZipStream(blob, System.IO.Compression.CompressionMode.Decompress);
        using var reader = new System.Formats.Tar.TarReader(gzip);
        var entries = new Dictionary<string, System.Formats.Tar.TarEntry>();
        while (reader.GetNextEntry() is { } entry)
            entries[entry.Name] = entry;
        Assert.Equal((UnixFileMode)0b111_111_101, entries["app/"].Mode);           // 0755 -> 0775
        Assert.Equal((UnixFileMode)0b111_111_101, entries["app/scripts/"].Mode);
        Assert.Equal((UnixFileMode)0b110_110_100, entries["app/wsgi.py"].Mode);    // 0644 -> 0664
        Assert.Equal((UnixFileMode)0b111_111_101, entries["app/scripts/run.sh"].Mode); // 0755 -> 0775
        Assert.Equal((UnixFileMode)0b110_110_000, entries["app/secret.cfg"].Mode); // 0600 -> 0660: still nothing for others
        Assert.Equal(System.Formats.Tar.TarEntryType.SymbolicLink, entries["app/link.py"].EntryType);
        Assert.All(entries.Values, e => Assert.Equal((0, 0), (e.Uid, e.Gid)));
    }

    [Fact]
    public async Task DependencyLayer_MissRunsPipInAContainer_HitRunsNothing()
    {
        Write("requirements.txt", "flask\n");
        var plan = Plan();
        var runtime = await new RuntimeLayerStep(_cache).RunAsync(plan, CancellationToken.None);
        var step = new DependencyLayerStep(_engine, _cache, _log);

        var miss = await step.RunAsync(plan, runtime, CancellationToken.None);
        var calls = _engine.Calls.Count;
        var hit = await step.RunAsync(plan, runtime, CancellationToken.None);

        Assert.False(miss.CacheHit);
        Assert.True(hit.CacheHit);
        Assert.Equal(miss.Added.Layer, hit.Added.Layer);
        Assert.Equal(miss.CacheKey, hit.CacheKey);
        Assert.Single(_engine.Scripts, s => s.Contains("-r requirements.txt", StringComparison.Ordinal));
        Assert.Equal(calls, _engine.Calls.Count); // a hit asks nothing of the engine
        Assert.Empty(_engine.LiveContainers);
        Assert.Equal("ModWsgi.Sdk dependencies: pip", miss.Added.CreatedBy);
    }

    [Fact]
    public async Task ApplicationLayer_WithoutSteps_NeedsNoContainer()
    {
        var plan = Plan();
        var runtime = await new RuntimeLayerStep(_cache).RunAsync(plan, CancellationToken.None);
        var dependencies = await new DependencyLayerStep(_engine, _cache, _log).RunAsync(plan, runtime, CancellationToken.None);
        var calls = _engine.Calls.Count;

        var application = await new ApplicationLayerStep(_engine, _cache, new EngineImageLoader(_engine, _cache), _log)
            .RunAsync(plan, runtime, dependencies, CancellationToken.None);

        Assert.Equal(calls, _engine.Calls.Count);
        Assert.Null(application.Django);
        Assert.Equal("ModWsgi.Sdk application: /app", application.Added.CreatedBy);
    }

    [Fact]
    public async Task Config_ForAnAppPy_RunsPythonAppAndStopsOnSigint()
    {
        Write("app.py", "print('serving')\n");
        var plan = Plan();
        Assert.Equal(ServerKind.PythonApp, plan.Detected.Server);
        var runtime = await new RuntimeLayerStep(_cache).RunAsync(plan, CancellationToken.None);
        var dependencies = await new DependencyLayerStep(_engine, _cache, _log).RunAsync(plan, runtime, CancellationToken.None);
        var application = await new ApplicationLayerStep(_engine, _cache, new EngineImageLoader(_engine, _cache), _log)
            .RunAsync(plan, runtime, dependencies, CancellationToken.None);

        var image = ConfigStep.Run(plan, runtime, dependencies, application);

        var config = System.Text.Json.Nodes.JsonNode.Parse(image.ConfigBytes)!["config"]!;
        Assert.Contains("MODWSGI_SERVER=python-app", config["Env"]!.AsArray().Select(e => e!.GetValue<string>()));
        Assert.Equal("SIGINT", config["StopSignal"]!.GetValue<string>());
        Assert.Equal([runtime.Added, dependencies.Added, application.Added], image.Added);
        Assert.Equal(Digests.Sha256(image.ConfigBytes), image.ImageId);
    }
}
