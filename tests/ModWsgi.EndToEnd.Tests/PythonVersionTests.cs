namespace ModWsgi.EndToEnd.Tests;

/// <summary>The project's files pick the Python, through the real PublishImage task (Tomlyn loaded from the SDK package).</summary>
[Collection(EndToEndCollection.Name)]
public sealed class PythonVersionTests(SdkFixture sdk) : IDisposable
{
    private readonly TempDirectory _dir = new("modwsgi-pyversion");
    private readonly List<string> _images = [];

    private string Project(string name, params (string File, string Content)[] files)
    {
        var target = Path.Combine(_dir.Path, name);
        Directory.CreateDirectory(target);
        File.WriteAllText(Path.Combine(target, "wsgi.py"), """
            import sys
            def application(environ, start_response):
                start_response('200 OK', [('Content-Type', 'text/plain')])
                return [('python %d.%d' % sys.version_info[:2]).encode()]
            """);
        File.WriteAllText(Path.Combine(target, "requirements.txt"), "");
        foreach (var (file, content) in files)
            File.WriteAllText(Path.Combine(target, file), content);
        return sdk.WriteProject(target, name);
    }

    [DockerFact]
    public async Task RuntimeTxt_BuildsOnTrixie_AndTheAppRunsPython313UnderModWsgi5()
    {
        var project = Project("runtime-txt", ("runtime.txt", "python-3.13.1\n"));
        var name = "pyversion-e2e-" + Guid.NewGuid().ToString("N")[..8];
        _images.Add(name + ":latest");

        var build = sdk.PublishImage(project, "ContainerRepository=" + name);

        Assert.True(build.ExitCode == 0, "PublishImage failed:\n" + build.Output);
        Assert.Contains("Python 3.13 (runtime.txt: python-3.13.1): base image modwsgi/base:trixie", build.StdOut);
        Assert.Contains("\"org.opencontainers.image.base.name\":\"modwsgi/base:trixie\"", Run.DockerOk("image", "inspect", "-f", "{{json .Config.Labels}}", name));
        using var container = RunningContainer.Start(name);
        Assert.Equal((200, "python 3.13"), await container.GetAsync("/"));
        Assert.Contains("mod_wsgi/5.0", Run.Process("curl", ["-sI", $"http://127.0.0.1:{container.Port}/"]).StdOut);
    }

    [DockerFact]
    public void AVersionNoBaseImageGives_FailsWithACodedErrorListingThoseThatExist()
    {
        var project = Project("unavailable", ("pyproject.toml", "[project]\nname = \"x\"\nversion = \"1\"\nrequires-python = \">=3.14\"\n"));

        var build = sdk.PublishImage(project, "ContainerRepository=pyversion-e2e-unavailable");

        Assert.NotEqual(0, build.ExitCode);
        Assert.Contains("error MODWSGI2026", build.Output);
        Assert.Contains("pyproject.toml requires-python asks for Python '>=3.14'", build.Output);
        Assert.Contains("3.11 (modwsgi/base:bookworm, Debian bookworm), 3.13 (modwsgi/base:trixie, Debian trixie)", build.Output);
        Assert.DoesNotContain("   at ", build.Output); // no stack trace
    }

    public void Dispose()
    {
        foreach (var image in _images)
            Run.Docker("rmi", "-f", image);
        _dir.Dispose();
    }
}
