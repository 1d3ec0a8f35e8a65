using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace ModWsgi.Faults.Tests;

/// <summary>
/// Issue 12's cache rows as real `dotnet build -t:PublishImage` runs on the fault engine: a blob damaged on disk
/// (truncated, or a byte changed with its size intact) heals on the next build and never leaves the machine — not
/// into the engine, an archive (skopeo checks every digest) or a registry (which would answer DIGEST_INVALID); a full
/// cache disk is a coded error that leaves no temp file, and a build succeeds once space is freed; two builds of one
/// project at once run pip once. Each build has a cache folder of its own, so the damage is the test's alone.
/// </summary>
[Collection(FaultsCollection.Name)]
public sealed partial class CacheFaultTests(SdkFixture sdk, FaultEngine engine) : IDisposable
{
    private readonly TempDirectory _work = new("modwsgi-fault-cache");
    private readonly string _image = $"fault-cache-{Guid.NewGuid():N}"[..24];
    private string? _mount;

    private string ProjectDirectory => Path.Combine(_work.Path, "site");

    private string Cache => Path.Combine(_work.Path, "cache");

    /// <summary>A site whose requirements pip installs from a fixture index (the dependency layer is a blob of its own).</summary>
    private string WriteProject(PackageIndex? index)
    {
        Directory.CreateDirectory(ProjectDirectory);
        File.WriteAllText(Path.Combine(ProjectDirectory, "wsgi.py"), "def application(environ, start_response):\n    start_response('200 OK', [])\n    return [b'ok']\n");
        File.WriteAllText(Path.Combine(ProjectDirectory, "requirements.txt"), index is null ? "" : "greeting==1.0\n");
        return sdk.WriteProject(ProjectDirectory, "site");
    }

    private static PackageIndex Index() => PackageIndex.Create(("greeting", "1.0", "TEXT = 'from the index'\n"));

    private void EditSource(int n) =>
        File.WriteAllText(Path.Combine(ProjectDirectory, "wsgi.py"), $"def application(environ, start_response):\n    start_response('200 OK', [])\n    return [b'{n}']\n");

    private ProcessResult Build(string project, PackageIndex? index, IReadOnlyDictionary<string, string?>? environment = null, IReadOnlyList<string>? arguments = null,
        params string[] properties)
    {
        var env = new Dictionary<string, string?>(engine.BuildEnvironment);
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
            env[name] = value;
        string[] all = ["ContainerRepository=" + _image, "WsgiCacheDirectory=" + Cache, .. properties];
        if (index is not null)
            all = [.. all, "WsgiPipIndexUrl=" + index.Url, "WsgiPipTrustedHost=" + index.Host];
        return sdk.PublishImage(project, env, arguments ?? [], all);
    }

    private static void Succeeded(ProcessResult build, string what) => Assert.True(build.ExitCode == 0, $"{what} failed:\n{build.Output}");

    /// <summary>The blob the cache's one dependency entry names.</summary>
    private string DependencyBlob()
    {
        var entry = Assert.Single(Directory.GetFiles(Path.Combine(Cache, "deps"), "*.json"));
        var digest = DigestField().Match(File.ReadAllText(entry)).Groups[1].Value;
        Assert.False(string.IsNullOrEmpty(digest), File.ReadAllText(entry));
        return BlobPath(digest);
    }

    private string BlobPath(string hex) => Path.Combine(Cache, "blobs", "sha256", hex);

    private static void Truncate(string blob)
    {
        using var file = new FileStream(blob, FileMode.Open);
        file.SetLength(file.Length / 2);
    }

    /// <summary>One byte changed, the size intact: only a hash tells.</summary>
    private static void FlipAByte(string blob)
    {
        using var file = new FileStream(blob, FileMode.Open, FileAccess.ReadWrite);
        file.Position = file.Length / 2;
        var b = file.ReadByte();
        file.Position = file.Length / 2;
        file.WriteByte((byte)(b ^ 0xff));
    }

