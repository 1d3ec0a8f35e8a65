using System.Formats.Tar;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text.Json;
using ModWsgi.Core.Cache;
using ModWsgi.Core.Oci;

namespace ModWsgi.EndToEnd.Tests;

/// <summary>Images made in the test, without an engine: pushable, pullable and inspectable, but with no shell.</summary>
public static class TestImages
{
    /// <summary>
    /// One gzip layer holding <paramref name="files"/> (mode 0644, epoch times) and an OCI config naming its diff id,
    /// with <c>cat /hello.txt</c> as its Cmd. The layer blob goes into <paramref name="blobs"/>.
    /// </summary>
    public static OciImage SingleLayer(FileBlobStore blobs, IEnumerable<(string Name, byte[] Bytes)> files, CompressionLevel compression)
    {
        var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Ustar, leaveOpen: true))
        {
            foreach (var (name, bytes) in files)
                writer.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, name)
                {
                    DataStream = new MemoryStream(bytes),
                    Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
                    ModificationTime = DateTimeOffset.UnixEpoch,
                });
        }
        var diffId = Digests.Sha256(tar.ToArray());
        var gzip = new MemoryStream();
        using (var compressor = new GZipStream(gzip, compression, leaveOpen: true))
            compressor.Write(tar.ToArray());
        var layerBytes = gzip.ToArray();
        var layer = new Layer(new Descriptor(MediaTypes.OciLayerGzip, blobs.Put(layerBytes), layerBytes.Length), diffId);
        var configBytes = JsonSerializer.SerializeToUtf8Bytes(new
        {
            architecture = RuntimeInformation.OSArchitecture == Architecture.Arm64 ? "arm64" : "amd64",
            os = "linux",
            created = "1970-01-01T00:00:00Z",
            config = new { Cmd = new[] { "cat", "/hello.txt" } },
            rootfs = new { type = "layers", diff_ids = new[] { diffId } },
        });
        var config = new Descriptor(MediaTypes.OciConfig, Digests.Sha256(configBytes), configBytes.Length);
        var manifestBytes = JsonSerializer.SerializeToUtf8Bytes(new { schemaVersion = 2, mediaType = MediaTypes.OciManifest, config, layers = new[] { layer.Blob } });
        return new OciImage(config, configBytes, new Descriptor(MediaTypes.OciManifest, Digests.Sha256(manifestBytes), manifestBytes.Length), manifestBytes, [layer]);
    }
}
