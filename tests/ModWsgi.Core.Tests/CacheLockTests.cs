using System.Diagnostics;
using ModWsgi.Core.Cache;
using ModWsgi.Core.Diagnostics;

namespace ModWsgi.Core.Tests;

/// <summary>The per-key lock builds take turns by: one holder per key, across processes, keys independent, a timeout.</summary>
public sealed class CacheLockTests : IDisposable
{
    private const string Key = "sha256:abababababababababababababababababababababababababababababababab";
    private const string OtherKey = "sha256:cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd";

    private readonly string _root = Directory.CreateTempSubdirectory("modwsgi-lock-").FullName;
    private readonly ListLogger _log = new();

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private BuildCache Cache(TimeSpan? timeout = null) => new(_root, _log) { LockTimeout = timeout ?? TimeSpan.FromMinutes(1) };

    [Fact]
    public async Task SecondBuildOfAKey_WaitsUntilTheFirstLetsGo_AndSaysSo()
    {
        var first = await Cache().LockAsync("deps", Key, "these dependencies", default);
        Assert.True(first.Held);

        var second = Cache().LockAsync("deps", Key, "these dependencies", default);
        await Task.Delay(700);
        Assert.False(second.IsCompleted);
        Assert.Contains(_log.Messages, m => m.Contains("waiting for another build of these dependencies", StringComparison.Ordinal)
                                            && m.Contains($"pid {Environment.ProcessId}", StringComparison.Ordinal));

        first.Dispose();
        using var taken = await second.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(taken.Held);
    }

    [Fact]
    public async Task DifferentKeys_AreHeldAtOnce()
    {
        using var one = await Cache().LockAsync("deps", Key, "one project", default);
        using var other = await Cache().LockAsync("deps", OtherKey, "another project", default).WaitAsync(TimeSpan.FromSeconds(2));
        using var sameKeyOtherKind = await Cache().LockAsync("project-install", Key, "an install", default).WaitAsync(TimeSpan.FromSeconds(2));

        Assert.True(one.Held && other.Held && sameKeyOtherKind.Held);
        Assert.DoesNotContain(_log.Messages, m => m.Contains("waiting", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AHeldKey_TimesOut_WithAWarning_AndTheBuildGoesOnUnlocked()
    {
        using var first = await Cache().LockAsync("deps", Key, "these dependencies", default);

        var stopwatch = Stopwatch.StartNew();
        using var second = await Cache(TimeSpan.FromMilliseconds(600)).LockAsync("deps", Key, "these dependencies", default);

        Assert.False(second.Held);
        Assert.InRange(stopwatch.Elapsed, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(5));
        Assert.Contains(_log.Warnings, w => w.Contains("building it here too", StringComparison.Ordinal));
        Assert.NotNull(DiagnosticCodes.CacheLockTimedOut);
    }

    [Fact]
    public async Task Cancelled_WhileWaiting_Throws()
    {
        using var first = await Cache().LockAsync("deps", Key, "these dependencies", default);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(400));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Cache().LockAsync("deps", Key, "these dependencies", cancel.Token));
    }

    /// <summary>flock(1) from util-linux takes the same kernel lock .NET's FileShare.None takes: another process, really excluded.</summary>
    [Fact]
    public async Task AnotherProcessHoldingTheLock_IsWaitedFor_AndItsDeathReleasesIt()
    {
        // The lock file's path: take it once, see where it is.
        using (await Cache().LockAsync("deps", Key, "these dependencies", default)) { }
        var lockFile = Assert.Single(Directory.GetFiles(Path.Combine(_root, "locks"), "*.lock"));
        using var holder = Process.Start(new ProcessStartInfo("flock", ["--exclusive", lockFile, "sleep", "30"]) { UseShellExecute = false })!;
        try
        {
            // Held once flock(1) -n fails on it (a loaded machine may take a while to start the holder).
            for (var i = 0; i < 100 && Process.Start(new ProcessStartInfo("flock", ["--nonblock", lockFile, "true"]) { UseShellExecute = false }) is { } probe
                                     && probe.WaitForExit(10_000) && probe.ExitCode == 0; i++)
                await Task.Delay(100);
            var waiting = Cache().LockAsync("deps", Key, "these dependencies", default);
            await Task.Delay(700);
            Assert.False(waiting.IsCompleted);

            holder.Kill(entireProcessTree: true); // a killed build: the kernel lets go of its lock
            using var taken = await waiting.WaitAsync(TimeSpan.FromSeconds(5));
            Assert.True(taken.Held);
        }
        finally
        {
            if (!holder.HasExited)
                holder.Kill(entireProcessTree: true);
        }
    }
}
