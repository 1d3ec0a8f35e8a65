using System.Text;
using Microsoft.Extensions.Logging;
using ModWsgi.Core.Cache;
using ModWsgi.Core.Destinations;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Engine;
using ModWsgi.Core.Layers;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Pipeline;
using ModWsgi.Core.Project;
using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Pipeline;

/// <summary>
/// The one entry point the MSBuild task and the CLI share. Steps run in one direction, each taking the
/// results before it: plan → runtime layer → dependency layer → application layer → config → destination.
/// When nothing that feeds the image changed since the last publish and the destination still holds what it
/// was given, none of them runs and the log says so.
/// </summary>
public sealed class ImagePipeline(IContainerEngine engine, ILogger logger)
{
    /// <summary>Replaces the registry client's network stack (tests).</summary>
    public HttpMessageHandler? RegistryHandler { get; init; }

    /// <summary>Replaces the registry client's retry settings (tests: a clock that does not sleep).</summary>
    public Registry.RegistryRetryOptions? RegistryRetry { get; init; }

    /// <summary>How long a build waits for a running prune to let go of the cache.</summary>
    private static readonly TimeSpan PruneWait = TimeSpan.FromMinutes(2);

    public async Task<PublishResult> PublishAsync(ImageBuildOptions options, BuildEnvironment environment, CancellationToken cancellationToken)
    {
        var cacheRoot = Path.GetFullPath(options.CacheDirectory ?? environment.CacheDirectory);
        PublishResult result;
        // Held while the build runs: a prune then leaves the blobs it writes (named by no entry yet) alone.
        using (await PruneLock.SharedAsync(cacheRoot, PruneWait, cancellationToken).ConfigureAwait(false))
            result = await PublishHoldingCacheAsync(options, environment, cancellationToken).ConfigureAwait(false);
        if (!result.UpToDate)
            await Pruning.AfterBuildAsync(engine, cacheRoot, options.CacheSizeLimit, logger, cancellationToken).ConfigureAwait(false);
        return result;
    }

