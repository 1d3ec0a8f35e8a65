using System.Runtime.Versioning;

namespace ModWsgi.Core.Tests;

/// <summary>
/// mod_wsgi-docker compatibility of the launcher and the start script: mod_wsgi-express's tuning options, the bare
/// entry point argument, <c>server_args</c> files, the <c>.whiskey</c> layout, <c>deploy-env</c> and the start hook.
/// </summary>
public partial class LauncherTests
{
    [Theory]
    [InlineData("DirectoryIndex \"home.html\"", "--document-root", "htdocs", "--directory-index", "home.html")]
    [InlineData("DirectoryIndex \"index.html\"", "--document-root", "htdocs")]
    [InlineData("LimitRequestBody 1048576", "--limit-request-body", "1048576")]
    [InlineData("LimitRequestBody 0", "--limit-request-body=0")]
    [InlineData("Timeout 30", "--socket-timeout", "30")]
    [InlineData("ListenBacklog 200", "--server-backlog", "200")]
    [InlineData("RequestReadTimeout header=20-30,MinRate=500 body=15,MinRate=500", "--header-timeout", "20")]
    [InlineData("RequestReadTimeout header=15-30,MinRate=500 body=60-120,MinRate=100", "--body-timeout", "60", "--body-max-timeout", "120", "--body-min-rate", "100")]
    [InlineData("RequestReadTimeout header=10,MinRate=500 body=15,MinRate=500", "--header-timeout", "10", "--header-max-timeout", "0")]
    [InlineData("MaxRequestWorkers 52", "--max-clients", "40")]
    [InlineData("MaxRequestWorkers 20", "--initial-workers", "0.5")]
    [InlineData("StartServers 1", "--max-clients", "40", "--initial-workers", "0.3")]
    [InlineData("StartServers 2", "--max-clients", "40", "--initial-workers", "0.5")]
    [InlineData("MinSpareThreads 26", "--max-clients", "40", "--minimum-spare-workers", "0.5")]
    [InlineData("MaxSpareThreads 52", "--max-clients", "40", "--maximum-spare-workers", "1")]
    [InlineData("LoadModule mpm_prefork_module \"/usr/lib/apache2/modules/mod_mpm_prefork.so\"", "--server-mpm", "prefork")]
    [InlineData("LoadModule mpm_worker_module \"/usr/lib/apache2/modules/mod_mpm_worker.so\"", "--server-mpm", "worker", "--server-mpm", "prefork")]
    [InlineData("MaxRequestWorkers 40", "--server-mpm", "prefork", "--max-clients", "40")]
    public async Task ExpressTuningOptions_YieldTheirApacheDirective(string expected, params string[] args)
    {
        var config = await DaemonConfig(args);

        Assert.Contains(expected, Lines(config));
    }

    [Theory]
    [InlineData("inactivity-timeout")]
    [InlineData("connect-timeout")]
    [InlineData("socket-timeout")]
    [InlineData("queue-timeout")]
    [InlineData("startup-timeout")]
    [InlineData("shutdown-timeout")]
    [InlineData("graceful-timeout")]
    [InlineData("eviction-timeout")]
    [InlineData("deadlock-timeout")]
    public async Task DaemonTimeouts_GoToTheDaemonProcess_FromTheOptionOrItsVariable(string option)
    {
        var fromOption = Directive(await DaemonConfig("--" + option, "17"), "WSGIDaemonProcess");
        var variable = "MOD_WSGI_" + option.ToUpperInvariant().Replace('-', '_');
        var fromVariable = Directive(await DaemonConfig(["--" + option, "5"], new Dictionary<string, string> { [variable] = "23" }), "WSGIDaemonProcess");

        Assert.Contains($" {option}=17", fromOption);
        Assert.Contains($" {option}=23", fromVariable);
        Assert.DoesNotContain($" {option}=5", fromVariable);
    }

    [Fact]
    public async Task HeaderBufferSizeAndDaemonBacklog_GoToTheDaemonProcess()
    {
        var daemon = Directive(await Config("--header-buffer-size", "65536", "--daemon-backlog", "50"), "WSGIDaemonProcess");

        Assert.Contains(" header-buffer-size=65536", daemon);
        Assert.Contains(" listen-backlog=50", daemon);
    }

