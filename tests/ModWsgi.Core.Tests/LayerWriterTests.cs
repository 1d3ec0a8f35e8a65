using System.Formats.Tar;
using System.IO.Compression;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Text;
using ModWsgi.Core.Cache;
using ModWsgi.Core.Layers;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Pipeline;
using ModWsgi.Core.Project;
using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Tests;

// Modes, owners and symlinks are what these tests are about, and Windows has no modes to set.
[UnsupportedOSPlatform("windows")]
public sealed class LayerWriterTests : IDisposable
{
    private const UnixFileMode Mode0755 = (UnixFileMode)0b111_101_101;
    private const UnixFileMode Mode0644 = (UnixFileMode)0b110_100_100;
    private const UnixFileMode Mode0600 = (UnixFileMode)0b110_000_000;

    private static readonly DateTimeOffset Epoch = SourceDateEpoch.Fixed;

    private readonly string _root = Directory.CreateTempSubdirectory("modwsgi-layer-").FullName;
    private readonly FileBlobStore _store;

    public LayerWriterTests() => _store = new FileBlobStore(Path.Combine(_root, "store"));

    public void Dispose() => Directory.Delete(_root, recursive: true);

    // ---- helpers -------------------------------------------------------------------------------------------

    private string CreateProject(string name)
    {
        var dir = Path.Combine(_root, name);
        Directory.CreateDirectory(dir);
        File.SetUnixFileMode(dir, Mode0755);
        WriteFile(dir, "wsgi.py", "def application(environ, start_response):\n    start_response('200 OK', [])\n    return [b'hi']\n", Mode0644);
        WriteFile(dir, "app.py", "print('hello')\n", Mode0644);
        WriteFile(dir, "static/site.css", "body { color: red; }\n", Mode0644);
        WriteFile(dir, "static/js/app.js", "console.log(1);\n", Mode0644);
        WriteFile(dir, ".docker/action_hooks/pre-build", "#!/bin/sh\necho pre-build\n", Mode0755);
        WriteFile(dir, "secret.cfg", "password=hunter2\n", Mode0600);
        foreach (var sub in new[] { "static", "static/js", ".docker", ".docker/action_hooks" })
            File.SetUnixFileMode(Path.Combine(dir, sub), Mode0755);
        File.CreateSymbolicLink(Path.Combine(dir, "link.py"), "wsgi.py");
        Directory.CreateSymbolicLink(Path.Combine(dir, "assets"), "static");
        return dir;
    }

