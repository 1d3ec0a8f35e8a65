using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace ModWsgi.EndToEnd.Tests;

/// <summary>
/// A Docker 26.1 daemon of the test's own that listens only on <c>tcp://127.0.0.1:PORT</c> with <c>--tlsverify</c>,
/// with certificates made by openssl: a CA, a server certificate for IP 127.0.0.1, a client certificate, and a second
/// CA that signed nothing the engine knows. Its own containerd, roots, bridge (made with <c>ip link add</c>) and
/// <c>--iptables=false</c>, so the host engine is untouched (/work/shared/ENGINES.md); everything goes in Dispose.
/// </summary>
public sealed class TlsEngine : IDisposable
{
    private readonly string _root = Environment.GetEnvironmentVariable("MODWSGI_ENGINES_DIR") is { Length: > 0 } state
        ? Path.Combine(state, "root") : "/var/tmp/modwsgi-engines/root";
    private readonly string _bridge;
    private Process? _containerd;
    private Process? _dockerd;

    public TlsEngine()
    {
        // Under /var/tmp, not /tmp: the daemon's data root must not be on a small tmpfs.
        Work = Directory.CreateDirectory("/var/tmp/modwsgi-remote-tls-" + Guid.NewGuid().ToString("N")[..12]).FullName;
        Port = Ports.Free();
        _bridge = $"mwtls{Port}";
        try
        {
            MakeCertificates();
            Start();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Work { get; }
    public int Port { get; }
    public string Host => $"tcp://127.0.0.1:{Port}";

    /// <summary>ca.pem (the engine's CA), cert.pem and key.pem (a client certificate it signed): DOCKER_CERT_PATH.</summary>
    public string ClientCerts => Path.Combine(Work, "client");

    /// <summary>The same client certificate, with another CA's ca.pem.</summary>
    public string WrongCaCerts => Path.Combine(Work, "wrong-ca");

    /// <summary>The engine's ca.pem alone: no client certificate.</summary>
    public string NoClientCerts => Path.Combine(Work, "no-client");

    private string Daemon => Path.Combine(Work, "daemon");


    private void MakeCertificates()
    {
        const string script = """
            set -eu
            ca() { mkdir -p "$1"; openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1/ca-key.pem" -out "$1/ca.pem" -days 2 -subj "/CN=$2"; }
            ca ca modwsgi-test-ca
            ca other-ca modwsgi-other-ca
            openssl req -newkey rsa:2048 -nodes -keyout server-key.pem -out server.csr -subj /CN=127.0.0.1
            printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
            openssl x509 -req -in server.csr -CA ca/ca.pem -CAkey ca/ca-key.pem -CAcreateserial -out server-cert.pem -days 2 -extfile server.ext
            openssl req -newkey rsa:2048 -nodes -keyout key.pem -out client.csr -subj /CN=modwsgi-client
            printf 'extendedKeyUsage=clientAuth\n' >client.ext
            openssl x509 -req -in client.csr -CA ca/ca.pem -CAkey ca/ca-key.pem -CAcreateserial -out cert.pem -days 2 -extfile client.ext
            mkdir client wrong-ca no-client
            cp ca/ca.pem cert.pem key.pem client/
            cp other-ca/ca.pem wrong-ca/; cp cert.pem key.pem wrong-ca/
            cp ca/ca.pem no-client/
            """;
        var result = Run.Process("bash", ["-c", script], Work);
        Assert.True(result.ExitCode == 0, "making the test certificates with openssl failed:\n" + result.Output);
    }

    private void Start()
    {
        if (!File.Exists(Path.Combine(_root, "usr/sbin/dockerd")))
        {
            var download = Run.Process(Path.Combine(RepositoryRootAttribute.Get(), "eng", "engines.sh"), ["download"]);
            Assert.True(download.ExitCode == 0, "eng/engines.sh download (Docker 26.1 from trixie) failed:\n" + download.Output);
        }
        Directory.CreateDirectory(Daemon);
        Ok("ip", "link", "add", _bridge, "type", "bridge");
        Ok("ip", "addr", "add", $"10.227.{Port % 250 + 1}.1/24", "dev", _bridge);
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
        // Its own containerd: otherwise dockerd adopts the host engine's /run/containerd.
        _containerd = Spawn(Path.Combine(_root, "usr/bin/containerd"), "containerd.log", "--config", Path.Combine(Daemon, "containerd.toml"));
        Await(() => File.Exists(Path.Combine(Daemon, "containerd.sock")), _containerd, "containerd.log", TimeSpan.FromSeconds(30));
        _dockerd = Spawn(Path.Combine(_root, "usr/sbin/dockerd"), "dockerd.log",
            "--containerd", Path.Combine(Daemon, "containerd.sock"), "--storage-driver", "overlay2",
            "--data-root", Path.Combine(Daemon, "data"), "--exec-root", Path.Combine(Daemon, "exec"), "--pidfile", Path.Combine(Daemon, "dockerd.pid"),
            "-H", Host, "--tlsverify", "--tlscacert", Path.Combine(Work, "ca", "ca.pem"),
            "--tlscert", Path.Combine(Work, "server-cert.pem"), "--tlskey", Path.Combine(Work, "server-key.pem"),
            // Never --bridge=none (it deletes the host's docker0): a bridge of its own, and no iptables.
            "--bridge", _bridge, "--iptables=false", "--ip6tables=false", "--ip-masq=false", "--userland-proxy=false", "--cgroup-parent", "/" + _bridge);
        Await(() => Docker("version").ExitCode == 0, _dockerd, "dockerd.log", TimeSpan.FromSeconds(60));
    }

    /// <summary>The docker CLI against this engine, with its certificates.</summary>
    public ProcessResult Docker(params string[] args) => Run.Process("docker",
        ["--tlsverify", "--tlscacert", Path.Combine(ClientCerts, "ca.pem"), "--tlscert", Path.Combine(ClientCerts, "cert.pem"),
            "--tlskey", Path.Combine(ClientCerts, "key.pem"), "-H", Host, .. args],
        env: new Dictionary<string, string?> { ["DOCKER_CONTEXT"] = null, ["DOCKER_HOST"] = null }, timeout: TimeSpan.FromMinutes(2));

    private Process Spawn(string program, string log, params string[] args)
    {
        var path = $"{_root}/usr/bin:{_root}/usr/sbin:{Environment.GetEnvironmentVariable("PATH")}";
        var command = string.Join(' ', new[] { program }.Concat(args).Select(Quote));
        var info = new ProcessStartInfo("bash", ["-c", $"exec {command} >{Quote(Path.Combine(Daemon, log))} 2>&1 </dev/null"]) { UseShellExecute = false };
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
                Assert.Fail($"the test's TLS engine did not start ({log}):\n" + Tail(log));
            Thread.Sleep(200);
        }
    }

    private string Tail(string log)
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
        // Whatever the daemon left mounted below its folder (deepest first), then the bridge and the cgroup.
        var mounts = File.ReadAllLines("/proc/self/mountinfo").Select(l => l.Split(' ')[4])
            .Where(m => m.StartsWith(Work + "/", StringComparison.Ordinal)).OrderByDescending(m => m.Length);
        foreach (var mount in mounts)
            Run.Process("umount", ["-l", mount]);
        if (Run.Process("ip", ["link", "show", _bridge]).ExitCode == 0)
            Run.Process("ip", ["link", "del", _bridge]);
        foreach (var cgroup in Directory.GetDirectories("/sys/fs/cgroup", _bridge, SearchOption.TopDirectoryOnly)
                     .Concat(Directory.GetDirectories("/sys/fs/cgroup").SelectMany(d => Directory.GetDirectories(d, _bridge))))
            Run.Process("find", [cgroup, "-depth", "-type", "d", "-exec", "rmdir", "{}", "+"]);
        if (Directory.Exists(Work))
            Directory.Delete(Work, recursive: true);
    }
}
