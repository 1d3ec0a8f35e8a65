using Microsoft.Extensions.Logging;
using ModWsgi.Core.Cache;
using ModWsgi.Core.Engine;
using ModWsgi.Core.Layers;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Pipeline;
using ModWsgi.Core.Project;
using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Steps;

/// <param name="Added">The layer and its history line.</param>
/// <param name="Django">What Django reported from the build container, for a Django project.</param>
public sealed record ApplicationLayer(AddedLayer Added, DjangoSettings? Django);

/// <summary>
/// The application layer: the folder as <see cref="Project.ProjectFiles"/> gives it (.dockerignore-filtered, never the
/// build's own files), written directly — or, when Django's step or a
/// build hook runs, captured from a container that ran them on base + runtime + dependencies.
/// </summary>
public sealed class ApplicationLayerStep(IContainerEngine engine, BuildCache cache, EngineImageLoader loader, ILogger logger)
{
    /// <summary>Images of base + runtime + dependencies that build hooks run on.</summary>
    public const string StageImagePrefix = "modwsgi/stage:";

    public async Task<ApplicationLayer> RunAsync(ImagePlan plan, RuntimeLayer runtime, DependencyLayer dependencies, CancellationToken cancellationToken)
    {
        var options = plan.Options;
        // A self-installing project goes in first (its dependencies are in the layer below), so Django and the build hook can import it.
        IReadOnlyList<BuildStep> steps = dependencies.ProjectInstall is { } project ? [project, .. plan.ApplicationSteps] : plan.ApplicationSteps;
        var app = await LayerWriter.WriteAsync(cache.Blobs, plan.Epoch,
            w => LayerSources.WriteProjectAsync(w, plan.Files, null, cancellationToken)).ConfigureAwait(false);
        if (steps.Count == 0)
            return new ApplicationLayer(new AddedLayer(app, "ModWsgi.Sdk application: /app"), null);

        // These steps need the dependencies installed: run them on base + runtime + dependencies, loaded once into the engine.
        IReadOnlyList<AddedLayer> below = [runtime.Added, dependencies.Added];
        var stageConfig = ImageConfigWriter.Write(plan.Base, below, new ImageSettings { Env = plan.Base.Env, WorkingDir = BuildPlan.AppRoot }, SourceDateEpoch.Fixed);
        var belowLayers = below.Select(a => a.Layer).ToArray();
        // Found by the engine's id of it (on the containerd store the manifest digest, not the config digest).
        var stageId = await loader.FindAsync(stageConfig, plan.Base, belowLayers, cancellationToken).ConfigureAwait(false);
        if (stageId is null)
        {
            // Tagged, not dangling: the engine keeps it as the build hook's cache, under a name that says what it is
            // (the config digest's start, the same on every engine).
            var stageName = StageImagePrefix + Digests.Hex(Digests.Sha256(stageConfig))[..12];
            logger.LogInformation(" -----> Loading the dependency stage {Stage} into the engine for the build hook", stageName);
            stageId = await loader.LoadAsync(stageConfig, plan.Base, belowLayers, [stageName], cancellationToken).ConfigureAwait(false);
        }

        var (layer, django) = await BuildContainer.UseAsync(engine, stageId, logger, async container =>
        {
            await container.ExtractAsync(cache, app.Blob.Digest, cancellationToken).ConfigureAwait(false);
            foreach (var step in steps)
                await container.RunAsync(step, options.Pip, cancellationToken).ConfigureAwait(false);
            DjangoSettings? django = null;
            if (plan.Detected.Django is { } project)
            {
                django = DjangoSupport.ParseSettings(await container.ReadFileAsync(DjangoSupport.SettingsFile, cancellationToken).ConfigureAwait(false))
                    ?? throw DjangoSupport.Unreadable(project);
            }
            return (await container.CaptureAsync(cache, plan.Epoch, _ => false, cancellationToken).ConfigureAwait(false), django);
        }, cancellationToken).ConfigureAwait(false);
        return new ApplicationLayer(new AddedLayer(layer, "ModWsgi.Sdk application: /app + " + string.Join(", ", steps.Select(s => s.Name))), django);
    }
}
