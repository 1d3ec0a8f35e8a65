using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ModWsgi.Core.Diagnostics;

namespace ModWsgi.Core.Engine;

/// <summary>
/// A small Docker Engine API client (also spoken by Podman): HTTP over the unix socket, TCP, TLS or ssh (see <see cref="EngineTransport"/>).
/// We own it because Docker.DotNet is not obtainable here and we need only a dozen calls.
/// </summary>
public sealed class DockerEngineClient : IContainerEngine, IDisposable
{
    /// <summary>No timeout: a stream runs as long as the build, and the caller cancels it.</summary>
    private static readonly TimeSpan Streaming = Timeout.InfiniteTimeSpan;
    private readonly HttpClient _http;
    private readonly AskedOnce<VersionAnswer> _negotiation;
    private readonly AskedOnce<EngineKind> _kind;

    public DockerEngineClient(EngineEndpoint endpoint, EngineClientOptions? options = null)
    {
        Endpoint = endpoint;
        Options = options ?? EngineClientOptions.Default;
        _negotiation = new AskedOnce<VersionAnswer>(NegotiateAsync);
        _kind = new AskedOnce<EngineKind>(AskEngineKindAsync);
        // ConnectTimeout bounds the transport's ConnectCallback too (unix socket, TLS handshake, ssh start).
        var handler = new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30), ConnectTimeout = Options.ConnectTimeout };
        // Builds stream for minutes (pip, apt): no overall timeout; each call has its own (EngineClientOptions).
        // Requests name their API version in the path (v1.45/...), chosen once per client: see ApiVersionAsync.
        _http = new HttpClient(EngineTransport.CreateHandler(endpoint, handler)) { BaseAddress = EngineTransport.BaseAddress(endpoint), Timeout = Timeout.InfiniteTimeSpan };
    }

    public EngineEndpoint Endpoint { get; }

    public EngineClientOptions Options { get; }

    public async Task<JsonObject?> InspectImageAsync(string image, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Get, $"images/{Uri.EscapeDataString(image)}/json", null, Options.RequestTimeout, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
            return null;
        await EnsureSuccessAsync(response, $"inspect image {image}", cancellationToken).ConfigureAwait(false);
        return (await ReadJsonAsync(response, cancellationToken).ConfigureAwait(false))?.AsObject();
    }

    public async Task<string> CreateContainerAsync(ContainerSpec spec, CancellationToken cancellationToken)
    {
        var body = new JsonObject
        {
            ["Image"] = spec.Image,
            ["Cmd"] = ToArray(spec.Command),
            ["Entrypoint"] = new JsonArray(),
            ["Env"] = ToArray(spec.Env),
            ["Labels"] = new JsonObject(spec.Labels.Select(l => KeyValuePair.Create(l.Key, (JsonNode?)l.Value))),
            ["AttachStdout"] = false,
            ["AttachStderr"] = false,
            ["Tty"] = false,
        };
        if (spec.WorkingDir is not null)
            body["WorkingDir"] = spec.WorkingDir;
        var query = spec.Name is null ? "" : "?name=" + Uri.EscapeDataString(spec.Name);
        var json = await SendJsonAsync(HttpMethod.Post, "containers/create" + query, body, cancellationToken).ConfigureAwait(false);
        return json?["Id"]?.GetValue<string>() ?? throw Unexpected("create container", "no Id in the answer");
    }

    public async Task StartContainerAsync(string containerId, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Post, $"containers/{containerId}/start", null, Options.RequestTimeout, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, "start container", cancellationToken).ConfigureAwait(false);
    }

    public async Task RemoveContainerAsync(string containerId, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Delete, $"containers/{containerId}?force=true&v=true", null, Options.RemovalTimeout, cancellationToken).ConfigureAwait(false);
        // Gone already, or being removed (by the engine itself, or an earlier call that timed out): done either way.
        if (response.StatusCode == HttpStatusCode.NotFound)
            return;
        if (response.StatusCode == HttpStatusCode.Conflict
            && (await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false)).Contains("already in progress", StringComparison.OrdinalIgnoreCase))
            return;
        await EnsureSuccessAsync(response, "remove container", cancellationToken).ConfigureAwait(false);
    }

    public async Task PutArchiveAsync(string containerId, string path, Stream tar, CancellationToken cancellationToken)
    {
        using var content = new StreamContent(tar);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-tar");
        using var response = await SendAsync(HttpMethod.Put, $"containers/{containerId}/archive?path={Uri.EscapeDataString(path)}", content, Streaming, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, $"copy files into the build container at {path}", cancellationToken).ConfigureAwait(false);
    }

    public Task<long> ExecAsync(string containerId, ExecSpec spec, Action<OutputLine> onLine, CancellationToken cancellationToken)
        => ExecCoreAsync(containerId, spec, (stream, token) => MultiplexedStreamReader.ReadLinesAsync(stream, onLine, token), cancellationToken);

    public Task<long> ExecToStreamAsync(string containerId, ExecSpec spec, Stream stdout, Action<string> onStderr, CancellationToken cancellationToken)
        => ExecCoreAsync(containerId, spec, (stream, token) => MultiplexedStreamReader.CopyAsync(stream, stdout, onStderr, token), cancellationToken);

    public async Task<IReadOnlyList<FilesystemChange>> GetChangesAsync(string containerId, CancellationToken cancellationToken)
    {
        var json = await SendJsonAsync(HttpMethod.Get, $"containers/{containerId}/changes", null, cancellationToken).ConfigureAwait(false);
        return json is JsonArray changes
            ? changes.Select(c => new FilesystemChange(c!["Path"]!.GetValue<string>(), (ChangeKind)c["Kind"]!.GetValue<int>())).ToArray()
            : [];
    }

    public async Task<JsonArray> GetImageHistoryAsync(string image, CancellationToken cancellationToken) =>
        await SendJsonAsync(HttpMethod.Get, $"images/{Uri.EscapeDataString(image)}/history", null, cancellationToken).ConfigureAwait(false) as JsonArray ?? [];

    public async Task<Stream> SaveImageAsync(string image, CancellationToken cancellationToken)
    {
        var response = await SendAsync(new HttpRequestMessage(HttpMethod.Get, $"images/{Uri.EscapeDataString(image)}/get"),
            HttpCompletionOption.ResponseHeadersRead, Streaming, cancellationToken).ConfigureAwait(false);
        try
        {
            await EnsureSuccessAsync(response, $"export image {image}", cancellationToken).ConfigureAwait(false);
            return await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    /// <summary>Asked once per client (the negotiation's GET /version, and GET /info); a failed ask is asked again on the next call.</summary>
    public Task<EngineKind> GetEngineKindAsync(CancellationToken cancellationToken) => _kind.GetAsync(cancellationToken);

    private async Task<EngineKind> AskEngineKindAsync()
    {
        var version = await _negotiation.GetAsync(CancellationToken.None).ConfigureAwait(false);
        var info = await SendJsonAsync(HttpMethod.Get, "info", null, CancellationToken.None).ConfigureAwait(false);
        return EngineKinds.Classify(version.Document, info as JsonObject);
    }

    public async Task LoadImageAsync(Stream archive, CancellationToken cancellationToken)
    {
        using var content = new StreamContent(archive);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-tar");
        using var response = await SendAsync(HttpMethod.Post, "images/load?quiet=1", content, Streaming, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, "load the image", cancellationToken).ConfigureAwait(false);
        // The engine reports load failures inside a 200 answer, as a JSON message with "error".
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (JsonNode.Parse(line)?["error"]?.GetValue<string>() is { } error)
                throw new ModWsgiException(DiagnosticCodes.EngineRequestFailed, $"The container engine could not load the built image: {error}");
        }
    }

    public async Task<IReadOnlyList<ContainerSummary>> ListContainersAsync(IReadOnlyList<string> labels, CancellationToken cancellationToken)
    {
        var json = await SendJsonAsync(HttpMethod.Get, "containers/json?all=1&filters=" + Filters(labels, danglingOnly: false), null, cancellationToken).ConfigureAwait(false);
        return json is JsonArray containers
            ? containers.OfType<JsonObject>().Select(c => new ContainerSummary(
                c["Id"]?.GetValue<string>() ?? "",
                (c["State"] as JsonValue)?.TryGetValue<string>(out var state) == true ? state : "",
                LabelsOf(c),
                DateTimeOffset.FromUnixTimeSeconds((c["Created"] as JsonValue)?.TryGetValue<long>(out var created) == true ? created : 0))).ToArray()
            : [];
    }

    public async Task<IReadOnlyList<ImageSummary>> ListImagesAsync(IReadOnlyList<string> labels, bool danglingOnly, CancellationToken cancellationToken)
    {
        var json = await SendJsonAsync(HttpMethod.Get, "images/json?filters=" + Filters(labels, danglingOnly), null, cancellationToken).ConfigureAwait(false);
        return json is JsonArray images
            ? images.OfType<JsonObject>().Select(i => new ImageSummary(
                i["Id"]?.GetValue<string>() ?? "",
                // Dangling images answer null, [] or ["<none>:<none>"], depending on the engine and its version.
                (i["RepoTags"] as JsonArray)?.Select(t => t?.GetValue<string>()).OfType<string>().Where(t => t != "<none>:<none>").ToArray() ?? [],
                LabelsOf(i),
                (i["Size"] as JsonValue)?.TryGetValue<long>(out var size) == true ? size : 0)).ToArray()
            : [];
    }

    public async Task<bool> RemoveImageAsync(string image, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Delete, $"images/{Uri.EscapeDataString(image)}?force=false&noprune=false", null, Options.RemovalTimeout, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Conflict)
            return false;
        await EnsureSuccessAsync(response, $"remove image {image}", cancellationToken).ConfigureAwait(false);
        return true;
    }

    private static string Filters(IReadOnlyList<string> labels, bool danglingOnly)
    {
        var filters = new JsonObject { ["label"] = ToArray(labels) };
        if (danglingOnly)
            filters["dangling"] = new JsonArray("true");
        return Uri.EscapeDataString(filters.ToJsonString());
    }

    private static Dictionary<string, string> LabelsOf(JsonObject summary) =>
        (summary["Labels"] as JsonObject)?.Where(l => l.Value is JsonValue v && v.TryGetValue<string>(out _))
            .ToDictionary(l => l.Key, l => l.Value!.GetValue<string>(), StringComparer.Ordinal) ?? new Dictionary<string, string>(StringComparer.Ordinal);

    private async Task<long> ExecCoreAsync(string containerId, ExecSpec spec, Func<Stream, CancellationToken, Task> readOutput, CancellationToken cancellationToken)
    {
        var create = new JsonObject
        {
            ["Cmd"] = ToArray(spec.Command),
            ["Env"] = ToArray(spec.Env),
            ["AttachStdout"] = true,
            ["AttachStderr"] = true,
            ["Tty"] = false,
        };
        if (spec.WorkingDir is not null)
            create["WorkingDir"] = spec.WorkingDir;
        if (spec.User is not null)
            create["User"] = spec.User;
        var created = await SendJsonAsync(HttpMethod.Post, $"containers/{containerId}/exec", create, cancellationToken).ConfigureAwait(false);
        var execId = created?["Id"]?.GetValue<string>() ?? throw Unexpected("create exec", "no Id in the answer");

        var start = new JsonObject { ["Detach"] = false, ["Tty"] = false };
        using (var request = new HttpRequestMessage(HttpMethod.Post, $"exec/{execId}/start") { Content = JsonContent(start) })
        {
            using var response = await SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Streaming, cancellationToken).ConfigureAwait(false);
            await EnsureSuccessAsync(response, "start exec", cancellationToken).ConfigureAwait(false);
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await readOutput(stream, cancellationToken).ConfigureAwait(false);
        }

        var inspected = await SendJsonAsync(HttpMethod.Get, $"exec/{execId}/json", null, cancellationToken).ConfigureAwait(false);
        return inspected?["ExitCode"]?.GetValue<long>() ?? throw Unexpected("inspect exec", "no ExitCode in the answer");
    }

    public void Dispose() => _http.Dispose();

    private async Task<JsonNode?> SendJsonAsync(HttpMethod method, string path, JsonNode? body, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(method, path, body is null ? null : JsonContent(body), Options.RequestTimeout, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, $"{method} {path}", cancellationToken).ConfigureAwait(false);
        return await ReadJsonAsync(response, cancellationToken).ConfigureAwait(false);
    }

    private Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, HttpContent? content, TimeSpan timeout, CancellationToken cancellationToken)
        => SendAsync(new HttpRequestMessage(method, path) { Content = content }, HttpCompletionOption.ResponseContentRead, timeout, cancellationToken);

    /// <summary>
    /// The Engine API version this client and the engine both speak, asked once (GET /version, unversioned) on the
    /// first call; a failed ask (engine not up yet) is asked again on the next call.
    /// </summary>
    public async Task<Version> GetApiVersionAsync(CancellationToken cancellationToken) =>
        (await _negotiation.GetAsync(cancellationToken).ConfigureAwait(false)).Negotiated;

    /// <summary>The version both speak, and the engine's /version document (which also says what engine it is).</summary>
    private sealed record VersionAnswer(Version Negotiated, JsonObject? Document);

    private async Task<VersionAnswer> NegotiateAsync()
    {
        using var response = await SendUnversionedAsync(new HttpRequestMessage(HttpMethod.Get, "version"), HttpCompletionOption.ResponseContentRead, Options.RequestTimeout, CancellationToken.None).ConfigureAwait(false);
        var text = await response.Content.ReadAsStringAsync(CancellationToken.None).ConfigureAwait(false);
        var json = TryParseJson(text);
        // An engine answers an error with {"message": …}; anything else (an HTML 404 page, a proxy's text) is not an engine.
        if (!response.IsSuccessStatusCode && json?["message"] is JsonValue)
            await EnsureSuccessAsync(response, "report its version", CancellationToken.None).ConfigureAwait(false);
        // Every engine answer carries the Api-Version header as well (the one GET /_ping is for).
        var header = response.Headers.TryGetValues("Api-Version", out var values) ? values.FirstOrDefault() : null;
        var newest = (response.IsSuccessStatusCode ? EngineApiVersion.Parse(json?["ApiVersion"] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null) : null)
            ?? EngineApiVersion.Parse(header)
            ?? throw NotAnEngine(response, text);
        var minimum = EngineApiVersion.Parse(json?["MinAPIVersion"]?.GetValue<string>());
        return new VersionAnswer(EngineApiVersion.Choose(newest, minimum, Endpoint.Display), json as JsonObject);
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, HttpCompletionOption completion, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var version = await GetApiVersionAsync(cancellationToken).ConfigureAwait(false);
        request.RequestUri = new Uri($"v{version}/{request.RequestUri!.OriginalString}", UriKind.Relative);
        return await SendUnversionedAsync(request, completion, timeout, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// One request; with <see cref="HttpCompletionOption.ResponseContentRead"/> the answer's body is read
    /// within <paramref name="timeout"/> too.
    /// </summary>
    private async Task<HttpResponseMessage> SendUnversionedAsync(HttpRequestMessage request, HttpCompletionOption completion, TimeSpan timeout, CancellationToken cancellationToken)
    {
        // Named before sending: HttpClient makes the request's URI absolute.
        var what = $"{request.Method} /{request.RequestUri!.OriginalString}";
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            return await _http.SendAsync(request, completion, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested && deadline.IsCancellationRequested)
        {
            throw new ModWsgiException(DiagnosticCodes.EngineTimedOut,
                $"The container engine at {Endpoint.Display} did not answer {what} within {Describe(timeout)}. " +
                "Check that it is not paused or hung (docker info; restart it if it does not answer), then build again.", ex);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            // The handler's ConnectTimeout (not the caller, not our deadline).
            throw Unreachable($"no connection within {Describe(Options.ConnectTimeout)}", ex);
        }
        catch (HttpRequestException ex) when (ex.HttpRequestError == HttpRequestError.InvalidResponse)
        {
            // Connected, and bytes came back, but not HTTP (an ssh or database port, say).
            throw NotAnEngine($"{what} got an answer that is not HTTP: {ex.InnerException?.Message ?? ex.Message}", ex);
        }
        catch (HttpRequestException ex)
        {
            throw Unreachable(ex.InnerException?.Message ?? ex.Message, ex);
        }
    }

    private static JsonNode? TryParseJson(string text)
    {
        try
        {
            return string.IsNullOrWhiteSpace(text) ? null : JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Something listens and speaks HTTP, but GET /version gave no Engine API version: the endpoint names another service.</summary>
    private ModWsgiException NotAnEngine(HttpResponseMessage response, string body) => NotAnEngine(
        $"GET /version answered {(int)response.StatusCode} {response.ReasonPhrase}" +
        (response.Content.Headers.ContentType?.MediaType is { } type ? $" ({type})" : "") +
        (Excerpt(body) is { Length: > 0 } excerpt ? $": \"{excerpt}\"" : "") + ", with no Engine API version");

    private ModWsgiException NotAnEngine(string what, Exception? cause = null) =>
        new(DiagnosticCodes.NotAContainerEngine,
            $"Something answers at {Endpoint.Display}, but it is not a Docker or Podman engine ({what}). " +
            "Check that DOCKER_HOST (or DockerHost, or the docker context) names the engine's API socket or port, not another service: " +
            $"'docker -H {Endpoint.Display} version' must show a server.", cause);

    /// <summary>The start of an answer's body on one line, for a message.</summary>
    private static string Excerpt(string body)
    {
        var line = string.Join(' ', body.Split((char[])['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        return line.Length <= 80 ? line : line[..80] + "…";
    }

    private ModWsgiException Unreachable(string why, Exception cause) =>
        new(DiagnosticCodes.EngineUnreachable,
            $"No container engine answers at {Endpoint.Display} ({why}). " +
            "Start one (for Docker: 'sudo dockerd &' or 'sudo systemctl start docker'; on Debian install it with 'apt-get install docker.io'), " +
            "or point DOCKER_HOST at a running engine.", cause);

    private static string Describe(TimeSpan timeout) =>
        timeout >= TimeSpan.FromMinutes(1) && timeout.Seconds == 0 ? $"{timeout.TotalMinutes:0} min"
        : timeout >= TimeSpan.FromSeconds(1) ? $"{timeout.TotalSeconds:0.#} s"
        : $"{timeout.TotalMilliseconds:0} ms";

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, string what, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
            return;
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        string message = text;
        try
        {
            message = JsonNode.Parse(text)?["message"]?.GetValue<string>() ?? text;
        }
        catch (JsonException)
        {
        }
        throw new ModWsgiException(DiagnosticCodes.EngineRequestFailed,
            $"The container engine refused to {what}: {(int)response.StatusCode} {message.Trim()}");
    }

    private static async Task<JsonNode?> ReadJsonAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        return string.IsNullOrWhiteSpace(text) ? null : JsonNode.Parse(text);
    }

    private static StringContent JsonContent(JsonNode body)
        => new(body.ToJsonString(), Encoding.UTF8, "application/json");

    private static JsonArray ToArray(IEnumerable<string> values) => new(values.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray());

    private ModWsgiException Unexpected(string what, string detail)
        => new(DiagnosticCodes.EngineRequestFailed, $"The container engine at {Endpoint.Display} gave an unexpected answer to {what}: {detail}.");
}

/// <summary>
/// An engine fact asked once per client and shared by every caller (version, kind): one caller's cancellation
/// does not cancel it for the others, and a failed ask (engine not up yet) is asked again on the next call.
/// </summary>
internal sealed class AskedOnce<T>(Func<Task<T>> ask)
{
    private readonly Lock _gate = new();
    private Task<T>? _answer;

    public Task<T> GetAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_answer is null || _answer.IsFaulted || _answer.IsCanceled)
                _answer = ask();
            return _answer.WaitAsync(cancellationToken);
        }
    }
}
