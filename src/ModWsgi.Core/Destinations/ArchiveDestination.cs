using Microsoft.Extensions.Logging;
using ModWsgi.Core.Cache;
using ModWsgi.Core.Layers;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Pipeline;
using ModWsgi.Core.Project;
using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Destinations;

/// <summary>
/// An OCI archive on disk (ContainerArchiveOutputPath), also loadable with `docker load`. Written beside the
/// target and moved into place, so a failed build never leaves half an archive; its size and sha256 are
/// recorded, so a file changed or replaced since is published again.
/// </summary>
public sealed class ArchiveDestination(OciImageAssembler assembler, BuildCache cache, ImageBuildOptions options, ILogger logger) : IImageDestination
{
    /// <summary>The file the archive goes to: a path ending in '/' (or an existing folder) gets REPOSITORY.tar.</summary>
    public string TargetPath { get; } = Target(options);

    public async Task<bool> IsUpToDateAsync(PublishRecord last, CancellationToken cancellationToken)
    {
        if (last.Result.ArchivePath is not { } path || last.Result.ArchiveDigest is not { } digest || last.Result.ArchiveSize is not { } size)
            return false;
        var file = new FileInfo(path);
        if (!file.Exists || file.Length != size)
            return false;
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        var actual = "sha256:" + Convert.ToHexStringLower(await System.Security.Cryptography.SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false));
        if (actual == digest)
            return true;
        logger.LogInformation("{Path} changed since it was written: publishing again.", path);
        return false;
    }

    public async Task<PublishResult> PublishAsync(BuiltImage image, CancellationToken cancellationToken)
    {
        var oci = await assembler.AssembleAsync(image, cancellationToken).ConfigureAwait(false);
        var target = TargetPath;
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        var temp = target + ImageBuildOptions.ArchiveTempSuffix + Guid.NewGuid().ToString("N")[..8];
        string digest;
        long size;
        try
        {
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            await using (var hashing = new HashingStream(file, leaveOpen: true))
            {
                // Every blob checked against its digest as it goes in: a damaged cache blob fails the archive, never ships in it.
                await ImageArchiveWriter.WriteAsync(hashing, oci, new VerifyingBlobStore(cache.Blobs), options.ImageNames(),
                    cancellationToken).ConfigureAwait(false);
                await hashing.FlushAsync(cancellationToken).ConfigureAwait(false);
                (digest, size) = (hashing.Digest(), hashing.BytesWritten);
            }
            File.Move(temp, target, overwrite: true);
        }
        catch (IOException ex) when (FileBlobStore.IsDiskFull(ex))
        {
            throw FileBlobStore.DiskFull(target, "the OCI archive", ex);
        }
        finally
        {
            if (File.Exists(temp))
                File.Delete(temp);
        }
        logger.LogInformation("Wrote OCI archive {Path}", target);
        return new PublishResult(image.ImageId, oci.Digest, options.ImageNames(), target) { ArchiveDigest = digest, ArchiveSize = size };
    }

    private static string Target(ImageBuildOptions options) =>
        options.ArchiveTargetPath() ?? throw new ArgumentException("No archive path in the options.", nameof(options));
}
