using ModWsgi.Core.Diagnostics;
using Tomlyn;
using Tomlyn.Model;

namespace ModWsgi.Core.Python;

/// <summary>A TOML file of the project (pyproject.toml, a lock file) read with Tomlyn, with typed look-ups.</summary>
internal static class TomlFile
{
    /// <summary>The document, or a coded error naming the file and Tomlyn's position.</summary>
    public static TomlTable Read(string path, string relativeName)
    {
        try
        {
            return TomlSerializer.Deserialize<TomlTable>(File.ReadAllText(path)) ?? new TomlTable();
        }
        catch (TomlException ex)
        {
            throw Invalid(relativeName, ex.Message);
        }
    }

    public static ModWsgiException Invalid(string file, string why) => new(DiagnosticCodes.DependencyFileInvalid,
        $"{file} cannot be read: {why}. Fix the file (or regenerate it with the tool that wrote it) and build again.");

    public static string? Text(this TomlTable table, string key) => table.TryGetValue(key, out var value) ? value as string : null;

    public static TomlTable? Table(this TomlTable table, string key) => table.TryGetValue(key, out var value) ? value as TomlTable : null;

    /// <summary>An array of tables, written either as [[key]] or as an inline array of inline tables.</summary>
    public static IEnumerable<TomlTable> Tables(this TomlTable table, string key) =>
        !table.TryGetValue(key, out var value) ? []
        : value is TomlTableArray array ? array.Cast<TomlTable>()
        : value is TomlArray items ? items.OfType<TomlTable>()
        : [];

    /// <summary>An array of strings (null when the key is missing).</summary>
    public static IReadOnlyList<string>? Strings(this TomlTable table, string key) =>
        table.TryGetValue(key, out var value) && value is TomlArray array ? array.OfType<string>().ToArray() : null;
}
