using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using ModWsgi.Core.Cache;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Layers;
using ModWsgi.Core.Oci;

namespace ModWsgi.Core.Tests;

/// <summary>
/// The blob store under damage: a lookup's size check, the digest check of what leaves the machine, a commit that
/// replaces a damaged file, and temp files of builds that died.
/// </summary>
public sealed class CacheHealingTests : IDisposable
{
    private const string Key = "sha256:abababababababababababababababababababababababababababababababab";

    private readonly string _root = Directory.CreateTempSubdirectory("modwsgi-heal-").FullName;
    private readonly ListLogger _log = new();
    private readonly BuildCache _cache;

    public CacheHealingTests() => _cache = new BuildCache(Path.Combine(_root, "cache"), _log);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private async Task<Layer> WriteLayerAsync(string content) =>
        await LayerWriter.WriteAsync(_cache.Blobs, SourceDateEpoch.Fixed, w =>
            w.AddFileAsync("app/file.txt", (UnixFileMode)0b110_100_100, 0, 0, new MemoryStream(Encoding.UTF8.GetBytes(content)), default));

    private string BlobPath(Layer layer) => _cache.Blobs.PathOf(layer.Blob.Digest);

    private void Truncate(Layer layer, int keep)
    {
        using var file = new FileStream(BlobPath(layer), FileMode.Open);
        file.SetLength(keep);
    }

    /// <summary>Same size, one byte changed: only a hash tells.</summary>
    private void FlipAByte(Layer layer)
    {
        var bytes = File.ReadAllBytes(BlobPath(layer));
        bytes[bytes.Length / 2] ^= 0xff;
        File.WriteAllBytes(BlobPath(layer), bytes);
    }

    private static string Sha256Of(string path) => Digests.Sha256(File.ReadAllBytes(path));

