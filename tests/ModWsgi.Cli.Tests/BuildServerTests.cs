using ModWsgi.Cli.BuildServer;

namespace ModWsgi.Cli.Tests;

/// <summary>
/// The build server as a user meets it: the first build starts it, later builds run in it with their own
/// arguments, folder and environment, and `build-server shutdown` ends it. Each test has its own socket
/// folder (XDG_RUNTIME_DIR) and shuts its server down.
/// </summary>
public sealed class BuildServerTests : IDisposable
{
    private readonly TempDirectory _runtime = new("modwsgi-server");
    private readonly TempDirectory _work = new("modwsgi-server-work");

    private Dictionary<string, string?> Environment(string? server = "1") => new()
    {
        ["XDG_RUNTIME_DIR"] = _runtime.Path,
        ["MODWSGI_BUILD_SERVER"] = server,
        ["MODWSGI_BUILD_SERVER_IDLE_MINUTES"] = "2",
        ["CI"] = null,
    };

    private string SocketFolder => Path.Combine(_runtime.Path, "modwsgi");

    private string[] Sockets() => Directory.Exists(SocketFolder) ? Directory.GetFiles(SocketFolder, "*.sock") : [];

    [Fact]
    public void The_first_build_starts_a_server_that_runs_later_builds_in_their_own_folder_and_environment()
    {
        var first = ModWsgiTool.Run(Environment(), _work.Path, "build", "missing-app", "--verbose");
        Assert.Equal(1, first.ExitCode);
        Assert.DoesNotContain("build server", first.StdOut); // no server yet: this one ran in-process
        WaitFor(() => Sockets().Length == 1, "the build server's socket");

        // A relative folder is resolved against the client's working directory, not the server's.
        var missing = ModWsgiTool.Run(Environment(), _work.Path, "build", "missing-app", "--verbose");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("run by the build server", missing.StdOut);
        Assert.Contains("MODWSGI2001", missing.StdErr);
        Assert.Contains(Path.Combine(_work.Path, "missing-app"), missing.StdErr);

        // The client's environment (here DOCKER_HOST) is the build's environment.
        var app = Path.Combine(_work.Path, "app");
        Directory.CreateDirectory(app);
        File.WriteAllText(Path.Combine(app, "wsgi.py"), "def application(e, s):\n    pass\n");
        var noEngine = Path.Combine(_work.Path, "no-engine.sock");
        var env = Environment();
        env["DOCKER_HOST"] = "unix://" + noEngine;
        var unreachable = ModWsgiTool.Run(env, _work.Path, "build", "app", "--repository", "served", "--cache-dir", Path.Combine(_work.Path, "cache"), "--verbose");
        Assert.Equal(1, unreachable.ExitCode);
        Assert.Contains("run by the build server", unreachable.StdOut);
        Assert.Contains("MODWSGI3001", unreachable.StdErr);
        Assert.Contains(noEngine, unreachable.StdErr);

        var shutdown = ModWsgiTool.Run(Environment(), null, "build-server", "shutdown");
        Assert.Equal(0, shutdown.ExitCode);
        Assert.Contains("Build server stopped.", shutdown.StdOut);
        WaitFor(() => Sockets().Length == 0, "the socket to be removed");
        Assert.Contains("No build server was running.", ModWsgiTool.Run(Environment(), null, "build-server", "shutdown").StdOut);
    }

    [Theory]
    [InlineData("0", null)]
    [InlineData(null, "true")]
    public void No_server_is_started_when_switched_off_or_under_CI(string? server, string? ci)
    {
        var env = Environment(server);
        env["CI"] = ci;
        var build = ModWsgiTool.Run(env, _work.Path, "build", "missing-app");
        Assert.Equal(1, build.ExitCode);
        Thread.Sleep(1500);
        Assert.Empty(Sockets());
    }

    [Theory]
    [InlineData(null, null, true)]
    [InlineData(null, "true", false)]
    [InlineData(null, "1", false)]
    [InlineData("1", "true", true)]
    [InlineData("0", null, false)]
    [InlineData("off", null, false)]
    [InlineData("yes", "true", true)]
    public void The_switch_and_CI_decide_whether_a_server_is_used(string? server, string? ci, bool expected)
    {
        var env = new Dictionary<string, string?> { [BuildServerEndpoint.SwitchVariable] = server, ["CI"] = ci };
        Assert.Equal(expected, BuildServerEndpoint.Enabled(name => env.GetValueOrDefault(name)));
    }

    [Fact]
    public void Only_build_and_publish_go_to_the_server()
    {
        Assert.True(BuildServerEndpoint.Serves(["build", "."]));
        Assert.True(BuildServerEndpoint.Serves(["publish", "."]));
        Assert.False(BuildServerEndpoint.Serves(["run", "."]));
        Assert.False(BuildServerEndpoint.Serves(["shell"]));
        Assert.False(BuildServerEndpoint.Serves([]));
    }

    [Fact]
    public void The_socket_lives_in_the_users_runtime_folder_and_names_this_build_of_the_tool()
    {
        var endpoint = BuildServerEndpoint.ForThisTool(name => name == "XDG_RUNTIME_DIR" ? "/run/user/1000" : null);
        Assert.Matches(@"^/run/user/1000/modwsgi/build-server-[0-9a-f]{16}\.sock$", endpoint.SocketPath);
        Assert.Equal(endpoint, BuildServerEndpoint.ForThisTool(name => name == "XDG_RUNTIME_DIR" ? "/run/user/1000" : null));
    }

    private static void WaitFor(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException("Timed out waiting for " + what);
            Thread.Sleep(100);
        }
    }

    public void Dispose()
    {
        // Never leave a server behind, whatever the test did.
        if (Sockets().Length > 0)
            ModWsgiTool.Run(Environment(), null, "build-server", "shutdown");
        WaitFor(() => Sockets().Length == 0, "the server to exit");
        _runtime.Dispose();
        _work.Dispose();
    }
}
