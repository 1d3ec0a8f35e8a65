using System.Diagnostics;
using System.Globalization;

namespace ModWsgi.Core.Project;

/// <summary>
/// What a build takes from the git checkout the project is in (all null outside one): the commit, its time
/// (the default SOURCE_DATE_EPOCH) and the origin URL (the source label). Read once per build: two git runs.
/// </summary>
public sealed record GitCheckout(string? Revision, DateTimeOffset? CommitTime, string? Origin)
{
    public static readonly GitCheckout None = new(null, null, null);

    public static GitCheckout Read(string projectDirectory)
    {
        if (Git(projectDirectory, "log", "-1", "--format=%H %ct") is not { } head)
            return None;
        var parts = head.Split(' ');
        var time = parts.Length == 2 && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : (DateTimeOffset?)null;
        return new GitCheckout(parts[0], time, Git(projectDirectory, "remote", "get-url", "origin"));
    }

    /// <summary>Runs git in the project folder; null when git is missing or the folder is no checkout.</summary>
    private static string? Git(string projectDirectory, params string[] args)
    {
        try
        {
            var info = new ProcessStartInfo("git") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            info.ArgumentList.Add("-C");
            info.ArgumentList.Add(projectDirectory);
            foreach (var arg in args)
                info.ArgumentList.Add(arg);
            using var process = Process.Start(info)!;
            var output = process.StandardOutput.ReadToEnd().Trim();
            process.StandardError.ReadToEnd();
            process.WaitForExit();
            return process.ExitCode == 0 && output.Length > 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