    private static void WriteFile(string dir, string relative, string content, UnixFileMode mode)
    {
        var path = Path.Combine(dir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        File.SetUnixFileMode(path, mode);
    }

    /// <summary>A copy that keeps modes and symlinks (like a second checkout somewhere else).</summary>
    private static void CopyTree(string from, string to)
    {
        Directory.CreateDirectory(to);
        File.SetUnixFileMode(to, File.GetUnixFileMode(from));
        foreach (var info in new DirectoryInfo(from).EnumerateFileSystemInfos())
        {
            var target = Path.Combine(to, info.Name);
            if (info.LinkTarget is { } link)
            {
                if (info is DirectoryInfo)
                    Directory.CreateSymbolicLink(target, link);
                else
                    File.CreateSymbolicLink(target, link);
            }
            else if (info is DirectoryInfo)
                CopyTree(info.FullName, target);
            else
            {
                File.Copy(info.FullName, target);
                File.SetUnixFileMode(target, info.UnixFileMode);
            }
        }
    }

    private static void SetAllTimes(string dir, DateTime time)
    {
        foreach (var info in new DirectoryInfo(dir).EnumerateFileSystemInfos("*", SearchOption.AllDirectories))
        {
            if (info.LinkTarget is not null)
                continue;
            if (info is DirectoryInfo)
                Directory.SetLastWriteTimeUtc(info.FullName, time);
            else
                File.SetLastWriteTimeUtc(info.FullName, time);
        }
        Directory.SetLastWriteTimeUtc(dir, time);
    }

    private async Task<Layer> WriteProjectLayerAsync(string dir)
    {
        await using var writer = new LayerWriter(_store, Epoch);
        await LayerSources.WriteProjectAsync(writer, ProjectFiles.Load(dir), null, CancellationToken.None);
        return await writer.CompleteAsync();
    }

    private async Task<Layer> WriteAsync(Func<LayerWriter, Task> write, DateTimeOffset? epoch = null)
    {
        await using var writer = new LayerWriter(_store, epoch ?? Epoch);
        await write(writer);
        return await writer.CompleteAsync();
    }

    private static MemoryStream Text(string text) => new(Encoding.UTF8.GetBytes(text));

    private sealed record ReadEntry(string Name, TarEntryType Type, TarEntryFormat Format, UnixFileMode Mode, int Uid, int Gid,
        string UserName, string GroupName, string LinkName, DateTimeOffset ModificationTime, long Length, byte[] Data, bool IsPax);

    private List<ReadEntry> ReadLayer(Layer layer)
    {
        var entries = new List<ReadEntry>();
        using var blob = _store.OpenRead(layer.Blob.Digest);
        using var gzip = new GZipStream(blob, CompressionMode.Decompress);
        using var reader = new TarReader(gzip);
        while (reader.GetNextEntry(copyData: true) is { } entry)
        {
            var data = Array.Empty<byte>();
            if (entry.DataStream is { } stream)
            {
                using var copy = new MemoryStream();
                stream.CopyTo(copy);
                data = copy.ToArray();
            }
            var posix = entry as PosixTarEntry;
            entries.Add(new ReadEntry(entry.Name, entry.EntryType, entry.Format, entry.Mode, entry.Uid, entry.Gid,
                posix?.UserName ?? "", posix?.GroupName ?? "", entry.LinkName, entry.ModificationTime, entry.Length, data,
                entry is PaxTarEntry or PaxGlobalExtendedAttributesTarEntry));
        }
        return entries;
    }

    private string DecompressedDigest(Layer layer)
    {
        using var blob = _store.OpenRead(layer.Blob.Digest);
        using var gzip = new GZipStream(blob, CompressionMode.Decompress);
        return Digests.Sha256(gzip);
    }

    // ---- determinism -----------------------------------------------------------------------------------------

    [Fact]
    public async Task SameProject_InAnotherFolderWithOtherMtimes_GivesTheIdenticalLayer()
    {
        var a = CreateProject("a");
        var b = Path.Combine(_root, "elsewhere", "deeper", "b");
        CopyTree(a, b);
        SetAllTimes(a, new DateTime(2001, 2, 3, 4, 5, 6, DateTimeKind.Utc));
        SetAllTimes(b, new DateTime(2024, 12, 31, 23, 59, 58, DateTimeKind.Utc));

        var first = await WriteProjectLayerAsync(a);
        var second = await WriteProjectLayerAsync(b);

        Assert.Equal(first.DiffId, second.DiffId);
        Assert.Equal(first.Blob.Digest, second.Blob.Digest);
        Assert.Equal(first.Blob.Size, second.Blob.Size);
        Assert.Equal(first, second);
        Assert.Equal(MediaTypes.OciLayerGzip, first.Blob.MediaType);
    }

    [Fact]
    public async Task Layer_DigestsDescribeTheStoredBlob()
    {
        var layer = await WriteProjectLayerAsync(CreateProject("a"));

        var path = _store.PathOf(layer.Blob.Digest);
        Assert.True(File.Exists(path));
        Assert.Equal(layer.Blob.Size, new FileInfo(path).Length);
        await using (var blob = File.OpenRead(path))
            Assert.Equal(layer.Blob.Digest, Digests.Sha256(blob));
        Assert.Equal(layer.DiffId, DecompressedDigest(layer));
        Assert.NotEqual(layer.DiffId, layer.Blob.Digest);
    }

    [Fact]
    public async Task ChangingOneByte_ChangesBothDigests()
    {
        var a = CreateProject("a");
        var before = await WriteProjectLayerAsync(a);

        var path = Path.Combine(a, "static", "site.css");
        var bytes = File.ReadAllBytes(path);
        bytes[^2] ^= 0x01; // same length, one byte different
        File.WriteAllBytes(path, bytes);
        var after = await WriteProjectLayerAsync(a);

        Assert.NotEqual(before.DiffId, after.DiffId);
        Assert.NotEqual(before.Blob.Digest, after.Blob.Digest);
    }

    [Fact]
    public async Task ChangingOnlyAMode_ChangesTheDiffId()
    {
        var a = CreateProject("a");
        var before = await WriteProjectLayerAsync(a);

        File.SetUnixFileMode(Path.Combine(a, "app.py"), Mode0755);
        var after = await WriteProjectLayerAsync(a);

        Assert.NotEqual(before.DiffId, after.DiffId);
    }

    [Fact]
    public async Task GroupWritableRoot_GivesEntriesBelowItGroupZeroAndTheOwnersPermissions_AndLeavesTheRest()
    {
        var layer = await LayerWriter.WriteAsync(_store, Epoch, async w =>
        {
            await w.AddDirectoryAsync("app", Mode0755, 0, 0, CancellationToken.None);
            // What a build hook left: a file of another group, copied from the container's tar.
            await w.AddEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, "app/built.txt")
                { Mode = Mode0644, Uid = 33, Gid = 33, DataStream = Text("built") }, "app/built.txt", CancellationToken.None);
            await w.AddSymlinkAsync("app/link", "built.txt", 0, 0, CancellationToken.None);
            await w.AddFileAsync("application.txt", Mode0644, 0, 5, Text("not below app/"), CancellationToken.None);
            await w.AddFileAsync("opt/venv/x.py", Mode0600, 0, 0, Text("x"), CancellationToken.None);
        }, groupWritableRoot: "app");

