using System.Text.Json.Nodes;

namespace ModWsgi.EndToEnd.Tests;

/// <summary>Issue 3: the dependency cache, reproducible digests, and the registry and archive outputs.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class LayeredImageTests(SdkFixture sdk) : IDisposable
{
    private readonly TempDirectory _work = new("modwsgi-layers");
    private readonly List<string> _images = [];
    private PackageIndex? _index;

    private PackageIndex Index => _index ??= PackageIndex.Create(("greeting", "1.0", "TEXT = 'hello from the index'\n"));

    [DockerFact]
    public async Task A_source_only_edit_reuses_the_dependency_layer_without_running_pip_and_serves_the_edit()
    {
        var project = WriteApp(Path.Combine(_work.Path, "app"), "first");
        var image = NewImage("e2e-cache");

        var first = Publish(project, image);
        Assert.Contains(" -----> Installing dependencies with pip", first.StdOut);
        Assert.Contains("dependencies: miss", first.StdOut);

        File.WriteAllText(Path.Combine(Path.GetDirectoryName(project)!, "wsgi.py"), App("second"));
        var second = Publish(project, image);
        Assert.Contains("dependencies: cached (key sha256:", second.StdOut);
        Assert.DoesNotContain("Installing dependencies with pip", second.StdOut);

        using var container = RunningContainer.Start(image);
        var (status, body) = await container.GetAsync("/");
        Assert.Equal(200, status);
        Assert.Equal("second: hello from the index", body);

        // Changing a requirement is a miss that names the input that changed.
        File.AppendAllText(Path.Combine(Path.GetDirectoryName(project)!, "requirements.txt"), "# pinned\n");
        var third = Publish(project, image);
        Assert.Contains("input requirements.txt changed", third.StdOut);
    }

    [DockerFact]
    public void Two_clean_builds_from_different_paths_and_mtimes_give_the_same_digests()
    {
        var original = Path.Combine(_work.Path, "original");
        WriteApp(original, "same");
        Git(original, "init", "-q");
        Git(original, "add", ".");
        Git(original, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "app");
        var clone = Path.Combine(_work.Path, "elsewhere", "clone");
        Git(_work.Path, "clone", "-q", original, clone);
        foreach (var file in Directory.GetFiles(clone, "*", SearchOption.AllDirectories))
            File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddDays(-3));
        sdk.WriteProject(clone, "app");

        var image = NewImage("e2e-repro");
        var archiveA = Path.Combine(_work.Path, "a.tar");
        var archiveB = Path.Combine(_work.Path, "b.tar");
        // Separate, empty caches: both builds run pip from scratch.
        var a = Publish(Path.Combine(original, "app.proj"), image, "WsgiCacheDirectory=" + Path.Combine(_work.Path, "cache-a"), "ContainerArchiveOutputPath=" + archiveA);
        var b = Publish(Path.Combine(clone, "app.proj"), image, "WsgiCacheDirectory=" + Path.Combine(_work.Path, "cache-b"), "ContainerArchiveOutputPath=" + archiveB);
        Assert.Contains("Installing dependencies with pip", a.StdOut);
        Assert.Contains("Installing dependencies with pip", b.StdOut);

        Assert.Equal(BuildLog.Reported(a, "image id"), BuildLog.Reported(b, "image id"));
        Assert.Equal(BuildLog.Reported(a, "manifest digest"), BuildLog.Reported(b, "manifest digest"));
        Assert.Equal(File.ReadAllBytes(archiveA), File.ReadAllBytes(archiveB));
    }

    [DockerFact]
    public async Task The_archive_loads_with_docker_load_and_passes_skopeo_inspect()
    {
        var project = WriteApp(Path.Combine(_work.Path, "app"), "archived");
        var image = NewImage("e2e-archive");
        var archive = Path.Combine(_work.Path, "out", "image.tar");

        var build = Publish(project, image, "ContainerArchiveOutputPath=" + archive, "ContainerImageTag=1.2.3");
        Assert.Contains("archive: " + archive, build.StdOut);

        // Three tags (1.2.3, 1.2, 1): one index entry each, so skopeo is told which.
        Assert.NotEqual(0, Run.Process("skopeo", ["inspect", "oci-archive:" + archive]).ExitCode);
        var skopeo = Run.Process("skopeo", ["inspect", "oci-archive:" + archive + ":1.2"]);
        Assert.True(skopeo.ExitCode == 0, skopeo.Output);
        var inspected = JsonNode.Parse(skopeo.StdOut)!;
        Assert.Equal(BuildLog.Reported(build, "manifest digest"), inspected["Digest"]!.GetValue<string>());
        Assert.Equal("1.2.3", inspected["Labels"]!["org.opencontainers.image.version"]!.GetValue<string>());

        Run.DockerOk("load", "-i", archive);
        _images.AddRange([image + ":1.2.3", image + ":1.2", image + ":1"]);
        Assert.Equal(BuildLog.Reported(build, "image id"), Run.DockerOk("image", "inspect", image + ":1", "-f", "{{.Id}}"));
        using var container = RunningContainer.Start(image + ":1.2");
        var (status, body) = await container.GetAsync("/");
        Assert.Equal((200, "archived: hello from the index"), (status, body));
    }

    [DockerFact]
    public async Task Push_to_a_registry_with_htpasswd_pulls_back_runs_and_a_source_edit_uploads_only_changed_layers()
    {
        using var registry = LocalRegistry.Start();
        var project = WriteApp(Path.Combine(_work.Path, "app"), "pushed");
        const string repository = "e2e/pushed";
        var credentials = new Dictionary<string, string?>
        {
            ["DOTNET_CONTAINER_REGISTRY_UNAME"] = registry.Username,
            ["DOTNET_CONTAINER_REGISTRY_PWORD"] = registry.Password,
        };
        var first = sdk.PublishImage(project, credentials, "ContainerRepository=" + repository, "ContainerRegistry=" + registry.Host,
            "WsgiPipIndexUrl=" + Index.Url, "WsgiPipTrustedHost=" + Index.Host);
        Assert.True(first.ExitCode == 0, first.Output);
        Assert.DoesNotContain(registry.Password, first.Output);

        var reference = $"{registry.Host}/{repository}:latest";
        registry.DockerLogin();
        registry.DockerOk("pull", reference);
        _images.Add(reference);
        using (var container = RunningContainer.Start(reference))
        {
            var (status, body) = await container.GetAsync("/");
            Assert.Equal((200, "pushed: hello from the index"), (status, body));
        }

        const string uploads = "/v2/e2e/pushed/blobs/uploads/.*";
        var putsBefore = registry.CountRequests("PUT", uploads);
        File.WriteAllText(Path.Combine(Path.GetDirectoryName(project)!, "wsgi.py"), App("edited"));
        var second = sdk.PublishImage(project, credentials, "ContainerRepository=" + repository, "ContainerRegistry=" + registry.Host,
            "WsgiPipIndexUrl=" + Index.Url, "WsgiPipTrustedHost=" + Index.Host);
        Assert.True(second.ExitCode == 0, second.Output);
        // Only the application layer and the config changed; base, runtime and dependency layers are already there.
        Assert.Equal(putsBefore + 2, registry.WaitForRequests("PUT", uploads, putsBefore + 2));
        Assert.Contains("2 blobs uploaded", second.StdOut);
    }

    private ProcessResult Publish(string project, string image, params string[] properties)
    {
        var result = sdk.PublishImage(project, ["ContainerRepository=" + image, "WsgiPipIndexUrl=" + Index.Url, "WsgiPipTrustedHost=" + Index.Host, .. properties]);
        Assert.True(result.ExitCode == 0, "PublishImage failed:\n" + result.Output);
        // A re-publish moves the tag: the earlier image is removed by id too.
        _images.Add(BuildLog.Reported(result, "image id"));
        return result;
    }

    private string WriteApp(string directory, string word)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "wsgi.py"), App(word));
        File.WriteAllText(Path.Combine(directory, "requirements.txt"), "greeting==1.0\n");
        File.WriteAllText(Path.Combine(directory, ".dockerignore"), "*.proj\nnuget.config\n");
        return sdk.WriteProject(directory, "app");
    }

    private static string App(string word) => $$"""
        import greeting
        def application(environ, start_response):
            start_response('200 OK', [('Content-Type', 'text/plain')])
            return [("{{word}}: " + greeting.TEXT).encode()]
        """;

    private string NewImage(string prefix)
    {
        var name = $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)];
        _images.Add(name + ":latest");
        return name;
    }

    /// <summary>A value the PublishImage target prints at the end ("  image id: sha256:…").</summary>
    private static void Git(string directory, params string[] args)
    {
        var result = Run.Process("git", args, workingDirectory: directory);
        Assert.True(result.ExitCode == 0, $"git {string.Join(' ', args)}: {result.Output}");
    }

    public void Dispose()
    {
        foreach (var image in _images)
            Run.Docker("rmi", "-f", image);
        _index?.Dispose();
        _work.Dispose();
    }
}
