using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace ModWsgi.Core.Tests;

/// <summary>
/// Runs the in-image launcher (sdk/ModWsgi.Sdk/runtime/modwsgi-launch, copied to the output folder)
/// with the host's python3 and --dry-run, and checks the Apache configuration it would start with,
/// or for gunicorn/waitress the command line. The entry point mod_wsgi-docker-start runs with the
/// host's bash in a temporary app folder.
/// </summary>
// The runtime runs in Linux images: these tests run it with the host's python3 and bash.
[UnsupportedOSPlatform("windows")]
public partial class LauncherTests
{
    private static readonly string Runtime = Path.Combine(AppContext.BaseDirectory, "runtime");
    private static readonly string Launcher = Path.Combine(Runtime, "modwsgi-launch");
    private static readonly string StartScript = Path.Combine(Runtime, "mod_wsgi-docker-start");

    [DllImport("libc", EntryPoint = "geteuid")]
    private static extern uint GetEffectiveUserId();

    /// <summary>gunicorn's heartbeat files on tmpfs (/dev/shm), and started as root its workers run as www-data (as Apache's User/Group).</summary>
    private static readonly string GunicornUser = (Directory.Exists("/dev/shm") ? " --worker-tmp-dir /dev/shm" : "")
        + (GetEffectiveUserId() == 0 ? " --user www-data --group www-data" : "");

    private sealed record Result(int ExitCode, string Stdout, string Stderr, int ProcessId = 0);

    private static Task<Result> Run(IEnumerable<string> args, IDictionary<string, string>? environment = null, bool dryRun = true)
    {
        Assert.True(File.Exists(Launcher), $"launcher not copied to the output folder: {Launcher}");
        return Start("python3", [Launcher, .. dryRun ? ["--dry-run"] : Array.Empty<string>(), .. args], environment);
    }

    /// <summary>Runs the image's entry point with bash; MODWSGI_APP_ROOT (in environment) is the app folder.</summary>
    /// <remarks>Without MODWSGI_INIT in environment the server is exec'd with no init (the host has no dumb-init).</remarks>
    private static Task<Result> RunStartScript(IEnumerable<string> args, IDictionary<string, string> environment)
    {
        Assert.True(File.Exists(StartScript), $"start script not copied to the output folder: {StartScript}");
        return Start("bash", [StartScript, .. args], new Dictionary<string, string>(environment) { ["MODWSGI_INIT"] = environment.TryGetValue("MODWSGI_INIT", out var init) ? init : "none" });
    }

    private static async Task<Result> Start(string program, IEnumerable<string> args, IDictionary<string, string>? environment)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        // The runtime reads MOD_WSGI_*, MODWSGI_* (the image's settings), PORT and PYTHONPATH: none may
        // leak in from the test host.
        foreach (var key in start.Environment.Keys.ToList())
        {
            if (key.StartsWith("MOD_WSGI_", StringComparison.Ordinal) || key.StartsWith("MODWSGI_", StringComparison.Ordinal)
                || key is "PORT" or "PYTHONPATH")
            {
                start.Environment.Remove(key);
            }
        }
        start.Environment["LANG"] = "C.UTF-8";
        // The processes and threads that are not given follow the CPUs: a fake cgroup with a one-CPU quota, so that
        // the test host's CPUs never decide an expectation (LauncherSizingTests gives its own).
        start.Environment["MODWSGI_CGROUP_ROOT"] = OneCpuCgroup.Value;
        if (environment is not null)
        {
            foreach (var (key, value) in environment)
            {
                start.Environment[key] = value;
            }
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return new Result(process.ExitCode, await stdout, await stderr, process.Id);
    }

    /// <summary>What runs waitress-serve's code with SIGTERM made its graceful stop (5 s by default): the launcher itself.</summary>
    private static readonly string Waitress = $"/opt/venv/bin/python {Launcher} --serve-waitress 5";

    /// <summary>gunicorn/waitress --dry-run: the one command line it would exec.</summary>
    private static async Task<string> CommandLine(string[] args, IDictionary<string, string>? environment = null)
    {
        var result = await Run(args, environment);
        Assert.True(result.ExitCode == 0, $"exit {result.ExitCode}: {result.Stderr}");
        Assert.DoesNotContain("Traceback", result.Stderr);
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one command line, got:\n{result.Stdout}");
        return lines[0];
    }

    private static async Task<string> Config(params string[] args) => await Config(args, null);

    /// <summary>The configuration in mod_wsgi daemon mode (--daemon-mode), where WSGIDaemonProcess carries the options.</summary>
    private static async Task<string> DaemonConfig(params string[] args) => await Config(["--daemon-mode", .. args], null);

    private static async Task<string> DaemonConfig(string[] args, IDictionary<string, string>? environment) =>
        await Config(["--daemon-mode", .. args], environment);

    private static async Task<string> Config(string[] args, IDictionary<string, string>? environment)
    {
        var result = await Run(args, environment);
        Assert.True(result.ExitCode == 0, $"exit {result.ExitCode}: {result.Stderr}");
        Assert.DoesNotContain("Traceback", result.Stderr);
        return result.Stdout;
    }

    private static string[] Lines(string config) =>
        config.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();

    /// <summary>The single line that starts with the directive, e.g. "Listen".</summary>
    private static string Directive(string config, string name)
    {
        var matches = Lines(config).Where(l => l.StartsWith(name + " ", StringComparison.Ordinal)).ToArray();
        Assert.True(matches.Length == 1, $"expected one '{name}' line, found {matches.Length} in:\n{config}");
        return matches[0];
    }

