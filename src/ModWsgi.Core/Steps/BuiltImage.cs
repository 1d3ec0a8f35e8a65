using ModWsgi.Core.Oci;

namespace ModWsgi.Core.Steps;

/// <summary>An image built but not yet published: its config and the layers it adds to its base.</summary>
public sealed record BuiltImage(BaseImage Base, IReadOnlyList<AddedLayer> Added, byte[] ConfigBytes)
{
    /// <summary>The config digest: the engine's image id, equal for equal inputs.</summary>
    public string ImageId => Digests.Sha256(ConfigBytes);
}