    [Fact]
    public async Task TuningOptions_ComeFromTheirVariables()
    {
        var config = await DaemonConfig([], new Dictionary<string, string>
        {
            ["MOD_WSGI_MAX_CLIENTS"] = "40",
            ["MOD_WSGI_SERVER_MPM"] = "worker",
            ["MOD_WSGI_LIMIT_REQUEST_BODY"] = "2048",
            ["MOD_WSGI_DIRECTORY_INDEX"] = "start.html",
            ["MOD_WSGI_DOCUMENT_ROOT"] = "htdocs",
        });

        Assert.Equal("MaxRequestWorkers 52", Directive(config, "MaxRequestWorkers"));
        Assert.Contains("LoadModule mpm_worker_module \"/usr/lib/apache2/modules/mod_mpm_worker.so\"", Lines(config));
        Assert.Equal("LimitRequestBody 2048", Directive(config, "LimitRequestBody"));
        Assert.Equal("DirectoryIndex \"start.html\"", Directive(config, "DirectoryIndex"));
    }

    [Fact]
    public async Task WithoutTuningOptions_TheConfigurationHasNoneOfTheirDirectives()
    {
        var config = await DaemonConfig();

        foreach (var directive in new[] { "Timeout", "ListenBacklog", "RequestReadTimeout", "LimitRequestBody", "MaxRequestWorkers", "ServerLimit" })
            Assert.DoesNotContain(Lines(config), l => l.StartsWith(directive + " ", StringComparison.Ordinal));
        Assert.Contains("LoadModule mpm_event_module \"/usr/lib/apache2/modules/mod_mpm_event.so\"", Lines(config));
    }

    [Theory]
    [InlineData("--initial-workers expects a number from 0 to 1, not '2'", "--initial-workers", "2")]
    [InlineData("--server-mpm must be one of event, worker, prefork, not 'threaded'", "--server-mpm", "threaded")]
    [InlineData("--header-buffer-size must be 0 (mod_wsgi's default) or at least 8192, not 100", "--header-buffer-size", "100")]
    [InlineData("--max-clients must be at least 1, not 0", "--max-clients", "0")]
    [InlineData("--queue-timeout expects a whole number, not 'soon'", "--queue-timeout", "soon")]
    [InlineData("unexpected argument 'python'", "python", "manage.py")]
    [InlineData("unexpected argument 'other.wsgi'", "first.wsgi", "other.wsgi")]
    public async Task BadTuningOrBareArguments_ExitTwo(string message, params string[] args)
    {
        var result = await Run(args);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(message, result.Stderr);
        Assert.DoesNotContain("Traceback", result.Stderr);
    }

    [Fact]
    public async Task GunicornIgnoresTheApacheOnlyOptionsWithAWarning()
    {
        var result = await Run(["--server", "gunicorn", "--max-clients", "40", "--queue-timeout", "5"]);

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("gunicorn has no equivalent of --max-clients, --queue-timeout (Apache/mod_wsgi options): ignored", result.Stderr);
    }

    [Theory]
    [InlineData(new[] { "hello.wsgi" }, "WSGIScriptAlias / \"/app/hello.wsgi\"")]
    [InlineData(new[] { "hello.wsgi", "--entry-point", "other.py" }, "WSGIScriptAlias / \"/app/other.py\"")]
    [InlineData(new[] { "--application-type", "static", "htdocs/" }, "DocumentRoot \"/app/htdocs\"")]
    public async Task ABareEntryPoint_IsTakenAsModWsgiExpressDoes(string[] args, string expected)
    {
        var config = await Config(args);

        Assert.Contains(expected, Lines(config));
    }

    [Fact]
    public async Task ABareModuleName_IsTheModuleEntryPoint()
    {
        var config = await Config("--application-type", "module", "example.wsgi");

        Assert.Contains("importlib.import_module('example.wsgi'), 'application')", config);
    }

    // ----- --server-args-file (mod_wsgi-docker's server_args) -----