    private static int IndexOfLine(string config, string prefix)
    {
        var lines = Lines(config);
        return Array.FindIndex(lines, l => l.StartsWith(prefix, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Defaults_ServeWsgiPyScriptInEmbeddedMode_AFixedPoolOfProcessesTimesThreads()
    {
        var result = await Run([]);
        Assert.True(result.ExitCode == 0, result.Stderr);
        var config = result.Stdout;

        Assert.Equal("WSGIScriptAlias / \"/app/wsgi.py\"", Directive(config, "WSGIScriptAlias"));
        Assert.Equal("WSGICallableObject application", Directive(config, "WSGICallableObject"));
        Assert.Equal("WSGIApplicationGroup %{GLOBAL}", Directive(config, "WSGIApplicationGroup"));
        Assert.Equal("WSGIPythonHome \"/opt/venv\"", Directive(config, "WSGIPythonHome"));
        Assert.Equal("WSGIPythonPath \"/app\"", Directive(config, "WSGIPythonPath"));
        Assert.Equal("GracefulShutdownTimeout 5", Directive(config, "GracefulShutdownTimeout"));
        foreach (var daemonOnly in new[] { "WSGIDaemonProcess", "WSGIProcessGroup", "WSGIRestrictEmbedded", "WSGISocketPrefix" })
            Assert.DoesNotContain(Lines(config), l => l.StartsWith(daemonOnly + " ", StringComparison.Ordinal));
        // One CPU (the tests' cgroup): one Apache child of 64 threads, started at once and never stopped for being idle.
        Assert.Equal("ServerLimit 1", Directive(config, "ServerLimit"));
        Assert.Equal("StartServers 1", Directive(config, "StartServers"));
        Assert.Equal("ThreadsPerChild 64", Directive(config, "ThreadsPerChild"));
        Assert.Equal("ThreadLimit 64", Directive(config, "ThreadLimit"));
        Assert.Equal("MaxRequestWorkers 64", Directive(config, "MaxRequestWorkers"));
        Assert.Equal("MaxSpareThreads 128", Directive(config, "MaxSpareThreads"));
        Assert.Contains("(embedded mode: 1 processes x 64 threads; 1 CPU: the cgroup CPU quota of 1 ", result.Stderr);
    }

    [Theory]
    [InlineData("--request-timeout", "60")]
    [InlineData("--maximum-requests", "1000")]
    [InlineData("--reload-on-changes")]
    [InlineData("--queue-timeout", "30")]
    [InlineData("--header-buffer-size", "65536")]
    [InlineData("--daemon-backlog", "50")]
    public async Task ADaemonOnlyOption_PicksDaemonMode_AndTheLineSaysWhy(params string[] args)
    {
        var result = await Run(args);

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.StartsWith("WSGIDaemonProcess modwsgi ", Directive(result.Stdout, "WSGIDaemonProcess"));
        Assert.DoesNotContain(Lines(result.Stdout), l => l.StartsWith("WSGIPythonHome ", StringComparison.Ordinal));
        Assert.Contains($"(daemon mode, {args[0]} needs it: 1 processes x 5 threads", result.Stderr);
    }

    [Fact]
    public async Task DaemonMode_FromTheOptionOrItsVariable_AndZeroTimeoutsStayEmbedded()
    {
        var fromVariable = await Run([], new Dictionary<string, string> { ["MOD_WSGI_DAEMON_MODE"] = "yes" });
        var embeddedAgain = await Run(["--daemon-mode"], new Dictionary<string, string> { ["MOD_WSGI_DAEMON_MODE"] = "0" });
        var zero = await Run(["--request-timeout", "0", "--socket-timeout", "30"]);

        Assert.Contains("WSGIDaemonProcess modwsgi ", fromVariable.Stdout);
        Assert.Contains("(daemon mode: ", fromVariable.Stderr);
        Assert.DoesNotContain("WSGIDaemonProcess", embeddedAgain.Stdout);
        // 0 is "off", and --socket-timeout is Apache's Timeout too: neither needs a daemon.
        Assert.DoesNotContain("WSGIDaemonProcess", zero.Stdout);
        Assert.Equal("Timeout 30", Directive(zero.Stdout, "Timeout"));
    }

    [Theory]
    [InlineData("--request-timeout 60 needs daemon mode, but --embedded-mode asks for embedded mode", "--request-timeout", "60", "--embedded-mode")]
    [InlineData("--embedded-mode and --daemon-mode contradict each other", "--embedded-mode", "--daemon-mode")]
    [InlineData("--reload-on-changes needs daemon mode, but --daemon-mode turns it off", "--reload-on-changes", "--daemon-mode=0")]
    public async Task ContradictoryModes_ExitTwo_NamingBothOptions(string message, params string[] args)
    {
        var result = await Run(args);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(message.Replace("--request-timeout 60", "--request-timeout", StringComparison.Ordinal), result.Stderr);
        Assert.Empty(result.Stdout);
    }

    [Fact]
    public async Task EmbeddedMode_PoolOptions_AreIgnoredWithAWarning_DaemonModeKeepsThem()
    {
        var embedded = await Run(["--max-clients", "40"]);
        var daemon = await DaemonConfig("--max-clients", "40");

        Assert.Equal("MaxRequestWorkers 64", Directive(embedded.Stdout, "MaxRequestWorkers"));
        Assert.Contains("warning: --max-clients ignored in embedded mode", embedded.Stderr);
        Assert.Equal("MaxRequestWorkers 52", Directive(daemon, "MaxRequestWorkers"));
    }

    [Theory]
    [InlineData("worker", "ThreadsPerChild 64")]
    [InlineData("prefork", "StartServers 64")]
    public async Task EmbeddedMode_OtherMpms_GetTheSameFixedPool(string mpm, string expected)
    {
        var config = await Config("--server-mpm", mpm);

        Assert.Contains(expected, Lines(config));
        Assert.DoesNotContain("WSGIDaemonProcess", config);
    }

    [Fact]
    public async Task DaemonMode_ServesWsgiPyScriptThroughTheDaemonProcess()
    {
        var config = await DaemonConfig();

        Assert.Equal("WSGIScriptAlias / \"/app/wsgi.py\"", Directive(config, "WSGIScriptAlias"));
        Assert.Equal("WSGICallableObject application", Directive(config, "WSGICallableObject"));
        Assert.Equal("Listen 8000", Directive(config, "Listen"));
        Assert.Equal("ServerRoot \"/tmp/modwsgi\"", Directive(config, "ServerRoot"));
        Assert.Equal("PidFile \"/tmp/modwsgi/httpd.pid\"", Directive(config, "PidFile"));
        Assert.Equal("WSGISocketPrefix \"/tmp/modwsgi/wsgi\"", Directive(config, "WSGISocketPrefix"));
        Assert.Equal("LogLevel warn", Directive(config, "LogLevel"));
        Assert.Equal("WSGIRestrictEmbedded On", Directive(config, "WSGIRestrictEmbedded"));
        Assert.Equal("GracefulShutdownTimeout 5", Directive(config, "GracefulShutdownTimeout"));
        Assert.Equal("WSGIProcessGroup modwsgi", Directive(config, "WSGIProcessGroup"));
        Assert.Equal("WSGIApplicationGroup %{GLOBAL}", Directive(config, "WSGIApplicationGroup"));

        var daemon = Directive(config, "WSGIDaemonProcess");
        Assert.StartsWith("WSGIDaemonProcess modwsgi ", daemon);
        Assert.Contains(" processes=1 ", daemon);
        Assert.Contains(" threads=5 ", daemon);
        Assert.Contains(" python-home=\"/opt/venv\" ", daemon);
        Assert.Contains(" python-path=\"/app\" ", daemon);
        Assert.Contains(" home=\"/app\" ", daemon);
        Assert.Contains(" display-name=%{GROUP}", daemon);
        Assert.DoesNotContain("request-timeout", daemon);
        Assert.DoesNotContain("maximum-requests", daemon);
    }

    [Fact]
    public async Task LoadsOnlyModulesThatAreNotCompiledIn()
    {
        var config = await Config();

        foreach (var module in new[] { "mpm_event", "authz_core", "mime", "alias", "dir", "wsgi" })
        {
            Assert.Contains($"LoadModule {module}_module \"/usr/lib/apache2/modules/mod_{module}.so\"", config);
        }
        foreach (var builtIn in new[] { "unixd", "log_config", "logio", "version" })
        {
            Assert.DoesNotContain($"LoadModule {builtIn}_module", config);
        }
        Assert.Equal("TypesConfig /etc/mime.types", Directive(config, "TypesConfig"));
        Assert.Equal("ServerName localhost", Directive(config, "ServerName"));
    }

    [Fact]
    public async Task Script_EntryPointIsRelativeToTheAppFolderAsInModWsgiExpress_AndWorkingDirectoryIsHome()
    {
        var config = await DaemonConfig("--working-directory", "site", "--entry-point", "site/serve/app.py",
            "--callable-object", "app", "--python-path", "lib", "--python-path", "/opt/extra");

        Assert.Equal("WSGIScriptAlias / \"/app/site/serve/app.py\"", Directive(config, "WSGIScriptAlias"));
        Assert.Equal("WSGICallableObject app", Directive(config, "WSGICallableObject"));
        var daemon = Directive(config, "WSGIDaemonProcess");
        Assert.Contains(" home=\"/app/site\" ", daemon);
        Assert.Contains(" python-path=\"/app/site:/app/lib:/opt/extra\" ", daemon);
    }

    [Fact]
    public async Task Script_AbsoluteEntryPointIsKept()
    {
        var config = await Config("--entry-point", "/srv/other/main.wsgi");

        Assert.Equal("WSGIScriptAlias / \"/srv/other/main.wsgi\"", Directive(config, "WSGIScriptAlias"));
    }

    [Fact]
    public async Task Module_PointsWsgiScriptAliasAtAGeneratedHandler()
    {
        var config = await DaemonConfig("--application-type", "module", "--entry-point", "example.wsgi",
            "--working-directory", "example", "--callable-object", "app");

        Assert.Equal("WSGIScriptAlias / \"/tmp/modwsgi/handler.wsgi\"", Directive(config, "WSGIScriptAlias"));
        // The handler's source is echoed into the configuration as comments.
        Assert.Contains("application = getattr(importlib.import_module('example.wsgi'), 'app')", config);
        // The handler defines 'application' itself: no WSGICallableObject for the user's name.
        Assert.DoesNotContain("WSGICallableObject", config);
        var daemon = Directive(config, "WSGIDaemonProcess");
        Assert.Contains(" home=\"/app/example\" ", daemon);
        Assert.Contains(" python-path=\"/app/example\" ", daemon);
    }

    [Fact]
    public async Task Paste_LoadsTheIniFileWithPasteDeploy()
    {
        var config = await Config("--application-type", "paste", "--entry-point", "production.ini");

        Assert.Equal("WSGIScriptAlias / \"/tmp/modwsgi/handler.wsgi\"", Directive(config, "WSGIScriptAlias"));
        Assert.Contains("from paste.deploy import loadapp", config);
        Assert.Contains("application = loadapp(\"config:\" + '/app/production.ini')", config);
    }

    [Fact]
    public async Task Static_HasNoPythonAtAll()
    {
        var config = await Config("--application-type", "static", "--document-root", "htdocs");

        Assert.Equal("DocumentRoot \"/app/htdocs\"", Directive(config, "DocumentRoot"));
        Assert.Contains("<Directory \"/app/htdocs\">\n  Require all granted\n</Directory>", config);
        Assert.DoesNotContain("WSGI", config);
        Assert.DoesNotContain("mod_wsgi.so", config);
    }

    [Fact]
    public async Task UrlAliases_AreServedByApacheAndComeBeforeTheWsgiScriptAlias()
    {
        var config = await Config("--url-alias", "/static", "example/htdocs", "--url-alias=/media", "/srv/media");

        var staticAlias = IndexOfLine(config, "Alias \"/static\" \"/app/example/htdocs\"");
        var mediaAlias = IndexOfLine(config, "Alias \"/media\" \"/srv/media\"");
        var scriptAlias = IndexOfLine(config, "WSGIScriptAlias ");
        Assert.True(staticAlias >= 0, config);
        Assert.True(mediaAlias > staticAlias, config);
        Assert.True(scriptAlias > mediaAlias, $"Alias lines must precede WSGIScriptAlias:\n{config}");
        Assert.Contains("<Directory \"/app/example/htdocs\">\n  Require all granted\n</Directory>", config);
        Assert.Contains("<Directory \"/srv/media\">\n  Require all granted\n</Directory>", config);
    }

    [Fact]
    public async Task PortProcessesThreads_AcceptBothFormsAndTheLastOccurrenceWins()
    {
        var config = await DaemonConfig("--port", "80", "--processes=3", "--threads", "7", "--port=9000", "--processes", "4");

        Assert.Equal("Listen 9000", Directive(config, "Listen"));
        var daemon = Directive(config, "WSGIDaemonProcess");
        Assert.Contains(" processes=4 ", daemon);
        Assert.Contains(" threads=7 ", daemon);
        Assert.DoesNotContain("processes=3", daemon);
    }

    [Fact]
    public async Task RequestTimeoutAndMaximumRequests_GoToTheDaemonProcess_WhichTheyPick()
    {
        var config = await Config("--request-timeout=60", "--maximum-requests", "1000", "--log-level", "info");

        var daemon = Directive(config, "WSGIDaemonProcess");
        Assert.Contains(" request-timeout=60", daemon);
        Assert.Contains(" maximum-requests=1000", daemon);
        Assert.Equal("LogLevel info", Directive(config, "LogLevel"));
    }

    [Fact]
    public async Task EnvironmentVariables_MapToOptions()
    {
        var config = await Config([], new Dictionary<string, string>
        {
            ["MOD_WSGI_PROCESSES"] = "4",
            ["MOD_WSGI_THREADS"] = "12",
            ["MOD_WSGI_PORT"] = "8081",
            ["MOD_WSGI_APPLICATION_TYPE"] = "module",
            ["MOD_WSGI_ENTRY_POINT"] = "mysite.wsgi",
            ["MOD_WSGI_CALLABLE_OBJECT"] = "app",
            ["MOD_WSGI_WORKING_DIRECTORY"] = "mysite",
            ["MOD_WSGI_SERVER_ROOT"] = "/var/tmp/server",
            ["MOD_WSGI_LOG_LEVEL"] = "debug",
            ["MOD_WSGI_REQUEST_TIMEOUT"] = "30",
            ["MOD_WSGI_MAXIMUM_REQUESTS"] = "500",
            ["MOD_WSGI_RELOAD_ON_CHANGES"] = "1",
        });

        Assert.Equal("Listen 8081", Directive(config, "Listen"));
        Assert.Equal("ServerRoot \"/var/tmp/server\"", Directive(config, "ServerRoot"));
        Assert.Equal("WSGIScriptAlias / \"/var/tmp/server/handler.wsgi\"", Directive(config, "WSGIScriptAlias"));
        Assert.Contains("importlib.import_module('mysite.wsgi'), 'app')", config);
        Assert.Equal("LogLevel debug", Directive(config, "LogLevel"));
        Assert.Equal("WSGIScriptReloading On", Directive(config, "WSGIScriptReloading"));
        var daemon = Directive(config, "WSGIDaemonProcess");
        Assert.Contains(" processes=4 ", daemon);
        Assert.Contains(" threads=12 ", daemon);
        Assert.Contains(" home=\"/app/mysite\" ", daemon);
        Assert.Contains(" request-timeout=30", daemon);
        Assert.Contains(" maximum-requests=500", daemon);
    }

    [Fact]
    public async Task EnvironmentVariables_OverrideCommandLineOptions()
    {
        var config = await DaemonConfig(["--processes", "2", "--port=80", "--access-log", "--log-to-terminal"],
            new Dictionary<string, string>
            {
                ["MOD_WSGI_PROCESSES"] = "6",
                ["MOD_WSGI_PORT"] = "8080",
                ["MOD_WSGI_ACCESS_LOG"] = "off",
            });

        Assert.Equal("Listen 8080", Directive(config, "Listen"));
        Assert.Contains(" processes=6 ", Directive(config, "WSGIDaemonProcess"));
        Assert.DoesNotContain("CustomLog", config);
    }

    [Fact]
    public async Task EmptyEnvironmentVariable_CountsAsUnset()
    {
        var config = await DaemonConfig(["--processes", "2"], new Dictionary<string, string> { ["MOD_WSGI_PROCESSES"] = "" });

        Assert.Contains(" processes=2 ", Directive(config, "WSGIDaemonProcess"));
    }

    [Fact]
    public async Task AccessLog_IsOffByDefault()
    {
        var config = await Config("--log-to-terminal");

        Assert.DoesNotContain("CustomLog", config);
        Assert.Equal("ErrorLog /dev/stderr", Directive(config, "ErrorLog"));
    }

    [Fact]
    public async Task AccessLog_GoesToStdoutWithAccessLogAndLogToTerminal()
    {
        var config = await Config("--access-log", "--log-to-terminal");

        Assert.Equal("CustomLog /dev/stdout combined", Directive(config, "CustomLog"));
        Assert.StartsWith("LogFormat \"%h %l %u %t", Directive(config, "LogFormat"));
    }

    [Fact]
    public async Task Logs_GoToFilesInTheServerRootWithoutLogToTerminal()
    {
        var config = await Config("--access-log", "--server-root", "/var/tmp/s");

        Assert.Equal("ErrorLog \"/var/tmp/s/error_log\"", Directive(config, "ErrorLog"));
        Assert.Equal("CustomLog \"/var/tmp/s/access_log\" combined", Directive(config, "CustomLog"));
    }

    [Fact]
    public async Task ReloadOnChanges_TurnsOnScriptReloadingAndTheMonitor()
    {
        var without = await Config();
        var with = await Config("--reload-on-changes");

        Assert.Equal("WSGIScriptReloading Off", Directive(without, "WSGIScriptReloading"));
        Assert.DoesNotContain("WSGIImportScript", without);
        Assert.Equal("WSGIScriptReloading On", Directive(with, "WSGIScriptReloading"));
        Assert.Equal("WSGIImportScript \"/tmp/modwsgi/monitor.py\" process-group=modwsgi application-group=%{GLOBAL}",
            Directive(with, "WSGIImportScript"));
    }

    [Fact]
    public async Task ValuesWithSpacesAndQuotes_AreQuotedForApache()
    {
        var config = await DaemonConfig("--working-directory", "my \"site\"", "--entry-point", "my \"site\"/wsgi.py", "--url-alias", "/s", "a b");

        Assert.Contains(" home=\"/app/my \\\"site\\\"\" ", Directive(config, "WSGIDaemonProcess"));
        Assert.Equal("WSGIScriptAlias / \"/app/my \\\"site\\\"/wsgi.py\"", Directive(config, "WSGIScriptAlias"));
        Assert.Equal("Alias \"/s\" \"/app/a b\"", Directive(config, "Alias"));
    }

    [Fact]
    public async Task DryRun_ReportsWhatItServesOnStderr()
    {
        var result = await Run(["--port", "80", "--processes", "2", "--threads", "8"]);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("modwsgi-launch: serving script /app/wsgi.py on port 80 (embedded mode: 2 processes x 8 threads)", result.Stderr);
    }

    [Fact]
    public async Task Help_ExitsZeroAndListsTheOptions()
    {
        var result = await Run(["--help"], dryRun: false);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("--application-type", result.Stdout);
        Assert.Contains("MOD_WSGI_", result.Stdout);
    }

    [Theory]
    [InlineData("unknown option --bogus", "--bogus")]
    [InlineData("unknown option --host", "--host=0.0.0.0")]
    [InlineData("--processes expects a whole number, not 'two'", "--processes", "two")]
    [InlineData("--threads expects a whole number, not '1.5'", "--threads=1.5")]
    [InlineData("--port must be at most 65535", "--port", "70000")]
    [InlineData("--processes must be at least 1", "--processes", "0")]
    [InlineData("--application-type must be one of script, module, paste, static, not 'wsgi'", "--application-type", "wsgi")]
    [InlineData("--port expects a value", "--port")]
    [InlineData("--port expects a value", "--port", "--processes", "2")]
    [InlineData("--url-alias expects URL and PATH", "--url-alias", "/static")]
    [InlineData("--application-type module needs --entry-point", "--application-type", "module")]
    [InlineData("unexpected argument 'bash'", "bash")]
    public async Task BadArguments_ExitTwoWithAClearMessage(string message, params string[] args)
    {
        var result = await Run(args);

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("modwsgi-launch: error: ", result.Stderr);
        Assert.Contains(message, result.Stderr);
        Assert.Contains("(see --help)", result.Stderr);
        Assert.DoesNotContain("Traceback", result.Stderr);
        Assert.Equal("", result.Stdout);
    }

    [Theory]
    [InlineData("MOD_WSGI_PROCESSES", "many", "MOD_WSGI_PROCESSES expects a whole number, not 'many'")]
    [InlineData("MOD_WSGI_APPLICATION_TYPE", "cgi", "--application-type must be one of")]
    [InlineData("MOD_WSGI_ACCESS_LOG", "maybe", "MOD_WSGI_ACCESS_LOG expects one of")]
    public async Task BadEnvironmentVariables_ExitTwoWithAClearMessage(string variable, string value, string message)
    {
        var result = await Run([], new Dictionary<string, string> { [variable] = value });

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("modwsgi-launch: error: ", result.Stderr);
        Assert.Contains(message, result.Stderr);
        Assert.DoesNotContain("Traceback", result.Stderr);
    }

    // ----- --server gunicorn / waitress -----

    [Fact]
    public async Task Gunicorn_ScriptApp_BindsAllAddressesWithWorkersThreadsChdirTimeoutAndAccessLog()
    {
        var line = await CommandLine(["--server", "gunicorn", "--log-to-terminal", "--startup-log", "--port", "80",
            "--processes", "3", "--threads", "2", "--request-timeout", "60", "--access-log"]);

        Assert.Equal("/opt/venv/bin/gunicorn --bind 0.0.0.0:80 --workers 3 --threads 2 --chdir /app --timeout 60 " +
            $"--access-logfile - --error-logfile - --log-level warning --graceful-timeout 5{GunicornUser} wsgi:application", line);
    }

    [Fact]
    public async Task Gunicorn_Defaults_NoTimeoutMaxRequestsAccessLogOrReload()
    {
        var line = await CommandLine(["--server=gunicorn"]);

        Assert.Equal("/opt/venv/bin/gunicorn --bind 0.0.0.0:8000 --workers 3 --threads 1 --chdir /app " +
            $"--error-logfile - --log-level warning --graceful-timeout 5{GunicornUser} wsgi:application", line);
    }

    [Fact]
    public async Task Gunicorn_ModuleApp_UsesTheEntryPointAndMapsTheOtherOptions()
    {
        var line = await CommandLine(["--server", "gunicorn", "--application-type", "module", "--entry-point", "example.wsgi",
            "--callable-object", "app", "--working-directory", "example", "--python-path", "lib", "--python-path", "/opt/extra",
            "--maximum-requests", "1000", "--request-timeout", "0", "--log-level", "crit", "--reload-on-changes",
            "--python-home", "/srv/venv"]);

        Assert.Equal("/srv/venv/bin/gunicorn --bind 0.0.0.0:8000 --workers 3 --threads 1 --chdir /app/example --timeout 0 " +
            $"--max-requests 1000 --error-logfile - --log-level critical --reload --graceful-timeout 5{GunicornUser} " +
            "--pythonpath /app/lib,/opt/extra example.wsgi:app", line);
    }

    [Theory]
    [InlineData("warn", "warning")]
    [InlineData("crit", "critical")]
    [InlineData("alert", "critical")]
    [InlineData("emerg", "critical")]
    [InlineData("error", "error")]
    [InlineData("info", "info")]
    [InlineData("debug", "debug")]
    public async Task Gunicorn_LogLevelIsMappedToGunicornsLevels(string apacheLevel, string gunicornLevel)
    {
        var line = await CommandLine(["--server", "gunicorn", "--log-level", apacheLevel]);

        Assert.Contains($" --log-level {gunicornLevel} ", line);
    }

    [Theory]
    // A NAME.py under the working directory is imported by its dotted name (Django's mysite/wsgi.py).
    [InlineData(new[] { "--entry-point", "mysite/wsgi.py" }, " --chdir /app ", "", "mysite.wsgi:application")]
    [InlineData(new[] { "--working-directory", "site", "--entry-point", "site/serve/app.py", "--callable-object", "app" },
        " --chdir /app/site ", "", "serve.app:app")]
    // Under a --python-path directory: imported from there, nothing to add.
    [InlineData(new[] { "--python-path", "src", "--entry-point", "src/pkg/main.py" }, " --chdir /app ", " --pythonpath /app/src", "pkg.main:application")]
    // Elsewhere, or not reachable by a dotted name: its own directory goes on the path.
    [InlineData(new[] { "--entry-point", "/srv/other/main.py" }, " --chdir /app ", " --pythonpath /srv/other", "main:application")]
    [InlineData(new[] { "--working-directory", "site", "--entry-point", "wsgi.py" }, " --chdir /app/site ", " --pythonpath /app", "wsgi:application")]
    [InlineData(new[] { "--entry-point", "my-site/wsgi.py" }, " --chdir /app ", " --pythonpath /app/my-site", "wsgi:application")]
    public async Task Gunicorn_ScriptApp_IsImportedAsAModule(string[] args, string chdir, string pythonPath, string application)
    {
        var line = await CommandLine(["--server", "gunicorn", .. args]);

        Assert.Contains(chdir, line);
        Assert.EndsWith($"{GunicornUser}{pythonPath} {application}", line);
    }

    [Fact]
    public async Task Gunicorn_ProcessesAndThreadsFromTheEnvironment_OverrideTheOptions()
    {
        var line = await CommandLine(["--server", "gunicorn", "--processes", "2", "--threads", "3", "--port", "80"],
            new Dictionary<string, string> { ["MOD_WSGI_PROCESSES"] = "4", ["MOD_WSGI_THREADS"] = "8", ["MOD_WSGI_PORT"] = "8080" });

        Assert.StartsWith("/opt/venv/bin/gunicorn --bind 0.0.0.0:8080 --workers 4 --threads 8 --chdir /app ", line);
    }

    [Fact]
    public async Task Server_ImageDefaultThenOptionThenEnvironment()
    {
        var image = new Dictionary<string, string> { ["MODWSGI_SERVER"] = "gunicorn" };
        var fromImage = await CommandLine([], image);
        var optionOverImage = await CommandLine(["--server", "waitress"], image);
        var environmentOverOption = await Run(["--server", "waitress"],
            new Dictionary<string, string> { ["MODWSGI_SERVER"] = "gunicorn", ["MOD_WSGI_SERVER"] = "mod_wsgi" });

        Assert.StartsWith("/opt/venv/bin/gunicorn ", fromImage);
        Assert.Contains(Waitress + " ", optionOverImage);
        Assert.Equal(0, environmentOverOption.ExitCode);
        Assert.Equal("WSGIScriptAlias / \"/app/wsgi.py\"", Directive(environmentOverOption.Stdout, "WSGIScriptAlias"));
    }

    [Fact]
    public async Task Waitress_ChangesToTheWorkingDirectoryAndListensOnAllAddresses()
    {
        var line = await CommandLine(["--server", "waitress", "--port", "8080", "--threads", "7",
            "--working-directory", "site", "--entry-point", "site/wsgi.py", "--callable-object", "app"]);

        Assert.Equal($"cd /app/site && {Waitress} '--listen=*:8080' --threads=7 wsgi:app", line);
    }

    [Fact]
    public async Task Waitress_ModuleApp_PythonPathGoesToPythonpath_AndSeveralProcessesAreAWarning()
    {
        var result = await Run(["--server", "waitress", "--application-type", "module", "--entry-point", "example.wsgi",
            "--working-directory", "example", "--python-path", "lib", "--processes", "3", "--access-log"]);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal($"cd /app/example && PYTHONPATH=/app/lib {Waitress} '--listen=*:8000' --threads=5 example.wsgi:application\n",
            result.Stdout);
        Assert.Contains("modwsgi-launch: warning: waitress is single-process: --processes 3 is ignored", result.Stderr);
        Assert.Contains("modwsgi-launch: warning: waitress has no equivalent of --access-log: ignored", result.Stderr);
        Assert.Contains("modwsgi-launch: serving module example.wsgi on port 8000 with waitress (1 process x 5 threads)", result.Stderr);
    }

    [Theory]
    [InlineData("gunicorn")]
    [InlineData("waitress")]
    public async Task UrlAliases_WithGunicornOrWaitress_AreIgnoredWithAWarning(string server)
    {
        var result = await Run(["--server", server, "--url-alias", "/static", "static"]);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains($"modwsgi-launch: warning: static files (--url-alias, --document-root) are served only by mod_wsgi (Apache): {server} ignores them",
            result.Stderr);
        Assert.DoesNotContain("static", result.Stdout);
    }

    [Theory]
    [InlineData("--application-type paste is not supported with --server gunicorn", "--server", "gunicorn", "--application-type", "paste", "--entry-point", "production.ini")]
    [InlineData("--application-type paste is not supported with --server waitress", "--server", "waitress", "--application-type", "paste", "--entry-point", "production.ini")]
    [InlineData("--application-type static is not supported with --server gunicorn: static files are served by Apache only", "--server", "gunicorn", "--application-type", "static")]
    [InlineData("--application-type static is not supported with --server waitress", "--server", "waitress", "--application-type", "static")]
    [InlineData("--server must be one of mod_wsgi, gunicorn, waitress, not 'bogus'", "--server", "bogus")]
    [InlineData("python-app runs the application itself (app.py) and is started by mod_wsgi-docker-start", "--server", "python-app")]
    [InlineData("gunicorn imports the application as a Python module, so the script must be a NAME.py file", "--server", "gunicorn", "--entry-point", "main.wsgi")]
    [InlineData("--server expects a value", "--server")]
    public async Task BadServerArguments_ExitTwoWithAClearMessage(string message, params string[] args)
    {
        var result = await Run(args);

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("modwsgi-launch: error: ", result.Stderr);
        Assert.Contains(message, result.Stderr);
        Assert.DoesNotContain("Traceback", result.Stderr);
        Assert.Equal("", result.Stdout);
    }

    [Theory]
    [InlineData("MOD_WSGI_SERVER", "MOD_WSGI_SERVER must be one of mod_wsgi, gunicorn, waitress, not 'bogus'")]
    [InlineData("MODWSGI_SERVER", "MODWSGI_SERVER must be one of mod_wsgi, gunicorn, waitress, not 'bogus'")]
    public async Task BadServerVariable_ExitsTwo(string variable, string message)
    {
        var result = await Run([], new Dictionary<string, string> { [variable] = "bogus" });

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(message, result.Stderr);
    }

    [Theory]
    [InlineData("gunicorn", "gunicorn")]
    [InlineData("waitress", "waitress-serve")]
    public async Task ServerNotInstalled_ExitsTwoAskingForTheRequirement(string server, string program)
    {
        var home = Directory.CreateTempSubdirectory("modwsgi-venv-").FullName;
        try
        {
            var result = await Run(["--server", server, "--python-home", home], dryRun: false);

            Assert.Equal(2, result.ExitCode);
            Assert.Equal($"modwsgi-launch: error: --server {server}: {server} is not installed ({home}/bin/{program} not found): " +
                $"add {server} to requirements.txt\n", result.Stderr);
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }

    // ----- mod_wsgi-docker-start: python-app / shell-app, and the hand-over to the launcher -----

    private sealed class AppFolder : IDisposable
    {
        public string Root { get; } = Directory.CreateTempSubdirectory("modwsgi-app-").FullName;

        public void Write(string relative, string text, bool executable = false)
        {
            var path = Path.Combine(Root, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, text);
            if (executable)
            {
                File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
            }
        }

        public void Dispose() => Directory.Delete(Root, recursive: true);
    }

    [Fact]
    public async Task StartScript_ShellApp_ExecsAppShInTheAppFolderWithPort80AndTheUserVars()
    {
        using var app = new AppFolder();
        app.Write("app.sh", "#!/bin/bash\necho \"PORT=$PORT PID=$$ PWD=$PWD GREETING=$GREETING\"\n", executable: true);
        app.Write(".docker/user_vars/GREETING", "hello");

        var result = await RunStartScript([], new Dictionary<string, string>
        {
            ["MODWSGI_APP_ROOT"] = app.Root,
            ["MODWSGI_SERVER"] = "shell-app",
            ["MODWSGI_IMAGE_ARGS"] = "--application-type\nscript",
        });

        Assert.True(result.ExitCode == 0, result.Stderr);
        // exec: app.sh is the very process that was started (PID 1 in a container), not a child of it.
        Assert.Equal($"PORT=80 PID={result.ProcessId} PWD={app.Root} GREETING=hello\n", result.Stdout);
    }

    [Theory]
    [InlineData(new string[0], "--port\n8080", null, null, "8080")]      // the image's ContainerPort
    [InlineData(new[] { "--port=9000" }, "--port\n8080", null, null, "9000")] // docker run IMAGE --port 9000
    [InlineData(new string[0], "--port\n8080", "7000", null, "7000")]    // docker run -e PORT=7000
    [InlineData(new string[0], "--port\n8080", "7000", "81", "81")]      // docker run -e MOD_WSGI_PORT=81 wins
    public async Task StartScript_ShellApp_Port(string[] args, string imageArgs, string? port, string? modWsgiPort, string expected)
    {
        using var app = new AppFolder();
        app.Write("app.sh", "#!/bin/sh\necho \"$PORT\"\n", executable: true);
        var environment = new Dictionary<string, string>
        {
            ["MODWSGI_APP_ROOT"] = app.Root,
            ["MODWSGI_SERVER"] = "shell-app",
            ["MODWSGI_IMAGE_ARGS"] = imageArgs,
        };
        if (port is not null)
            environment["PORT"] = port;
        if (modWsgiPort is not null)
            environment["MOD_WSGI_PORT"] = modWsgiPort;

        var result = await RunStartScript(args, environment);

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal(expected + "\n", result.Stdout);
    }

    [Fact]
    public async Task StartScript_PythonApp_ExecsAppPyWithThePythonOfThePythonHome()
    {
        using var app = new AppFolder();
        // A stand-in virtual environment: its bin/python is the host's python3 (exec keeps the PID).
        app.Write("venv/bin/python", "#!/bin/sh\nexec python3 \"$@\"\n", executable: true);
        app.Write("app.py", "import os\nprint('PORT=%s PID=%d CWD=%s' % (os.environ['PORT'], os.getpid(), os.getcwd()))\n");

        var result = await RunStartScript([], new Dictionary<string, string>
        {
            ["MODWSGI_APP_ROOT"] = app.Root,
            ["MODWSGI_SERVER"] = "python-app",
            ["MOD_WSGI_PYTHON_HOME"] = Path.Combine(app.Root, "venv"),
        });

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal($"PORT=80 PID={result.ProcessId} CWD={app.Root}\n", result.Stdout);
    }

    [Theory]
    [InlineData("bogus", null, "MODWSGI_SERVER is 'bogus': the server must be one of mod_wsgi, gunicorn, waitress, python-app, shell-app")]
    [InlineData("shell-app", null, "MODWSGI_SERVER is shell-app but")]
    [InlineData("python-app", null, "MODWSGI_SERVER is python-app but")]
    [InlineData("mod_wsgi", "bogus", "MOD_WSGI_SERVER is 'bogus'")]
    public async Task StartScript_BadServer_ExitsTwo(string imageServer, string? modWsgiServer, string message)
    {
        using var app = new AppFolder();
        var environment = new Dictionary<string, string> { ["MODWSGI_APP_ROOT"] = app.Root, ["MODWSGI_SERVER"] = imageServer };
        if (modWsgiServer is not null)
            environment["MOD_WSGI_SERVER"] = modWsgiServer;

        var result = await RunStartScript([], environment);

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("mod_wsgi-docker-start: error: ", result.Stderr);
        Assert.Contains(message, result.Stderr);
    }

    [Fact]
    public async Task StartScript_Gunicorn_HandsTheImageArgumentsToTheLauncher()
    {
        using var app = new AppFolder();
        // An app.sh does not matter when the server is gunicorn; docker run -e MOD_WSGI_SERVER overrides the image's shell-app.
        app.Write("app.sh", "#!/bin/sh\necho app.sh\n", executable: true);

        var result = await RunStartScript(["--dry-run"], new Dictionary<string, string>
        {
            ["MODWSGI_APP_ROOT"] = app.Root,
            ["MODWSGI_SERVER"] = "shell-app",
            ["MOD_WSGI_SERVER"] = "gunicorn",
            ["MODWSGI_IMAGE_ARGS"] = "--application-type\nmodule\n--entry-point\nexample.wsgi\n--access-log",
        });

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal($"/opt/venv/bin/gunicorn --bind 0.0.0.0:80 --workers 3 --threads 1 --chdir {app.Root} --access-logfile - " +
            $"--error-logfile - --log-level warning --graceful-timeout 5{GunicornUser} example.wsgi:application\n", result.Stdout);
    }
}
