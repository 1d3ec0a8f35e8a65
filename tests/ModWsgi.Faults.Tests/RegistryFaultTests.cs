using System.Formats.Tar;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Registry;
using Xunit.Abstractions;

namespace ModWsgi.Faults.Tests;

/// <summary>
/// Pushes to Debian's docker-registry through <see cref="FaultProxy"/>, which injects 503s, 429s with Retry-After,
/// connection resets (before the registry sees a request, halfway through its body, after it answered) and stalls.
/// The pushes must succeed, and skopeo, talking to the registry directly, must find the image whole.
/// </summary>
public sealed class RegistryFaultTests(ITestOutputHelper output)
{
    private const int ChunkSize = 1024 * 1024;

    [DockerFact]
    public async Task Push_ThroughEveryKindOfTransientFault_Succeeds_AndSkopeoReadsAndVerifiesTheImage()
    {
        using var registry = LocalRegistry.Start();
        using var proxy = new FaultProxy(registry.Host);
        using var work = new TempDirectory("modwsgi-registry-faults");
        var blobs = new FileBlobStore(work.Path);
        var image = NoiseImage(blobs, 3 * ChunkSize + 12345); // 4 PATCH chunks
        const string repository = "e2e/flaky";
        var uploads = $"/v2/{repository}/blobs/uploads/.*";
        proxy.Add(new FaultRule(FaultKind.ServiceUnavailable, "HEAD", $"/v2/{repository}/blobs/sha256:.*") { Times = 2 })
            .Add(new FaultRule(FaultKind.TooManyRequests, "POST", $"/v2/{repository}/blobs/uploads/") { RetryAfterSeconds = 2 })
            // The second chunk is cut off before the registry sees it; the third after 300 KB of it arrived.
            .Add(new FaultRule(FaultKind.ResetBeforeForwarding, "PATCH", uploads) { Skip = 1 })
            .Add(new FaultRule(FaultKind.ResetMidBody, "PATCH", uploads) { Skip = 3, BodyBytesForwarded = 300 * 1024 })
            // The registry completes the layer's upload, but the answer is lost.
            .Add(new FaultRule(FaultKind.LoseTheAnswer, "PUT", $"{uploads}digest=sha256%3A{image.Layers[0].Blob.Digest[7..]}"))
            .Add(new FaultRule(FaultKind.Stall, "PUT", $"/v2/{repository}/manifests/v1") { StallFor = TimeSpan.FromSeconds(30) });
        var log = new CollectingLogger(output);
        var client = new RegistryClient(Options(), Credentials(registry, work), log);
        var started = DateTime.UtcNow;

        var result = await client.PushAsync(image, blobs, proxy.Host, repository, ["v1"], CancellationToken.None);

        output.WriteLine($"push took {(DateTime.UtcNow - started).TotalSeconds:0.0} s; injected:\n  " + string.Join("\n  ", proxy.Injected));
        Assert.Equal(image.Digest, result.Digest);
        Assert.Equal(
            [FaultKind.ServiceUnavailable, FaultKind.TooManyRequests, FaultKind.ResetBeforeForwarding, FaultKind.ResetMidBody, FaultKind.LoseTheAnswer, FaultKind.Stall],
            proxy.Injected.Select(i => i.Kind).Distinct().Order());
        Assert.Equal(2, proxy.Injected.Count(i => i.Kind == FaultKind.ServiceUnavailable));
        // The chunk reset before the registry saw it resumes where the registry stopped: at the second chunk, not at 0.
        Assert.Contains(log.Messages, m => m.Contains($"holds {ChunkSize} bytes of layer") && m.Contains("resuming there"));
        Assert.Contains(log.Messages, m => m.Contains("(429 Too Many Requests); retrying in 2.0 s"));
        Assert.Contains(log.Messages, m => m.Contains("no answer within 3 seconds") && m.Contains("manifest for tag v1"));
        Assert.True(proxy.Requests.Count(r => r.StartsWith("GET ", StringComparison.Ordinal)) >= 2, string.Join("\n", proxy.Requests));
        // docker-registry 2.8 cannot resume an upload whose chunk was cut off halfway (the bytes it kept no longer
        // match the offset in the upload's state): it drops the session (GET: 404), and the upload starts again. Had it
        // read none of the cut chunk before the reset, it would report the two chunks before it and resume.
        Assert.Contains(log.Messages, m => (m.Contains("dropped the upload of layer") && m.Contains("starting it again"))
            || m.Contains($"holds {2 * ChunkSize} bytes of layer"));

        // Straight to the registry, not through the proxy.
        var inspect = JsonNode.Parse(Skopeo(registry, "inspect", "--tls-verify=false", "--creds", $"{registry.Username}:{registry.Password}",
            $"docker://{registry.Host}/{repository}:v1"))!;
        Assert.Equal(image.Digest, inspect["Digest"]!.GetValue<string>());
        Assert.Equal([image.Layers[0].Blob.Digest], inspect["Layers"]!.AsArray().Select(l => l!.GetValue<string>()));
        // A copy reads every blob and checks it against its digest.
        Skopeo(registry, "copy", "--insecure-policy", "--src-tls-verify=false", "--src-creds", $"{registry.Username}:{registry.Password}",
            $"docker://{registry.Host}/{repository}:v1", $"oci:{Path.Combine(work.Path, "copy")}:v1");
        var copied = Path.Combine(work.Path, "copy", "blobs", "sha256", image.Layers[0].Blob.Digest[7..]);
        Assert.Equal(File.ReadAllBytes(blobs.PathOf(image.Layers[0].Blob.Digest)), File.ReadAllBytes(copied));
    }