    private async Task<PublishResult> PublishHoldingCacheAsync(ImageBuildOptions options, BuildEnvironment environment, CancellationToken cancellationToken)
    {
        foreach (var tag in options.Tags)
            ImageReference.Create(options.Repository, tag);
        if (options.Python is { } python)
        {
            // Which file (or property) decided the Python, so a surprising base image can be traced to its cause.
            logger.LogInformation(" -----> {Choice}", python.Describe());
            if (python.Warning is { } warning)
                logger.LogWarning(new EventId(DiagnosticCodes.BaseImageContradictsPythonVersion.Number, DiagnosticCodes.BaseImageContradictsPythonVersion.Id),
                    "{Message}", warning);
        }
        var cache = new BuildCache(options.CacheDirectory ?? environment.CacheDirectory, logger);
        cache.RemoveStaleTempFiles();
        try
        {
            try
            {
                return await PublishOnceAsync(options, environment, cache, cancellationToken).ConfigureAwait(false);
            }
            catch (ModWsgiException ex) when (ex.Code == DiagnosticCodes.CacheBlobDamaged)
            {
                // The damaged blob is gone: a second run makes it again (a miss rebuilds a cached layer, a base
                // layer is exported again). A second damage in a row is the error.
                logger.LogWarning(new EventId(ex.Code.Number, ex.Code.Id), "{Message} Building once more now, which makes it again.",
                    ex.Message[..(ex.Message.IndexOf(" Build again", StringComparison.Ordinal) is var end and > 0 ? end : ex.Message.Length)]);
                return await PublishOnceAsync(options, environment, cache, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (IOException ex) when (FileBlobStore.IsDiskFull(ex))
        {
            throw FileBlobStore.DiskFull(cache.Root, "the build cache", ex);
        }
    }

    private async Task<PublishResult> PublishOnceAsync(ImageBuildOptions options, BuildEnvironment environment, BuildCache cache, CancellationToken cancellationToken)
    {
        var timings = new PhaseTimings(logger);
        var loader = new EngineImageLoader(engine, cache, timings);
        var destination = ImageDestinations.For(options, environment, engine, cache, loader, logger, RegistryHandler, RegistryRetry);

        // The first engine round trip (connection set-up included) and the local reads overlap: git runs a
        // process and the fingerprint reads every project file's metadata.
        var local = Task.Run(() =>
        {
            var checkout = GitCheckout.Read(options.ProjectDirectory);
            return (Git: checkout, Fingerprint: BuildFingerprint.Local(options, environment, checkout));
        }, cancellationToken);
        BaseImage baseImage;
        try
        {
            baseImage = await InspectBaseAsync(options, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // Never leave the local reads running past a failed inspect.
            await Task.WhenAny(local).ConfigureAwait(false);
        }
        var (git, localFingerprint) = await local.ConfigureAwait(false);
        var fingerprint = Digests.Sha256(Encoding.UTF8.GetBytes(localFingerprint + "\n" + baseImage.Id));
        timings.Lap("inspect-base+git+fingerprint");

        if (PublishRecord.Read(cache.ReadProjectNotes(options.ProjectDirectory)) is { } last && last.Fingerprint == fingerprint
            && await destination.IsUpToDateAsync(last, cancellationToken).ConfigureAwait(false))
        {
            logger.LogInformation("Image up to date: nothing changed since the last publish of {Images} ({ImageId}); skipped the build.",
                string.Join(", ", last.Result.Images), last.Result.ImageId);
            timings.Lap("up-to-date-check");
            timings.Report();
            return last.Result with { UpToDate = true };
        }

        // Build containers earlier builds left (killed, or the engine restarted under them): found by our label.
        await LeftoverSweep.RunAsync(engine, BuildClient.Current, DateTimeOffset.UtcNow, logger, cancellationToken).ConfigureAwait(false);
        timings.Lap("leftover-sweep");

        // What our config and the dependency key name the base by: its config digest, equal on every engine.
        baseImage = await BaseLayerExporter.WithConfigDigestAsync(engine, baseImage, cache, logger, cancellationToken).ConfigureAwait(false);
        timings.Lap("base-config-digest");
        var plan = new PlanStep(logger).Run(options, environment, baseImage, git);
        timings.Lap("plan");
        // Before pip runs, unless Django's settings (read in the build) still add to the Cmd: then after them.
        var check = new ServerOptionsCheckStep(engine, cache, logger);
        if (plan.Detected.Django is null)
        {
            await check.RunAsync(plan, ConfigStep.SettingsFor(plan, null), cancellationToken).ConfigureAwait(false);
            timings.Lap("server-options-check");
        }
        var runtime = await new RuntimeLayerStep(cache).RunAsync(plan, cancellationToken).ConfigureAwait(false);
        timings.Lap("runtime-layer");
        var dependencies = await new DependencyLayerStep(engine, cache, logger).RunAsync(plan, runtime, cancellationToken).ConfigureAwait(false);
        timings.Lap("dependencies");
        var application = await new ApplicationLayerStep(engine, cache, loader, logger).RunAsync(plan, runtime, dependencies, cancellationToken).ConfigureAwait(false);
        timings.Lap("application-layer");
        if (plan.Detected.Django is not null)
        {
            await check.RunAsync(plan, ConfigStep.SettingsFor(plan, application.Django), cancellationToken).ConfigureAwait(false);
            timings.Lap("server-options-check");
        }
        var image = ConfigStep.Run(plan, runtime, dependencies, application);
        var result = await destination.PublishAsync(image, cancellationToken).ConfigureAwait(false);
        timings.Lap("publish");

        // What this build used counts as used now, for the size bound's least-recently-used order.
        CachePruner.MarkUsed(cache, [.. image.Added.Select(a => a.Layer.Blob.Digest), .. cache.FindBaseLayers(baseImage.Id)?.Select(l => l.Blob.Digest) ?? []],
            dependencies.CacheKey, DateTime.UtcNow);
        var notes = cache.ReadProjectNotes(options.ProjectDirectory);
        new PublishRecord(fingerprint, result).WriteTo(notes);
        cache.WriteProjectNotes(options.ProjectDirectory, notes);
        timings.Report();
        return result;
    }

    /// <summary>The base image; also the run's first engine call, which reports an unreachable engine (MODWSGI3001).</summary>
    private async Task<BaseImage> InspectBaseAsync(ImageBuildOptions options, CancellationToken cancellationToken)
    {
        var inspect = await engine.InspectImageAsync(options.BaseImage, cancellationToken).ConfigureAwait(false)
            ?? throw BaseImageMissing(options);
        return BaseImage.FromInspect(options.BaseImage, inspect);
    }

    private static ModWsgiException BaseImageMissing(ImageBuildOptions options)
    {
        var command = options.BaseImageRecipe is null
            ? "the base image recipe shipped in the ModWsgi.Sdk package (baseimage/build-base-image.sh)"
            : options.Python?.Known is { } known
                ? $"sudo bash {options.BaseImageRecipe} --suite {known.Suite} {options.BaseImage}"
                : $"sudo bash {options.BaseImageRecipe} {options.BaseImage}";
        return new ModWsgiException(DiagnosticCodes.BaseImageMissing,
            $"The base image '{options.BaseImage}' is not in the local container engine. It is built from Debian packages, not pulled: build it once with: {command}");
    }
}
