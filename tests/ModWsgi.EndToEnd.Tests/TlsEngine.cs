
namespace ModWsgi.EndToEnd.Tests;

/// <summary>
/// A <see cref="PrivateEngine"/> that listens only on <c>tcp://127.0.0.1:PORT</c> with <c>--tlsverify</c>,
/// with certificates made by openssl: a CA, a server certificate for IP 127.0.0.1, a client certificate, and a second
/// CA that signed nothing the engine knows.
/// </summary>
public sealed class TlsEngine : IDisposable
{
    private readonly PrivateEngine? _engine;

    public TlsEngine()
    {
        // Under /var/tmp, not /tmp: the daemon's data root must not be on a small tmpfs.
        Work = Directory.CreateDirectory("/var/tmp/modwsgi-remote-tls-" + Guid.NewGuid().ToString("N")[..12]).FullName;
        Port = Ports.Free();
        try
        {
            MakeCertificates();
            _engine = new PrivateEngine(Work, $"mwtls{Port}", $"10.227.{Port % 250 + 1}.1/24",
                ["-H", Host, "--tlsverify", "--tlscacert", Path.Combine(Work, "ca", "ca.pem"),
                    "--tlscert", Path.Combine(Work, "server-cert.pem"), "--tlskey", Path.Combine(Work, "server-key.pem")], Docker);
        }
        catch
        {
            if (Directory.Exists(Work))
                Directory.Delete(Work, recursive: true);
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

    /// <summary>The docker CLI against this engine, with its certificates.</summary>
    public ProcessResult Docker(params string[] args) => Run.Process("docker",
        ["--tlsverify", "--tlscacert", Path.Combine(ClientCerts, "ca.pem"), "--tlscert", Path.Combine(ClientCerts, "cert.pem"),
            "--tlskey", Path.Combine(ClientCerts, "key.pem"), "-H", Host, .. args],
        env: new Dictionary<string, string?> { ["DOCKER_CONTEXT"] = null, ["DOCKER_HOST"] = null }, timeout: TimeSpan.FromMinutes(2));

    public void Dispose() => _engine?.Dispose();
}
