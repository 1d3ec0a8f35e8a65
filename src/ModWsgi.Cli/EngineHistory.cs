using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Engine;

namespace ModWsgi.Cli;

/// <summary>
/// GET /images/{name}/history — the one Engine API call inspect needs that Core's
/// <see cref="IContainerEngine"/> does not have (it gives each layer's size). Kept here, small, until the
/// engine interface grows it.
/// </summary>
internal static class EngineHistory
{
    public static async Task<JsonArray> GetAsync(EngineEndpoint endpoint, string image, CancellationToken cancellationToken)
    {
        var handler = new SocketsHttpHandler();
        if (endpoint.SocketPath is { } socketPath)
        {
            handler.ConnectCallback = async (_, token) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), token).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
        }
        // Same API version as Core's client.
        using var http = new HttpClient(handler) { BaseAddress = new Uri(endpoint.TcpBase ?? new Uri("http://localhost/"), "v1.41/") };
        try
        {
            using var response = await http.GetAsync($"images/{Uri.EscapeDataString(image)}/history", cancellationToken).ConfigureAwait(false);
            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
                throw new ModWsgiException(DiagnosticCodes.EngineRequestFailed,
                    $"The container engine refused to give the history of {image}: {(int)response.StatusCode} {text.Trim()}");
            return JsonNode.Parse(text) as JsonArray ?? [];
        }
        catch (HttpRequestException ex)
        {
            throw new ModWsgiException(DiagnosticCodes.EngineUnreachable,
                $"No container engine answers at {endpoint.Display} ({ex.InnerException?.Message ?? ex.Message}). Start one, or point DOCKER_HOST / --docker-host at a running engine.", ex);
        }
        catch (JsonException ex)
        {
            throw new ModWsgiException(DiagnosticCodes.EngineRequestFailed, $"The container engine at {endpoint.Display} gave an unreadable image history: {ex.Message}", ex);
        }
    }
}
