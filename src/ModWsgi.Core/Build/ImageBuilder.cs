using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Engine;
using ModWsgi.Core.Layers;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Project;

namespace ModWsgi.Core.Build;

/// <summary>An image built but not yet published: its config and the layers it adds to its base.</summary>
public sealed record BuiltImage(BaseImage Base, IReadOnlyList<AddedLayer> Added, byte[] ConfigBytes)
{
    /// <summary>The config digest: the engine's image id, equal for equal inputs.</summary>
    public string ImageId => Digests.Sha256(ConfigBytes);
}

/// <summary>
/// Builds the application image as layers on the base image (DESIGN.md §3):
/// runtime (our scripts, written directly), dependencies (pre-build hook, VCS tools, pip: run in a build
/// container that sees only their inputs, cached by them) and application (the folder as <see cref="ProjectFiles"/>
/// gives it: .dockerignore-filtered, never the build's own files; written directly — or, when a build hook runs,
/// captured from a container that ran it).
/// Every build container is removed whatever happens, cancellation included.
/// </summary>
public sealed class ImageBuilder(IContainerEngine engine, ILogger logger, PhaseTimings? timings = null)
{
    /// <summary>How many trailing output lines a failed step's error quotes.</summary>
    private const int FailureTailLines = 15;

    public const string Entrypoint = "mod_wsgi-docker-start";
    /// <summary>Images of base + runtime + dependencies that build hooks run on.</summary>
    public const string StageImagePrefix = "modwsgi/stage:";
    public static readonly IReadOnlyList<string> RuntimeScripts = ["mod_wsgi-docker-start", "mod_wsgi-docker-shell", "modwsgi-launch", "modwsgi-environment"];
    /// <summary>The image's server options again, one per line: `docker run IMAGE ARGS` replaces Cmd, and the start script adds ARGS after these instead.</summary>
    public const string ImageArgsVariable = "MODWSGI_IMAGE_ARGS";
    /// <summary>Which server mod_wsgi-docker-start runs: mod_wsgi (when absent), gunicorn, waitress, python-app, shell-app.</summary>
    public const string ServerVariable = "MODWSGI_SERVER";

    public async Task<BuiltImage> BuildAsync(ImageBuildOptions options, BuildEnvironment environment, BaseImage baseImage, GitCheckout git, BuildCache cache, CancellationToken cancellationToken)
    {
        var runtimeFiles = RuntimeScriptPaths(options);
        var plan = BuildPlan.Create(options.ProjectDirectory);
        var detected = FrameworkDetection.Detect(options.ProjectDirectory, options.WsgiServer,
            entryPointGiven: options.Server.EntryPoint is not null || options.Server.ApplicationType != WsgiApplicationType.Script,
            options.FrameworkDetection, plan.Requirements);
        if (detected.Django is null && detected.Server is not (ServerKind.PythonApp or ServerKind.ShellApp))
            ServerOptionsValidator.Validate(options.ProjectDirectory, options.Server);
        foreach (var warning in plan.Warnings)
            logger.LogWarning(new EventId(warning.Code.Number, warning.Code.Id), "{Message}", warning.Message);
        if (detected.Server != ServerKind.ModWsgi || detected.Django is not null)
            logger.LogInformation(" -----> Detected: server {Server}{Django}", detected.Server.Name(),
                detected.Django is { } d ? $", Django project (settings {d.SettingsModule})" : "");

        var project = ProjectFiles.For(options);
        var epoch = SourceDateEpoch.Resolve(git, environment.SourceDateEpoch);

        timings?.Lap("plan");
        var runtime = await WriteLayerAsync(cache, SourceDateEpoch.Fixed, w => LayerSources.WriteRuntimeAsync(w, runtimeFiles, cancellationToken)).ConfigureAwait(false);
        timings?.Lap("runtime-layer");
        var dependencies = await DependenciesAsync(options, plan, project, baseImage, runtime, cache, cancellationToken).ConfigureAwait(false);
        timings?.Lap("dependencies");
        var added = new List<AddedLayer>
        {
            new(runtime, "ModWsgi.Sdk runtime: " + string.Join(", ", RuntimeScripts)),
            new(dependencies, "ModWsgi.Sdk dependencies: " + string.Join(", ", plan.DependencySteps.Select(s => s.Name).DefaultIfEmpty("none"))),
        };

        var appSteps = new List<BuildStep>();
        if (detected.Django is { } django)
            appSteps.Add(DjangoSupport.Step(django, options.DjangoCollectStatic));
        if (plan.BuildHook is { } hook)
            appSteps.Add(hook);
        var server = options.Server;
        Layer application;
        if (appSteps.Count == 0)
        {
            application = await WriteLayerAsync(cache, epoch, w => LayerSources.WriteProjectAsync(w, project, null, cancellationToken)).ConfigureAwait(false);
        }
        else
        {
            var settings = new DjangoSettingsReader();
            application = await ApplicationInContainerAsync(options, appSteps, settings.Observe, project, baseImage, added, epoch, cache, cancellationToken).ConfigureAwait(false);
            if (detected.Django is { } found)
                server = DjangoSupport.Apply(server, found, settings.Result ?? throw DjangoSupport.Unreadable(found));
        }
        timings?.Lap("application-layer");
        added.Add(new AddedLayer(application, "ModWsgi.Sdk application: /app" + (appSteps.Count == 0 ? "" : " + " + string.Join(", ", appSteps.Select(s => s.Name)))));

        var effective = options with { Server = server };
        var config = ImageConfigWriter.Write(baseImage, added, ImageSettingsFor(effective, detected.Server, baseImage, epoch, git), epoch);
        return new BuiltImage(baseImage, added, config);
    }

