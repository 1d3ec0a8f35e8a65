using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Oci;
using Polly;

namespace ModWsgi.Core.Registry;

/// <param name="Digest">The manifest digest the registry now serves.</param>
/// <param name="Images">Every pushed reference, as <c>host/repository:tag</c>.</param>
/// <param name="BlobsSkipped">Blobs the repository already held.</param>
/// <param name="BlobsMounted">Blobs the registry mounted from another repository of ours instead of an upload.</param>
public sealed record RegistryPushResult(string Digest, IReadOnlyList<string> Images, int BlobsUploaded, int BlobsSkipped, int BlobsMounted = 0);

public sealed record RegistryClientOptions
{
    public const string InsecureRegistriesVariable = "DOTNET_CONTAINER_INSECURE_REGISTRIES";

    /// <summary>Registries (<c>host[:port]</c>, or a host for any port) that may be spoken to over plain HTTP.</summary>
    public IReadOnlyList<string> InsecureRegistries { get; init; } = [];

    /// <summary>Limit for each request except blob uploads, which run until done or cancelled.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(100);

    /// <summary>Replaces the network stack (tests). The client never disposes it.</summary>
    public HttpMessageHandler? HttpHandler { get; init; }

    /// <summary>Retries of idempotent steps the registry failed transiently (5xx, 429, resets, stalls).</summary>
    public RegistryRetryOptions Retry { get; init; } = new();

    /// <summary>
    /// Blobs up to this size go in one PUT; larger ones in PATCH chunks of this size, so a failure resends one
    /// chunk, from where the registry says it stopped.
    /// </summary>
    public long UploadChunkSize { get; init; } = 16 * 1024 * 1024;

    /// <summary>The slowest upload not taken for a stall: an upload request may take RequestTimeout plus its size at this rate.</summary>
    public long MinimumUploadBytesPerSecond { get; init; } = 64 * 1024;

    /// <summary>Where earlier pushes left which blob, for cross-repository mounts; none: every missing blob is uploaded.</summary>
    public IPushedBlobRecord? PushedBlobs { get; init; }

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
/// Pushes an <see cref="OciImage"/> with the OCI distribution API: blobs the registry lacks (mounted from another
/// repository of ours when the record knows one, else uploaded: one PUT for small blobs, resumable PATCH chunks for
/// large ones, streamed from the blob store), then the manifest once per tag, so a tag never names an incomplete
/// image. Idempotent steps are retried through a Polly pipeline when the registry fails transiently, and the
/// digests the registry reports must be ours.
/// </summary>
public sealed partial class RegistryClient(RegistryClientOptions options, ICredentialStore credentials, ILogger logger)
{
    private readonly ResiliencePipeline<HttpResponseMessage> _pipeline = RegistryRetry.Pipeline(options.Retry, logger);

    public async Task<RegistryPushResult> PushAsync(OciImage image, IBlobStore blobs, string registry, string repository,
        IReadOnlyList<string> tags, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfZero(tags.Count, nameof(tags));
        using var session = new PushSession(options, _pipeline, credentials, logger, RepositoryUri(registry, repository), registry, repository);
        logger.LogInformation("Pushing {Repository} to {Registry}", repository, registry);

        var outcomes = new List<BlobOutcome>();
        foreach (var layer in image.Layers.Select(l => l.Blob).DistinctBy(b => b.Digest))
            outcomes.Add(await session.PushBlobAsync(layer, "layer", () => blobs.OpenRead(layer.Digest), MountSource(registry, repository, layer.Digest), ct).ConfigureAwait(false));
        outcomes.Add(await session.PushBlobAsync(image.Config, "config", () => new MemoryStream(image.ConfigBytes, writable: false),
            MountSource(registry, repository, image.Config.Digest), ct).ConfigureAwait(false));

        foreach (var tag in tags)
            await session.PutManifestAsync(image, tag, ct).ConfigureAwait(false);
        // Only now does the repository hold every blob for good (a registry may collect blobs no manifest names).
        options.PushedBlobs?.Record(registry, repository, image.Layers.Select(l => l.Blob.Digest).Append(image.Config.Digest).Distinct());

        var (uploaded, skipped, mounted) = (outcomes.Count(o => o == BlobOutcome.Uploaded), outcomes.Count(o => o == BlobOutcome.Present),
            outcomes.Count(o => o == BlobOutcome.Mounted));
        var images = tags.Select(tag => $"{registry}/{repository}:{tag}").ToArray();
        logger.LogInformation("Pushed {Images} ({Digest}): {Uploaded} blobs uploaded, {Mounted} mounted, {Skipped} already there",
            string.Join(", ", images), image.Digest, uploaded, mounted, skipped);
        return new RegistryPushResult(image.Digest, images, uploaded, skipped, mounted);
    }

