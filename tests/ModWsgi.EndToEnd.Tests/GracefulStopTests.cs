using System.Diagnostics;
using System.Net.Http;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace ModWsgi.EndToEnd.Tests;

/// <summary>
/// Issue 11 §1: docker stop lets the requests in flight finish and refuses new connections (the container exits 0),
/// an idle stop takes under a second, a terminal resize does not stop the server, an app.sh that does not exec
/// stops promptly, and zombies are reaped, for every server. The figures measured are written to the test output.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class GracefulStopTests(SdkFixture sdk, ITestOutputHelper output) : IDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>/sleep/SECS answers after SECS seconds; /orphans leaves five orphaned children, which exit 0.2 s later.</summary>
    private const string SleepyApp = """
        import subprocess, time

        def application(environ, start_response):
            path = environ.get("PATH_INFO", "/")
            if path.startswith("/sleep/"):
                time.sleep(float(path.split("/")[2]))
                body = b"slept"
            elif path == "/orphans":
                for _ in range(5):
                    subprocess.run(["sh", "-c", "sleep 0.2 & exit 0"], check=True)
                body = b"orphaned"
            else:
                body = b"hello"
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
            return [body]
        """;

    private readonly TempDirectory _project = new("modwsgi-gracestop");
    private readonly List<string> _images = [];
    private RealPackageIndex? _index;

    [DockerFact]
    public async Task Mod_wsgi_lets_a_3_s_request_finish_on_docker_stop_refuses_new_connections_exits_0_and_stops_idle_in_under_a_second()
    {
        var image = Build("mod_wsgi");

        using (var container = RunningContainer.Start(image))
        {
            Assert.Equal((200, "hello"), await container.GetAsync("/")); // started: the start script has exec'd dumb-init
            Assert.Equal("dumb-init", Run.DockerOk("exec", container.Id, "cat", "/proc/1/comm"));
            await DrainsAnInFlightRequestAsync(container, "mod_wsgi");
        }

        using (var idle = RunningContainer.Start(image))
            IdleStopTakesUnderASecond(image, idle, await idle.GetAsync("/"), "mod_wsgi");
    }

    [DockerTheory]
    [InlineData("gunicorn")]
    [InlineData("waitress")]
    public async Task Gunicorn_and_waitress_let_a_3_s_request_finish_on_docker_stop_and_reap_zombies(string server)
    {
        var image = Build(server, "WsgiServer=" + server);

        using var container = RunningContainer.Start(image);
        Assert.Equal((200, "hello"), await container.GetAsync("/"));
        await NoZombiesAsync(container);
        await DrainsAnInFlightRequestAsync(container, server);
    }

    [DockerFact]
    public async Task Mod_wsgi_reaps_the_orphans_of_the_application()
    {
        using var container = RunningContainer.Start(Build("mod_wsgi"));
        Assert.Equal((200, "hello"), await container.GetAsync("/"));

        await NoZombiesAsync(container);
    }

    [DockerFact]
    public async Task A_docker_run_t_container_survives_two_terminal_resizes()
    {
        using var container = RunningContainer.Start(Build("mod_wsgi"), "-t");
        Assert.Equal((200, "hello"), await container.GetAsync("/"));

        // What `docker run -it` does when the terminal is resized: the engine resizes the pty and the kernel sends
        // SIGWINCH, Apache's graceful stop, to the terminal's foreground process group.
        foreach (var (height, width) in new[] { (30, 100), (45, 132) })
        {
            var resize = EngineApi("POST", $"/containers/{container.Id}/resize?h={height}&w={width}");
            Assert.True(resize == "200", $"resize answered {resize}");
            await Task.Delay(700);
        }

        Assert.Equal("true", Run.DockerOk("inspect", "-f", "{{.State.Running}}", container.Id));
        Assert.Equal((200, "hello"), await container.GetAsync("/", TimeSpan.FromSeconds(2)));
        Assert.DoesNotContain("SIGWINCH", container.Logs());
    }

    [DockerFact]
    public async Task A_shell_app_whose_app_sh_does_not_exec_stops_promptly_and_a_python_app_has_its_zombies_reaped()
    {
        // app.sh runs the server as its child (no exec) and the python app leaves orphans: before dumb-init, docker
        // stop waited 10 s for the SIGKILL and nothing reaped python-app's zombies.
        _project.Write("app.sh", "#!/bin/sh\necho starting\npython3 /app/app.py\necho stopped\n", UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        _project.Write("app.py", """
            import os, subprocess
            from wsgiref.simple_server import make_server
            def app(environ, start_response):
                if environ["PATH_INFO"] == "/orphans":
                    for _ in range(5):
                        subprocess.run(["sh", "-c", "sleep 0.2 & exit 0"], check=True)
                start_response("200 OK", [("Content-Type", "text/plain")])
                return [b"hello"]
            make_server("", int(os.environ["PORT"]), app).serve_forever()
            """);
        _project.Write("requirements.txt", "");
        var project = sdk.WriteProject(_project.Path, "gracestop");
        foreach (var server in new[] { "shell-app", "python-app" })
        {
            var name = Image(server);
            sdk.PublishImageOk(project, "ContainerRepository=" + name, "WsgiServer=" + server);
            using var container = RunningContainer.Start(name);
            Assert.Equal((200, "hello"), await container.GetAsync("/"));
            await NoZombiesAsync(container);

            var stopwatch = Stopwatch.StartNew();
            Run.DockerOk("stop", container.Id);
            output.WriteLine($"{server}: docker stop took {stopwatch.Elapsed.TotalSeconds:F2} s");
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(3), $"{server}: docker stop took {stopwatch.Elapsed.TotalSeconds:F1} s");
        }
    }

    /// <summary>Starts a 3 s request, docker stop 0.5 s later, a new connection 0.3 s after that.</summary>
    private async Task DrainsAnInFlightRequestAsync(RunningContainer container, string server)
    {
        Assert.Equal((200, "hello"), await container.GetAsync("/"));
        var address = Run.DockerOk("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", container.Id);
        var clock = Stopwatch.StartNew();
        var request = Http.GetStringAsync($"http://{address}:80/sleep/3");
        await Task.Delay(500);
        var stopped = Task.Run(() =>
        {
            Run.DockerOk("stop", container.Id);
            return clock.Elapsed;
        });
        await Task.Delay(300);
        var refused = await RefusesAsync(address);
        output.WriteLine($"{server}: a new connection 0.3 s into the stop was {(refused ? "refused" : "accepted")}");
        // gunicorn's workers notice the stop at their next poll, up to a second later, and accept until then.
        if (server != "gunicorn")
            Assert.True(refused, "a new connection during the stop was accepted");

        Assert.Equal("slept", await request);
        var answered = clock.Elapsed;
        var stopEnded = await stopped;
        output.WriteLine($"{server}: in-flight 3 s request answered at {answered.TotalSeconds:F2} s; docker stop (sent at 0.5 s) returned at " +
            $"{stopEnded.TotalSeconds:F2} s, {(stopEnded - answered).TotalSeconds:F2} s after the answer");
        Assert.Equal("0", Run.DockerOk("inspect", "-f", "{{.State.ExitCode}}", container.Id));
        Assert.True(stopEnded < TimeSpan.FromSeconds(6), $"docker stop returned {stopEnded.TotalSeconds:F1} s after the request started");
    }

    private static async Task<bool> RefusesAsync(string address)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(address, 80);
            return false;
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return true;
        }
    }

    /// <summary>
    /// The idle stop, with the client's keep-alive connection still open (HttpClient pools it), less what the engine
    /// itself takes to stop a container whose process exits at once on SIGTERM (on a loaded machine that alone can
    /// pass a second): the server's own part must stay under a second.
    /// </summary>
    private void IdleStopTakesUnderASecond(string image, RunningContainer container, (int, string) answer, string server)
    {
        Assert.Equal((200, "hello"), answer);
        var stopwatch = Stopwatch.StartNew();
        Run.DockerOk("stop", container.Id);
        var idle = stopwatch.Elapsed;
        Assert.Equal("0", Run.DockerOk("inspect", "-f", "{{.State.ExitCode}}", container.Id));

        using var floorContainer = RunningContainer.Start(image, ["--entrypoint", "/usr/bin/dumb-init"], ["sleep", "600"]);
        stopwatch.Restart();
        Run.DockerOk("stop", floorContainer.Id);
        var floor = stopwatch.Elapsed;
        output.WriteLine($"{server}: idle docker stop took {idle.TotalSeconds:F2} s; the engine's floor (dumb-init sleep) {floor.TotalSeconds:F2} s");
        Assert.True(idle - floor < TimeSpan.FromSeconds(1), $"idle docker stop took {idle.TotalSeconds:F2} s, the engine's floor {floor.TotalSeconds:F2} s");
    }

    /// <summary>/orphans leaves five children whose parent is gone; once they exit, PID 1 must reap them.</summary>
    private static async Task NoZombiesAsync(RunningContainer container)
    {
        Assert.Equal(200, (await container.GetAsync("/orphans")).Status);
        await Task.Delay(1500);
        var processes = RunningContainer.Processes(container.Id, "stat", "args");
        Assert.True(!processes.Split('\n').Any(line => line.TrimStart().StartsWith('Z')), "zombies left:\n" + processes);
    }

    /// <summary>A request to the engine's API over its unix socket (the host engine's, or DOCKER_HOST's); returns the HTTP status.</summary>
    private static string EngineApi(string method, string path)
    {
        var host = Environment.GetEnvironmentVariable("DOCKER_HOST");
        var socket = host is not null && host.StartsWith("unix://", StringComparison.Ordinal) ? host["unix://".Length..] : "/var/run/docker.sock";
        return Run.Process("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", method, "--unix-socket", socket, "http://localhost" + path]).StdOut.Trim();
    }

    private string Build(string server, params string[] properties)
    {
        _project.Write("wsgi.py", SleepyApp);
        var index = server is "gunicorn" or "waitress" ? _index ??= new RealPackageIndex() : null;
        _project.Write("requirements.txt", index is null ? "" : server + "\n");
        var project = sdk.WriteProject(_project.Path, "gracestop");
        var name = Image(server);
        string[] pip = index is null ? [] : ["WsgiPipIndexUrl=" + index.Url, "WsgiPipTrustedHost=" + index.Host];
        sdk.PublishImageOk(project, ["ContainerRepository=" + name, .. pip, .. properties]);
        return name;
    }

    private string Image(string server)
    {
        var name = $"e2e-gracestop-{server.Replace('_', '-')}-{Guid.NewGuid():N}"[..34];
        _images.Add(name + ":latest");
        return name;
    }

    public void Dispose()
    {
        foreach (var image in _images)
            Run.Docker("rmi", "-f", image);
        _index?.Dispose();
        _project.Dispose();
    }
}
