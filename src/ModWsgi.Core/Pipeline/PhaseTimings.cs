using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace ModWsgi.Core.Pipeline;

/// <summary>
/// Wall time per build phase, logged as one debug line at the end ("timings: inspect-base 52 ms, …"):
/// what `modwsgi build --verbose` and `-v:diag` show, and what eng/benchmark.sh prints beside its totals.
/// </summary>
public sealed class PhaseTimings(ILogger logger)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<(string Phase, long Milliseconds)> _phases = [];
    private long _last;

    /// <summary>Ends the current phase under <paramref name="phase"/>; the next one starts now.</summary>
    public void Lap(string phase)
    {
        var now = _clock.ElapsedMilliseconds;
        lock (_phases)
            _phases.Add((phase, now - _last));
        _last = now;
    }

    public void Report()
    {
        if (logger.IsEnabled(LogLevel.Debug))
            logger.LogDebug("timings: {Phases}, total {Total} ms",
                string.Join(", ", _phases.Select(p => $"{p.Phase} {p.Milliseconds} ms")), _clock.ElapsedMilliseconds);
    }
}
