using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace ModWsgi.Cli;

/// <summary>What <c>modwsgi inspect</c> shows: the image's layers and config, and what our build cache knows about it.</summary>
internal sealed record ImageDescription(
    string Name,
    string Id,
    IReadOnlyList<string> RepoTags,
    string? Created,
    string Platform,
    long? Size,
    bool BuiltByModWsgi,
    IReadOnlyList<LayerDescription> Layers,
    ConfigDescription Config,
    BuildNotes? BuildNotes)
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // '+' and '<' as they are, for people reading it
    };

    private static readonly JsonSerializerOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <param name="inspect">GET /images/{name}/json.</param>
    /// <param name="history">GET /images/{name}/history (newest first, as the engine returns it).</param>
    public static ImageDescription Create(string name, JsonObject inspect, JsonArray history, BuildNotes? notes)
    {
        var config = inspect["Config"] as JsonObject ?? [];
        var diffIds = Strings(inspect["RootFS"]?["Layers"]);
        return new ImageDescription(
            name,
            inspect["Id"]?.GetValue<string>() ?? "",
            Strings(inspect["RepoTags"]),
            inspect["Created"]?.GetValue<string>(),
            $"{inspect["Os"]?.GetValue<string>() ?? "?"}/{inspect["Architecture"]?.GetValue<string>() ?? "?"}",
            inspect["Size"]?.GetValue<long>(),
            history.Any(h => h?["Comment"]?.GetValue<string>() == "ModWsgi.Sdk"),
            MatchLayers(diffIds, history),
            new ConfigDescription(
                Strings(config["Entrypoint"]),
                Strings(config["Cmd"]),
                config["WorkingDir"]?.GetValue<string>() ?? "",
                config["User"]?.GetValue<string>() ?? "",
                (config["ExposedPorts"] as JsonObject)?.Select(p => p.Key).Order(StringComparer.Ordinal).ToArray() ?? [],
                Strings(config["Env"]),
                (config["Labels"] as JsonObject)?.OrderBy(l => l.Key, StringComparer.Ordinal)
                    .ToDictionary(l => l.Key, l => l.Value?.GetValue<string>() ?? "") ?? new Dictionary<string, string>(),
                config["StopSignal"]?.GetValue<string>()),
            notes is null ? null : notes with { ThisImage = notes.LastPublishedImageId == inspect["Id"]?.GetValue<string>() });
    }

    /// <summary>
    /// Pairs each diff id with its history entry. The engine's history lists every config history entry,
    /// layer or not (ENV, CMD... are "empty layers" of size 0), and does not say which is which: an entry with
    /// a size is a layer, and a size-0 entry is one only when every remaining entry must be (as many left as layers).
    /// </summary>
    internal static IReadOnlyList<LayerDescription> MatchLayers(IReadOnlyList<string> diffIds, JsonArray history)
    {
        var entries = history.Reverse().OfType<JsonObject>().ToArray();
        var layers = new List<LayerDescription>();
        for (var i = 0; i < entries.Length && layers.Count < diffIds.Count; i++)
        {
            var size = entries[i]["Size"]?.GetValue<long>() ?? 0;
            var remainingEntries = entries.Length - i;
            var remainingLayers = diffIds.Count - layers.Count;
            if (size == 0 && remainingEntries > remainingLayers)
                continue;
            layers.Add(new LayerDescription(layers.Count + 1, diffIds[layers.Count], size,
                entries[i]["CreatedBy"]?.GetValue<string>() ?? "", entries[i]["Comment"]?.GetValue<string>() ?? ""));
        }
        // No usable history (e.g. an engine that omits it): the layers still show, without sizes.
        for (var i = layers.Count; i < diffIds.Count; i++)
            layers.Add(new LayerDescription(i + 1, diffIds[i], null, "", ""));
        return layers;
    }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public string ToText()
    {
        var text = new StringBuilder();
        void Line(string label, string value) => text.AppendLine($"{label,-12} {value}");
        Line("Image", Name);
        Line("Id", Id);
        Line("Tags", RepoTags.Count == 0 ? "(none)" : string.Join(", ", RepoTags));
        Line("Created", Created ?? "");
        Line("Platform", Platform);
        Line("Size", Size is { } size ? FormatSize(size) : "");
        Line("Built by", BuiltByModWsgi ? "ModWsgi.Sdk" : "(not by ModWsgi.Sdk)");

        text.AppendLine().AppendLine($"Layers: {Layers.Count}");
        text.AppendLine($"  {"#",2}  {"DIFF ID",-71}  {"SIZE",10}  CREATED BY");
        foreach (var layer in Layers)
        {
            // Multi-line RUN scripts (the base image's) shown as their first line.
            var createdBy = layer.CreatedBy.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "";
            text.AppendLine($"  {layer.Index,2}  {layer.DiffId,-71}  {(layer.Size is { } s ? FormatSize(s) : "?"),10}  {createdBy}");
        }

        text.AppendLine().AppendLine("Config");
        void Field(string label, IEnumerable<string> values)
        {
            var list = values.ToList();
            text.AppendLine($"  {label,-11} {(list.Count == 0 ? "" : list[0])}");
            foreach (var more in list.Skip(1))
                text.AppendLine($"  {"",-11} {more}");
        }
        // Exec form, as docker inspect shows it: unambiguous when an argument has spaces.
        Field("Entrypoint", [JsonSerializer.Serialize(Config.Entrypoint, Compact)]);
        Field("Cmd", [JsonSerializer.Serialize(Config.Cmd, Compact)]);
        Field("WorkingDir", [Config.WorkingDir]);
        Field("User", [Config.User.Length == 0 ? "(root)" : Config.User]);
        Field("Ports", [string.Join(", ", Config.ExposedPorts)]);
        if (Config.StopSignal is not null)
            Field("StopSignal", [Config.StopSignal]);
        Field("Env", Config.Env.Select(OneLine));
        Field("Labels", Config.Labels.Select(l => OneLine($"{l.Key}={l.Value}")));

        if (BuildNotes is { } notes)
        {
            text.AppendLine().AppendLine($"Build cache notes for {notes.ProjectDirectory} (cache {notes.CacheDirectory})");
            if (notes.LastPublishedImageId is null)
                text.AppendLine("  last publish   (none recorded)");
            else
                text.AppendLine($"  last publish   {notes.LastPublishedImageId} ({(notes.ThisImage ? "this image" : "not this image")}) as {string.Join(", ", notes.LastPublishedImages)}");
            if (notes.DependencyInputs.Count == 0)
                text.AppendLine("  dependency inputs: (none recorded)");
            else
            {
                text.AppendLine("  dependency inputs (the dependency layer's cache key is the digest of these):");
                var width = notes.DependencyInputs.Keys.Max(k => k.Length);
                foreach (var (component, value) in notes.DependencyInputs)
                    text.AppendLine($"    {component.PadRight(width)}  {value}");
            }
        }
        return text.ToString();
    }

    /// <summary>Decimal units, as `docker images` shows sizes.</summary>
    internal static string FormatSize(long bytes) => bytes switch
    {
        < 1000 => $"{bytes} B",
        < 1000 * 1000 => $"{bytes / 1e3:0.#} kB",
        < 1000L * 1000 * 1000 => $"{bytes / 1e6:0.#} MB",
        _ => $"{bytes / 1e9:0.##} GB",
    };

    /// <summary>One line per value: a newline inside one (an env value) would read as a new entry.</summary>
    private static string OneLine(string value) => value.Replace("\\", "\\\\").Replace("\n", "\\n").Replace("\r", "\\r");

    private static IReadOnlyList<string> Strings(JsonNode? node) =>
        node is JsonArray array ? array.Select(n => n?.GetValue<string>() ?? "").ToArray() : [];
}

