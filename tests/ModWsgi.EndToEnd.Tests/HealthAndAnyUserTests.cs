using System.Diagnostics;
using System.Text.Json.Nodes;

namespace ModWsgi.EndToEnd.Tests;

/// <summary>
/// Issue 11 §2 and §3 with the real engine and docker CLI: the image's HEALTHCHECK as `docker ps` reports it (healthy,
/// unhealthy when the ready hook fails, none when the .proj turns it off), and every server mode run as OpenShift runs
/// containers (a uid without a passwd entry, group 0, and no binding of ports below 1024), writing to /data and /app.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class HealthAndAnyUserTests(SdkFixture sdk) : IDisposable
{
    private readonly TempDirectory _project = new("modwsgi-health");
    private readonly string _image = $"e2e-health-{Guid.NewGuid():N}"[..24];
    private readonly List<string> _containers = [];
    private RealPackageIndex? _index;

    private const int Port = 8080;

    /// <summary>
    /// One project for every mode: mod_wsgi by default, gunicorn and waitress in its requirements, app.py and app.sh for
    /// python-app and shell-app (chosen at run time with MOD_WSGI_SERVER). GET /write?NAME writes NAME into /data, /app and the user's home.
    /// The ready hook fails while NOT_READY is set and otherwise adds the probe's own check.
    /// </summary>
    private string Build(params string[] properties)
    {
        _index ??= new RealPackageIndex();
        _project.Write("wsgi.py", """
            import os

            def application(environ, start_response):
                body = b'hello'
                if environ.get('PATH_INFO') == '/write':
                    name = environ['QUERY_STRING']
                    # ~: caches (pip, ~/.local) of a user without a passwd entry, whose HOME Docker makes '/'.
                    for folder in ('/data', '/app', os.path.expanduser('~')):
                        with open(os.path.join(folder, name), 'w') as handle:
                            handle.write('%d:%d' % (os.getuid(), os.getgid()))
                    body = b'wrote ' + name.encode()
                elif environ.get('PATH_INFO') == '/write-data':
                    name = environ['QUERY_STRING']
                    with open(os.path.join('/data', name), 'w') as handle:
                        handle.write('%d:%d' % (os.getuid(), os.getgid()))
                    body = ('wrote %s; HOME=%s' % (name, os.environ.get('HOME'))).encode()
                start_response('200 OK', [('Content-Type', 'text/plain')])
                return [body]
            """);
        _project.Write("app.py", """
            import os
            from wsgiref.simple_server import make_server
            from wsgi import application

            make_server('', int(os.environ['PORT']), application).serve_forever()
            """);
        _project.Write("app.sh", "#!/bin/sh\nexec /opt/venv/bin/python app.py\n", (UnixFileMode)0b111_101_101);
        _project.Write("requirements.txt", "gunicorn\nwaitress\n");
        _project.Write(".docker/action_hooks/ready",
            "#!/bin/sh\n[ -z \"$NOT_READY\" ] || { echo \"NOT_READY is set\"; exit 1; }\nexec mod_wsgi-docker-probe ready\n", (UnixFileMode)0b111_101_101);
        var project = sdk.WriteProject(_project.Path, "health", $"""
            <PropertyGroup>
              <WsgiServer>mod_wsgi</WsgiServer>
              <WsgiHealthCheckInterval>1s</WsgiHealthCheckInterval>
              <WsgiHealthCheckStartPeriod>5s</WsgiHealthCheckStartPeriod>
              <WsgiHealthCheckRetries>2</WsgiHealthCheckRetries>
            </PropertyGroup>
            <ItemGroup>
              <ContainerPort Include="{Port}" />
            </ItemGroup>
            """);
        sdk.PublishImageOk(project, ["ContainerRepository=" + _image, "WsgiPipIndexUrl=" + _index.Url, "WsgiPipTrustedHost=" + _index.Host, .. properties]);
        return _image;
    }

    private RunningContainer Start(params string[] runArgs)
    {
        var container = RunningContainer.Start(_image, runArgs, [], containerPort: Port);
        _containers.Add(container.Id);
        return container;
    }

    /// <summary>Waits for `docker ps` to show the health status; returns how long it took.</summary>
    private static TimeSpan WaitForStatus(RunningContainer container, string status, TimeSpan within)
    {
        var clock = Stopwatch.StartNew();
        var shown = "";
        while (clock.Elapsed < within)
        {
            shown = Run.DockerOk("ps", "--all", "--filter", "id=" + container.Id, "--format", "{{.Status}}");
            if (shown.Contains($"({status})", StringComparison.Ordinal))
                return clock.Elapsed;
            Thread.Sleep(250);
        }
        throw new TimeoutException($"docker ps shows '{shown}', not ({status}), after {within}:\n{Health(container)}\n{container.Logs()}");
    }

    private static string Health(RunningContainer container) =>
        Run.DockerOk("inspect", "--format", "{{json .State.Health}}", container.Id);

    [DockerFact]
    public void Docker_ps_shows_healthy_for_a_working_app_and_unhealthy_when_its_ready_hook_fails()
    {
        Build();
        var config = JsonNode.Parse(Run.DockerOk("image", "inspect", _image, "--format", "{{json .Config.Healthcheck}}"))!;
        Assert.Equal(["CMD", "mod_wsgi-docker-probe", "ready"], config["Test"]!.AsArray().Select(t => t!.GetValue<string>()));
        Assert.Equal(1_000_000_000L, config["Interval"]!.GetValue<long>());
        Assert.Equal(5_000_000_000L, config["Timeout"]!.GetValue<long>());
        Assert.Equal(5_000_000_000L, config["StartPeriod"]!.GetValue<long>());
        Assert.Equal(2, config["Retries"]!.GetValue<int>());

        using var working = Start();
        using var failing = Start("-e", "NOT_READY=1");

        var healthyAfter = WaitForStatus(working, "healthy", TimeSpan.FromSeconds(60));
        var unhealthyAfter = WaitForStatus(failing, "unhealthy", TimeSpan.FromSeconds(60));

        var log = JsonNode.Parse(Health(working))!["Log"]!.AsArray();
        var last = log[^1]!;
        Assert.Equal(0, last["ExitCode"]!.GetValue<int>());
        Assert.Contains($"action_hooks/ready passed: ready: GET / on port {Port} answered 200", last["Output"]!.GetValue<string>());
        var failed = JsonNode.Parse(Health(failing))!["Log"]!.AsArray()[^1]!;
        Assert.Equal(1, failed["ExitCode"]!.GetValue<int>());
        Assert.Contains("not ready: /app/.docker/action_hooks/ready failed with exit code 1: NOT_READY is set", failed["Output"]!.GetValue<string>());
        // What each probe took, as the engine timed it (start of the exec to its end).
        var runs = log.Select(e => (DateTimeOffset.Parse(e!["End"]!.GetValue<string>()) - DateTimeOffset.Parse(e["Start"]!.GetValue<string>())).TotalMilliseconds).ToArray();
        Console.WriteLine($"healthy after {healthyAfter.TotalSeconds:F1} s, unhealthy after {unhealthyAfter.TotalSeconds:F1} s; probe runs (ms): {string.Join(", ", runs.Select(r => r.ToString("F0")))}");

        // The same command as a Kubernetes exec probe: in the container, its exit status says it.
        Assert.Equal(0, Run.Docker("exec", working.Id, "mod_wsgi-docker-probe", "alive").ExitCode);
        Assert.Equal(1, Run.Docker("exec", failing.Id, "mod_wsgi-docker-probe", "ready").ExitCode);
    }

    [DockerFact]
    public void WsgiHealthCheck_none_leaves_the_image_without_a_Healthcheck()
    {
        Build("WsgiHealthCheck=none");

        Assert.Equal("null", Run.DockerOk("image", "inspect", _image, "--format", "{{json .Config.Healthcheck}}"));
        using var container = Start();
        Assert.Equal("null", Run.DockerOk("inspect", "--format", "{{json .State.Health}}", container.Id));
        Assert.DoesNotContain("health", Run.DockerOk("ps", "--filter", "id=" + container.Id, "--format", "{{.Status}}"));
    }

    [DockerFact]
    public async Task Every_server_mode_serves_as_uid_12345_in_group_0_on_8080_and_writes_to_data_app_and_home()
    {
        Build();
        var failures = new List<string>();
        foreach (var server in new[] { "mod_wsgi", "gunicorn", "waitress", "python-app", "shell-app" })
        {
            // As OpenShift: a random uid in group 0, and (unlike Docker's default) no binding of ports below 1024.
            using var container = Start("--user", "12345:0", "--sysctl", "net.ipv4.ip_unprivileged_port_start=1024", "-e", "MOD_WSGI_SERVER=" + server);
            try
            {
                var (status, body) = await container.GetAsync("/write?" + server + ".txt", TimeSpan.FromSeconds(40));
                Assert.True((status, body) == (200, "wrote " + server + ".txt"), $"{status} {body}");
                foreach (var folder in new[] { "/data", "/app" })
                    Assert.Equal("12345:0", Run.DockerOk("exec", container.Id, "cat", $"{folder}/{server}.txt"));
                // Every process but an exec the engine is starting that moment (the health check's runc init, still uid 0).
                var processes = RunningContainer.Processes(container.Id, "uid", "comm").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Where(p => !p.Contains("runc:", StringComparison.Ordinal)).ToArray();
                Assert.All(processes, process => Assert.StartsWith("12345 ", process));
                WaitForStatus(container, "healthy", TimeSpan.FromSeconds(30));
            }
            catch (Exception problem) when (problem is Xunit.Sdk.XunitException or TimeoutException)
            {
                failures.Add($"{server}: {problem.Message}\n{container.Logs()}");
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
    }

    [DockerFact]
    public async Task An_empty_root_owned_folder_mounted_on_data_is_handed_to_www_data_and_group_0_as_the_image_makes_it()
    {
        Build();
        // A bind mount of a new host folder: root's, mode 0755 (this test runs as root, as the engine does).
        using var host = new TempDirectory("modwsgi-data-mount");
        File.SetUnixFileMode(host.Path, (UnixFileMode)0b111_101_101);

        using var container = Start("-v", host.Path + ":/data");
        var (status, body) = await container.GetAsync("/write-data?mounted.txt", TimeSpan.FromSeconds(40));

        // As root the application runs as www-data, with www-data's HOME (what mod_wsgi gives its daemons).
        Assert.True((status, body) == (200, "wrote mounted.txt; HOME=/var/www"), $"{status} {body}\n{container.Logs()}");
        Assert.Equal("33:0 775", Run.DockerOk("exec", container.Id, "stat", "-c", "%u:%g %a", "/data").Trim());
        Assert.Equal("33:33", File.ReadAllText(Path.Combine(host.Path, "mounted.txt")));
    }

    public void Dispose()
    {
        foreach (var container in _containers)
            Run.Docker("rm", "-f", container);
        Run.Docker("rmi", "-f", _image + ":latest");
        _index?.Dispose();
        _project.Dispose();
    }
}
