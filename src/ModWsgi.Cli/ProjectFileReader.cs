using System.Text.RegularExpressions;
using System.Xml;
using System.Xml.Linq;
using ModWsgi.Core.Settings;

namespace ModWsgi.Cli;

/// <summary>A ModWsgi.Sdk project file and the settings read from it.</summary>
internal sealed record ProjectFile(string Path, SettingValues Values, IReadOnlyList<string> Skipped)
{
    /// <summary>MSBuildProjectName: what the SDK derives the default repository from.</summary>
    public string Name => System.IO.Path.GetFileNameWithoutExtension(Path);

    /// <summary>The values, typed (no defaults applied).</summary>
    public Core.ProjectSettings Settings => Core.ProjectSettings.From(Values);
}

/// <summary>
/// Reads the literal properties and items of a ModWsgi.Sdk <c>.proj</c>, so the CLI builds what
/// <c>dotnet build -t:PublishImage</c> would without running MSBuild. Deliberately small: anything that needs
/// MSBuild evaluation (a Condition, a $(property) or @(item) reference, an import) is skipped and reported,
/// never guessed. Destinations (ContainerRegistry, ContainerArchiveOutputPath) are not read: the command
/// line chooses where an image goes.
/// </summary>
internal static partial class ProjectFileReader
{
    /// <summary>The folder's ModWsgi.Sdk project, or null when it has none; several is a usage error, as it is for MSBuild.</summary>
    public static ProjectFile? Find(string directory)
    {
        var candidates = Directory.Exists(directory)
            ? Directory.GetFiles(directory, "*.proj").Where(UsesModWsgiSdk).Order(StringComparer.Ordinal).ToArray()
            : [];
        return candidates.Length switch
        {
            0 => null,
            1 => Read(candidates[0]),
            _ => throw new UsageException(
                $"'{directory}' has several ModWsgi.Sdk project files ({string.Join(", ", candidates.Select(Path.GetFileName))}): keep one, or give the settings as options in a folder without a .proj."),
        };
    }

    public static ProjectFile Read(string path)
    {
        var root = Load(path).Root!;
        var properties = new Dictionary<string, string>(StringComparer.Ordinal);
        var items = new Dictionary<string, List<SettingItem>>(StringComparer.Ordinal);
        var skipped = new List<string>();

        foreach (var group in root.Elements().Where(e => e.Name.LocalName is "PropertyGroup" or "ItemGroup"))
        {
            foreach (var element in group.Elements())
            {
                var isProperty = group.Name.LocalName == "PropertyGroup";
                if (SettingsTable.Find(element.Name.LocalName) is not { } setting || (setting.Kind == SettingKind.Item) == isProperty)
                    continue;
                var value = isProperty ? element.Value.Trim() : element.Attribute("Include")?.Value;
                if (value is null) // Remove/Update items change items we never saw: nothing to apply
                    continue;
                if (HasCondition(group) || HasCondition(element) || NeedsEvaluation(value))
                {
                    skipped.Add(setting.Name);
                    continue;
                }
                if (isProperty)
                    properties[setting.Name] = value; // the last definition wins, as in MSBuild
                else
                {
                    var metadata = setting.Metadata.ToDictionary(m => m, m => Metadata(element, m), StringComparer.Ordinal);
                    var list = items.TryGetValue(setting.Name, out var existing) ? existing : items[setting.Name] = [];
                    list.AddRange(SplitList(value).Select(include => new SettingItem(include, metadata)));
                }
            }
        }

        var values = new SettingValues();
        foreach (var (name, raw) in properties)
        {
            var setting = SettingsTable.Find(name)!;
            // Unescaped after splitting, so an escaped ';' (%3B) stays inside its entry.
            if (setting.Kind == SettingKind.List)
                values.SetItems(setting, SplitList(raw).Select(e => new SettingItem(e)));
            else
                values.SetText(setting, Unescape(raw));
        }
        foreach (var (name, list) in items)
            values.SetItems(SettingsTable.Find(name)!, list);
        return new ProjectFile(Path.GetFullPath(path), values, skipped.Distinct(StringComparer.Ordinal).ToArray());
    }

    /// <summary>Project Sdk="ModWsgi.Sdk[/version]" (possibly in a ';' list), an Sdk element, or an Import of it.</summary>
    private static bool UsesModWsgiSdk(string path)
    {
        XElement root;
        try
        {
            root = Load(path).Root!;
        }
        catch (UsageException)
        {
            return false; // someone else's broken file is not ours to report
        }
        static bool Names(string? sdks) => (sdks ?? "").Split(';', StringSplitOptions.TrimEntries)
            .Any(s => s.Split('/')[0].Equals("ModWsgi.Sdk", StringComparison.OrdinalIgnoreCase));
        return Names(root.Attribute("Sdk")?.Value)
            || root.Elements().Any(e => e.Name.LocalName == "Sdk" && Names(e.Attribute("Name")?.Value))
            || root.Elements().Any(e => e.Name.LocalName == "Import" && Names(e.Attribute("Sdk")?.Value));
    }

    private static XDocument Load(string path)
    {
        try
        {
            return XDocument.Load(path);
        }
        catch (XmlException ex)
        {
            throw new UsageException($"Cannot read the project file '{path}': {ex.Message}");
        }
    }

    /// <summary>Item metadata, as an attribute or a child element.</summary>
    private static string Metadata(XElement item, string name) =>
        Unescape(item.Attribute(name)?.Value ?? item.Elements().FirstOrDefault(e => e.Name.LocalName == name)?.Value.Trim() ?? "");

    private static bool HasCondition(XElement element) => element.Attribute("Condition") is not null;

    private static bool NeedsEvaluation(string value) => value.Contains("$(") || value.Contains("@(") || value.Contains("%(");

    private static IEnumerable<string> SplitList(string value) =>
        value.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Unescape);

    /// <summary>MSBuild's %XX escapes (%3B is a literal ';').</summary>
    private static string Unescape(string value) =>
        EscapePattern().Replace(value, m => ((char)Convert.ToInt32(m.Groups[1].Value, 16)).ToString());

    [GeneratedRegex("%([0-9A-Fa-f]{2})")]
    private static partial Regex EscapePattern();
}
