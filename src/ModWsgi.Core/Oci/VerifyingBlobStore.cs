using System.Security.Cryptography;
using ModWsgi.Core.Diagnostics;

namespace ModWsgi.Core.Oci;

/// <summary>
/// The blob store as seen by writers whose output is a temp file thrown away on a failure (an archive, the engine's
/// load spool): every blob read through it is hashed as its bytes pass, and the read that reaches its end fails on a
/// mismatch — the damaged blob is removed and reported with <see cref="DiagnosticCodes.CacheBlobDamaged"/> (the
/// pipeline then builds once more, which makes it again). No second read: the check costs only the hashing.
/// A push checks its blobs before it starts instead (<see cref="Destinations.RegistryDestination"/>).
/// </summary>
public sealed class VerifyingBlobStore(FileBlobStore inner) : IBlobStore
{
    public bool Contains(string digest) => inner.Contains(digest);

    public long SizeOf(string digest) => inner.SizeOf(digest);

    public Stream OpenRead(string digest)
    {
        // An empty file may never be read at all (a tar entry of size 0): checked now.
        if (inner.SizeOf(digest) == 0 && !inner.VerifyOrRemove(digest))
            throw Damaged(inner, digest);
        return new VerifyingStream(inner, digest, inner.OpenRead(digest));
    }

    public static ModWsgiException Damaged(FileBlobStore store, string digest) =>
        new(DiagnosticCodes.CacheBlobDamaged,
            $"The build cache's blob {digest} ({store.PathOf(digest)}) does not match its digest: it was damaged on disk, and was removed. "
            + "Build again to rebuild it; should it happen again, check that disk (or move the cache with WsgiCacheDirectory).");

    /// <summary>Hashes what is read; the read that reaches the end (by the file's length, or end of file) fails on a mismatch.</summary>
    private sealed class VerifyingStream(FileBlobStore store, string digest, Stream file) : Stream
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private readonly long _length = file.Length;
        private long _read;
        private bool _checked;

        public override bool CanRead => true;
        // Seekable for readers that ask for the length (a tar entry's size); only reading from the start is allowed.
        public override bool CanSeek => true;
        public override bool CanWrite => false;
        public override long Length => _length;

        public override long Position
        {
            get => _read;
            set
            {
                if (value != _read)
                    throw new NotSupportedException("A verified blob is read from start to end.");
            }
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var n = file.Read(buffer);
            return Account(buffer[..n]);
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var n = await file.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            return Account(buffer.Span[..n]);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private int Account(ReadOnlySpan<byte> bytes)
        {
            _hash.AppendData(bytes);
            _read += bytes.Length;
            if (!_checked && (bytes.Length == 0 || _read >= _length))
            {
                _checked = true;
                if ("sha256:" + Convert.ToHexStringLower(_hash.GetCurrentHash()) != digest)
                {
                    file.Dispose();
                    store.Remove(digest);
                    throw Damaged(store, digest);
                }
            }
            return bytes.Length;
        }

        public override long Seek(long offset, SeekOrigin origin)
        {
            var target = origin switch
            {
                SeekOrigin.Begin => offset,
                SeekOrigin.Current => _read + offset,
                _ => _length + offset,
            };
            Position = target;
            return target;
        }

        public override void Flush()
        {
        }

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _hash.Dispose();
                file.Dispose();
            }
            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            _hash.Dispose();
            await file.DisposeAsync().ConfigureAwait(false);
            await base.DisposeAsync().ConfigureAwait(false);
        }
    }
}
