using System.Diagnostics;
using System.Net.Sockets;

namespace ModWsgi.Faults.Tests;

/// <summary>
/// Issue 12's bad-input rows, each a real `dotnet build -t:PublishImage` on the fault engine: the build ends in the coded
/// error (or a warning and a sane image), in seconds, with no container left on the engine and the folder as it was.
/// </summary>
[Collection(FaultsCollection.Name)]
public sealed class BadInputFaultTests(SdkFixture sdk, FaultEngine engine) : IDisposable
{
    private readonly TempDirectory _project = new("modwsgi-fault-input");
    private readonly string _image = $"fault-input-{Guid.NewGuid():N}"[..24];

    private string WriteProject(string wsgi = "def application(environ, start_response):\n    start_response('200 OK', [])\n    return [b'ok']\n")
    {
        _project.Write("wsgi.py", wsgi);
        return sdk.WriteProject(_project.Path, "input");
    }

    private static void Bash(string script, string directory)
    {
        var result = Run.Process("bash", ["-c", script], directory);
        Assert.True(result.ExitCode == 0, script + "\n" + result.Output);
    }

    /// <summary>Every path in the project folder but restore's obj/ (and bin/), sorted.</summary>
    private string[] Listing() => Run.Process("find", [".", "(", "-path", "./obj", "-o", "-path", "./bin", ")", "-prune", "-o", "-print"], _project.Path)
        .StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal).ToArray();

    /// <summary>The build fails with CODE, fast, and leaves nothing: no container, no image, the folder unchanged (bar obj/).</summary>
    private string FailsWith(string code, string project)
    {
        var before = Listing();
        var stopwatch = Stopwatch.StartNew();
        var build = sdk.PublishImage(project, engine.BuildEnvironment, "ContainerRepository=" + _image);
        stopwatch.Stop();
        Assert.True(build.ExitCode != 0, "the build should have failed:\n" + build.Output);
        Assert.Contains(code, build.Output);
        Assert.DoesNotContain("   at ModWsgi.", build.Output); // a coded message, never a stack trace
        Assert.True(stopwatch.Elapsed < TimeSpan.FromMinutes(2), $"the refusal took {stopwatch.Elapsed.TotalSeconds:F0} s");
        Assert.Empty(engine.Containers());
        Assert.NotEqual(0, engine.Docker("image", "inspect", _image + ":latest").ExitCode);
        Assert.Equal(before, Listing());
        return build.Output;
    }

    [DockerFact]
    public void A_fifo_a_socket_and_a_setuid_file_give_warnings_and_an_image_without_them()
    {
        var project = WriteProject();
        _project.Write("tool.sh", "#!/bin/sh\necho tool\n", (UnixFileMode)0b111_101_101 | UnixFileMode.SetUser);
        Bash("mkfifo pipe", _project.Path);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(Path.Combine(_project.Path, "dev.sock")));

        var stopwatch = Stopwatch.StartNew();
        var build = sdk.PublishImage(project, engine.BuildEnvironment, "ContainerRepository=" + _image);
        Assert.True(build.ExitCode == 0, "the build failed (a FIFO used to hang it):\n" + build.Output);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromMinutes(5));
        Assert.Contains("MODWSGI2070", build.Output);
        Assert.Contains("MODWSGI2075", build.Output);

        var listing = engine.DockerOk("run", "--rm", "--entrypoint", "sh", _image, "-c", "ls -A /app; stat -c %a /app/tool.sh");
        Assert.DoesNotContain("pipe", listing);
        Assert.DoesNotContain("dev.sock", listing);
        Assert.EndsWith("775", listing); // 4755 on disk: the setuid bit dropped, group 0 given the owner's rights (any UID)
        Assert.Empty(engine.Containers());
        // No temp file beside the pipe, as a hung read once left.
        Assert.Equal(["dev.sock", "input.proj", "nuget.config", "pipe", "tool.sh", "wsgi.py"],
            Directory.GetFileSystemEntries(_project.Path).Select(Path.GetFileName).Where(n => n is not ("bin" or "obj")).Order(StringComparer.Ordinal));
    }

    [DockerFact]
    public void A_file_name_that_is_not_utf8_is_refused_by_name()
    {
        var project = WriteProject();
        Bash("touch \"caf$(printf '\\351').txt\"", _project.Path);
        try
        {
            Assert.Contains("caf", FailsWith("MODWSGI2071", project));
        }
        finally
        {
            Bash("rm -f caf*.txt", _project.Path); // .NET cannot remove what it cannot name
        }
    }

    [DockerTheory]
    [InlineData("-r /dev/zero\n", "MODWSGI2002")]
    [InlineData("-r ../common.txt\n", "MODWSGI2002")]
    [InlineData("-r pipe.txt\n", "MODWSGI2072")]
    public void A_requirements_file_the_build_cannot_send_is_refused(string requirements, string code)
    {
        var project = WriteProject();
        _project.Write("requirements.txt", requirements);
        Bash("mkfifo pipe.txt", _project.Path);

        FailsWith(code, project);
    }

    [DockerFact]
    public void A_dockerignore_of_everything_is_refused_instead_of_an_empty_app()
    {
        var project = WriteProject();
        _project.Write("requirements.txt", "Flask\n");
        _project.Write(".dockerignore", "*\n");

        Assert.Contains("'wsgi.py'", FailsWith("MODWSGI2073", project));
    }

    [DockerFact]
    public void A_pre_build_hook_with_crlf_line_endings_gets_the_hint()
    {
        var project = WriteProject();
        _project.Write(".docker/action_hooks/pre-build", "#!/bin/sh\r\necho hi\r\n", (UnixFileMode)0b111_101_101);

        Assert.Contains("eol=lf", FailsWith("MODWSGI2074", project));
    }

    public void Dispose()
    {
        engine.Docker("rmi", "-f", _image + ":latest");
        _project.Dispose();
    }
}