    [Fact]
    public async Task TruncatedBlob_IsAMiss_AndIsRemoved()
    {
        var layer = await WriteLayerAsync("dependencies");
        _cache.SaveDependencies(Key, layer);
        Assert.Equal(layer, _cache.FindDependencies(Key));

        Truncate(layer, 10);

        Assert.Null(_cache.FindDependencies(Key));
        Assert.False(File.Exists(BlobPath(layer)));
        Assert.Contains(_log.Warnings, w => w.Contains("not the size its entry recorded", StringComparison.Ordinal) && w.Contains("removed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task EntryWithAWrongSize_IsAMiss_ButTheGoodBlobStays()
    {
        var layer = await WriteLayerAsync("dependencies");
        _cache.SaveDependencies(Key, layer with { Blob = layer.Blob with { Size = layer.Blob.Size + 1 } });

        Assert.Null(_cache.FindDependencies(Key));
        Assert.True(File.Exists(BlobPath(layer)));
        Assert.Equal(layer.Blob.Digest, Sha256Of(BlobPath(layer)));
    }

    [Fact]
    public async Task TruncatedBaseLayerOrProjectInstall_IsAMiss()
    {
        var baseId = "sha256:" + new string('e', 64);
        Layer[] layers = [await WriteLayerAsync("one"), await WriteLayerAsync("two")];
        _cache.SaveBaseLayers(baseId, layers);
        _cache.SaveProjectInstall(Key, layers[0]);
        Assert.NotNull(_cache.FindBaseLayers(baseId));

        Truncate(layers[0], 3);

        Assert.Null(_cache.FindBaseLayers(baseId));
        Assert.Null(_cache.FindProjectInstall(Key));
    }

    [Fact]
    public async Task WritingTheSameLayerAgain_ReplacesADamagedFile()
    {
        var layer = await WriteLayerAsync("application");
        FlipAByte(layer);
        Assert.NotEqual(layer.Blob.Digest, Sha256Of(BlobPath(layer)));

        var again = await WriteLayerAsync("application");

        Assert.Equal(layer, again);
        Assert.Equal(layer.Blob.Digest, Sha256Of(BlobPath(layer)));
        Assert.Empty(Directory.GetFiles(_cache.Blobs.TempDirectory));
    }

    [Fact]
    public void PuttingTheSameBytesAgain_ReplacesADamagedFile()
    {
        var config = Encoding.UTF8.GetBytes("{\"config\":true}");
        var digest = _cache.Blobs.Put(config);
        File.WriteAllText(_cache.Blobs.PathOf(digest), "{\"config\":false}");

        Assert.Equal(digest, _cache.Blobs.Put(config));

        Assert.Equal(config, File.ReadAllBytes(_cache.Blobs.PathOf(digest)));
    }

    [Fact]
    public async Task VerifiedRead_OfAGoodBlob_GivesItsBytes()
    {
        var layer = await WriteLayerAsync("good");
        await using var read = new VerifyingBlobStore(_cache.Blobs).OpenRead(layer.Blob.Digest);
        using var copy = new MemoryStream();
        await read.CopyToAsync(copy);

        Assert.Equal(File.ReadAllBytes(BlobPath(layer)), copy.ToArray());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task VerifiedRead_OfADamagedBlob_FailsCoded_AndRemovesIt(bool truncate)
    {
        var layer = await WriteLayerAsync(string.Concat(Enumerable.Range(0, 20000).Select(i => i.ToString())));
        if (truncate)
            Truncate(layer, (int)layer.Blob.Size / 2);
        else
            FlipAByte(layer);
        var store = new VerifyingBlobStore(_cache.Blobs);

        var error = await Assert.ThrowsAsync<ModWsgiException>(async () =>
        {
            await using var read = store.OpenRead(layer.Blob.Digest);
            await read.CopyToAsync(Stream.Null);
        });

        Assert.Equal(DiagnosticCodes.CacheBlobDamaged, error.Code);
        Assert.Contains(layer.Blob.Digest, error.Message, StringComparison.Ordinal);
        Assert.Contains("Build again", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(BlobPath(layer)));
    }

    [Fact]
    public async Task VerifiedRead_IntoAnArchive_NeverGivesTheLastBytesOfADamagedBlob()
    {
        var layer = await WriteLayerAsync("archive me");
        FlipAByte(layer);
        var image = OciImage.Of(Encoding.UTF8.GetBytes("{\"rootfs\":{}}"), [layer]);
        using var archive = new MemoryStream();

        var error = await Assert.ThrowsAsync<ModWsgiException>(() =>
            ImageArchiveWriter.WriteAsync(archive, image, new VerifyingBlobStore(_cache.Blobs), ["site:latest"], default));

        Assert.Equal(DiagnosticCodes.CacheBlobDamaged, error.Code);
        Assert.True(archive.Length < layer.Blob.Size + 512, "the tar went on past the damaged blob");
    }

    [Fact]
    public async Task VerifyOrRemove_RemovesADamagedBlob_KeepsAGoodOne()
    {
        var good = await WriteLayerAsync("good");
        var damaged = await WriteLayerAsync("push me");
        FlipAByte(damaged);

        Assert.True(_cache.Blobs.VerifyOrRemove(good.Blob.Digest));
        Assert.False(_cache.Blobs.VerifyOrRemove(damaged.Blob.Digest));

        Assert.True(File.Exists(BlobPath(good)));
        Assert.False(File.Exists(BlobPath(damaged)));
    }

    [Fact]
    public async Task VerifiedRead_OfABlobTruncatedToNothing_FailsAtOpen()
    {
        var layer = await WriteLayerAsync("emptied");
        Truncate(layer, 0);

        var error = Assert.Throws<ModWsgiException>(() => new VerifyingBlobStore(_cache.Blobs).OpenRead(layer.Blob.Digest));

        Assert.Equal(DiagnosticCodes.CacheBlobDamaged, error.Code);
    }

    [Fact]
    public async Task AnAbandonedLayer_LeavesNoTempFile()
    {
        await Assert.ThrowsAsync<InvalidOperationException>(() => LayerWriter.WriteAsync(_cache.Blobs, SourceDateEpoch.Fixed, async w =>
        {
            await w.AddFileAsync("a", 0, 0, 0, new MemoryStream(new byte[100_000]), default);
            throw new InvalidOperationException("the build failed");
        }));

        Assert.Empty(Directory.GetFiles(_cache.Blobs.TempDirectory));
    }

    [Fact]
    public void TempFiles_AreNamedAfterThisProcess()
    {
        var name = Path.GetFileName(_cache.Blobs.NewTempFile());

        Assert.StartsWith(Environment.ProcessId + "-", name, StringComparison.Ordinal);
        Assert.EndsWith("-" + Environment.MachineName, name, StringComparison.Ordinal);
        Assert.False(FileBlobStore.OwnerIsGone(name));
    }

    [Fact]
    public void StaleTempFiles_OfDeadBuildsAndOldOnes_AreRemoved_LiveOnesStay()
    {
        var tmp = _cache.Blobs.TempDirectory;
        Directory.CreateDirectory(tmp);
        var dead = DeadPid();
        var ofADeadBuild = Path.Combine(tmp, $"{dead}-{Guid.NewGuid():N}-{Environment.MachineName}");
        var ofThisBuild = _cache.Blobs.NewTempFile();
        var ofAnotherMachine = Path.Combine(tmp, $"{dead}-{Guid.NewGuid():N}-some-other-host");
        var oldWithoutOwner = Path.Combine(tmp, Guid.NewGuid().ToString("N"));
        var freshWithoutOwner = Path.Combine(tmp, Guid.NewGuid().ToString("N"));
        foreach (var file in new[] { ofADeadBuild, ofThisBuild, ofAnotherMachine, oldWithoutOwner, freshWithoutOwner })
            File.WriteAllText(file, "partial");
        File.SetLastWriteTimeUtc(oldWithoutOwner, DateTime.UtcNow - FileBlobStore.StaleTempAge - TimeSpan.FromMinutes(1));

        _cache.RemoveStaleTempFiles();

        Assert.False(File.Exists(ofADeadBuild));
        Assert.False(File.Exists(oldWithoutOwner));
        Assert.True(File.Exists(ofThisBuild));
        Assert.True(File.Exists(ofAnotherMachine)); // its pid says nothing here: only its age counts
        Assert.True(File.Exists(freshWithoutOwner));
        Assert.Contains(_log.Messages, m => m.Contains("Removed 2 temp file(s)", StringComparison.Ordinal));
    }

    [Fact]
    public void DiskFull_IsTheCodedErrorNamingThePathAndWhatToDo()
    {
        var error = FileBlobStore.DiskFull(_cache.Root, "the build cache", new IOException("No space left on device", 28));

        Assert.True(FileBlobStore.IsDiskFull(new IOException("No space left on device", 28)));
        Assert.False(FileBlobStore.IsDiskFull(new IOException("Permission denied", 13)));
        Assert.Equal(DiagnosticCodes.DiskFull, error.Code);
        Assert.Contains(_cache.Root, error.Message, StringComparison.Ordinal);
        Assert.Contains("free", error.Message, StringComparison.Ordinal);
        Assert.Contains("WsgiCacheDirectory", error.Message, StringComparison.Ordinal);
    }

    /// <summary>The pid of a process that ran and exited.</summary>
    private static int DeadPid()
    {
        using var process = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        process.WaitForExit();
        return process.Id;
    }
}
