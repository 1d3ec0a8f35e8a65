using System.Net;
using System.Text;
using System.Text.Json;
using System.Web;
using Microsoft.Extensions.Logging;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Registry;

namespace ModWsgi.Core.Tests;

public sealed class RegistryClientTests : IDisposable
{
    private const string Registry = "registry.example.com";
    private const string Repository = "team/app";

    private readonly string _directory = Directory.CreateTempSubdirectory("modwsgi-registry-").FullName;
    private readonly FileBlobStore _blobs;
    private readonly OciImage _image;
    private readonly FakeDistributionRegistry _registry = new();
    private readonly ListLogger _log = new();
    private readonly RegistryRetryOptions _retry = new() { TimeProvider = new InstantTimeProvider() };

    public RegistryClientTests()
    {
        _blobs = new FileBlobStore(_directory);
        _image = TestImage(_blobs, "layer one", "layer two");
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private Task<RegistryPushResult> Push(RegistryCredential? credential = null, IReadOnlyList<string>? tags = null,
        string registry = Registry, IReadOnlyList<string>? insecure = null)
    {
        var options = new RegistryClientOptions { HttpHandler = _registry, InsecureRegistries = insecure ?? [], Retry = _retry };
        var client = new RegistryClient(options, new FixedCredentials(credential), _log);
        return client.PushAsync(_image, _blobs, registry, Repository, tags ?? ["1.0"], CancellationToken.None);
    }

    [Fact]
    public async Task Push_SkipsBlobsTheRegistryHas_AndUploadsTheOthersWithTheirDigest()
    {
        var (present, missing) = (_image.Layers[0].Blob.Digest, _image.Layers[1].Blob.Digest);
        _registry.Blobs.Add(present);

        var result = await Push();

        Assert.Equal((2, 1), (result.BlobsUploaded, result.BlobsSkipped));
        Assert.Equal(_image.Digest, result.Digest);
        Assert.Equal(
            [
                $"HEAD /v2/team/app/blobs/{present}",
                $"HEAD /v2/team/app/blobs/{missing}",
                "POST /v2/team/app/blobs/uploads/",
                $"PUT /v2/team/app/blobs/uploads/1?_state=s1&digest={Uri.EscapeDataString(missing)}",
                $"HEAD /v2/team/app/blobs/{_image.Config.Digest}",
                "POST /v2/team/app/blobs/uploads/",
                $"PUT /v2/team/app/blobs/uploads/2?_state=s2&digest={Uri.EscapeDataString(_image.Config.Digest)}",
                "PUT /v2/team/app/manifests/1.0",
            ],
            _registry.Requests.Select(r => $"{r.Method} {r.Uri.PathAndQuery}"));
        Assert.Equal(File.ReadAllBytes(_blobs.PathOf(missing)), _registry.Requests[3].Body);
        Assert.Equal(_image.ConfigBytes, _registry.Requests[6].Body);
    }

    [Fact]
    public async Task Push_PutsTheManifestLast_OncePerTag_WithItsMediaType()
    {
        var result = await Push(tags: ["1.2.3", "1.2", "latest"]);

        var manifests = _registry.Requests.Where(r => r.Uri.AbsolutePath.Contains("/manifests/")).ToArray();
        Assert.Equal(["/v2/team/app/manifests/1.2.3", "/v2/team/app/manifests/1.2", "/v2/team/app/manifests/latest"], manifests.Select(r => r.Uri.AbsolutePath));
        Assert.All(manifests, m => Assert.Equal(MediaTypes.OciManifest, m.ContentType));
        Assert.All(manifests, m => Assert.Equal(_image.ManifestBytes, m.Body));
        Assert.Equal(manifests, _registry.Requests.TakeLast(3));
        Assert.Equal(["registry.example.com/team/app:1.2.3", "registry.example.com/team/app:1.2", "registry.example.com/team/app:latest"], result.Images);
        Assert.Equal((3, 0), (result.BlobsUploaded, result.BlobsSkipped));
    }

    [Fact]
    public async Task Push_FollowsAnAbsoluteUploadLocationWithoutQuery_AndKeepsAuthorizationOnTheRegistry()
    {
        _registry.UploadLocation = n => $"https://uploads.example.com/put/{n}";
        _registry.Challenge = "Basic realm=\"r\"";
        _registry.AcceptedAuthorization = Basic("alice", "pw");

        await Push(new RegistryCredential("alice", "pw"));

        var uploads = _registry.Requests.Where(r => r.Uri.Host == "uploads.example.com").ToArray();
        Assert.Equal(
            [$"https://uploads.example.com/put/1?digest={Uri.EscapeDataString(_image.Layers[0].Blob.Digest)}",
             $"https://uploads.example.com/put/2?digest={Uri.EscapeDataString(_image.Layers[1].Blob.Digest)}",
             $"https://uploads.example.com/put/3?digest={Uri.EscapeDataString(_image.Config.Digest)}"],
            uploads.Select(r => r.Uri.AbsoluteUri));
        Assert.All(uploads, u => Assert.Null(u.Authorization));
    }

    [Theory]
    [InlineData("token")]
    [InlineData("access_token")]
    public async Task Push_AnswersABearerChallenge_WithATokenFetchedWithBasicCredentials(string tokenField)
    {
        _registry.Challenge = "Bearer realm=\"https://auth.example.com/token\",service=\"registry.example.com\",scope=\"repository:team/app:pull\"";
        _registry.AcceptedAuthorization = "Bearer tok-123";
        _registry.TokenJson = $$"""{"{{tokenField}}":"tok-123","expires_in":300}""";

        var result = await Push(new RegistryCredential("alice", "pw"));

        var tokenRequests = _registry.Requests.Where(r => r.Uri.Host == "auth.example.com").ToArray();
        var tokenRequest = Assert.Single(tokenRequests);
        Assert.Equal("GET", tokenRequest.Method);
        var query = HttpUtility.ParseQueryString(tokenRequest.Uri.Query);
        Assert.Equal("registry.example.com", query["service"]);
        Assert.Equal("repository:team/app:pull,push", query["scope"]);
        Assert.Equal(Basic("alice", "pw"), tokenRequest.Authorization);

        var registryRequests = _registry.Requests.Where(r => r.Uri.Host == Registry).ToArray();
        Assert.Equal((null, HttpStatusCode.Unauthorized), (registryRequests[0].Authorization, registryRequests[0].Status));
        Assert.Equal(registryRequests[0].Uri, registryRequests[1].Uri);
        Assert.All(registryRequests.Skip(1), r => Assert.Equal("Bearer tok-123", r.Authorization));
        Assert.Single(_registry.Requests, r => r.Status == HttpStatusCode.Unauthorized);
        Assert.Equal(3, result.BlobsUploaded);
    }

    [Fact]
    public async Task Push_TradesAnIdentityTokenWithAFormPost()
    {
        _registry.Challenge = "Bearer realm=\"https://auth.example.com/oauth2/token\",service=\"myacr.azurecr.io\"";
        _registry.AcceptedAuthorization = "Bearer tok-123";

        await Push(new RegistryCredential("<token>", "refresh-xyz"));

        var tokenRequest = Assert.Single(_registry.Requests, r => r.Uri.Host == "auth.example.com");
        Assert.Equal("POST", tokenRequest.Method);
        Assert.Null(tokenRequest.Authorization);
        var form = HttpUtility.ParseQueryString(Encoding.UTF8.GetString(tokenRequest.Body!));
        Assert.Equal(("refresh_token", "refresh-xyz", "myacr.azurecr.io", "repository:team/app:pull,push"),
            (form["grant_type"], form["refresh_token"], form["service"], form["scope"]));
    }

    [Fact]
    public async Task Push_AnswersABasicChallenge_AndCachesTheHeader()
    {
        _registry.Challenge = "Basic realm=\"Registry Realm\"";
        _registry.AcceptedAuthorization = Basic("bob", "hunter2");

        await Push(new RegistryCredential("bob", "hunter2"));

        Assert.Single(_registry.Requests, r => r.Status == HttpStatusCode.Unauthorized);
        Assert.All(_registry.Requests.Skip(1), r => Assert.Equal(Basic("bob", "hunter2"), r.Authorization));
        Assert.DoesNotContain(_registry.Requests, r => r.Uri.Host != Registry);
    }

    [Fact]
    public async Task Push_Unauthorized_WithoutCredentials_SaysHowToLogIn()
    {
        _registry.Challenge = "Basic realm=\"Registry Realm\"";
        _registry.AcceptedAuthorization = Basic("bob", "hunter2");

        var error = await Assert.ThrowsAsync<ModWsgiException>(() => Push());

        Assert.Equal(DiagnosticCodes.RegistryAuthenticationFailed, error.Code);
        Assert.Contains("docker login registry.example.com", error.Message);
        Assert.Contains("DOTNET_CONTAINER_REGISTRY_UNAME", error.Message);
        Assert.DoesNotContain(_registry.Requests, r => r.Method != "HEAD");
    }

    [Fact]
    public async Task Push_Unauthorized_WithAnonymousBearerToken_SaysHowToLogIn()
    {
        _registry.Challenge = "Bearer realm=\"https://auth.example.com/token\",service=\"registry.example.com\"";
        _registry.AcceptedAuthorization = "Bearer a-real-token";
        _registry.TokenJson = """{"token":"anonymous-token"}""";

        var error = await Assert.ThrowsAsync<ModWsgiException>(() => Push());

        Assert.Equal(DiagnosticCodes.RegistryAuthenticationFailed, error.Code);
        Assert.Contains("no credentials were found", error.Message);
        Assert.Null(Assert.Single(_registry.Requests, r => r.Uri.Host == "auth.example.com").Authorization);
    }

    [Fact]
    public async Task Push_RejectedCredentials_AreCoded_AndTheSecretIsNeitherInTheMessageNorTheLog()
    {
        _registry.Challenge = "Basic realm=\"Registry Realm\"";
        _registry.AcceptedAuthorization = Basic("bob", "the-right-one");

        var error = await Assert.ThrowsAsync<ModWsgiException>(() => Push(new RegistryCredential("bob", "pw-s3cret")));

        Assert.Equal(DiagnosticCodes.RegistryAuthenticationFailed, error.Code);
        Assert.Contains("rejected the credentials", error.Message);
        var everything = error.ToString() + string.Join('\n', _log.Messages);
        Assert.DoesNotContain("pw-s3cret", everything);
        Assert.DoesNotContain(Basic("bob", "pw-s3cret")["Basic ".Length..], everything);
        Assert.Equal(2, _registry.Requests.Count);
    }

    [Fact]
    public async Task Push_PlainHttpTokenRealmOnTheNetwork_IsRefusedBeforeSendingCredentials()
    {
        _registry.Challenge = "Bearer realm=\"http://auth.example.com/token\",service=\"registry.example.com\"";
        _registry.AcceptedAuthorization = "Bearer tok-123";

        var error = await Assert.ThrowsAsync<ModWsgiException>(() => Push(new RegistryCredential("alice", "pw")));

        Assert.Equal(DiagnosticCodes.RegistryInsecureRefused, error.Code);
        Assert.Contains("auth.example.com", error.Message);
        Assert.DoesNotContain(_registry.Requests, r => r.Uri.Host == "auth.example.com");
    }

    [Theory]
    [InlineData("localhost:5000", "", "http://localhost:5000/")]
    [InlineData("127.0.0.1:5000", "", "http://127.0.0.1:5000/")]
    [InlineData("127.8.9.10:5000", "", "http://127.8.9.10:5000/")]
    [InlineData("[::1]:5000", "", "http://[::1]:5000/")]
    [InlineData("registry.example.com", "", "https://registry.example.com/")]
    [InlineData("docker.io", "", "https://registry-1.docker.io/")]
    [InlineData("10.0.0.5:5000", "", "https://10.0.0.5:5000/")]
    [InlineData("registry.example.com:5000", "registry.example.com:5000", "http://registry.example.com:5000/")]
    [InlineData("registry.example.com:5000", "other.example.com;registry.example.com", "http://registry.example.com:5000/")]
    [InlineData("registry.example.com:5000", "registry.example.com:6000", "https://registry.example.com:5000/")]
    public async Task Push_UsesHttpsUnlessTheRegistryIsLoopbackOrListedInsecure(string registry, string insecure, string expectedRoot)
    {
        await Push(registry: registry, insecure: RegistryClientOptions.ParseList(insecure));

        Assert.All(_registry.Requests, r => Assert.Equal(expectedRoot, r.Uri.GetLeftPart(UriPartial.Authority) + "/"));
    }

    [Fact]
    public void ParseList_SplitsOnCommasAndSemicolons() =>
        Assert.Equal(["a:5000", "b", "c"], RegistryClientOptions.ParseList(" a:5000; b ,,c;"));

    [Fact]
    public async Task Push_RegistryError_IsCodedWithTheRegistrysMessage()
    {
        _registry.ManifestStatus = HttpStatusCode.BadRequest;
        _registry.ManifestError = """{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":{}}]}""";

        var error = await Assert.ThrowsAsync<ModWsgiException>(() => Push());

        Assert.Equal(DiagnosticCodes.RegistryRequestFailed, error.Code);
        Assert.Contains("registry.example.com/team/app", error.Message);
        Assert.Contains("manifest for tag 1.0", error.Message);
        Assert.Contains("400", error.Message);
        Assert.Contains("MANIFEST_INVALID: manifest invalid", error.Message);
    }

    [Fact]
    public async Task Push_NetworkFailure_IsCodedAndNamesTheRegistry()
    {
        _registry.Fail = new HttpRequestException("Connection refused (registry.example.com:443)");

        var error = await Assert.ThrowsAsync<ModWsgiException>(() => Push());

        Assert.Equal(DiagnosticCodes.RegistryUnreachable, error.Code);
        Assert.Contains("Could not reach registry.example.com", error.Message);
        Assert.Contains("team/app", error.Message);
    }

    [Fact]
    public async Task Push_RegistryWithScheme_IsCoded()
    {
        var error = await Assert.ThrowsAsync<ModWsgiException>(() => Push(registry: "https://registry.example.com"));

        Assert.Equal(DiagnosticCodes.InvalidRegistryName, error.Code);
        Assert.Empty(_registry.Requests);
    }

    private static string Basic(string user, string password) => "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"));

    /// <summary>Two gzip-free "layers" are enough: the client treats blobs as opaque bytes.</summary>
    internal static OciImage TestImage(FileBlobStore blobs, params string[] layerTexts)
    {
        var layers = layerTexts.Select(text =>
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            var digest = blobs.Put(bytes);
            return new Layer(new Descriptor(MediaTypes.OciLayerGzip, digest, bytes.Length), Digests.Sha256(bytes));
        }).ToArray();
        var configBytes = Encoding.UTF8.GetBytes("""{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}""");
        var config = new Descriptor(MediaTypes.OciConfig, Digests.Sha256(configBytes), configBytes.Length);
        var manifestBytes = JsonSerializer.SerializeToUtf8Bytes(new { schemaVersion = 2, mediaType = MediaTypes.OciManifest, config, layers = layers.Select(l => l.Blob) });
        return new OciImage(config, configBytes, new Descriptor(MediaTypes.OciManifest, Digests.Sha256(manifestBytes), manifestBytes.Length), manifestBytes, layers);
    }

    [Fact]
    public async Task ManifestDigest_IsTheRegistrysDockerContentDigest_AskedWithHeadAndTheOciAccept()
    {
        _registry.ManifestDigests["1.0"] = _image.Digest;
        var client = new RegistryClient(new RegistryClientOptions { HttpHandler = _registry, Retry = _retry }, new FixedCredentials(null), _log);

        var digest = await client.GetManifestDigestAsync(Registry, Repository, "1.0", CancellationToken.None);

        Assert.Equal(_image.Digest, digest);
        var head = Assert.Single(_registry.Requests);
        Assert.Equal(("HEAD", "/v2/team/app/manifests/1.0"), (head.Method, head.Uri.AbsolutePath));
        Assert.Contains(MediaTypes.OciManifest, head.Accept);
    }

    [Fact]
    public async Task ManifestDigest_OfAMissingTag_IsNull()
    {
        var client = new RegistryClient(new RegistryClientOptions { HttpHandler = _registry, Retry = _retry }, new FixedCredentials(null), _log);

        Assert.Null(await client.GetManifestDigestAsync(Registry, Repository, "gone", CancellationToken.None));
    }

    [Fact]
    public async Task ManifestDigest_AuthenticatesLikeAPush()
    {
        _registry.ManifestDigests["1.0"] = _image.Digest;
        _registry.Challenge = "Basic realm=\"registry\"";
        _registry.AcceptedAuthorization = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("alice:pw"));
        var client = new RegistryClient(new RegistryClientOptions { HttpHandler = _registry, Retry = _retry }, new FixedCredentials(new RegistryCredential("alice", "pw")), _log);

        Assert.Equal(_image.Digest, await client.GetManifestDigestAsync(Registry, Repository, "1.0", CancellationToken.None));
        Assert.Equal([HttpStatusCode.Unauthorized, HttpStatusCode.OK], _registry.Requests.Select(r => r.Status));
    }

    [Fact]
    public async Task ManifestDigest_OfAnUnreachableRegistry_IsCoded()
    {
        _registry.Fail = new HttpRequestException("Connection refused");
        var client = new RegistryClient(new RegistryClientOptions { HttpHandler = _registry, Retry = _retry }, new FixedCredentials(null), _log);

        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => client.GetManifestDigestAsync(Registry, Repository, "1.0", CancellationToken.None));

        Assert.Equal(DiagnosticCodes.RegistryUnreachable, ex.Code);
    }
}
