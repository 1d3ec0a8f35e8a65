using Microsoft.Extensions.Logging;
using ModWsgi.Core;
using ModWsgi.Core.Destinations;
using ModWsgi.Core.Engine;
using ModWsgi.Core.Pipeline;

namespace ModWsgi.EndToEnd.Tests;

/// <summary>
/// Issue 9: identical inputs give the identical image config and manifest on every engine. The same project (same
/// epoch, pre-build hook, build hook) is built on the host engine (Docker 20.10) and on the engine in DOCKER_HOST
/// (eval "$(eng/engines.sh env NAME)"), through the real pipeline and engines; skipped without such an engine.
/// </summary>
public sealed class EngineIdentityTests : IDisposable
{
    private const string BaseImageName = "modwsgi/base:bookworm";
    private const string HostEngine = "unix:///var/run/docker.sock";
    private static readonly EngineEndpoint HostEndpoint = EngineEndpoint.Parse(HostEngine);
    private readonly TempDirectory _work = new("modwsgi-identity");
    private readonly string _repository = $"identity-{Guid.NewGuid():N}"[..21];
    private readonly List<(string Image, bool OnHost)> _created = [];

    private static EngineEndpoint TestEndpoint => EngineEndpoint.Parse(System.Environment.GetEnvironmentVariable("DOCKER_HOST"));

    private string Project => Path.Combine(_work.Path, "app");

    public EngineIdentityTests()
    {
        Write("wsgi.py", "def application(environ, start_response):\n    start_response('200 OK', [])\n    return [b'identity']\n");
        Write("requirements.txt", "");
        // The dependency layer comes from a container's change list (where Podman reports /etc), the application
        // layer from the build hook's run on the dependency stage image.
        Write(".docker/action_hooks/pre-build", "#!/bin/bash\necho from-pre-build > /opt/identity-note\n", executable: true);
        Write(".docker/action_hooks/build", "#!/bin/bash\nmkdir -p generated\ncat /opt/identity-note > generated/note.txt\n", executable: true);
    }

