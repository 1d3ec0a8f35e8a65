using ModWsgi.Core.Diagnostics;

namespace ModWsgi.Core.Project;

/// <summary>Whether an action hook would run: only an executable hook does; a non-executable one is skipped with a warning.</summary>
public enum HookState { Missing, NotExecutable, Executable }

/// <summary>
/// The folder of mod_wsgi-docker's layout: <c>action_hooks/</c>, <c>user_vars/</c> and <c>server_args</c> live in
/// <c>.whiskey/</c> (its later name) or <c>.docker/</c> (its first). A project uses one of them; the in-image
/// scripts (modwsgi-environment) choose the same way.
/// </summary>
public static class ProjectLayout
{
    public const string Whiskey = ".whiskey", Docker = ".docker";
    public const string ActionHooksFolder = "action_hooks", UserVarsFolder = "user_vars", ServerArgsFile = "server_args";

    /// <summary>
    /// The project's layout folder: the one of .whiskey and .docker that holds action_hooks/, user_vars/ or
    /// server_args (.docker when neither does). Both holding them is ambiguous (MODWSGI2035): mod_wsgi-docker's
    /// build failed on it too.
    /// </summary>
    public static string Folder(string projectDirectory)
    {
        var whiskey = HoldsLayout(projectDirectory, Whiskey);
        var docker = HoldsLayout(projectDirectory, Docker);
        if (whiskey && docker)
            throw new ModWsgiException(DiagnosticCodes.ProjectLayoutAmbiguous,
                $"Both .whiskey/ and .docker/ in '{projectDirectory}' hold action_hooks, user_vars or server_args, and only one "
                + "of them can be the layout folder (.docker is mod_wsgi-docker's older name for .whiskey): move everything into "
                + "one of them, e.g. 'git mv .docker/action_hooks .whiskey/' and the same for user_vars and server_args.");
        return whiskey ? Whiskey : Docker;
    }

    /// <summary>The layout folder's server_args file, relative to the project ('/' separators).</summary>
    public static string ServerArgsPath(string layout) => layout + "/" + ServerArgsFile;

    // The launcher's options that take no value; every other option takes one (--url-alias two).
    private static readonly HashSet<string> Flags = new(StringComparer.Ordinal)
        { "--reload-on-changes", "--log-to-terminal", "--access-log", "--startup-log", "--dry-run", "--check-only", "--help" };

    /// <summary>
    /// Whether the layout's server_args chooses the application (--application-type, --entry-point or a bare entry
    /// point such as environ.wsgi), which then wins over the project's defaults: the build does not look for wsgi.py
    /// or guess app.py/app.sh. The launcher itself checks the options (<see cref="Steps.ServerOptionsCheckStep"/>).
    /// </summary>
    public static bool ServerArgsChooseTheApplication(string projectDirectory, string layout)
    {
        var path = Path.Combine(projectDirectory, ServerArgsPath(layout));
        if (!File.Exists(path))
            return false;
        var words = File.ReadAllLines(path).Where(l => !l.TrimStart().StartsWith('#'))
            .SelectMany(l => l.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)).ToArray();
        for (var i = 0; i < words.Length; i++)
        {
            var word = words[i];
            if (word.StartsWith("--application-type", StringComparison.Ordinal) || word.StartsWith("--entry-point", StringComparison.Ordinal))
                return true;
            if (word.StartsWith("--", StringComparison.Ordinal))
            {
                if (!word.Contains('=') && !Flags.Contains(word))
                    i += word == "--url-alias" ? 2 : 1;
            }
            else if (word.Contains('.') || word.Contains('/'))
                return true;
        }
        return false;
    }

    private static bool HoldsLayout(string projectDirectory, string folder)
    {
        var root = Path.Combine(projectDirectory, folder);
        return Directory.Exists(Path.Combine(root, ActionHooksFolder)) || Directory.Exists(Path.Combine(root, UserVarsFolder))
            || File.Exists(Path.Combine(root, ServerArgsFile));
    }
}

/// <summary>The app's <c>action_hooks</c> scripts (in <see cref="ProjectLayout.Folder"/>), run at fixed points of the build and start.</summary>
public static class ActionHooks
{
    public const string PreBuild = "pre-build", Build = "build", Deploy = "deploy", DeployEnv = "deploy-env", Start = "start";

    /// <summary>Run by mod_wsgi-docker-probe (the HEALTHCHECK, Kubernetes exec probes) instead of its own checks.</summary>
    public const string Alive = "alive", Ready = "ready";

    /// <summary>The hook's path inside the project, with '/' separators.</summary>
    public static string RelativePath(string hook, string layout = ProjectLayout.Docker) =>
        layout + "/" + ProjectLayout.ActionHooksFolder + "/" + hook;

    /// <summary>Probes the hook file in the project's layout folder; any of the user, group or other execute bits makes it executable.</summary>
    public static HookState Probe(string projectDirectory, string hook) =>
        ProbeFile(Path.Combine(projectDirectory, RelativePath(hook, ProjectLayout.Folder(projectDirectory))));

    /// <summary>True for an existing file with an execute bit (app.sh, hooks).</summary>
    public static bool IsExecutable(string path) => ProbeFile(path) == HookState.Executable;

    /// <summary>
    /// A hook saved with Windows line endings fails in the container with "required file not found" (the kernel looks
    /// for "/bin/sh\r"), which says nothing of the cause: refuse it before any container starts, with the fix.
    /// </summary>
    public static void RefuseWindowsLineEndings(string projectDirectory, string layout)
    {
        var folder = Path.Combine(projectDirectory, layout, ProjectLayout.ActionHooksFolder);
        if (!Directory.Exists(folder))
            return;
        foreach (var hook in Directory.EnumerateFiles(folder).Order(StringComparer.Ordinal))
        {
            if (FileKinds.Of(hook) != FileKind.Regular)
                continue;
            // The first 64 KiB: a hook is a short script, and a CRLF anywhere shows in its first lines.
            var head = new byte[64 * 1024];
            int read;
            using (var stream = File.OpenRead(hook))
                read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            var crlf = head.AsSpan(0, read).IndexOf("\r\n"u8);
            if (crlf < 0)
                continue;
            var line = head.AsSpan(0, crlf).Count((byte)'\n') + 1;
            var relative = layout + "/" + ProjectLayout.ActionHooksFolder + "/" + Path.GetFileName(hook);
            throw new ModWsgiException(DiagnosticCodes.HookHasWindowsLineEndings,
                $"{relative} has Windows (CRLF) line endings (line {line} ends in \\r\\n), so the container cannot run it "
                + $"(\"required file not found\"): convert it with \"sed -i 's/\\r$//' {relative}\" (or dos2unix), and keep git from "
                + "converting it back with a '.docker/** text eol=lf' (or '.whiskey/** text eol=lf') line in .gitattributes.");
        }
    }

    /// <summary>The executable-bit rule of hooks, for any file.</summary>
    public static HookState ProbeFile(string path)
    {
        // File.Exists is false for a directory, which the build could not run either.
        if (!File.Exists(path))
            return HookState.Missing;
        // Windows has no execute bit; like `docker build` from Windows, treat every file as executable.
        if (OperatingSystem.IsWindows())
            return HookState.Executable;
        const UnixFileMode anyExecute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        return (File.GetUnixFileMode(path) & anyExecute) != 0 ? HookState.Executable : HookState.NotExecutable;
    }
}
