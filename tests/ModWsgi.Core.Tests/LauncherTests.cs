using System.Diagnostics;

namespace ModWsgi.Core.Tests;

/// <summary>
/// Runs the in-image launcher (sdk/ModWsgi.Sdk/runtime/modwsgi-launch, copied to the output folder)
/// with the host's python3 and --dry-run, and checks the Apache configuration it would start with.
/// </summary>
public class LauncherTests
{
    private static readonly string Launcher = Path.Combine(AppContext.BaseDirectory, "runtime", "modwsgi-launch");

    private sealed record Result(int ExitCode, string Stdout, string Stderr);

    private static async Task<Result> Run(IEnumerable<string> args, IDictionary<string, string>? environment = null, bool dryRun = true)
    {
        Assert.True(File.Exists(Launcher), $"launcher not copied to the output folder: {Launcher}");
        var start = new ProcessStartInfo("python3")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Launcher);
        if (dryRun)
        {
            start.ArgumentList.Add("--dry-run");
        }
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        // The launcher reads MOD_WSGI_* (and MODWSGI_APP_ROOT): none may leak in from the test host.
        foreach (var key in start.Environment.Keys.ToList())
        {
            if (key.StartsWith("MOD_WSGI_", StringComparison.Ordinal) || key == "MODWSGI_APP_ROOT")
            {
                start.Environment.Remove(key);
            }
        }
        start.Environment["LANG"] = "C.UTF-8";
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
        return new Result(process.ExitCode, await stdout, await stderr);
    }

    private static async Task<string> Config(params string[] args) => await Config(args, null);

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
    public async Task Defaults_ServeWsgiPyScriptInDaemonMode()
    {
        var config = await Config();

        Assert.Equal("WSGIScriptAlias / \"/app/wsgi.py\"", Directive(config, "WSGIScriptAlias"));
        Assert.Equal("WSGICallableObject application", Directive(config, "WSGICallableObject"));
        Assert.Equal("Listen 8000", Directive(config, "Listen"));
        Assert.Equal("ServerRoot \"/tmp/modwsgi\"", Directive(config, "ServerRoot"));
        Assert.Equal("PidFile \"/tmp/modwsgi/httpd.pid\"", Directive(config, "PidFile"));
        Assert.Equal("WSGISocketPrefix \"/tmp/modwsgi/wsgi\"", Directive(config, "WSGISocketPrefix"));
        Assert.Equal("LogLevel warn", Directive(config, "LogLevel"));
        Assert.Equal("WSGIRestrictEmbedded On", Directive(config, "WSGIRestrictEmbedded"));
        Assert.Equal("GracefulShutdownTimeout 3", Directive(config, "GracefulShutdownTimeout"));
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
        var config = await Config("--working-directory", "site", "--entry-point", "site/serve/app.py",
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
        var config = await Config("--application-type", "module", "--entry-point", "example.wsgi",
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
        var config = await Config("--port", "80", "--processes=3", "--threads", "7", "--port=9000", "--processes", "4");

        Assert.Equal("Listen 9000", Directive(config, "Listen"));
        var daemon = Directive(config, "WSGIDaemonProcess");
        Assert.Contains(" processes=4 ", daemon);
        Assert.Contains(" threads=7 ", daemon);
        Assert.DoesNotContain("processes=3", daemon);
    }

    [Fact]
    public async Task RequestTimeoutAndMaximumRequests_GoToTheDaemonProcess()
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
        var config = await Config(["--processes", "2", "--port=80", "--access-log", "--log-to-terminal"],
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
        var config = await Config(["--processes", "2"], new Dictionary<string, string> { ["MOD_WSGI_PROCESSES"] = "" });

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
        var config = await Config("--working-directory", "my \"site\"", "--entry-point", "my \"site\"/wsgi.py", "--url-alias", "/s", "a b");

        Assert.Contains(" home=\"/app/my \\\"site\\\"\" ", Directive(config, "WSGIDaemonProcess"));
        Assert.Equal("WSGIScriptAlias / \"/app/my \\\"site\\\"/wsgi.py\"", Directive(config, "WSGIScriptAlias"));
        Assert.Equal("Alias \"/s\" \"/app/a b\"", Directive(config, "Alias"));
    }

    [Fact]
    public async Task DryRun_ReportsWhatItServesOnStderr()
    {
        var result = await Run(["--port", "80", "--processes", "2", "--threads", "8"]);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("modwsgi-launch: serving script /app/wsgi.py on port 80 (2 processes x 8 threads)", result.Stderr);
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
}