    private void Write(string relative, string content, bool executable = false)
    {
        var path = Path.Combine(Project, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        if (executable)
            File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
    }

    private async Task<PublishResult> Publish(EngineEndpoint endpoint, string cache, string? archive = null)
    {
        using var engine = new DockerEngineClient(endpoint);
        var log = new MessageLogger();
        var settings = new ProjectSettings
        {
            ContainerRepository = _repository,
            ContainerImageTags = ["1", "latest"],
            WsgiCacheDirectory = Path.Combine(_work.Path, cache),
            ContainerArchiveOutputPath = archive,
        };
        var options = settings.ToOptions(Project, Path.Combine(RepositoryRootAttribute.Get(), "sdk", "ModWsgi.Sdk", "runtime"), null);
        // A pinned epoch, as a reproducible build pins it; HOME only for the engine's docker config.
        var environment = BuildEnvironment.From(name => name switch
        {
            "SOURCE_DATE_EPOCH" => "1700000000",
            "HOME" => System.Environment.GetEnvironmentVariable("HOME"),
            _ => null,
        });
        try
        {
            return await new ImagePipeline(engine, log).PublishAsync(options, environment, CancellationToken.None);
        }
        finally
        {
            var onHost = ReferenceEquals(endpoint, HostEndpoint);
            _created.AddRange(log.Messages.Where(m => m.Contains("Loading the dependency stage ", StringComparison.Ordinal))
                .Select(m => (m.Split("stage ")[1].Split(' ')[0], onHost)));
            if (archive is null)
                _created.AddRange(options.ImageNames().Select(n => (n, onHost)));
        }
    }

    private static string Id(EngineEndpoint endpoint, string image)
    {
        using var engine = new DockerEngineClient(endpoint);
        return engine.InspectImageAsync(image, CancellationToken.None).GetAwaiter().GetResult()?["Id"]?.GetValue<string>()
            ?? throw new InvalidOperationException($"{image} is not in the engine at {endpoint}");
    }

    [EngineFact("MODWSGI_TEST_ENGINE"), Trait("Category", "EngineMatrix")]
    public async Task TheSameProject_GivesTheHostEnginesConfigAndManifest_IntoTheEngineAndAsAnArchive()
    {
        using (var host = new DockerEngineClient(HostEndpoint))
        using (var tested = new DockerEngineClient(TestEndpoint))
        {
            // engines.sh loaded the host's base into each engine: the same layers, so the same inputs.
            var hostBase = await host.InspectImageAsync(BaseImageName, CancellationToken.None);
            var testedBase = await tested.InspectImageAsync(BaseImageName, CancellationToken.None);
            Assert.Equal(hostBase!["RootFS"]!["Layers"]!.ToJsonString(), testedBase!["RootFS"]!["Layers"]!.ToJsonString());
        }
        // The golden values: the host engine's build, as an archive (its manifest digest).
        var golden = await Publish(HostEndpoint, "cache-host", Path.Combine(_work.Path, "host.tar"));

        var loaded = await Publish(TestEndpoint, "cache-engine");
        var archived = await Publish(TestEndpoint, "cache-engine", Path.Combine(_work.Path, "engine.tar"));

        Assert.Equal(golden.ImageId, loaded.ImageId);
        Assert.Equal(golden.ImageId, archived.ImageId);
        Assert.Equal(golden.ManifestDigest, archived.ManifestDigest);
        Assert.Equal(File.ReadAllBytes(Path.Combine(_work.Path, "host.tar")), File.ReadAllBytes(Path.Combine(_work.Path, "engine.tar")));
        // What the engine calls the image: the config digest, or on the containerd store our manifest's digest.
        var containerdStore = System.Environment.GetEnvironmentVariable("MODWSGI_TEST_IMAGE_STORE") == "containerd";
        Assert.Equal(containerdStore ? golden.ManifestDigest : golden.ImageId, Id(TestEndpoint, _repository + ":1"));
        Assert.Equal(containerdStore ? golden.ManifestDigest : null, loaded.ManifestDigest);

        // The build hook ran on the dependency stage: its output, made from the pre-build hook's, is in the image.
        var run = Run.Process("docker", ["run", "--rm", "--entrypoint", "cat", _repository + ":latest", "/app/generated/note.txt"]);
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Equal("from-pre-build", run.StdOut.Trim());
    }

    [EngineFact("MODWSGI_TEST_ENGINE"), Trait("Category", "EngineMatrix")]
    public async Task ASecondBuild_IsUpToDate_AndASourceEdit_RerunsOnlyTheBuildHookOnTheStageItFinds()
    {
        var first = await Publish(TestEndpoint, "cache");

        var second = await Publish(TestEndpoint, "cache");

        Assert.True(second.UpToDate);
        Assert.Equal(first.ImageId, second.ImageId);

        var stagesBefore = _created.Count(c => c.Image.StartsWith("modwsgi/stage:", StringComparison.Ordinal));
        Write("wsgi.py", "def application(environ, start_response):\n    start_response('200 OK', [])\n    return [b'edited']\n");
        var edited = await Publish(TestEndpoint, "cache");

        Assert.False(edited.UpToDate);
        Assert.NotEqual(first.ImageId, edited.ImageId);
        // The stage was found by the engine's id of it, not loaded again.
        Assert.Equal(stagesBefore, _created.Count(c => c.Image.StartsWith("modwsgi/stage:", StringComparison.Ordinal)));
        Assert.Equal(edited.ManifestDigest ?? edited.ImageId, Id(TestEndpoint, _repository + ":latest"));
    }

    public void Dispose()
    {
        foreach (var (image, onHost) in _created.Distinct())
            Run.Process("docker", onHost ? ["-H", HostEngine, "rmi", "-f", image] : ["rmi", "-f", image]);
        _work.Dispose();
    }

    /// <summary>Keeps what the pipeline logs (the stage images it loaded are named there).</summary>
    private sealed class MessageLogger : ILogger
    {
        public List<string> Messages { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Messages)
                Messages.Add(formatter(state, exception));
        }
    }
}
