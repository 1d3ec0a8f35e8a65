using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace ModWsgi.Faults.Tests;

public enum FaultKind
{
    /// <summary>503 with an error body (the request body is read first, so the client sees the answer, not a reset).</summary>
    ServiceUnavailable,

    /// <summary>429 with <c>Retry-After: RetryAfterSeconds</c>.</summary>
    TooManyRequests,

    /// <summary>The connection is reset (RST) after the request head arrives; nothing reaches the registry.</summary>
    ResetBeforeForwarding,

    /// <summary>The head and <c>BodyBytesForwarded</c> bytes of the body reach the registry, then both connections are reset.</summary>
    ResetMidBody,

    /// <summary>The registry gets the whole request and answers; the client's connection is reset instead of getting the answer.</summary>
    LoseTheAnswer,

    /// <summary>The request is read and never answered for <c>StallFor</c>; then the connection closes.</summary>
    Stall,

    /// <summary>The registry's answer is passed on with its Docker-Content-Digest replaced (a proxy that rewrites content).</summary>
    RewriteDigest,
}

/// <param name="PathPattern">A regex that must match the whole request target (path and query).</param>
public sealed record FaultRule(FaultKind Kind, string Method, string PathPattern)
{
    /// <summary>Matching requests let through before the fault fires.</summary>
    public int Skip { get; init; }

    /// <summary>Matching requests the fault fires on (after <see cref="Skip"/>); int.MaxValue: every one.</summary>
    public int Times { get; init; } = 1;

    public int RetryAfterSeconds { get; init; } = 1;

    public int BodyBytesForwarded { get; init; } = 64 * 1024;

    public TimeSpan StallFor { get; init; } = TimeSpan.FromSeconds(30);

    internal int Seen;
}

public sealed record FaultEvent(FaultKind Kind, string Method, string Target);