    /// <summary>The SDK's runtime scripts; a missing one means a broken SDK package.</summary>
    public static IReadOnlyList<string> RuntimeScriptPaths(ImageBuildOptions options)
    {
        var files = RuntimeScripts.Select(name => Path.Combine(options.RuntimeDirectory, name)).ToArray();
        if (files.FirstOrDefault(f => !File.Exists(f)) is { } missing)
            throw new ModWsgiException(DiagnosticCodes.RuntimeFilesMissing,
                $"The SDK's runtime script '{missing}' is missing: the ModWsgi.Sdk package is incomplete; clear it from the NuGet cache and restore again.");
        return files;
    }

    /// <summary>The base image; also the run's first engine call, which reports an unreachable engine (MODWSGI3001).</summary>
    public async Task<BaseImage> InspectBaseAsync(ImageBuildOptions options, CancellationToken cancellationToken)
    {
        var inspect = await engine.InspectImageAsync(options.BaseImage, cancellationToken).ConfigureAwait(false)
            ?? throw BaseImageMissing(options);
        return BaseImage.FromInspect(options.BaseImage, inspect);
    }

    private async Task<Layer> DependenciesAsync(ImageBuildOptions options, BuildPlan plan, ProjectFiles project, BaseImage baseImage,
        Layer runtime, BuildCache cache, CancellationToken cancellationToken)
    {
        var key = DependencyKey.Compute(project, plan, baseImage.Id, runtime.DiffId, options.Pip);
        var notes = cache.ReadProjectNotes(options.ProjectDirectory);
        var previous = (notes["dependencies"] as JsonObject)?
            .Where(p => p.Value is JsonValue v && v.TryGetValue<string>(out _))
            .ToDictionary(p => p.Key, p => p.Value!.GetValue<string>());
        if (cache.FindDependencies(key.Key) is { } cached)
        {
            logger.LogInformation(" -----> dependencies: cached (key {Key})", key.Key);
        }
        else
        {
            logger.LogInformation(" -----> dependencies: miss (key {Key}): {Reasons}", key.Key, string.Join("; ", key.DescribeChangesFrom(previous)));
            cached = await RunDependencyStepsAsync(options, plan, project, baseImage, cache, cancellationToken).ConfigureAwait(false);
            cache.SaveDependencies(key.Key, cached);
        }
        notes["dependencies"] = new JsonObject(key.Components.Select(c => KeyValuePair.Create(c.Key, (JsonNode?)c.Value)));
        cache.WriteProjectNotes(options.ProjectDirectory, notes);
        return cached;
    }

