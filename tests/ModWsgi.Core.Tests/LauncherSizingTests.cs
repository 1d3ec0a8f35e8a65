using System.Globalization;

namespace ModWsgi.Core.Tests;

/// <summary>
/// The launcher's sizing defaults: the MPM, and processes and threads from the container's CPUs: the cgroup CPU quota (v2 cpu.max,
/// v1 cpu.cfs_quota_us / cpu.cfs_period_us) in a fake cgroup folder (MODWSGI_CGROUP_ROOT), else the CPUs the
/// process may run on.
/// </summary>
public partial class LauncherTests
{
    /// <summary>The cgroup every other launcher test runs with: a quota of one CPU (in the output folder, rewritten each run).</summary>
    private static readonly Lazy<string> OneCpuCgroup = new(() =>
    {
        var root = Path.Combine(AppContext.BaseDirectory, "fake-cgroup-one-cpu");
        Directory.CreateDirectory(root);
        File.WriteAllText(Path.Combine(root, "cpu.max"), "100000 100000\n");
        return root;
    });

    /// <summary>A temporary folder standing for /sys/fs/cgroup with the given files (relative path, first line).</summary>
    private sealed class FakeCgroup : IDisposable
    {
        public string Root { get; } = Directory.CreateTempSubdirectory("modwsgi-cgroup-").FullName;

        public FakeCgroup(params (string Path, string Text)[] files)
        {
            foreach (var (path, text) in files)
            {
                var file = Path.Combine(Root, path);
                Directory.CreateDirectory(Path.GetDirectoryName(file)!);
                File.WriteAllText(file, text + "\n");
            }
        }

        public void Dispose() => Directory.Delete(Root, recursive: true);
    }

    /// <summary>The CPUs this test process may run on, as the launcher counts them (sched_getaffinity).</summary>
    private static readonly Lazy<int> HostCpus = new(() =>
    {
        var result = Start("python3", ["-c", "import os; print(len(os.sched_getaffinity(0)))"], null).GetAwaiter().GetResult();
        Assert.Equal(0, result.ExitCode);
        return int.Parse(result.Stdout.Trim(), CultureInfo.InvariantCulture);
    });

    private static async Task<(int Processes, int Threads, string Stderr)> ModWsgiSizing(string cgroup, params string[] args)
    {
        var result = await Run(args, new Dictionary<string, string> { ["MODWSGI_CGROUP_ROOT"] = cgroup });
        Assert.True(result.ExitCode == 0, $"exit {result.ExitCode}: {result.Stderr}");
        Assert.DoesNotContain("Traceback", result.Stderr);
        if (args.Contains("--daemon-mode"))
        {
            var daemon = Directive(result.Stdout, "WSGIDaemonProcess");
            var processes = System.Text.RegularExpressions.Regex.Match(daemon, @" processes=(\d+) ").Groups[1].Value;
            var threads = System.Text.RegularExpressions.Regex.Match(daemon, @" threads=(\d+) ").Groups[1].Value;
            return (int.Parse(processes, CultureInfo.InvariantCulture), int.Parse(threads, CultureInfo.InvariantCulture), result.Stderr);
        }
        // Embedded mode: Apache's own children run Python, a fixed pool of processes x threads.
        Assert.DoesNotContain("WSGIDaemonProcess", result.Stdout);
        return (Number(result.Stdout, "ServerLimit"), Number(result.Stdout, "ThreadsPerChild"), result.Stderr);
    }

    private static int Number(string config, string directive) =>
        int.Parse(Directive(config, directive)[(directive.Length + 1)..], CultureInfo.InvariantCulture);

    [Theory]
    [InlineData("cpu.max", "100000 100000", 1)]          // cgroup v2, docker run --cpus 1
    [InlineData("cpu.max", "50000 100000", 1)]           // half a CPU: still one process
    [InlineData("cpu.max", "150000 100000", 2)]          // 1.5 CPUs, rounded up
    [InlineData("cpu.max", "300000 100000", 3)]
    [InlineData("cpu/cpu.cfs_quota_us", "200000", 2)]    // cgroup v1 (Docker 20.10 here)
    [InlineData("cpu,cpuacct/cpu.cfs_quota_us", "100000", 1)]
    public async Task ModWsgi_OneProcessPerCpuOfTheQuota_AtMostTheCpusItMayRunOn(string file, string quota, int cpus)
    {
        var files = new List<(string, string)> { (file, quota) };
        if (file.EndsWith("cfs_quota_us", StringComparison.Ordinal))
        {
            files.Add((Path.Combine(Path.GetDirectoryName(file)!, "cpu.cfs_period_us"), "100000"));
        }

        using var cgroup = new FakeCgroup([.. files]);
        var (processes, threads, stderr) = await ModWsgiSizing(cgroup.Root);
        var (daemonProcesses, daemonThreads, daemonStderr) = await ModWsgiSizing(cgroup.Root, "--daemon-mode");

        var expected = Math.Min(cpus, HostCpus.Value);
        Assert.Equal((expected, 64), (processes, threads));
        Assert.Equal((expected, 5), (daemonProcesses, daemonThreads));
        if (cpus <= HostCpus.Value)
        {
            var source = $"{expected} CPU{(expected == 1 ? "" : "s")}: the cgroup CPU quota of ";
            Assert.Contains($"(embedded mode: {expected} processes x 64 threads; {source}", stderr);
            Assert.Contains($"(daemon mode: {expected} processes x 5 threads; {source}", daemonStderr);
        }
    }