    [Fact]
    public async Task ServerArgsFile_WordsTakeItsPlace_VariablesAreExpanded_CommentsSkipped()
    {
        using var app = new AppFolder();
        app.Write(".whiskey/server_args", "# tuning\n--processes $PROCS --threads ${THREADS:-9}\n--url-alias /static ${STATIC_DIR}\n  \n--port 81\n");
        var file = Path.Combine(app.Root, ".whiskey/server_args");

        var config = await DaemonConfig(["--port", "80", "--server-args-file", file, "--threads", "3"],
            new Dictionary<string, string> { ["PROCS"] = "4", ["STATIC_DIR"] = "assets" });

        var daemon = Directive(config, "WSGIDaemonProcess");
        Assert.Contains(" processes=4 ", daemon);
        Assert.Contains(" threads=3 ", daemon); // the option after the file wins over the file's
        Assert.Equal("Listen 81", Directive(config, "Listen")); // the file's wins over the option before it
        Assert.Contains("Alias \"/static\" \"/app/assets\"", Lines(config));
    }

    [Fact]
    public async Task ServerArgsFile_UnsetVariableWithoutDefault_IsEmpty_AsInTheOriginal()
    {
        using var app = new AppFolder();
        app.Write("server_args", "--threads ${THREADS:-9} $NOTHING\n");

        var config = await Config("--server-args-file", Path.Combine(app.Root, "server_args"));

        Assert.Equal("ThreadsPerChild 9", Directive(config, "ThreadsPerChild"));
    }

    [Theory]
    [InlineData("--processes 2\n--directory-indx index.html\n", "unknown option --directory-indx (in {file} line 2)")]
    [InlineData("--processes two\n", "--processes expects a whole number, not 'two' (in {file} line 1)")]
    [InlineData("--application-type wsgi\n", "--application-type must be one of script, module, paste, static, not 'wsgi' (in {file} line 1)")]
    [InlineData("--processes $(nproc)\n", "{file} line 1: '$(...' is not supported in server_args")]
    public async Task ServerArgsFile_ErrorsNameTheFileAndLine(string content, string message)
    {
        using var app = new AppFolder();
        app.Write(".whiskey/server_args", content);
        var file = Path.Combine(app.Root, ".whiskey/server_args");

        foreach (var mode in new[] { "--dry-run", "--check-only" })
        {
            var result = await Start("python3", [Launcher, mode, "--server-args-file", file], null);

            Assert.Equal(2, result.ExitCode);
            Assert.Contains(message.Replace("{file}", file), result.Stderr);
            Assert.DoesNotContain("Traceback", result.Stderr);
        }
    }

    [Fact]
    public async Task CheckOnly_PrintsNothing_AndLeavesWordsWithVariablesToTheStart()
    {
        using var app = new AppFolder();
        app.Write("server_args", "--processes $PROCS\n--threads ${THREADS:-4}\n$EXTRA_OPTIONS 5\n--directory-index index.html\n");

        var result = await Start("python3", [Launcher, "--check-only", "--server-args-file", Path.Combine(app.Root, "server_args"), "--port", "8080"], null);

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal("", result.Stdout);
        Assert.Contains("the server options are valid", result.Stderr);
    }

    [Fact]
    public async Task CheckOnly_RefusesWhatDryRunRefuses()
    {
        var result = await Start("python3", [Launcher, "--check-only", "--processes", "2", "--bogus"], null);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("unknown option --bogus", result.Stderr);
        Assert.Equal("", result.Stdout);
    }

    // ----- mod_wsgi-docker-start with the .whiskey layout -----

    [Fact]
    public async Task StartScript_Whiskey_DeployEnvHookChangesTheServersEnvironment()
    {
        using var app = new AppFolder();
        // demos/environ's shape: user_vars NAME1..3, a deploy-env hook that adds NAME4 and removes NAME1.
        app.Write(".whiskey/user_vars/NAME1", "VALUE1\n");
        app.Write(".whiskey/user_vars/NAME2", "VALUE2");
        app.Write(".whiskey/user_vars/NAME3", "VALUE3");
        app.Write(".whiskey/action_hooks/deploy-env", "#!/bin/sh\necho VALUE4 > $WHISKEY_ENVDIR/NAME4\nrm $WHISKEY_ENVDIR/NAME1\necho CHANGED > $WHISKEY_ENVDIR/NAME3\n", executable: true);
        app.Write("app.sh", "#!/bin/sh\necho \"1=${NAME1-unset} 2=$NAME2 3=$NAME3 4=$NAME4\"\n", executable: true);

        var result = await RunStartScript([], new Dictionary<string, string>
        {
            ["MODWSGI_APP_ROOT"] = app.Root,
            ["MODWSGI_SERVER"] = "shell-app",
            ["NAME2"] = "FROM_DOCKER_RUN", // docker run -e wins over a user_vars file the hook left alone
        });

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal(" -----> Running .whiskey/action_hooks/deploy-env\n1=unset 2=FROM_DOCKER_RUN 3=CHANGED 4=VALUE4\n", result.Stdout);
    }

