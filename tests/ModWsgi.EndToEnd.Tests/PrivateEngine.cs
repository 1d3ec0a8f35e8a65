using System.Diagnostics;

namespace ModWsgi.EndToEnd.Tests;

/// <summary>
/// A Docker 26.1 daemon of a test's own (binaries from <c>eng/engines.sh download</c>): its own containerd, roots,
/// bridge (made with <c>ip link add</c>), cgroup parent and <c>--iptables=false</c>, so the host engine is untouched
/// (/work/shared/ENGINES.md). The caller says how it listens (<c>-H …</c> and any TLS switches). It can be killed and
/// started again on the same roots, as an engine that crashes and is restarted mid-build. Everything goes in Dispose.
/// </summary>
public sealed class PrivateEngine : IDisposable
{
    private readonly string _root = Environment.GetEnvironmentVariable("MODWSGI_ENGINES_DIR") is { Length: > 0 } state
        ? Path.Combine(state, "root") : "/var/tmp/modwsgi-engines/root";
    private readonly string _bridge;
    private readonly IReadOnlyList<string> _listen;
    private readonly Func<string[], ProcessResult> _docker;
    private Process? _containerd;
    private Process? _dockerd;

    /// <param name="work">The engine's folder (under /var/tmp: a data root must not be on a small tmpfs); removed in Dispose.</param>
    /// <param name="bridge">A bridge name of its own (at most 15 characters).</param>
    /// <param name="subnet">The bridge's address, e.g. 10.227.7.1/24.</param>
    /// <param name="listen">dockerd's -H switch and anything that goes with it (TLS).</param>
    /// <param name="docker">The docker CLI pointed at this engine, to know when it answers.</param>
    public PrivateEngine(string work, string bridge, string subnet, IReadOnlyList<string> listen, Func<string[], ProcessResult> docker)
    {
        Work = work;
        _bridge = bridge;
        _listen = listen;
        _docker = docker;
        Subnet = subnet;
        try
        {
            if (!File.Exists(Path.Combine(_root, "usr/sbin/dockerd")))
            {
                var download = Run.Process(Path.Combine(RepositoryRootAttribute.Get(), "eng", "engines.sh"), ["download"]);
                Assert.True(download.ExitCode == 0, "eng/engines.sh download (Docker 26.1 from trixie) failed:\n" + download.Output);
            }
            Directory.CreateDirectory(Daemon);
            Ok("ip", "link", "add", _bridge, "type", "bridge");
            Ok("ip", "addr", "add", subnet, "dev", _bridge);
            Ok("ip", "link", "set", _bridge, "up");
            File.WriteAllText(Path.Combine(Daemon, "containerd.toml"), $"""
                version = 2
                root = "{Daemon}/ctd"
                state = "{Daemon}/ctds"
                disabled_plugins = ["io.containerd.grpc.v1.cri"]
                [grpc]
                  address = "{Daemon}/containerd.sock"
                [ttrpc]
                  address = "{Daemon}/containerd.sock.ttrpc"
                """);
            Start();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Work { get; }

    /// <summary>The bridge's address with its prefix length: build containers reach the host at its first part.</summary>
    public string Subnet { get; }

    public string Daemon => Path.Combine(Work, "daemon");

    /// <summary>dockerd's process id while it runs.</summary>
    public int DaemonPid => _dockerd is { HasExited: false } d ? d.Id : throw new InvalidOperationException("the engine is not running");

    /// <summary>Starts containerd (when not running) and dockerd on the engine's roots, and waits until it answers.</summary>
    public void Start()
    {
        if (_containerd is null || _containerd.HasExited)
        {
            // Its own containerd: otherwise dockerd adopts the host engine's /run/containerd.
            _containerd = Spawn(Path.Combine(_root, "usr/bin/containerd"), "containerd.log", "--config", Path.Combine(Daemon, "containerd.toml"));
            Await(() => File.Exists(Path.Combine(Daemon, "containerd.sock")), _containerd, "containerd.log", TimeSpan.FromSeconds(30));
        }
        _dockerd = Spawn(Path.Combine(_root, "usr/sbin/dockerd"), "dockerd.log",
        [
            "--containerd", Path.Combine(Daemon, "containerd.sock"), "--storage-driver", "overlay2",
            "--data-root", Path.Combine(Daemon, "data"), "--exec-root", Path.Combine(Daemon, "exec"), "--pidfile", Path.Combine(Daemon, "dockerd.pid"),
            .. _listen,
            // Never --bridge=none (it deletes the host's docker0): a bridge of its own, and no iptables.
            "--bridge", _bridge, "--iptables=false", "--ip6tables=false", "--ip-masq=false", "--userland-proxy=false", "--cgroup-parent", "/" + _bridge,
        ]);
        Await(() => _docker(["version"]).ExitCode == 0, _dockerd, "dockerd.log", TimeSpan.FromSeconds(60));
    }

    /// <summary>SIGKILL to dockerd (containerd and its shims live on, as when only the daemon crashes).</summary>
    public void Kill()
    {
        if (_dockerd is null || _dockerd.HasExited)
            return;
        _dockerd.Kill();
        _dockerd.WaitForExit();
        File.Delete(Path.Combine(Daemon, "dockerd.pid"));
    }

    private Process Spawn(string program, string log, params string[] args)
    {
        var path = $"{_root}/usr/bin:{_root}/usr/sbin:{Environment.GetEnvironmentVariable("PATH")}";
        var command = string.Join(' ', new[] { program }.Concat(args).Select(Quote));
        // >> : a restarted daemon's log follows the first one's.
        var info = new ProcessStartInfo("bash", ["-c", $"exec {command} >>{Quote(Path.Combine(Daemon, log))} 2>&1 </dev/null"]) { UseShellExecute = false };
        info.Environment["PATH"] = path;
        return Process.Start(info)!;
    }

    private static string Quote(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private void Await(Func<bool> ready, Process daemon, string log, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (!ready())
        {
            if (daemon.HasExited || DateTime.UtcNow > until)
                Assert.Fail($"the test's private engine did not start ({log}):\n" + Tail(log));
            Thread.Sleep(200);
        }
    }

    public string Tail(string log)
    {
        var path = Path.Combine(Daemon, log);
        return File.Exists(path) ? string.Join('\n', File.ReadAllLines(path).TakeLast(25)) : "(no log)";
    }

    private static void Ok(string program, params string[] args)
    {
        var result = Run.Process(program, args);
        Assert.True(result.ExitCode == 0, $"{program} {string.Join(' ', args)} failed:\n{result.Output}");
    }

    private static void Stop(Process? process)
    {
        if (process is null)
            return;
        try
        {
            if (!process.HasExited)
            {
                Run.Process("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
                if (!process.WaitForExit(TimeSpan.FromSeconds(20)))
                    process.Kill();
                process.WaitForExit();
            }
        }
        catch (InvalidOperationException)
        {
            // never started
        }
        process.Dispose();
    }

    public void Dispose()
    {
        Stop(_dockerd);
        Stop(_containerd);
        // Shims of containers that outlived a killed daemon, then whatever is mounted below the folder (deepest
        // first), the bridge and the cgroup.
        Run.Process("pkill", ["-KILL", "-f", Path.Combine(Daemon, "containerd.sock")]);
        if (File.Exists("/proc/self/mountinfo"))
        {
            var mounts = File.ReadAllLines("/proc/self/mountinfo").Select(l => l.Split(' ')[4])
                .Where(m => m.StartsWith(Work + "/", StringComparison.Ordinal)).OrderByDescending(m => m.Length);
            foreach (var mount in mounts)
                Run.Process("umount", ["-l", mount]);
        }
        if (Run.Process("ip", ["link", "show", _bridge]).ExitCode == 0)
            Run.Process("ip", ["link", "del", _bridge]);
        if (Directory.Exists("/sys/fs/cgroup"))
        {
            foreach (var cgroup in Directory.GetDirectories("/sys/fs/cgroup", _bridge, SearchOption.TopDirectoryOnly)
                         .Concat(Directory.GetDirectories("/sys/fs/cgroup").SelectMany(d => Directory.GetDirectories(d, _bridge))))
                Run.Process("find", [cgroup, "-depth", "-type", "d", "-exec", "rmdir", "{}", "+"]);
        }
        if (Directory.Exists(Work))
            Directory.Delete(Work, recursive: true);
    }
}
