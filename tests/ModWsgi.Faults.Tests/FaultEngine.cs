namespace ModWsgi.Faults.Tests;

/// <summary>
/// The fault suite's own engine: a <see cref="PrivateEngine"/> on a unix socket with the base image loaded from the
/// host engine. Tests kill and restart it, fill its disks and break its caches; the host engine never sees a fault.
/// One per run (a collection fixture): starting it and loading the base takes about 15 s.
/// </summary>
public sealed class FaultEngine : IDisposable
{
    public const string BaseImage = "modwsgi/base:bookworm";
    private readonly PrivateEngine _engine;

    public FaultEngine()
    {
        var id = Guid.NewGuid().ToString("N")[..8];
        var work = Directory.CreateDirectory("/var/tmp/modwsgi-fault-" + id).FullName;
        Socket = Path.Combine(work, "docker.sock");
        var octet = Random.Shared.Next(1, 250);
        Gateway = $"10.228.{octet}.1";
        _engine = new PrivateEngine(work, "mwfault" + id[..6], Gateway + "/24", ["-H", Host], Docker);
        try
        {
            // The base streamed from the host engine (no registry can be pulled from here).
            var load = Run.Process("bash", ["-c", $"set -o pipefail; docker -H unix:///var/run/docker.sock save {BaseImage} | docker -H {Host} load"],
                timeout: TimeSpan.FromMinutes(5));
            Assert.True(load.ExitCode == 0, $"loading {BaseImage} from the host engine into the fault engine failed:\n{load.Output}");
        }
        catch
        {
            _engine.Dispose();
            throw;
        }
    }

    public string Socket { get; }

    public string Host => "unix://" + Socket;

    /// <summary>The engine's bridge address: what its build containers reach the host at (a package index, e.g.).</summary>
    public string Gateway { get; }

    /// <summary>Its folder: containerd's and dockerd's roots and logs.</summary>
    public string Work => _engine.Work;

    /// <summary>The environment a build needs to use this engine (the host engine's DOCKER_HOST is replaced).</summary>
    public IReadOnlyDictionary<string, string?> BuildEnvironment => new Dictionary<string, string?>
    {
        ["DOCKER_HOST"] = Host, ["DOCKER_CONTEXT"] = null, ["DOCKER_TLS_VERIFY"] = null, ["DOCKER_CERT_PATH"] = null,
    };

    /// <summary>The docker CLI against this engine.</summary>
    public ProcessResult Docker(params string[] args) => Run.Process("docker", ["-H", Host, .. args],
        env: new Dictionary<string, string?> { ["DOCKER_CONTEXT"] = null, ["DOCKER_HOST"] = null }, timeout: TimeSpan.FromMinutes(2));

    public string DockerOk(params string[] args)
    {
        var result = Docker(args);
        Assert.True(result.ExitCode == 0, $"docker {string.Join(' ', args)} (fault engine) failed ({result.ExitCode}):\n{result.Output}");
        return result.StdOut.Trim();
    }

    /// <summary>SIGKILL to the engine's dockerd; containerd and the containers' shims live on.</summary>
    public void Kill() => _engine.Kill();

    /// <summary>dockerd again on the same roots (after <see cref="Kill"/>), waiting until it answers.</summary>
    public void Restart() => _engine.Start();

    /// <summary>Containers on the engine (all states), one id per line, for leftover checks.</summary>
    public IReadOnlyList<string> Containers() =>
        DockerOk("ps", "-aq", "--no-trunc").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public void Dispose() => _engine.Dispose();
}

[CollectionDefinition(Name)]
public sealed class FaultsCollection : ICollectionFixture<SdkFixture>, ICollectionFixture<FaultEngine>
{
    // One collection: the faults share one engine of their own and two cores, so they run one at a time.
    public const string Name = "faults";
}
