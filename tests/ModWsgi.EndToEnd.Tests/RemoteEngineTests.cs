using System.Formats.Tar;
using Microsoft.Extensions.Logging.Abstractions;
using System.Security.Cryptography;
using System.Text;
using ModWsgi.Core;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Engine;
using ModWsgi.Core.Pipeline;

namespace ModWsgi.EndToEnd.Tests;

/// <summary>
/// Our Engine API client against a real TLS engine (<see cref="TlsEngine"/>): DOCKER_TLS_VERIFY/DOCKER_CERT_PATH as the
/// docker CLI reads them, a context the real docker CLI created, and the coded errors for each way it goes wrong.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class RemoteEngineTlsTests(TlsEngine engine) : IClassFixture<TlsEngine>
{
    private static BuildEnvironment Environment(params (string Name, string? Value)[] variables) =>
        BuildEnvironment.From(name => variables.FirstOrDefault(v => v.Name == name).Value);

    private DockerEngineClient Client(string host, params (string Name, string? Value)[] variables) =>
        new(EngineEndpoint.Resolve(null, Environment([("DOCKER_HOST", host), ("HOME", engine.Work), .. variables])));

    [DockerFact]
    public async Task TlsVerify_WithTheEnginesCaAndAClientCertificate_LoadsAndInspectsAnImage()
    {
        using var client = Client(engine.Host, ("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", engine.ClientCerts));
        Assert.Equal("https", client.Endpoint.TcpBase!.Scheme);
        var (archive, imageId) = TinyImage("remote-tls/hello:1");

        await client.LoadImageAsync(archive, CancellationToken.None);
        var inspected = await client.InspectImageAsync("remote-tls/hello:1", CancellationToken.None);

        Assert.NotNull(inspected);
        Assert.Equal(imageId, inspected["Id"]!.GetValue<string>());
        // The docker CLI, with the same certificates, sees the same image on that engine.
        Assert.Equal(imageId, engine.Docker("image", "inspect", "-f", "{{.Id}}", "remote-tls/hello:1").StdOut.Trim());
    }

    [DockerFact]
    public async Task AWholeBuild_OverTls_PutsARunnableImageIntoThatEngine()
    {
        var environment = BuildEnvironment.From(new Dictionary<string, string?>
        {
            ["HOME"] = engine.Work,
            ["DOCKER_HOST"] = engine.Host,
            ["DOCKER_TLS_VERIFY"] = "1",
            ["DOCKER_CERT_PATH"] = engine.ClientCerts,
        }.GetValueOrDefault);
        using var client = new DockerEngineClient(EngineEndpoint.ForLocalRegistry(null, null, environment));
        // The base image, streamed from the host engine's socket into the TLS engine.
        using (var host = new DockerEngineClient(EngineEndpoint.Parse(null)))
        await using (var baseImage = await host.SaveImageAsync("modwsgi/base:bookworm", CancellationToken.None))
            await client.LoadImageAsync(baseImage, CancellationToken.None);
        using var work = new TempDirectory("modwsgi-remote-tls-build");
        work.Write("app/wsgi.py", "def application(environ, start_response):\n    start_response('200 OK', [])\n    return [b'over tls']\n");
        var options = new ProjectSettings { ContainerRepository = "remote-tls/app", WsgiCacheDirectory = Path.Combine(work.Path, "cache") }
            .ToOptions(Path.Combine(work.Path, "app"), Path.Combine(RepositoryRootAttribute.Get(), "sdk/ModWsgi.Sdk/runtime"), null);

        var result = await new ImagePipeline(client, NullLogger.Instance).PublishAsync(options, environment, CancellationToken.None);

        Assert.Equal(["remote-tls/app:latest"], result.Images);
        Assert.Equal(result.ImageId, engine.Docker("image", "inspect", "-f", "{{.Id}}", "remote-tls/app:latest").StdOut.Trim());
        var run = engine.Docker("run", "--rm", "--entrypoint", "python3", "remote-tls/app:latest", "-c",
            "import sys; sys.path.insert(0, '/app'); import wsgi; print(wsgi.application({}, lambda *a: None)[0].decode())");
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Equal("over tls", run.StdOut.Trim());
    }

    [DockerFact]
    public async Task ContextCreatedByTheDockerCli_IsReadAsTheCliReadsIt_AndReachesTheEngineOverTls()
    {
        var config = Path.Combine(engine.Work, "docker-config-" + Guid.NewGuid().ToString("N")[..8]);
        var cli = new Dictionary<string, string?> { ["DOCKER_CONFIG"] = config, ["DOCKER_HOST"] = null, ["DOCKER_CONTEXT"] = null };
        var certs = engine.ClientCerts;
        var create = Run.Process("docker", ["context", "create", "remote-tls", "--docker",
            $"host={engine.Host},ca={certs}/ca.pem,cert={certs}/cert.pem,key={certs}/key.pem"], env: cli);
        Assert.True(create.ExitCode == 0, create.Output);
        Assert.Equal(0, Run.Process("docker", ["context", "use", "remote-tls"], env: cli).ExitCode);
        var cliHost = Run.Process("docker", ["context", "inspect", "remote-tls", "-f", "{{.Endpoints.docker.Host}}"], env: cli).StdOut.Trim();
        var cliVersion = Run.Process("docker", ["version", "-f", "{{.Server.Version}}"], env: cli);
        Assert.True(cliVersion.ExitCode == 0, "the docker CLI could not use its own context: " + cliVersion.Output);

        // currentContext in config.json, as `docker context use` wrote it; no DOCKER_HOST.
        var endpoint = EngineEndpoint.Resolve(null, Environment(("DOCKER_CONFIG", config)));

        Assert.Equal(engine.Host, cliHost);
        Assert.Equal(new Uri($"https://127.0.0.1:{engine.Port}/"), endpoint.TcpBase);
        Assert.True(endpoint.Tls!.Verify);
        Assert.StartsWith(Path.Combine(config, "contexts", "tls", DockerContexts.DirectoryName("remote-tls")), endpoint.Tls.CaFile);
        Assert.NotNull(endpoint.Tls.CertFile);
        Assert.Contains("docker context 'remote-tls'", endpoint.Display);
        using var client = new DockerEngineClient(endpoint);
        Assert.Null(await client.InspectImageAsync("remote-tls/absent:1", CancellationToken.None)); // a 404 answered over TLS
    }

    [DockerFact]
    public async Task AnotherCa_IsMODWSGI3010_SayingTheEngineIsNotTrusted_AndWhichCaWasUsed()
    {
        using var client = Client(engine.Host, ("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", engine.WrongCaCerts));

        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => client.InspectImageAsync("x", CancellationToken.None));

        Assert.Equal(DiagnosticCodes.EngineTlsFailed, ex.Code);
        Assert.Contains(engine.Host, ex.Message);
        Assert.Contains("not signed by a trusted CA", ex.Message);
        Assert.Contains(Path.Combine(engine.WrongCaCerts, "ca.pem"), ex.Message);
        Assert.DoesNotContain("   at ", ex.Message);
    }

    [DockerFact]
    public async Task ANameTheCertificateDoesNotList_IsMODWSGI3010NamingIt()
    {
        using var client = Client($"tcp://localhost:{engine.Port}", ("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", engine.ClientCerts));

        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => client.InspectImageAsync("x", CancellationToken.None));

        Assert.Equal(3010, ex.Code.Number);
        Assert.Contains("does not name localhost", ex.Message);
        Assert.Contains("subjectAltName", ex.Message);
    }

    [DockerFact]
    public async Task NoClientCertificate_IsMODWSGI3010SayingNoneWasGiven()
    {
        using var client = Client(engine.Host, ("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", engine.NoClientCerts));

        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => client.InspectImageAsync("x", CancellationToken.None));

        Assert.Equal(DiagnosticCodes.EngineTlsFailed, ex.Code);
        Assert.Contains(engine.Host, ex.Message);
        Assert.Contains("no client certificate was given", ex.Message);
        Assert.Contains(engine.NoClientCerts, ex.Message);
    }

    [DockerFact]
    public async Task PlainHttpToTheTlsPort_IsMODWSGI3012SayingToSetDockerTlsVerify()
    {
        using var client = Client(engine.Host);

        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => client.InspectImageAsync("x", CancellationToken.None));

        Assert.Equal(DiagnosticCodes.EngineExpectsTls, ex.Code);
        Assert.Contains(engine.Host, ex.Message);
        Assert.Contains("DOCKER_TLS_VERIFY=1", ex.Message);
    }

    [DockerFact]
    public async Task DockerTlsWithoutVerify_AcceptsAnyEngineCertificate_ButStillSendsTheClientOne()
    {
        // wrong-ca holds another CA: with verification this fails (above); DOCKER_TLS alone does not check the engine.
        using var client = Client(engine.Host, ("DOCKER_TLS", "1"), ("DOCKER_CERT_PATH", engine.WrongCaCerts));

        Assert.False(client.Endpoint.Tls!.Verify);
        Assert.Null(await client.InspectImageAsync("remote-tls/absent:1", CancellationToken.None));
    }

    /// <summary>A docker-archive of one layer with one file, and the image id the engine will give it (its config's digest).</summary>
    private static (MemoryStream Archive, string ImageId) TinyImage(string tag)
    {
        var layer = new MemoryStream();
        using (var writer = new TarWriter(layer, TarEntryFormat.Pax, leaveOpen: true))
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "hello.txt")
            {
                DataStream = new MemoryStream("hello over TLS\n"u8.ToArray()),
                ModificationTime = DateTimeOffset.UnixEpoch,
            });
        var diffId = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(layer.ToArray()));
        var config = Encoding.UTF8.GetBytes($$$"""{"architecture":"amd64","os":"linux","config":{"Cmd":["cat","/hello.txt"]},"rootfs":{"type":"layers","diff_ids":["{{{diffId}}}"]}}""");
        var configHex = Convert.ToHexStringLower(SHA256.HashData(config));
        var manifest = Encoding.UTF8.GetBytes($$"""[{"Config":"{{configHex}}.json","RepoTags":["{{tag}}"],"Layers":["layer.tar"]}]""");
        var archive = new MemoryStream();
        using (var writer = new TarWriter(archive, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var (name, bytes) in new[] { ($"{configHex}.json", config), ("layer.tar", layer.ToArray()), ("manifest.json", manifest) })
                writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(bytes), ModificationTime = DateTimeOffset.UnixEpoch });
        }
        archive.Position = 0;
        return (archive, "sha256:" + configHex);
    }
}

