namespace ModWsgi.EndToEnd.Tests;

/// <summary>The Django and Flask samples, built from their folders against the local index of real packages.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class SampleTests(SdkFixture sdk) : IDisposable
{
    private readonly TempDirectory _copy = new("modwsgi-sample");
    private readonly List<string> _images = [];
    private RealPackageIndex? _index;

    private RealPackageIndex Index => _index ??= new RealPackageIndex();

    [DockerFact]
    public async Task Django_site_serves_the_admin_login_with_its_css_served_by_apache()
    {
        var image = Build("django-site");
        Assert.Contains("Django: collectstatic --noinput", image.Log);
        Assert.Contains("static files copied to '/app/example/htdocs'", image.Log);

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
    }

    [DockerFact]
    public async Task Flask_app_serves_its_routes_and_static_files()
    {
        var image = Build("flask-app");

        using var container = RunningContainer.Start(image.Name);
        Assert.Equal((200, "Hello from Flask!"), await container.GetAsync("/"));
        Assert.Equal(200, (await container.GetAsync("/health")).Status);
        var (cssStatus, css) = await container.GetAsync("/static/site.css");
        Assert.Equal((200, "body { font-family: sans-serif; }\n"), (cssStatus, css));
    }

    private (string Name, string Log) Build(string sample)
    {
        var source = Path.Combine(RepositoryRootAttribute.Get(), "samples", sample);
        var target = Path.Combine(_copy.Path, sample);
        CopyDirectory(source, target);
        var project = Path.Combine(target, sample + ".proj");
        File.WriteAllText(project, File.ReadAllText(project).Replace("ModWsgi.Sdk/0.1.0", "ModWsgi.Sdk/" + sdk.SdkVersion));
        sdk.WriteNuGetConfig(target);
        var name = $"e2e-{sample}-{Guid.NewGuid():N}"[..(sample.Length + 13)];
        _images.Add(name + ":latest");
        var build = sdk.PublishImage(project, "ContainerRepository=" + name, "WsgiPipIndexUrl=" + Index.Url, "WsgiPipTrustedHost=" + Index.Host);
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
        _index?.Dispose();
        _copy.Dispose();
    }
}
