namespace ModWsgi.Core.Destinations;

/// <summary>Where the image went and under which names.</summary>
public sealed record PublishResult(string ImageId, string? ManifestDigest, IReadOnlyList<string> Images, string? ArchivePath, bool UpToDate = false)
{
    /// <summary>The archive file's own digest (sha256 of its bytes), to tell later whether it is still the one written.</summary>
    public string? ArchiveDigest { get; init; }

    /// <summary>The archive file's size in bytes.</summary>
    public long? ArchiveSize { get; init; }
}