    [DockerFact]
    public async Task Push_ToARegistryThatStays503_FailsCoded_AsUnavailable_AndTagsNothing()
    {
        using var registry = LocalRegistry.Start();
        using var proxy = new FaultProxy(registry.Host);
        using var work = new TempDirectory("modwsgi-registry-faults");
        var blobs = new FileBlobStore(work.Path);
        var image = NoiseImage(blobs, 1000);
        proxy.Add(new FaultRule(FaultKind.ServiceUnavailable, "PUT", "/v2/e2e/down/manifests/.*") { Times = int.MaxValue });
        var client = new RegistryClient(Options() with { Retry = FastRetry with { MaxRetries = 2 } }, Credentials(registry, work), new CollectingLogger(output));

        var error = await Assert.ThrowsAsync<ModWsgiException>(() => client.PushAsync(image, blobs, proxy.Host, "e2e/down", ["v1"], CancellationToken.None));

        output.WriteLine(error.Message);
        Assert.Equal(DiagnosticCodes.RegistryUnavailable, error.Code);
        Assert.Contains("503 Service Unavailable (UNAVAILABLE: injected by the fault proxy) (tried 3 times)", error.Message);
        Assert.Equal(3, proxy.Injected.Count);
        var missing = Run.Process("skopeo", ["inspect", "--tls-verify=false", "--creds", $"{registry.Username}:{registry.Password}", $"docker://{registry.Host}/e2e/down:v1"]);
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("manifest unknown", missing.Output, StringComparison.OrdinalIgnoreCase);
    }

    [DockerFact]
    public async Task Push_ThroughAProxyThatRewritesTheManifestDigest_IsCoded()
    {
        using var registry = LocalRegistry.Start();
        using var proxy = new FaultProxy(registry.Host);
        using var work = new TempDirectory("modwsgi-registry-faults");
        var blobs = new FileBlobStore(work.Path);
        var image = NoiseImage(blobs, 1000);
        proxy.Add(new FaultRule(FaultKind.RewriteDigest, "PUT", "/v2/e2e/tampered/manifests/v1") { Times = int.MaxValue });
        var client = new RegistryClient(Options(), Credentials(registry, work), new CollectingLogger(output));

        var error = await Assert.ThrowsAsync<ModWsgiException>(() => client.PushAsync(image, blobs, proxy.Host, "e2e/tampered", ["v1"], CancellationToken.None));

        Assert.Equal(DiagnosticCodes.RegistryDigestMismatch, error.Code);
        Assert.Contains("sha256:" + new string('0', 64), error.Message);
        Assert.Contains(image.Digest, error.Message);
    }

