using System.Diagnostics;

namespace ModWsgi.EndToEnd.Tests;

/// <summary>The build hook runs on the installed dependencies; a cancelled build leaves nothing behind.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class BuildHookAndCancelTests(SdkFixture sdk) : IDisposable
{
    private readonly TempDirectory _project = new("modwsgi-hook");
    private readonly string _image = $"e2e-hook-{Guid.NewGuid():N}"[..21];
    private readonly List<string> _images = [];

    [DockerFact]
    public async Task The_build_hook_sees_the_dependencies_its_output_is_in_the_image_and_a_source_edit_reruns_only_the_hook()
    {
        using var index = PackageIndex.Create(("greeting", "1.0", "TEXT = 'made at build time'\n"));
        _project.Write("requirements.txt", "greeting==1.0\n");
        _project.Write(".docker/action_hooks/build", "#!/bin/bash\nmkdir -p generated\npython -c \"import greeting; print(greeting.TEXT)\" > generated/note.txt\necho build-hook-ran\n",
            (UnixFileMode)0b111_101_101);
        _project.Write("wsgi.py", App("v1"));
        var project = sdk.WriteProject(_project.Path, "hooked");
        string[] properties = ["ContainerRepository=" + _image, "WsgiPipIndexUrl=" + index.Url, "WsgiPipTrustedHost=" + index.Host];

        var first = Publish(project, properties);
        Assert.Contains(" -----> Running .docker/action_hooks/build", first.StdOut);
        Assert.Contains("build-hook-ran", first.StdOut);
        Assert.Contains("Loading the dependency stage " + "modwsgi/stage:", first.StdOut);

        _project.Write("wsgi.py", App("v2"));
        var second = Publish(project, properties);
        Assert.Contains("dependencies: cached", second.StdOut);
        Assert.DoesNotContain("Installing dependencies with pip", second.StdOut);
        Assert.DoesNotContain("Loading the dependency stage", second.StdOut);
        Assert.Contains("build-hook-ran", second.StdOut);

        using var container = RunningContainer.Start(_image);
        var (status, body) = await container.GetAsync("/");
        Assert.Equal((200, "v2 made at build time"), (status, body));
    }

    [DockerFact]
    public void Cancelling_dotnet_build_during_a_step_removes_the_build_container_and_tags_nothing()
    {
        _project.Write("wsgi.py", App("never"));
        _project.Write("requirements.txt", "");
        _project.Write(".docker/action_hooks/pre-build", "#!/bin/bash\necho waiting-to-be-cancelled\nsleep 300\n", (UnixFileMode)0b111_101_101);
        var project = sdk.WriteProject(_project.Path, "cancelled");

        var info = new ProcessStartInfo("dotnet", ["build", project, "-t:PublishImage", "-nodeReuse:false", "-tl:off", "-v:n",
            "-p:ContainerRepository=" + _image, "-p:WsgiCacheDirectory=" + sdk.CacheDirectory])
        {
            WorkingDirectory = _project.Path,
        };
        info.Environment["NUGET_PACKAGES"] = sdk.PackagesFolder;
        var (exitCode, output) = InterruptedRun.Interrupt(info, "waiting-to-be-cancelled",
            () => Assert.NotEqual("", ProjectBuildContainers.Ids(_project.Path)));

        Assert.NotEqual(0, exitCode);
        Assert.Equal("", ProjectBuildContainers.Ids(_project.Path));
        Assert.NotEqual(0, Run.Docker("image", "inspect", _image + ":latest").ExitCode);
        Assert.DoesNotContain("Unhandled exception", output);
    }

    private ProcessResult Publish(string project, string[] properties)
    {
        var result = sdk.PublishImage(project, properties);
        Assert.True(result.ExitCode == 0, "PublishImage failed:\n" + result.Output);
        var id = result.StdOut.Split('\n').Select(l => l.Trim()).First(l => l.StartsWith("image id: ", StringComparison.Ordinal))["image id: ".Length..];
        _images.Add(id);
        return result;
    }

    private static string App(string word) => $$"""
        def application(environ, start_response):
            note = open('/app/generated/note.txt').read().strip()
            start_response('200 OK', [('Content-Type', 'text/plain')])
            return [("{{word}} " + note).encode()]
        """;

    public void Dispose()
    {
        Run.Docker("rmi", "-f", _image + ":latest");
        foreach (var image in _images)
            Run.Docker("rmi", "-f", image);
        _project.Dispose();
    }
}
