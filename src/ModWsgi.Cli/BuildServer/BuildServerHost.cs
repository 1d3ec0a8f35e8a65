using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;

namespace ModWsgi.Cli.BuildServer;

/// <summary>
/// The server side: listens on the endpoint's socket and runs one command at a time, each with the
/// client's arguments, working directory and environment (passed to the build, never set on this process), its output sent back as it is written.
/// Exits after <paramref name="idleTimeout"/> without a request, on shutdown, or on SIGTERM. It only listens in a
/// folder that is this user's alone and only serves clients of this user (<see cref="BuildServerEndpoint.CheckFolder"/>,
/// <see cref="BuildServerEndpoint.CheckPeer"/>); <paramref name="error"/> says why when it will not listen.
/// </summary>
internal sealed class BuildServerHost(BuildServerEndpoint endpoint, TimeSpan idleTimeout, Func<CliHost, ModWsgiCli> createCli, TextWriter error)
{
    private readonly SemaphoreSlim _oneAtATime = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private long _lastActivity = Environment.TickCount64;

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        if (!OperatingSystem.IsLinux())
        {
            error.WriteLine($"error {Core.Diagnostics.DiagnosticCodes.UnexpectedFailure.Id}: The build server runs on Linux only.");
            return ExitCodes.Failed;
        }
        endpoint.CreateFolder();
        if (endpoint.CheckFolder() is { } untrusted)
        {
            error.WriteLine(untrusted.ServerError);
            return ExitCodes.Failed;
        }
        using var listener = Bind();
        if (listener is null)
            return 0; // another server for this tool already answers
        try
        {
            var running = new List<Task>();
            while (!linked.IsCancellationRequested)
            {
                var accept = listener.AcceptAsync(linked.Token).AsTask();
                while (await Task.WhenAny(accept, Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None)).ConfigureAwait(false) != accept)
                {
                    var idleFor = Environment.TickCount64 - Interlocked.Read(ref _lastActivity);
                    if (_oneAtATime.CurrentCount == 1 && idleFor >= idleTimeout.TotalMilliseconds)
                        await _stopping.CancelAsync().ConfigureAwait(false);
                }
                if (!accept.IsCompletedSuccessfully)
                    break;
                running.RemoveAll(t => t.IsCompleted);
                running.Add(ServeAsync(accept.Result));
            }
            await Task.WhenAll(running).ConfigureAwait(false);
            return 0;
        }
        finally
        {
            File.Delete(endpoint.SocketPath);
        }
    }

    private Socket? Bind()
    {
        if (endpoint.TryConnect().Socket is { } running)
        {
            running.Dispose();
            return null;
        }
        File.Delete(endpoint.SocketPath); // if there, left by a server that died
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(endpoint.SocketPath));
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(endpoint.SocketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            listener.Listen(8);
            return listener;
        }
        catch (SocketException)
        {
            listener.Dispose();
            return null; // a second server started at the same moment won the race
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        // Another user's process that reached the socket gets nothing: not a byte read, not an answer.
        if (endpoint.CheckPeer(socket) is not null)
        {
            socket.Dispose();
            return;
        }
        using var connection = new BuildServerConnection(socket);
        var request = await connection.ReadAsync(_stopping.Token).ConfigureAwait(false);
        if (request is null)
            return;
        if (request["shutdown"] is not null)
        {
            connection.Send(new JsonObject { ["exit"] = 0 });
            _stopping.Cancel();
            return;
        }
        if (!await _oneAtATime.WaitAsync(0).ConfigureAwait(false))
        {
            connection.Send(new JsonObject { ["busy"] = true });
            return;
        }
        try
        {
            var exitCode = await RunCommandAsync(connection, request).ConfigureAwait(false);
            connection.Send(new JsonObject { ["exit"] = exitCode });
        }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException or ArgumentException)
        {
            // A malformed request (another version's client): say so instead of closing without an answer.
            connection.Send(new JsonObject { ["err"] = $"error {Core.Diagnostics.DiagnosticCodes.UnexpectedFailure.Id}: The build server could not read the request: {ex.Message}\n", ["exit"] = ExitCodes.Failed });
        }
        finally
        {
            Interlocked.Exchange(ref _lastActivity, Environment.TickCount64);
            _oneAtATime.Release();
        }
    }

    private async Task<int> RunCommandAsync(BuildServerConnection connection, JsonObject request)
    {
        var args = request["args"]?.AsArray().Select(a => a?.GetValue<string>() ?? "").ToArray() ?? [];
        // The build runs with the client's environment (DOCKER_HOST, SOURCE_DATE_EPOCH, credentials, cache
        // location), handed to Core as its build environment; this process's own variables stay as they are.
        var environment = request["env"]?.AsObject().ToDictionary(p => p.Key, p => p.Value?.GetValue<string>(), StringComparer.Ordinal) ?? [];
        if (request["cwd"]?.GetValue<string>() is { } cwd && Directory.Exists(cwd))
            Environment.CurrentDirectory = cwd;

        using var cancel = new CancellationTokenSource();
        // {"cancel":true} is Ctrl+C on the client; a closed connection (client killed) cancels too.
        var finished = false;
        _ = Task.Run(async () =>
        {
            try
            {
                await connection.ReadAsync(CancellationToken.None).ConfigureAwait(false);
                if (!Volatile.Read(ref finished))
                    await cancel.CancelAsync().ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                // the command ended and the connection with it (a reset connection reads as closed)
            }
        });
        using var output = new ForwardingWriter(connection, "out");
        using var error = new ForwardingWriter(connection, "err");
        try
        {
            return await createCli(new CliHost { Out = output, Error = error, StdinIsTerminal = false, Variables = environment })
                .InvokeAsync(args, cancel.Token).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref finished, true);
            output.Flush();
            error.Flush();
        }
    }

    /// <summary>Leaves the terminal's process group, so the Ctrl+C meant for one build does not end the server.</summary>
    public static void DetachFromTerminal()
    {
        _ = setsid();
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int setsid();
}
