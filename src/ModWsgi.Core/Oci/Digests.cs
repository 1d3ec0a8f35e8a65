using System.Security.Cryptography;

namespace ModWsgi.Core.Oci;

public static class Digests
{
    public static string Sha256(ReadOnlySpan<byte> data) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(data));

    public static string Sha256(Stream data) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(data));

    /// <summary>The hex part of "sha256:hex", validated so it can name a file.</summary>
    public static string Hex(string digest)
    {
        if (!digest.StartsWith("sha256:", StringComparison.Ordinal) || digest.Length != 71 || !digest.AsSpan(7).ContainsOnlyHex())
            throw new ArgumentException($"'{digest}' is not a sha256 digest.", nameof(digest));
        return digest[7..];
    }
}

file static class SpanHex
{
    public static bool ContainsOnlyHex(this ReadOnlySpan<char> span)
    {
        foreach (var c in span)
        {
            if (!char.IsAsciiHexDigitLower(c) && !char.IsAsciiDigit(c))
                return false;
        }
        return true;
    }
}
