using System.Diagnostics;
using System.Globalization;

namespace ModWsgi.Core.Build;

/// <summary>
/// The time every layer entry is clamped to and the image's created time: SOURCE_DATE_EPOCH when set, else
/// the commit time of a git checkout, else a fixed epoch. Layers the SDK caches across commits (runtime,
/// dependencies) always use the fixed epoch, so a new commit never invalidates them.
/// </summary>
public static class SourceDateEpoch
{
    /// <summary>1980-01-01T00:00:00Z: the earliest time a zip (and so a wheel) can record.</summary>
    public static readonly DateTimeOffset Fixed = new(1980, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static DateTimeOffset Resolve(string projectDirectory, string? sourceDateEpoch)
    {
        if (!string.IsNullOrWhiteSpace(sourceDateEpoch)
            && long.TryParse(sourceDateEpoch, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
            return DateTimeOffset.FromUnixTimeSeconds(seconds);
        return Git(projectDirectory, "log", "-1", "--format=%ct") is { } commitTime
            && long.TryParse(commitTime, NumberStyles.None, CultureInfo.InvariantCulture, out var commit)
            ? DateTimeOffset.FromUnixTimeSeconds(commit)
            : Fixed;
    }

    /// <summary>Runs git in the project folder; null when git is missing or the folder is no checkout.</summary>
    public static string? Git(string projectDirectory, params string[] args)
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
