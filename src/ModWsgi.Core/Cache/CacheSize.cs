using System.Globalization;
using System.Text.RegularExpressions;
using ModWsgi.Core.Diagnostics;

namespace ModWsgi.Core.Cache;

/// <summary>A size bound as people write one: 5GB, 500MB, 1.5G, 800K, 1024 (bytes); K/M/G/T are powers of 1024 (as docker's --keep-storage reads them). "none" is no bound.</summary>
public static partial class CacheSize
{
    /// <returns>The bound in bytes; null for none.</returns>
    public static long? Parse(string text, string what)
    {
        var trimmed = text.Trim();
        if (trimmed.Equals("none", StringComparison.OrdinalIgnoreCase))
            return null;
        var match = SizePattern().Match(trimmed);
        if (!match.Success || !double.TryParse(match.Groups["number"].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            throw new ModWsgiException(DiagnosticCodes.CacheSizeInvalid,
                $"{what} '{text}' is not a size. Write one such as 5GB, 500MB or 1.5G (K, M, G, T are powers of 1024), or 'none' for no bound.");
        var power = match.Groups["unit"].Value.ToUpperInvariant() switch
        {
            "" => 0,
            "K" => 1,
            "M" => 2,
            "G" => 3,
            _ => 4,
        };
        return (long)(number * Math.Pow(1024, power));
    }

    /// <summary>Bytes for people: 12.3 MB.</summary>
    public static string Describe(long bytes) =>
        bytes >= 1L << 30 ? $"{bytes / (double)(1L << 30):0.0} GB"
        : bytes >= 1L << 20 ? $"{bytes / (double)(1L << 20):0.0} MB"
        : bytes >= 1L << 10 ? $"{bytes / 1024.0:0.0} KB"
        : $"{bytes} B";

    [GeneratedRegex(@"^(?<number>\d+(\.\d+)?)\s*(?<unit>[KMGT]?)(i?B)?$", RegexOptions.IgnoreCase)]
    private static partial Regex SizePattern();
}
