using Microsoft.Extensions.Logging;
using ModWsgi.Core.Cache;
using ModWsgi.Core.Layers;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Pipeline;
using ModWsgi.Core.Project;
using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Tests;

public sealed class PhaseTimingsTests
{
    [Fact]
    public void Reports_each_phase_in_order_with_its_own_duration_and_the_total()
    {
        var log = new ListLogger();
        var timings = new PhaseTimings(log);
        Thread.Sleep(30);
        timings.Lap("first");
        timings.Lap("second");
        timings.Report();

        var line = Assert.Single(log.Messages);
        var match = System.Text.RegularExpressions.Regex.Match(line, @"^timings: first (\d+) ms, second (\d+) ms, total (\d+) ms$");
        Assert.True(match.Success, line);
        var (first, second, total) = (int.Parse(match.Groups[1].Value), int.Parse(match.Groups[2].Value), int.Parse(match.Groups[3].Value));
        Assert.InRange(first, 30, 10_000);
        // A lap measures from the previous lap, not from the start.
        Assert.InRange(second, 0, first - 1);
        Assert.InRange(total, first + second, 10_000);
    }

    [Fact]
    public void Says_nothing_unless_debug_output_is_on()
    {
        var log = new ListLogger(LogLevel.Information);
        var timings = new PhaseTimings(log);
        timings.Lap("only");
        timings.Report();
        Assert.Empty(log.Messages);
    }
}
