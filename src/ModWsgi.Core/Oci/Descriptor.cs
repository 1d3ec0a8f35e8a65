using System.Text.Json.Serialization;

namespace ModWsgi.Core.Oci;

/// <summary>An OCI content descriptor: what a manifest or index says about one blob.</summary>
public sealed record Descriptor(
    [property: JsonPropertyName("mediaType")] string MediaType,
    [property: JsonPropertyName("digest")] string Digest,
    [property: JsonPropertyName("size")] long Size)
{
    [JsonPropertyName("annotations")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyDictionary<string, string>? Annotations { get; init; }
}

public static class MediaTypes
{
    public const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
    public const string OciIndex = "application/vnd.oci.image.index.v1+json";
    public const string OciConfig = "application/vnd.oci.image.config.v1+json";
    public const string OciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
    public const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
    public const string DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
}

/// <summary>One layer of an image: its compressed blob and the digest of its uncompressed tar (diff id).</summary>
public sealed record Layer(Descriptor Blob, string DiffId);

/// <summary>
/// A complete image ready to go out: config and manifest bytes exactly as they will be stored (their
/// digests are the image's identity), and the layers, whose blobs live in an <see cref="IBlobStore"/>.
/// </summary>
public sealed record OciImage(Descriptor Config, byte[] ConfigBytes, Descriptor Manifest, byte[] ManifestBytes, IReadOnlyList<Layer> Layers)
{
    /// <summary>The manifest digest: what a registry and `docker images --digests` call the image.</summary>
    public string Digest => Manifest.Digest;

    /// <summary>The config digest: what the Docker engine calls the image id.</summary>
    public string ImageId => Config.Digest;

    /// <summary>The image of a config and its layers (base layers first), with our OCI manifest.</summary>
    public static OciImage Of(byte[] configBytes, IReadOnlyList<Layer> layers)
    {
        var config = new Descriptor(MediaTypes.OciConfig, Digests.Sha256(configBytes), configBytes.Length);
        var manifestBytes = ImageConfigWriter.WriteManifest(config, layers.Select(l => l.Blob));
        return new OciImage(config, configBytes, new Descriptor(MediaTypes.OciManifest, Digests.Sha256(manifestBytes), manifestBytes.Length), manifestBytes, layers);
    }
}
