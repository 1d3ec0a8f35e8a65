using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ModWsgi.Core.Tests;

/// <summary>
/// Issue 11 §2: mod_wsgi-docker-probe (the image's HEALTHCHECK and the Kubernetes exec probe), run with the host's
/// python3 against a loopback server that answers with a chosen status, and the state mod_wsgi-docker-start leaves it.
/// </summary>
public partial class LauncherTests
{
    private static readonly string Probe = Path.Combine(Runtime, "mod_wsgi-docker-probe");

    /// <summary>Answers every connection with one HTTP status and records the request lines.</summary>
    private sealed class StatusServer : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();

        public StatusServer(int status)
        {
            _listener.Start();
            _ = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    var stream = client.GetStream();
                    var reader = new StreamReader(stream, Encoding.ASCII);
                    Requests.Add(await reader.ReadLineAsync() ?? "");
                    while (!string.IsNullOrEmpty(await reader.ReadLineAsync()))
                    {
                    }
                    await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n"));
                }
            });
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public List<string> Requests { get; } = [];

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
        }
    }

    private static Task<Result> RunProbe(AppFolder app, params string[] args) =>
        Start("python3", [Probe, .. args], new Dictionary<string, string> { ["MODWSGI_APP_ROOT"] = app.Root, ["TMPDIR"] = app.Root });

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Theory]
    [InlineData(200)]
    [InlineData(503)] // the server answered: alive, whatever the application would say
    public async Task Probe_Alive_SendsOptionsStar_AndAnyAnswerIsAlive(int status)
    {
        using var app = new AppFolder();
        using var server = new StatusServer(status);

        var result = await RunProbe(app, "alive", "--port", server.Port.ToString());

        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        Assert.StartsWith($"alive: the server on port {server.Port} answered {status}", result.Stdout);
        Assert.Equal(["OPTIONS * HTTP/1.1"], server.Requests);
    }

    [Theory]
    [InlineData(200, 0)]
    [InlineData(404, 0)] // the application ran
    [InlineData(400, 0)] // Django's answer to a Host it does not allow
    [InlineData(500, 1)]
    [InlineData(503, 1)]
    public async Task Probe_Ready_GetsThePath_AndAStatusBelow500IsReady(int status, int exitCode)
    {
        using var app = new AppFolder();
        using var server = new StatusServer(status);

        var result = await RunProbe(app, "ready", "--port=" + server.Port, "--path", "/health");

        Assert.True(result.ExitCode == exitCode, result.Stdout + result.Stderr);
        Assert.StartsWith($"{(exitCode == 0 ? "ready" : "not ready")}: GET /health on port {server.Port} answered {status}", result.Stdout);
        Assert.Equal(["GET /health HTTP/1.1"], server.Requests);
    }

    [Fact]
    public async Task Probe_TakesThePortFromTheStartScriptsState_AndSaysWhenNothingListens()
    {
        using var app = new AppFolder();
        using var server = new StatusServer(200);
        var closed = FreePort();
        app.Write("modwsgi-state", $"server=mod_wsgi\nport={server.Port}\npid=999999999\n");

        var ready = await RunProbe(app, "ready");
        var refused = await RunProbe(app, "alive", "--port", closed.ToString());

        Assert.True(ready.ExitCode == 0, ready.Stdout + ready.Stderr);
        Assert.Equal(1, refused.ExitCode);
        Assert.StartsWith($"not alive: nothing listens on port {closed}", refused.Stdout);
    }

    [Fact]
    public async Task Probe_AReadyHookReplacesTheCheck_WithTheServersPortAndUserVars()
    {
        using var app = new AppFolder();
        using var server = new StatusServer(200);
        app.Write(".whiskey/action_hooks/ready", "#!/bin/sh\necho \"port $MODWSGI_PROBE_PORT db $DATABASE in $PWD\"\nexit 3\n", executable: true);
        app.Write("envdir/DATABASE", "sqlite");
        app.Write("modwsgi-state", $"port={server.Port}\nenvdir={Path.Combine(app.Root, "envdir")}\n");

        var result = await RunProbe(app, "ready");

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith($"not ready: {app.Root}/.whiskey/action_hooks/ready failed with exit code 3: port {server.Port} db sqlite in {app.Root}", result.Stdout);
        Assert.Empty(server.Requests); // the hook replaced the request
    }

    [Fact]
    public async Task Probe_Ready_RunsAnAliveHookFirst_AndANonExecutableHookIsSkippedWithAWarning()
    {
        using var app = new AppFolder();
        using var server = new StatusServer(200);
        app.Write(".docker/action_hooks/alive", "#!/bin/sh\necho not today\nexit 1\n", executable: true);
        app.Write(".docker/action_hooks/ready", "#!/bin/sh\nexit 0\n"); // not executable

        var result = await RunProbe(app, "ready", "--port", server.Port.ToString());

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("action_hooks/ready is not executable and was skipped (chmod +x", result.Stderr);
        Assert.StartsWith($"not ready: {app.Root}/.docker/action_hooks/alive failed with exit code 1: not today", result.Stdout);
        Assert.Empty(server.Requests);
    }

    [Fact]
    public async Task Probe_RunFromAHook_RunsTheBuiltInCheck_OnTheHooksPort()
    {
        using var app = new AppFolder();
        using var server = new StatusServer(200);
        app.Write(".docker/action_hooks/ready", $"#!/bin/sh\n[ -z \"$NOT_READY\" ] || exit 1\nexec python3 {Probe} ready\n", executable: true);
        app.Write("modwsgi-state", $"port={server.Port}\n");

        var result = await RunProbe(app, "ready");

        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        Assert.Contains($"action_hooks/ready passed: ready: GET / on port {server.Port} answered 200", result.Stdout);
        Assert.Equal(["GET / HTTP/1.1"], server.Requests);
    }

    [Theory]
    [InlineData("healthy")]
    [InlineData("ready", "--port", "0")]
    [InlineData("ready", "--path", "health")]
    [InlineData("alive", "--verbose")]
    public async Task Probe_BadArguments_ExitTwo(params string[] args)
    {
        using var app = new AppFolder();

        var result = await RunProbe(app, args);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("mod_wsgi-docker-probe: error:", result.Stderr);
        Assert.Contains("usage: mod_wsgi-docker-probe alive|ready", result.Stderr);
    }

    [Fact]
    public async Task StartScript_RecordsThePortAndItsPid_ForTheProbe()
    {
        using var app = new AppFolder();
        // The start hook is exec'd: its PID is the start script's, the one the state names.
        app.Write(".docker/action_hooks/start", "#!/bin/sh\necho \"pid=$$\"\ncat \"$TMPDIR/modwsgi-state\"\n", executable: true);

        var result = await RunStartScript(["--port", "8081"], new Dictionary<string, string>
        {
            ["MODWSGI_APP_ROOT"] = app.Root,
            ["TMPDIR"] = app.Root,
            ["MODWSGI_IMAGE_ARGS"] = "--port\n8080",
        });

        Assert.True(result.ExitCode == 0, result.Stderr);
        var lines = result.Stdout.Split('\n');
        Assert.Equal(2, lines.Count(l => l == $"pid={result.ProcessId}")); // the hook's own and the state's
        Assert.Contains("port=8081", lines);
        Assert.Contains("server=mod_wsgi", lines);
        Assert.Contains(lines, l => l.StartsWith("envdir=" + app.Root + "/modwsgi-user_vars-", StringComparison.Ordinal));
    }
}
