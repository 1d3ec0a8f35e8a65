using System.Formats.Tar;
using System.IO.Compression;
using System.Net.Sockets;
using ModWsgi.Core.Cache;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Engine;
using ModWsgi.Core.Layers;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Pipeline;
using ModWsgi.Core.Project;
using ModWsgi.Core.Python;
using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Tests;

/// <summary>
/// Issue 12 item 5: what a project folder may hold that is not an ordinary file or an ordinary reference gets a coded
/// error (or a warning and a sane image) from the plan, before any container starts.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class BadInputTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("modwsgi-badinput-").FullName;
    private readonly ListLogger _log = new();

    public BadInputTests()
    {
        Directory.CreateDirectory(Project);
        Write("wsgi.py", "def application(environ, start_response):\n    pass\n");
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Project => Path.Combine(_root, "app");

    private string Write(string relative, string content, UnixFileMode? mode = null)
    {
        var path = Path.Combine(Project, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        if (mode is { } m)
            File.SetUnixFileMode(path, m);
        return path;
    }

    private static void Mkfifo(string path)
    {
        using var process = System.Diagnostics.Process.Start("mkfifo", [path])!;
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
    }

    private static Socket BindSocket(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(path));
        return socket;
    }

    private ImagePlan Plan(ProjectSettings? settings = null)
    {
        var engine = new FakeContainerEngine();
        return new PlanStep(_log).Run(
            (settings ?? new ProjectSettings()).ToOptions(Project, Path.Combine(AppContext.BaseDirectory, "runtime"), null),
            BuildEnvironment.From(name => name == "HOME" ? _root : null), engine.AddBaseImage("modwsgi/base:bookworm"), GitCheckout.None);
    }

    private static ModWsgiException Refused(int code, Action plan)
    {
        var error = Assert.Throws<ModWsgiException>(plan);
        Assert.True(error.Code.Number == code, $"expected MODWSGI{code}, got {error.Code.Id}: {error.Message}");
        return error;
    }

    [Fact]
    public void FileKinds_TellsFifosSocketsDevicesAndLinksFromFiles()
    {
        var fifo = Path.Combine(Project, "pipe");
        Mkfifo(fifo);
        using var socket = BindSocket(Path.Combine(Project, "dev.sock"));
        File.CreateSymbolicLink(Path.Combine(Project, "link"), "wsgi.py");

        Assert.Equal(FileKind.Fifo, FileKinds.Of(fifo));
        Assert.Equal(FileKind.Socket, FileKinds.Of(Path.Combine(Project, "dev.sock")));
        Assert.Equal(FileKind.CharacterDevice, FileKinds.Of("/dev/null"));
        Assert.Equal(FileKind.Symlink, FileKinds.Of(Path.Combine(Project, "link")));
        Assert.Equal(FileKind.Regular, FileKinds.Of(Path.Combine(Project, "wsgi.py")));
        Assert.Equal(FileKind.Directory, FileKinds.Of(Project));
        Assert.Equal(FileKind.Missing, FileKinds.Of(Path.Combine(Project, "nothing")));
    }

    [Fact]
    public void A_fifo_and_a_socket_are_left_out_of_every_walk_with_one_warning()
    {
        Mkfifo(Path.Combine(Project, "pipe"));
        Directory.CreateDirectory(Path.Combine(Project, "run"));
        using var socket = BindSocket(Path.Combine(Project, "run", "dev.sock"));
        Write("empty.py", "");

        var plan = Plan();

        Assert.Equal(["empty.py", "run", "wsgi.py"], plan.Files.Enumerate().Select(f => f.RelativePath));
        var warning = Assert.Single(_log.Warnings, w => w.Contains("not regular files", StringComparison.Ordinal));
        Assert.Contains("pipe (a named pipe (FIFO))", warning);
        Assert.Contains("run/dev.sock (a unix socket)", warning);
    }

    [Fact]
    public void A_name_that_is_not_utf8_is_refused_by_name_unless_dockerignore_leaves_it_out()
    {
        // A Latin-1 "é": the byte 0xE9 alone is not UTF-8. Made with bash, as .NET cannot name such a file.
        using (var process = System.Diagnostics.Process.Start("bash", ["-c", "touch \"$0/caf$(printf '\\351').txt\"", Project])!)
            process.WaitForExit();

        var error = Refused(2071, () => Plan());
        Assert.Contains("caf\uFFFD.txt", error.Message);
        Assert.Contains("convmv", error.Message);

        Write(".dockerignore", "caf*.txt\n");
        Assert.DoesNotContain(Plan().Files.Enumerate(), f => f.RelativePath.StartsWith("caf", StringComparison.Ordinal));
        // .NET cannot remove what it cannot name.
        using (var process = System.Diagnostics.Process.Start("bash", ["-c", "rm \"$0\"/caf*.txt", Project])!)
            process.WaitForExit();
    }

    [Fact]
    public void A_requirements_file_outside_the_project_is_refused_with_2002()
    {
        File.WriteAllText(Path.Combine(_root, "common.txt"), "Flask\n");
        Write("requirements.txt", "-r ../common.txt\n");
        Assert.Contains("outside the project folder", Refused(2002, () => RequirementsScanner.Scan(Project)).Message);

        Write("requirements.txt", "-c /dev/zero\n");
        Assert.Contains("outside the project folder", Refused(2002, () => RequirementsScanner.Scan(Project)).Message);
    }

    [Fact]
    public void A_fifo_or_a_huge_file_as_a_requirements_file_is_refused_with_2072()
    {
        Mkfifo(Path.Combine(Project, "pipe.txt"));
        Write("requirements.txt", "-r pipe.txt\n");
        Assert.Contains("a named pipe", Refused(2072, () => RequirementsScanner.Scan(Project)).Message);

        using (var huge = File.Create(Path.Combine(Project, "huge.txt")))
            huge.SetLength(RequirementsScanner.MaxRequirementsFileBytes + 1); // sparse: no disk used
        Write("requirements.txt", "-r huge.txt\n");
        Assert.Contains("over the 8 MiB", Refused(2072, () => RequirementsScanner.Scan(Project)).Message);

        File.Delete(Path.Combine(Project, "requirements.txt"));
        Mkfifo(Path.Combine(Project, "requirements.txt"));
        Refused(2072, () => RequirementsScanner.Scan(Project));
    }

    [Theory]
    [InlineData("*\n", "wsgi.py", "*")]
    [InlineData("requirements.txt\n", "requirements.txt", "requirements.txt")]
    [InlineData("reqs/\n", "reqs/base.txt", "reqs/")]
    [InlineData(".docker\n", ".docker/action_hooks/deploy", ".docker")]
    public void Dockerignore_that_drops_a_file_the_build_needs_is_refused_with_2073(string dockerignore, string path, string line)
    {
        Write("requirements.txt", "-r reqs/base.txt\n");
        Write("reqs/base.txt", "Flask\n");
        Write(".docker/action_hooks/deploy", "#!/bin/sh\n", (UnixFileMode)0b111_101_101);
        Write(".dockerignore", dockerignore);

        var error = Refused(2073, () => Plan());
        Assert.Contains($"'{path}'", error.Message);
        Assert.Contains($"'{line.TrimEnd('/')}", error.Message);
    }

    [Fact]
    public void Dockerignore_with_an_exception_that_keeps_the_needed_files_is_fine()
    {
        Write("requirements.txt", "Flask\n");
        Write(".dockerignore", "*\n!wsgi.py\n!requirements.txt\n");

        Assert.Equal(["requirements.txt", "wsgi.py"], Plan().Files.Enumerate().Select(f => f.RelativePath));
    }

    [Theory]
    [InlineData(".docker/action_hooks/pre-build", "#!/bin/sh\r\necho hi\r\n", 1)]
    [InlineData(".whiskey/action_hooks/deploy", "#!/bin/sh\necho hi\r\n", 2)]
    public void A_hook_with_crlf_line_endings_is_refused_with_2074_and_the_fix(string hook, string content, int line)
    {
        Write(hook, content, (UnixFileMode)0b111_101_101);

        var error = Refused(2074, () => Plan());
        Assert.Contains($"line {line}", error.Message);
        Assert.Contains("sed -i", error.Message);
        Assert.Contains("eol=lf", error.Message);
    }

    [Fact]
    public async Task Setuid_and_setgid_bits_are_dropped_from_the_layer_with_a_warning()
    {
        Write("tool", "#!/bin/sh\n", (UnixFileMode)0b111_101_101 | UnixFileMode.SetUser);
        Write("shared/x", "x", (UnixFileMode)0b110_100_100 | UnixFileMode.SetGroup);

        var plan = Plan();
        var store = new FileBlobStore(Path.Combine(_root, "blobs"));
        var layer = await LayerWriter.WriteAsync(store, SourceDateEpoch.Fixed,
            writer => LayerSources.WriteProjectAsync(writer, plan.Files, null, CancellationToken.None));

        var modes = new Dictionary<string, UnixFileMode>();
        await using (var reader = new TarReader(new GZipStream(store.OpenRead(layer.Blob.Digest), CompressionMode.Decompress)))
        {
            while (await reader.GetNextEntryAsync() is { } entry)
                modes[entry.Name.TrimEnd('/')] = entry.Mode;
        }
        Assert.Equal((UnixFileMode)0b111_101_101, modes["app/tool"]);
        Assert.Equal((UnixFileMode)0b110_100_100, modes["app/shared/x"]);
        var warning = Assert.Single(_log.Warnings, w => w.Contains("Setuid/setgid", StringComparison.Ordinal));
        Assert.Contains("tool", warning);
        Assert.Contains("shared/x", warning);
    }

    [Fact]
    public void ExcludedBy_names_the_line_that_leaves_a_path_or_its_folder_out()
    {
        var ignore = DockerIgnore.Parse("*.log\nbuild/\n!build/keep\n");

        Assert.Equal("*.log", ignore.ExcludedBy("app.log"));
        Assert.Equal("build", ignore.ExcludedBy("build/out/x.txt"));
        Assert.Null(ignore.ExcludedBy("wsgi.py"));
    }
}
