using System.Text.RegularExpressions;
using System.Xml;
using System.Xml.Linq;
using ModWsgi.Core;

namespace ModWsgi.Cli;

/// <summary>A ModWsgi.Sdk project file and the settings read from it.</summary>
internal sealed record ProjectFile(string Path, ProjectSettings Settings, IReadOnlyList<string> Skipped)
{
    /// <summary>MSBuildProjectName: what the SDK derives the default repository from.</summary>
    public string Name => System.IO.Path.GetFileNameWithoutExtension(Path);
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
    private static readonly string[] ScalarProperties =
    [
        "ContainerRepository", "ContainerImageTag", "ContainerImageTags", "Version", "ContainerBaseImage",
        "WsgiApplicationType", "WsgiEntryPoint", "WsgiCallableObject", "WsgiWorkingDirectory",
        "WsgiPipIndexUrl", "WsgiPipExtraIndexUrl", "WsgiPipTrustedHost",
        "ContainerUser", "WsgiServer", "WsgiFrameworkDetection", "WsgiDjangoCollectStatic",
    ];

    private static readonly string[] Items = ["WsgiUrlAlias", "WsgiServerArgument", "ContainerLabel", "ContainerEnvironmentVariable", "ContainerPort"];

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
        var items = Items.ToDictionary(i => i, _ => new List<(string Include, XElement Element)>(), StringComparer.Ordinal);
        var skipped = new List<string>();

        foreach (var group in root.Elements().Where(e => e.Name.LocalName is "PropertyGroup" or "ItemGroup"))
        {
            foreach (var element in group.Elements())
            {
                var name = element.Name.LocalName;
                var wanted = group.Name.LocalName == "PropertyGroup" ? ScalarProperties.Contains(name) : items.ContainsKey(name);
                if (!wanted)
                    continue;
                var value = group.Name.LocalName == "PropertyGroup" ? element.Value.Trim() : element.Attribute("Include")?.Value;
                if (value is null) // Remove/Update items change items we never saw: nothing to apply
                    continue;
                if (HasCondition(group) || HasCondition(element) || NeedsEvaluation(value))
                {
                    skipped.Add(name);
                    continue;
                }
                if (group.Name.LocalName == "PropertyGroup")
                    properties[name] = value; // the last definition wins, as in MSBuild
                else
                    items[name].AddRange(SplitList(value).Select(include => (include, element)));
            }
        }

        // Unescaped after splitting, so an escaped ';' (%3B) stays inside its entry.
        string? Property(string name) => properties.TryGetValue(name, out var raw) ? Unescape(raw) : null;
        IReadOnlyList<string> ListProperty(string name) => SplitList(properties.GetValueOrDefault(name) ?? "").ToArray();
        // The SDK's switches default to true: only an explicit 'false' turns one off, as in Sdk.targets.
        bool Switch(string name) => !string.Equals(Property(name), "false", StringComparison.OrdinalIgnoreCase);
        IReadOnlyList<KeyValuePair<string, string>> Pairs(string item) =>
            items[item].Select(i => KeyValuePair.Create(i.Include, Metadata(i.Element, "Value"))).ToArray();

        var settings = new ProjectSettings
        {
            ContainerRepository = Property("ContainerRepository"),
            ContainerImageTag = Property("ContainerImageTag"),
            ContainerImageTags = ListProperty("ContainerImageTags"),
            Version = Property("Version"),
            ContainerBaseImage = Property("ContainerBaseImage"),
            WsgiApplicationType = Property("WsgiApplicationType"),
            WsgiEntryPoint = Property("WsgiEntryPoint"),
            WsgiCallableObject = Property("WsgiCallableObject"),
            WsgiWorkingDirectory = Property("WsgiWorkingDirectory"),
            WsgiPipIndexUrl = Property("WsgiPipIndexUrl"),
            WsgiPipExtraIndexUrl = ListProperty("WsgiPipExtraIndexUrl"),
            WsgiPipTrustedHost = ListProperty("WsgiPipTrustedHost"),
            WsgiUrlAlias = items["WsgiUrlAlias"].Select(i => new UrlAlias(i.Include, Metadata(i.Element, "Path"))).ToArray(),
            WsgiServerArgument = items["WsgiServerArgument"].Select(i => i.Include).ToArray(),
            ContainerLabel = Pairs("ContainerLabel"),
            ContainerEnvironmentVariable = Pairs("ContainerEnvironmentVariable"),
            ContainerUser = Property("ContainerUser"),
            ContainerPort = items["ContainerPort"].Select(i => i.Include).ToArray(),
            WsgiServer = Property("WsgiServer"),
            WsgiFrameworkDetection = Switch("WsgiFrameworkDetection"),
            WsgiDjangoCollectStatic = Switch("WsgiDjangoCollectStatic"),
        };
        return new ProjectFile(Path.GetFullPath(path), settings, skipped.Distinct(StringComparer.Ordinal).ToArray());
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
