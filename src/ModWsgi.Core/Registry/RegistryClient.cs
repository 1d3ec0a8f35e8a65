using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Oci;

namespace ModWsgi.Core.Registry;

/// <param name="Digest">The manifest digest the registry now serves.</param>
/// <param name="Images">Every pushed reference, as <c>host/repository:tag</c>.</param>
public sealed record RegistryPushResult(string Digest, IReadOnlyList<string> Images, int BlobsUploaded, int BlobsSkipped);

public sealed record RegistryClientOptions
{
    public const string InsecureRegistriesVariable = "DOTNET_CONTAINER_INSECURE_REGISTRIES";

    /// <summary>Registries (<c>host[:port]</c>, or a host for any port) that may be spoken to over plain HTTP.</summary>
    public IReadOnlyList<string> InsecureRegistries { get; init; } = [];

    /// <summary>Limit for each request except blob uploads, which run until done or cancelled.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(100);

    /// <summary>Replaces the network stack (tests). The client never disposes it.</summary>
    public HttpMessageHandler? HttpHandler { get; init; }

    /// <summary>
    /// Options with the insecure registries the project lists (ContainerInsecureRegistries) and those of the
    /// build environment (DOTNET_CONTAINER_INSECURE_REGISTRIES).
    /// </summary>
    public static RegistryClientOptions For(IEnumerable<string> projectInsecureRegistries, BuildEnvironment environment) => new()
    {
        InsecureRegistries = [.. projectInsecureRegistries, .. environment.InsecureRegistries],
    };

    public static IReadOnlyList<string> ParseList(string? value) =>
        (value ?? "").Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Plain HTTP is for loopback hosts (nothing crosses the network) and registries listed as insecure.</summary>
    public bool AllowsPlainHttp(Uri uri)
    {
        // Uri.IsLoopback covers localhost, all of 127.0.0.0/8 and [::1].
        if (uri.IsLoopback)
            return true;
        return InsecureRegistries.Any(entry => entry.Equals(uri.Authority, StringComparison.OrdinalIgnoreCase)
            || entry.Equals(uri.Host, StringComparison.OrdinalIgnoreCase));
    }
}

/// <summary>
/// Pushes an <see cref="OciImage"/> with the OCI distribution API: blobs the registry lacks (monolithic upload,
/// streamed from the blob store), then the manifest once per tag, so a tag never names an incomplete image.
/// </summary>
public sealed partial class RegistryClient(RegistryClientOptions options, ICredentialStore credentials, ILogger logger)
{
    public async Task<RegistryPushResult> PushAsync(OciImage image, IBlobStore blobs, string registry, string repository,
        IReadOnlyList<string> tags, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfZero(tags.Count, nameof(tags));
        using var session = new PushSession(options, credentials, logger, RepositoryUri(registry, repository), registry, repository);
        logger.LogInformation("Pushing {Repository} to {Registry}", repository, registry);

        var uploaded = 0;
        foreach (var layer in image.Layers.Select(l => l.Blob).DistinctBy(b => b.Digest))
        {
            if (await session.PushBlobAsync(layer, "layer", () => StreamContent(blobs, layer.Digest), ct).ConfigureAwait(false))
                uploaded++;
        }
        if (await session.PushBlobAsync(image.Config, "config", () => ByteContent(image.ConfigBytes, "application/octet-stream"), ct).ConfigureAwait(false))
            uploaded++;
        var skipped = image.Layers.DistinctBy(l => l.Blob.Digest).Count() + 1 - uploaded;

        foreach (var tag in tags)
            await session.PutManifestAsync(image, tag, ct).ConfigureAwait(false);

        var images = tags.Select(tag => $"{registry}/{repository}:{tag}").ToArray();
        logger.LogInformation("Pushed {Images} ({Digest}): {Uploaded} blobs uploaded, {Skipped} already there",
            string.Join(", ", images), image.Digest, uploaded, skipped);
        return new RegistryPushResult(image.Digest, images, uploaded, skipped);
    }

