using System.Runtime.InteropServices;

namespace ModWsgi.Sdk.Tasks;

/// <summary>
/// SIGTERM, SIGHUP and SIGQUIT while the task runs (`timeout -s TERM dotnet build`, a closed terminal, a CI runner
/// stopping a job) cancel the build as Ctrl+C does, so Core removes its build container; the signal's own effect
/// (the process ends) follows once the task has finished cleaning up, or after <see cref="CleanupWait"/>.
/// MSBuild itself handles only Ctrl+C: without this, those signals ended the process with the container running.
/// </summary>
internal sealed class TerminationSignals : IDisposable
{
    /// <summary>How long a signal waits for the cancelled build to remove its container (each removal is bounded shorter).</summary>
    internal static readonly TimeSpan CleanupWait = TimeSpan.FromSeconds(30);

    private readonly ManualResetEventSlim _finished = new();
    private readonly PosixSignalRegistration[] _registrations;

    public TerminationSignals(CancellationTokenSource cancellation)
    {
        if (OperatingSystem.IsWindows())
        {
            _registrations = [];
            return;
        }
        _registrations = [.. ((PosixSignal[])[PosixSignal.SIGTERM, PosixSignal.SIGHUP, PosixSignal.SIGQUIT]).Select(signal =>
            PosixSignalRegistration.Create(signal, context =>
            {
                cancellation.Cancel();
                // Not before the container is gone does the process end.
                _finished.Wait(CleanupWait);
                // Then it ends as the signal asks, but not as a success: under dotnet build a SIGTERM the runtime handles
                // ended with exit code 0. 128 + the signal's number, as a shell reports a process a signal ended.
                context.Cancel = true;
                Environment.Exit(128 + context.Signal switch
                {
                    PosixSignal.SIGHUP => 1,
                    PosixSignal.SIGQUIT => 3,
                    _ => 15,
                });
            }))];
    }

    /// <summary>The task ended (the build container removed): a signal that arrives now acts at once.</summary>
    public void Dispose()
    {
        _finished.Set();
        foreach (var registration in _registrations)
            registration.Dispose();
    }
}
