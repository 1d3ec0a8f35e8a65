using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
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
/// A self-installing project with static metadata and no other step gets the folder written directly plus what its
/// editable install put outside /app, which is reused while the metadata and the file layout stay the same.
/// </summary>
public sealed class ApplicationLayerStep(IContainerEngine engine, BuildCache cache, EngineImageLoader loader, ILogger logger)
{
    /// <summary>/app (and what the build hook writes there) is group 0 and group-writable like its owner: a container
    /// run as any uid in group 0 (OpenShift's) may write in it; the default www-data daemons still may not.</summary>
    public const string AppGroupWritable = LayerSources.AppDirectory;

    /// <summary>Images of base + runtime + dependencies that build hooks run on.</summary>
    public const string StageImagePrefix = "modwsgi/stage:";

    public async Task<ApplicationLayer> RunAsync(ImagePlan plan, RuntimeLayer runtime, DependencyLayer dependencies, CancellationToken cancellationToken)
    {
        // A self-installing project goes in first (its dependencies are in the layer below), so Django and the build hook can import it.
        IReadOnlyList<BuildStep> steps = dependencies.ProjectInstall is { } project ? [project, .. plan.ApplicationSteps] : plan.ApplicationSteps;
        var app = await LayerWriter.WriteAsync(cache.Blobs, plan.Epoch,
            w => LayerSources.WriteProjectAsync(w, plan.Files, null, cancellationToken), AppGroupWritable).ConfigureAwait(false);
        if (steps.Count == 0)
            return new ApplicationLayer(new AddedLayer(app, "ModWsgi.Sdk application: /app"), null);

        if (dependencies is { ProjectInstall: { } install, ProjectInstallInputs: { } installInputs } && plan.ApplicationSteps.Count == 0)
            return new ApplicationLayer(await WithProjectInstallAsync(plan, runtime, dependencies, app, install, installInputs, cancellationToken).ConfigureAwait(false), null);

        var (layer, django) = await InStageAsync(plan, runtime, dependencies, app, async container =>
        {
            foreach (var step in steps)
                await container.RunAsync(step, plan.Options.Pip, cancellationToken).ConfigureAwait(false);
            DjangoSettings? django = null;
            if (plan.Detected.Django is { } project)
            {
                django = DjangoSupport.ParseSettings(await container.ReadFileAsync(DjangoSupport.SettingsFile, cancellationToken).ConfigureAwait(false))
                    ?? throw DjangoSupport.Unreadable(project);
            }
            return (await container.CaptureAsync(cache, plan.Epoch, _ => false, cancellationToken, AppGroupWritable).ConfigureAwait(false), django);
        }, cancellationToken).ConfigureAwait(false);
        return new ApplicationLayer(new AddedLayer(layer, "ModWsgi.Sdk application: /app + " + string.Join(", ", steps.Select(s => s.Name))), django);
    }

