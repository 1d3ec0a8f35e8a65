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

        // The tool evaluates the same .proj (-p as dotnet build takes it) without a warning, and finds the image
        // PublishImage built up to date: both front ends keep one up-to-date record for the same image.
        var tool = Tool(new Dictionary<string, string?> { ["MODWSGI_BUILD_SERVER"] = "0" },
            "build", template.OutputDirectory, "-p:ContainerRepository=" + image, "--cache-dir", sdk.CacheDirectory);
        Assert.True(tool.ExitCode == 0, tool.Output);
        Assert.Equal("", tool.StdErr.Trim());
        Assert.Contains("Image up to date", tool.StdOut);
        Assert.Contains(ImageId(build.StdOut), tool.StdOut);
    }

    private static string ImageId(string log) =>
        log.Split('\n').Select(l => l.Trim()).First(l => l.StartsWith("image id: ", StringComparison.Ordinal))["image id: ".Length..];

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

    [DockerFact]
    public void Dotnet_tool_install_picks_the_ReadyToRun_linux_x64_package_on_this_machine()
    {
        var tool = sdk.ToolCommand;
        // The install keeps the package it chose in the tool path's store.
        var store = Path.Combine(Path.GetDirectoryName(tool)!, ".store");
        var chosen = Directory.GetDirectories(store, "*", SearchOption.AllDirectories)
            .Select(d => Path.GetFileName(d)!).Where(n => n.StartsWith("modwsgi.cli.", StringComparison.Ordinal)).ToArray();
        Assert.Equal(["modwsgi.cli.linux-x64"], chosen);
        var assembly = Directory.GetFiles(store, "modwsgi.dll", SearchOption.AllDirectories).Single();
        Assert.True(IsReadyToRun(assembly), assembly + " is not ReadyToRun-compiled");
        var version = Run.Process(tool, ["--version"]);
        Assert.True(version.ExitCode == 0, version.Output);
        Assert.StartsWith(sdk.SdkVersion, version.StdOut.Trim());
    }

    [DockerFact]
    public async Task The_build_server_rebuilds_a_source_edit_and_a_cancelled_served_build_leaves_no_container()
    {
        var app = Path.Combine(_work.Path, "served");
        Directory.CreateDirectory(app);
        File.WriteAllText(Path.Combine(app, "requirements.txt"), "");
        void Serve(string word) => File.WriteAllText(Path.Combine(app, "wsgi.py"),
            $"def application(e, s):\n    s('200 OK', [('Content-Type', 'text/plain')])\n    return [b'{word}']\n");
        var runtimeDir = Path.Combine(_work.Path, "xdg-runtime");
        Directory.CreateDirectory(runtimeDir);
        var environment = new Dictionary<string, string?>
        {
            ["MODWSGI_BUILD_SERVER"] = "1", ["MODWSGI_BUILD_SERVER_IDLE_MINUTES"] = "2", ["XDG_RUNTIME_DIR"] = runtimeDir,
        };
        var image = "e2e-served-" + Guid.NewGuid().ToString("N")[..8];
        _images.Add(image + ":latest");
        string[] build = ["build", app, "--repository", image, "--cache-dir", sdk.CacheDirectory, "--verbose"];
        try
        {
            Serve("first");
            var first = Tool(environment, build);
            Assert.True(first.ExitCode == 0, first.Output);
            // The rebuild moves the tag: this image would be left untagged.
            _images.Add(first.StdOut.Split('\n').Select(l => l.Trim()).First(l => l.StartsWith("image id: ", StringComparison.Ordinal))["image id: ".Length..]);
            var socketFolder = Path.Combine(runtimeDir, "modwsgi");
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (!(Directory.Exists(socketFolder) && Directory.GetFiles(socketFolder, "*.sock").Length == 1) && DateTime.UtcNow < deadline)
                Thread.Sleep(100);

            Serve("edited");
            var second = Tool(environment, build);
            Assert.True(second.ExitCode == 0, second.Output);
            Assert.Contains("run by the build server", second.StdOut);
            Assert.Contains("dependencies: cached", second.StdOut);
            using (var container = RunningContainer.Start(image))
                Assert.Equal((200, "edited"), await container.GetAsync("/"));

            // Ctrl+C on the client cancels the build in the server, which removes its build container.
            var hook = Path.Combine(app, ".docker", "action_hooks", "pre-build");
            Directory.CreateDirectory(Path.GetDirectoryName(hook)!);
            File.WriteAllText(hook, "#!/bin/bash\necho waiting-to-be-cancelled\nsleep 300\n");
            File.SetUnixFileMode(hook, (UnixFileMode)0b111_101_101);
            var info = new System.Diagnostics.ProcessStartInfo(sdk.ToolCommand, build);
            foreach (var (name, value) in environment)
                info.Environment[name] = value;
            var (exitCode, output) = InterruptedRun.Interrupt(info, "waiting-to-be-cancelled",
                () => Assert.NotEqual("", ProjectBuildContainers.Ids(app)));
            Assert.True(exitCode == 130, $"exit code {exitCode}:\n{output}");
            Assert.Contains("MODWSGI4002", output);
            Assert.Equal("", ProjectBuildContainers.Ids(app));
        }
        finally
        {
            Tool(environment, "build-server", "shutdown");
        }
    }

    /// <summary>A ReadyToRun image carries a managed native header (the R2R header) in its CLI header.</summary>
    private static bool IsReadyToRun(string assembly)
    {
        using var reader = new System.Reflection.PortableExecutable.PEReader(File.OpenRead(assembly));
        return reader.PEHeaders.CorHeader?.ManagedNativeHeaderDirectory.Size > 0;
    }

    /// <summary>The installed tool (`dotnet tool install` from this run's feed), as a user runs it.</summary>
    private ProcessResult Tool(IReadOnlyDictionary<string, string?>? environment, params string[] args) =>
        Run.Process(sdk.ToolCommand, args, env: environment, timeout: TimeSpan.FromMinutes(5));

    public void Dispose()
    {
        foreach (var image in _images)
            Run.Docker("rmi", "-f", image);
        _work.Dispose();
    }
}
