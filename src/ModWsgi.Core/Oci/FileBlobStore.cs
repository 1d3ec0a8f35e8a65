using System.Diagnostics;
using System.Security.Cryptography;
using ModWsgi.Core.Diagnostics;

namespace ModWsgi.Core.Oci;

/// <summary>
/// Blobs as files named by digest under <c>root/blobs/sha256/</c> (the OCI layout's own scheme). Writes go to
/// a temp file first, are fsync'd and moved into place, so a crash never leaves a truncated blob under a real
/// digest. A file can still be damaged on disk afterwards: <see cref="Holds"/> checks the size a cache entry
/// recorded (cheap, every lookup), <see cref="VerifyOrRemove"/> the digest (a full read, before a blob leaves
/// the machine: see <see cref="VerifyingBlobStore"/>).
/// </summary>
public sealed class FileBlobStore(string root) : IBlobStore
{
    /// <summary>A temp file unmodified this long is left over from a build that died (a live build writes or reads it in seconds).</summary>
    public static readonly TimeSpan StaleTempAge = TimeSpan.FromMinutes(30);

    private const int ENOSPC = 28;
    private const int EDQUOT = 122;

    public string Root { get; } = root;

    public string TempDirectory => Path.Combine(Root, "tmp");

    public string PathOf(string digest) => Path.Combine(Root, "blobs", "sha256", Digests.Hex(digest));

    public bool Contains(string digest) => File.Exists(PathOf(digest));

    public Stream OpenRead(string digest) => new FileStream(PathOf(digest), FileMode.Open, FileAccess.Read, FileShare.Read, 81920, FileOptions.Asynchronous);

    public long SizeOf(string digest) => new FileInfo(PathOf(digest)).Length;

    /// <summary>
    /// Whether the store holds <paramref name="blob"/> with the size its descriptor says (a stat, no read). On a
    /// size mismatch the file is hashed to tell which side is wrong: a damaged blob is removed (the caller rebuilds
    /// it); a blob that hashes right under a descriptor with a wrong size is kept (the descriptor's entry is a miss).
    /// </summary>
    public bool Holds(Descriptor blob)
    {
        var file = new FileInfo(PathOf(blob.Digest));
        if (!file.Exists)
            return false;
        if (file.Length == blob.Size)
            return true;
        VerifyOrRemove(blob.Digest);
        return false;
    }

    /// <summary>Hashes the blob's file: true when it matches its digest; a file that does not is removed.</summary>
    public bool VerifyOrRemove(string digest)
    {
        var path = PathOf(digest);
        string actual;
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
            actual = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(file));
        }
        catch (FileNotFoundException)
        {
            return false;
        }
        if (actual == digest)
            return true;
        Remove(digest);
        return false;
    }

    /// <summary>Removes a blob (damaged, or no longer wanted); readers that have it open keep reading their copy.</summary>
    public void Remove(string digest) => File.Delete(PathOf(digest));

    public string Put(ReadOnlySpan<byte> content)
    {
        var digest = Digests.Sha256(content);
        var path = PathOf(digest);
        // Small blobs (configs): compared, not trusted by name, so a damaged one is replaced.
        if (File.Exists(path) && new FileInfo(path).Length == content.Length && content.SequenceEqual(File.ReadAllBytes(path)))
            return digest;
        var temp = NewTempFile();
        try
        {
            WriteDurably(temp, content);
            Commit(temp, digest);
        }
        finally
        {
            File.Delete(temp);
        }
        return digest;
    }

    /// <summary>
    /// A temp file inside the store (same file system, so the final move is atomic), named after this process
    /// (<c>PID-GUID-HOST</c>) so that <see cref="RemoveStaleTempFiles"/> can tell a dead build's leftovers.
    /// </summary>
    public string NewTempFile()
    {
        Directory.CreateDirectory(TempDirectory);
        return Path.Combine(TempDirectory, $"{Environment.ProcessId}-{Guid.NewGuid():N}-{Environment.MachineName}");
    }

    /// <summary>
    /// Moves a finished, fsync'd temp file into place under its digest. It replaces a file already there: the
    /// bytes in hand were hashed as they were written, the file there may have been damaged since.
    /// </summary>
    public void Commit(string tempFile, string digest)
    {
        var target = PathOf(digest);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        File.Move(tempFile, target, overwrite: true);
    }

    /// <summary>Writes a whole file and fsyncs it (before it is renamed into place, so a crash cannot leave it empty under its final name).</summary>
    public static void WriteDurably(string path, ReadOnlySpan<byte> content)
    {
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
        file.Write(content);
        file.Flush(flushToDisk: true);
    }

    /// <summary>
    /// Removes temp files left by builds that died (killed, or the machine went down): those of a process of this
    /// machine that no longer runs, and any unmodified for <see cref="StaleTempAge"/>. Returns how many went.
    /// </summary>
    public int RemoveStaleTempFiles(DateTimeOffset now)
    {
        if (!Directory.Exists(TempDirectory))
            return 0;
        var removed = 0;
        foreach (var file in new DirectoryInfo(TempDirectory).EnumerateFiles())
        {
            try
            {
                if (now - file.LastWriteTimeUtc < StaleTempAge && !OwnerIsGone(file.Name))
                    continue;
                file.Delete();
                removed++;
            }
            catch (IOException)
            {
                // Gone meanwhile, or not ours to remove: the next build tries again.
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        return removed;
    }

    /// <summary>Whether the name says a process of this machine made it that is not running now (names of other shapes: unknown, so false).</summary>
    internal static bool OwnerIsGone(string name)
    {
        var parts = name.Split('-', 3);
        if (parts.Length != 3 || parts[2] != Environment.MachineName || !int.TryParse(parts[0], out var pid) || pid <= 0)
            return false;
        if (pid == Environment.ProcessId)
            return false;
        try
        {
            using var process = Process.GetProcessById(pid);
            return process.HasExited;
        }
        catch (ArgumentException)
        {
            return true;
        }
        catch (InvalidOperationException)
        {
            return true;
        }
    }

    /// <summary>Whether an I/O failure is a full disk (or an exhausted quota).</summary>
    public static bool IsDiskFull(IOException exception) =>
        exception.HResult is ENOSPC or EDQUOT || exception.HResult == unchecked((int)0x80070070) || exception.HResult == unchecked((int)0x80070027);

    /// <summary>The coded error for a full disk under <paramref name="path"/>: what was being written, how much is free, what to do.</summary>
    public static ModWsgiException DiskFull(string path, string what, IOException exception)
    {
        string free;
        try
        {
            var existing = Path.GetFullPath(path);
            while (!Directory.Exists(existing) && Path.GetDirectoryName(existing) is { } parent)
                existing = parent;
            free = FormatSize(new DriveInfo(existing).AvailableFreeSpace);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            free = "unknown";
        }
        return new ModWsgiException(DiagnosticCodes.DiskFull,
            $"No space left on the disk of {path} while writing {what} ({free} free): {exception.Message}. Nothing half-written was kept; free some space there "
            + "(or point WsgiCacheDirectory at another disk) and build again.", exception);
    }

    private static string FormatSize(long bytes) =>
        bytes >= 1 << 20 ? $"{bytes / (double)(1 << 20):0.#} MB" : $"{bytes / 1024.0:0.#} KB";
}