    /// <summary>
    /// The digest the registry serves for <paramref name="repository"/>:<paramref name="tag"/> (HEAD of the manifest,
    /// its Docker-Content-Digest), or null when it has no such manifest. Throws the coded error of an unreachable
    /// registry or refused credentials.
    /// </summary>
    public async Task<string?> GetManifestDigestAsync(string registry, string repository, string tag, CancellationToken ct)
    {
        using var session = new PushSession(options, credentials, logger, RepositoryUri(registry, repository), registry, repository);
        return await session.HeadManifestAsync(tag, ct).ConfigureAwait(false);
    }

    /// <summary><c>scheme://registry/v2/repository/</c>: HTTPS unless plain HTTP is allowed for the registry.</summary>
    private Uri RepositoryUri(string registry, string repository)
    {
        if (registry.Length == 0 || registry.IndexOfAny(['/', '@', ' ']) >= 0
            || !Uri.TryCreate("https://" + registry, UriKind.Absolute, out var https) || https.Authority.Length == 0)
            throw new ModWsgiException(DiagnosticCodes.InvalidRegistryName,
                $"'{registry}' is not a registry: use host[:port] without a scheme, e.g. registry.example.com or localhost:5000. Set ContainerRegistry.");
        var scheme = options.AllowsPlainHttp(https) ? "http" : "https";
        // Docker Hub's name is not its API host; docker and the .NET SDK make the same substitution.
        var host = registry.Equals("docker.io", StringComparison.OrdinalIgnoreCase) ? "registry-1.docker.io" : registry;
        return new Uri($"{scheme}://{host}/v2/{repository}/");
    }

    private static StreamContent StreamContent(IBlobStore blobs, string digest)
    {
        var content = new StreamContent(blobs.OpenRead(digest), 81920);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        // A known length streams the body as is: no chunking, nothing buffered.
        content.Headers.ContentLength = blobs.SizeOf(digest);
        return content;
    }

