using System.Diagnostics;
using System.Text;

namespace ModWsgi.EndToEnd.Tests;

/// <summary>
/// Runs a command until a line of its output shows a marker, checks the moment with <c>whileRunning</c>, then
/// sends it a signal (by `kill -SIGNAL PID`) and waits for it to exit. Unlike <see cref="InterruptedRun"/> the
/// signal is any signal (InterruptedRun is this with SIGINT), and the process may be a wrapper (`timeout`), signalled in its own way.
/// </summary>
public static class SignalledRun
{
    public static (int ExitCode, string Output) Signal(ProcessStartInfo info, string marker, string signal, Action whileRunning, TimeSpan? exitWithin = null)
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
            Assert.True(started.Wait(TimeSpan.FromMinutes(3)), $"'{marker}' never appeared:\n{output}");
            whileRunning();
            Run.Process("kill", ["-" + signal, process.Id.ToString()]);
            Assert.True(process.WaitForExit(exitWithin ?? TimeSpan.FromSeconds(60)), $"{info.FileName} did not stop after SIG{signal}:\n{output}");
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
