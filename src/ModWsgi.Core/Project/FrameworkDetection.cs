using System.Text.RegularExpressions;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Python;

namespace ModWsgi.Core.Project;

/// <summary>A Django project: where manage.py is (project-relative, "" for the root) and the settings module it names.</summary>
public sealed record DjangoProject(string ManageDirectory, string SettingsModule);

public sealed record DetectedProject(ServerKind Server, DjangoProject? Django);

/// <summary>
/// What kind of app the folder holds, warpdrive-style, each decision overridable by a property:
/// an executable app.sh is exec'd, an app.py is run as the server itself, a manage.py naming its settings
/// module is Django (entry point, static files, collectstatic found in the build), else a WSGI script under
/// mod_wsgi. gunicorn and waitress are chosen explicitly (WsgiServer) and must be in the requirements.
/// </summary>
public static partial class FrameworkDetection
{
    /// <param name="requestedServer">WsgiServer; null lets the folder decide.</param>
    /// <param name="entryPointGiven">The project names its WSGI entry point: no app.py/app.sh guessing then.</param>
    public static DetectedProject Detect(string projectDirectory, ServerKind? requestedServer, bool entryPointGiven, bool enabled, RequirementsScan requirements)
    {
        var server = ChooseServer(projectDirectory, requestedServer, entryPointGiven, enabled, requirements);
        var django = enabled && server is ServerKind.ModWsgi or ServerKind.Gunicorn or ServerKind.Waitress ? FindDjango(projectDirectory) : null;
        return new DetectedProject(server, django);
    }

    private static ServerKind ChooseServer(string projectDirectory, ServerKind? requested, bool entryPointGiven, bool enabled, RequirementsScan requirements)
    {
        if (requested is { } kind)
        {
            if (kind is ServerKind.Gunicorn or ServerKind.Waitress && !Lists(projectDirectory, requirements, kind.Name()))
                throw new ModWsgiException(DiagnosticCodes.ServerNotInRequirements,
                    $"WsgiServer is '{kind.Name()}' but requirements.txt does not list it: add a line '{kind.Name()}' to requirements.txt, or remove WsgiServer to use mod_wsgi.");
            return kind;
        }
        if (!enabled || entryPointGiven)
            return ServerKind.ModWsgi;
        if (ActionHooks.IsExecutable(Path.Combine(projectDirectory, "app.sh")))
            return ServerKind.ShellApp;
        return File.Exists(Path.Combine(projectDirectory, "app.py")) ? ServerKind.PythonApp : ServerKind.ModWsgi;
    }

    /// <summary>manage.py at the root or one folder down (django-admin startproject's layout), naming its settings.</summary>
    public static DjangoProject? FindDjango(string projectDirectory)
    {
        var candidates = new[] { projectDirectory }.Concat(Directory.EnumerateDirectories(projectDirectory)
            .Where(d => !Path.GetFileName(d).StartsWith('.')).Order(StringComparer.Ordinal));
        foreach (var directory in candidates)
        {
            var manage = Path.Combine(directory, "manage.py");
            if (File.Exists(manage) && SettingsModule().Match(File.ReadAllText(manage)) is { Success: true } match)
            {
                var relative = Path.GetRelativePath(projectDirectory, directory).Replace('\\', '/');
                return new DjangoProject(relative == "." ? "" : relative, match.Groups["module"].Value);
            }
        }
        return null;
    }

    private static bool Lists(string projectDirectory, RequirementsScan requirements, string package) =>
        requirements.RequirementFiles.Any(file => File.ReadLines(Path.Combine(projectDirectory, file))
            .Any(line => Regex.IsMatch(line, $@"^\s*{Regex.Escape(package)}(\s|$|[=<>!~;\[])", RegexOptions.IgnoreCase)));

    [GeneratedRegex("""DJANGO_SETTINGS_MODULE['"]\s*,\s*['"](?<module>[A-Za-z_][\w.]*)['"]""")]
    private static partial Regex SettingsModule();
}
