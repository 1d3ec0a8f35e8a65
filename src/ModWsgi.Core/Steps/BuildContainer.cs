using Microsoft.Extensions.Logging;
using ModWsgi.Core.Cache;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Engine;
using ModWsgi.Core.Layers;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Pipeline;
using ModWsgi.Core.Project;
using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Steps;

/// <summary>
/// A container the build runs its steps in (`sleep infinity`, commands by exec), removed on dispose whatever
/// happened, cancellation included.
/// </summary>
public sealed class BuildContainer : IAsyncDisposable
{
    /// <summary>How many trailing output lines a failed step's error quotes.</summary>
    private const int FailureTailLines = 15;

    private readonly IContainerEngine _engine;
    private readonly ILogger _logger;

    private BuildContainer(IContainerEngine engine, ILogger logger, string id)
    {
        _engine = engine;
        _logger = logger;
        Id = id;
    }

    public string Id { get; }

    /// <summary>Creates and starts a build container from <paramref name="image"/>.</summary>
    public static async Task<BuildContainer> StartAsync(IContainerEngine engine, string image, ILogger logger, CancellationToken cancellationToken)
    {
        var id = await engine.CreateContainerAsync(new ContainerSpec(image, ["sleep", "infinity"])
        {
            Name = $"modwsgi-build-{Guid.NewGuid():N}"[..26],
            WorkingDir = BuildPlan.AppRoot,
        }, cancellationToken).ConfigureAwait(false);
        var container = new BuildContainer(engine, logger, id);
        try
        {
            await engine.StartContainerAsync(id, cancellationToken).ConfigureAwait(false);
            return container;
        }
        catch
        {
            await container.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Extracts a tar (a layer blob from the cache) at the container's root.</summary>
    public async Task ExtractAsync(BuildCache cache, string blobDigest, CancellationToken cancellationToken)
    {
        await using var blob = cache.Blobs.OpenRead(blobDigest);
        await _engine.PutArchiveAsync(Id, "/", blob, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs one step under its ` -----> Title` header, its output in the build log; a non-zero exit throws the step's code.</summary>
    public async Task RunAsync(BuildStep step, PipSettings pip, CancellationToken cancellationToken)
    {
        _logger.LogInformation(" -----> {Title}", step.Title);
        var tail = new Queue<string>();
        var exec = new ExecSpec(["/bin/bash", "-c", "set -eo pipefail\n" + step.Script])
        {
            WorkingDir = BuildPlan.AppRoot,
            // SOURCE_DATE_EPOCH makes Python write .pyc files in checked-hash mode: reproducible bytes.
            Env = [.. pip.ToEnvironment(), "DEBIAN_FRONTEND=noninteractive", "SOURCE_DATE_EPOCH=" + SourceDateEpoch.Fixed.ToUnixTimeSeconds()],
        };
        var exitCode = await _engine.ExecAsync(Id, exec, line =>
        {
            _logger.LogInformation("       {Line}", line.Text);
            tail.Enqueue(line.Text);
            if (tail.Count > FailureTailLines)
                tail.Dequeue();
        }, cancellationToken).ConfigureAwait(false);
        if (exitCode != 0)
        {
            throw new ModWsgiException(step.FailureCode,
                $"The build step '{step.Name}' ({step.Title}) failed with exit code {exitCode}; no image was tagged. " +
                $"Fix the cause shown in its last lines of output and build again:{Environment.NewLine}" +
                string.Join(Environment.NewLine, tail.Select(l => "    " + l)));
        }
    }

    /// <summary>A file a step wrote (read with `cat`, not from the log), or null when it is not there.</summary>
    public async Task<byte[]?> ReadFileAsync(string path, CancellationToken cancellationToken)
    {
        using var content = new MemoryStream();
        var exit = await _engine.ExecToStreamAsync(Id, new ExecSpec(["cat", "--", path]), content, _ => { }, cancellationToken).ConfigureAwait(false);
        return exit == 0 ? content.ToArray() : null;
    }

    /// <summary>What the steps changed, as a layer; <paramref name="exclude"/> leaves paths (project-relative to /) out.</summary>
    public Task<Oci.Layer> CaptureAsync(BuildCache cache, DateTimeOffset epoch, Func<string, bool> exclude, CancellationToken cancellationToken) =>
        LayerWriter.WriteAsync(cache.Blobs, epoch, w => ContainerDiffCapture.CaptureAsync(_engine, Id, w, exclude, cancellationToken));

    // Not the build's token: a cancelled build must still remove its container.
    public async ValueTask DisposeAsync() => await _engine.RemoveContainerAsync(Id, CancellationToken.None).ConfigureAwait(false);
}
