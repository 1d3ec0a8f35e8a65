using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ModWsgi.Tests.Shared;

/// <summary>
/// A test that needs a Docker engine. Without one it skips loudly on a developer machine; under CI=true it
/// always runs (and then fails if the engine is missing), so CI can never pass by skipping.
/// </summary>
public sealed class DockerFactAttribute : FactAttribute
{
    public DockerFactAttribute()
    {
        if (!Environments.IsCi && !File.Exists("/var/run/docker.sock") && Environment.GetEnvironmentVariable("DOCKER_HOST") is null)
            Skip = "SKIPPED: no Docker engine (/var/run/docker.sock). Run eng/setup-machine.sh to start one; under CI=true this test runs and fails instead.";
    }
}

/// <summary>A theory that needs a Docker engine: skips and runs as <see cref="DockerFactAttribute"/> does.</summary>
public sealed class DockerTheoryAttribute : TheoryAttribute
{
    public DockerTheoryAttribute()
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
    public static ProcessResult Process(string file, IEnumerable<string> args, string? workingDirectory = null,
        IReadOnlyDictionary<string, string?>? env = null, string? stdin = null, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            // Always redirected and closed: a command that prompts fails instead of hanging the test run.
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        foreach (var (key, value) in env ?? new Dictionary<string, string?>())
            info.Environment[key] = value;
        using var process = System.Diagnostics.Process.Start(info)!;
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (stdin is not null)
            process.StandardInput.Write(stdin);
        process.StandardInput.Close();
        if (!process.WaitForExit(timeout ?? TimeSpan.FromMinutes(10)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in time.\n{stdout}\n{stderr}");
        }
        process.WaitForExit();
        return new ProcessResult(process.ExitCode, stdout.ToString(), stderr.ToString());
    }

    public static ProcessResult Docker(params string[] args) => Process("docker", args);

    public static string DockerOk(params string[] args)
    {
        var result = Docker(args);
        Assert.True(result.ExitCode == 0, $"docker {string.Join(' ', args)} failed ({result.ExitCode}):\n{result.Output}");
        return result.StdOut.Trim();
    }
}

/// <summary>A temp folder removed with everything in it when the test is done.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory(string prefix = "modwsgi-e2e")
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
            // Files written by containers as root may need a second try once they exit.
            Thread.Sleep(200);
            Directory.Delete(Path, recursive: true);
        }
    }
}

public static class Ports
{
    /// <summary>A loopback TCP port nothing listens on right now (the OS picks it).</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