    private async Task<Layer> RunDependencyStepsAsync(ImageBuildOptions options, BuildPlan plan, ProjectFiles project, BaseImage baseImage,
        BuildCache cache, CancellationToken cancellationToken)
    {
        // The inputs travel as a gzip tar blob that is not part of the image; docker extracts it into /app.
        var filter = plan.DependencyInputFilter();
        var inputs = await WriteLayerAsync(cache, SourceDateEpoch.Fixed, w => LayerSources.WriteProjectAsync(w, project, filter, cancellationToken)).ConfigureAwait(false);
        var inputFiles = project.Enumerate(filter)
            .Where(f => !f.IsDirectory).Select(f => LayerSources.AppDirectory + "/" + f.RelativePath).ToHashSet(StringComparer.Ordinal);

        return await InBuildContainerAsync(baseImage.Id, async containerId =>
        {
            await using (var blob = cache.Blobs.OpenRead(inputs.Blob.Digest))
                await engine.PutArchiveAsync(containerId, "/", blob, cancellationToken).ConfigureAwait(false);
            foreach (var step in plan.DependencySteps)
                await RunStepAsync(containerId, step, options, cancellationToken).ConfigureAwait(false);
            // The input files belong to the application layer; the dependency layer holds what the steps made.
            return await WriteLayerAsync(cache, SourceDateEpoch.Fixed,
                w => ContainerDiffCapture.CaptureAsync(engine, containerId, w, inputFiles.Contains, cancellationToken)).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    private async Task<Layer> ApplicationInContainerAsync(ImageBuildOptions options, IReadOnlyList<BuildStep> steps, Action<string> onLine,
        ProjectFiles project, BaseImage baseImage, IReadOnlyList<AddedLayer> below, DateTimeOffset epoch, BuildCache cache, CancellationToken cancellationToken)
    {
        // These steps need the dependencies installed: run them on base + runtime + dependencies, loaded once into the engine.
        var stageConfig = ImageConfigWriter.Write(baseImage, below, new ImageSettings { Env = baseImage.Env, WorkingDir = BuildPlan.AppRoot }, SourceDateEpoch.Fixed);
        var stageId = Digests.Sha256(stageConfig);
        if (await engine.InspectImageAsync(stageId, cancellationToken).ConfigureAwait(false) is null)
        {
            // Tagged, not dangling: the engine keeps it as the build hook's cache, under a name that says what it is.
            var stageName = StageImagePrefix + Digests.Hex(stageId)[..12];
            logger.LogInformation(" -----> Loading the dependency stage {Stage} into the engine for the build hook", stageName);
            await LoadAsync(stageConfig, baseImage, below.Select(a => a.Layer).ToArray(), [stageName], cache, cancellationToken).ConfigureAwait(false);
        }
        var app = await WriteLayerAsync(cache, epoch, w => LayerSources.WriteProjectAsync(w, project, null, cancellationToken)).ConfigureAwait(false);
        return await InBuildContainerAsync(stageId, async containerId =>
        {
            await using (var blob = cache.Blobs.OpenRead(app.Blob.Digest))
                await engine.PutArchiveAsync(containerId, "/", blob, cancellationToken).ConfigureAwait(false);
            foreach (var step in steps)
                await RunStepAsync(containerId, step, options, cancellationToken, onLine).ConfigureAwait(false);
            return await WriteLayerAsync(cache, epoch, w => ContainerDiffCapture.CaptureAsync(engine, containerId, w, _ => false, cancellationToken)).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Loads an image into the engine, shipping only layers it lacks: never the base, and not the leading
    /// layers it already holds under <paramref name="tags"/>' current image (runtime and dependencies on a
    /// source-only rebuild).
    /// </summary>
    public async Task LoadAsync(byte[] config, BaseImage baseImage, IReadOnlyList<Layer> added, IReadOnlyList<string> tags, BuildCache cache, CancellationToken cancellationToken)
    {
        var diffIds = baseImage.DiffIds.Concat(added.Select(l => l.DiffId)).ToArray();
        var held = baseImage.DiffIds.Count;
        if (tags.Count > 0 && await engine.InspectImageAsync(tags[0], cancellationToken).ConfigureAwait(false) is { } current
            && current["RootFS"]?["Layers"] is JsonArray layers)
        {
            var common = layers.Select(l => l?.GetValue<string>()).Zip(diffIds).TakeWhile(p => p.First == p.Second).Count();
            held = Math.Max(held, common);
        }
        var spool = cache.Blobs.NewTempFile();
        await using var stream = new FileStream(spool, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.DeleteOnClose);
        await ImageArchiveWriter.WriteForEngineAsync(stream, config, diffIds, held, added, cache.Blobs, tags, cancellationToken).ConfigureAwait(false);
        stream.Position = 0;
        timings?.Lap("engine-archive");
        await engine.LoadImageAsync(stream, cancellationToken).ConfigureAwait(false);
        timings?.Lap("engine-load");
    }

    private async Task<T> InBuildContainerAsync<T>(string image, Func<string, Task<T>> work, CancellationToken cancellationToken)
    {
        var containerId = await engine.CreateContainerAsync(new ContainerSpec(image, ["sleep", "infinity"])
        {
            Name = $"modwsgi-build-{Guid.NewGuid():N}"[..26],
            WorkingDir = BuildPlan.AppRoot,
        }, cancellationToken).ConfigureAwait(false);
        try
        {
            await engine.StartContainerAsync(containerId, cancellationToken).ConfigureAwait(false);
            return await work(containerId).ConfigureAwait(false);
        }
        finally
        {
            // Not the build's token: a cancelled build must still remove its container.
            await engine.RemoveContainerAsync(containerId, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private async Task RunStepAsync(string containerId, BuildStep step, ImageBuildOptions options, CancellationToken cancellationToken, Action<string>? onLine = null)
    {
        logger.LogInformation(" -----> {Title}", step.Title);
        var tail = new Queue<string>();
        var exec = new ExecSpec(["/bin/bash", "-c", "set -eo pipefail\n" + step.Script])
        {
            WorkingDir = BuildPlan.AppRoot,
            // SOURCE_DATE_EPOCH makes Python write .pyc files in checked-hash mode: reproducible bytes.
            Env = [.. options.Pip.ToEnvironment(), "DEBIAN_FRONTEND=noninteractive",
                   "SOURCE_DATE_EPOCH=" + SourceDateEpoch.Fixed.ToUnixTimeSeconds()],
        };
        var exitCode = await engine.ExecAsync(containerId, exec, line =>
        {
            logger.LogInformation("       {Line}", line.Text);
            onLine?.Invoke(line.Text);
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

    private static async Task<Layer> WriteLayerAsync(BuildCache cache, DateTimeOffset epoch, Func<LayerWriter, Task> write)
    {
        await using var writer = new LayerWriter(cache.Blobs, epoch);
        await write(writer).ConfigureAwait(false);
        return await writer.CompleteAsync().ConfigureAwait(false);
    }

    private static ImageSettings ImageSettingsFor(ImageBuildOptions options, ServerKind server, BaseImage baseImage, DateTimeOffset epoch, GitCheckout git)
    {
        var cmd = options.Server.ToArguments();
        var env = baseImage.Env.Append(ImageArgsVariable + "=" + string.Join('\n', cmd)).ToList();
        if (server != ServerKind.ModWsgi)
            env.Add(ServerVariable + "=" + server.Name());
        foreach (var (name, value) in options.EnvironmentVariables)
        {
            env.RemoveAll(e => e.StartsWith(name + "=", StringComparison.Ordinal));
            env.Add(name + "=" + value);
        }
        return new ImageSettings
        {
            Entrypoint = [Entrypoint],
            Cmd = cmd,
            WorkingDir = BuildPlan.AppRoot,
            Env = env,
            ExposedPorts = [options.Server.Port + "/tcp"],
            Labels = ImageLabels.For(options, epoch, git),
            User = options.User,
            // A plain `python app.py` or shell script as PID 1 ignores SIGTERM (no handler): `docker stop`
            // would wait 10 s and SIGKILL. Python and shells do stop on SIGINT.
            StopSignal = server is ServerKind.PythonApp or ServerKind.ShellApp ? "SIGINT" : null,
        };
    }

    private static ModWsgiException BaseImageMissing(ImageBuildOptions options)
    {
        var command = options.BaseImageRecipe is null
            ? "the base image recipe shipped in the ModWsgi.Sdk package (baseimage/build-base-image.sh)"
            : $"sudo bash {options.BaseImageRecipe} {options.BaseImage}";
        return new ModWsgiException(DiagnosticCodes.BaseImageMissing,
            $"The base image '{options.BaseImage}' is not in the local container engine. It is built from Debian packages, not pulled: build it once with: {command}");
    }
}
