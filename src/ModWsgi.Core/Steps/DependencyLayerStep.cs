using System.Text.Json.Nodes;
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

/// <param name="Added">The layer and its history line.</param>
/// <param name="CacheKey">The digest of exactly the dependency phase's inputs.</param>
/// <param name="CacheHit">True when the layer came from the cache and no step ran.</param>
public sealed record DependencyLayer(AddedLayer Added, string CacheKey, bool CacheHit)
{
    /// <summary>What installs the project itself on top, in the application layer (null when this layer did, or there is none).</summary>
    public BuildStep? ProjectInstall { get; init; }

    /// <summary>See <see cref="BuildPlan.ProjectInstallInputs"/>.</summary>
    public IReadOnlyList<string>? ProjectInstallInputs { get; init; }
}

/// <summary>
/// The dependencies layer: pre-build hook, VCS tools and pip, run in a build container that sees only their
/// inputs, and cached by them (DESIGN.md §3). The log says hit or miss, and on a miss which input changed.
/// A self-installing project whose metadata turns out to need its source switches to the plan's fallback (the whole
/// folder), says why, and remembers it for these metadata files so later builds do not try again.
/// </summary>
public sealed class DependencyLayerStep(IContainerEngine engine, BuildCache cache, ILogger logger)
{
    private const string FallbackNote = "metadata-fallback";

    public async Task<DependencyLayer> RunAsync(ImagePlan plan, RuntimeLayer runtime, CancellationToken cancellationToken)
    {
        var options = plan.Options;
        var notes = cache.ReadProjectNotes(options.ProjectDirectory);
        var previous = (notes["dependencies"] as JsonObject)?
            .Where(p => p.Value is JsonValue v && v.TryGetValue<string>(out _))
            .ToDictionary(p => p.Key, p => p.Value!.GetValue<string>());
        var build = plan.Build;
        var key = Key(plan, build, runtime);
        if (build.MetadataFallback is { } known && notes[FallbackNote] is JsonObject note
            && (string?)note["key"] == key.Key && (string?)note["reason"] is { } knownReason)
        {
            LogFallback(knownReason);
            build = known;
            key = Key(plan, build, runtime);
        }
        if (build.DependencySource is { } source)
            logger.LogInformation(" -----> dependencies from {Source}", source);

        var layer = cache.FindDependencies(key.Key);
        var hit = layer is not null;
        if (hit)
        {
            logger.LogInformation(" -----> dependencies: cached (key {Key})", key.Key);
        }
        else
        {
            logger.LogInformation(" -----> dependencies: miss (key {Key}): {Reasons}", key.Key, string.Join("; ", key.DescribeChangesFrom(previous)));
            // One build per key at a time: a second build of the same dependencies waits and takes the first one's layer.
            using var held = await cache.LockAsync("deps", key.Key, $"these dependencies (key {key.Key})", cancellationToken).ConfigureAwait(false);
            layer = held.Held ? cache.FindDependencies(key.Key) : null;
            hit = layer is not null;
            if (hit)
                logger.LogInformation(" -----> dependencies: cached (key {Key}), made by the build waited for", key.Key);
            try
            {
                layer ??= await RunStepsAsync(plan, build, cancellationToken).ConfigureAwait(false);
            }
            catch (ModWsgiException ex) when (ex.Code == DiagnosticCodes.MetadataNeedsSource && build.MetadataFallback is { } fallback)
            {
                LogFallback(ex.Message);
                notes[FallbackNote] = new JsonObject { ["key"] = key.Key, ["reason"] = ex.Message };
                build = fallback;
                key = Key(plan, build, runtime);
                layer = cache.FindDependencies(key.Key);
                hit = layer is not null;
                if (hit)
                    logger.LogInformation(" -----> dependencies: cached (key {Key})", key.Key);
                else
                    layer = await RunStepsAsync(plan, build, cancellationToken).ConfigureAwait(false);
            }
            if (!hit)
                cache.SaveDependencies(key.Key, layer!);
        }
        notes["dependencies"] = new JsonObject(key.Components.Select(c => KeyValuePair.Create(c.Key, (JsonNode?)c.Value)));
        cache.WriteProjectNotes(options.ProjectDirectory, notes);
        var createdBy = "ModWsgi.Sdk dependencies: " + string.Join(", ", build.DependencySteps.Select(s => s.Name).DefaultIfEmpty("none"));
        return new DependencyLayer(new AddedLayer(layer!, createdBy), key.Key, hit) { ProjectInstall = build.ProjectInstall, ProjectInstallInputs = build.ProjectInstallInputs };
    }

    private void LogFallback(string reason) =>
        logger.LogWarning(new EventId(DiagnosticCodes.MetadataNeedsSource.Number, DiagnosticCodes.MetadataNeedsSource.Id), "{Message}", reason);

    private static DependencyKey Key(ImagePlan plan, BuildPlan build, RuntimeLayer runtime) =>
        DependencyKey.Compute(plan.Files, build, plan.Base.ConfigDigest, runtime.Added.Layer.DiffId, plan.Options.Pip);

    private async Task<Layer> RunStepsAsync(ImagePlan plan, BuildPlan build, CancellationToken cancellationToken)
    {
        var options = plan.Options;
        // The inputs travel as a gzip tar blob that is not part of the image; the engine extracts it into /app.
        var filter = build.DependencyInputFilter();
        var inputs = await LayerWriter.WriteAsync(cache.Blobs, SourceDateEpoch.Fixed,
            w => LayerSources.WriteProjectAsync(w, plan.Files, filter, cancellationToken)).ConfigureAwait(false);
        var inputFiles = plan.Files.Enumerate(filter)
            .Where(f => !f.IsDirectory).Select(f => LayerSources.AppDirectory + "/" + f.RelativePath).ToHashSet(StringComparer.Ordinal);

        return await BuildContainer.UseAsync(engine, plan.Base.Id, plan.ContainerLabels, logger, async container =>
        {
            await container.ExtractAsync(cache, inputs.Blob.Digest, cancellationToken).ConfigureAwait(false);
            foreach (var step in build.DependencySteps)
                await container.RunAsync(step, options.Pip, cancellationToken).ConfigureAwait(false);
            // The input files belong to the application layer; the dependency layer holds what the steps made.
            return await container.CaptureAsync(cache, SourceDateEpoch.Fixed, inputFiles.Contains, cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }
}