/// <summary>
/// An HTTP/1.1 proxy on 127.0.0.1 in front of a registry that injects faults into chosen requests. Each client
/// connection carries one request (the upstream request says <c>Connection: close</c>, and so does its answer), so
/// a fault never spills into the next request. Request bodies must have a Content-Length (the registry client's do).
/// The registry builds its upload locations from the Host header, so they lead back through the proxy.
/// </summary>
public sealed class FaultProxy : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _upstream;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<FaultRule> _rules = [];
    private readonly ConcurrentQueue<FaultEvent> _injected = new();
    private readonly ConcurrentQueue<string> _requests = new();
    private readonly ConcurrentDictionary<Socket, byte> _open = new();
    private readonly ConcurrentDictionary<Task, byte> _handlers = new();
    private readonly Task _accepting;

    public FaultProxy(string upstreamHost)
    {
        _upstream = IPEndPoint.Parse(upstreamHost);
        _listener.Start();
        Host = $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";
        _accepting = AcceptAsync();
    }

    /// <summary>"127.0.0.1:port" of the proxy.</summary>
    public string Host { get; }

    public IReadOnlyList<FaultEvent> Injected => [.. _injected];

    /// <summary>Every request seen, "METHOD target", in arrival order.</summary>
    public IReadOnlyList<string> Requests => [.. _requests];

    public FaultProxy Add(FaultRule rule)
    {
        lock (_rules)
            _rules.Add(rule);
        return this;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        foreach (var socket in _open.Keys)
            socket.Dispose();
        try
        {
            Task.WaitAll([_accepting, .. _handlers.Keys], TimeSpan.FromSeconds(10));
        }
        catch (AggregateException)
        {
            // Handlers end with the errors of the connections they were cut off from.
        }
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            _open[client] = 0;
            var handler = Task.Run(() => HandleAsync(client));
            _handlers[handler] = 0;
            _ = handler.ContinueWith(t => _handlers.TryRemove(t, out _), TaskScheduler.Default);
        }
    }

    private FaultRule? Match(string method, string target)
    {
        // Every rule counts every request it matches, so each rule's Skip is its own; the first that fires wins.
        FaultRule? firing = null;
        lock (_rules)
        {
            foreach (var rule in _rules)
            {
                if (rule.Method != method || !Regex.IsMatch(target, "^(?:" + rule.PathPattern + ")$"))
                    continue;
                var seen = rule.Seen++;
                if (firing is null && seen >= rule.Skip && seen - rule.Skip < rule.Times)
                    firing = rule;
            }
        }
        return firing;
    }

    private async Task HandleAsync(Socket client)
    {
        Socket? upstream = null;
        var ct = _stop.Token;
        try
        {
            await using var fromClient = new NetworkStream(client, ownsSocket: false);
            var (head, leftover) = await ReadHeadAsync(fromClient, ct);
            if (head is null)
                return;
            var lines = Encoding.ASCII.GetString(head).Split("\r\n");
            var requestLine = lines[0].Split(' ');
            var (method, target) = (requestLine[0], requestLine[1]);
            var length = lines.Skip(1).Select(l => l.Split(':', 2)).Where(p => p.Length == 2 && p[0].Trim().Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                .Select(p => long.Parse(p[1].Trim())).FirstOrDefault();
            _requests.Enqueue($"{method} {target}");
            var rule = Match(method, target);
            if (rule is not null)
                _injected.Enqueue(new FaultEvent(rule.Kind, method, target));

            switch (rule?.Kind)
            {
                case FaultKind.ServiceUnavailable or FaultKind.TooManyRequests:
                    await CopyBodyAsync(leftover, fromClient, Stream.Null, length, ct);
                    await AnswerAsync(fromClient, method, rule, ct);
                    return;
                case FaultKind.ResetBeforeForwarding:
                    Reset(client);
                    return;
                case FaultKind.Stall:
                    await CopyBodyAsync(leftover, fromClient, Stream.Null, length, ct);
                    try
                    {
                        await Task.Delay(rule.StallFor, ct);
                    }
                    catch (OperationCanceledException)
                    {
                    }
                    return;
            }

            upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            _open[upstream] = 0;
            await upstream.ConnectAsync(_upstream, ct);
            await using var toRegistry = new NetworkStream(upstream, ownsSocket: false);
            await toRegistry.WriteAsync(WithConnectionClose(lines), ct);
            if (rule?.Kind == FaultKind.ResetMidBody)
            {
                await CopyBodyAsync(leftover, fromClient, toRegistry, Math.Min(length, rule.BodyBytesForwarded), ct);
                await toRegistry.FlushAsync(ct);
                await Task.Delay(200, ct); // let the registry read what arrived before the reset
                Reset(upstream);
                Reset(client);
                return;
            }
            await CopyBodyAsync(leftover, fromClient, toRegistry, length, ct);

            if (rule?.Kind is FaultKind.LoseTheAnswer or FaultKind.RewriteDigest)
            {
                var answer = new MemoryStream();
                await toRegistry.CopyToAsync(answer, ct);
                if (rule.Kind == FaultKind.LoseTheAnswer)
                {
                    Reset(client);
                    return;
                }
                var text = Encoding.Latin1.GetString(answer.ToArray());
                text = Regex.Replace(text, "(?im)^(Docker-Content-Digest:) *sha256:[0-9a-f]{64}\r$", "$1 sha256:" + new string('0', 64) + "\r");
                await fromClient.WriteAsync(Encoding.Latin1.GetBytes(text), ct);
                return;
            }
            // The registry closes after its answer (Connection: close): pass everything on until then.
            await toRegistry.CopyToAsync(fromClient, ct);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Broken connections are this proxy's business.
        }
        finally
        {
            foreach (var socket in new[] { client, upstream })
            {
                if (socket is null)
                    continue;
                _open.TryRemove(socket, out _);
                socket.Dispose();
            }
        }
    }

    /// <summary>A TCP reset rather than an orderly close: the peer sees "connection reset by peer".</summary>
    private static void Reset(Socket socket)
    {
        socket.LingerState = new LingerOption(true, 0);
        socket.Close();
    }

    private static async Task AnswerAsync(Stream client, string method, FaultRule rule, CancellationToken ct)
    {
        var (status, code) = rule.Kind == FaultKind.TooManyRequests ? ("429 Too Many Requests", "TOOMANYREQUESTS") : ("503 Service Unavailable", "UNAVAILABLE");
        var body = method == "HEAD" ? "" : $$"""{"errors":[{"code":"{{code}}","message":"injected by the fault proxy"}]}""";
        var retryAfter = rule.Kind == FaultKind.TooManyRequests ? $"Retry-After: {rule.RetryAfterSeconds}\r\n" : "";
        var answer = $"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n{retryAfter}Connection: close\r\n\r\n{body}";
        await client.WriteAsync(Encoding.UTF8.GetBytes(answer), ct);
    }

    /// <summary>The head with any connection options replaced by <c>Connection: close</c>.</summary>
    private static byte[] WithConnectionClose(string[] lines)
    {
        var kept = lines.TakeWhile(l => l.Length > 0)
            .Where(l => !Regex.IsMatch(l, "^(Connection|Keep-Alive|Proxy-Connection):", RegexOptions.IgnoreCase));
        return Encoding.ASCII.GetBytes(string.Join("\r\n", kept) + "\r\nConnection: close\r\n\r\n");
    }

    private static async Task CopyBodyAsync(byte[] leftover, Stream from, Stream to, long count, CancellationToken ct)
    {
        var first = (int)Math.Min(leftover.Length, count);
        await to.WriteAsync(leftover.AsMemory(0, first), ct);
        count -= first;
        var buffer = new byte[81920];
        while (count > 0)
        {
            var read = await from.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, count)), ct);
            if (read == 0)
                throw new IOException("The client closed before sending its body.");
            await to.WriteAsync(buffer.AsMemory(0, read), ct);
            count -= read;
        }
    }

    /// <summary>The request head up to and with its blank line, and the body bytes read past it.</summary>
    private static async Task<(byte[]? Head, byte[] Leftover)> ReadHeadAsync(Stream stream, CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        var filled = 0;
        while (filled < buffer.Length)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(filled), ct);
            if (read == 0)
                return (null, []);
            filled += read;
            var end = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
                return (buffer[..(end + 4)], buffer[(end + 4)..filled]);
        }
        throw new IOException("Request head over 64 KiB.");
    }
}
