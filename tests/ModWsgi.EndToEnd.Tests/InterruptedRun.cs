using System.Diagnostics;

namespace ModWsgi.EndToEnd.Tests;

/// <summary>
/// Runs a command until a line of its output shows a marker, checks the moment with <c>whileRunning</c>,
/// then sends it SIGINT (what Ctrl+C sends) and waits for it to exit: <see cref="SignalledRun"/> with SIGINT.
/// </summary>
public static class InterruptedRun
{
    public static (int ExitCode, string Output) Interrupt(ProcessStartInfo info, string marker, Action whileRunning) =>
        SignalledRun.Signal(info, marker, "INT", whileRunning);
}
