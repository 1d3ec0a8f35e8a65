using System.Diagnostics;
using ModWsgi.Core.Engine;
using ModWsgi.Core.Pipeline;
using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Tests;

/// <summary>Build containers carry who made them; a build removes what earlier builds left, and only that.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class LeftoverSweepTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("modwsgi-sweep-").FullName;
    private readonly FakeContainerEngine _engine = new();
    private readonly ListLogger _log = new();
    private static BuildClient Self => BuildClient.Current;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void ThisProcess_IsRunning_AndItsPidWithAnotherStartTime_IsGone()
    {
        Assert.NotNull(Self.StartTime);
        Assert.NotNull(Self.BootId);
        Assert.Equal(BuildClientState.Running, Self.StateOf(Self));
        // A recycled pid: the same number, a later process.
        Assert.Equal(BuildClientState.Gone, Self.StateOf(Self with { StartTime = Self.StartTime + "1" }));
    }

    [Fact]
    public void AProcessThatEnded_IsGone_AndOneThatRuns_IsRunning()
    {
        using var sleeper = Process.Start("sleep", "30");
        try
        {
            var running = Self with { Pid = sleeper.Id, StartTime = BuildClient.ReadStartTime(sleeper.Id) };
            Assert.Equal(BuildClientState.Running, Self.StateOf(running));
            sleeper.Kill();
            sleeper.WaitForExit();
            Assert.Equal(BuildClientState.Gone, Self.StateOf(running));
        }
        finally
        {
            if (!sleeper.HasExited)
                sleeper.Kill();
        }
    }

    [Fact]
    public void AnotherBootMachineOrPidNamespace_CannotBeJudged()
    {
        Assert.Equal(BuildClientState.Unknown, Self.StateOf(Self with { BootId = "another-boot" }));
        Assert.Equal(BuildClientState.Unknown, Self.StateOf(Self with { PidNamespace = "pid:[1]" }));
        Assert.Equal(BuildClientState.Unknown, Self.StateOf(Self with { BootId = null }));
    }

    [Fact]
    public void Labels_NameTheProjectTheBuildAndTheClient_AndReadBack()
    {
        var labels = BuildContainerLabels.NewBuild(Path.Combine(_root, "site")).ToLabels();

        Assert.Equal(BuildContainerLabels.ProjectHash(Path.Combine(_root, "site") + "/"), labels[BuildContainerLabels.ProjectLabel]);
        Assert.NotEqual(BuildContainerLabels.ProjectHash(Path.Combine(_root, "other")), labels[BuildContainerLabels.ProjectLabel]);
        Assert.Equal(32, labels[BuildContainerLabels.BuildIdLabel].Length);
        Assert.Equal(Environment.ProcessId.ToString(), labels[BuildContainerLabels.PidLabel]);
        Assert.Equal(Self, BuildContainerLabels.ClientOf(labels));
        Assert.NotEqual(labels[BuildContainerLabels.BuildIdLabel], BuildContainerLabels.NewBuild(Path.Combine(_root, "site")).BuildId);
    }

    [Fact]
    public async Task Sweep_RemovesStoppedNeverStartedAndOrphanedContainers_AndKeepsLiveAndUnjudgeableOnes()
    {
        var now = DateTimeOffset.UtcNow;
        var live = Labels(Self);
        var dead = Labels(Self with { StartTime = Self.StartTime + "7" });
        var elsewhere = Labels(Self with { BootId = "another-machine", Pid = 1 });
        Add("running-live", "running", live, now);
        Add("running-dead", "running", dead, now);
        Add("exited-live", "exited", live, now);
        Add("dead-elsewhere", "dead", elsewhere, now);
        Add("created-live-young", "created", live, now.AddSeconds(-5));
        Add("created-live-old", "created", live, now.AddHours(-1));
        Add("running-elsewhere", "running", elsewhere, now);
        Add("created-dead", "created", dead, now);

        var removed = await LeftoverSweep.RunAsync(_engine, Self, now, _log, CancellationToken.None);

        Assert.Equal(["running-dead", "exited-live", "dead-elsewhere", "created-live-old", "created-dead"], removed);
        Assert.Equal(["created-live-young", "running-elsewhere", "running-live"], _engine.Containers.Keys.Order());
        // Asked by our label only: never a name pattern across the engine.
        Assert.Contains("list-containers " + BuildContainerLabels.BuildIdLabel, _engine.Calls);
        Assert.Contains(_log.Messages, m => m.Contains("is no longer running", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Sweep_WhenARemovalFails_WarnsWithTheCommand_AndTheOthersStillGo()
    {
        Add("a", "exited", Labels(Self), DateTimeOffset.UtcNow);
        Add("b", "exited", Labels(Self), DateTimeOffset.UtcNow);
        _engine.OnRemove = (id, _) => id == "a"
            ? throw new Diagnostics.ModWsgiException(Diagnostics.DiagnosticCodes.EngineRequestFailed, "409 busy")
            : Task.CompletedTask;

        var removed = await LeftoverSweep.RunAsync(_engine, Self, DateTimeOffset.UtcNow, _log, CancellationToken.None);

        Assert.Equal(["b"], removed);
        Assert.Contains(_log.Messages, m => m.Contains("docker rm -f a", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ABuild_LabelsItsContainers_AndFirstRemovesAnEarlierBuildsLeftovers()
    {
        _engine.AddBaseImage("modwsgi/base:bookworm");
        var project = Path.Combine(_root, "site");
        Directory.CreateDirectory(project);
        File.WriteAllText(Path.Combine(project, "wsgi.py"), "def application(e, s):\n    pass\n");
        File.WriteAllText(Path.Combine(project, "requirements.txt"), "flask\n");
        // An earlier build killed with SIGKILL: its process is gone, its container runs `sleep infinity`.
        Add("left-by-a-killed-build", "running", Labels(Self with { StartTime = "0" }), DateTimeOffset.UtcNow.AddMinutes(-3));
        var labelsSeen = new List<IReadOnlyDictionary<string, string>>();
        _engine.OnScript = (_, _) =>
        {
            labelsSeen.AddRange(_engine.Containers.Values.Where(c => c.State == "running").Select(c => c.Labels));
            return Task.FromResult((0L, Array.Empty<string>()));
        };
        var options = (new ProjectSettings { ContainerRepository = "site", WsgiCacheDirectory = Path.Combine(_root, "cache") })
            .ToOptions(project, Path.Combine(AppContext.BaseDirectory, "runtime"), null);
        var environment = BuildEnvironment.From(name => name == "HOME" ? Path.Combine(_root, "home") : null);

        await new ImagePipeline(_engine, _log).PublishAsync(options, environment, CancellationToken.None);

        Assert.DoesNotContain("left-by-a-killed-build", _engine.Containers.Keys);
        Assert.True(_engine.Calls.IndexOf("remove left-by-a-killed-build") < _engine.Calls.FindIndex(c => c.StartsWith("create ", StringComparison.Ordinal)));
        Assert.NotEmpty(labelsSeen);
        Assert.All(labelsSeen, l =>
        {
            Assert.Equal(BuildContainerLabels.ProjectHash(project), l[BuildContainerLabels.ProjectLabel]);
            Assert.Equal(Environment.ProcessId.ToString(), l[BuildContainerLabels.PidLabel]);
            Assert.Equal(Self.StartTime, l[BuildContainerLabels.StartTimeLabel]);
        });
        Assert.Single(labelsSeen.Select(l => l[BuildContainerLabels.BuildIdLabel]).Distinct());
        Assert.Empty(_engine.LiveContainers);
    }

    private static IReadOnlyDictionary<string, string> Labels(BuildClient client) =>
        new BuildContainerLabels("project", Guid.NewGuid().ToString("N"), client).ToLabels();

    private void Add(string id, string state, IReadOnlyDictionary<string, string> labels, DateTimeOffset created) =>
        _engine.Containers[id] = new ContainerSummary(id, state, labels, created);
}
