namespace ModWsgi.EndToEnd.Tests;

/// <summary>The Django and Flask samples, built from their folders against the local index of real packages.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class SampleTests(SdkFixture sdk) : IDisposable
{
    private readonly TempDirectory _copy = new("modwsgi-sample");
    private readonly List<string> _images = [];
    private readonly Dictionary<string, RealPackageIndex> _indexes = [];

    /// <summary>The index of the base image's Debian suite: Django 3.2 for bookworm's 3.11, 4.2 for trixie's 3.13.</summary>
    private RealPackageIndex Index(string suite = "bookworm") =>
        _indexes.TryGetValue(suite, out var index) ? index : _indexes[suite] = new RealPackageIndex(suite);

    [DockerTheory]
    [MemberData(nameof(Pythons))]
    public async Task Django_site_serves_the_admin_login_with_its_css_served_by_apache(string python, string suite, string modWsgi)
    {
        var image = Build("django-site", suite, null, "WsgiPythonVersion=" + python);
        Assert.Contains($"base image modwsgi/base:{suite}", image.Log);
        Assert.Contains("Django: collectstatic --noinput", image.Log);
        Assert.Contains("static files copied to '/app/example/htdocs'", image.Log);
        // Django's settings come back as a file the step wrote, not as a line in the build log.
        Assert.DoesNotContain("MODWSGI-DJANGO", image.Log);
        Assert.DoesNotContain("static_root", image.Log);

        using var container = RunningContainer.Start(image.Name);
        var (status, body) = await container.GetAsync("/admin/login/");
        Assert.Equal(200, status);
        Assert.Contains("/static/admin/css/base.css", body);

        var (cssStatus, css) = await container.GetAsync("/static/admin/css/base.css");
        Assert.Equal(200, cssStatus);
        Assert.Contains("font-family", css);
        // Apache, not Django, served it: Django's own static serving is off under mod_wsgi and a Python
        // response would carry Django's headers (X-Frame-Options from its middleware).
        var headers = Run.Process("curl", ["-sI", $"http://127.0.0.1:{container.Port}/static/admin/css/base.css"]).StdOut;
        Assert.Contains("Server: Apache", headers);
        Assert.DoesNotContain("X-Frame-Options", headers);
        Assert.Contains("X-Frame-Options", Run.Process("curl", ["-sI", $"http://127.0.0.1:{container.Port}/admin/login/"]).StdOut);
        // The suite's own Django (3.2 imports cgi, which Python 3.13 no longer has) under that suite's mod_wsgi.
        var django = Run.DockerOk("exec", container.Id, "/opt/venv/bin/python", "-c", "import django, sys; print(django.get_version(), sys.version_info[:2])");
        Assert.Equal($"{Index(suite).VersionOf("django")} ({python.Replace(".", ", ")})", django.Trim());
        Assert.Contains(modWsgi + ".", ServerHeader(container));
    }

    /// <summary>The two base images, by the Python version that picks them: (version, Debian suite, mod_wsgi).</summary>
    public static TheoryData<string, string, string> Pythons => new()
    {
        { "3.11", "bookworm", "mod_wsgi/4.9" },
        { "3.13", "trixie", "mod_wsgi/5.0" },
    };

    [DockerTheory]
    [MemberData(nameof(Pythons))]
    public async Task Flask_app_serves_its_routes_and_static_files(string python, string suite, string modWsgi)
    {
        var image = Build("flask-app", suite, null, "WsgiPythonVersion=" + python);
        Assert.Contains($"Python {python} (WsgiPythonVersion: {python}): base image modwsgi/base:{suite}", image.Log);

        using var container = RunningContainer.Start(image.Name);
        Assert.Equal((200, "Hello from Flask!"), await container.GetAsync("/"));
        Assert.Contains($"{modWsgi}.", ServerHeader(container));
        Assert.Contains($"Python/{python}", ServerHeader(container));
        Assert.Equal(200, (await container.GetAsync("/health")).Status);
        var (cssStatus, css) = await container.GetAsync("/static/site.css");
        Assert.Equal((200, "body { font-family: sans-serif; }\n"), (cssStatus, css));
    }

    [DockerTheory]
    [MemberData(nameof(Pythons))]
    public async Task Flask_tutorial_inits_its_database_in_the_deploy_hook_and_registers_a_user(string python, string suite, string modWsgi)
    {
        var image = Build("flask-tutorial", suite, null, "WsgiPythonVersion=" + python);
        // pyproject.toml only: its dependencies come from its metadata, then the project installs itself on top.
        Assert.Contains("dependencies from pyproject.toml [project] dependencies", image.Log);
        Assert.Contains("Installing the project itself", image.Log);
        Assert.Contains($"base image modwsgi/base:{suite}", image.Log);

        using var container = RunningContainer.Start(image.Name);
        var (status, body) = await container.GetAsync("/");
        Assert.True(status == 200, $"GET / answered {status}:\n{body}\n{container.Logs()}");
        Assert.Contains("No posts yet.", body);
        Assert.Contains(modWsgi + ".", ServerHeader(container));
        var logs = container.Logs();
        Assert.Contains("Running .docker/action_hooks/deploy as www-data", logs);
        Assert.Contains("Initialized the database.", logs);

        // The hook made the database as the daemons' user: the application writes to it without a chown.
        Assert.Equal("www-data www-data", Run.DockerOk("exec", container.Id, "stat", "-c", "%U %G", "/data/flaskr.sqlite").Trim());
        Assert.Equal("302 /auth/login", Post(container, "/auth/register", "username=ada&password=lovelace"));
        var rows = Run.DockerOk("exec", container.Id, "/opt/venv/bin/python", "-c",
            "import sqlite3; print(sqlite3.connect('/data/flaskr.sqlite').execute('select username from user').fetchall())");
        Assert.Equal("[('ada',)]", rows.Trim());
        Assert.Equal("302 /", Post(container, "/auth/login", "username=ada&password=lovelace"));
        Assert.Equal("200 ", Post(container, "/auth/login", "username=ada&password=wrong")); // the form again, with the error
    }

    /// <summary>POSTs a form; "STATUS LOCATION-PATH" (no redirect followed).</summary>
    private static string Post(RunningContainer container, string path, string form)
    {
        var result = Run.Process("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "--data", form, $"http://127.0.0.1:{container.Port}{path}"]);
        Assert.True(result.ExitCode == 0, result.Output);
        return result.StdOut.Replace($"http://127.0.0.1:{container.Port}", "", StringComparison.Ordinal).Trim() is var text && text.Contains(' ') ? text : text + " ";
    }

    private static string ServerHeader(RunningContainer container) =>
        Run.Process("curl", ["-sI", $"http://127.0.0.1:{container.Port}/"]).StdOut.Split('\n').FirstOrDefault(l => l.StartsWith("Server:", StringComparison.OrdinalIgnoreCase)) ?? "(no Server header)";

    [DockerFact]
    public async Task Flask_app_under_gunicorn_when_WsgiServer_says_so()
    {
        var image = Build("flask-app", "bookworm", requirements: "Flask==2.2.2\ngunicorn\n", "WsgiServer=gunicorn");

        using var container = RunningContainer.Start(image.Name);
        Assert.Equal((200, "Hello from Flask!"), await container.GetAsync("/"));
        // PID 1 is dumb-init; its one child is gunicorn's master.
        Assert.Contains("gunicorn", Run.DockerOk("exec", container.Id, "sh", "-c", "cat /proc/$(cat /proc/1/task/1/children | cut -d' ' -f1)/cmdline"));
    }

    [DockerFact]
    public async Task An_app_py_is_detected_and_run_as_the_server_itself_on_PORT()
    {
        var target = Path.Combine(_copy.Path, "own-server");
        Directory.CreateDirectory(target);
        File.WriteAllText(Path.Combine(target, "app.py"), """
            import os
            from wsgiref.simple_server import make_server
            def app(environ, start_response):
                start_response('200 OK', [('Content-Type', 'text/plain')])
                return [b'served by app.py']
            make_server('', int(os.environ['PORT']), app).serve_forever()
            """);
        File.WriteAllText(Path.Combine(target, "requirements.txt"), "");
        var project = sdk.WriteProject(target, "own-server");
        var name = "e2e-own-server-" + Guid.NewGuid().ToString("N")[..8];
        _images.Add(name + ":latest");
        var build = sdk.PublishImage(project, "ContainerRepository=" + name);
        Assert.True(build.ExitCode == 0, "PublishImage failed:\n" + build.Output);
        Assert.Contains("Detected: server python-app", build.StdOut);

        using var container = RunningContainer.Start(name);
        Assert.Equal((200, "served by app.py"), await container.GetAsync("/"));
        var stop = System.Diagnostics.Stopwatch.StartNew();
        Run.DockerOk("stop", container.Id);
        Assert.True(stop.Elapsed < TimeSpan.FromSeconds(5), $"docker stop took {stop.Elapsed.TotalSeconds:F1} s: the image's stop signal must stop app.py");
    }

    private (string Name, string Log) Build(string sample, string suite, string? requirements = null, params string[] properties)
    {
        var source = Path.Combine(RepositoryRootAttribute.Get(), "samples", sample);
        var target = Path.Combine(_copy.Path, sample + "-" + Guid.NewGuid().ToString("N")[..6]);
        CopyDirectory(source, target);
        var project = Path.Combine(target, sample + ".proj");
        File.WriteAllText(project, File.ReadAllText(project).Replace("ModWsgi.Sdk/0.1.0", "ModWsgi.Sdk/" + sdk.SdkVersion));
        sdk.WriteNuGetConfig(target);
        if (requirements is not null)
            File.WriteAllText(Path.Combine(target, "requirements.txt"), requirements);
        var name = $"e2e-{sample}-{Guid.NewGuid():N}"[..(sample.Length + 13)];
        _images.Add(name + ":latest");
        var build = sdk.PublishImage(project, ["ContainerRepository=" + name, "WsgiPipIndexUrl=" + Index(suite).Url, "WsgiPipTrustedHost=" + Index(suite).Host, .. properties]);
        Assert.True(build.ExitCode == 0, "PublishImage failed:\n" + build.Output);
        return (name, build.StdOut);
    }

    private static void CopyDirectory(string source, string target)
    {
        Directory.CreateDirectory(target);
        foreach (var file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            var destination = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            File.Copy(file, destination);
            File.SetUnixFileMode(destination, File.GetUnixFileMode(file));
        }
    }

    public void Dispose()
    {
        foreach (var image in _images)
            Run.Docker("rmi", "-f", image);
        foreach (var index in _indexes.Values)
            index.Dispose();
        _copy.Dispose();
    }
}