    /// <summary>The newest other repository of this registry we pushed the blob to, if any.</summary>
    private string? MountSource(string registry, string repository, string digest) =>
        options.PushedBlobs?.RepositoriesHolding(registry, digest).FirstOrDefault(r => !r.Equals(repository, StringComparison.Ordinal));

    /// <summary>
    /// The digest the registry serves for <paramref name="repository"/>:<paramref name="tag"/> (HEAD of the manifest,
    /// its Docker-Content-Digest), or null when it has no such manifest. Throws the coded error of an unreachable
    /// registry or refused credentials.
    /// </summary>
    public async Task<string?> GetManifestDigestAsync(string registry, string repository, string tag, CancellationToken ct)
    {
        using var session = new PushSession(options, _pipeline, credentials, logger, RepositoryUri(registry, repository), registry, repository);
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

    private static ByteArrayContent ByteContent(byte[] bytes, string mediaType)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        return content;
    }

    private enum BlobOutcome { Present, Mounted, Uploaded }

    /// <summary>One push's connection and authorization, cached until the push ends.</summary>
    private sealed partial class PushSession : IDisposable
    {
        private readonly RegistryClientOptions _options;
        private readonly ResiliencePipeline<HttpResponseMessage> _pipeline;
        private readonly ICredentialStore _credentials;
        private readonly ILogger _logger;
        private readonly HttpClient _http;
        private readonly Uri _base;
        private readonly Uri _uploads;
        private readonly string _registry;
        private readonly string _repository;
        private AuthenticationHeaderValue? _authorization;
        private Task<RegistryCredential?>? _credential;

        public PushSession(RegistryClientOptions options, ResiliencePipeline<HttpResponseMessage> pipeline, ICredentialStore credentials, ILogger logger,
            Uri repositoryUri, string registry, string repository)
        {
            _options = options;
            _pipeline = pipeline;
            _credentials = credentials;
            _logger = logger;
            _base = repositoryUri;
            _uploads = new Uri(repositoryUri, "blobs/uploads/");
            _registry = registry;
            _repository = repository;
            var handler = options.HttpHandler ?? new SocketsHttpHandler { ConnectTimeout = options.RequestTimeout };
            // No overall timeout here: each request gets its own in SendRawAsync (uploads one that grows with their size).
            _http = new HttpClient(handler, disposeHandler: options.HttpHandler is null) { Timeout = Timeout.InfiniteTimeSpan };
            _http.DefaultRequestHeaders.UserAgent.ParseAdd("ModWsgi.Sdk");
        }

        public void Dispose() => _http.Dispose();

        /// <summary>Makes sure the repository holds the blob: there already, mounted from <paramref name="mountFrom"/>, or uploaded.</summary>
        public async Task<BlobOutcome> PushBlobAsync(Descriptor blob, string kind, Func<Stream> open, string? mountFrom, CancellationToken ct)
        {
            var what = $"{kind} {blob.Digest}";
            if (await BlobExistsAsync(blob.Digest, $"checking {what}", ct).ConfigureAwait(false))
            {
                _logger.LogInformation("{Kind} {Digest} exists, skipped", kind, blob.Digest);
                return BlobOutcome.Present;
            }
            Uri? session = null;
            if (mountFrom is not null)
            {
                (var mounted, session) = await MountAsync(blob, mountFrom, what, ct).ConfigureAwait(false);
                if (mounted)
                {
                    _logger.LogInformation("{Kind} {Digest} mounted from {From}", kind, blob.Digest, mountFrom);
                    return BlobOutcome.Mounted;
                }
            }
            if (blob.Size <= _options.UploadChunkSize)
                await UploadWholeAsync(blob, what, open, session, ct).ConfigureAwait(false);
            else
                await UploadInChunksAsync(blob, what, open, session, ct).ConfigureAwait(false);
            _logger.LogInformation("{Kind} {Digest} uploaded ({Size} bytes)", kind, blob.Digest, blob.Size);
            return BlobOutcome.Uploaded;
        }

