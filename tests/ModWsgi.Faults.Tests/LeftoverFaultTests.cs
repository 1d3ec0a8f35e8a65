using System.Diagnostics;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Steps;

namespace ModWsgi.Faults.Tests;

/// <summary>
/// Issue 12's "nothing left behind" rows on the fault engine: a build stopped by SIGTERM, SIGHUP, SIGQUIT or
/// `timeout -s TERM` removes its build container before it ends; what SIGKILL or an engine killed and restarted
/// mid-step leave, the next build removes (found by its labels); 20 source edits leave a bounded cache and no dangling
/// image of ours, and `modwsgi prune` removes the stage images.
/// </summary>
[Collection(FaultsCollection.Name)]
public sealed class LeftoverFaultTests(SdkFixture sdk, FaultEngine engine) : IDisposable
{
    private const string Marker = "waiting-to-be-signalled";
    private readonly TempDirectory _project = new("modwsgi-fault-leftover");
    private readonly TempDirectory _cache = new("modwsgi-fault-leftover-cache");
    private readonly string _image = $"fault-leftover-{Guid.NewGuid():N}"[..26];

    [DockerTheory]
    [InlineData("TERM")]
    [InlineData("HUP")]
    [InlineData("QUIT")]
    public void A_signal_to_dotnet_build_during_a_step_removes_the_build_container(string signal)
    {
        var (exitCode, output) = SignalledRun.Signal(DotnetBuild(), Marker, signal, ContainerRuns);

        Assert.True(BuildContainers() == "", $"SIG{signal} left the build container:\n{output}");
        Assert.True(exitCode != 0, $"SIG{signal} ended dotnet build with 0, as if it had succeeded:\n{output}");
        Assert.Empty(engine.Containers());
        Assert.NotEqual(0, engine.Docker("image", "inspect", _image + ":latest").ExitCode);
    }

    [DockerFact]
    public void Timeout_s_TERM_around_dotnet_build_removes_the_build_container()
    {
        var build = DotnetBuild();
        var info = new ProcessStartInfo("timeout", ["-s", "TERM", "600", build.FileName, .. build.ArgumentList]) { WorkingDirectory = build.WorkingDirectory };
        foreach (var (name, value) in build.Environment)
            info.Environment[name] = value;

        // SIGALRM is timeout's own timer firing: it sends TERM to dotnet and to its process group, as on expiry.
        var (exitCode, output) = SignalledRun.Signal(info, Marker, "ALRM", ContainerRuns);

        Assert.True(exitCode == 124, $"timeout exited {exitCode}:\n{output}");
        Assert.True(BuildContainers() == "", "timeout -s TERM left the build container:\n" + output);
        Assert.Empty(engine.Containers());
    }

    [DockerTheory]
    [InlineData("TERM")]
    [InlineData("HUP")]
    public void A_signal_to_the_tool_during_a_step_removes_the_build_container_and_exits_130(string signal)
    {
        WriteApp(hang: true);
        var info = Tool("build", _project.Path, "--repository", _image, "--cache-dir", _cache.Path);

        var (exitCode, output) = SignalledRun.Signal(info, Marker, signal, ContainerRuns);

        Assert.True(exitCode == 130, $"exit code {exitCode}:\n{output}");
        Assert.Contains("MODWSGI4002", output);
        Assert.Empty(engine.Containers());
    }

    [DockerFact]
    public void After_SIGKILL_the_next_build_removes_the_container_the_killed_one_left()
    {
        var (_, output) = SignalledRun.Signal(DotnetBuild(), Marker, "KILL", ContainerRuns);
        // Nothing catches SIGKILL: the container still runs `sleep infinity`...
        var left = BuildContainers();
        Assert.True(left != "", "SIGKILL left nothing to sweep:\n" + output);
        Assert.Equal("running", engine.DockerOk("inspect", "-f", "{{.State.Status}}", left));

        // ... until the next build (of any project) starts.
        var next = NextBuild();

        Assert.Contains($"Removed build container {left[..12]} left behind by an earlier build (its build process", next.StdOut);
        Assert.Empty(engine.Containers());
    }

    [DockerFact]
    public void The_engine_killed_and_restarted_mid_step_leaves_a_stopped_container_the_next_build_removes()
    {
        var (exitCode, output) = SignalledRun.Signal(DotnetBuild(), Marker, "0", () =>
        {
            ContainerRuns();
            engine.Kill();
        }, exitWithin: TimeSpan.FromMinutes(3));
        // signal 0 sends nothing: the build ends by itself, on the engine's dropped connection.
        engine.Restart();
        Assert.NotEqual(0, exitCode);
        var left = BuildContainers();
        Assert.True(left != "", "the restart left nothing to sweep:\n" + output);
        // Stopped by the restart (no live-restore); were it still running, its build process is gone all the same.
        var state = engine.DockerOk("inspect", "-f", "{{.State.Status}}", left);

        var next = NextBuild();

        Assert.True(next.StdOut.Contains($"Removed build container {left[..12]} left behind by an earlier build ({(state == "exited" ? "stopped" : "its build process")}", StringComparison.Ordinal),
            $"state after the restart: {state}\n{next.StdOut}");
        Assert.Empty(engine.Containers());
    }

