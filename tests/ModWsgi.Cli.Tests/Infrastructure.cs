using System.Diagnostics;
using System.Text;
using ModWsgi.Core;
using ModWsgi.Core.Build;

namespace ModWsgi.Cli.Tests;

/// <summary>
/// A test that needs a Docker engine. Without one it skips loudly on a developer machine; under CI=true it
/// always runs (and then fails if the engine is missing), so CI can never pass by skipping.
/// (The pattern of tests/ModWsgi.EndToEnd.Tests/Infrastructure.cs.)
/// </summary>
public sealed class DockerFactAttribute : FactAttribute
{
    public DockerFactAttribute()
    {
        if (!Environments.IsCi && !File.Exists("/var/run/docker.sock") && Environment.GetEnvironmentVariable("DOCKER_HOST") is null)
            Skip = "SKIPPED: no Docker engine (/var/run/docker.sock). Run eng/setup-machine.sh to start one; under CI=true this test runs and fails instead.";
    }
}

public static class Environments
{
    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
}

public sealed record ProcessResult(int ExitCode, string StdOut, string StdErr)
{
    public string Output => StdOut + StdErr;
}

public static class Run
{
    public static ProcessResult Process(string file, IEnumerable<string> args, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        using var process = System.Diagnostics.Process.Start(info)!;
        process.StandardInput.Close();
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout ?? TimeSpan.FromMinutes(10)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in time.\n{stdout}\n{stderr}");
        }
        process.WaitForExit();
        return new ProcessResult(process.ExitCode, stdout.ToString(), stderr.ToString());
    }

    public static ProcessResult Docker(params string[] args) => Process("docker", args);

    /// <summary>The built tool, as a user runs it: `dotnet modwsgi.dll ...` (the project reference puts it, with runtime/, next to the tests).</summary>
    public static ProcessResult Tool(params string[] args) => Process("dotnet", [Path.Combine(AppContext.BaseDirectory, "modwsgi.dll"), .. args]);
}

/// <summary>A temp folder removed with everything in it when the test is done.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory(string prefix = "modwsgi-cli")
    {
        Path = Directory.CreateTempSubdirectory(prefix + "-").FullName;
    }

    public string Path { get; }

    public string Write(string relativePath, string content, UnixFileMode? mode = null)
    {
        var full = System.IO.Path.Combine(Path, relativePath);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        File.WriteAllText(full, content);
        if (mode is not null)
            File.SetUnixFileMode(full, mode.Value);
        return full;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            Thread.Sleep(200);
            Directory.Delete(Path, recursive: true);
        }
    }
}

/// <summary>
/// Runs the command line in-process against a fake engine edge: records the options a build would get and
/// the docker CLI calls run/shell would make, and captures stdout/stderr.
/// </summary>
internal sealed class FakeCli
{
    private readonly StringWriter _out = new();
    private readonly StringWriter _err = new();

    public List<ImageBuildOptions> Builds { get; } = [];
    public List<DockerInvocation> DockerCalls { get; } = [];
    public Func<ImageBuildOptions, Task<PublishResult>>? OnPublish { get; init; }
    public bool StdinIsTerminal { get; init; } = true;

    public string Out => _out.ToString();
    public string Err => _err.ToString();

    /// <summary>The one build's options.</summary>
    public ImageBuildOptions Options => Assert.Single(Builds);

    public int Invoke(params string[] args) => Invoke(CancellationToken.None, args);

    public int Invoke(CancellationToken cancellationToken, params string[] args)
    {
        var host = new CliHost
        {
            Out = _out,
            Error = _err,
            StdinIsTerminal = StdinIsTerminal,
            Publish = (options, _, _) =>
            {
                Builds.Add(options);
                return OnPublish?.Invoke(options) ?? Task.FromResult(new PublishResult("sha256:" + new string('a', 64), null, options.ImageNames(), null));
            },
            Docker = (invocation, _) =>
            {
                DockerCalls.Add(invocation);
                return Task.FromResult(0);
            },
        };
        return new ModWsgiCli(host).InvokeAsync(args, cancellationToken).GetAwaiter().GetResult();
    }
}
