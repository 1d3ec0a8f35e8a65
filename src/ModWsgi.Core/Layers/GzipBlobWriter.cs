using System.IO.Compression;
using ModWsgi.Core.Oci;

namespace ModWsgi.Core.Layers;

/// <summary>
/// Gzips a layer tar into the blob store, hashing both sides (diff id and blob digest) on the way. The one
/// place layers are compressed: input goes to gzip in fixed-size chunks, so equal tars give equal blobs.
/// Written to a temp file and moved into place under its digest; abandoned, it leaves nothing behind.
/// </summary>
internal sealed class GzipBlobWriter : IAsyncDisposable
{
    private readonly FileBlobStore _store;
    private readonly string _tempFile;
    private readonly FileStream _file;
    private readonly HashingStream _compressed;
    private readonly GZipStream _gzip;
    private readonly FixedChunkStream _chunks;
    private readonly HashingStream _uncompressed;
    private bool _completed;

    public GzipBlobWriter(FileBlobStore store, CompressionLevel level)
    {
        _store = store;
        _tempFile = store.NewTempFile();
        _file = new FileStream(_tempFile, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
        _compressed = new HashingStream(_file, leaveOpen: true);
        _gzip = new GZipStream(_compressed, level, leaveOpen: true);
        _chunks = new FixedChunkStream(_gzip);
        _uncompressed = new HashingStream(_chunks, leaveOpen: true);
    }

    /// <summary>Where the uncompressed tar is written.</summary>
    public Stream Input => _uncompressed;

    public async Task<Layer> CompleteAsync()
    {
        await _chunks.DisposeAsync().ConfigureAwait(false);
        await _gzip.DisposeAsync().ConfigureAwait(false);
        var diffId = _uncompressed.Digest();
        var digest = _compressed.Digest();
        var size = _compressed.BytesWritten;
        // On disk before the rename: a crash must not leave an empty or short file under the digest.
        await _file.FlushAsync().ConfigureAwait(false);
        _file.Flush(flushToDisk: true);
        await DisposeStreamsAsync().ConfigureAwait(false);
        _store.Commit(_tempFile, digest);
        _completed = true;
        return new Layer(new Descriptor(MediaTypes.OciLayerGzip, digest, size), diffId);
    }

    /// <summary>Abandoned (a failure, a cancellation, a full disk): the temp file goes, even when closing the streams fails too.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_completed)
            return;
        _completed = true;
        try
        {
            await IgnoringIoFailures(_chunks.DisposeAsync).ConfigureAwait(false);
            await IgnoringIoFailures(_gzip.DisposeAsync).ConfigureAwait(false);
            await IgnoringIoFailures(_uncompressed.DisposeAsync).ConfigureAwait(false);
            await IgnoringIoFailures(_compressed.DisposeAsync).ConfigureAwait(false);
            await IgnoringIoFailures(_file.DisposeAsync).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(_tempFile);
        }
    }

    /// <summary>Flushing what an abandoned blob still buffers fails again on a full disk; that failure says nothing new.</summary>
    private static async Task IgnoringIoFailures(Func<ValueTask> dispose)
    {
        try
        {
            await dispose().ConfigureAwait(false);
        }
        catch (IOException)
        {
        }
    }

    private async Task DisposeStreamsAsync()
    {
        await _uncompressed.DisposeAsync().ConfigureAwait(false);
        await _compressed.DisposeAsync().ConfigureAwait(false);
        await _file.DisposeAsync().ConfigureAwait(false);
    }
}
