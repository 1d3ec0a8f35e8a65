namespace ModWsgi.Core.Project;

/// <summary>Whether an action hook would run: only an executable hook does; a non-executable one is skipped with a warning.</summary>
public enum HookState { Missing, NotExecutable, Executable }

/// <summary>The app's <c>.docker/action_hooks</c> scripts, run at fixed points of the build.</summary>
public static class ActionHooks
{
    public const string PreBuild = "pre-build", Build = "build", Deploy = "deploy";

    /// <summary>The hook's path inside the project, with '/' separators.</summary>
    public static string RelativePath(string hook) => ".docker/action_hooks/" + hook;

    /// <summary>Probes the hook file; any of the user, group or other execute bits makes it executable.</summary>
    public static HookState Probe(string projectDirectory, string hook) => ProbeFile(Path.Combine(projectDirectory, RelativePath(hook)));

    /// <summary>True for an existing file with an execute bit (app.sh, hooks).</summary>
    public static bool IsExecutable(string path) => ProbeFile(path) == HookState.Executable;

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
