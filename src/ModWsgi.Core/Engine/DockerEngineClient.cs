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
    // 1.41 is Docker 20.10's API and is accepted by every newer engine and by Podman's compat API.
    private const string ApiVersion = "v1.41";
    private readonly HttpClient _http;

    public DockerEngineClient(EngineEndpoint endpoint)
    {
        Endpoint = endpoint;
        var handler = new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30) };
        var baseUri = EngineTransport.BaseAddress(endpoint);
        // Builds stream for minutes (pip, apt): no overall timeout; callers cancel instead.
        _http = new HttpClient(EngineTransport.CreateHandler(endpoint, handler)) { BaseAddress = new Uri(baseUri, ApiVersion + "/"), Timeout = Timeout.InfiniteTimeSpan };
    }

    public EngineEndpoint Endpoint { get; }

    public async Task<JsonObject?> InspectImageAsync(string image, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Get, $"images/{Uri.EscapeDataString(image)}/json", null, cancellationToken).ConfigureAwait(false);
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
        using var response = await SendAsync(HttpMethod.Post, $"containers/{containerId}/start", null, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, "start container", cancellationToken).ConfigureAwait(false);
    }

    public async Task RemoveContainerAsync(string containerId, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Delete, $"containers/{containerId}?force=true&v=true", null, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.NotFound)
            await EnsureSuccessAsync(response, "remove container", cancellationToken).ConfigureAwait(false);
    }

    public async Task PutArchiveAsync(string containerId, string path, Stream tar, CancellationToken cancellationToken)
    {
        using var content = new StreamContent(tar);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-tar");
        using var response = await SendAsync(HttpMethod.Put, $"containers/{containerId}/archive?path={Uri.EscapeDataString(path)}", content, cancellationToken).ConfigureAwait(false);
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
            HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
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

    public async Task LoadImageAsync(Stream archive, CancellationToken cancellationToken)
    {
        using var content = new StreamContent(archive);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-tar");
        using var response = await SendAsync(HttpMethod.Post, "images/load?quiet=1", content, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, "load the image", cancellationToken).ConfigureAwait(false);
        // The engine reports load failures inside a 200 answer, as a JSON message with "error".
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (JsonNode.Parse(line)?["error"]?.GetValue<string>() is { } error)
                throw new ModWsgiException(DiagnosticCodes.EngineRequestFailed, $"The container engine could not load the built image: {error}");
        }
    }

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
            using var response = await SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
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
        using var response = await SendAsync(method, path, body is null ? null : JsonContent(body), cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, $"{method} {path}", cancellationToken).ConfigureAwait(false);
        return await ReadJsonAsync(response, cancellationToken).ConfigureAwait(false);
    }

    private Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, HttpContent? content, CancellationToken cancellationToken)
        => SendAsync(new HttpRequestMessage(method, path) { Content = content }, HttpCompletionOption.ResponseContentRead, cancellationToken);

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        try
        {
            return await _http.SendAsync(request, completion, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new ModWsgiException(DiagnosticCodes.EngineUnreachable,
                $"No container engine answers at {Endpoint.Display} ({ex.InnerException?.Message ?? ex.Message}). " +
                "Start one (for Docker: 'sudo dockerd &' or 'sudo systemctl start docker'; on Debian install it with 'apt-get install docker.io'), " +
                "or point DOCKER_HOST at a running engine.", ex);
        }
    }

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
