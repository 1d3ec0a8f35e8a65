using System.Formats.Tar;
using System.IO.Compression;
using ModWsgi.Core.Oci;

namespace ModWsgi.Core.Layers;

/// <summary>
/// Writes one image layer reproducibly: GNU tar entries (no per-process PAX records), every time set to the
/// build's epoch (not merely clamped: a file older than the epoch would otherwise make the digest depend on
/// when it was checked out), owner names dropped (ids kept), gzip with a fixed header. The same entries
/// give the same bytes, so the same digest. The layer lands in the blob store under its compressed digest.
/// </summary>
public sealed class LayerWriter : IAsyncDisposable
{
    private readonly DateTimeOffset _epoch;
    private readonly GzipBlobWriter _blob;
    private readonly TarWriter _tar;

    public LayerWriter(FileBlobStore store, DateTimeOffset epoch)
    {
        _epoch = epoch;
        _blob = new GzipBlobWriter(store, CompressionLevel.Optimal);
        _tar = new TarWriter(_blob.Input, TarEntryFormat.Gnu, leaveOpen: true);
    }

    public DateTimeOffset Epoch => _epoch;

    /// <summary>
    /// Entries at or below this path (e.g. <c>app</c>) get group 0 and the owner's permissions for their group, as
    /// OpenShift asks of images (<c>chgrp -R 0 DIR &amp;&amp; chmod -R g=u DIR</c>, what s2i and warpdrive do): a container
    /// run as any uid in group 0 (<c>docker run --user 12345:0</c>) may write there; other users keep what they had.
    /// </summary>
    public string? GroupWritableRoot { get; init; }

    /// <summary>One layer written by <paramref name="write"/> into <paramref name="store"/>.</summary>
    public static async Task<Layer> WriteAsync(FileBlobStore store, DateTimeOffset epoch, Func<LayerWriter, Task> write, string? groupWritableRoot = null)
    {
        await using var writer = new LayerWriter(store, epoch) { GroupWritableRoot = groupWritableRoot };
        await write(writer).ConfigureAwait(false);
        return await writer.CompleteAsync().ConfigureAwait(false);
    }

    public async Task AddDirectoryAsync(string name, UnixFileMode mode, int uid, int gid, CancellationToken cancellationToken)
        => await WriteAsync(Entry(TarEntryType.Directory, name.TrimEnd('/') + "/", mode, uid, gid), cancellationToken).ConfigureAwait(false);

    public async Task AddFileAsync(string name, UnixFileMode mode, int uid, int gid, Stream content, CancellationToken cancellationToken)
    {
        var entry = Entry(TarEntryType.RegularFile, name, mode, uid, gid);
        entry.DataStream = content;
        await WriteAsync(entry, cancellationToken).ConfigureAwait(false);
    }

    public async Task AddSymlinkAsync(string name, string target, int uid, int gid, CancellationToken cancellationToken)
    {
        var entry = Entry(TarEntryType.SymbolicLink, name, (UnixFileMode)0b111_111_111, uid, gid);
        entry.LinkName = target;
        await WriteAsync(entry, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Copies an entry from another tar (a container's diff), normalised like every other entry.</summary>
    public async Task AddEntryAsync(TarEntry source, string name, CancellationToken cancellationToken)
    {
        var entry = Entry(source.EntryType switch
        {
            TarEntryType.V7RegularFile or TarEntryType.ContiguousFile => TarEntryType.RegularFile,
            var type => type,
        }, name, source.Mode, source.Uid, source.Gid);
        if (source.EntryType is TarEntryType.SymbolicLink or TarEntryType.HardLink)
            entry.LinkName = source.LinkName;
        if (source is PosixTarEntry { EntryType: TarEntryType.CharacterDevice or TarEntryType.BlockDevice } device)
        {
            entry.DeviceMajor = device.DeviceMajor;
            entry.DeviceMinor = device.DeviceMinor;
        }
        if (entry.EntryType == TarEntryType.RegularFile)
            entry.DataStream = source.DataStream;
        await WriteAsync(entry, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>An overlay whiteout: <c>dir/.wh.name</c> deletes <c>dir/name</c> from the layers below.</summary>
    public Task AddWhiteoutAsync(string deletedPath, CancellationToken cancellationToken)
    {
        var slash = deletedPath.LastIndexOf('/');
        var name = slash < 0 ? ".wh." + deletedPath : deletedPath[..(slash + 1)] + ".wh." + deletedPath[(slash + 1)..];
        return AddFileAsync(name, 0, 0, 0, Stream.Null, cancellationToken);
    }

    /// <summary>Finishes the tar and moves the compressed blob into the store.</summary>
    public async Task<Layer> CompleteAsync()
    {
        await _tar.DisposeAsync().ConfigureAwait(false);
        return await _blob.CompleteAsync().ConfigureAwait(false);
    }

    /// <summary>An abandoned layer (failed or cancelled build) leaves nothing behind.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await _tar.DisposeAsync().ConfigureAwait(false);
        }
        catch (IOException)
        {
            // The tar's end blocks could not be written (a full disk): the blob below is abandoned anyway.
        }
        finally
        {
            await _blob.DisposeAsync().ConfigureAwait(false);
        }
    }

    private GnuTarEntry Entry(TarEntryType type, string name, UnixFileMode mode, int uid, int gid)
    {
        if (GroupWritableRoot is { } root && type != TarEntryType.SymbolicLink
            && (name.TrimEnd('/') == root || name.StartsWith(root + "/", StringComparison.Ordinal)))
        {
            const UnixFileMode group = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute;
            mode = (mode & ~group) | (UnixFileMode)(((int)mode >> 3) & (int)group);
            gid = 0;
        }
        // No access/change times: old-GNU readers would take those header bytes for the ustar name prefix.
        return new GnuTarEntry(type, name)
        {
            Mode = mode,
            Uid = uid,
            Gid = gid,
            UserName = "",
            GroupName = "",
            ModificationTime = _epoch,
        };
    }

    private async Task WriteAsync(TarEntry entry, CancellationToken cancellationToken)
        => await _tar.WriteEntryAsync(entry, cancellationToken).ConfigureAwait(false);
}
