using System.Text.Json.Nodes;

namespace ModWsgi.EndToEnd.Tests;

/// <summary>
/// Issue 9 item 2: on the engine in DOCKER_HOST (eval "$(eng/engines.sh env NAME)"; eng/test.sh runs this class on
/// d26c, d26s and podman), a small real app built as a user builds it (`dotnet build -t:PublishImage`, with a
/// dependency from a package index and a build hook) goes into the engine, into an OCI archive and into a registry,
/// and each answers HTTP when run on that engine; a source-only rebuild reuses the dependency layer. On Podman the
/// engine build is `LocalRegistry=Podman` without DOCKER_HOST (the socket found by the build). Every image a
/// test makes on the engine is removed after it. Image ids differ per engine kind (the containerd store names
/// images by manifest digest), so only the manifest digest is compared with what the build reported.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class EngineMatrixTests(SdkFixture sdk) : IDisposable
{
    private static readonly string? Engine = System.Environment.GetEnvironmentVariable("MODWSGI_TEST_ENGINE");
    private readonly TempDirectory _work = new("modwsgi-matrix");
    private readonly string _repository = $"engmatrix-{Engine}-{Guid.NewGuid():N}"[..26];
    /// <summary>Names and engine image ids this test put into the engine: all removed on dispose.</summary>
    private readonly List<string> _engineImages = [];
    private PackageIndex? _index;

    private static bool IsPodman => System.Environment.GetEnvironmentVariable("MODWSGI_TEST_IMAGE_STORE") == "podman";

    /// <summary>Served on this engine's bridge gateway (the package index's wheels are built on the engine too).</summary>
    private PackageIndex Index => _index ??= PackageIndex.Create(("greeting", "1.0", $"TEXT = 'made on {Engine}'\n"));

    /// <summary>On Podman the build is told only LocalRegistry=Podman, as a Podman user builds: it finds the socket itself.</summary>
    [EngineFact("MODWSGI_TEST_ENGINE"), Trait("Category", "EngineMatrix")]
    public async Task IntoTheEngine_WithABuildHook_ThenASourceOnlyRebuild_ServesEachVersion()
    {
        var project = WriteApp("v1");
        IReadOnlyDictionary<string, string?>? environment = null;
        string[] properties = [];
        if (IsPodman)
        {
            // No DOCKER_HOST, and an XDG_RUNTIME_DIR without a rootless socket: the build must find the rootful socket
            // (/run/podman/podman.sock, where eng/engines.sh runs Podman's service) by itself.
            environment = new Dictionary<string, string?> { ["DOCKER_HOST"] = null, ["XDG_RUNTIME_DIR"] = Path.Combine(_work.Path, "runtime") };
            Assert.Equal("unset", Run.Process("sh", ["-c", "echo ${DOCKER_HOST-unset}"], env: environment).StdOut.Trim());
            properties = ["LocalRegistry=Podman"];
        }

        var first = Publish(project, environment, properties);
        Assert.Contains(" -----> Running .docker/action_hooks/build", first.StdOut);
        Assert.Contains("build-hook-ran", first.StdOut);
        await AssertServesAsync(_repository + ":latest", $"v1 made on {Engine}");

        File.WriteAllText(Path.Combine(Path.GetDirectoryName(project)!, "wsgi.py"), App("v2"));
        var second = Publish(project, environment, properties);
        Assert.Contains("dependencies: cached (key sha256:", second.StdOut);
        Assert.DoesNotContain("Installing dependencies with pip", second.StdOut);
        Assert.DoesNotContain("Loading the dependency stage", second.StdOut); // the hook's stage is found in the engine
        Assert.Contains("build-hook-ran", second.StdOut);
        Assert.NotEqual(BuildLog.Reported(first, "image id"), BuildLog.Reported(second, "image id"));
        await AssertServesAsync(_repository + ":latest", $"v2 made on {Engine}");
    }

    [EngineFact("MODWSGI_TEST_ENGINE"), Trait("Category", "EngineMatrix")]
    public async Task AnArchiveWithTwoTags_PassesSkopeo_AndLoadsIntoTheEngineUnderBothTags_AndRuns()
    {
        var project = WriteApp("archived");
        var archive = Path.Combine(_work.Path, "out", "image.tar");

        var build = Publish(project, "ContainerArchiveOutputPath=" + archive, "ContainerImageTags=\"1.0;edge\"");

        Assert.Contains("archive: " + archive, build.StdOut);
        var digest = BuildLog.Reported(build, "manifest digest");
        foreach (var tag in new[] { "1.0", "edge" })
        {
            var skopeo = Run.Process("skopeo", ["inspect", $"oci-archive:{archive}:{tag}"]);
            Assert.True(skopeo.ExitCode == 0, skopeo.Output);
            Assert.Equal(digest, JsonNode.Parse(skopeo.StdOut)!["Digest"]!.GetValue<string>());
        }
        Track(_repository + ":1.0", _repository + ":edge");
        var load = Run.Process("docker", ["load", "-i", archive]);
        Assert.True(load.ExitCode == 0, load.Output);
        // The containerd store names images from index.json: every tag has its entry there (before, only the first loaded).
        var ids = new[] { "1.0", "edge" }.Select(tag => EngineImageId($"{_repository}:{tag}")).ToArray();
        Assert.Equal(ids[0], ids[1]);
        await AssertServesAsync(_repository + ":edge", $"archived made on {Engine}");
    }

    [EngineFact("MODWSGI_TEST_ENGINE"), Trait("Category", "EngineMatrix")]
    public async Task ToARegistry_PassesSkopeo_AndIsPulledAndRunOnTheEngine()
    {
        using var registry = LocalRegistry.Start();
        var project = WriteApp("pushed");
        var repository = "e2e/" + _repository;
        var credentials = new Dictionary<string, string?>
        {
            ["DOTNET_CONTAINER_REGISTRY_UNAME"] = registry.Username,
            ["DOTNET_CONTAINER_REGISTRY_PWORD"] = registry.Password,
        };

        var build = Publish(project, credentials, "ContainerRepository=" + repository, "ContainerRegistry=" + registry.Host);

        var reference = $"{registry.Host}/{repository}:latest";
        var skopeo = Run.Process("skopeo", ["inspect", "--tls-verify=false", "--creds", $"{registry.Username}:{registry.Password}", "docker://" + reference]);
        Assert.True(skopeo.ExitCode == 0, skopeo.Output);
        Assert.Equal(BuildLog.Reported(build, "manifest digest"), JsonNode.Parse(skopeo.StdOut)!["Digest"]!.GetValue<string>());

        Track(reference);
        // Docker takes 127.0.0.0/8 as a plain-HTTP registry; Podman's service does not, and the docker CLI cannot say
        // otherwise, so on Podman its own CLI pulls into the same store (eng/engines.sh env sets its storage config).
        ProcessResult pull;
        if (IsPodman)
        {
            pull = Run.Process("podman", ["pull", "--tls-verify=false", "--creds", $"{registry.Username}:{registry.Password}", reference]);
        }
        else
        {
            registry.DockerLogin();
            pull = registry.Docker(["pull", reference]);
        }
        Assert.True(pull.ExitCode == 0, pull.Output);
        EngineImageId(reference);
        await AssertServesAsync(reference, $"pushed made on {Engine}");
    }

    private string WriteApp(string word)
    {
        var directory = Path.Combine(_work.Path, "app");
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "wsgi.py"), App(word));
        File.WriteAllText(Path.Combine(directory, "requirements.txt"), "greeting==1.0\n");
        // The build hook runs on the installed dependency; its output is what the app serves.
        var hook = Path.Combine(directory, ".docker", "action_hooks", "build");
        Directory.CreateDirectory(Path.GetDirectoryName(hook)!);
        File.WriteAllText(hook, "#!/bin/bash\nmkdir -p generated\npython -c \"import greeting; print(greeting.TEXT)\" > generated/note.txt\necho build-hook-ran\n");
        File.SetUnixFileMode(hook, (UnixFileMode)0b111_101_101);
        return sdk.WriteProject(directory, "app");
    }

    private static string App(string word) => $$"""
        def application(environ, start_response):
            note = open('/app/generated/note.txt').read().strip()
            start_response('200 OK', [('Content-Type', 'text/plain')])
            return [("{{word}} " + note).encode()]
        """;

    private ProcessResult Publish(string project, params string[] properties) => Publish(project, null, properties);

    private ProcessResult Publish(string project, IReadOnlyDictionary<string, string?>? environment, params string[] properties)
    {
        if (!properties.Any(p => p.StartsWith("ContainerRepository=", StringComparison.Ordinal)))
            properties = ["ContainerRepository=" + _repository, .. properties];
        Track(_repository + ":latest");
        var result = sdk.PublishImage(project, environment, ["WsgiPipIndexUrl=" + Index.Url, "WsgiPipTrustedHost=" + Index.Host, .. properties]);
        Assert.True(result.ExitCode == 0, $"PublishImage on {Engine} failed:\n" + result.Output);
        Assert.DoesNotContain("Unhandled exception", result.Output);
        if (!properties.Any(p => p.StartsWith("ContainerArchiveOutputPath=", StringComparison.Ordinal) || p.StartsWith("ContainerRegistry=", StringComparison.Ordinal)))
            EngineImageId(_repository + ":latest"); // a rebuild moves the tag: the earlier image is removed by id too
        return result;
    }

    /// <summary>The engine's own id of <paramref name="image"/> (which must be there), remembered for removal.</summary>
    private string EngineImageId(string image)
    {
        var id = Run.DockerOk("image", "inspect", image, "-f", "{{.Id}}");
        Track(id);
        return id;
    }

    private void Track(params string[] images) => _engineImages.AddRange(images.Where(i => !_engineImages.Contains(i)));

    private static async Task AssertServesAsync(string image, string expected)
    {
        using var container = RunningContainer.Start(image);
        var (status, body) = await container.GetAsync("/", TimeSpan.FromSeconds(30));
        Assert.True((200, expected) == (status, body), $"{image} on {Engine} answered {status} '{body}'\n{container.Logs()}");
    }

    public void Dispose()
    {
        // Names first, then ids: an id still named elsewhere is left to its other names' removal.
        foreach (var image in _engineImages.Where(i => !i.StartsWith("sha256:", StringComparison.Ordinal)).Concat(_engineImages.Where(i => i.StartsWith("sha256:", StringComparison.Ordinal))))
            Run.Docker("rmi", "-f", image);
        _index?.Dispose();
        _work.Dispose();
    }
}
