using ModWsgi.Core.Diagnostics;

namespace ModWsgi.Core.Project;

/// <summary>Catches project settings that would only fail when the container starts, at build time instead.</summary>
public static class ServerOptionsValidator
{
    /// <param name="checkEntryPoint">False when the layout's server_args chooses the application instead.</param>
    public static void Validate(string projectDirectory, WsgiServerOptions server, bool checkEntryPoint = true)
    {
        if (checkEntryPoint && server.ApplicationType == WsgiApplicationType.Script)
        {
            var script = server.EntryPoint ?? "wsgi.py";
            if (!File.Exists(Path.Combine(projectDirectory, script)))
                throw new ModWsgiException(DiagnosticCodes.EntryPointMissing,
                    $"The WSGI script '{script}' does not exist in '{projectDirectory}': create it, or set WsgiEntryPoint to the script (relative to the project folder), or use WsgiApplicationType 'module' with a dotted module name.");
        }

        if (server.Port is < 1 or > 65535)
            throw new ModWsgiException(DiagnosticCodes.InvalidServerOption,
                $"ContainerPort {server.Port} is not a TCP port: use a number from 1 to 65535 (e.g. 8080 for a non-root ContainerUser).");

        foreach (var alias in server.UrlAliases)
        {
            if (!alias.Url.StartsWith('/') || string.IsNullOrWhiteSpace(alias.Path))
                throw new ModWsgiException(DiagnosticCodes.InvalidUrlAlias,
                    $"WsgiUrlAlias '{alias.Url}' -> '{alias.Path}' is malformed: Include must be a URL path starting with '/', and Path a folder or file relative to the project folder.");
        }
    }
}
