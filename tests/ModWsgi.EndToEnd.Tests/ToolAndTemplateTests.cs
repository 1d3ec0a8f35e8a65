using ModWsgi.Templates.Tests;

namespace ModWsgi.EndToEnd.Tests;

/// <summary>Issue 4: `dotnet new wsgi-app` output builds and serves with no edits; the tool publishes to a registry.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class ToolAndTemplateTests(SdkFixture sdk) : IDisposable
{
    private readonly List<string> _images = [];
    private readonly TempDirectory _work = new("modwsgi-tool");

    [DockerFact]
    public async Task A_project_from_dotnet_new_wsgi_app_builds_and_serves_with_no_edits()
    {
        using var template = TemplateInstantiation.Create("mysite", "--SdkVersion", sdk.SdkVersion);
        // Only where the SDK package comes from is added: this run's feed instead of nuget.org.
        sdk.WriteNuGetConfig(template.OutputDirectory);
        var image = "e2e-template-" + Guid.NewGuid().ToString("N")[..8];
        _images.Add(image + ":latest");

        var build = sdk.PublishImage(template.ProjectFile, "ContainerRepository=" + image);
        Assert.True(build.ExitCode == 0, "PublishImage failed:\n" + build.Output);
        // The example hooks are executable and run.
        Assert.Contains(" -----> Running .docker/action_hooks/pre-build", build.StdOut);
        Assert.Contains(" -----> Running .docker/action_hooks/build", build.StdOut);

        using var container = RunningContainer.Start(image);
        var (status, body) = await container.GetAsync("/");
        Assert.Equal((200, "Hello from mysite!"), (status, body.Trim()));
        Assert.Contains(" -----> Running .docker/action_hooks/deploy", container.Logs());
    }

    [DockerFact]
    public async Task The_tool_publishes_to_the_loopback_registry_and_inspects_what_it_built()
    {
        using var registry = LocalRegistry.Start();
        var app = Path.Combine(_work.Path, "app");
        Directory.CreateDirectory(app);
        File.WriteAllText(Path.Combine(app, "wsgi.py"), "def application(e, s):\n    s('200 OK', [('Content-Type', 'text/plain')])\n    return [b'from the tool']\n");
        File.WriteAllText(Path.Combine(app, "requirements.txt"), "");
        var environment = new Dictionary<string, string?>
        {
            ["DOTNET_CONTAINER_REGISTRY_UNAME"] = registry.Username,
            ["DOTNET_CONTAINER_REGISTRY_PWORD"] = registry.Password,
        };

        var publish = Tool(environment, "publish", app, "--registry", registry.Host, "--repository", "e2e/tool", "--tag", "1.0.0",
            "--cache-dir", sdk.CacheDirectory);
        Assert.True(publish.ExitCode == 0, publish.Output);
        Assert.Contains("manifest digest: sha256:", publish.StdOut);

        var reference = $"{registry.Host}/e2e/tool:1.0.0";
        registry.DockerLogin();
        registry.DockerOk("pull", reference);
        _images.Add(reference);
        using (var container = RunningContainer.Start(reference))
            Assert.Equal((200, "from the tool"), await container.GetAsync("/"));

        var inspect = Tool(null, "inspect", reference);
        Assert.True(inspect.ExitCode == 0, inspect.Output);
        Assert.Contains("mod_wsgi-docker-start", inspect.StdOut);
        Assert.Contains("ModWsgi.Sdk dependencies", inspect.StdOut);
    }

    private static ProcessResult Tool(IReadOnlyDictionary<string, string?>? environment, params string[] args) =>
        Run.Process("dotnet", [Path.Combine(AppContext.BaseDirectory, "modwsgi.dll"), .. args], env: environment, timeout: TimeSpan.FromMinutes(5));

    public void Dispose()
    {
        foreach (var image in _images)
            Run.Docker("rmi", "-f", image);
        _work.Dispose();
    }
}
