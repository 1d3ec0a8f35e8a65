namespace ModWsgi.Core.Cache;

/// <summary>
/// Who may remove from the cache (not to be confused with <see cref="CacheLock"/>, one build's hold on one key): every build holds <c>prune.lock</c> shared while it runs, and pruning (which removes
/// blobs no entry names yet, such as a layer a build has just written) only runs holding it alone. .NET's own file
/// locks do it: on Unix, a FileStream opened with FileShare.None takes flock(LOCK_EX), any other share LOCK_SH, both
/// without waiting (an IOException when the other kind is held), so waiting is a short poll here.
/// </summary>
public sealed class PruneLock : IDisposable
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);
    private readonly FileStream _file;

    private PruneLock(FileStream file) => _file = file;

    public static string PathIn(string cacheRoot) => Path.Combine(cacheRoot, "prune.lock");

    /// <summary>A build's hold: waits while a prune runs (a prune is short; <paramref name="patience"/> bounds it).</summary>
    public static async Task<PruneLock> SharedAsync(string cacheRoot, TimeSpan patience, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + patience;
        while (true)
        {
            if (TryOpen(cacheRoot, FileShare.ReadWrite | FileShare.Delete) is { } held)
                return held;
            if (DateTime.UtcNow >= deadline)
                throw new Diagnostics.ModWsgiException(Diagnostics.DiagnosticCodes.CacheBusy,
                    $"The build cache at {cacheRoot} stayed locked by 'modwsgi prune' for {patience.TotalSeconds:0} s. Let it finish (or end it), then build again.");
            await Task.Delay(Poll, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The prune's hold, or null when a build (or another prune) holds the lock; waits up to <paramref name="patience"/>.</summary>
    public static async Task<PruneLock?> ExclusiveAsync(string cacheRoot, TimeSpan patience, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + patience;
        while (true)
        {
            if (TryOpen(cacheRoot, FileShare.None) is { } held)
                return held;
            if (DateTime.UtcNow >= deadline)
                return null;
            await Task.Delay(Poll, cancellationToken).ConfigureAwait(false);
        }
    }

    private static PruneLock? TryOpen(string cacheRoot, FileShare share)
    {
        Directory.CreateDirectory(cacheRoot);
        try
        {
            return new PruneLock(new FileStream(PathIn(cacheRoot), FileMode.OpenOrCreate, FileAccess.ReadWrite, share));
        }
        catch (IOException) when (File.Exists(PathIn(cacheRoot)))
        {
            return null; // held the other way
        }
    }

    public void Dispose() => _file.Dispose();
}