    [DockerFact]
    public async Task Push_OfTheSameImageToAnotherRepository_MountsEveryBlob_InsteadOfUploading()
    {
        using var registry = LocalRegistry.Start();
        using var proxy = new FaultProxy(registry.Host);
        using var work = new TempDirectory("modwsgi-registry-mount");
        var blobs = new FileBlobStore(work.Path);
        var image = NoiseImage(blobs, 2 * ChunkSize);
        var record = new FilePushedBlobRecord(Path.Combine(work.Path, "record"));
        var client = new RegistryClient(Options() with { PushedBlobs = record }, Credentials(registry, work), new CollectingLogger(output));
        await client.PushAsync(image, blobs, proxy.Host, "e2e/first", ["v1"], CancellationToken.None);

        var second = await client.PushAsync(image, blobs, proxy.Host, "e2e/second", ["v1"], CancellationToken.None);

        Assert.Equal((0, 2, 0), (second.BlobsUploaded, second.BlobsMounted, second.BlobsSkipped));
        var toSecond = proxy.Requests.Where(r => r.Contains("/v2/e2e/second/", StringComparison.Ordinal)).ToArray();
        Assert.Equal(2, toSecond.Count(r => r.StartsWith("POST ", StringComparison.Ordinal) && r.Contains("?mount=sha256%3A") && r.Contains("&from=e2e%2Ffirst")));
        Assert.DoesNotContain(toSecond, r => r.StartsWith("PATCH ", StringComparison.Ordinal) || (r.StartsWith("PUT ", StringComparison.Ordinal) && r.Contains("/blobs/")));
        var inspect = JsonNode.Parse(Skopeo(registry, "inspect", "--tls-verify=false", "--creds", $"{registry.Username}:{registry.Password}",
            $"docker://{registry.Host}/e2e/second:v1"))!;
        Assert.Equal(image.Digest, inspect["Digest"]!.GetValue<string>());
        Skopeo(registry, "copy", "--insecure-policy", "--src-tls-verify=false", "--src-creds", $"{registry.Username}:{registry.Password}",
            $"docker://{registry.Host}/e2e/second:v1", $"oci:{Path.Combine(work.Path, "copy")}:v1");
    }

    /// <summary>Real waits, kept short; a 3 s limit per request so a stall is noticed quickly.</summary>
    private static RegistryRetryOptions FastRetry => new() { BaseDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromSeconds(1) };

    private static RegistryClientOptions Options() => new()
    {
        Retry = FastRetry,
        UploadChunkSize = ChunkSize,
        RequestTimeout = TimeSpan.FromSeconds(3),
    };

    internal static IReadOnlyDictionary<string, string?> CredentialVariables(LocalRegistry registry) => new Dictionary<string, string?>
    {
        ["DOTNET_CONTAINER_REGISTRY_UNAME"] = registry.Username,
        ["DOTNET_CONTAINER_REGISTRY_PWORD"] = registry.Password,
    };

    private static DockerConfigCredentialStore Credentials(LocalRegistry registry, TempDirectory work)
    {
        var variables = CredentialVariables(registry);
        return new DockerConfigCredentialStore(variables.GetValueOrDefault, Path.Combine(work.Path, "absent", "config.json"));
    }

    internal static string Skopeo(LocalRegistry registry, params string[] args)
    {
        var result = Run.Process("skopeo", args, timeout: TimeSpan.FromMinutes(2));
        Assert.True(result.ExitCode == 0, $"skopeo {string.Join(' ', args).Replace(registry.Password, "***")} failed ({result.ExitCode}):\n{result.Output}");
        return result.StdOut;
    }

    /// <summary>One gzip layer: hello.txt and <paramref name="noiseBytes"/> of incompressible bytes, so the blob is about that size.</summary>
    private static OciImage NoiseImage(FileBlobStore blobs, int noiseBytes)
    {
        var noise = new byte[noiseBytes];
        new Random(noiseBytes).NextBytes(noise);
        return TestImages.SingleLayer(blobs, [("hello.txt", Encoding.UTF8.GetBytes("hello through a flaky registry\n")), ("noise.bin", noise)],
            CompressionLevel.Fastest);
    }

    /// <summary>Keeps the client's messages for assertions and shows them in the test output.</summary>
    private sealed class CollectingLogger(ITestOutputHelper output) : ILogger
    {
        private readonly List<string> _messages = [];

