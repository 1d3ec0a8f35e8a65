using Microsoft.Extensions.Logging;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Engine;

namespace ModWsgi.Core.Steps;

/// <summary>
/// Removes build containers earlier builds left behind (a build killed by SIGKILL, an engine restarted mid-step):
/// listed by our label (<see cref="BuildContainerLabels.BuildIdLabel"/>), never by a name pattern, so nothing
/// else on the engine is touched. A container goes when it is stopped, or was created and never started long
/// ago, or when the process its labels name is known to have ended. A running container of a build that may still
/// run (this machine's, alive; or another machine's, which nothing here can judge) stays.
/// </summary>
public static class LeftoverSweep
{
    /// <summary>Between create and start a live build's container is "created" for milliseconds; older than this it never will start.</summary>
    public static readonly TimeSpan NeverStartedAfter = TimeSpan.FromMinutes(10);

    /// <summary>Sweeps; returns the ids removed. A failure to list or remove is a warning: the build goes on.</summary>
    public static async Task<IReadOnlyList<string>> RunAsync(IContainerEngine engine, BuildClient self, DateTimeOffset now, ILogger logger, CancellationToken cancellationToken)
    {
        IReadOnlyList<ContainerSummary> containers;
        try
        {
            containers = await engine.ListContainersAsync([BuildContainerLabels.BuildIdLabel], cancellationToken).ConfigureAwait(false);
        }
        catch (ModWsgiException ex) when (ex.Code == DiagnosticCodes.EngineRequestFailed)
        {
            logger.LogDebug("Build containers of earlier builds could not be listed: {Reason}", ex.Message);
            return [];
        }
        var removed = new List<string>();
        foreach (var container in containers)
        {
            if (WhyLeftOver(container, self, now) is not { } why)
                continue;
            try
            {
                await engine.RemoveContainerAsync(container.Id, cancellationToken).ConfigureAwait(false);
                removed.Add(container.Id);
                logger.LogInformation(" -----> Removed build container {Id} left behind by an earlier build ({Why})", Short(container.Id), why);
            }
            catch (ModWsgiException ex) when (ex.Code == DiagnosticCodes.EngineRequestFailed || ex.Code == DiagnosticCodes.EngineTimedOut)
            {
                logger.LogWarning("The build container {Id} left behind by an earlier build ({Why}) could not be removed: {Reason}; remove it with: docker rm -f {Id}",
                    Short(container.Id), why, ex.Message, Short(container.Id));
            }
        }
        return removed;
    }

    /// <summary>Why the container is a leftover, or null when it may belong to a build that still runs.</summary>
    public static string? WhyLeftOver(ContainerSummary container, BuildClient self, DateTimeOffset now)
    {
        switch (container.State)
        {
            case "exited" or "dead":
                // A build container runs `sleep infinity` until its build removes it: stopped means the engine
                // restarted (or someone stopped it), and no build can use it again.
                return "stopped";
            case "created" when now - container.Created > NeverStartedAfter:
                return "never started";
            case "removing":
                return null;
        }
        var client = BuildContainerLabels.ClientOf(container.Labels);
        if (client is null)
            return null;
        return self.StateOf(client) == BuildClientState.Gone ? $"its build process {client.Pid} on {client.Host} is no longer running" : null;
    }

    private static string Short(string id) => id.Length > 12 ? id[..12] : id;
}
