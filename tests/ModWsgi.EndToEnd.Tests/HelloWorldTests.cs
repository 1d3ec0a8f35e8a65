using System.Diagnostics;

namespace ModWsgi.EndToEnd.Tests;

/// <summary>samples/hello-world built with `dotnet build -t:PublishImage`, run with the docker CLI.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class HelloWorldTests(SdkFixture sdk) : IDisposable
{
    private readonly TempDirectory _project = new("modwsgi-hello");
    private readonly string _image = $"e2e-hello-{Guid.NewGuid():N}"[..22];

    [DockerTheory]
    [InlineData("3.11")] // modwsgi/base:bookworm, mod_wsgi 4.9
    [InlineData("3.13")] // modwsgi/base:trixie, mod_wsgi 5.0
    public async Task Sample_builds_answers_hello_world_runs_apache_under_dumb_init_and_stops_fast(string python)
    {
        BuildSample("WsgiPythonVersion=" + python);

        using var container = RunningContainer.Start(_image);
        var (status, body) = await container.GetAsync("/");
        Assert.Equal(200, status);
        Assert.Equal("Hello World!", body);
        // dumb-init is PID 1 (it reaps zombies); docker stop reaches Apache through the launcher's supervisor, its parent.
        Assert.Equal("dumb-init", Run.DockerOk("exec", container.Id, "cat", "/proc/1/comm"));
        Assert.Contains("apache2", RunningContainer.Processes(container.Id, "comm"));
        Assert.Equal(python, Run.DockerOk("exec", container.Id, "python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])").Trim());

        var stopwatch = Stopwatch.StartNew();
        Run.DockerOk("stop", container.Id);
        stopwatch.Stop();
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(2), $"docker stop took {stopwatch.Elapsed.TotalSeconds:F1} s; an idle Apache must stop at once on docker stop.");
    }

    [DockerFact]
    public void Shell_entrypoint_ignores_the_image_cmd_and_runs_commands_in_the_app_folder()
    {
        BuildSample();

        // The image has a Cmd (server options); mod_wsgi-docker-shell must ignore it and exec bash.
        var result = Run.Process("docker", ["run", "--rm", "-i", "--entrypoint", "mod_wsgi-docker-shell", _image],
            stdin: "echo shell-ok; pwd; python3 -c 'import sys; print(sys.prefix)'\n");
        Assert.True(result.ExitCode == 0, result.Output);
        var lines = result.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(["shell-ok", "/app", "/opt/venv"], lines);
    }

    private void BuildSample(params string[] properties)
    {
        var sample = Path.Combine(RepositoryRootAttribute.Get(), "samples", "hello-world");
        foreach (var file in Directory.GetFiles(sample))
            File.Copy(file, Path.Combine(_project.Path, Path.GetFileName(file)));
        // The sample pins the SDK version; the test feed carries exactly this checkout's package.
        var project = Path.Combine(_project.Path, "hello-world.proj");
        File.WriteAllText(project, File.ReadAllText(project).Replace("ModWsgi.Sdk/0.1.0", "ModWsgi.Sdk/" + sdk.SdkVersion));
        sdk.WriteNuGetConfig(_project.Path);
        var build = sdk.PublishImage(project, ["ContainerRepository=" + _image, .. properties]);
        Assert.True(build.ExitCode == 0, "PublishImage failed:\n" + build.Output);
        Assert.Contains(" -----> dependencies: ", build.StdOut);
    }

    public void Dispose()
    {
        Run.Docker("rmi", "-f", _image + ":latest");
        _project.Dispose();
    }
}