    [Theory]
    [InlineData("cpu.max", "max 100000")]                // v2, no limit
    [InlineData("cpu/cpu.cfs_quota_us", "-1")]           // v1, no limit
    [InlineData("cpu.max", "not a quota")]               // unreadable: ignored
    [InlineData("unrelated", "")]                        // no cgroup files at all
    public async Task ModWsgi_WithoutAQuota_OneProcessPerCpuItMayRunOn(string file, string text)
    {
        var files = new List<(string, string)> { (file, text) };
        if (file.EndsWith("cfs_quota_us", StringComparison.Ordinal))
        {
            files.Add(("cpu/cpu.cfs_period_us", "100000"));
        }

        using var cgroup = new FakeCgroup([.. files]);
        var (processes, threads, stderr) = await ModWsgiSizing(cgroup.Root);

        Assert.Equal(HostCpus.Value, processes);
        Assert.Equal(64, threads);
        Assert.Contains("CPU" + (HostCpus.Value == 1 ? "" : "s") + ": the CPUs it may run on)", stderr);
    }

    [Fact]
    public async Task ModWsgi_GivenProcessesAndThreads_WinOverTheCpus_AndTheLineNamesNoCpus()
    {
        using var cgroup = new FakeCgroup(("cpu.max", "100000 100000"));

        var (processes, threads, stderr) = await ModWsgiSizing(cgroup.Root, "--processes", "4", "--threads", "2");

        Assert.Equal((4, 2), (processes, threads));
        Assert.DoesNotContain("CPU", stderr);
        // Only the threads given: the processes still follow the CPUs.
        (processes, threads, _) = await ModWsgiSizing(cgroup.Root, "--threads", "9");
        Assert.Equal((1, 9), (processes, threads));
        (processes, threads, _) = await ModWsgiSizing(cgroup.Root, "--daemon-mode", "--processes", "4", "--threads", "2");
        Assert.Equal((4, 2), (processes, threads));
    }

    [Fact]
    public async Task ModWsgi_ProcessesFromTheEnvironment_WinOverTheCpus()
    {
        using var cgroup = new FakeCgroup(("cpu.max", "100000 100000"));
        var result = await Run([], new Dictionary<string, string>
        {
            ["MODWSGI_CGROUP_ROOT"] = cgroup.Root,
            ["MOD_WSGI_PROCESSES"] = "3",
            ["MOD_WSGI_DAEMON_MODE"] = "1",
        });

        Assert.Contains(" processes=3 threads=5 ", Directive(result.Stdout, "WSGIDaemonProcess"));
    }

    [Theory]
    [InlineData("100000 100000", 1)]
    [InlineData("200000 100000", 2)]
    public async Task Gunicorn_TwiceTheCpusPlusOneSyncWorkers(string quota, int cpus)
    {
        var expected = Math.Min(cpus, HostCpus.Value);
        using var cgroup = new FakeCgroup(("cpu.max", quota));

        var line = await CommandLine(["--server", "gunicorn"], new Dictionary<string, string> { ["MODWSGI_CGROUP_ROOT"] = cgroup.Root });

        Assert.Contains($" --workers {2 * expected + 1} --threads 1 ", line);
    }

    [Fact]
    public async Task Gunicorn_GivenThreads_KeepTheWorkersFromTheCpus()
    {
        using var cgroup = new FakeCgroup(("cpu.max", "100000 100000"));
        var line = await CommandLine(["--server", "gunicorn", "--threads", "4"],
            new Dictionary<string, string> { ["MODWSGI_CGROUP_ROOT"] = cgroup.Root });

        Assert.Contains(" --workers 3 --threads 4 ", line);
    }

    [Fact]
    public async Task Waitress_OneProcessOfFiveThreads_WhateverTheCpus()
    {
        using var cgroup = new FakeCgroup(("cpu.max", "400000 100000"));
        var result = await Run(["--server", "waitress"],
            new Dictionary<string, string> { ["MODWSGI_CGROUP_ROOT"] = cgroup.Root });

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains(" --threads=5 ", result.Stdout);
        Assert.Contains("with waitress (1 process x 5 threads)", result.Stderr);
        Assert.DoesNotContain("warning", result.Stderr);
    }

    [Theory]
    [InlineData(new string[0], "event", "MaxKeepAliveRequests 0")]
    [InlineData(new[] { "--server-mpm", "worker" }, "worker", "MaxKeepAliveRequests 500")]
    [InlineData(new[] { "--server-mpm", "prefork" }, "prefork", "MaxKeepAliveRequests 500")]
    public async Task TheMpmIsEventByDefault_AndKeepAliveRequestsFollowTheMpm(string[] args, string mpm, string keepAlive)
    {
        var config = await Config(args);

        Assert.Contains($"LoadModule mpm_{mpm}_module \"/usr/lib/apache2/modules/mod_mpm_{mpm}.so\"", Lines(config));
        Assert.Single(Lines(config), l => l.StartsWith("LoadModule mpm_", StringComparison.Ordinal));
        Assert.Equal(keepAlive, Directive(config, "MaxKeepAliveRequests"));
    }
}
