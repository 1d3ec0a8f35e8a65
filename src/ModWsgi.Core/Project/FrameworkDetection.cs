using System.Text.RegularExpressions;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Python;

namespace ModWsgi.Core.Project;

/// <summary>A Django project: where manage.py is (project-relative, "" for the root) and the settings module it names.</summary>
public sealed record DjangoProject(string ManageDirectory, string SettingsModule);

public sealed record DetectedProject(ServerKind Server, DjangoProject? Django);

/// <summary>
/// What the dependency phase installs, as far as the host can tell, for WsgiServer's check: the requirements files'
/// lines, or the packages a lock pins or PEP 621 metadata lists (with the chosen groups and extras).
/// </summary>
/// <param name="Source">Where the dependencies come from, for messages (null: nothing is installed).</param>
/// <param name="Packages">The package names, when known on the host; null for requirements files and computed metadata.</param>
/// <param name="RequirementFiles">The requirements files the dependency phase installs (project-relative).</param>
public sealed record DeclaredDependencies(string? Source, IReadOnlyList<string>? Packages, IReadOnlyList<string> RequirementFiles)
{
    public static DeclaredDependencies Of(Steps.BuildPlan build) =>
        new(build.DependencySource, build.DependencyPackages,
            build.DependencySource?.StartsWith("requirements.txt", StringComparison.Ordinal) == true ? build.Requirements.RequirementFiles : []);

    /// <summary>Whether the dependencies include <paramref name="package"/>; null when only the build backend could say.</summary>
    public bool? Include(string projectDirectory, string package)
    {
        if (Packages is { } names)
            return names.Any(n => MarkerSelection.Normalize(n) == MarkerSelection.Normalize(package));
        if (RequirementFiles.Count > 0)
            return RequirementFiles.Any(file => File.ReadLines(Path.Combine(projectDirectory, file))
                .Any(line => Regex.IsMatch(line, $@"^\s*{Regex.Escape(package)}(\s|$|[=<>!~;\[])", RegexOptions.IgnoreCase)));
        return Source is null ? false : null;
    }
}

/// <summary>
/// What kind of app the folder holds, warpdrive-style, each decision overridable by a property:
/// an executable app.sh is exec'd, an app.py is run as the server itself, a manage.py naming its settings
/// module is Django (entry point, static files, collectstatic found in the build), else a WSGI script under
/// mod_wsgi. gunicorn and waitress are chosen explicitly (WsgiServer) and must be in the dependencies: requirements.txt,
/// the lock file, or pyproject.toml's [project] dependencies (with the chosen extras and groups).
/// </summary>
public static partial class FrameworkDetection
{
    /// <param name="requestedServer">WsgiServer; null lets the folder decide.</param>
    /// <param name="entryPointGiven">The project names its WSGI entry point: no app.py/app.sh guessing then.</param>
    public static DetectedProject Detect(string projectDirectory, ServerKind? requestedServer, bool entryPointGiven, bool enabled, DeclaredDependencies dependencies)
    {
        var server = ChooseServer(projectDirectory, requestedServer, entryPointGiven, enabled, dependencies);
        var django = enabled && server is ServerKind.ModWsgi or ServerKind.Gunicorn or ServerKind.Waitress ? FindDjango(projectDirectory) : null;
        return new DetectedProject(server, django);
    }

    private static ServerKind ChooseServer(string projectDirectory, ServerKind? requested, bool entryPointGiven, bool enabled, DeclaredDependencies dependencies)
    {
        if (requested is { } kind)
        {
            if (kind is ServerKind.Gunicorn or ServerKind.Waitress && dependencies.Include(projectDirectory, kind.Name()) != true)
                throw ServerMissing(kind.Name(), dependencies);
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

    private static ModWsgiException ServerMissing(string server, DeclaredDependencies dependencies)
    {
        var source = dependencies.Source ?? "";
        var (says, fix) = source switch
        {
            "" => ("there are no dependencies (no requirements.txt, lock file or pyproject.toml)", $"add a requirements.txt with a line '{server}'"),
            _ when source.StartsWith("requirements.txt", StringComparison.Ordinal) => ("requirements.txt does not list it", $"add a line '{server}' to requirements.txt"),
            _ when LockFormat.ForFile(source.Split(' ', ';')[0]) is { } lockFile =>
                ($"{lockFile.FileName} does not pin it (for the chosen WsgiDependencyGroups)", $"add '{server}' to the project's dependencies and lock again ({lockFile.Tool})"),
            _ when dependencies.Packages is not null => ("pyproject.toml [project] dependencies (with the chosen WsgiDependencyGroups) do not list it", $"add '{server}' to [project] dependencies"),
            _ => ($"the dependencies come from {source}, which only the build backend can read", $"list '{server}' in requirements.txt or in pyproject.toml's static [project] dependencies"),
        };
        return new ModWsgiException(DiagnosticCodes.ServerNotInRequirements,
            $"WsgiServer is '{server}' but {says}: {fix}, or remove WsgiServer to use mod_wsgi.");
    }

    [GeneratedRegex("""DJANGO_SETTINGS_MODULE['"]\s*,\s*['"](?<module>[A-Za-z_][\w.]*)['"]""")]
    private static partial Regex SettingsModule();
}
