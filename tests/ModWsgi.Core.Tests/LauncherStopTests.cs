namespace ModWsgi.Core.Tests;

/// <summary>
/// Issue 11: how the runtime stops (the graceful stop timeout of each server, the init that relays docker stop's
/// signal) and how long a deploy hook may hold up the start.
/// </summary>
public partial class LauncherTests
{
    [Theory]
    [InlineData(new string[0], null, 5)]
    [InlineData(new[] { "--graceful-stop-timeout", "8" }, null, 8)]
    [InlineData(new[] { "--graceful-stop-timeout=8" }, "2", 2)] // docker run -e wins over the image's option
    public async Task GracefulStopTimeout_IsApachesGracefulShutdownTimeout(string[] args, string? variable, int expected)
    {
        var environment = variable is null ? null : new Dictionary<string, string> { ["MOD_WSGI_GRACEFUL_STOP_TIMEOUT"] = variable };

        var config = await Config(args, environment);

        Assert.Equal($"GracefulShutdownTimeout {expected}", Directive(config, "GracefulShutdownTimeout"));
    }

    [Fact]
    public async Task GracefulStopTimeout_IsGunicornsGracefulTimeout_AndWaitressesDrain()
    {
        var gunicorn = await CommandLine(["--server", "gunicorn", "--graceful-stop-timeout", "7"]);
        var waitress = await CommandLine(["--server", "waitress"], new Dictionary<string, string> { ["MOD_WSGI_GRACEFUL_STOP_TIMEOUT"] = "6" });

        Assert.Contains(" --graceful-timeout 7 ", gunicorn);
        Assert.StartsWith($"cd /app && /opt/venv/bin/python {Launcher} --serve-waitress 6 '--listen=*:8000' ", waitress);
    }

    [Theory]
    [InlineData(new[] { "--graceful-stop-timeout", "0" }, null, "--graceful-stop-timeout must be at least 1, not 0")]
    [InlineData(new[] { "--deploy-timeout", "soon" }, null, "--deploy-timeout expects a whole number, not 'soon'")]
    [InlineData(new string[0], "-1", "MOD_WSGI_DEPLOY_TIMEOUT must be at least 0, not -1")]
    public async Task StopAndDeployTimeouts_AreChecked(string[] args, string? deployVariable, string message)
    {
        var environment = deployVariable is null ? null : new Dictionary<string, string> { ["MOD_WSGI_DEPLOY_TIMEOUT"] = deployVariable };

        var result = await Run(args, environment);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(message, result.Stderr);
    }

    /// <summary>A stand-in for dumb-init: prints how it was called (and starts nothing).</summary>
    private static string FakeInit(AppFolder app)
    {
        app.Write("fake-init", "#!/bin/sh\necho \"init: $*\"\n", executable: true);
        return Path.Combine(app.Root, "fake-init");
    }

    [Theory]
    // The servers: each turns SIGTERM into its graceful stop; a resize's SIGWINCH is dropped; only the server is signalled.
    [InlineData("mod_wsgi", "--single-child --rewrite 28:0 -- {runtime}/modwsgi-launch --log-to-terminal --startup-log --port 80")]
    [InlineData("gunicorn", "--single-child --rewrite 28:0 -- {runtime}/modwsgi-launch --log-to-terminal --startup-log --port 80")]
    [InlineData("waitress", "--single-child --rewrite 28:0 -- {runtime}/modwsgi-launch --log-to-terminal --startup-log --port 80")]
    // The application is the server: the whole process group is signalled, so an app.sh that does not exec stops too.
    [InlineData("shell-app", "--rewrite 28:0 -- ./app.sh")]
    public async Task StartScript_ExecsTheInitWithTheSignalsOfEachServer(string server, string expected)
    {
        using var app = new AppFolder();
        app.Write("app.sh", "#!/bin/sh\necho \"app.sh $*\"\n", executable: true);
        var init = FakeInit(app);
        var environment = new Dictionary<string, string> { ["MODWSGI_APP_ROOT"] = app.Root, ["MODWSGI_SERVER"] = server, ["MODWSGI_INIT"] = init };

        var result = await RunStartScript([], environment);

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal("init: " + expected.Replace("{runtime}", Runtime, StringComparison.Ordinal) + "\n", result.Stdout);
        Assert.DoesNotContain("warning", result.Stderr);
    }

    [Fact]
    public async Task StartScript_WithoutTheInit_WarnsAndStillStartsTheServer()
    {
        using var app = new AppFolder();
        app.Write("app.sh", "#!/bin/sh\necho started\n", executable: true);

        var result = await RunStartScript([], new Dictionary<string, string>
        {
            ["MODWSGI_APP_ROOT"] = app.Root, ["MODWSGI_SERVER"] = "shell-app", ["MODWSGI_INIT"] = Path.Combine(app.Root, "no-dumb-init"),
        });

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal("started\n", result.Stdout);
        Assert.Contains("no-dumb-init is not in the image", result.Stderr);
        Assert.Contains("the server runs without an init: zombies may not be reaped", result.Stderr);
    }

    [Fact]
    public async Task StartScript_DeployHookPastItsTimeout_IsStoppedAndTheContainerExits124SayingWhy()
    {
        using var app = new AppFolder();
        app.Write(".docker/action_hooks/deploy", "#!/bin/sh\necho deploying\nexec sleep 60\n", executable: true);
        app.Write("app.sh", "#!/bin/sh\necho started\n", executable: true);
        var stopwatch = System.Diagnostics.Stopwatch.StartNew();

        var result = await RunStartScript(["--deploy-timeout=30"], new Dictionary<string, string>
        {
            ["MODWSGI_APP_ROOT"] = app.Root, ["MODWSGI_SERVER"] = "shell-app", ["MOD_WSGI_DEPLOY_TIMEOUT"] = "1",
        });

        Assert.Equal(124, result.ExitCode);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(10), $"took {stopwatch.Elapsed.TotalSeconds:F1} s");
        Assert.Contains("deploying", result.Stdout);
        Assert.DoesNotContain("started", result.Stdout);
        Assert.Contains($"modwsgi: error: .docker/action_hooks/deploy was still running after 1 s, so it was stopped and the server not started", result.Stderr);
        Assert.Contains("--deploy-timeout SECS or MOD_WSGI_DEPLOY_TIMEOUT (0 = no limit)", result.Stderr);
    }

    [Theory]
    [InlineData("--deploy-timeout=5")]
    [InlineData("--deploy-timeout=0")] // no limit
    public async Task StartScript_DeployHookWithinItsTimeout_ThenTheServerStarts(string option)
    {
        using var app = new AppFolder();
        app.Write(".docker/action_hooks/deploy", "#!/bin/sh\necho deployed\n", executable: true);
        app.Write("app.sh", "#!/bin/sh\necho started\n", executable: true);

        var result = await RunStartScript([option], new Dictionary<string, string> { ["MODWSGI_APP_ROOT"] = app.Root, ["MODWSGI_SERVER"] = "shell-app" });

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.EndsWith("deployed\nstarted\n", result.Stdout);
    }

    [Fact]
    public async Task StartScript_DeployTimeoutNotANumber_ExitsTwo()
    {
        using var app = new AppFolder();

        var result = await RunStartScript([], new Dictionary<string, string>
        {
            ["MODWSGI_APP_ROOT"] = app.Root, ["MODWSGI_SERVER"] = "shell-app", ["MOD_WSGI_DEPLOY_TIMEOUT"] = "5m",
        });

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("MOD_WSGI_DEPLOY_TIMEOUT must be a whole number of seconds (0 = no limit), not '5m'", result.Stderr);
    }
}
