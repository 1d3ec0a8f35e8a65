using System.Net.Sockets;
using ModWsgi.Cli.BuildServer;

namespace ModWsgi.Cli.Tests;

/// <summary>
/// The build server trusts only this user: client and server refuse a socket folder that another user owns
/// or can write in (or a symlink), and each refuses a peer process of another uid. The other user is uid 65534
/// (nobody), made with chown and setuid, so these tests need root.
/// </summary>
public sealed class BuildServerTrustTests : IDisposable
{
    private const uint Nobody = 65534;
    private readonly TempDirectory _root = new("modwsgi-trust");

    private string Folder => Path.Combine(_root.Path, "modwsgi");

    private BuildServerEndpoint Endpoint => new(Path.Combine(Folder, "build-server-test.sock"));

    /// <summary>The socket folder as another local user could leave it, and the finding the message must name.</summary>
    private string Arrange(string folder)
    {
        switch (folder)
        {
            case "writable by others":
                Directory.CreateDirectory(Folder);
                File.SetUnixFileMode(Folder, (UnixFileMode)0b111_111_111);
                return "group or others can write in it (mode 0777)";
            case "owned by another uid":
                Directory.CreateDirectory(Folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                Chown(Folder, Nobody);
                return $"it is owned by uid {Nobody}, not by you (uid 0)";
            case "a symlink":
                var real = Directory.CreateDirectory(Path.Combine(_root.Path, "real"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                File.CreateSymbolicLink(Folder, real.FullName);
                return "it is a symbolic link";
            default:
                throw new ArgumentOutOfRangeException(nameof(folder));
        }
    }

    [RootTheory]
    [InlineData("writable by others")]
    [InlineData("owned by another uid")]
    [InlineData("a symlink")]
    public async Task The_client_sends_nothing_to_a_socket_in_a_folder_that_is_not_yours_alone(string folder)
    {
        var finding = Arrange(folder);
        // Whoever could write there put a socket in it.
        using var impostor = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        impostor.Bind(new UnixDomainSocketEndPoint(Endpoint.SocketPath));
        impostor.Listen(1);
        var error = new StringWriter();

        var served = await TryRunAsync(error);

        Assert.Null(served);
        Assert.False(impostor.Poll(200_000, SelectMode.SelectRead), "the client connected to the socket in an untrusted folder");
        Assert.Contains($"warning MODWSGI4003: Not using the build server in {Folder}: {finding}", error.ToString());
        Assert.Contains("This build runs in-process instead.", error.ToString());
        Assert.Contains($"rm -rf '{Folder}'", error.ToString());
        Assert.False(BuildServerClient.ShouldStart(Endpoint));
    }

    [Fact]
    public void The_tool_builds_in_process_and_starts_no_server_when_the_folder_is_writable_by_others()
    {
        Arrange("writable by others");
        var env = new Dictionary<string, string?> { ["XDG_RUNTIME_DIR"] = _root.Path, ["MODWSGI_BUILD_SERVER"] = "1", ["CI"] = null };

        var build = ModWsgiTool.Run(env, _root.Path, "build", "missing-app");

        Assert.Equal(1, build.ExitCode);
        Assert.Contains("MODWSGI2001", build.StdErr); // the in-process build's own error
        Assert.Contains($"warning MODWSGI4003: Not using the build server in {Folder}: group or others can write in it (mode 0777)", build.StdErr);
        Thread.Sleep(1500); // a server started anyway would have made its socket by now
        Assert.Empty(Directory.GetFileSystemEntries(Folder));
    }

    [RootTheory]
    [InlineData("writable by others")]
    [InlineData("owned by another uid")]
    [InlineData("a symlink")]
    public async Task The_server_does_not_listen_in_a_folder_that_is_not_yours_alone(string folder)
    {
        var finding = Arrange(folder);
        var error = new StringWriter();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        var run = new BuildServerHost(Endpoint, TimeSpan.FromMinutes(1), host => new ModWsgiCli(host), error).RunAsync(stop.Token);
        var exitCode = await run.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(ExitCodes.Failed, exitCode);
        Assert.False(File.Exists(Endpoint.SocketPath), "the server made a socket in an untrusted folder");
        Assert.Contains($"error MODWSGI4003: The build server will not listen in {Folder}: {finding}", error.ToString());
    }

    [RootFact]
    public async Task The_client_sends_nothing_to_a_server_of_another_uid()
    {
        Directory.CreateDirectory(Folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        // A listener that binds in our folder (as root) and then listens as nobody: SO_PEERCRED reports nobody.
        using var listener = Python($$"""
            import os, socket, sys
            s = socket.socket(socket.AF_UNIX)
            s.bind({{Quote(Endpoint.SocketPath)}})
            os.setgroups([]); os.setgid({{Nobody}}); os.setuid({{Nobody}})
            s.listen(1)
            print("listening", flush=True)
            c, _ = s.accept()
            c.settimeout(5)
            data = b""
            try:
                data = c.recv(65536)
            except socket.timeout:
                pass
            print("received", len(data), flush=True)
            """);
        Assert.Equal("listening", await listener.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10)));
        var error = new StringWriter();

        var served = await TryRunAsync(error);

        Assert.Null(served);
        Assert.Equal("received 0", await listener.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains($"warning MODWSGI4003: Not using the build server in {Folder}: the process at {Endpoint.SocketPath} runs as uid {Nobody}, not as you (uid 0)",
            error.ToString());
    }

    [RootFact]
    public async Task The_server_drops_a_client_of_another_uid_unanswered()
    {
        // Folders others may enter but not write, and a socket they can reach (as in the moment between the
        // server's bind and its chmod): only the server's peer check keeps them out.
        var searchable = (UnixFileMode)0b111_101_101;
        File.SetUnixFileMode(_root.Path, searchable);
        Directory.CreateDirectory(Folder, searchable);
        var error = new StringWriter();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var run = new BuildServerHost(Endpoint, TimeSpan.FromMinutes(1), host => new ModWsgiCli(host), error).RunAsync(stop.Token);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!File.Exists(Endpoint.SocketPath) && DateTime.UtcNow < deadline)
            await Task.Delay(50);
        File.SetUnixFileMode(Endpoint.SocketPath, (UnixFileMode)0b110_110_110);

        // As nobody: ask the server to shut down, which it answers ({"exit":0}) for a client it serves.
        using var stranger = Python($$"""
            import os, socket
            os.setgroups([]); os.setgid({{Nobody}}); os.setuid({{Nobody}})
            c = socket.socket(socket.AF_UNIX)
            c.connect({{Quote(Endpoint.SocketPath)}})
            c.settimeout(5)
            try:
                c.sendall(b'{"shutdown":true}\n')
                answer = c.recv(65536)
            except (socket.timeout, ConnectionError) as e:
                answer = b""
            print("answer:", answer.decode().strip() or "none", flush=True)
            """);
        var answer = await stranger.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(15));

        Assert.Equal("answer: none", answer);
        Assert.False(run.IsCompleted, "the server obeyed another user's shutdown");
        // It still serves its own user.
        Assert.True(await BuildServerClient.ShutdownAsync(Endpoint, error), error.ToString());
        Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal("", error.ToString());
    }

    private Task<int?> TryRunAsync(StringWriter error) =>
        BuildServerClient.TryRunAsync(Endpoint, ["build", "app"], new StringWriter(), error, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(15));

    private static string Quote(string text) => "'" + text.Replace("\\", "\\\\").Replace("'", "\\'") + "'";

    private static void Chown(string path, uint uid)
    {
        var chown = Run.Process("chown", [$"{uid}:{uid}", path]);
        Assert.True(chown.ExitCode == 0, chown.Output);
    }

    /// <summary>python3 running <paramref name="script"/>, its stdout read line by line by the test; killed on dispose.</summary>
    private static PythonProcess Python(string script)
    {
        var info = new System.Diagnostics.ProcessStartInfo("python3") { RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(script);
        return new PythonProcess(System.Diagnostics.Process.Start(info)!);
    }

    private sealed class PythonProcess(System.Diagnostics.Process process) : IDisposable
    {
        public StreamReader StandardOutput => process.StandardOutput;

        public void Dispose()
        {
            if (!process.HasExited)
                process.Kill();
            process.Dispose();
        }
    }

    public void Dispose() => _root.Dispose();
}

/// <summary>A test that makes another user's files and processes (chown, setuid): it needs root. Skips loudly otherwise; under CI=true it runs (and fails).</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute() => Skip = RootOnly.SkipReason;
}

/// <inheritdoc cref="RootFactAttribute"/>
public sealed class RootTheoryAttribute : TheoryAttribute
{
    public RootTheoryAttribute() => Skip = RootOnly.SkipReason;
}

internal static class RootOnly
{
    public static string? SkipReason => UnixCredentials.EffectiveUid == 0 || Environments.IsCi
        ? null
        : "SKIPPED: needs root (it chowns a folder to uid 65534 and runs a process as that uid); under CI=true this test runs and fails instead.";
}
