namespace ModWsgi.EndToEnd.Tests;

/// <summary>
/// Issue 11 §4: the launcher's default processes follow the CPU limit of the container it starts in, read from the
/// engine's real cgroup files (v1 on Docker 20.10, v2 on the newer engines). The launcher of this checkout runs from
/// stdin in a container of the base image (--dry-run: nothing is started), so no image is built.
/// </summary>
public sealed class RuntimeSizingTests
{
    private static readonly string Launcher = File.ReadAllText(
        Path.Combine(RepositoryRootAttribute.Get(), "sdk", "ModWsgi.Sdk", "runtime", "modwsgi-launch"));

    private static string ServingLine(params string[] runArgs)
    {
        var result = Run.Process("docker", ["run", "--rm", "-i", "--network", "none", .. runArgs, "modwsgi/base:bookworm",
            "python3", "-", "--dry-run"], stdin: Launcher);
        Assert.True(result.ExitCode == 0, result.Output);
        return result.StdErr.Split('\n').Single(l => l.StartsWith("modwsgi-launch: serving ", StringComparison.Ordinal));
    }

    [DockerFact]
    public void With_cpus_1_one_process_from_the_cgroup_quota()
    {
        var line = ServingLine("--cpus", "1");
        var daemon = ServingLine("--cpus", "1", "-e", "MOD_WSGI_DAEMON_MODE=1");

        Assert.Contains("(embedded mode: 1 processes x 64 threads; 1 CPU: the cgroup CPU quota of 1 in /sys/fs/cgroup/", line);
        Assert.Contains("(daemon mode: 1 processes x 5 threads; 1 CPU: the cgroup CPU quota of 1 in /sys/fs/cgroup/", daemon);
    }

    [DockerFact]
    public void Without_a_limit_one_process_per_cpu_the_container_may_run_on()
    {
        var cpus = int.Parse(Run.DockerOk("run", "--rm", "--network", "none", "modwsgi/base:bookworm", "nproc").Trim(),
            System.Globalization.CultureInfo.InvariantCulture);

        var line = ServingLine();

        Assert.Contains($"(embedded mode: {cpus} processes x 64 threads; {cpus} CPU{(cpus == 1 ? "" : "s")}: the CPUs it may run on)", line);
    }
}
