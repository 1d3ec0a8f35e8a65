using ModWsgi.Core.Diagnostics;

namespace ModWsgi.Core.Project;

/// <summary>The server the image starts (MODWSGI_SERVER in the image).</summary>
public enum ServerKind { ModWsgi, Gunicorn, Waitress, PythonApp, ShellApp }

/// <summary>The servers' spellings (WsgiServer, MODWSGI_SERVER); parsed once, where settings come in.</summary>
public static class ServerKinds
{
    public static readonly IReadOnlyDictionary<string, ServerKind> ByName = new Dictionary<string, ServerKind>(StringComparer.OrdinalIgnoreCase)
    {
        ["mod_wsgi"] = ServerKind.ModWsgi,
        ["gunicorn"] = ServerKind.Gunicorn,
        ["waitress"] = ServerKind.Waitress,
        ["python-app"] = ServerKind.PythonApp,
        ["shell-app"] = ServerKind.ShellApp,
    };

    public static string Name(this ServerKind kind) => ByName.First(n => n.Value == kind).Key;

    /// <summary>WsgiServer as given; blank means "let the folder decide" (null). Anything else is MODWSGI2008.</summary>
    public static ServerKind? Parse(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
            return null;
        return ByName.TryGetValue(value.Trim(), out var kind)
            ? kind
            : throw new ModWsgiException(DiagnosticCodes.InvalidServerOption,
                $"WsgiServer '{value}' is not one of {string.Join(", ", ByName.Keys)}.");
    }
}
