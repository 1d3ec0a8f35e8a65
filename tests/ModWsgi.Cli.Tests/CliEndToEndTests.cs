using System.Text.Json.Nodes;

namespace ModWsgi.Cli.Tests;

/// <summary>
/// The built tool against the real engine and base image, as a user runs it: `dotnet modwsgi.dll ...` in a
/// separate process. Every image, container and folder made here is removed again.
/// </summary>
public sealed class CliEndToEndTests : IDisposable
{
    private readonly TempDirectory _work = new("modwsgi-cli-e2e");
    private readonly string _repository = $"e2e-cli-{Guid.NewGuid():N}"[..20];

    private string Cache => Path.Combine(_work.Path, "cache");

    public void Dispose()
    {
        foreach (var image in Run.Docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}", _repository).StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            Run.Docker("image", "rm", "-f", image);
        _work.Dispose();
    }

    [DockerFact]
    public void BuildInspectAndPublishAHelloWorld()
    {
        var app = HelloWorld("app");

        var build = ModWsgiTool.Run("build", app, "--cache-dir", Cache, "--repository", _repository);
        Assert.True(build.ExitCode == 0, $"modwsgi build failed ({build.ExitCode}):\n{build.Output}");
        Assert.Contains(" -----> ", build.StdOut); // Core's step headers reach the console
        Assert.Contains($"{_repository} -> {_repository}:latest", build.StdOut);
        Assert.Equal(0, Run.Docker("image", "inspect", $"{_repository}:latest").ExitCode);

        var text = ModWsgiTool.Run("inspect", $"{_repository}:latest", "--project", app, "--cache-dir", Cache);
        Assert.True(text.ExitCode == 0, text.Output);
        Assert.Matches(@"(?m)^\s*Entrypoint\s+\[""mod_wsgi-docker-start""\]\s*$", text.StdOut);
        // The base's layers (one, since the base recipe flattens its image) and ours: runtime, dependencies, application.
        var layers = int.Parse(Run.DockerOk("image", "inspect", "-f", "{{len .RootFS.Layers}}", "modwsgi/base:bookworm"), System.Globalization.CultureInfo.InvariantCulture) + 3;
        Assert.Contains($"Layers: {layers}", text.StdOut);
        Assert.Contains("(this image)", text.StdOut); // the build cache's notes for the project match the image
        Assert.Contains("input requirements.txt", text.StdOut);

        var json = ModWsgiTool.Run("inspect", $"{_repository}:latest", "--json");
        Assert.True(json.ExitCode == 0, json.Output);
        var description = JsonNode.Parse(json.StdOut)!;
        Assert.Equal(layers, description["layers"]!.AsArray().Count);
        Assert.All(description["layers"]!.AsArray(), l => Assert.StartsWith("sha256:", l!["diffId"]!.GetValue<string>()));
        Assert.Equal(["mod_wsgi-docker-start"], description["config"]!["entrypoint"]!.AsArray().Select(e => e!.GetValue<string>()));
        Assert.Equal("/app", description["config"]!["workingDir"]!.GetValue<string>());

        var archive = Path.Combine(_work.Path, "x.tar");
        var publish = ModWsgiTool.Run("publish", app, "--cache-dir", Cache, "--repository", _repository, "--archive", archive);
        Assert.True(publish.ExitCode == 0, $"modwsgi publish failed ({publish.ExitCode}):\n{publish.Output}");
        Assert.True(File.Exists(archive), publish.Output);
        Assert.Contains($"archive: {archive}", publish.StdOut);
    }

    [DockerFact]
    public void AFailingPreBuildHookExits1WithACodedErrorAndNoStackTrace()
    {
        var app = HelloWorld("failing");
        _work.Write("failing/.docker/action_hooks/pre-build", "#!/bin/bash\necho 'the hook fails on purpose'\nexit 4\n", (UnixFileMode)0b111_101_101);

        var build = ModWsgiTool.Run("build", app, "--cache-dir", Cache, "--repository", _repository);

        Assert.True(build.ExitCode == 1, $"expected exit 1, got {build.ExitCode}:\n{build.Output}");
        Assert.Contains("error MODWSGI5001:", build.StdErr);
        Assert.Contains("exit code 4", build.StdErr);
        Assert.DoesNotContain("   at ", build.Output);
        Assert.DoesNotContain("Exception", build.Output);
        Assert.NotEqual(0, Run.Docker("image", "inspect", $"{_repository}:latest").ExitCode);
    }

    private string HelloWorld(string folder)
    {
        _work.Write($"{folder}/wsgi.py", """
            def application(environ, start_response):
                start_response('200 OK', [('Content-Type', 'text/plain')])
                return [b'Hello World!']
            """);
        _work.Write($"{folder}/requirements.txt", "");
        return Path.Combine(_work.Path, folder);
    }
}
