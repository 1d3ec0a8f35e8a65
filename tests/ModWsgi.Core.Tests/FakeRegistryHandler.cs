using System.Net;
using System.Web;
using ModWsgi.Core.Oci;

namespace ModWsgi.Core.Tests;

/// <summary>A registry in memory (no auth) speaking the part of the distribution API a push and its up-to-date check use.</summary>
internal sealed class FakeRegistryHandler : HttpMessageHandler
{
    private int _uploads;

    public HashSet<string> Blobs { get; } = [];

    /// <summary>Manifests by repository path and tag, e.g. "team/app:latest".</summary>
    public Dictionary<string, byte[]> Manifests { get; } = [];

    public List<string> Requests { get; } = [];

    /// <summary>Set: every request fails as an unreachable host does.</summary>
    public bool Down { get; set; }

    public int Count(string method, string pathPart) => Requests.Count(r => r.StartsWith(method + " ", StringComparison.Ordinal) && r.Contains(pathPart, StringComparison.Ordinal));

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var path = request.RequestUri!.AbsolutePath;
        Requests.Add($"{request.Method} {path}");
        if (Down)
            throw new HttpRequestException("Connection refused (fake registry down)");
        var body = request.Content is null ? null : await request.Content.ReadAsByteArrayAsync(cancellationToken);
        if (path.Contains("/manifests/"))
        {
            var key = path["/v2/".Length..].Replace("/manifests/", ":");
            if (request.Method == HttpMethod.Put)
            {
                Manifests[key] = body!;
                return new HttpResponseMessage(HttpStatusCode.Created);
            }
            if (!Manifests.TryGetValue(key, out var manifest))
                return new HttpResponseMessage(HttpStatusCode.NotFound);
            var found = new HttpResponseMessage(HttpStatusCode.OK);
            found.Headers.TryAddWithoutValidation("Docker-Content-Digest", Digests.Sha256(manifest));
            return found;
        }
        if (request.Method == HttpMethod.Head && path.Contains("/blobs/sha256:"))
            return new HttpResponseMessage(Blobs.Contains(path[(path.LastIndexOf('/') + 1)..]) ? HttpStatusCode.OK : HttpStatusCode.NotFound);
        if (request.Method == HttpMethod.Post && path.EndsWith("/blobs/uploads/", StringComparison.Ordinal))
        {
            var accepted = new HttpResponseMessage(HttpStatusCode.Accepted);
            accepted.Headers.TryAddWithoutValidation("Location", $"{path}{++_uploads}");
            return accepted;
        }
        if (request.Method == HttpMethod.Put && HttpUtility.ParseQueryString(request.RequestUri.Query)["digest"] is { } digest)
        {
            if (Digests.Sha256(body!) != digest)
                return new HttpResponseMessage(HttpStatusCode.BadRequest);
            Blobs.Add(digest);
            return new HttpResponseMessage(HttpStatusCode.Created);
        }
        return new HttpResponseMessage(HttpStatusCode.NotFound);
    }
}
