using System.Diagnostics;
using System.Text;

namespace ModWsgi.EndToEnd.Tests;

/// <summary>
/// Runs a command until a line of its output shows a marker, checks the moment with <c>whileRunning</c>,
/// then sends it SIGINT (what Ctrl+C sends) and waits for it to exit.
/// </summary>
public static class InterruptedRun
{
    public static (int ExitCode, string Output) Interrupt(ProcessStartInfo info, string marker, Action whileRunning)
    {
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.UseShellExecute = false;
        using var process = Process.Start(info)!;
        var output = new StringBuilder();
        var started = new ManualResetEventSlim();
        process.OutputDataReceived += (_, e) =>
        {
            lock (output) output.AppendLine(e.Data);
            if (e.Data?.Contains(marker) == true)
                started.Set();
        };
        process.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            Assert.True(started.Wait(TimeSpan.FromMinutes(2)), $"'{marker}' never appeared:\n{output}");
            whileRunning();
            Run.Process("kill", ["-INT", process.Id.ToString()]);
            Assert.True(process.WaitForExit(TimeSpan.FromSeconds(60)), $"{info.FileName} did not stop after SIGINT:\n{output}");
        }
        finally
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
        }
        process.WaitForExit();
        lock (output)
            return (process.ExitCode, output.ToString());
    }
}
