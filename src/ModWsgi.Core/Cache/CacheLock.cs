using Microsoft.Extensions.Logging;
using ModWsgi.Core.Diagnostics;

namespace ModWsgi.Core.Cache;

/// <summary>
/// An exclusive lock on one cache key across processes (and across builds in one process): a lock file opened with
/// <see cref="FileShare.None"/>, which .NET takes as flock(LOCK_EX) on Linux and macOS, so the kernel lets go of it
/// when its holder dies — a killed build never leaves a stuck lock. A build that finds the key locked waits (logging
/// once who holds it), then looks in the cache again: the other build's result is its hit.
/// </summary>
public sealed class CacheLock : IDisposable
{
    /// <summary>How often a waiting build tries again.</summary>
    private static readonly TimeSpan RetryInterval = TimeSpan.FromMilliseconds(250);

    private const int EWOULDBLOCK = 11;
    private const int ERROR_SHARING_VIOLATION = unchecked((int)0x80070020);
    private const int ERROR_LOCK_VIOLATION = unchecked((int)0x80070021);

    private readonly FileStream? _file;
    private readonly string _ownerFile;

    private CacheLock(FileStream? file, string ownerFile)
    {
        _file = file;
        _ownerFile = ownerFile;
    }

    /// <summary>False when the wait timed out and the build goes on without the lock (it then does the work itself).</summary>
    public bool Held => _file is not null;

    /// <summary>
    /// Takes the lock at <paramref name="path"/>, waiting up to <paramref name="timeout"/> while another build holds it.
    /// On a timeout the build goes on unlocked (warning MODWSGI4012): both builds then do the work, which is only slower.
    /// </summary>
    public static async Task<CacheLock> AcquireAsync(string path, string what, TimeSpan timeout, ILogger logger, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var ownerFile = path + ".owner";
        var waited = System.Diagnostics.Stopwatch.StartNew();
        var logged = false;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (TryOpen(path) is { } file)
            {
                TryWriteOwner(ownerFile);
                if (logged)
                    logger.LogInformation(" -----> the other build of {What} finished after {Seconds:0.0} s", what, waited.Elapsed.TotalSeconds);
                return new CacheLock(file, ownerFile);
            }
            if (!logged)
            {
                logger.LogInformation(" -----> waiting for another build of {What}{Owner} (up to {Minutes:0} min)",
                    what, ReadOwner(ownerFile) is { } owner ? $" ({owner})" : "", timeout.TotalMinutes);
                logged = true;
            }
            if (waited.Elapsed >= timeout)
            {
                logger.LogWarning(new EventId(DiagnosticCodes.CacheLockTimedOut.Number, DiagnosticCodes.CacheLockTimedOut.Id),
                    "Waited {Minutes:0.#} min for another build of {What} ({Path}); building it here too. If no other build runs, look for a hung dotnet build or modwsgi process.",
                    timeout.TotalMinutes, what, path);
                return new CacheLock(null, ownerFile);
            }
            await Task.Delay(RetryInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    private static FileStream? TryOpen(string path)
    {
        try
        {
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
        }
        catch (IOException ex) when (ex.HResult is EWOULDBLOCK or ERROR_SHARING_VIOLATION or ERROR_LOCK_VIOLATION)
        {
            return null;
        }
    }

    /// <summary>Who holds the lock, for the waiting build's log line (best effort: written after the lock is taken).</summary>
    private static void TryWriteOwner(string ownerFile)
    {
        try
        {
            File.WriteAllText(ownerFile, $"pid {Environment.ProcessId} on {Environment.MachineName}, since {DateTimeOffset.UtcNow:HH:mm:ss} UTC");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }

    private static string? ReadOwner(string ownerFile)
    {
        try
        {
            return File.Exists(ownerFile) ? File.ReadAllText(ownerFile).Trim() is { Length: > 0 } text ? text : null : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Releases the lock. The lock file stays (removing it would let a third build lock a new file while a second holds the old one).</summary>
    public void Dispose() => _file?.Dispose();
}
