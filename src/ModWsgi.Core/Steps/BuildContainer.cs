using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;
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
/// A container the build runs its steps in (`sleep infinity`, commands by exec), removed whatever happened,
/// cancellation included: see <see cref="UseAsync"/>.
/// </summary>
public sealed class BuildContainer
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

    /// <summary>
    /// Creates and starts a build container from <paramref name="image"/>, runs <paramref name="work"/> in it and
    /// removes it. When the work failed (or was cancelled), a failed removal is a warning: the error that
    /// caused the removal is the one that surfaces. After a success, a failed removal fails the build.
    /// </summary>
    public static async Task<T> UseAsync<T>(IContainerEngine engine, string image, BuildContainerLabels labels, ILogger logger, Func<BuildContainer, Task<T>> work, CancellationToken cancellationToken)
    {
        var container = await StartAsync(engine, image, labels, logger, cancellationToken).ConfigureAwait(false);
        T result;
        try
        {
            result = await work(container).ConfigureAwait(false);
        }
        catch
        {
            await container.RemoveAfterFailureAsync().ConfigureAwait(false);
            throw;
        }
        await container.RemoveAfterSuccessAsync().ConfigureAwait(false);
        return result;
    }

    /// <summary>
    /// A successful step's container may hold a large virtual environment: on a busy machine the engine's removal can
    /// outlast the client's RemovalTimeout while the engine goes on removing it. Asking again settles it (the engine
    /// answers 404 when it is gone and 409 "removal already in progress" while it works, both taken as removed), so
    /// a build that made its layer does not fail on its cleanup. The cleanup after a failure stays one bounded call.
    /// </summary>
    private static readonly ResiliencePipeline RemovalAfterSuccess = new ResiliencePipelineBuilder()
        .AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<ModWsgiException>(ex => ex.Code == DiagnosticCodes.EngineTimedOut),
            MaxRetryAttempts = RemovalRetries,
            // The timed-out call was the wait.
            Delay = TimeSpan.Zero,
        })
        .Build();

    /// <summary>How many more times a removal that timed out is asked for after a success (each bounded by RemovalTimeout).</summary>
    internal const int RemovalRetries = 5;

    private async Task RemoveAfterSuccessAsync() =>
        await RemovalAfterSuccess.ExecuteAsync(async _ =>
        {
            try
            {
                await RemoveAsync().ConfigureAwait(false);
            }
            catch (ModWsgiException ex) when (ex.Code == DiagnosticCodes.EngineTimedOut)
            {
                _logger.LogInformation("The engine is still removing build container {Id}; asking again", Id);
                throw;
            }
        }, CancellationToken.None).ConfigureAwait(false);

    private static async Task<BuildContainer> StartAsync(IContainerEngine engine, string image, BuildContainerLabels labels, ILogger logger, CancellationToken cancellationToken)
    {
        var id = await engine.CreateContainerAsync(new ContainerSpec(image, ["sleep", "infinity"])
        {
            Name = $"modwsgi-build-{Guid.NewGuid():N}"[..26],
            WorkingDir = BuildPlan.AppRoot,
            // What a later build's LeftoverSweep finds it by, should this build die before removing it.
            Labels = labels.ToLabels(),
        }, cancellationToken).ConfigureAwait(false);
        var container = new BuildContainer(engine, logger, id);
        try
        {
            await engine.StartContainerAsync(id, cancellationToken).ConfigureAwait(false);
            return container;
        }
        catch
        {
            await container.RemoveAfterFailureAsync().ConfigureAwait(false);
            throw;
        }
    }

    // Not the build's token: a cancelled build must still remove its container (the engine client bounds the call).
    private Task RemoveAsync() => _engine.RemoveContainerAsync(Id, CancellationToken.None);

    /// <summary>Removes the container while another error is on its way: a failure here is only a warning.</summary>
    private async Task RemoveAfterFailureAsync()
    {
        try
        {
            await RemoveAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _logger.LogWarning("The build container {Id} could not be removed after the build failed or was cancelled ({Reason}); remove it with: docker rm -f {Id}",
                Id, ex.Message, Id);
        }
    }

    /// <summary>Extracts a tar (a layer blob from the cache) at the container's root.</summary>
    public async Task ExtractAsync(BuildCache cache, string blobDigest, CancellationToken cancellationToken)
    {
        await using var blob = cache.Blobs.OpenRead(blobDigest);
        await _engine.PutArchiveAsync(Id, "/", blob, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Copies files (absolute path in the container → content, mode 0755) into the container.</summary>
    public async Task PutFilesAsync(IReadOnlyDictionary<string, byte[]> files, CancellationToken cancellationToken)
    {
        using var tar = new MemoryStream();
        await using (var writer = new System.Formats.Tar.TarWriter(tar, System.Formats.Tar.TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var (path, content) in files)
            {
                await writer.WriteEntryAsync(new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.RegularFile, path.TrimStart('/'))
                {
                    DataStream = new MemoryStream(content),
                    Mode = (UnixFileMode)0b111_101_101,
                }, cancellationToken).ConfigureAwait(false);
            }
        }
        tar.Position = 0;
        await _engine.PutArchiveAsync(Id, "/", tar, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs a command (not a step: no header, nothing logged) and returns its exit code; its output lines go to <paramref name="onLine"/>.</summary>
    public Task<long> ExecAsync(ExecSpec exec, Action<OutputLine> onLine, CancellationToken cancellationToken) =>
        _engine.ExecAsync(Id, exec, onLine, cancellationToken);

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
            if (step.ExplainFailure?.Invoke(exitCode, tail.ToArray()) is { } explained)
                throw explained;
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
    /// <param name="groupWritableRoot">See <see cref="LayerWriter.GroupWritableRoot"/>.</param>
    public Task<Oci.Layer> CaptureAsync(BuildCache cache, DateTimeOffset epoch, Func<string, bool> exclude, CancellationToken cancellationToken,
        string? groupWritableRoot = null) =>
        LayerWriter.WriteAsync(cache.Blobs, epoch, w => ContainerDiffCapture.CaptureAsync(_engine, Id, w, exclude, cancellationToken), groupWritableRoot);

}
