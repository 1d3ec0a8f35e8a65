using System.Net;
using System.Net.Http.Headers;

namespace ModWsgi.Core.Registry;

/// <summary>
/// Bytes [offset, offset + length) of a blob, opened afresh for each send (a retry resends from the store) and
/// streamed with a known length: no chunked transfer encoding, nothing buffered.
/// </summary>
internal sealed class BlobSliceContent : HttpContent
{
    private readonly Func<Stream> _open;
    private readonly long _offset;
    private readonly long _length;

    public BlobSliceContent(Func<Stream> open, long offset, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        (_open, _offset, _length) = (open, offset, length);
        Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        await using var source = _open();
        if (_offset > 0)
        {
            if (source.CanSeek)
                source.Seek(_offset, SeekOrigin.Begin);
            else
                await CopyAsync(source, Stream.Null, _offset, cancellationToken).ConfigureAwait(false);
        }
        await CopyAsync(source, stream, _length, cancellationToken).ConfigureAwait(false);
    }

    protected override bool TryComputeLength(out long length)
    {
        length = _length;
        return true;
    }

    private static async Task CopyAsync(Stream source, Stream destination, long count, CancellationToken ct)
    {
        var buffer = new byte[81920];
        while (count > 0)
        {
            var read = await source.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, count)), ct).ConfigureAwait(false);
            if (read == 0)
                throw new EndOfStreamException($"The blob ended {count} bytes early.");
            await destination.WriteAsync(buffer.AsMemory(0, read), ct).ConfigureAwait(false);
            count -= read;
        }
    }
}
