using System.Buffers.Binary;
using System.Text;

namespace ModWsgi.Core.Engine;

/// <summary>
/// Decodes the Engine API's multiplexed stream (8-byte frame header: stream type, 3 zero bytes, big-endian
/// size): as whole lines per stream, so build output reaches the log line by line as it is produced, or as
/// raw stdout bytes (a tar) with stderr as lines.
/// </summary>
public static class MultiplexedStreamReader
{
    public static async Task ReadLinesAsync(Stream stream, Action<OutputLine> onLine, CancellationToken cancellationToken)
    {
        var lines = new Dictionary<OutputStream, LineDecoder> { [OutputStream.Stdout] = new(), [OutputStream.Stderr] = new() };
        await ReadFramesAsync(stream, (which, chunk) =>
        {
            lines[which].Add(chunk.Span, text => onLine(new OutputLine(which, text)));
            return ValueTask.CompletedTask;
        }, cancellationToken).ConfigureAwait(false);
        foreach (var (which, decoder) in lines)
            decoder.Flush(text => onLine(new OutputLine(which, text)));
    }

    /// <summary>Copies the stdout frames byte for byte to <paramref name="stdout"/>; stderr is decoded into lines.</summary>
    public static async Task CopyAsync(Stream stream, Stream stdout, Action<string> onStderr, CancellationToken cancellationToken)
    {
        var stderr = new LineDecoder();
        await ReadFramesAsync(stream, async (which, chunk) =>
        {
            if (which == OutputStream.Stderr)
                stderr.Add(chunk.Span, onStderr);
            else
                await stdout.WriteAsync(chunk, cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        stderr.Flush(onStderr);
    }

    /// <summary>Hands each frame's payload, in chunks, to <paramref name="onChunk"/> until the stream ends.</summary>
    private static async Task ReadFramesAsync(Stream stream, Func<OutputStream, ReadOnlyMemory<byte>, ValueTask> onChunk, CancellationToken cancellationToken)
    {
        var header = new byte[8];
        var payload = new byte[64 * 1024];
        while (await ReadExactlyOrEndAsync(stream, header, cancellationToken).ConfigureAwait(false))
        {
            var which = header[0] == 2 ? OutputStream.Stderr : OutputStream.Stdout;
            var remaining = (int)BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4));
            while (remaining > 0)
            {
                var read = await stream.ReadAsync(payload.AsMemory(0, Math.Min(remaining, payload.Length)), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                    return;
                remaining -= read;
                await onChunk(which, payload.AsMemory(0, read)).ConfigureAwait(false);
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

    /// <summary>UTF-8 bytes to lines; a character split across frames is kept whole.</summary>
    private sealed class LineDecoder
    {
        private readonly Decoder _decoder = Encoding.UTF8.GetDecoder();
        private readonly StringBuilder _line = new();
        private char[] _chars = new char[1024];

        public void Add(ReadOnlySpan<byte> bytes, Action<string> onLine)
        {
            var needed = _decoder.GetCharCount(bytes, flush: false);
            if (needed > _chars.Length)
                _chars = new char[needed];
            var count = _decoder.GetChars(bytes, _chars, flush: false);
            foreach (var ch in _chars.AsSpan(0, count))
            {
                if (ch == '\n')
                {
                    onLine(_line.ToString().TrimEnd('\r'));
                    _line.Clear();
                }
                else
                {
                    _line.Append(ch);
                }
            }
        }

        /// <summary>The last line when it had no newline, and any bytes of a cut-off character.</summary>
        public void Flush(Action<string> onLine)
        {
            var count = _decoder.GetChars([], _chars, flush: true);
            _line.Append(_chars, 0, count);
            if (_line.Length > 0)
                onLine(_line.ToString().TrimEnd('\r'));
            _line.Clear();
        }
    }
}
