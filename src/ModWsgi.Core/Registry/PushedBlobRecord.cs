using System.Security.Cryptography;
using System.Text;

namespace ModWsgi.Core.Registry;

/// <summary>
/// Where we pushed which blob: the repositories of a registry that held it when a push there ended. A blob one
/// of them holds is mounted into a new repository instead of uploaded again. Only a hint: the registry decides.
/// </summary>
public interface IPushedBlobRecord
{
    /// <summary>Repositories of <paramref name="registry"/> that held <paramref name="digest"/>, most recent first.</summary>
    IReadOnlyList<string> RepositoriesHolding(string registry, string digest);

    void Record(string registry, string repository, IEnumerable<string> digests);
}

/// <summary>
/// The record on disk, in the build cache: <c>ROOT/&lt;registry hash&gt;/&lt;digest hex&gt;</c> holds one repository a
/// line. Lines are appended (one short write each, so concurrent builds do not tear them); a repository seen again
/// moves to the end when the file is next rewritten.
/// </summary>
public sealed class FilePushedBlobRecord(string root) : IPushedBlobRecord
{
    /// <summary>Keeps a file short: a blob shared by more repositories than this mounts from the newest ones.</summary>
    private const int MaxRepositories = 16;

    public IReadOnlyList<string> RepositoriesHolding(string registry, string digest)
    {
        var path = PathOf(registry, digest);
        if (path is null || !File.Exists(path))
            return [];
        try
        {
            return Lines(path).Reverse().Distinct(StringComparer.Ordinal).ToArray();
        }
        catch (IOException)
        {
            return [];
        }
        catch (UnauthorizedAccessException)
        {
            return [];
        }
    }

    public void Record(string registry, string repository, IEnumerable<string> digests)
    {
        foreach (var digest in digests)
        {
            if (PathOf(registry, digest) is not { } path)
                continue;
            try
            {
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                var known = File.Exists(path) ? Lines(path) : [];
                if (known.Length > 0 && known[^1] == repository)
                    continue;
                if (known.Length >= MaxRepositories)
                {
                    // Rewrite newest-last without duplicates; a rename keeps readers from seeing half a file.
                    var kept = known.Append(repository).Reverse().Distinct(StringComparer.Ordinal).Take(MaxRepositories).Reverse();
                    var temp = path + "." + Environment.ProcessId + ".tmp";
                    File.WriteAllLines(temp, kept);
                    File.Move(temp, path, overwrite: true);
                }
                else
                {
                    File.AppendAllText(path, repository + "\n");
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // A record that cannot be written only costs a later upload.
            }
        }
    }

    private static string[] Lines(string path) =>
        File.ReadAllLines(path).Where(line => line.Length > 0 && !line.Contains(' ')).ToArray();

    private string? PathOf(string registry, string digest)
    {
        if (!digest.StartsWith("sha256:", StringComparison.Ordinal) || digest.Length != 71 || !digest[7..].All(Uri.IsHexDigit))
            return null;
        var registryKey = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(registry.ToLowerInvariant())))[..16];
        return Path.Combine(root, registryKey, digest[7..]);
    }
}
