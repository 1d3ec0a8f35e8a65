using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Engine;

namespace ModWsgi.Core.Tests;

/// <summary>DOCKER_HOST forms, the TLS variables and docker contexts, resolved as the docker CLI resolves them.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class RemoteEngineEndpointTests : IDisposable
{
    private readonly string _config = Directory.CreateTempSubdirectory("modwsgi-docker-config-").FullName;

    public void Dispose() => Directory.Delete(_config, recursive: true);

    private BuildEnvironment Environment(params (string Name, string Value)[] variables) =>
        BuildEnvironment.From(name => name == "DOCKER_CONFIG" ? _config : variables.FirstOrDefault(v => v.Name == name).Value);

    private string CertDirectory(params string[] files)
    {
        var directory = Directory.CreateDirectory(Path.Combine(_config, "certs-" + Guid.NewGuid().ToString("N")));
        foreach (var file in files)
            File.WriteAllText(Path.Combine(directory.FullName, file), "not a certificate");
        return directory.FullName;
    }

    // ---- DOCKER_HOST forms ------------------------------------------------------------------------------------

    [Fact]
    public void Tcp_WithoutAPort_IsTheDockerClisDefault_2375Plain_2376Tls()
    {
        Assert.Equal(new Uri("http://build-host:2375/"), EngineEndpoint.Parse("tcp://build-host").TcpBase);
        var certs = CertDirectory("ca.pem");
        var tls = EngineEndpoint.Resolve(null, Environment(("DOCKER_HOST", "tcp://build-host"), ("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", certs)));
        Assert.Equal(new Uri("https://build-host:2376/"), tls.TcpBase);
        Assert.Equal(2376, tls.TcpBase!.Port);
    }

    [Theory]
    [InlineData("ssh://build-host", null, "build-host", null)]
    [InlineData("ssh://ci@build-host", "ci", "build-host", null)]
    [InlineData("ssh://ci@10.0.0.7:2222", "ci", "10.0.0.7", 2222)]
    public void Ssh_IsUserHostAndPort(string host, string? user, string hostName, int? port)
    {
        var endpoint = EngineEndpoint.Parse(host);

        Assert.Equal(new SshTarget(user, hostName, port, "ssh"), endpoint.Ssh);
        Assert.Null(endpoint.SocketPath);
        Assert.Null(endpoint.TcpBase);
        Assert.Equal(host, endpoint.Display);
    }

    [Fact]
    public void Ssh_Arguments_AreTheDockerClisDialStdio_InBatchMode()
    {
        Assert.Equal(["-o", "ConnectTimeout=30", "-o", "BatchMode=yes", "-T", "-l", "ci", "-p", "2222", "--", "h", "docker", "system", "dial-stdio"],
            SshProcessStream.Arguments(new SshTarget("ci", "h", 2222, "ssh")));
        Assert.Equal(["-o", "ConnectTimeout=30", "-o", "BatchMode=yes", "-T", "--", "h", "docker", "system", "dial-stdio"],
            SshProcessStream.Arguments(new SshTarget(null, "h", null, "ssh")));
    }

    [Theory]
    [InlineData("ssh://ci:secret@build-host")]
    [InlineData("ssh://build-host/some/path")]
    [InlineData("tcp://")]
    [InlineData("tcp://host:2375/path")]
    public void MalformedHosts_AreMODWSGI3004(string host)
    {
        var ex = Assert.Throws<ModWsgiException>(() => EngineEndpoint.Parse(host));

        Assert.Equal(DiagnosticCodes.InvalidEngineEndpoint, ex.Code);
        Assert.Contains(host, ex.Message);
        Assert.Contains("ssh://", ex.Message);
    }

    [Fact]
    public void Ssh_IsFoundOnTheEnvironmentsPath()
    {
        var bin = Directory.CreateDirectory(Path.Combine(_config, "bin")).FullName;
        var ssh = Path.Combine(bin, "ssh");
        File.WriteAllText(ssh, "#!/bin/sh\n");
        File.SetUnixFileMode(ssh, (UnixFileMode)0b111_101_101);

        Assert.Equal(ssh, EngineEndpoint.Resolve(null, Environment(("DOCKER_HOST", "ssh://h"), ("PATH", "/nonexistent:" + bin))).Ssh!.Program);
    }

    [Fact]
    public async Task Ssh_ThatCannotBeStarted_IsMODWSGI3014SayingToInstallIt()
    {
        using var client = new DockerEngineClient(EngineEndpoint.Parse("ssh://ci@h", null, Path.Combine(_config, "no-such-ssh")));

        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => client.InspectImageAsync("x", CancellationToken.None));

        Assert.Equal(DiagnosticCodes.EngineSshFailed, ex.Code);
        Assert.Contains("ssh://ci@h", ex.Message);
        Assert.Contains("openssh-client", ex.Message);
    }

    /// <summary>A stand-in for ssh that prints <paramref name="stdout"/>, <paramref name="stderr"/> and exits with <paramref name="exitCode"/>.</summary>
    private string FakeSsh(string stdout, string stderr, int exitCode)
    {
        var path = Path.Combine(_config, "fake-ssh-" + Guid.NewGuid().ToString("N")[..8]);
        File.WriteAllText(path, $"#!/bin/sh\nprintf '{stdout}'\nprintf '{stderr}' >&2\nexit {exitCode}\n");
        File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
        return path;
    }

    [Fact]
    public async Task Ssh_ThatFails_IsMODWSGI3014WithSshsStderr_AndTheCommandToTry()
    {
        var ssh = FakeSsh("", "ci@h: Permission denied (publickey).\\n", 255);
        using var client = new DockerEngineClient(EngineEndpoint.Parse("ssh://ci@h:2222", null, ssh));

        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => client.InspectImageAsync("x", CancellationToken.None));

        Assert.Equal(DiagnosticCodes.EngineSshFailed, ex.Code);
        Assert.Contains("ssh exited 255", ex.Message);
        Assert.Contains("Permission denied (publickey)", ex.Message);
        Assert.Contains("-l ci -p 2222 -- h docker system dial-stdio", ex.Message);
    }

    [Fact]
    public async Task Ssh_ThatAnswersWithSomethingElse_IsMODWSGI3014()
    {
        var ssh = FakeSsh("This account is currently not available.\\n", "", 0);
        using var client = new DockerEngineClient(EngineEndpoint.Parse("ssh://nobody@h", null, ssh));

        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => client.InspectImageAsync("x", CancellationToken.None));

        Assert.Equal(DiagnosticCodes.EngineSshFailed, ex.Code);
        // Whether ssh has ended before the request is written or after: what it printed is in the message.
        Assert.Contains("This account is currently not available", ex.Message);
    }

    // ---- TLS from the environment -----------------------------------------------------------------------------

    [Fact]
    public void TlsVerify_UsesTheCertPathsFiles_AndHttps()
    {
        var certs = CertDirectory("ca.pem", "cert.pem", "key.pem");

        var endpoint = EngineEndpoint.Resolve(null, Environment(("DOCKER_HOST", "tcp://10.0.0.5:2376"), ("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", certs)));

        Assert.Equal("https", endpoint.TcpBase!.Scheme);
        Assert.Equal(new EngineTls(true, Path.Combine(certs, "ca.pem"), Path.Combine(certs, "cert.pem"), Path.Combine(certs, "key.pem"), certs, "DOCKER_CERT_PATH=" + certs), endpoint.Tls);
        Assert.Equal("tcp://10.0.0.5:2376", endpoint.Display);
    }

    [Fact]
    public void TlsVerify_AnyValue_Verifies_DockerTlsAlone_DoesNot_AndNeitherIsPlainTcp()
    {
        var certs = CertDirectory("ca.pem");
        // The docker CLI tests DOCKER_TLS_VERIFY for being set, not for its value.
        Assert.True(EngineEndpoint.Resolve(null, Environment(("DOCKER_HOST", "tcp://h:1"), ("DOCKER_TLS_VERIFY", "0"), ("DOCKER_CERT_PATH", certs))).Tls!.Verify);
        Assert.False(EngineEndpoint.Resolve(null, Environment(("DOCKER_HOST", "tcp://h:1"), ("DOCKER_TLS", "1"), ("DOCKER_CERT_PATH", certs))).Tls!.Verify);
        var plain = EngineEndpoint.Resolve(null, Environment(("DOCKER_HOST", "tcp://h:1"), ("DOCKER_CERT_PATH", certs)));
        Assert.Null(plain.Tls);
        Assert.Equal("http", plain.TcpBase!.Scheme);
    }

    [Fact]
    public void TlsVerify_WithoutCertPath_ReadsTheDockerConfigFolder_AndOnlyFilesThatExist()
    {
        File.WriteAllText(Path.Combine(_config, "ca.pem"), "x");

        var tls = EngineEndpoint.Resolve("tcp://h:2376", Environment(("DOCKER_TLS_VERIFY", "1"))).Tls!;

        Assert.Equal(Path.Combine(_config, "ca.pem"), tls.CaFile);
        Assert.Null(tls.CertFile);
        Assert.Null(tls.KeyFile);
        Assert.Equal(_config, tls.CertDirectory);
    }

    [Fact]
    public void TlsOnAUnixSocket_IsIgnored_AsByTheDockerCli()
    {
        var endpoint = EngineEndpoint.Resolve("unix:///x.sock", Environment(("DOCKER_TLS_VERIFY", "1")));

        Assert.Null(endpoint.Tls);
        Assert.Equal("/x.sock", endpoint.SocketPath);
    }

    [Fact]
    public void CertPath_ThatDoesNotExist_OrHoldsNoneOfTheFiles_IsMODWSGI3011()
    {
        var missing = Path.Combine(_config, "nope");
        var ex = Assert.Throws<ModWsgiException>(() => EngineEndpoint.Resolve(null, Environment(("DOCKER_HOST", "tcp://h:2376"), ("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", missing))));
        Assert.Equal(DiagnosticCodes.EngineTlsFilesInvalid, ex.Code);
        Assert.Contains(missing, ex.Message);

        var empty = CertDirectory();
        ex = Assert.Throws<ModWsgiException>(() => EngineEndpoint.Resolve(null, Environment(("DOCKER_HOST", "tcp://h:2376"), ("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", empty))));
        Assert.Equal(3011, ex.Code.Number);
        Assert.Contains("ca.pem, cert.pem, key.pem", ex.Message);
    }

    [Fact]
    public async Task CertWithoutKey_IsMODWSGI3011AtTheFirstRequest_NamingTheFolder()
    {
        var certs = CertDirectory("ca.pem", "cert.pem");
        using var client = new DockerEngineClient(EngineEndpoint.Resolve(null, Environment(("DOCKER_HOST", "tcp://127.0.0.1:1"), ("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", certs))));

        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => client.InspectImageAsync("x", CancellationToken.None));

        Assert.Equal(DiagnosticCodes.EngineTlsFilesInvalid, ex.Code);
        Assert.Contains("cert.pem but no key.pem", ex.Message);
        Assert.Contains(certs, ex.Message);
    }

    [Fact]
    public async Task UnreadableCertificates_AreMODWSGI3011()
    {
        var certs = CertDirectory("ca.pem", "cert.pem", "key.pem");
        using var client = new DockerEngineClient(EngineEndpoint.Resolve(null, Environment(("DOCKER_HOST", "tcp://127.0.0.1:1"), ("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", certs))));

        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => client.InspectImageAsync("x", CancellationToken.None));

        Assert.Equal(DiagnosticCodes.EngineTlsFilesInvalid, ex.Code);
        Assert.Contains(Path.Combine(certs, "cert.pem"), ex.Message);
        Assert.DoesNotContain("   at ", ex.Message);
    }

    // ---- docker contexts --------------------------------------------------------------------------------------

    private void WriteContext(string name, string metaJson, params string[] tlsFiles)
    {
        var id = DockerContexts.DirectoryName(name);
        var meta = Directory.CreateDirectory(Path.Combine(_config, "contexts", "meta", id)).FullName;
        File.WriteAllText(Path.Combine(meta, "meta.json"), metaJson);
        if (tlsFiles.Length == 0)
            return;
        var tls = Directory.CreateDirectory(Path.Combine(_config, "contexts", "tls", id, "docker")).FullName;
        foreach (var file in tlsFiles)
            File.WriteAllText(Path.Combine(tls, file), "x");
    }

    [Fact]
    public void ContextDirectory_IsTheSha256OfTheName()
    {
        // echo -n default | sha256sum
        Assert.Equal("37a8eec1ce19687d132fe29051dca629d164e2c4958ba141d5f4133a33f0688f", DockerContexts.DirectoryName("default"));
    }

    [Fact]
    public void DockerContext_Variable_ThenCurrentContext_ThenTheDefaultSocket()
    {
        WriteContext("remote", """{"Name":"remote","Metadata":{},"Endpoints":{"docker":{"Host":"tcp://10.1.2.3:2375","SkipTLSVerify":false}}}""");
        WriteContext("other", """{"Name":"other","Metadata":{},"Endpoints":{"docker":{"Host":"unix:///other.sock","SkipTLSVerify":false}}}""");

        Assert.Equal(EngineEndpoint.DefaultSocket, EngineEndpoint.Resolve(null, Environment()).SocketPath);

        File.WriteAllText(Path.Combine(_config, "config.json"), """{"auths":{},"currentContext":"other"}""");
        Assert.Equal("/other.sock", EngineEndpoint.Resolve(null, Environment()).SocketPath);

        var fromVariable = EngineEndpoint.Resolve(null, Environment(("DOCKER_CONTEXT", "remote")));
        Assert.Equal(new Uri("http://10.1.2.3:2375/"), fromVariable.TcpBase);
        Assert.Null(fromVariable.Tls);
        Assert.Equal("tcp://10.1.2.3:2375 (docker context 'remote')", fromVariable.Display);

        Assert.Equal(EngineEndpoint.DefaultSocket, EngineEndpoint.Resolve(null, Environment(("DOCKER_CONTEXT", "default"))).SocketPath);
    }

    [Fact]
    public void DockerHost_AndTheProjectsHost_WinOverAContext()
    {
        File.WriteAllText(Path.Combine(_config, "config.json"), """{"currentContext":"nowhere"}""");

        Assert.Equal("/env.sock", EngineEndpoint.Resolve(null, Environment(("DOCKER_HOST", "unix:///env.sock"), ("DOCKER_CONTEXT", "nowhere"))).SocketPath);
        Assert.Equal("/project.sock", EngineEndpoint.ForLocalRegistry(null, "unix:///project.sock", Environment(("DOCKER_CONTEXT", "nowhere"))).SocketPath);
    }

    [Fact]
    public void ContextWithTlsMaterial_VerifiesWithIt_UnlessItSkipsVerification()
    {
        WriteContext("secure", """{"Name":"secure","Metadata":{},"Endpoints":{"docker":{"Host":"tcp://10.1.2.3:2376","SkipTLSVerify":false}}}""", "ca.pem", "cert.pem", "key.pem");
        WriteContext("insecure", """{"Name":"insecure","Metadata":{},"Endpoints":{"docker":{"Host":"tcp://10.1.2.4:2376","SkipTLSVerify":true}}}""");
        var tlsFolder = Path.Combine(_config, "contexts", "tls", DockerContexts.DirectoryName("secure"), "docker");

        var secure = EngineEndpoint.Resolve(null, Environment(("DOCKER_CONTEXT", "secure")));
        Assert.Equal(new EngineTls(true, Path.Combine(tlsFolder, "ca.pem"), Path.Combine(tlsFolder, "cert.pem"), Path.Combine(tlsFolder, "key.pem"), tlsFolder, "docker context 'secure'"), secure.Tls);
        Assert.Equal("https", secure.TcpBase!.Scheme);

        var insecure = EngineEndpoint.Resolve(null, Environment(("DOCKER_CONTEXT", "insecure")));
        Assert.False(insecure.Tls!.Verify);
        Assert.Null(insecure.Tls.CaFile);
    }

    [Fact]
    public void UnknownContext_IsMODWSGI3013NamingItAndWhereItCameFrom()
    {
        var ex = Assert.Throws<ModWsgiException>(() => EngineEndpoint.Resolve(null, Environment(("DOCKER_CONTEXT", "staging"))));
        Assert.Equal(DiagnosticCodes.DockerContextInvalid, ex.Code);
        Assert.Contains("'staging'", ex.Message);
        Assert.Contains("DOCKER_CONTEXT", ex.Message);
        Assert.Contains("docker context ls", ex.Message);

        File.WriteAllText(Path.Combine(_config, "config.json"), """{"currentContext":"prod"}""");
        ex = Assert.Throws<ModWsgiException>(() => EngineEndpoint.Resolve(null, Environment()));
        Assert.Equal(3013, ex.Code.Number);
        Assert.Contains("'prod'", ex.Message);
        Assert.Contains(Path.Combine(_config, "config.json"), ex.Message);
    }

    [Fact]
    public void BrokenContextFiles_AreCodedErrors()
    {
        WriteContext("broken", "{not json");
        WriteContext("hostless", """{"Name":"hostless","Endpoints":{}}""");
        WriteContext("weird", """{"Name":"weird","Endpoints":{"docker":{"Host":"npipe:////./pipe/x"}}}""");

        Assert.Equal(DiagnosticCodes.DockerContextInvalid, Assert.Throws<ModWsgiException>(() => EngineEndpoint.Resolve(null, Environment(("DOCKER_CONTEXT", "broken")))).Code);
        Assert.Contains("no docker endpoint host", Assert.Throws<ModWsgiException>(() => EngineEndpoint.Resolve(null, Environment(("DOCKER_CONTEXT", "hostless")))).Message);
        Assert.Contains("npipe:", Assert.Throws<ModWsgiException>(() => EngineEndpoint.Resolve(null, Environment(("DOCKER_CONTEXT", "weird")))).Message);

        File.WriteAllText(Path.Combine(_config, "config.json"), "{broken");
        Assert.Equal(DiagnosticCodes.DockerConfigInvalid, Assert.Throws<ModWsgiException>(() => EngineEndpoint.Resolve(null, Environment())).Code);
    }
}
