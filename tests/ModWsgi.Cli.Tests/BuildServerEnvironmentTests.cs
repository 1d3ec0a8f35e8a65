using System.Collections;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using ModWsgi.Cli.BuildServer;
using ModWsgi.Core;
using ModWsgi.Core.Destinations;

namespace ModWsgi.Cli.Tests;

/// <summary>
/// A server in this process, its build replaced by a recorder: a request's environment reaches the build as its
/// <see cref="BuildEnvironment"/>, and the server's own process environment is left exactly as it was.
/// </summary>
[Collection(ProcessEnvironmentCollection.Name)]
public sealed class BuildServerEnvironmentTests : IDisposable
{
    private readonly TempDirectory _folder = new("modwsgi-server-env");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task A_request_builds_with_the_clients_environment_and_the_servers_own_stays_unchanged()
    {
        _folder.Write("app/wsgi.py", "def application(e, s):\n    pass\n");
        // MSBuild reads environment variables as properties: the evaluation must see the client's, not the server's.
        _folder.Write("app/app.proj", "<Project Sdk=\"ModWsgi.Sdk/0.1.0\"><PropertyGroup><ContainerRepository>$(MODWSGI_TEST_CLIENT_REPOSITORY)</ContainerRepository></PropertyGroup></Project>");
        // A folder the server creates itself (0700): it listens only in a folder that is this user's alone.
        var endpoint = new BuildServerEndpoint(Path.Combine(_folder.Path, "sockets", "server.sock"));
        // Finding MSBuild sets its variables once per process (Microsoft.Build.Locator): process set-up, not a request's doing.
        MSBuildRegistration.EnsureRegistered(_folder.Path);
        var before = ProcessEnvironment();
        BuildEnvironment? seen = null;
        ImageBuildOptions? built = null;
        var host = new BuildServerHost(endpoint, TimeSpan.FromMinutes(1), served => new ModWsgiCli(new CliHost
        {
            Out = served.Out,
            Error = served.Error,
            StdinIsTerminal = false,
            Variables = served.Variables,
            Publish = (options, environment, _, _) =>
            {
                seen = environment;
                built = options;
                return Task.FromResult(new PublishResult("sha256:" + new string('b', 64), null, options.ImageNames(), null));
            },
        }), TextWriter.Null);
        using var stop = new CancellationTokenSource();
        var server = Task.Run(() => host.RunAsync(stop.Token));
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(20);
            Socket? socket;
            while ((socket = endpoint.TryConnect().Socket) is null && DateTime.UtcNow < deadline)
                await Task.Delay(50);
            Assert.NotNull(socket);
            using var connection = new BuildServerConnection(socket);
            Assert.True(connection.Send(new JsonObject
            {
                ["args"] = new JsonArray("build", Path.Combine(_folder.Path, "app")),
                ["env"] = new JsonObject
                {
                    ["DOCKER_HOST"] = "unix:///client/docker.sock",
                    ["SOURCE_DATE_EPOCH"] = "1700000000",
                    ["MODWSGI_CACHE_DIR"] = "/client/cache",
                    ["DOTNET_CONTAINER_INSECURE_REGISTRIES"] = "registry.client:5000",
                    ["HOME"] = "/home/client",
                    ["MODWSGI_TEST_CLIENT_REPOSITORY"] = "from-client",
                },
            }));
            int? exit = null;
            var output = "";
            while (exit is null && await connection.ReadAsync(CancellationToken.None) is { } message)
            {
                output += message["out"]?.GetValue<string>() + message["err"]?.GetValue<string>();
                if (message["exit"] is JsonValue value)
                    exit = value.GetValue<int>();
            }
            Assert.True(exit == 0, "the served build failed:\n" + output);
        }
        finally
        {
            await stop.CancelAsync();
            await server;
        }

        Assert.NotNull(seen);
        Assert.Equal("unix:///client/docker.sock", seen.DockerHost);
        Assert.Equal("1700000000", seen.SourceDateEpoch);
        Assert.Equal("/client/cache", seen.CacheDirectory);
        Assert.Equal(["registry.client:5000"], seen.InsecureRegistries);
        Assert.Equal("/home/client/.docker/config.json", seen.Credentials.DockerConfigPath);
        Assert.Null(seen.Credentials.SearchPath); // the client sent no PATH: the server's is not used in its place
        Assert.Equal("from-client", built?.Repository);
        var after = ProcessEnvironment();
        Assert.True(before.SequenceEqual(after), "the server's environment changed: " + string.Join(", ",
            after.Except(before).Select(p => "+" + p.Key + "=" + p.Value).Concat(before.Except(after).Select(p => "-" + p.Key))));
    }

    private static SortedDictionary<string, string?> ProcessEnvironment() =>
        new(Environment.GetEnvironmentVariables().Cast<DictionaryEntry>().ToDictionary(e => (string)e.Key, e => (string?)e.Value), StringComparer.Ordinal);
}

/// <summary>
/// Serving a request swaps the client's variables into this process for the .proj's evaluation: no other test
/// may run (and start processes, which inherit the environment) meanwhile, nor read the environment to compare.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessEnvironmentCollection
{
    public const string Name = "process environment";
}
