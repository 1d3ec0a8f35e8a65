using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace ModWsgi.EndToEnd.Tests;

/// <summary>
/// Debian's sshd of the test's own on <c>127.0.0.1:PORT</c> (its config, host key and authorized key in a temp
/// folder; the system's sshd and its config are never touched), in front of the host engine: the remote side of
/// <c>DOCKER_HOST=ssh://root@127.0.0.1:PORT</c> is <c>docker system dial-stdio</c> there. The client side is the real
/// <c>ssh</c>, found through <see cref="SearchPath"/>: a wrapper named ssh that adds <c>-F</c> with the test's key
/// and known_hosts (ssh reads the account's ~/.ssh, not $HOME, so a config file is the only clean way in).
/// </summary>
public sealed class SshEngine : IDisposable
{
    private const string Downloads = "/var/tmp/modwsgi-sshd";
    private Process? _sshd;

    public SshEngine()
    {
        Work = Directory.CreateTempSubdirectory("modwsgi-remote-ssh-").FullName;
        Port = Ports.Free();
        try
        {
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
    public string Host => $"ssh://root@127.0.0.1:{Port}";

    /// <summary>PATH with the wrapper that uses the test's key (accepted by the sshd).</summary>
    public string SearchPath => $"{Path.Combine(Work, "good")}:/usr/bin:/bin";

    /// <summary>PATH with a wrapper whose key the sshd does not accept.</summary>
    public string UnknownKeySearchPath => $"{Path.Combine(Work, "unknown-key")}:/usr/bin:/bin";


    private void Start()
    {
        var sshd = "/usr/sbin/sshd";
        var libraries = "";
        if (!File.Exists(sshd))
        {
            // Debian's openssh-server, unpacked beside the system (installing it would start a system sshd).
            sshd = Path.Combine(Downloads, "root/usr/sbin/sshd");
            libraries = Path.Combine(Downloads, "root/usr/lib/x86_64-linux-gnu");
            if (!File.Exists(sshd))
                Bash($"mkdir -p {Downloads} && cd {Downloads} && {{ apt-get download openssh-server libwrap0 || {{ apt-get update -qq && apt-get download openssh-server libwrap0; }}; }} && " +
                    "for d in *.deb; do dpkg -x \"$d\" root; done", "downloading openssh-server");
        }
        // sshd's privilege separation needs its user and /run/sshd (what openssh-server's postinst makes).
        Bash("id sshd >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /run/sshd --shell /usr/sbin/nologin sshd; mkdir -p /run/sshd", "preparing sshd's privilege separation");
        var w = Work;
        Bash($"""
            set -eu
            cd {w}
            ssh-keygen -q -t ed25519 -N '' -f host_key
            ssh-keygen -q -t ed25519 -N '' -f id
            ssh-keygen -q -t ed25519 -N '' -f other_id
            cp id.pub authorized_keys
            cat >sshd_config <<EOF
            Port {Port}
            ListenAddress 127.0.0.1
            HostKey {w}/host_key
            PidFile {w}/sshd.pid
            AuthorizedKeysFile {w}/authorized_keys
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            UsePAM no
            StrictModes no
            PermitRootLogin prohibit-password
            EOF
            echo "[127.0.0.1]:{Port} $(cut -d' ' -f1,2 host_key.pub)" >known_hosts
            for kind in good unknown-key; do
              key=id; [ $kind = good ] || key=other_id
              mkdir $kind
              printf 'Host *\n  IdentityFile {w}/%s\n  IdentitiesOnly yes\n  UserKnownHostsFile {w}/known_hosts\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n' $key >$kind/ssh_config
              printf '#!/bin/sh\nexec /usr/bin/ssh -F {w}/%s/ssh_config "$@"\n' $kind >$kind/ssh
              chmod +x $kind/ssh
            done
            """, "making the ssh keys and configuration");
        var info = new ProcessStartInfo(sshd, ["-D", "-e", "-f", Path.Combine(Work, "sshd_config")])
        {
            UseShellExecute = false,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        if (libraries.Length > 0)
            info.Environment["LD_LIBRARY_PATH"] = libraries;
        _sshd = Process.Start(info)!;
        var log = new System.Text.StringBuilder();
        _sshd.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        _sshd.BeginErrorReadLine();
        _sshd.BeginOutputReadLine();
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            lock (log)
            {
                if (log.ToString().Contains("Server listening", StringComparison.Ordinal))
                    break;
                if (_sshd.HasExited || DateTime.UtcNow > until)
                    Assert.Fail("the test's sshd did not start:\n" + log);
            }
            Thread.Sleep(100);
        }
    }

    private static void Bash(string script, string what)
    {
        var result = Run.Process("bash", ["-c", script]);
        Assert.True(result.ExitCode == 0, $"{what} failed:\n{result.Output}");
    }

    public void Dispose()
    {
        if (_sshd is not null)
        {
            if (!_sshd.HasExited)
            {
                _sshd.Kill(); // sshd -D: the listener; sessions end with their clients
                _sshd.WaitForExit();
            }
            _sshd.Dispose();
        }
        if (Directory.Exists(Work))
            Directory.Delete(Work, recursive: true);
    }
}