    [Fact]
    public async Task StartScript_Whiskey_ServerArgsGoBetweenTheImagesOptionsAndThoseOfDockerRun()
    {
        using var app = new AppFolder();
        app.Write(".whiskey/server_args", "--application-type static\n--document-root htdocs\n--directory-index index.html\n--port $LISTEN_PORT\n--threads 3\n");
        app.Write(".whiskey/user_vars/LISTEN_PORT", "8085");

        var result = await RunStartScript(["--dry-run"], new Dictionary<string, string>
        {
            ["MODWSGI_APP_ROOT"] = app.Root,
            ["MODWSGI_IMAGE_ARGS"] = "--application-type\nscript\n--port\n8080",
        });

        Assert.True(result.ExitCode == 0, result.Stderr);
        // server_args' --application-type and --port win over the image's and the default --port 80
        Assert.Equal("Listen 8085", Directive(result.Stdout, "Listen"));
        Assert.Equal($"DocumentRoot \"{app.Root}/htdocs\"", Directive(result.Stdout, "DocumentRoot"));
        Assert.Equal("DirectoryIndex \"index.html\"", Directive(result.Stdout, "DirectoryIndex"));

        // docker run IMAGE --port 9000 still wins over server_args
        var run = await RunStartScript(["--port", "9000", "--dry-run"], new Dictionary<string, string>
        {
            ["MODWSGI_APP_ROOT"] = app.Root,
            ["MODWSGI_IMAGE_ARGS"] = "--application-type\nscript\n--port\n8080",
        });
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Equal("Listen 9000", Directive(run.Stdout, "Listen"));
    }

    [Fact]
    public async Task StartScript_Whiskey_BadServerArgsExitTwoNamingTheFile()
    {
        using var app = new AppFolder();
        app.Write(".whiskey/server_args", "--directory-indx index.html\n");

        var result = await RunStartScript(["--dry-run"], new Dictionary<string, string> { ["MODWSGI_APP_ROOT"] = app.Root });

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("unknown option --directory-indx (in .whiskey/server_args line 1)", result.Stderr);
    }

    [Fact]
    public async Task StartScript_StartHook_ReplacesTheServerAndGetsEveryArgument()
    {
        using var app = new AppFolder();
        app.Write(".docker/server_args", "--processes $PROCS\n");
        app.Write(".docker/user_vars/PROCS", "3");
        app.Write(".docker/action_hooks/start", "#!/bin/sh\necho \"start: $* PID=$$\"\n", executable: true);

        var result = await RunStartScript(["--threads", "2"], new Dictionary<string, string>
        {
            ["MODWSGI_APP_ROOT"] = app.Root,
            ["MODWSGI_IMAGE_ARGS"] = "--application-type\nscript",
        });

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal(" -----> Running .docker/action_hooks/start\n" +
            $"start: --log-to-terminal --startup-log --port 80 --application-type script --processes 3 --threads 2 PID={result.ProcessId}\n", result.Stdout);
    }

    [Fact]
    public async Task StartScript_DeployHookRunsFromTheWhiskeyFolder()
    {
        using var app = new AppFolder();
        app.Write(".whiskey/action_hooks/deploy", "#!/bin/sh\necho deployed\n", executable: true);
        app.Write("app.sh", "#!/bin/sh\necho served\n", executable: true);

        var result = await RunStartScript([], new Dictionary<string, string> { ["MODWSGI_APP_ROOT"] = app.Root, ["MODWSGI_SERVER"] = "shell-app" });

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal(" -----> Running .whiskey/action_hooks/deploy\ndeployed\nserved\n", result.Stdout);
    }
}