internal sealed record LayerDescription(int Index, string DiffId, long? Size, string CreatedBy, string Comment);

internal sealed record ConfigDescription(
    IReadOnlyList<string> Entrypoint,
    IReadOnlyList<string> Cmd,
    string WorkingDir,
    string User,
    IReadOnlyList<string> ExposedPorts,
    IReadOnlyList<string> Env,
    IReadOnlyDictionary<string, string> Labels,
    string? StopSignal);

/// <summary>What the build cache recorded for a project folder: its last publish and the dependency key's components.</summary>
internal sealed record BuildNotes(
    string ProjectDirectory,
    string CacheDirectory,
    string? LastPublishedImageId,
    IReadOnlyList<string> LastPublishedImages,
    IReadOnlyDictionary<string, string> DependencyInputs,
    bool ThisImage = false)
{
    public static BuildNotes From(string projectDirectory, string cacheDirectory, JsonObject notes)
    {
        var publish = notes["publish"] as JsonObject;
        return new BuildNotes(
            projectDirectory,
            cacheDirectory,
            publish?["imageId"]?.GetValue<string>(),
            (publish?["images"] as JsonArray)?.Select(i => i?.GetValue<string>() ?? "").ToArray() ?? [],
            (notes["dependencies"] as JsonObject)?.ToDictionary(c => c.Key, c => c.Value?.GetValue<string>() ?? "") ?? new Dictionary<string, string>());
    }
}
