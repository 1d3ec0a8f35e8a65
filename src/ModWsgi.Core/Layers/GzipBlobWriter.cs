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
        await DisposeStreamsAsync().ConfigureAwait(false);
        _store.Commit(_tempFile, digest);
        _completed = true;
        return new Layer(new Descriptor(MediaTypes.OciLayerGzip, digest, size), diffId);
    }

    public async ValueTask DisposeAsync()
    {
        if (_completed)
            return;
        await _chunks.DisposeAsync().ConfigureAwait(false);
        await _gzip.DisposeAsync().ConfigureAwait(false);
        await DisposeStreamsAsync().ConfigureAwait(false);
        File.Delete(_tempFile);
    }

    private async Task DisposeStreamsAsync()
    {
        await _uncompressed.DisposeAsync().ConfigureAwait(false);
        await _compressed.DisposeAsync().ConfigureAwait(false);
        await _file.DisposeAsync().ConfigureAwait(false);
    }
}
