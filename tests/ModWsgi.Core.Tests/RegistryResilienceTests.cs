using System.Net;
using System.Text;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Registry;

namespace ModWsgi.Core.Tests;

/// <summary>The registry client against a flaky registry: retries, chunked uploads that resume, mounts, digest checks.</summary>
public sealed class RegistryResilienceTests : IDisposable
{
    private const string Registry = "registry.example.com";
    private const string Repository = "team/app";

    private readonly string _directory = Directory.CreateTempSubdirectory("modwsgi-registry-faults-").FullName;
    private readonly FileBlobStore _blobs;
    private readonly FakeDistributionRegistry _registry = new();
    private readonly InstantTimeProvider _clock = new();
    private readonly ListLogger _log = new();

    public RegistryResilienceTests() => _blobs = new FileBlobStore(Path.Combine(_directory, "blobs"));

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private RegistryClientOptions Options(long chunkSize = 16 * 1024 * 1024, IPushedBlobRecord? record = null, TimeSpan? requestTimeout = null) => new()
    {
        HttpHandler = _registry,
        Retry = new RegistryRetryOptions { TimeProvider = _clock },
        UploadChunkSize = chunkSize,
        PushedBlobs = record,
        RequestTimeout = requestTimeout ?? TimeSpan.FromSeconds(100),
    };

    private Task<RegistryPushResult> Push(OciImage image, RegistryClientOptions? options = null, string repository = Repository) =>
        new RegistryClient(options ?? Options(), new FixedCredentials(null), _log).PushAsync(image, _blobs, Registry, repository, ["1.0"], CancellationToken.None);

    private OciImage SmallImage() => RegistryClientTests.TestImage(_blobs, "layer one", "layer two");

    /// <summary>An image with one layer of <paramref name="size"/> pseudo-random bytes.</summary>
    private OciImage ImageWithLayerOf(int size)
    {
        var random = new Random(size);
        // ASCII, so TestImage's UTF-8 bytes are exactly size long.
        return RegistryClientTests.TestImage(_blobs, new string(Enumerable.Range(0, size).Select(_ => (char)random.Next('a', 'z' + 1)).ToArray()));
    }

    private Func<Recorded, CancellationToken, Task<HttpResponseMessage?>> FailFirst(Func<Recorded, bool> which, int times, Func<Recorded, HttpResponseMessage> answer)
    {
        var left = times;
        return (request, _) => Task.FromResult(which(request) && left-- > 0 ? answer(request) : null);
    }

    [Fact]
    public async Task A503_OnAnyIdempotentStep_IsRetriedWithBackoff_AndThePushSucceeds()
    {
        var image = SmallImage();
        _registry.Fault = FailFirst(r => r.Method == "HEAD", 2, _ => FakeDistributionRegistry.Status(HttpStatusCode.ServiceUnavailable));

        var result = await Push(image);

        Assert.Equal((3, 0), (result.BlobsUploaded, result.BlobsSkipped));
        Assert.Equal(3, _registry.Matching("HEAD", image.Layers[0].Blob.Digest).Count());
        Assert.Equal(2, _clock.Delays.Count);
        Assert.All(_clock.Delays, d => Assert.InRange(d, TimeSpan.Zero, TimeSpan.FromSeconds(30)));
        Assert.Equal(2, _log.Messages.Count(m => m.Contains("503") && m.Contains("retrying")));
    }

    [Theory]
    [InlineData("7", 7)]
    [InlineData("3600", 60)] // capped at MaxRetryAfter
    public async Task A429_WaitsTheRetryAfterItSends(string retryAfter, int expectedSeconds)
    {
        var image = SmallImage();
        _registry.Fault = FailFirst(r => r.Method == "PUT" && r.Uri.AbsolutePath.Contains("/manifests/"), 1,
            _ => FakeDistributionRegistry.Status(HttpStatusCode.TooManyRequests, retryAfter));

        var result = await Push(image);

        Assert.Equal(image.Digest, result.Digest);
        Assert.Equal([TimeSpan.FromSeconds(expectedSeconds)], _clock.Delays);
        Assert.Equal(2, _registry.Matching("PUT", "/manifests/").Count());
    }

