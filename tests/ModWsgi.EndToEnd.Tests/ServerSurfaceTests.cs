namespace ModWsgi.EndToEnd.Tests;

/// <summary>Issue 4 §2: the server as an unprivileged user on a non-privileged port, and MOD_WSGI_* at run time.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class ServerSurfaceTests(SdkFixture sdk) : IDisposable
{
    private readonly TempDirectory _project = new("modwsgi-surface");
    private readonly string _image = $"e2e-surface-{Guid.NewGuid():N}"[..24];

    [DockerFact]
    public async Task ContainerUser_1001_on_ContainerPort_8080_serves_and_every_process_runs_as_1001()
    {
        var project = WriteHello("""
            <PropertyGroup>
              <ContainerUser>1001</ContainerUser>
            </PropertyGroup>
            <ItemGroup>
              <ContainerPort Include="8080" />
            </ItemGroup>
            """);
        sdk.PublishImageOk(project, "ContainerRepository=" + _image);
        var config = System.Text.Json.Nodes.JsonNode.Parse(Run.DockerOk("image", "inspect", _image, "-f", "{{json .Config}}"))!;
        Assert.Equal("1001", config["User"]!.GetValue<string>());
        Assert.NotNull(config["ExposedPorts"]!["8080/tcp"]);

        using var container = RunningContainer.Start(_image, [], [], containerPort: 8080);
        var (status, body) = await container.GetAsync("/");
        Assert.Equal((200, "hello"), (status, body));
        var owners = RunningContainer.Processes(container.Id, "uid", "comm").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var servers = owners.Where(o => o.EndsWith("apache2", StringComparison.Ordinal) || o.Contains("wsgi", StringComparison.Ordinal)).ToArray();
        Assert.NotEmpty(servers);
        Assert.All(servers, line => Assert.StartsWith("1001 ", line));
    }

    [DockerFact]
    public async Task MOD_WSGI_PROCESSES_3_at_docker_run_gives_3_python_processes_as_www_data_in_either_mode()
    {
        sdk.PublishImageOk(WriteHello(""), "ContainerRepository=" + _image);

        // Embedded mode (the default): three Apache children run Python; daemon mode: three mod_wsgi daemons
        // (display name wsgi:GROUP). Root images run them as www-data.
        using var embedded = RunningContainer.Start(_image, ["-e", "MOD_WSGI_PROCESSES=3"], []);
        using var daemon = RunningContainer.Start(_image, ["-e", "MOD_WSGI_PROCESSES=3", "-e", "MOD_WSGI_DAEMON_MODE=1"], []);
        foreach (var (container, marker) in new[] { (embedded, "/usr/sbin/apache2 "), (daemon, "(wsgi:") })
        {
            var (status, _) = await container.GetAsync("/");
            Assert.Equal(200, status);
            string[] workers = [];
            for (var i = 0; i < 50 && workers.Length < 3; i++, Thread.Sleep(100))
                workers = RunningContainer.Processes(container.Id, "user", "args").Split('\n')
                    .Where(l => l.Contains(marker, StringComparison.Ordinal) && !l.Trim().StartsWith("root", StringComparison.Ordinal))
                    .ToArray();
            Assert.True(workers.Length == 3, $"{marker}: {string.Join(" | ", workers)}");
            Assert.All(workers, d => Assert.StartsWith("www-data", d.Trim()));
        }
        Assert.Contains("(embedded mode: 3 processes x 64 threads)", embedded.Logs());
        Assert.Contains("(daemon mode: 3 processes x 5 threads)", daemon.Logs());
    }

    private string WriteHello(string body)
    {
        _project.Write("wsgi.py", "def application(e, s):\n    s('200 OK', [('Content-Type', 'text/plain')])\n    return [b'hello']\n");
        _project.Write("requirements.txt", "");
        return sdk.WriteProject(_project.Path, "surface", body);
    }

    public void Dispose()
    {
        Run.Docker("rmi", "-f", _image + ":latest");
        _project.Dispose();
    }
}