    /// <summary>
    /// /app as written from the folder, then the install's entries outside /app — both on a cold build and on a reuse,
    /// so the same inputs give the same layer either way.
    /// </summary>
    private async Task<AddedLayer> WithProjectInstallAsync(ImagePlan plan, RuntimeLayer runtime, DependencyLayer dependencies, Layer app,
        BuildStep install, IReadOnlyList<string> installInputs, CancellationToken cancellationToken)
    {
        var key = ProjectInstallKey.Compute(plan.Files, installInputs, install, dependencies.CacheKey);
        var installed = cache.FindProjectInstall(key);
        using var held = installed is null ? await cache.LockAsync("project-install", key, $"this project's install (key {key})", cancellationToken).ConfigureAwait(false) : null;
        if (held is { Held: true })
            installed = cache.FindProjectInstall(key);
        if (installed is not null)
            logger.LogInformation(" -----> project install: cached (key {Key}): the metadata and the file layout are unchanged", key);
        else
        {
            installed = await InStageAsync(plan, runtime, dependencies, app, async container =>
            {
                await container.RunAsync(install, plan.Options.Pip, cancellationToken).ConfigureAwait(false);
                return await container.CaptureAsync(cache, SourceDateEpoch.Fixed,
                    path => path == LayerSources.AppDirectory || path.StartsWith(LayerSources.AppDirectory + "/", StringComparison.Ordinal), cancellationToken).ConfigureAwait(false);
            }, cancellationToken).ConfigureAwait(false);
            cache.SaveProjectInstall(key, installed);
        }
        var layer = await LayerWriter.WriteAsync(cache.Blobs, plan.Epoch, async w =>
        {
            await LayerSources.WriteProjectAsync(w, plan.Files, null, cancellationToken).ConfigureAwait(false);
            // /app sorts before /opt: the combined entries stay in order.
            try
            {
                await using var blob = cache.Blobs.OpenRead(installed.Blob.Digest);
                await using var gzip = new GZipStream(blob, CompressionMode.Decompress);
                using var reader = new TarReader(gzip);
                while (await reader.GetNextEntryAsync(copyData: true, cancellationToken).ConfigureAwait(false) is { } entry)
                    await w.AddEntryAsync(entry, entry.Name, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException or FormatException && !cache.Blobs.VerifyOrRemove(installed.Blob.Digest))
            {
                // Damaged on disk with its size intact (the lookup checks the size): removed, and the pipeline builds once more.
                throw VerifyingBlobStore.Damaged(cache.Blobs, installed.Blob.Digest);
            }
        }, AppGroupWritable).ConfigureAwait(false);
        return new AddedLayer(layer, "ModWsgi.Sdk application: /app + " + install.Name);
    }

    /// <summary>Runs <paramref name="work"/> in a container of base + runtime + dependencies (loaded once into the engine) holding /app.</summary>
    private async Task<T> InStageAsync<T>(ImagePlan plan, RuntimeLayer runtime, DependencyLayer dependencies, Layer app,
        Func<BuildContainer, Task<T>> work, CancellationToken cancellationToken)
    {
        IReadOnlyList<AddedLayer> below = [runtime.Added, dependencies.Added];
        var stageConfig = ImageConfigWriter.Write(plan.Base, below, new ImageSettings
        {
            Env = plan.Base.Env,
            WorkingDir = BuildPlan.AppRoot,
            Labels = new Dictionary<string, string> { [ImageLabels.Owned] = ImageLabels.Stage },
        }, SourceDateEpoch.Fixed);
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
        return await BuildContainer.UseAsync(engine, stageId, plan.ContainerLabels, logger, async container =>
        {
            await container.ExtractAsync(cache, app.Blob.Digest, cancellationToken).ConfigureAwait(false);
            return await work(container).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>
/// What a project's editable install writes outside /app depends on: the dependency layer it installs onto, the
/// install command, the contents of the metadata files (<see cref="BuildPlan.ProjectInstallInputs"/>) and the paths of
/// the project's files (packages the backend finds) — not the other files' contents, so a code or template edit reuses it.
/// </summary>
public static class ProjectInstallKey
{
    public static string Compute(ProjectFiles files, IReadOnlyList<string> inputs, BuildStep install, string dependencyKey)
    {
        var text = new StringBuilder().Append(dependencyKey).Append('\n').Append(install.Script).Append('\n');
        var contents = inputs.ToHashSet(StringComparer.Ordinal);
        foreach (var file in files.Enumerate())
        {
            text.Append(file.RelativePath).Append(file.IsDirectory ? "/" : "");
            if (contents.Contains(file.RelativePath) && file.Info is FileInfo info)
            {
                using var content = info.OpenRead();
                text.Append(' ').Append(Digests.Sha256(content));
            }
            text.Append('\n');
        }
        return Digests.Sha256(Encoding.UTF8.GetBytes(text.ToString()));
    }
}
