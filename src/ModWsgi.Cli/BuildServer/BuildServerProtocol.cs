using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace ModWsgi.Cli.BuildServer;

/// <summary>
/// One JSON object per line over the server's unix socket.
/// Client → server: {"args":[…],"cwd":"…","env":{…}} to run a command, then {"cancel":true} on Ctrl+C;
/// or {"shutdown":true}. Server → client: {"out":"…"} and {"err":"…"} as the command writes, then
/// {"exit":N}; or {"busy":true} when it is running another build (the client then builds in-process).
/// </summary>
internal sealed class BuildServerConnection : IDisposable
{
    private readonly NetworkStream _stream;
    private readonly StreamReader _reader;
    private readonly StreamWriter _writer;
    private readonly Lock _writeLock = new();

    public BuildServerConnection(Socket socket)
    {
        _stream = new NetworkStream(socket, ownsSocket: true);
        _reader = new StreamReader(_stream, new UTF8Encoding(false));
        _writer = new StreamWriter(_stream, new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
    }

    /// <summary>The next message; null when the other side closed the connection (or sent something unreadable).</summary>
    public async Task<JsonObject?> ReadAsync(CancellationToken cancellationToken)
    {
        try
        {
            var line = await _reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
            return line is null ? null : JsonNode.Parse(line) as JsonObject;
        }
        catch (Exception ex) when (ex is IOException or System.Text.Json.JsonException)
        {
            // A reset connection (a server exiting as we connected, a killed client) reads as closed.
            return null;
        }
    }

    /// <summary>Sends one message; false when the other side is gone.</summary>
    public bool Send(JsonObject message)
    {
        var line = message.ToJsonString();
        lock (_writeLock)
        {
            try
            {
                _writer.WriteLine(line);
                return true;
            }
            catch (IOException)
            {
                return false;
            }
            catch (ObjectDisposedException)
            {
                return false;
            }
        }
    }

    public void Dispose()
    {
        _reader.Dispose();
        try
        {
            _writer.Dispose();
        }
        catch (IOException)
        {
            // the other side is gone; nothing left to flush to
        }
        _stream.Dispose();
    }
}

/// <summary>A command's stdout or stderr on the server, sent to the client as "out"/"err" messages, a line at a time.</summary>
internal sealed class ForwardingWriter(BuildServerConnection connection, string stream) : TextWriter
{
    private readonly StringBuilder _pending = new();

    public override Encoding Encoding => Encoding.UTF8;

    public override void Write(char value)
    {
        lock (_pending)
        {
            _pending.Append(value);
            if (value == '\n')
                SendPending();
        }
    }

    public override void Write(string? value)
    {
        if (string.IsNullOrEmpty(value))
            return;
        lock (_pending)
        {
            _pending.Append(value);
            if (value.EndsWith('\n'))
                SendPending();
        }
    }

    public override void Flush()
    {
        lock (_pending)
            SendPending();
    }

    private void SendPending()
    {
        if (_pending.Length == 0)
            return;
        connection.Send(new JsonObject { [stream] = _pending.ToString() });
        _pending.Clear();
    }
}
