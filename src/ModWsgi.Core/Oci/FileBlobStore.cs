namespace ModWsgi.Core.Oci;

/// <summary>
/// Blobs as files named by digest under <c>root/blobs/sha256/</c> (the OCI layout's own scheme). Writes go to
/// a temp file first and are moved into place, so a crash never leaves a truncated blob under a real digest.
/// </summary>
public sealed class FileBlobStore(string root) : IBlobStore
{
    public string Root { get; } = root;

    public string PathOf(string digest) => Path.Combine(Root, "blobs", "sha256", Digests.Hex(digest));

    public bool Contains(string digest) => File.Exists(PathOf(digest));

    public Stream OpenRead(string digest) => new FileStream(PathOf(digest), FileMode.Open, FileAccess.Read, FileShare.Read, 81920, FileOptions.Asynchronous);

    public long SizeOf(string digest) => new FileInfo(PathOf(digest)).Length;

    public string Put(ReadOnlySpan<byte> content)
    {
        var digest = Digests.Sha256(content);
        if (!Contains(digest))
        {
            var temp = NewTempFile();
            File.WriteAllBytes(temp, content.ToArray());
            Commit(temp, digest);
        }
        return digest;
    }

    /// <summary>A temp file inside the store (same file system, so the final move is atomic).</summary>
    public string NewTempFile()
    {
        var tmp = Path.Combine(Root, "tmp");
        Directory.CreateDirectory(tmp);
        return Path.Combine(tmp, Guid.NewGuid().ToString("N"));
    }

    /// <summary>Moves a finished temp file into place under its digest.</summary>
    public void Commit(string tempFile, string digest)
    {
        var target = PathOf(digest);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        if (File.Exists(target))
            File.Delete(tempFile);
        else
            File.Move(tempFile, target, overwrite: true);
    }
}