    [Fact]
    public async Task A429_WithAnHttpDate_WaitsUntilThen()
    {
        var image = SmallImage();
        var until = DateTimeOffset.UtcNow.AddSeconds(20).ToString("R");
        _registry.Fault = FailFirst(r => r.Method == "POST", 1, _ => FakeDistributionRegistry.Status(HttpStatusCode.TooManyRequests, until));

        await Push(image);

        Assert.InRange(Assert.Single(_clock.Delays), TimeSpan.FromSeconds(17), TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task ARegistryThatKeepsAnswering503_IsCodedAsUnavailable_AfterEveryRetry_NotAsRejected()
    {
        _registry.Fault = (_, _) => Task.FromResult<HttpResponseMessage?>(new HttpResponseMessage(HttpStatusCode.ServiceUnavailable)
        {
            Content = new StringContent("""{"errors":[{"code":"UNAVAILABLE","message":"service unavailable"}]}"""),
        });

        var error = await Assert.ThrowsAsync<ModWsgiException>(() => Push(SmallImage()));

        Assert.Equal(DiagnosticCodes.RegistryUnavailable, error.Code);
        Assert.Contains("503", error.Message);
        Assert.Contains("UNAVAILABLE: service unavailable", error.Message);
        Assert.Contains("tried 6 times", error.Message);
        Assert.Equal(6, _registry.Requests.Count);
        Assert.Equal(5, _clock.Delays.Count);
    }

    [Theory]
    [InlineData(HttpStatusCode.BadRequest)]
    [InlineData(HttpStatusCode.NotImplemented)]
    [InlineData(HttpStatusCode.Forbidden)]
    public async Task APermanentRefusal_IsNotRetried(HttpStatusCode status)
    {
        _registry.ManifestStatus = status;

        var error = await Assert.ThrowsAsync<ModWsgiException>(() => Push(SmallImage()));

        Assert.Equal(DiagnosticCodes.RegistryRequestFailed, error.Code);
        Assert.Single(_registry.Matching("PUT", "/manifests/"));
        Assert.Empty(_clock.Delays);
    }

    [Fact]
    public async Task AnUploadStartedWithoutALocation_IsCoded_NotTakenForAnUpload()
    {
        _registry.Fault = FailFirst(r => r.Method == "POST", int.MaxValue, _ => FakeDistributionRegistry.Status(HttpStatusCode.Accepted));

        var error = await Assert.ThrowsAsync<ModWsgiException>(() => Push(SmallImage()));

        Assert.Equal(DiagnosticCodes.RegistryRequestFailed, error.Code);
        Assert.Contains("without an upload location", error.Message);
        Assert.DoesNotContain(_registry.Requests, r => r.Method == "PUT");
    }

    [Fact]
    public async Task AHostThatDoesNotResolve_IsNotRetried()
    {
        _registry.Fail = new HttpRequestException(HttpRequestError.NameResolutionError, "Name or service not known");

        var error = await Assert.ThrowsAsync<ModWsgiException>(() => Push(SmallImage()));

        Assert.Equal(DiagnosticCodes.RegistryUnreachable, error.Code);
        Assert.DoesNotContain("tried", error.Message);
        Assert.Empty(_clock.Delays);
    }

    [Fact]
    public async Task AConnectionResetDuringAWholeBlobPut_RestartsTheUpload_InANewSession()
    {
        var image = SmallImage();
        var layer = image.Layers[0].Blob.Digest;
        _registry.Fault = FailFirst(r => r.Method == "PUT" && r.Uri.Query.Contains(Uri.EscapeDataString(layer)), 1, _ => throw FakeDistributionRegistry.Reset());

        var result = await Push(image);

        Assert.Equal(3, result.BlobsUploaded);
        Assert.Equal(File.ReadAllBytes(_blobs.PathOf(layer)), _registry.BlobBytes[layer]);
        var puts = _registry.Requests.Where(r => r.Method == "PUT" && r.Uri.Query.Contains(Uri.EscapeDataString(layer))).ToArray();
        Assert.Equal(2, puts.Length);
        Assert.NotEqual(puts[0].Uri.AbsolutePath, puts[1].Uri.AbsolutePath); // a fresh upload session, not the broken one
        Assert.Equal(4, _registry.Matching("POST", "/blobs/uploads/").Count()); // 3 blobs + 1 restart
    }

    [Fact]
    public async Task AStalledRequest_TimesOut_AndIsRetried()
    {
        var image = SmallImage();
        var stalled = 0;
        _registry.Fault = async (request, ct) =>
        {
            if (request.Method == "HEAD" && Interlocked.Increment(ref stalled) == 1)
                await Task.Delay(Timeout.Infinite, ct);
            return null;
        };

        var result = await Push(image, Options(requestTimeout: TimeSpan.FromMilliseconds(300)));

        Assert.Equal(image.Digest, result.Digest);
        Assert.Single(_clock.Delays);
        Assert.Contains(_log.Messages, m => m.Contains("no answer within 0.3 seconds") && m.Contains("retrying"));
    }

    [Fact]
    public async Task ATokenServiceThatFailsOnce_IsAskedAgain()
    {
        _registry.Challenge = "Bearer realm=\"https://auth.example.com/token\",service=\"registry.example.com\"";
        _registry.AcceptedAuthorization = "Bearer tok-123";
        _registry.Fault = FailFirst(r => r.Uri.Host == "auth.example.com", 1, _ => FakeDistributionRegistry.Status(HttpStatusCode.BadGateway));
        var client = new RegistryClient(Options(), new FixedCredentials(new RegistryCredential("alice", "pw")), _log);

        await client.PushAsync(SmallImage(), _blobs, Registry, Repository, ["1.0"], CancellationToken.None);

        Assert.Equal(2, _registry.Requests.Count(r => r.Uri.Host == "auth.example.com"));
    }

    [Fact]
    public async Task ALargeBlob_GoesInChunks_WithContentRange_ThenAPutWithItsDigest()
    {
        var image = ImageWithLayerOf(10_000);
        var layer = image.Layers[0].Blob;

        await Push(image, Options(chunkSize: 4096));

        var upload = _registry.Requests.SkipWhile(r => r.Method != "POST").Take(5).ToArray();
        Assert.Equal(["POST", "PATCH", "PATCH", "PATCH", "PUT"], upload.Select(r => r.Method));
        Assert.Equal(["0-4095", "4096-8191", "8192-9999"], upload[1..4].Select(r => r.ContentRange));
        Assert.All(upload[1..4], r => Assert.Equal("application/octet-stream", r.ContentType));
        // Each PATCH goes to the Location the previous answer gave; the PUT carries no body.
        Assert.Equal("_state=at4096", upload[2].Uri.Query.TrimStart('?'));
        Assert.Equal($"?_state=at10000&digest={Uri.EscapeDataString(layer.Digest)}", upload[4].Uri.Query);
        Assert.Empty(upload[4].Body!);
        Assert.Equal(File.ReadAllBytes(_blobs.PathOf(layer.Digest)), _registry.BlobBytes[layer.Digest]);
        // The config (small) still goes in one PUT.
        Assert.Single(_registry.Requests, r => r.Method == "PUT" && r.Uri.Query.Contains(Uri.EscapeDataString(image.Config.Digest)) && r.Body!.Length > 0);
    }

    [Fact]
    public async Task AChunkCutOffMidway_ResumesFromTheRangeTheRegistryReports()
    {
        var image = ImageWithLayerOf(10_000);
        var layer = image.Layers[0].Blob;
        var patches = 0;
        _registry.Fault = (request, _) =>
        {
            // The second chunk: 1000 of its bytes arrive, then the connection breaks.
            if (request.Method == "PATCH" && ++patches == 2)
            {
                _registry.Receive(request, 1000);
                throw FakeDistributionRegistry.Reset();
            }
            return Task.FromResult<HttpResponseMessage?>(null);
        };

        var result = await Push(image, Options(chunkSize: 4096));

        Assert.Equal(2, result.BlobsUploaded);
        Assert.Equal(["0-4095", "4096-8191", "5096-9191", "9192-9999"],
            _registry.Requests.Where(r => r.Method == "PATCH").Select(r => r.ContentRange));
        Assert.Single(_registry.Requests, r => r.Method == "GET");
        Assert.Equal(2, _registry.Matching("POST", "/blobs/uploads/").Count()); // the layer's session and the config's: no restart
        Assert.Equal(File.ReadAllBytes(_blobs.PathOf(layer.Digest)), _registry.BlobBytes[layer.Digest]);
        Assert.Contains(_log.Messages, m => m.Contains("holds 5096 bytes of layer") && m.Contains("resuming there"));
    }

    [Fact]
    public async Task AnUploadTheRegistryDropped_StartsAgainFromByteZero()
    {
        var image = ImageWithLayerOf(10_000);
        var layer = image.Layers[0].Blob;
        var patches = 0;
        _registry.Fault = (request, _) =>
        {
            if (request.Method == "PATCH" && ++patches == 2)
            {
                _registry.Sessions.Clear(); // e.g. the registry restarted without its upload folder
                return Task.FromResult<HttpResponseMessage?>(FakeDistributionRegistry.Status(HttpStatusCode.InternalServerError));
            }
            return Task.FromResult<HttpResponseMessage?>(null);
        };

        await Push(image, Options(chunkSize: 4096));

        Assert.Equal(["0-4095", "4096-8191", "0-4095", "4096-8191", "8192-9999"],
            _registry.Requests.Where(r => r.Method == "PATCH").Select(r => r.ContentRange));
        Assert.Equal(HttpStatusCode.NotFound, Assert.Single(_registry.Requests, r => r.Method == "GET").Status);
        Assert.Equal(File.ReadAllBytes(_blobs.PathOf(layer.Digest)), _registry.BlobBytes[layer.Digest]);
    }

    [Fact]
    public async Task ALostAnswerToTheLastChunk_GoesStraightToThePut()
    {
        var image = ImageWithLayerOf(10_000);
        var layer = image.Layers[0].Blob;
        _registry.Fault = (request, _) =>
        {
            if (request.Method == "PATCH" && request.ContentRange == "8192-9999" && !_registry.Requests.Any(r => r.Method == "GET"))
            {
                _registry.Receive(request, request.Body!.Length);
                throw FakeDistributionRegistry.Reset();
            }
            return Task.FromResult<HttpResponseMessage?>(null);
        };

        await Push(image, Options(chunkSize: 4096));

        Assert.Equal(3, _registry.Requests.Count(r => r.Method == "PATCH"));
        Assert.Equal(File.ReadAllBytes(_blobs.PathOf(layer.Digest)), _registry.BlobBytes[layer.Digest]);
    }

    [Fact]
    public async Task ABlobPushedToAnotherRepositoryBefore_IsMountedFromIt_NotUploaded()
    {
        var image = SmallImage();
        var record = new FilePushedBlobRecord(Path.Combine(_directory, "record"));
        record.Record(Registry, "team/base", [image.Layers[0].Blob.Digest]);
        record.Record("other.example.com", "team/elsewhere", [image.Layers[1].Blob.Digest]);
        _registry.Mountable.Add(("team/base", image.Layers[0].Blob.Digest));

        var result = await Push(image, Options(record: record));

        Assert.Equal((2, 1, 0), (result.BlobsUploaded, result.BlobsMounted, result.BlobsSkipped));
        var mount = Assert.Single(_registry.Requests, r => r.Uri.Query.Contains("mount="));
        Assert.Equal($"?mount={Uri.EscapeDataString(image.Layers[0].Blob.Digest)}&from=team%2Fbase", mount.Uri.Query);
        Assert.Equal(HttpStatusCode.Created, mount.Status);
        Assert.DoesNotContain(_registry.Requests, r => r.Method == "PUT" && r.Uri.Query.Contains(Uri.EscapeDataString(image.Layers[0].Blob.Digest)));
        // The push is recorded: every blob is now also in team/app, newest first.
        Assert.Equal(["team/app", "team/base"], record.RepositoriesHolding(Registry, image.Layers[0].Blob.Digest));
        Assert.Equal(["team/app"], record.RepositoriesHolding(Registry, image.Config.Digest));
    }

    [Fact]
    public async Task AMountTheRegistryDeclines_UploadsIntoTheSessionIt202s()
    {
        var image = SmallImage();
        var record = new FilePushedBlobRecord(Path.Combine(_directory, "record"));
        record.Record(Registry, "team/gone", [image.Layers[0].Blob.Digest]);

        var result = await Push(image, Options(record: record));

        Assert.Equal((3, 0), (result.BlobsUploaded, result.BlobsMounted));
        var mount = Assert.Single(_registry.Requests, r => r.Uri.Query.Contains("mount="));
        Assert.Equal(HttpStatusCode.Accepted, mount.Status);
        var put = Assert.Single(_registry.Requests, r => r.Method == "PUT" && r.Uri.Query.Contains(Uri.EscapeDataString(image.Layers[0].Blob.Digest)));
        Assert.Equal("/v2/team/app/blobs/uploads/1", put.Uri.AbsolutePath); // the mount's session, no second POST for it
        Assert.Equal(3, _registry.Matching("POST", "/blobs/uploads/").Count());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AMountOnATokenRegistry_AsksForPullOnTheSourceToo_AndUploadsWhenRefused(bool tokenServiceGrantsTheSource)
    {
        var image = SmallImage();
        var record = new FilePushedBlobRecord(Path.Combine(_directory, "record"));
        record.Record(Registry, "team/base", [image.Layers[0].Blob.Digest]);
        _registry.Mountable.Add(("team/base", image.Layers[0].Blob.Digest));
        // Only the mount needs a token, one with pull on team/base, as distribution's token auth asks.
        _registry.Fault = (request, _) =>
        {
            if (request.Uri.Host == "auth.example.com")
            {
                var grants = tokenServiceGrantsTheSource && request.Uri.Query.Contains("scope=repository%3Ateam%2Fbase%3Apull");
                return Task.FromResult<HttpResponseMessage?>(new HttpResponseMessage(HttpStatusCode.OK)
                {
                    Content = new StringContent(grants ? """{"token":"tok-mount"}""" : """{"token":"tok-app"}"""),
                });
            }
            if (request.Uri.Query.Contains("mount=") && request.Authorization != "Bearer tok-mount")
            {
                var challenge = FakeDistributionRegistry.Status(HttpStatusCode.Unauthorized);
                challenge.Headers.TryAddWithoutValidation("WWW-Authenticate",
                    "Bearer realm=\"https://auth.example.com/token\",service=\"registry.example.com\",scope=\"repository:team/base:pull repository:team/app:pull,push\"");
                return Task.FromResult<HttpResponseMessage?>(challenge);
            }
            return Task.FromResult<HttpResponseMessage?>(null);
        };
        var client = new RegistryClient(Options(record: record), new FixedCredentials(new RegistryCredential("alice", "pw")), _log);

        var result = await client.PushAsync(image, _blobs, Registry, Repository, ["1.0"], CancellationToken.None);

        var tokenRequest = _registry.Requests.First(r => r.Uri.Host == "auth.example.com");
        Assert.Equal(["repository:team/app:pull,push", "repository:team/base:pull"],
            tokenRequest.Uri.Query.TrimStart('?').Split('&').Where(p => p.StartsWith("scope=")).Select(p => Uri.UnescapeDataString(p["scope=".Length..])));
        Assert.Equal(tokenServiceGrantsTheSource ? (1, 2) : (0, 3), (result.BlobsMounted, result.BlobsUploaded));
        Assert.Equal(image.Digest, result.Digest);
    }

    [Fact]
    public async Task ABlobDigestTheRegistryReportsDifferently_IsCoded()
    {
        _registry.ClaimedDigest = "sha256:" + new string('0', 64);

        var error = await Assert.ThrowsAsync<ModWsgiException>(() => Push(SmallImage()));

        Assert.Equal(DiagnosticCodes.RegistryDigestMismatch, error.Code);
        Assert.Contains("sha256:" + new string('0', 64), error.Message);
        Assert.Contains("uploading layer", error.Message);
        Assert.DoesNotContain(_registry.Requests, r => r.Uri.AbsolutePath.Contains("/manifests/"));
    }

    [Fact]
    public async Task AManifestDigestTheRegistryReportsDifferently_IsCoded()
    {
        var image = SmallImage();
        _registry.Fault = (request, _) => Task.FromResult<HttpResponseMessage?>(request.Method == "PUT" && request.Uri.AbsolutePath.Contains("/manifests/")
            ? WithDigest(HttpStatusCode.Created, Digests.Sha256(Encoding.UTF8.GetBytes("converted")))
            : null);

        var error = await Assert.ThrowsAsync<ModWsgiException>(() => Push(image));

        Assert.Equal(DiagnosticCodes.RegistryDigestMismatch, error.Code);
        Assert.Contains(image.Digest, error.Message);
        Assert.Contains("manifest for tag 1.0", error.Message);
    }

    private static HttpResponseMessage WithDigest(HttpStatusCode status, string digest)
    {
        var response = new HttpResponseMessage(status);
        response.Headers.TryAddWithoutValidation("Docker-Content-Digest", digest);
        return response;
    }

    [Fact]
    public void TheRecord_ListsRepositoriesNewestFirst_PerRegistry_AndIgnoresWhatIsNotADigest()
    {
        var record = new FilePushedBlobRecord(Path.Combine(_directory, "record"));
        var digest = "sha256:" + new string('a', 64);

        record.Record(Registry, "a/one", [digest, "not-a-digest", "sha256:../../etc"]);
        record.Record(Registry, "a/two", [digest]);
        record.Record(Registry, "a/one", [digest]);
        record.Record("REGISTRY.example.com", "a/three", [digest]);

        Assert.Equal(["a/three", "a/one", "a/two"], record.RepositoriesHolding(Registry, digest));
        Assert.Empty(record.RepositoriesHolding("other.example.com", digest));
        Assert.Empty(record.RepositoriesHolding(Registry, "sha256:" + new string('b', 64)));
        Assert.Empty(record.RepositoriesHolding(Registry, "sha256:../../etc"));
    }

    [Fact]
    public void TheRecord_KeepsAFileShort()
    {
        var record = new FilePushedBlobRecord(Path.Combine(_directory, "record"));
        var digest = "sha256:" + new string('c', 64);

        for (var i = 0; i < 40; i++)
            record.Record(Registry, $"r/{i}", [digest]);

        var holding = record.RepositoriesHolding(Registry, digest);
        Assert.Equal("r/39", holding[0]);
        Assert.InRange(holding.Count, 16, 17);
        Assert.DoesNotContain("r/0", holding);
    }
}
