namespace ModWsgi.Core.Oci;

/// <summary>Content-addressed blobs (layers, configs) by "sha256:..." digest.</summary>
public interface IBlobStore
{
    bool Contains(string digest);

    Stream OpenRead(string digest);

    long SizeOf(string digest);
}