        private async Task<bool> BlobExistsAsync(string digest, string what, CancellationToken ct)
        {
            using var head = await SendAsync(() => new HttpRequestMessage(HttpMethod.Head, new Uri(_base, "blobs/" + digest)), what, ct).ConfigureAwait(false);
            if (head.IsSuccessStatusCode)
                return true;
            if (head.StatusCode != HttpStatusCode.NotFound)
                throw await FailedAsync(head, what, ct).ConfigureAwait(false);
            return false;
        }

        /// <summary>
        /// Asks the registry to link the blob from another repository: 201 is done; 202 is an ordinary upload session
        /// (the registry lacks the blob there, or will not mount it), returned to upload into.
        /// </summary>
        private async Task<(bool Mounted, Uri? Session)> MountAsync(Descriptor blob, string from, string what, CancellationToken ct)
        {
            var step = $"mounting {what} from {from}";
            var mount = new Uri(_uploads, "?mount=" + Uri.EscapeDataString(blob.Digest) + "&from=" + Uri.EscapeDataString(from));
            HttpResponseMessage response;
            try
            {
                response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Post, mount), step, ct).ConfigureAwait(false);
            }
            catch (ModWsgiException ex) when (ex.Code == DiagnosticCodes.RegistryAuthenticationFailed)
            {
                // No pull access to the other repository (anymore): an upload needs only this one's.
                _logger.LogInformation("{Registry} refused to mount {Digest} from {From} ({Message}): uploading it", _registry, blob.Digest, from, ex.Message);
                return (false, null);
            }
            using var _ = response;
            if (response.StatusCode == HttpStatusCode.Created)
            {
                EnsureDigest(response, blob.Digest, step);
                return (true, null);
            }
            if (response.StatusCode == HttpStatusCode.Accepted && response.Headers.Location is { } given)
            {
                _logger.LogDebug("{Registry} did not mount {Digest} from {From}: uploading it", _registry, blob.Digest, from);
                return (false, Resolve(given, "its upload location"));
            }
            // A registry that does not know the parameters may answer anything else: an upload starts afresh.
            _logger.LogDebug("{Registry} answered {Status} to a mount of {Digest}: uploading it", _registry, (int)response.StatusCode, blob.Digest);
            return (false, null);
        }

        /// <summary>POST, then one PUT with the whole blob; an attempt that fails transiently starts a new session.</summary>
        private async Task UploadWholeAsync(Descriptor blob, string what, Func<Stream> open, Uri? session, CancellationToken ct)
        {
            var step = new RegistryStep();
            using var response = await ResilientAsync(step, async token =>
            {
                var location = session;
                session = null;
                if (location is null)
                {
                    step.Name = $"starting the upload of {what}";
                    var (given, refused) = await StartUploadAsync(step.Name, token).ConfigureAwait(false);
                    if (given is null)
                        return refused!;
                    location = given;
                }
                step.Name = $"uploading {what}";
                return await SendAuthorizedAsync(() => new HttpRequestMessage(HttpMethod.Put, WithDigest(location, blob.Digest))
                {
                    Content = new BlobSliceContent(open, 0, blob.Size),
                }, step.Name, UploadTimeout(blob.Size), token).ConfigureAwait(false);
            }, ct).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
                throw await FailedAsync(response, step.Name, ct).ConfigureAwait(false);
            EnsureDigest(response, blob.Digest, step.Name);
        }