        public IReadOnlyList<string> Messages
        {
            get
            {
                lock (_messages)
                    return [.. _messages];
            }
        }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
                return;
            var message = formatter(state, exception);
            lock (_messages)
                _messages.Add(message);
            try
            {
                output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel}: {message}");
            }
            catch (InvalidOperationException)
            {
                // The test has ended (a late background message).
            }
        }
    }
}

/// <summary>
/// Issue 12's registry row through the front end users run: `dotnet build -t:PublishImage` on the fault engine,
/// pushing through <see cref="FaultProxy"/> (a 503, a chunk cut off halfway, a lost answer, a 429) succeeds, the
/// registry holds the image skopeo can copy, and nothing is left on the engine.
/// </summary>
[Collection(FaultsCollection.Name)]
public sealed class RegistryPublishFaultTests(SdkFixture sdk, FaultEngine engine) : IDisposable
{
    private readonly TempDirectory _project = new("modwsgi-fault-registry");

    [DockerFact]
    public void PublishImage_ToAFlakyRegistry_Succeeds_AndLeavesNothingBehind()
    {
        using var registry = LocalRegistry.Start();
        using var proxy = new FaultProxy(registry.Host);
        using var copy = new TempDirectory("modwsgi-fault-copy");
        const string repository = "e2e/flakybuild";
        proxy.Add(new FaultRule(FaultKind.ServiceUnavailable, "HEAD", $"/v2/{repository}/blobs/sha256:.*") { Skip = 1 })
            // The base layers are over the 16 MiB chunk size: the first chunk is cut off after 1 MiB.
            .Add(new FaultRule(FaultKind.ResetMidBody, "PATCH", $"/v2/{repository}/blobs/uploads/.*") { BodyBytesForwarded = 1024 * 1024 })
            .Add(new FaultRule(FaultKind.LoseTheAnswer, "PUT", $"/v2/{repository}/blobs/uploads/.*") { Skip = 1 })
            .Add(new FaultRule(FaultKind.TooManyRequests, "PUT", $"/v2/{repository}/manifests/latest") { RetryAfterSeconds = 1 });
        _project.Write("wsgi.py", "def application(environ, start_response):\n    start_response('200 OK', [])\n    return [b'ok']\n");
        var project = sdk.WriteProject(_project.Path, "flaky");
        var environment = new Dictionary<string, string?>(engine.BuildEnvironment);
        foreach (var (name, value) in RegistryFaultTests.CredentialVariables(registry))
            environment[name] = value;

        var build = sdk.PublishImage(project, environment, "ContainerRepository=" + repository, "ContainerRegistry=" + proxy.Host);

        Assert.True(build.ExitCode == 0, "PublishImage through the fault proxy failed:\n" + build.Output + "\ninjected:\n" + string.Join("\n", proxy.Injected));
        Assert.Equal([FaultKind.ServiceUnavailable, FaultKind.TooManyRequests, FaultKind.ResetMidBody, FaultKind.LoseTheAnswer],
            proxy.Injected.Select(i => i.Kind).Order());
        Assert.Contains("retrying in", build.Output);
        // A retry that worked is news, not a warning (which -warnaserror would turn into a failed build).
        Assert.DoesNotContain(build.Output.Split('\n'), l => l.Contains("retrying in") && l.Contains("warning", StringComparison.OrdinalIgnoreCase));
        var inspect = JsonNode.Parse(RegistryFaultTests.Skopeo(registry, "inspect", "--tls-verify=false", "--creds", $"{registry.Username}:{registry.Password}",
            $"docker://{registry.Host}/{repository}:latest"))!;
        Assert.Contains(inspect["Digest"]!.GetValue<string>(), build.Output);
        RegistryFaultTests.Skopeo(registry, "copy", "--insecure-policy", "--src-tls-verify=false", "--src-creds", $"{registry.Username}:{registry.Password}",
            $"docker://{registry.Host}/{repository}:latest", $"oci:{Path.Combine(copy.Path, "image")}:latest");
        Assert.Empty(engine.Containers());
    }

    public void Dispose() => _project.Dispose();
}
