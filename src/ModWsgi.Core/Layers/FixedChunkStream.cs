namespace ModWsgi.Core.Layers;

/// <summary>
/// Forwards writes to the inner stream in fixed-size chunks only (and the remainder on dispose). zlib-ng's
/// deflate output depends on how its input is split across calls, so gzip fed by a network stream would
/// give a different blob each time; fixed chunks make compression a function of the bytes alone.
/// </summary>
internal sealed class FixedChunkStream(Stream inner, int chunkSize = 1 << 16) : Stream
{
    private readonly byte[] _buffer = new byte[chunkSize];
    private int _filled;

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        while (buffer.Length > 0)
        {
            var take = Math.Min(buffer.Length, _buffer.Length - _filled);
            buffer[..take].CopyTo(_buffer.AsSpan(_filled));
            _filled += take;
            buffer = buffer[take..];
            if (_filled == _buffer.Length)
            {
                inner.Write(_buffer);
                _filled = 0;
            }
        }
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Write(buffer.AsSpan(offset, count));
        return Task.CompletedTask;
    }

    /// <summary>Deliberately not forwarding partial chunks: a flush must not change how gzip sees the input.</summary>
    public override void Flush()
    {
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && _filled > 0)
        {
            inner.Write(_buffer.AsSpan(0, _filled));
            _filled = 0;
        }
        base.Dispose(disposing);
    }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
