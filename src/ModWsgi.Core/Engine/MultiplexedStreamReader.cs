using System.Buffers.Binary;
using System.Text;

namespace ModWsgi.Core.Engine;

/// <summary>
/// Decodes the Engine API's multiplexed stream (8-byte frame header: stream type, 3 zero bytes, big-endian size)
/// into whole lines per stream, so build output reaches the log line by line as it is produced.
/// </summary>
public static class MultiplexedStreamReader
{
    public static async Task ReadLinesAsync(Stream stream, Action<OutputLine> onLine, CancellationToken cancellationToken)
    {
        var header = new byte[8];
        var pending = new Dictionary<OutputStream, StringBuilder> { [OutputStream.Stdout] = new(), [OutputStream.Stderr] = new() };
        var decoders = new Dictionary<OutputStream, Decoder> { [OutputStream.Stdout] = Encoding.UTF8.GetDecoder(), [OutputStream.Stderr] = Encoding.UTF8.GetDecoder() };
        var payload = new byte[16 * 1024];
        var chars = new char[Encoding.UTF8.GetMaxCharCount(payload.Length)];
        while (await ReadExactlyOrEndAsync(stream, header, cancellationToken).ConfigureAwait(false))
        {
            var which = header[0] == 2 ? OutputStream.Stderr : OutputStream.Stdout;
            var remaining = (int)BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4));
            while (remaining > 0)
            {
                var read = await stream.ReadAsync(payload.AsMemory(0, Math.Min(remaining, payload.Length)), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                    break;
                remaining -= read;
                var count = decoders[which].GetChars(payload, 0, read, chars, 0);
                Emit(pending[which], chars.AsSpan(0, count), which, onLine);
            }
        }
        foreach (var (which, buffer) in pending)
        {
            if (buffer.Length > 0)
                onLine(new OutputLine(which, buffer.ToString()));
        }
    }

    /// <summary>Copies the stdout frames byte for byte to <paramref name="stdout"/>; stderr is decoded into lines.</summary>
    public static async Task CopyAsync(Stream stream, Stream stdout, Action<string> onStderr, CancellationToken cancellationToken)
    {
        var header = new byte[8];
        var payload = new byte[64 * 1024];
        var stderr = new MemoryStream();
        while (await ReadExactlyOrEndAsync(stream, header, cancellationToken).ConfigureAwait(false))
        {
            var target = header[0] == 2 ? stderr : stdout;
            var remaining = (int)BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4));
            while (remaining > 0)
            {
                var read = await stream.ReadAsync(payload.AsMemory(0, Math.Min(remaining, payload.Length)), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                    break;
                remaining -= read;
                await target.WriteAsync(payload.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            }
        }
        foreach (var line in Encoding.UTF8.GetString(stderr.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries))
            onStderr(line.TrimEnd('\r'));
    }

    private static void Emit(StringBuilder buffer, ReadOnlySpan<char> text, OutputStream which, Action<OutputLine> onLine)
    {
        foreach (var ch in text)
        {
            if (ch == '\n')
            {
                onLine(new OutputLine(which, buffer.ToString().TrimEnd('\r')));
                buffer.Clear();
            }
            else
            {
                buffer.Append(ch);
            }
        }
    }

    private static async Task<bool> ReadExactlyOrEndAsync(Stream stream, byte[] buffer, CancellationToken cancellationToken)
    {
        var offset = 0;
        while (offset < buffer.Length)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(offset), cancellationToken).ConfigureAwait(false);
            if (read == 0)
                return false;
            offset += read;
        }
        return true;
    }
}
