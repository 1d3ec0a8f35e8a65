using System.Collections.Concurrent;
using System.Net;
using System.Web;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Registry;

namespace ModWsgi.Core.Tests;

internal sealed record Recorded(string Method, Uri Uri, string? Authorization, string? ContentType, byte[]? Body)
{
    public string Accept { get; init; } = "";

    public string? ContentRange { get; init; }

    public HttpStatusCode Status { get; set; }
}

/// <summary>
/// An in-memory registry (and token service) speaking the distribution API a push uses: HEAD, monolithic and
/// chunked uploads (PATCH with Content-Range, GET of the upload's status), cross-repository mounts, manifests.
/// <see cref="Fault"/> answers (or throws, or stalls) before the registry does, to inject failures.
/// </summary>
internal sealed class FakeDistributionRegistry : HttpMessageHandler
{
    private int _uploads;

    public List<Recorded> Requests { get; } = [];
    public HashSet<string> Blobs { get; } = [];
    public Dictionary<string, byte[]> BlobBytes { get; } = [];

    /// <summary>Upload sessions by path: the bytes received so far.</summary>
    public ConcurrentDictionary<string, List<byte>> Sessions { get; } = new();

    /// <summary>(repository, digest) pairs a mount may take the blob from.</summary>
    public HashSet<(string From, string Digest)> Mountable { get; } = [];

    public Func<int, string> UploadLocation { get; set; } = n => $"/v2/team/app/blobs/uploads/{n}?_state=s{n}";
    public string? Challenge { get; set; }
    public string? AcceptedAuthorization { get; set; }
    public string TokenJson { get; set; } = """{"token":"tok-123"}""";
    public HttpStatusCode ManifestStatus { get; set; } = HttpStatusCode.Created;
    public string ManifestError { get; set; } = "";
    public Exception? Fail { get; set; }
    public Dictionary<string, string> ManifestDigests { get; } = [];

    /// <summary>Set: the Docker-Content-Digest the registry claims for every blob and manifest it stores.</summary>
    public string? ClaimedDigest { get; set; }

    /// <summary>Runs first for every request: an answer, null to let the registry answer, or an exception.</summary>
    public Func<Recorded, CancellationToken, Task<HttpResponseMessage?>>? Fault { get; set; }

    public IEnumerable<Recorded> Matching(string method, string pathPart) =>
        Requests.Where(r => r.Method == method && r.Uri.AbsolutePath.Contains(pathPart, StringComparison.Ordinal));

    /// <summary>What a broken connection leaves: the first <paramref name="count"/> bytes of the PATCH body were received.</summary>
    public void Receive(Recorded patch, int count) => Sessions[patch.Uri.AbsolutePath].AddRange(patch.Body!.Take(count));

    public static HttpResponseMessage Status(HttpStatusCode status, string? retryAfter = null)
    {
        var response = new HttpResponseMessage(status);
        if (retryAfter is not null)
            response.Headers.TryAddWithoutValidation("Retry-After", retryAfter);
        return response;
    }

