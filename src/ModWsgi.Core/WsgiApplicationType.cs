using ModWsgi.Core.Diagnostics;

namespace ModWsgi.Core;

/// <summary>What the WSGI entry point names (mod_wsgi-express's --application-type).</summary>
public enum WsgiApplicationType { Script, Module, Paste, Static }

/// <summary>The application types' spellings in the project and the launcher; parsed once, where settings come in.</summary>
public static class WsgiApplicationTypes
{
    private static readonly IReadOnlyDictionary<string, WsgiApplicationType> ByName =
        Enum.GetValues<WsgiApplicationType>().ToDictionary(Name, t => t, StringComparer.OrdinalIgnoreCase);

    /// <summary>script, module, paste, static: as WsgiApplicationType and --application-type spell them.</summary>
    public static IReadOnlyList<string> Names { get; } = Enum.GetValues<WsgiApplicationType>().Select(Name).ToArray();

    public static string Name(this WsgiApplicationType type) => type switch
    {
        WsgiApplicationType.Script => "script",
        WsgiApplicationType.Module => "module",
        WsgiApplicationType.Paste => "paste",
        WsgiApplicationType.Static => "static",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    /// <summary>WsgiApplicationType as given; blank means script. Anything else is MODWSGI2005.</summary>
    public static WsgiApplicationType Parse(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
            return WsgiApplicationType.Script;
        return ByName.TryGetValue(value.Trim(), out var type)
            ? type
            : throw new ModWsgiException(DiagnosticCodes.InvalidApplicationType,
                $"WsgiApplicationType '{value}' is not one of {string.Join(", ", Names)}.");
    }
}