    [DockerFact]
    public void Twenty_source_edits_leave_a_bounded_cache_and_no_dangling_image_and_prune_removes_the_stage()
    {
        _project.Write("requirements.txt", "");
        // A build hook: the build loads a modwsgi/stage:* image for it.
        _project.Write(".docker/action_hooks/build", "#!/bin/bash\necho hook-ran\n", (UnixFileMode)0b111_101_101);
        string[] build = ["build", _project.Path, "--repository", _image, "--cache-dir", _cache.Path];
        var ids = new List<string>();
        for (var edit = 0; edit < 20; edit++)
        {
            // 200 KB that do not compress: 20 application layers would add 4 MB.
            _project.Write("wsgi.py", $"# edit {edit}\n# {Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(150_000))}\n" +
                "def application(environ, start_response):\n    start_response('200 OK', [])\n    return [b'ok']\n");
            var result = RunTool(build);
            Assert.True(result.ExitCode == 0, $"edit {edit}:\n{result.Output}");
            ids.Add(result.StdOut.Split('\n').Select(l => l.Trim()).First(l => l.StartsWith("image id: ", StringComparison.Ordinal))["image id: ".Length..]);
        }
        Assert.Equal(20, ids.Distinct().Count());

        Assert.Equal("", engine.DockerOk("images", "-q", "--filter", "dangling=true", "--filter", "label=" + ImageLabels.Owned));
        foreach (var earlier in ids.SkipLast(1))
            Assert.NotEqual(0, engine.Docker("image", "inspect", earlier).ExitCode);
        var blobs = Directory.GetFiles(Path.Combine(_cache.Path, "blobs", "sha256"));
        var cacheBytes = blobs.Sum(b => new FileInfo(b).Length);
        Assert.True(cacheBytes < 1_000_000, $"the cache holds {cacheBytes} bytes in {blobs.Length} blobs after 20 edits");
        var stage = engine.DockerOk("images", "-q", "modwsgi/stage");
        Assert.NotEqual("", stage);

        var prune = RunTool(["prune", "--all", "--cache-dir", _cache.Path]);

        Assert.True(prune.ExitCode == 0, prune.Output);
        Assert.Contains("modwsgi/stage:", prune.StdOut);
        Assert.Equal("", engine.DockerOk("images", "-q", "modwsgi/stage"));
        Assert.Empty(Directory.GetFiles(Path.Combine(_cache.Path, "blobs", "sha256")));
        // Only ours: the base (no label of ours) and the image under its tag stay.
        Assert.Equal(0, engine.Docker("image", "inspect", FaultEngine.BaseImage).ExitCode);
        Assert.Equal(ids[^1], engine.DockerOk("image", "inspect", "-f", "{{.Id}}", _image + ":latest"));
        Assert.Empty(engine.Containers());
    }

    private string BuildContainers() =>
        engine.DockerOk("ps", "-aq", "--no-trunc", "--filter", $"label={BuildContainerLabels.ProjectLabel}={BuildContainerLabels.ProjectHash(_project.Path)}");

    private void ContainerRuns() => Assert.NotEqual("", BuildContainers());

    private void WriteApp(bool hang)
    {
        _project.Write("wsgi.py", "def application(e, s):\n    s('200 OK', [])\n    return [b'x']\n");
        _project.Write("requirements.txt", "");
        var hook = Path.Combine(_project.Path, ".docker", "action_hooks", "pre-build");
        if (hang)
            _project.Write(".docker/action_hooks/pre-build", $"#!/bin/bash\necho {Marker}\nsleep 300\n", (UnixFileMode)0b111_101_101);
        else if (File.Exists(hook))
            File.Delete(hook);
    }

    private ProcessStartInfo DotnetBuild()
    {
        WriteApp(hang: true);
        var project = sdk.WriteProject(_project.Path, "leftover");
        var info = new ProcessStartInfo("dotnet", ["build", project, "-t:PublishImage", "-nodeReuse:false", "-tl:off", "-v:n",
            "-p:ContainerRepository=" + _image, "-p:WsgiCacheDirectory=" + _cache.Path])
        {
            WorkingDirectory = _project.Path,
        };
        info.Environment["NUGET_PACKAGES"] = sdk.PackagesFolder;
        info.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        foreach (var (name, value) in engine.BuildEnvironment)
            info.Environment[name] = value;
        return info;
    }

    /// <summary>The same project, without the hanging hook, built to the end: its sweep is what the test checks.</summary>
    private ProcessResult NextBuild()
    {
        WriteApp(hang: false);
        var next = sdk.PublishImage(Path.Combine(_project.Path, "leftover.proj"), engine.BuildEnvironment,
            "ContainerRepository=" + _image, "WsgiCacheDirectory=" + _cache.Path);
        Assert.True(next.ExitCode == 0, next.Output);
        return next;
    }

    private ProcessStartInfo Tool(params string[] args)
    {
        var info = new ProcessStartInfo(sdk.ToolCommand, args);
        info.Environment["MODWSGI_BUILD_SERVER"] = "0";
        foreach (var (name, value) in engine.BuildEnvironment)
            info.Environment[name] = value;
        return info;
    }

    private ProcessResult RunTool(string[] args) =>
        Run.Process(sdk.ToolCommand, args, env: new Dictionary<string, string?>(engine.BuildEnvironment) { ["MODWSGI_BUILD_SERVER"] = "0" },
            timeout: TimeSpan.FromMinutes(5));

    public void Dispose()
    {
        // This project's leftovers only, should an assertion have failed before the sweep.
        foreach (var id in BuildContainers().Split('\n', StringSplitOptions.RemoveEmptyEntries))
            engine.Docker("rm", "-f", id);
        engine.Docker("rmi", "-f", _image + ":latest");
        foreach (var stage in engine.Docker("images", "-q", "modwsgi/stage").StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            engine.Docker("rmi", "-f", stage);
        _project.Dispose();
        _cache.Dispose();
    }
}
