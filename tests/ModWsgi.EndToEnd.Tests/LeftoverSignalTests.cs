using System.Diagnostics;

namespace ModWsgi.EndToEnd.Tests;

/// <summary>
/// Issue 12 item 3: a build stopped by a signal leaves no build container behind. SIGTERM, SIGHUP and `timeout -s TERM`
/// cancel it (its container removed before the process ends); SIGKILL cannot be caught, so the next build removes what
/// it left. Containers are found by this project's label only: other runs on the engine are never looked at.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class LeftoverSignalTests(SdkFixture sdk) : IDisposable
{
    private const string Marker = "waiting-to-be-signalled";
    private readonly TempDirectory _project = new("modwsgi-signal");
    private readonly string _image = $"e2e-signal-{Guid.NewGuid():N}"[..23];

    [DockerTheory]
    [InlineData("TERM")]
    [InlineData("HUP")]
    [InlineData("QUIT")]
    public void A_signal_to_dotnet_build_during_a_step_removes_the_build_container(string signal)
    {
        var (exitCode, output) = SignalledRun.Signal(DotnetBuild(), Marker, signal, ContainerRuns);

        Assert.NotEqual(0, exitCode);
        Assert.True(ProjectBuildContainers.Ids(_project.Path) == "", $"SIG{signal} left the build container:\n{output}");
        Assert.NotEqual(0, Run.Docker("image", "inspect", _image + ":latest").ExitCode);
    }

    [DockerFact]
    public void Timeout_s_TERM_around_dotnet_build_removes_the_build_container()
    {
        var build = DotnetBuild();
        var info = new ProcessStartInfo("timeout", ["-s", "TERM", "600", build.FileName, .. build.ArgumentList]) { WorkingDirectory = build.WorkingDirectory };
        foreach (var (name, value) in build.Environment)
            info.Environment[name] = value;

        // SIGALRM is timeout's own timer firing: it then sends TERM to dotnet and to its process group, as on expiry.
        var (exitCode, output) = SignalledRun.Signal(info, Marker, "ALRM", ContainerRuns);

        Assert.True(exitCode == 124, $"timeout exited {exitCode}:\n{output}");
        Assert.True(ProjectBuildContainers.Ids(_project.Path) == "", "timeout -s TERM left the build container:\n" + output);
    }

    [DockerFact]
    public void After_SIGKILL_the_next_build_removes_the_container_the_killed_one_left()
    {
        var (_, output) = SignalledRun.Signal(DotnetBuild(), Marker, "KILL", ContainerRuns);
        // Nothing can catch SIGKILL: the container is still there (running `sleep infinity`)...
        var left = ProjectBuildContainers.Ids(_project.Path);
        Assert.True(left != "", "SIGKILL left nothing to sweep:\n" + output);

        // ... until the next build starts.
        File.Delete(Path.Combine(_project.Path, ".docker", "action_hooks", "pre-build"));
        var next = sdk.PublishImage(Path.Combine(_project.Path, "signalled.proj"), "ContainerRepository=" + _image);

        Assert.True(next.ExitCode == 0, next.Output);
        Assert.Contains("left behind by an earlier build", next.StdOut);
        Assert.Contains(left[..12], next.StdOut);
        Assert.Equal("", ProjectBuildContainers.Ids(_project.Path));
    }

    [DockerTheory]
    [InlineData("TERM")]
    [InlineData("HUP")]
    public void A_signal_to_the_tool_during_a_step_removes_the_build_container_and_exits_130(string signal)
    {
        WriteApp();
        var info = new ProcessStartInfo(sdk.ToolCommand, ["build", _project.Path, "--repository", _image, "--cache-dir", sdk.CacheDirectory]);
        info.Environment["MODWSGI_BUILD_SERVER"] = "0";

        var (exitCode, output) = SignalledRun.Signal(info, Marker, signal, ContainerRuns);

        Assert.True(exitCode == 130, $"exit code {exitCode}:\n{output}");
        Assert.Contains("MODWSGI4002", output);
        Assert.Equal("", ProjectBuildContainers.Ids(_project.Path));
    }

    private void ContainerRuns() => Assert.NotEqual("", ProjectBuildContainers.Ids(_project.Path));

    private void WriteApp()
    {
        _project.Write("wsgi.py", "def application(e, s):\n    s('200 OK', [])\n    return [b'x']\n");
        _project.Write("requirements.txt", "");
        _project.Write(".docker/action_hooks/pre-build", $"#!/bin/bash\necho {Marker}\nsleep 300\n", (UnixFileMode)0b111_101_101);
    }

    private ProcessStartInfo DotnetBuild()
    {
        WriteApp();
        var project = sdk.WriteProject(_project.Path, "signalled");
        var info = new ProcessStartInfo("dotnet", ["build", project, "-t:PublishImage", "-nodeReuse:false", "-tl:off", "-v:n",
            "-p:ContainerRepository=" + _image, "-p:WsgiCacheDirectory=" + sdk.CacheDirectory])
        {
            WorkingDirectory = _project.Path,
        };
        info.Environment["NUGET_PACKAGES"] = sdk.PackagesFolder;
        return info;
    }

    public void Dispose()
    {
        // Whatever a failed assertion left: this project's build containers only.
        foreach (var id in ProjectBuildContainers.Ids(_project.Path).Split('\n', StringSplitOptions.RemoveEmptyEntries))
            Run.Docker("rm", "-f", id);
        Run.Docker("rmi", "-f", _image + ":latest");
        _project.Dispose();
    }
}