        /// <summary>
        /// POST, PATCH chunks with Content-Range, PUT ?digest=. After a failed chunk the next attempt asks the upload
        /// URL (GET) how much arrived and goes on from there; a session the registry dropped starts over.
        /// </summary>
        private async Task UploadInChunksAsync(Descriptor blob, string what, Func<Stream> open, Uri? session, CancellationToken ct)
        {
            var step = new RegistryStep();
            var location = session;
            long offset = 0;
            var resync = false;
            var rangeRefusals = 0;
            while (offset < blob.Size)
            {
                long next = 0;
                using var response = await ResilientAsync(step, async token =>
                {
                    if (resync && location is not null)
                    {
                        step.Name = $"asking {_registry} how much of {what} arrived";
                        using var status = await SendAuthorizedAsync(() => new HttpRequestMessage(HttpMethod.Get, location), step.Name, _options.RequestTimeout, token).ConfigureAwait(false);
                        if (RegistryRetry.IsTransient(status.StatusCode))
                            return Detach(status);
                        if (status.IsSuccessStatusCode)
                        {
                            location = status.Headers.Location is { } moved ? Resolve(moved, "its upload location") : location;
                            offset = ReceivedThrough(status) + 1;
                            _logger.LogInformation("{Registry} holds {Received} bytes of {What}: resuming there", _registry, offset, what);
                        }
                        else
                        {
                            _logger.LogInformation("{Registry} dropped the upload of {What} ({Status}): starting it again", _registry, what, (int)status.StatusCode);
                            (location, offset) = (null, 0);
                        }
                    }
                    resync = true;
                    if (location is null)
                    {
                        step.Name = $"starting the upload of {what}";
                        var (given, refused) = await StartUploadAsync(step.Name, token).ConfigureAwait(false);
                        if (given is null)
                            return refused!;
                        (location, offset) = (given, 0);
                    }
                    if (offset >= blob.Size)
                    {
                        // Everything arrived; only the answer to the last chunk was lost.
                        next = offset;
                        return new HttpResponseMessage(HttpStatusCode.Accepted);
                    }
                    var (start, length, target) = (offset, Math.Min(_options.UploadChunkSize, blob.Size - offset), location);
                    next = start + length;
                    step.Name = $"uploading {what} (bytes {start}-{next - 1} of {blob.Size})";
                    return await SendAuthorizedAsync(() =>
                    {
                        var patch = new HttpRequestMessage(HttpMethod.Patch, target) { Content = new BlobSliceContent(open, start, length) };
                        // The distribution spec's form, "start-end" inclusive, not HTTP's "bytes start-end/size".
                        patch.Content.Headers.TryAddWithoutValidation("Content-Range", $"{start}-{start + length - 1}");
                        return patch;
                    }, step.Name, UploadTimeout(length), token).ConfigureAwait(false);
                }, ct).ConfigureAwait(false);

                if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && rangeRefusals++ < 2)
                    continue; // the registry holds another amount than we thought: ask it (resync is set)
                if (response.StatusCode != HttpStatusCode.Accepted)
                    throw await FailedAsync(response, step.Name, ct).ConfigureAwait(false);
                resync = false;
                if (response.Headers.Location is { } moved)
                    location = Resolve(moved, "its upload location");
                offset = response.Headers.Contains("Range") ? ReceivedThrough(response) + 1 : next;
                if (offset != next)
                    throw new ModWsgiException(DiagnosticCodes.RegistryUploadInconsistent,
                        $"{_registry} reported holding {offset} bytes of {what} after {step.Name}, not {next}. Push again; if it recurs, "
                        + $"check for a proxy between the build and {_registry} that alters uploads.");
            }