    private static bool Intact(string blob) =>
        File.Exists(blob) && Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(blob))) == Path.GetFileName(blob);

    private static int Count(string text, string what) => Regex.Count(text, Regex.Escape(what));

    /// <summary>pip's own line: the requirements were installed by this build.</summary>
    private const string PipInstalled = "Successfully installed greeting";

    private void NothingLeftBehind()
    {
        Assert.Empty(engine.Containers());
        var tmp = Path.Combine(Cache, "tmp");
        Assert.True(!Directory.Exists(tmp) || Directory.GetFiles(tmp).Length == 0, "temp files left: " + string.Join(", ", Directory.Exists(tmp) ? Directory.GetFiles(tmp) : []));
    }

    [DockerFact]
    public void A_truncated_dependency_blob_is_rebuilt_by_the_next_build()
    {
        using var index = Index();
        var project = WriteProject(index);
        Succeeded(Build(project, index), "the first build");
        var blob = DependencyBlob();
        Truncate(blob);
        EditSource(1);
        // So the dependency layer travels to the engine again (a source-only rebuild would leave it out).
        engine.DockerOk("rmi", _image + ":latest");

        var build = Build(project, index);

        Succeeded(build, "the build after the truncation (MODWSGI3003 unexpected EOF, before the fix)");
        Assert.Contains("MODWSGI4010", build.Output);
        Assert.Equal(1, Count(build.Output, PipInstalled));
        Assert.True(Intact(blob), "the rebuilt layer is back under its digest");
        NothingLeftBehind();
    }

    [DockerFact]
    public void An_archive_never_carries_a_damaged_blob_and_the_next_build_heals()
    {
        var project = WriteProject(null);
        var archive = Path.Combine(_work.Path, "out", "site.tar");
        Succeeded(Build(project, null, properties: "ContainerArchiveOutputPath=" + archive), "the first archive build");
        // The largest blob: a base image layer (exported for archives once, then taken from the cache).
        var blob = new DirectoryInfo(Path.Combine(Cache, "blobs", "sha256")).GetFiles().MaxBy(f => f.Length)!.FullName;
        FlipAByte(blob);
        File.Delete(archive);

        var build = Build(project, null, properties: "ContainerArchiveOutputPath=" + archive);

        Succeeded(build, "the archive build after the damage");
        // skopeo reads every blob and checks it against its digest ("Digest did not match" before the fix).
        var copy = Run.Process("skopeo", ["copy", "oci-archive:" + archive, "dir:" + Path.Combine(_work.Path, "copied")], timeout: TimeSpan.FromMinutes(3));
        Assert.True(copy.ExitCode == 0, "skopeo copy of the archive failed:\n" + copy.Output);
        Assert.Contains("MODWSGI4010", build.Output);
        Assert.True(Intact(blob), "the base layer was exported again");
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(archive)!, "*.partial-*"));
        NothingLeftBehind();
    }

    [DockerFact]
    public void A_push_never_sends_a_damaged_blob_and_the_next_build_heals()
    {
        using var index = Index();
        using var registry = LocalRegistry.Start();
        var project = WriteProject(index);
        Succeeded(Build(project, index), "the first build");
        var blob = DependencyBlob();
        FlipAByte(blob);
        var credentials = new Dictionary<string, string?>
        {
            ["DOTNET_CONTAINER_REGISTRY_UNAME"] = registry.Username,
            ["DOTNET_CONTAINER_REGISTRY_PWORD"] = registry.Password,
        };

        var push = Build(project, index, credentials, properties: "ContainerRegistry=" + registry.Host);

        Succeeded(push, "the push after the damage (DIGEST_INVALID, before the fix)");
        Assert.Contains("MODWSGI4010", push.Output);
        Assert.Equal(1, Count(push.Output, PipInstalled)); // rebuilt once
        Assert.True(Intact(blob));
        Assert.DoesNotContain("DIGEST_INVALID", registry.ReadLog(), StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("digest did not match", registry.ReadLog(), StringComparison.OrdinalIgnoreCase);
        var copy = Run.Process("skopeo", ["copy", "--src-tls-verify=false", "--src-creds", $"{registry.Username}:{registry.Password}",
            $"docker://{registry.Host}/{_image}:latest", "dir:" + Path.Combine(_work.Path, "pulled")], timeout: TimeSpan.FromMinutes(3));
        Assert.True(copy.ExitCode == 0, "skopeo copy from the registry failed:\n" + copy.Output);
        NothingLeftBehind();
    }

    [DockerFact]
    public void A_full_cache_disk_is_a_coded_error_leaves_no_temp_file_and_a_build_succeeds_once_space_is_freed()
    {
        var project = WriteProject(null);
        // A 20 MB disk for the cache: the base image's layers (exported for an archive) do not fit.
        Directory.CreateDirectory(Cache);
        Mount("size=20m");
        var archive = Path.Combine(_work.Path, "out", "site.tar");

        var full = Build(project, null, properties: "ContainerArchiveOutputPath=" + archive);

        Assert.True(full.ExitCode != 0, "the build on a full disk should fail:\n" + full.Output);
        Assert.Contains("MODWSGI4011", full.Output);
        Assert.Contains(Cache, full.Output);
        Assert.DoesNotContain("MODWSGI4001", full.Output);
        Assert.DoesNotContain("   at ModWsgi.", full.Output);
        Assert.False(File.Exists(archive));
        NothingLeftBehind();

        var remount = Run.Process("mount", ["-o", "remount,size=1g", Cache]);
        Assert.True(remount.ExitCode == 0, remount.Output);
        var freed = Build(project, null, properties: "ContainerArchiveOutputPath=" + archive);

        Succeeded(freed, "the build once space was freed");
        Assert.True(File.Exists(archive));
        NothingLeftBehind();
    }

    [DockerFact]
    public void Two_builds_of_one_project_at_once_run_pip_once()
    {
        using var index = Index();
        var project = WriteProject(index);
        // Restored first: two restores of one project at once would race on obj/, which is MSBuild's business, not ours.
        var restore = Run.Process("dotnet", ["restore", project, "-nodeReuse:false"], env: new Dictionary<string, string?> { ["NUGET_PACKAGES"] = sdk.PackagesFolder },
            timeout: TimeSpan.FromMinutes(5));
        Assert.True(restore.ExitCode == 0, restore.Output);

        var builds = new[] { 0, 1 }.Select(_ => Task.Run(() => Build(project, index, arguments: ["--no-restore"]))).ToArray();
        Task.WaitAll(builds, TimeSpan.FromMinutes(10));
        var logs = builds.Select(b => b.Result).ToArray();

        foreach (var log in logs)
            Succeeded(log, "one of the two builds");
        Assert.Equal(1, logs.Sum(l => Count(l.Output, PipInstalled)));
        Assert.Single(logs, l => l.Output.Contains("waiting for another build of these dependencies", StringComparison.Ordinal));
        Assert.Single(logs, l => l.Output.Contains("made by the build waited for", StringComparison.Ordinal));
        NothingLeftBehind();
    }

    private void Mount(string options)
    {
        var mount = Run.Process("mount", ["-t", "tmpfs", "-o", options, "modwsgi-fault-cache", Cache]);
        Assert.True(mount.ExitCode == 0, "mount -t tmpfs failed (the fault suite runs as root):\n" + mount.Output);
        _mount = Cache;
    }

    [GeneratedRegex("\"digest\":\"sha256:([0-9a-f]{64})\"")]
    private static partial Regex DigestField();

    public void Dispose()
    {
        engine.Docker("rmi", "-f", _image + ":latest");
        if (_mount is not null)
            Run.Process("umount", [_mount]);
        _work.Dispose();
    }
}
