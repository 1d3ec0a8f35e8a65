using System.Globalization;

namespace ModWsgi.Core.Steps;

/// <summary>Whether the process that made a build container still runs, as far as this machine can tell.</summary>
public enum BuildClientState
{
    /// <summary>It runs (same machine and boot, same pid namespace, the pid's start time matches).</summary>
    Running,

    /// <summary>It ended: the pid is gone, or now belongs to a later process (its start time differs).</summary>
    Gone,

    /// <summary>Another machine, boot or pid namespace made it: nothing here can tell.</summary>
    Unknown,
}

/// <summary>
/// The process a build runs in, named so that a later build can tell whether it still runs: a pid alone is not
/// enough (pids are recycled, and another machine or container sharing the engine has its own), so the pid's start
/// time (clock ticks since boot, /proc/PID/stat), the kernel's boot id and the pid namespace go with it.
/// </summary>
/// <param name="Pid">The process id.</param>
/// <param name="StartTime">Field 22 of /proc/PID/stat; null where /proc is not there.</param>
/// <param name="BootId">/proc/sys/kernel/random/boot_id: new on every boot, different on every machine.</param>
/// <param name="PidNamespace">The target of /proc/self/ns/pid (pid:[INODE]): containers sharing a kernel have their own.</param>
/// <param name="Host">The machine's name, for people reading the labels.</param>
public sealed record BuildClient(int Pid, string? StartTime, string? BootId, string? PidNamespace, string Host)
{
    private static readonly Lazy<BuildClient> s_current = new(() =>
    {
        var pid = Environment.ProcessId;
        return new BuildClient(pid, ReadStartTime(pid), ReadTrimmed("/proc/sys/kernel/random/boot_id"), ReadLink("/proc/self/ns/pid"), Environment.MachineName);
    });

    /// <summary>This process.</summary>
    public static BuildClient Current => s_current.Value;

    /// <summary>Whether the process <paramref name="other"/> names runs, judged from this process (its machine, boot and pid namespace).</summary>
    public BuildClientState StateOf(BuildClient other)
    {
        if (BootId is null || other.BootId != BootId || other.PidNamespace != PidNamespace || StartTime is null)
            return BuildClientState.Unknown;
        if (other.Pid == Pid)
            return other.StartTime == StartTime ? BuildClientState.Running : BuildClientState.Gone;
        var started = ReadStartTime(other.Pid);
        return started is not null && started == other.StartTime ? BuildClientState.Running : BuildClientState.Gone;
    }

    /// <summary>The start time of <paramref name="pid"/> (clock ticks after boot), or null when no such process exists.</summary>
    internal static string? ReadStartTime(int pid)
    {
        var stat = ReadTrimmed($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
        // pid (comm) state ppid …: comm may hold spaces and parentheses, so count fields after the last ')'.
        var end = stat?.LastIndexOf(')') ?? -1;
        if (stat is null || end < 0)
            return null;
        var fields = stat[(end + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // Fields after comm start at field 3 (state); starttime is field 22.
        return fields.Length > 19 ? fields[19] : null;
    }

    private static string? ReadTrimmed(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string? ReadLink(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