        var byName = ReadLayer(layer).ToDictionary(e => e.Name);

        Assert.Equal(((UnixFileMode)0b111_111_101, 0), (byName["app/"].Mode, byName["app/"].Gid));
        Assert.Equal(((UnixFileMode)0b110_110_100, 33, 0), (byName["app/built.txt"].Mode, byName["app/built.txt"].Uid, byName["app/built.txt"].Gid));
        Assert.Equal((UnixFileMode)0b111_111_111, byName["app/link"].Mode);
        Assert.Equal((Mode0644, 5), (byName["application.txt"].Mode, byName["application.txt"].Gid));
        Assert.Equal(Mode0600, byName["opt/venv/x.py"].Mode);
    }

    [Fact]
    public async Task GoldenLayer_HasAPinnedDiffId()
    {
        var layer = await WriteAsync(async w =>
        {
            await w.AddDirectoryAsync("app", Mode0755, 0, 0, CancellationToken.None);
            await w.AddFileAsync("app/a.txt", Mode0644, 0, 0, Text("hello"), CancellationToken.None);
        }, new DateTimeOffset(1980, 1, 1, 0, 0, 0, TimeSpan.Zero));

        // The uncompressed tar's digest for exactly these entries. Update this value ONLY on a deliberate change to
        // the layer format (entry format, header fields, normalisation): an accidental change breaks every
        // reproducible image digest and every cached dependency layer users have.
        Assert.Equal("sha256:376600108af118a536a5a7bb92cdbb0d47a1b2fb8169cd8cf445c193ddcf51cf", layer.DiffId);
        Assert.Equal(2, ReadLayer(layer).Count);
    }

    [Fact]
    public async Task Epoch_IsPartOfTheLayer()
    {
        async Task<Layer> At(DateTimeOffset epoch) => await WriteAsync(
            w => w.AddFileAsync("a.txt", Mode0644, 0, 0, Text("hello"), CancellationToken.None), epoch);

        var fixedEpoch = await At(SourceDateEpoch.Fixed);
        var commitTime = await At(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));

        Assert.NotEqual(fixedEpoch.DiffId, commitTime.DiffId);
    }

    [Fact]
    public async Task ContentFedInRandomPieces_GivesTheSameLayerAsContentInOneRead()
    {
        // A network stream (a container's tar) hands TarWriter its bytes in arbitrary pieces.
        var content = CompressibleBytes(700_000, seed: 7);

        var whole = await WriteAsync(w => w.AddFileAsync("big.bin", Mode0644, 0, 0, new MemoryStream(content), CancellationToken.None));
        var trickled = await WriteAsync(w => w.AddFileAsync("big.bin", Mode0644, 0, 0,
            new TrickleStream(content, new Random(42)), CancellationToken.None));

        Assert.Equal(whole, trickled);
    }

    // ---- what survives in the layer ------------------------------------------------------------------------

    [Fact]
    public async Task Entries_KeepModesOwnersSymlinksAndWhiteouts_WithTimesAtTheEpochAndNoNames()
    {
        var project = CreateProject("p");
        var epoch = DateTimeOffset.FromUnixTimeSeconds(1_600_000_000);

        var sourceEntries = new List<TarEntry>
        {
            new PaxTarEntry(TarEntryType.RegularFile, "/var/www/index.html")
            {
                Mode = Mode0644, Uid = 33, Gid = 33, UserName = "www-data", GroupName = "www-data",
                ModificationTime = DateTimeOffset.UtcNow, DataStream = Text("<h1>hi</h1>"),
            },
            new V7TarEntry(TarEntryType.V7RegularFile, "opt/old-style.txt") { Mode = Mode0600, Uid = 5, Gid = 6, DataStream = Text("v7") },
            new PaxTarEntry(TarEntryType.SymbolicLink, "opt/venv/bin/python") { LinkName = "/usr/bin/python3", Uid = 0, Gid = 0 },
            new PaxTarEntry(TarEntryType.HardLink, "opt/venv/bin/python3") { LinkName = "opt/venv/bin/python", Uid = 0, Gid = 0 },
        };

        var layer = await WriteAsync(async w =>
        {
            await LayerSources.WriteProjectAsync(w, ProjectFiles.Load(project), null, CancellationToken.None);
            await w.AddFileAsync("home/app/data.db", Mode0644, 1001, 1001, Text("db"), CancellationToken.None);
            foreach (var source in sourceEntries)
                await w.AddEntryAsync(source, source.Name.TrimStart('/'), CancellationToken.None);
            await w.AddWhiteoutAsync("opt/venv/old", CancellationToken.None);
            await w.AddWhiteoutAsync("toplevel", CancellationToken.None);
        }, epoch);

        var entries = ReadLayer(layer);
        var byName = entries.ToDictionary(e => e.Name);

        // The project under app/, sorted, the directory symlink not descended into.
        Assert.Equal(
        [
            "app/", "app/.docker/", "app/.docker/action_hooks/", "app/.docker/action_hooks/pre-build", "app/app.py", "app/assets",
            "app/link.py", "app/secret.cfg", "app/static/", "app/static/js/", "app/static/js/app.js", "app/static/site.css", "app/wsgi.py",
        ], entries.Select(e => e.Name).Where(n => n.StartsWith("app/", StringComparison.Ordinal)));

        var link = byName["app/link.py"];
        Assert.Equal(TarEntryType.SymbolicLink, link.Type);
        Assert.Equal("wsgi.py", link.LinkName);
        Assert.Equal(0, link.Length);
        var dirLink = byName["app/assets"];
        Assert.Equal(TarEntryType.SymbolicLink, dirLink.Type);
        Assert.Equal("static", dirLink.LinkName);

        Assert.Equal(Mode0600, byName["app/secret.cfg"].Mode);
        Assert.Equal("password=hunter2\n", Encoding.UTF8.GetString(byName["app/secret.cfg"].Data));
        Assert.Equal(Mode0755, byName["app/.docker/action_hooks/pre-build"].Mode);
        Assert.Equal(Mode0644, byName["app/wsgi.py"].Mode);
        Assert.Equal(TarEntryType.Directory, byName["app/static/"].Type);
        Assert.Equal(Mode0755, byName["app/"].Mode);
        Assert.All(entries.Where(e => e.Name.StartsWith("app/", StringComparison.Ordinal)), e => Assert.Equal((0, 0), (e.Uid, e.Gid)));

        var owned = byName["home/app/data.db"];
        Assert.Equal((1001, 1001), (owned.Uid, owned.Gid));
        var copied = byName["var/www/index.html"];
        Assert.Equal((33, 33), (copied.Uid, copied.Gid));
        Assert.Equal(TarEntryType.RegularFile, copied.Type);
        Assert.Equal("<h1>hi</h1>", Encoding.UTF8.GetString(copied.Data));
        var v7 = byName["opt/old-style.txt"];
        Assert.Equal(TarEntryType.RegularFile, v7.Type);
        Assert.Equal((Mode0600, 5, 6), (v7.Mode, v7.Uid, v7.Gid));
        Assert.Equal("v7", Encoding.UTF8.GetString(v7.Data));
        Assert.Equal((TarEntryType.SymbolicLink, "/usr/bin/python3"), (byName["opt/venv/bin/python"].Type, byName["opt/venv/bin/python"].LinkName));
        Assert.Equal((TarEntryType.HardLink, "opt/venv/bin/python"), (byName["opt/venv/bin/python3"].Type, byName["opt/venv/bin/python3"].LinkName));

        var whiteout = byName["opt/venv/.wh.old"];
        Assert.Equal(TarEntryType.RegularFile, whiteout.Type);
        Assert.Equal(0, whiteout.Length);
        Assert.Empty(whiteout.Data);
        Assert.True(byName.ContainsKey(".wh.toplevel"));
        Assert.DoesNotContain("opt/venv/old", byName.Keys);

        Assert.All(entries, e =>
        {
            Assert.Equal(epoch, e.ModificationTime);
            Assert.Equal(TarEntryFormat.Gnu, e.Format);
            Assert.False(e.IsPax, e.Name);
            Assert.Equal("", e.UserName);
            Assert.Equal("", e.GroupName);
        });
    }

    [Fact]
    public async Task RawTar_HasNoPaxHeadersAndNoOwnerNames()
    {
        // Beyond what TarReader reports: no 'x'/'g' typeflag block and no user name anywhere in the bytes.
        var layer = await WriteAsync(async w =>
        {
            await w.AddEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, "var/www/x")
            {
                Uid = 33, Gid = 33, UserName = "www-data", GroupName = "www-data", DataStream = Text("x"),
            }, "var/www/x", CancellationToken.None);
            await w.AddFileAsync("a", Mode0644, 0, 0, Text("a"), CancellationToken.None);
        });

        using var blob = _store.OpenRead(layer.Blob.Digest);
        using var gzip = new GZipStream(blob, CompressionMode.Decompress);
        using var tar = new MemoryStream();
        gzip.CopyTo(tar);
        var bytes = tar.ToArray();
        Assert.Equal(0, bytes.Length % 512);
        // Header blocks: the first, then after each data area. Typeflag at offset 156, magic at 257.
        var offset = 0;
        var headers = 0;
        while (offset + 512 <= bytes.Length && bytes.AsSpan(offset, 512).ContainsAnyExcept((byte)0))
        {
            var header = bytes.AsSpan(offset, 512);
            Assert.NotEqual((byte)'x', header[156]);
            Assert.NotEqual((byte)'g', header[156]);
            Assert.Equal("ustar  \0", Encoding.ASCII.GetString(header.Slice(257, 8)));
            var size = Convert.ToInt64(Encoding.ASCII.GetString(header.Slice(124, 12)).Trim('\0', ' '), 8);
            offset += 512 + (int)((size + 511) / 512 * 512);
            headers++;
        }
        Assert.Equal(2, headers);
        Assert.Equal(-1, bytes.AsSpan().IndexOf("www-data"u8));
    }

    [Fact]
    public async Task RawTar_LeavesTheOldGnuAtimeAndCtimeFieldsEmpty_SoUstarStyleReadersSeeNoPathPrefix()
    {
        // Bytes 345..368 are old-GNU atime/ctime but ustar's name prefix. GNU tar fills them only with --incremental;
        // Python's tarfile and 7-zip read them as a prefix, so "app/a.txt" with atime 1980 extracts as
        // "02263523000/app/a.txt". Go's archive/tar (docker, containerd) copes; others do not.
        var layer = await WriteAsync(async w =>
        {
            await w.AddDirectoryAsync("app", Mode0755, 0, 0, CancellationToken.None);
            await w.AddFileAsync("app/a.txt", Mode0644, 0, 0, Text("hello"), CancellationToken.None);
            await w.AddEntryAsync(new GnuTarEntry(TarEntryType.RegularFile, "var/x")
            {
                AccessTime = DateTimeOffset.UtcNow, ChangeTime = DateTimeOffset.UtcNow, DataStream = Text("x"),
            }, "var/x", CancellationToken.None);
        });

        var bytes = Gunzip(File.ReadAllBytes(_store.PathOf(layer.Blob.Digest)));
        var headerOffsets = new[] { 0, 512, 1536 };
        foreach (var offset in headerOffsets)
        {
            var prefixArea = bytes.AsSpan(offset + 345, 24);
            Assert.False(prefixArea.ContainsAnyExcept((byte)0),
                $"header at {offset} ({Encoding.ASCII.GetString(bytes.AsSpan(offset, 100)).TrimEnd('\0')}) has '{Encoding.ASCII.GetString(prefixArea).Replace('\0', ' ')}' in the atime/ctime (ustar prefix) field");
        }
    }

    // ---- abandoned layers ------------------------------------------------------------------------------------

    [Fact]
    public async Task DisposedWithoutComplete_LeavesNoTempFileAndNoBlob()
    {
        await using (var writer = new LayerWriter(_store, Epoch))
        {
            await writer.AddDirectoryAsync("app", Mode0755, 0, 0, CancellationToken.None);
            await writer.AddFileAsync("app/a.txt", Mode0644, 0, 0, new MemoryStream(CompressibleBytes(200_000, 1)), CancellationToken.None);
            Assert.Single(Directory.GetFiles(Path.Combine(_store.Root, "tmp")));
        }

        Assert.Empty(Directory.GetFiles(Path.Combine(_store.Root, "tmp")));
        var blobs = Path.Combine(_store.Root, "blobs", "sha256");
        Assert.True(!Directory.Exists(blobs) || Directory.GetFiles(blobs).Length == 0);
    }

    [Fact]
    public async Task WritingAnExistingLayerAgain_KeepsOneBlobAndNoTempFile()
    {
        var project = CreateProject("a");
        var first = await WriteProjectLayerAsync(project);
        var second = await WriteProjectLayerAsync(project);

        Assert.Equal(first, second);
        Assert.Empty(Directory.GetFiles(Path.Combine(_store.Root, "tmp")));
        Assert.Equal([_store.PathOf(first.Blob.Digest)], Directory.GetFiles(Path.Combine(_store.Root, "blobs", "sha256")));
    }

    // ---- FixedChunkStream ------------------------------------------------------------------------------------

    [Fact]
    public void FixedChunkStream_GzipOutputDoesNotDependOnHowWritesAreSplit()
    {
        var data = CompressibleBytes(1_500_000, seed: 3);

        var oneCall = Gzip(data, (stream, bytes) => stream.Write(bytes));
        var random = new Random(1234);
        var pieces = Gzip(data, (stream, bytes) =>
        {
            for (var offset = 0; offset < bytes.Length;)
            {
                var size = Math.Min(bytes.Length - offset, random.Next(1, 20_000));
                stream.Write(bytes, offset, size);
                offset += size;
            }
        });
        var bytewise = Gzip(data[..70_000], (stream, bytes) =>
        {
            foreach (var b in bytes)
                stream.WriteByte(b);
        });

        Assert.Equal(oneCall, pieces);
        Assert.Equal(Gzip(data[..70_000], (stream, bytes) => stream.Write(bytes)), bytewise);
        Assert.Equal(data, Gunzip(oneCall));
    }

    [Fact]
    public async Task FixedChunkStream_ForwardsOnlyWholeChunks_ThenTheRemainderOnDispose()
    {
        var inner = new RecordingStream();
        var chunks = new FixedChunkStream(inner, chunkSize: 1000);
        chunks.Write(new byte[300]);
        await chunks.WriteAsync(new byte[900]);
        chunks.Write(new byte[2500], 0, 2500);
        chunks.Flush();
        Assert.Equal([1000, 1000, 1000], inner.Writes);

        chunks.Dispose();

        Assert.Equal([1000, 1000, 1000, 700], inner.Writes);
        Assert.Equal(3700, inner.Length);
    }

    private static byte[] Gzip(byte[] data, Action<Stream, byte[]> write)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
        using (var chunks = new FixedChunkStream(gzip))
            write(chunks, data);
        return output.ToArray();
    }

    private static byte[] Gunzip(byte[] data)
    {
        using var gzip = new GZipStream(new MemoryStream(data), CompressionMode.Decompress);
        using var output = new MemoryStream();
        gzip.CopyTo(output);
        return output.ToArray();
    }

    /// <summary>Text-like bytes: compressible (so deflate block decisions matter), not trivially so.</summary>
    private static byte[] CompressibleBytes(int length, int seed)
    {
        var random = new Random(seed);
        var words = Enumerable.Range(0, 300).Select(i => Convert.ToHexString(SHA256.HashData(BitConverter.GetBytes(i + seed)))[..(3 + i % 9)]).ToArray();
        var builder = new StringBuilder(length + 16);
        while (builder.Length < length)
            builder.Append(words[random.Next(words.Length)]).Append(random.Next(10) == 0 ? '\n' : ' ');
        return Encoding.ASCII.GetBytes(builder.ToString(0, length));
    }

    /// <summary>Hands out its bytes in random-sized reads, like a socket (seekable, so TarWriter knows the size up front).</summary>
    private sealed class TrickleStream(byte[] data, Random random) : Stream
    {
        private int _position;

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var size = Math.Min(Math.Min(buffer.Length, data.Length - _position), random.Next(1, 5000));
            data.AsSpan(_position, size).CopyTo(buffer);
            _position += size;
            return size;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
            => ValueTask.FromResult(Read(buffer.Span));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            => Task.FromResult(Read(buffer.AsSpan(offset, count)));

        public override bool CanRead => true;
        public override bool CanSeek => true;
        public override bool CanWrite => false;
        public override long Length => data.Length;
        public override long Position { get => _position; set => _position = checked((int)value); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            _ => data.Length + offset,
        };
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>Records the size of every write. (A MemoryStream subclass routes span writes to this overload.)</summary>
    private sealed class RecordingStream : MemoryStream
    {
        public List<int> Writes { get; } = [];

        public override void Write(byte[] buffer, int offset, int count)
        {
            Writes.Add(count);
            base.Write(buffer, offset, count);
        }
    }
}