            var finish = new RegistryStep($"finishing the upload of {what}");
            var sentOnce = false;
            using var done = await ResilientAsync(finish, async token =>
            {
                // An earlier PUT may have completed the upload before its answer was lost: then the blob is there.
                if (sentOnce && await BlobExistsAsync(blob.Digest, $"checking {what}", token).ConfigureAwait(false))
                {
                    var there = new HttpResponseMessage(HttpStatusCode.Created);
                    there.Headers.TryAddWithoutValidation("Docker-Content-Digest", blob.Digest);
                    return there;
                }
                sentOnce = true;
                return await SendAuthorizedAsync(() => new HttpRequestMessage(HttpMethod.Put, WithDigest(location!, blob.Digest))
                {
                    Content = new ByteArrayContent([]) { Headers = { ContentType = new MediaTypeHeaderValue("application/octet-stream") } },
                }, finish.Name, _options.RequestTimeout, token).ConfigureAwait(false);
            }, ct).ConfigureAwait(false);
            if (!done.IsSuccessStatusCode)
                throw await FailedAsync(done, finish.Name, ct).ConfigureAwait(false);
            EnsureDigest(done, blob.Digest, finish.Name);
        }

        public async Task PutManifestAsync(OciImage image, string tag, CancellationToken ct)
        {
            var what = $"putting the manifest for tag {tag}";
            // Idempotent: the same bytes under the same tag, so a retry after a lost answer changes nothing.
            using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Put, new Uri(_base, "manifests/" + tag))
            {
                Content = ByteContent(image.ManifestBytes, image.Manifest.MediaType),
            }, what, ct).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
                throw await FailedAsync(response, what, ct).ConfigureAwait(false);
            EnsureDigest(response, image.Digest, what);
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
            }, what, ct).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotFound)
                return null;
            if (!response.IsSuccessStatusCode)
                throw await FailedAsync(response, what, ct).ConfigureAwait(false);
            return response.Headers.TryGetValues("Docker-Content-Digest", out var digests) ? digests.FirstOrDefault() : null;
        }

        /// <summary>The registry's Docker-Content-Digest, when it sends one, must be the digest we computed.</summary>
        private void EnsureDigest(HttpResponseMessage response, string expected, string what)
        {
            if (!response.Headers.TryGetValues("Docker-Content-Digest", out var values) || values.FirstOrDefault() is not { Length: > 0 } theirs)
            {
                _logger.LogDebug("{Registry} sent no Docker-Content-Digest after {What}", _registry, what);
                return;
            }
            if (!theirs.Equals(expected, StringComparison.Ordinal))
                throw new ModWsgiException(DiagnosticCodes.RegistryDigestMismatch,
                    $"{_registry} reports digest {theirs} after {what} for {_repository}, but the content we sent has {expected}. "
                    + "Something between the build and the registry changed the bytes (a proxy or scanner that rewrites uploads), or the registry "
                    + "converted the content. Do not use the pushed tags; push again, and bypass such a proxy if it recurs.");
        }

        /// <summary>The last byte the registry holds, from its Range header ("0-1234"; "0--1": none).</summary>
        private static long ReceivedThrough(HttpResponseMessage response) =>
            response.Headers.TryGetValues("Range", out var values) && UploadRange().Match(values.FirstOrDefault() ?? "") is { Success: true } m
                ? long.Parse(m.Groups["end"].Value, System.Globalization.CultureInfo.InvariantCulture)
                : -1;

        /// <summary>POST of a new upload session: its location, or the registry's refusal for the pipeline and the caller to judge.</summary>
        private async Task<(Uri? Location, HttpResponseMessage? Refused)> StartUploadAsync(string step, CancellationToken ct)
        {
            var started = await SendAuthorizedAsync(() => new HttpRequestMessage(HttpMethod.Post, _uploads), step, _options.RequestTimeout, ct).ConfigureAwait(false);
            if (!started.IsSuccessStatusCode)
                return (null, started);
            using (started)
            {
                if (started.Headers.Location is not { } given)
                    throw new ModWsgiException(DiagnosticCodes.RegistryRequestFailed,
                        $"Pushing to {_registry}/{_repository} failed while {step}: the registry answered {(int)started.StatusCode} without an upload location.");
                return (Resolve(given, "its upload location"), null);
            }
        }

        private Uri Resolve(Uri given, string what)
        {
            var location = given.IsAbsoluteUri ? given : new Uri(_uploads, given);
            EnsurePlainHttpAllowed(location, what);
            return location;
        }

        /// <summary>The location may carry the registry's own state in its query: keep it and add the digest.</summary>
        private static Uri WithDigest(Uri location, string digest) =>
            new(location.AbsoluteUri + (location.Query.Length == 0 ? "?" : "&") + "digest=" + Uri.EscapeDataString(digest));

        private TimeSpan UploadTimeout(long bytes) =>
            _options.RequestTimeout + TimeSpan.FromSeconds((double)bytes / Math.Max(1, _options.MinimumUploadBytesPerSecond));

        /// <summary>A response handed to the pipeline out of a <c>using</c>: a copy of its status and headers.</summary>
        private static HttpResponseMessage Detach(HttpResponseMessage response)
        {
            var copy = new HttpResponseMessage(response.StatusCode) { ReasonPhrase = response.ReasonPhrase };
            foreach (var header in response.Headers)
                copy.Headers.TryAddWithoutValidation(header.Key, header.Value);
            return copy;
        }

        /// <summary>One idempotent request, retried on transient failures, authorized as the push is.</summary>
        private Task<HttpResponseMessage> SendAsync(Func<HttpRequestMessage> create, string what, CancellationToken ct) =>
            ResilientAsync(new RegistryStep(what), token => SendAuthorizedAsync(create, what, _options.RequestTimeout, token), ct);

        /// <summary>
        /// Runs <paramref name="attempt"/> through the retry pipeline and turns what is left of a failure into a coded error:
        /// a registry that kept failing (MODWSGI3030), one that could not be reached or did not answer (MODWSGI1001).
        /// Other answers go back to the caller to judge.
        /// </summary>
        private async Task<HttpResponseMessage> ResilientAsync(RegistryStep step, Func<CancellationToken, Task<HttpResponseMessage>> attempt, CancellationToken ct)
        {
            var context = ResilienceContextPool.Shared.Get(ct);
            context.Properties.Set(RegistryRetry.Step, step);
            HttpResponseMessage response;
            try
            {
                response = await _pipeline.ExecuteAsync(static async (context, attempt) => await attempt(context.CancellationToken).ConfigureAwait(false),
                    context, attempt).ConfigureAwait(false);
            }
            catch (RegistryRequestTimedOutException ex)
            {
                throw new ModWsgiException(DiagnosticCodes.RegistryUnreachable,
                    $"{_registry} did not answer within {ex.Limit.TotalSeconds:0} seconds while {step.Name} for {_repository}{Tries()}.", ex);
            }
            catch (HttpRequestException ex)
            {
                var hint = ex.HttpRequestError == HttpRequestError.SecureConnectionError
                    ? $" If {_registry} serves plain HTTP, add it to ContainerInsecureRegistries (or {RegistryClientOptions.InsecureRegistriesVariable})."
                    : "";
                throw new ModWsgiException(DiagnosticCodes.RegistryUnreachable,
                    $"Could not reach {_registry} while {step.Name} for {_repository}{(RegistryRetry.IsTransient(ex) ? Tries() : "")}: {ex.Message}{hint}", ex);
            }
            finally
            {
                ResilienceContextPool.Shared.Return(context);
            }
            if (!RegistryRetry.IsTransient(response.StatusCode))
                return response;
            using (response)
            {
                var detail = await RegistryErrorAsync(response, ct).ConfigureAwait(false);
                throw new ModWsgiException(DiagnosticCodes.RegistryUnavailable,
                    $"{_registry} kept failing while {step.Name} for {_repository}: it answered {(int)response.StatusCode} {response.ReasonPhrase}"
                    + (detail is null ? "" : $" ({detail})") + $"{Tries()}. The registry is overloaded or unwell: push again later, or check its status.");
            }
        }

        private string Tries() => _options.Retry.MaxRetries > 0 ? $" (tried {_options.Retry.Attempts} times)" : "";

        /// <summary>Sends with the cached authorization; on 401 answers the challenge once and retries.</summary>
        private async Task<HttpResponseMessage> SendAuthorizedAsync(Func<HttpRequestMessage> create, string what, TimeSpan timeout, CancellationToken ct)
        {
            var response = await SendOnceAsync(create, timeout, ct).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.Unauthorized)
                return response;
            var challenges = response.Headers.WwwAuthenticate;
            var challenge = challenges.FirstOrDefault(c => c.Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase))
                ?? challenges.FirstOrDefault(c => c.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase));
            response.Dispose();
            // A cached token may have expired during a long upload: a fresh challenge answer covers that too.
            _authorization = await AuthenticateAsync(challenge, what, ct).ConfigureAwait(false);
            response = await SendOnceAsync(create, timeout, ct).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.Unauthorized)
                return response;
            response.Dispose();
            throw await AuthenticationFailedAsync(what, ct).ConfigureAwait(false);
        }

        private async Task<HttpResponseMessage> SendOnceAsync(Func<HttpRequestMessage> create, TimeSpan timeout, CancellationToken ct)
        {
            using var request = create();
            // Never hand the registry's authorization to another host (an upload location may point elsewhere).
            if (_authorization is not null && request.RequestUri!.Authority.Equals(_base.Authority, StringComparison.OrdinalIgnoreCase))
                request.Headers.Authorization = _authorization;
            return await SendRawAsync(request, timeout, ct).ConfigureAwait(false);
        }

        /// <summary>One exchange within <paramref name="timeout"/>; a stall throws <see cref="RegistryRequestTimedOutException"/>.</summary>
        private async Task<HttpResponseMessage> SendRawAsync(HttpRequestMessage request, TimeSpan timeout, CancellationToken ct)
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
            limit.CancelAfter(timeout);
            _logger.LogDebug("{Method} {Uri}", request.Method, request.RequestUri!.GetLeftPart(UriPartial.Path));
            try
            {
                // The default completion option buffers the (small) response body inside the timeout.
                return await _http.SendAsync(request, limit.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
            {
                throw new RegistryRequestTimedOutException(timeout, ex);
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
            var token = await FetchTokenAsync(realmUri, parameters.GetValueOrDefault("service"), parameters.GetValueOrDefault("scope"), credential, what, ct).ConfigureAwait(false);
            return new AuthenticationHeaderValue("Bearer", token);
        }

        /// <summary>Asks the token service for push access, with the credential when there is one.</summary>
        /// <param name="challengeScope">The challenge's scopes (space-separated): a mount also needs pull on the repository it mounts from.</param>
        private async Task<string> FetchTokenAsync(Uri realm, string? service, string? challengeScope, RegistryCredential? credential, string what, CancellationToken ct)
        {
            var scopes = new[] { $"repository:{_repository}:pull,push" }
                .Concat((challengeScope ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Where(scope => !scope.StartsWith($"repository:{_repository}:", StringComparison.Ordinal))) // ours covers it
                .Distinct(StringComparer.Ordinal);
            var fields = new List<KeyValuePair<string, string>>();
            if (service is not null)
                fields.Add(new("service", service));
            // One scope parameter each, as docker sends them.
            fields.AddRange(scopes.Select(scope => new KeyValuePair<string, string>("scope", scope)));
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
                var form = request.Content is null ? null : await request.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false);
                // A token request changes nothing: retried like the registry's own idempotent steps.
                using var response = await ResilientAsync(new RegistryStep(getToken), async token =>
                {
                    using var copy = new HttpRequestMessage(request.Method, request.RequestUri);
                    copy.Headers.Authorization = request.Headers.Authorization;
                    if (form is not null)
                        copy.Content = new ByteArrayContent(form) { Headers = { ContentType = request.Content!.Headers.ContentType } };
                    return await SendRawAsync(copy, _options.RequestTimeout, token).ConfigureAwait(false);
                }, ct).ConfigureAwait(false);
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

        [GeneratedRegex("^(?:bytes=)?[0-9]+-(?<end>-?[0-9]+)$")]
        private static partial Regex UploadRange();

        /// <summary>One <c>key="value"</c> or <c>key=value</c> pair of a WWW-Authenticate challenge.</summary>
        [GeneratedRegex("""(?<key>[A-Za-z_]+)\s*=\s*(?:"(?<quoted>[^"]*)"|(?<bare>[^,\s]*))""")]
        private static partial Regex ChallengeParameter();
    }
}