/// <summary>
/// Our client over <c>DOCKER_HOST=ssh://…</c> against a real sshd (<see cref="SshEngine"/>) in front of the host engine:
/// the real ssh runs <c>docker system dial-stdio</c> there, as the docker CLI does.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class RemoteEngineSshTests(SshEngine sshd) : IClassFixture<SshEngine>
{
    private DockerEngineClient Client(string host, string searchPath) =>
        new(EngineEndpoint.Resolve(null, BuildEnvironment.From(name => name switch
        {
            "DOCKER_HOST" => host,
            "PATH" => searchPath,
            "HOME" => sshd.Work,
            _ => null,
        })));

    [DockerFact]
    public async Task Ssh_ReachesTheEngineBehindIt_AndAnswersAsTheSocketDoes()
    {
        using var client = Client(sshd.Host, sshd.SearchPath);
        Assert.Equal(Path.Combine(sshd.Work, "good", "ssh"), client.Endpoint.Ssh!.Program);

        var inspected = await client.InspectImageAsync("modwsgi/base:bookworm", CancellationToken.None);
        var history = await client.GetImageHistoryAsync("modwsgi/base:bookworm", CancellationToken.None);
        var absent = await client.InspectImageAsync("remote-ssh/absent:1", CancellationToken.None);

        Assert.NotNull(inspected);
        Assert.Equal(Run.DockerOk("image", "inspect", "-f", "{{.Id}}", "modwsgi/base:bookworm"), inspected["Id"]!.GetValue<string>());
        Assert.Equal(Run.DockerOk("image", "history", "-q", "--no-trunc", "modwsgi/base:bookworm").Split('\n').Length, history.Count);
        Assert.Null(absent);
    }

    [DockerFact]
    public async Task AWholeBuild_OverSsh_PutsTheImageIntoTheEngineBehindIt()
    {
        // Every Engine API call a build makes (containers, archive copies, streamed exec output, changes, save, load)
        // goes through ssh's dial-stdio.
        using var work = new TempDirectory("modwsgi-remote-ssh-build");
        work.Write("app/wsgi.py", "def application(environ, start_response):\n    start_response('200 OK', [])\n    return [b'over ssh']\n");
        var repository = "remote-ssh/hello-" + Guid.NewGuid().ToString("N")[..8];
        var options = new ProjectSettings { ContainerRepository = repository, WsgiCacheDirectory = Path.Combine(work.Path, "cache") }
            .ToOptions(Path.Combine(work.Path, "app"), Path.Combine(RepositoryRootAttribute.Get(), "sdk/ModWsgi.Sdk/runtime"), null);
        var environment = BuildEnvironment.From(new Dictionary<string, string?>
        {
            ["HOME"] = work.Path,
            ["DOCKER_HOST"] = sshd.Host,
            ["PATH"] = sshd.SearchPath,
        }.GetValueOrDefault);
        using var engine = new DockerEngineClient(EngineEndpoint.ForLocalRegistry(null, null, environment));
        Assert.NotNull(engine.Endpoint.Ssh);
        try
        {
            var result = await new ImagePipeline(engine, NullLogger.Instance).PublishAsync(options, environment, CancellationToken.None);

            Assert.Equal([$"{repository}:latest"], result.Images);
            Assert.Equal(result.ImageId, Run.DockerOk("image", "inspect", "-f", "{{.Id}}", $"{repository}:latest"));
            Assert.Equal("over ssh", Run.DockerOk("run", "--rm", "--entrypoint", "python3", $"{repository}:latest", "-c",
                "import sys; sys.path.insert(0, '/app'); import wsgi; print(wsgi.application({}, lambda *a: None)[0].decode())"));
        }
        finally
        {
            Run.Docker("image", "rm", "-f", $"{repository}:latest");
        }
    }

    [DockerFact]
    public async Task APortNothingListensOn_IsMODWSGI3014WithSshsOwnReason()
    {
        using var client = Client("ssh://root@127.0.0.1:1", sshd.SearchPath);

        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => client.InspectImageAsync("x", CancellationToken.None));

        Assert.Equal(DiagnosticCodes.EngineSshFailed, ex.Code);
        Assert.Contains("ssh://root@127.0.0.1:1", ex.Message);
        Assert.Contains("Connection refused", ex.Message);
        Assert.Contains("docker system dial-stdio", ex.Message);
        Assert.DoesNotContain("   at ", ex.Message);
    }

    [DockerFact]
    public async Task AKeyTheHostRefuses_IsMODWSGI3014SayingPermissionDenied()
    {
        using var client = Client(sshd.Host, sshd.UnknownKeySearchPath);

        var ex = await Assert.ThrowsAsync<ModWsgiException>(() => client.InspectImageAsync("x", CancellationToken.None));

        Assert.Equal(3014, ex.Code.Number);
        Assert.Contains(sshd.Host, ex.Message);
        Assert.Contains("Permission denied", ex.Message);
    }
}
