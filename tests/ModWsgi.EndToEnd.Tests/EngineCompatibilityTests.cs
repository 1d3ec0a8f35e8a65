using ModWsgi.Core;
using ModWsgi.Core.Cache;
using ModWsgi.Core.Engine;
using ModWsgi.Core.Layers;
using ModWsgi.Core.Oci;

namespace ModWsgi.EndToEnd.Tests;

/// <summary>
/// Runs against an engine eng/engines.sh stood up (eval "$(eng/engines.sh env NAME)": DOCKER_HOST and
/// MODWSGI_TEST_ENGINE); skipped without one. The host engine is Docker 20.10: these are the newer ones.
/// eng/test.sh runs Category=EngineMatrix on every engine of the matrix and Category=EngineFloor on d26min.
/// </summary>
public sealed class EngineCompatibilityTests
{
    private static EngineEndpoint Endpoint => EngineEndpoint.Parse(System.Environment.GetEnvironmentVariable("DOCKER_HOST"));

    [EngineFact("MODWSGI_TEST_MIN_API_VERSION"), Trait("Category", "EngineFloor")]
    public async Task OnAnEngineWithARaisedApiMinimum_TheClientSpeaksAVersionItAccepts()
    {
        var minimum = Version.Parse(System.Environment.GetEnvironmentVariable("MODWSGI_TEST_MIN_API_VERSION")!);
        // The version we used to send is refused there: the test engine really has the raised minimum.
        var old = Run.Process("curl", ["-s", "--unix-socket", Endpoint.SocketPath!, "http://engine/v1.41/version"]);
        Assert.Contains("too old", old.StdOut);

        using var engine = new DockerEngineClient(Endpoint);

        Assert.NotNull(await engine.InspectImageAsync("modwsgi/base:bookworm", CancellationToken.None));
        var version = await engine.GetApiVersionAsync(CancellationToken.None);
        Assert.True(version >= minimum, $"spoke {version}, the engine's minimum is {minimum}");
        Assert.True(version <= EngineApiVersion.Newest);
    }

    [EngineFact("MODWSGI_TEST_ENGINE"), Trait("Category", "EngineMatrix"), Trait("Category", "EngineFloor")]
    public async Task TheBaseImagesExport_GivesEveryLayerTheEngineReports()
    {
        using var work = new TempDirectory();
        using var engine = new DockerEngineClient(Endpoint);
        var inspect = await engine.InspectImageAsync("modwsgi/base:bookworm", CancellationToken.None);
        var baseImage = BaseImage.FromInspect("modwsgi/base:bookworm", inspect!);
        var cache = new BuildCache(work.Path);

        var layers = await BaseLayerExporter.EnsureAsync(engine, baseImage, cache, CancellationToken.None);

        Assert.Equal(baseImage.DiffIds, layers.Select(l => l.DiffId));
        Assert.All(layers, l => Assert.True(cache.Blobs.Contains(l.Blob.Digest)));
    }

    [EngineFact("MODWSGI_TEST_ENGINE"), Trait("Category", "EngineMatrix")]
    public async Task AnImageBuiltOnTheBase_LoadsIntoTheEngine_AndRuns()
    {
        using var work = new TempDirectory();
        using var engine = new DockerEngineClient(Endpoint);
        var inspect = await engine.InspectImageAsync("modwsgi/base:bookworm", CancellationToken.None);
        var baseImage = BaseImage.FromInspect("modwsgi/base:bookworm", inspect!);
        var cache = new BuildCache(work.Path);
        var text = "loaded into " + System.Environment.GetEnvironmentVariable("MODWSGI_TEST_ENGINE");
        var layer = await LayerWriter.WriteAsync(cache.Blobs, DateTimeOffset.UnixEpoch, w =>
            w.AddFileAsync("greeting.txt", (UnixFileMode)0b110_100_100, 0, 0, new MemoryStream(System.Text.Encoding.UTF8.GetBytes(text)), CancellationToken.None));
        var config = ImageConfigWriter.Write(baseImage, [new AddedLayer(layer, "greeting")],
            new ImageSettings { Cmd = ["cat", "/greeting.txt"], Env = baseImage.Env }, DateTimeOffset.UnixEpoch);
        // Fully qualified: the containerd store keeps a short name literally (see ENGINES.md).
        var image = $"docker.io/library/loadcheck-{Guid.NewGuid():N}"[..46] + ":1";
        try
        {
            await new EngineImageLoader(engine, cache).LoadAsync(config, baseImage, [layer], [image], CancellationToken.None);

            var run = Run.Process("docker", ["run", "--rm", image]);
            Assert.True(run.ExitCode == 0, run.Output);
            Assert.Equal(text, run.StdOut.Trim());
        }
        finally
        {
            Run.Docker("rmi", "-f", image);
        }
    }
}

/// <summary>A fact that runs only when <paramref name="variable"/> is set (by eng/engines.sh env NAME).</summary>
public sealed class EngineFactAttribute : FactAttribute
{
    public EngineFactAttribute(string variable)
    {
        if (string.IsNullOrEmpty(System.Environment.GetEnvironmentVariable(variable)))
            Skip = $"SKIPPED: needs an engine from eng/engines.sh that sets {variable}: eval \"$(eng/engines.sh env NAME)\" first.";
    }
}