    /// <summary>A connection the peer reset mid-exchange, as SocketsHttpHandler reports it.</summary>
    public static HttpRequestException Reset() =>
        new("An error occurred while sending the request.", new IOException("Connection reset by peer"));

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (Fail is not null)
            throw Fail;
        var body = request.Content is null ? null : await request.Content.ReadAsByteArrayAsync(cancellationToken);
        var recorded = new Recorded(request.Method.Method, request.RequestUri!, request.Headers.Authorization?.ToString(),
            request.Content?.Headers.ContentType?.MediaType, body)
        {
            Accept = request.Headers.Accept.ToString(),
            ContentRange = request.Content?.Headers.TryGetValues("Content-Range", out var range) == true ? range.First() : null,
        };
        lock (Requests)
            Requests.Add(recorded);
        var response = (Fault is null ? null : await Fault(recorded, cancellationToken)) ?? Answer(recorded);
        recorded.Status = response.StatusCode;
        response.RequestMessage = request;
        return response;
    }

    private HttpResponseMessage Answer(Recorded request)
    {
        if (request.Uri.Host == "auth.example.com")
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(TokenJson) };
        var onRegistry = request.Uri.Host != "uploads.example.com";
        if (onRegistry && AcceptedAuthorization is not null && request.Authorization != AcceptedAuthorization)
        {
            var unauthorized = new HttpResponseMessage(HttpStatusCode.Unauthorized);
            unauthorized.Headers.TryAddWithoutValidation("WWW-Authenticate", Challenge);
            return unauthorized;
        }
        var path = request.Uri.AbsolutePath;
        var query = HttpUtility.ParseQueryString(request.Uri.Query);
        if (request.Method == "HEAD" && path.Contains("/blobs/sha256:"))
            return new HttpResponseMessage(Blobs.Contains(path[(path.LastIndexOf('/') + 1)..]) ? HttpStatusCode.OK : HttpStatusCode.NotFound);
        if (request.Method == "POST" && path.EndsWith("/blobs/uploads/", StringComparison.Ordinal))
        {
            if (query["mount"] is { } mount && query["from"] is { } from && Mountable.Contains((from, mount)))
            {
                Blobs.Add(mount);
                return Created(mount);
            }
            var location = UploadLocation(++_uploads);
            Sessions[new Uri(request.Uri, location).AbsolutePath] = [];
            var accepted = new HttpResponseMessage(HttpStatusCode.Accepted);
            accepted.Headers.TryAddWithoutValidation("Location", location);
            accepted.Headers.TryAddWithoutValidation("Range", "0-0");
            return accepted;
        }
        if (path.Contains("/blobs/uploads/") && request.Method is "PATCH" or "GET")
        {
            if (!Sessions.TryGetValue(path, out var received))
                return new HttpResponseMessage(HttpStatusCode.NotFound) { Content = new StringContent("""{"errors":[{"code":"BLOB_UPLOAD_UNKNOWN"}]}""") };
            if (request.Method == "PATCH")
            {
                var start = request.ContentRange is { } range ? long.Parse(range[..range.IndexOf('-')]) : received.Count;
                if (start != received.Count)
                    return new HttpResponseMessage(HttpStatusCode.RequestedRangeNotSatisfiable);
                received.AddRange(request.Body!);
            }
            var status = new HttpResponseMessage(request.Method == "PATCH" ? HttpStatusCode.Accepted : HttpStatusCode.NoContent);
            status.Headers.TryAddWithoutValidation("Location", $"{path}?_state=at{received.Count}");
            status.Headers.TryAddWithoutValidation("Range", $"0-{received.Count - 1}");
            return status;
        }
        if (request.Method == "PUT" && query["digest"] is { } digest)
        {
            var bytes = (Sessions.TryRemove(path, out var received) ? received : []).Concat(request.Body ?? []).ToArray();
            if (Digests.Sha256(bytes) != digest)
                return new HttpResponseMessage(HttpStatusCode.BadRequest) { Content = new StringContent("""{"errors":[{"code":"DIGEST_INVALID"}]}""") };
            Blobs.Add(digest);
            BlobBytes[digest] = bytes;
            return Created(digest);
        }
        if (request.Method == "HEAD" && path.Contains("/manifests/"))
        {
            if (!ManifestDigests.TryGetValue(path[(path.LastIndexOf('/') + 1)..], out var manifestDigest))
                return new HttpResponseMessage(HttpStatusCode.NotFound);
            var found = new HttpResponseMessage(HttpStatusCode.OK);
            found.Headers.TryAddWithoutValidation("Docker-Content-Digest", manifestDigest);
            return found;
        }
        if (request.Method == "PUT" && path.Contains("/manifests/"))
            return ManifestStatus == HttpStatusCode.Created ? Created(Digests.Sha256(request.Body!)) : new HttpResponseMessage(ManifestStatus) { Content = new StringContent(ManifestError) };
        return new HttpResponseMessage(HttpStatusCode.NotFound);
    }

    private HttpResponseMessage Created(string digest)
    {
        var created = new HttpResponseMessage(HttpStatusCode.Created);
        created.Headers.TryAddWithoutValidation("Docker-Content-Digest", ClaimedDigest ?? digest);
        return created;
    }
}

internal sealed class FixedCredentials(RegistryCredential? credential) : ICredentialStore
{
    public Task<RegistryCredential?> GetAsync(string registry, CancellationToken ct) => Task.FromResult(credential);
}

/// <summary>A clock whose timers fire at once: retries do not sleep, and the waits asked for are recorded.</summary>
internal sealed class InstantTimeProvider : TimeProvider
{
    public ConcurrentQueue<TimeSpan> Delays { get; } = new();

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        if (dueTime != Timeout.InfiniteTimeSpan)
        {
            Delays.Enqueue(dueTime);
            ThreadPool.QueueUserWorkItem(_ => callback(state));
        }
        return new Fired();
    }

    private sealed class Fired : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period) => false;

        public void Dispose()
        {
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