    private static ByteArrayContent ByteContent(byte[] bytes, string mediaType)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        return content;
    }

    /// <summary>One push's connection and authorization, cached until the push ends.</summary>
    private sealed partial class PushSession : IDisposable
    {
        private readonly RegistryClientOptions _options;
        private readonly ICredentialStore _credentials;
        private readonly ILogger _logger;
        private readonly HttpClient _http;
        private readonly Uri _base;
        private readonly string _registry;
        private readonly string _repository;
        private AuthenticationHeaderValue? _authorization;
        private Task<RegistryCredential?>? _credential;

        public PushSession(RegistryClientOptions options, ICredentialStore credentials, ILogger logger, Uri repositoryUri, string registry, string repository)
        {
            _options = options;
            _credentials = credentials;
            _logger = logger;
            _base = repositoryUri;
            _registry = registry;
            _repository = repository;
            var handler = options.HttpHandler ?? new SocketsHttpHandler { ConnectTimeout = options.RequestTimeout };
            // Uploads may take long: no overall timeout here; small requests get RequestTimeout in SendRawAsync.
            _http = new HttpClient(handler, disposeHandler: options.HttpHandler is null) { Timeout = Timeout.InfiniteTimeSpan };
            _http.DefaultRequestHeaders.UserAgent.ParseAdd("ModWsgi.Sdk");
        }

        public void Dispose() => _http.Dispose();

        /// <summary>Uploads the blob unless the registry has it; true when it was uploaded.</summary>
        public async Task<bool> PushBlobAsync(Descriptor blob, string kind, Func<HttpContent> content, CancellationToken ct)
        {
            var what = $"{kind} {blob.Digest}";
            var check = $"checking {what}";
            using (var head = await SendAsync(() => new HttpRequestMessage(HttpMethod.Head, new Uri(_base, "blobs/" + blob.Digest)), check, upload: false, ct).ConfigureAwait(false))
            {
                if (head.IsSuccessStatusCode)
                {
                    _logger.LogInformation("{Kind} {Digest} exists, skipped", kind, blob.Digest);
                    return false;
                }
                if (head.StatusCode != HttpStatusCode.NotFound)
                    throw await FailedAsync(head, check, ct).ConfigureAwait(false);
            }

            var uploads = new Uri(_base, "blobs/uploads/");
            var start = $"starting the upload of {what}";
            Uri location;
            using (var started = await SendAsync(() => new HttpRequestMessage(HttpMethod.Post, uploads), start, upload: false, ct).ConfigureAwait(false))
            {
                if (!started.IsSuccessStatusCode || started.Headers.Location is not { } given)
                    throw await FailedAsync(started, start, ct).ConfigureAwait(false);
                location = given.IsAbsoluteUri ? given : new Uri(uploads, given);
            }
            EnsurePlainHttpAllowed(location, "its upload location");
            // The location may carry the registry's own state in its query: keep it and add the digest.
            var target = new Uri(location.AbsoluteUri + (location.Query.Length == 0 ? "?" : "&") + "digest=" + Uri.EscapeDataString(blob.Digest));
            var upload = $"uploading {what}";
            using var put = await SendAsync(() => new HttpRequestMessage(HttpMethod.Put, target) { Content = content() }, upload, upload: true, ct).ConfigureAwait(false);
            if (!put.IsSuccessStatusCode)
                throw await FailedAsync(put, upload, ct).ConfigureAwait(false);
            _logger.LogInformation("{Kind} {Digest} uploaded ({Size} bytes)", kind, blob.Digest, blob.Size);
            return true;
        }

        public async Task PutManifestAsync(OciImage image, string tag, CancellationToken ct)
        {
            var what = $"putting the manifest for tag {tag}";
            using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Put, new Uri(_base, "manifests/" + tag))
            {
                Content = ByteContent(image.ManifestBytes, image.Manifest.MediaType),
            }, what, upload: false, ct).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
                throw await FailedAsync(response, what, ct).ConfigureAwait(false);
            _logger.LogInformation("Tagged {Registry}/{Repository}:{Tag}", _registry, _repository, tag);
        }

        public async Task<string?> HeadManifestAsync(string tag, CancellationToken ct)
        {
            var what = $"checking the manifest for tag {tag}";
            using var response = await SendAsync(() =>
            {
                var request = new HttpRequestMessage(HttpMethod.Head, new Uri(_base, "manifests/" + tag));
                // Without the OCI type in Accept a registry may answer for another manifest form (or not at all).
                request.Headers.Accept.ParseAdd(MediaTypes.OciManifest);
                request.Headers.Accept.ParseAdd("application/vnd.docker.distribution.manifest.v2+json");
                return request;
            }, what, upload: false, ct).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotFound)
                return null;
            if (!response.IsSuccessStatusCode)
                throw await FailedAsync(response, what, ct).ConfigureAwait(false);
            return response.Headers.TryGetValues("Docker-Content-Digest", out var digests) ? digests.FirstOrDefault() : null;
        }

        /// <summary>Sends with the cached authorization; on 401 answers the challenge once and retries.</summary>
        private async Task<HttpResponseMessage> SendAsync(Func<HttpRequestMessage> create, string what, bool upload, CancellationToken ct)
        {
            var response = await SendOnceAsync(create, what, upload, ct).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.Unauthorized)
                return response;
            var challenges = response.Headers.WwwAuthenticate;
            var challenge = challenges.FirstOrDefault(c => c.Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase))
                ?? challenges.FirstOrDefault(c => c.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase));
            response.Dispose();
            // A cached token may have expired during a long upload: a fresh challenge answer covers that too.
            _authorization = await AuthenticateAsync(challenge, what, ct).ConfigureAwait(false);
            response = await SendOnceAsync(create, what, upload, ct).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.Unauthorized)
                return response;
            response.Dispose();
            throw await AuthenticationFailedAsync(what, ct).ConfigureAwait(false);
        }

        private async Task<HttpResponseMessage> SendOnceAsync(Func<HttpRequestMessage> create, string what, bool upload, CancellationToken ct)
        {
            using var request = create();
            // Never hand the registry's authorization to another host (an upload location may point elsewhere).
            if (_authorization is not null && request.RequestUri!.Authority.Equals(_base.Authority, StringComparison.OrdinalIgnoreCase))
                request.Headers.Authorization = _authorization;
            return await SendRawAsync(request, what, upload, ct).ConfigureAwait(false);
        }

        private async Task<HttpResponseMessage> SendRawAsync(HttpRequestMessage request, string what, bool upload, CancellationToken ct)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            if (!upload)
                timeout.CancelAfter(_options.RequestTimeout);
            _logger.LogDebug("{Method} {Uri}", request.Method, request.RequestUri!.GetLeftPart(UriPartial.Path));
            try
            {
                // The default completion option buffers the (small) response body inside the timeout.
                return await _http.SendAsync(request, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
            {
                throw new ModWsgiException(DiagnosticCodes.RegistryUnreachable,
                    $"{_registry} did not answer within {_options.RequestTimeout.TotalSeconds:0} seconds while {what} for {_repository}.", ex);
            }
            catch (HttpRequestException ex)
            {
                var hint = ex.HttpRequestError == HttpRequestError.SecureConnectionError
                    ? $" If {_registry} serves plain HTTP, add it to ContainerInsecureRegistries (or {RegistryClientOptions.InsecureRegistriesVariable})."
                    : "";
                throw new ModWsgiException(DiagnosticCodes.RegistryUnreachable,
                    $"Could not reach {_registry} while {what} for {_repository}: {ex.Message}{hint}", ex);
            }
        }

        private async Task<AuthenticationHeaderValue> AuthenticateAsync(AuthenticationHeaderValue? challenge, string what, CancellationToken ct)
        {
            var credential = await CredentialAsync(ct).ConfigureAwait(false);
            if (challenge is not null && challenge.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase))
                return credential is null ? throw MissingCredentials(what) : BasicHeader(credential);

            var parameters = challenge?.Parameter is { } parameter
                ? ChallengeParameter().Matches(parameter).ToDictionary(m => m.Groups["key"].Value.ToLowerInvariant(), m => m.Groups["quoted"].Success ? m.Groups["quoted"].Value : m.Groups["bare"].Value)
                : [];
            if (!parameters.TryGetValue("realm", out var realm) || !Uri.TryCreate(realm, UriKind.Absolute, out var realmUri)
                || realmUri.Scheme is not ("http" or "https"))
                throw new ModWsgiException(DiagnosticCodes.RegistryAuthenticationFailed,
                    $"{_registry} refused {what} for {_repository} with 401 but sent no usable Basic or Bearer challenge.");
            EnsurePlainHttpAllowed(realmUri, "its token service");
            var token = await FetchTokenAsync(realmUri, parameters.GetValueOrDefault("service"), credential, what, ct).ConfigureAwait(false);
            return new AuthenticationHeaderValue("Bearer", token);
        }

        /// <summary>Asks the token service for push access, with the credential when there is one.</summary>
        private async Task<string> FetchTokenAsync(Uri realm, string? service, RegistryCredential? credential, string what, CancellationToken ct)
        {
            var scope = $"repository:{_repository}:pull,push";
            var fields = new List<KeyValuePair<string, string>>();
            if (service is not null)
                fields.Add(new("service", service));
            fields.Add(new("scope", scope));
            HttpRequestMessage request;
            if (credential is { IsIdentityToken: true })
            {
                // An identity token is an OAuth2 refresh token: docker trades it with a form POST.
                fields.AddRange([new("grant_type", "refresh_token"), new("refresh_token", credential.Secret), new("client_id", "modwsgi-sdk")]);
                request = new HttpRequestMessage(HttpMethod.Post, realm) { Content = new FormUrlEncodedContent(fields) };
            }
            else
            {
                var query = string.Join('&', fields.Select(f => f.Key + "=" + Uri.EscapeDataString(f.Value)));
                request = new HttpRequestMessage(HttpMethod.Get, new Uri(realm.AbsoluteUri + (realm.Query.Length == 0 ? "?" : "&") + query));
                if (credential is not null)
                    request.Headers.Authorization = BasicHeader(credential);
            }
            using (request)
            {
                var getToken = $"getting a token from {realm.Host} for {what}";
                using var response = await SendRawAsync(request, getToken, upload: false, ct).ConfigureAwait(false);
                if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
                    throw await AuthenticationFailedAsync(what, ct).ConfigureAwait(false);
                if (!response.IsSuccessStatusCode)
                    throw await FailedAsync(response, getToken, ct).ConfigureAwait(false);
                try
                {
                    using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false));
                    foreach (var name in (string[])["token", "access_token"])
                    {
                        if (json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty(name, out var token)
                            && token.ValueKind == JsonValueKind.String && token.GetString() is { Length: > 0 } value)
                            return value;
                    }
                }
                catch (JsonException)
                {
                    // Reported below, as a response without a token.
                }
                throw new ModWsgiException(DiagnosticCodes.RegistryAuthenticationFailed,
                    $"The token service of {_registry} ({realm.Host}) answered without a token while {what} for {_repository}.");
            }
        }

        private Task<RegistryCredential?> CredentialAsync(CancellationToken ct) => _credential ??= _credentials.GetAsync(_registry, ct);

        private static AuthenticationHeaderValue BasicHeader(RegistryCredential credential) =>
            new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{credential.Username}:{credential.Secret}")));

        private ModWsgiException MissingCredentials(string what) => new(DiagnosticCodes.RegistryAuthenticationFailed,
            $"{_registry} requires authentication for {what} in {_repository}, and no credentials were found. "
            + $"Run 'docker login {_registry}', or set DOTNET_CONTAINER_REGISTRY_UNAME and DOTNET_CONTAINER_REGISTRY_PWORD.");

        private async Task<ModWsgiException> AuthenticationFailedAsync(string what, CancellationToken ct) =>
            await CredentialAsync(ct).ConfigureAwait(false) is null
                ? MissingCredentials(what)
                : new ModWsgiException(DiagnosticCodes.RegistryAuthenticationFailed,
                    $"{_registry} rejected the credentials for {what} in {_repository}. Run 'docker login {_registry}' again, or check "
                    + $"DOTNET_CONTAINER_REGISTRY_UNAME and DOTNET_CONTAINER_REGISTRY_PWORD, and that the account may push to {_repository}.");

        private void EnsurePlainHttpAllowed(Uri uri, string what)
        {
            if (uri.Scheme == Uri.UriSchemeHttp && !_options.AllowsPlainHttp(uri))
                throw new ModWsgiException(DiagnosticCodes.RegistryInsecureRefused,
                    $"{_registry} sent {what} as plain HTTP ({uri.Authority}), which would expose the upload and credentials. "
                    + $"If that is intended, add {uri.Authority} to ContainerInsecureRegistries (or {RegistryClientOptions.InsecureRegistriesVariable}).");
        }

        private async Task<ModWsgiException> FailedAsync(HttpResponseMessage response, string what, CancellationToken ct)
        {
            var detail = await RegistryErrorAsync(response, ct).ConfigureAwait(false);
            return new ModWsgiException(DiagnosticCodes.RegistryRequestFailed,
                $"Pushing to {_registry}/{_repository} failed while {what}: the registry answered {(int)response.StatusCode} {response.ReasonPhrase}"
                + (detail is null ? "." : $": {detail}"));
        }

        /// <summary>The distribution spec's error body, <c>{"errors":[{"code","message"}]}</c>, as "CODE: message; ...".</summary>
        private static async Task<string?> RegistryErrorAsync(HttpResponseMessage response, CancellationToken ct)
        {
            var body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            try
            {
                using var json = JsonDocument.Parse(body);
                if (json.RootElement.ValueKind != JsonValueKind.Object || !json.RootElement.TryGetProperty("errors", out var errors)
                    || errors.ValueKind != JsonValueKind.Array)
                    return null;
                var messages = errors.EnumerateArray()
                    .Where(e => e.ValueKind == JsonValueKind.Object)
                    .Select(e => string.Join(": ", new[] { Text(e, "code"), Text(e, "message") }.Where(s => s is { Length: > 0 })))
                    .Where(s => s.Length > 0)
                    .ToArray();
                return messages.Length == 0 ? null : string.Join("; ", messages);
            }
            catch (JsonException)
            {
                return null;
            }
        }

        private static string? Text(JsonElement element, string name) =>
            element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

        /// <summary>One <c>key="value"</c> or <c>key=value</c> pair of a WWW-Authenticate challenge.</summary>
        [GeneratedRegex("""(?<key>[A-Za-z_]+)\s*=\s*(?:"(?<quoted>[^"]*)"|(?<bare>[^,\s]*))""")]
        private static partial Regex ChallengeParameter();
    }
}
