namespace ModWsgi.Core.Settings;

/// <summary>One item (or one list entry): its Include and the metadata the setting names.</summary>
public sealed record SettingItem(string Include, IReadOnlyDictionary<string, string> Metadata)
{
    public SettingItem(string include) : this(include, new Dictionary<string, string>()) { }

    public string Metadatum(string name) => Metadata.TryGetValue(name, out var value) ? value : "";
}

/// <summary>
/// Settings by name as a front end found them (task parameters, an evaluated .proj, command-line options),
/// before defaults and before typing: <see cref="ProjectSettings.From"/> is the one place they become typed.
/// A front end fills it by walking <see cref="SettingsTable.All"/>, so it cannot leave one out.
/// </summary>
public sealed class SettingValues
{
    private readonly Dictionary<string, string> _texts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IReadOnlyList<SettingItem>> _items = new(StringComparer.Ordinal);

    /// <summary>A property's, switch's or list's text as MSBuild holds it (a list ';'-separated); blank is unset.</summary>
    public void SetText(Setting setting, string? value)
    {
        _items.Remove(setting.Name);
        if (string.IsNullOrWhiteSpace(value))
            _texts.Remove(setting.Name);
        else
            _texts[setting.Name] = value;
    }

    /// <summary>A list's entries or an item's items; an empty list is unset.</summary>
    public void SetItems(Setting setting, IEnumerable<SettingItem> items)
    {
        _texts.Remove(setting.Name);
        var list = items.ToArray();
        if (list.Length == 0)
            _items.Remove(setting.Name);
        else
            _items[setting.Name] = list;
    }

    public bool IsSet(Setting setting) => _texts.ContainsKey(setting.Name) || _items.ContainsKey(setting.Name);

    /// <summary>The text, or null when unset (no default applied: that is <see cref="ProjectSettings"/>' job).</summary>
    public string? Text(Setting setting) => _texts.TryGetValue(setting.Name, out var value) ? value.Trim() : null;

    /// <summary>The entries of a list (a text is split on ';', blanks dropped, as MSBuild does) or an item's items.</summary>
    public IReadOnlyList<SettingItem> Items(Setting setting)
    {
        if (_items.TryGetValue(setting.Name, out var items))
            return items;
        return _texts.TryGetValue(setting.Name, out var text)
            ? text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(e => new SettingItem(e)).ToArray()
            : [];
    }

    public IReadOnlyList<string> Includes(Setting setting) => Items(setting).Select(i => i.Include).ToArray();
}
