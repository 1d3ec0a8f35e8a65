using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Engine;

namespace ModWsgi.Core.Build;

/// <summary>What a build produced.</summary>
public sealed record ImageBuildResult(string ImageId, IReadOnlyList<ImageReference> Images);

/// <summary>
/// Builds an application image: a build container from the base image receives the runtime scripts and the
/// app folder, runs the planned steps with their output streamed to the log, and is committed and tagged
/// only when every step succeeded. The build container is removed whatever happens, cancellation included.
/// </summary>
public sealed class ImageBuilder(IContainerEngine engine, ILogger logger)
{
    /// <summary>How many trailing output lines a failed step's error quotes.</summary>
    private const int FailureTailLines = 15;

    public const string Entrypoint = "mod_wsgi-docker-start";
    public static readonly IReadOnlyList<string> RuntimeScripts = ["mod_wsgi-docker-start", "mod_wsgi-docker-shell", "modwsgi-launch"];

    public async Task<ImageBuildResult> BuildAsync(ImageBuildOptions options, CancellationToken cancellationToken)
    {
        var references = options.Tags.Select(tag => ImageReference.Create(options.Repository, tag)).ToArray();
        var runtimeFiles = RuntimeScripts.Select(name => Path.Combine(options.RuntimeDirectory, name)).ToArray();
        if (runtimeFiles.FirstOrDefault(f => !File.Exists(f)) is { } missing)
            throw new ModWsgiException(DiagnosticCodes.RuntimeFilesMissing,
                $"The SDK's runtime script '{missing}' is missing: the ModWsgi.Sdk package is incomplete; clear it from the NuGet cache and restore again.");
        ServerOptionsValidator.Validate(options.ProjectDirectory, options.Server);
        var plan = BuildPlan.Create(options.ProjectDirectory);
        foreach (var warning in plan.Warnings)
            logger.LogWarning(new EventId(warning.Code.Number, warning.Code.Id), "{Message}", warning.Message);

        var version = await engine.PingAsync(cancellationToken).ConfigureAwait(false);
        logger.LogInformation("Container engine {Version} (API {Api}) at {Endpoint}", version.Version, version.ApiVersion, engine.Endpoint.Display);
        var baseImage = await engine.InspectImageAsync(options.BaseImage, cancellationToken).ConfigureAwait(false)
            ?? throw BaseImageMissing(options);

        var containerId = await engine.CreateContainerAsync(new ContainerSpec(options.BaseImage, ["sleep", "infinity"])
        {
            Name = $"modwsgi-build-{Guid.NewGuid():N}"[..26],
            WorkingDir = BuildPlan.AppRoot,
        }, cancellationToken).ConfigureAwait(false);
        try
        {
            await engine.StartContainerAsync(containerId, cancellationToken).ConfigureAwait(false);
            await CopyIntoAsync(containerId, "/", s => ContextArchive.WriteExecutablesAsync(s, runtimeFiles, "usr/local/bin", cancellationToken), cancellationToken).ConfigureAwait(false);
            await CopyIntoAsync(containerId, "/", s => ContextArchive.WriteDirectoryAsync(s, options.ProjectDirectory, BuildPlan.AppRoot.TrimStart('/'), cancellationToken), cancellationToken).ConfigureAwait(false);

            foreach (var step in plan.Steps)
                await RunStepAsync(containerId, step, options, cancellationToken).ConfigureAwait(false);

            var config = ImageConfig(options, baseImage);
            logger.LogInformation(" -----> Committing {Image}", references[0]);
            var imageId = await engine.CommitAsync(containerId, references[0], config, cancellationToken).ConfigureAwait(false);
            foreach (var reference in references.Skip(1))
                await engine.TagImageAsync(imageId, reference, cancellationToken).ConfigureAwait(false);
            logger.LogInformation("Built {ImageId} as {Images}", imageId, string.Join(", ", references.Select(r => r.ToString())));
            return new ImageBuildResult(imageId, references);
        }
        finally
        {
            // Not the build's token: a cancelled build must still remove its container.
            await engine.RemoveContainerAsync(containerId, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private async Task RunStepAsync(string containerId, BuildStep step, ImageBuildOptions options, CancellationToken cancellationToken)
    {
        logger.LogInformation(" -----> {Title}", step.Title);
        var tail = new Queue<string>();
        var exec = new ExecSpec(["/bin/bash", "-c", "set -eo pipefail\n" + step.Script])
        {
            WorkingDir = BuildPlan.AppRoot,
            Env = [.. options.Pip.ToEnvironment(), "DEBIAN_FRONTEND=noninteractive"],
        };
        var exitCode = await engine.ExecAsync(containerId, exec, line =>
        {
            logger.LogInformation("       {Line}", line.Text);
            tail.Enqueue(line.Text);
            if (tail.Count > FailureTailLines)
                tail.Dequeue();
        }, cancellationToken).ConfigureAwait(false);
        if (exitCode != 0)
        {
            throw new ModWsgiException(DiagnosticCodes.BuildStepFailed,
                $"The build step '{step.Name}' ({step.Title}) failed with exit code {exitCode}; no image was tagged. " +
                $"Fix the cause shown in its last lines of output and build again:{Environment.NewLine}" +
                string.Join(Environment.NewLine, tail.Select(l => "    " + l)));
        }
    }

    private async Task CopyIntoAsync(string containerId, string path, Func<Stream, Task> writeTar, CancellationToken cancellationToken)
    {
        // Spooled to a temp file so a large app folder never sits in memory whole.
        var spool = Path.Combine(Path.GetTempPath(), $"modwsgi-context-{Guid.NewGuid():N}.tar");
        await using var stream = new FileStream(spool, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 81920, FileOptions.DeleteOnClose);
        await writeTar(stream).ConfigureAwait(false);
        stream.Position = 0;
        await engine.PutArchiveAsync(containerId, path, stream, cancellationToken).ConfigureAwait(false);
    }

    private static JsonObject ImageConfig(ImageBuildOptions options, JsonObject baseImage)
    {
        var baseEnv = baseImage["Config"]?["Env"]?.AsArray().Select(e => (JsonNode?)e!.GetValue<string>()).ToArray() ?? [];
        return new JsonObject
        {
            ["Entrypoint"] = new JsonArray(Entrypoint),
            ["Cmd"] = new JsonArray(options.Server.ToArguments().Select(a => (JsonNode?)a).ToArray()),
            ["WorkingDir"] = BuildPlan.AppRoot,
            ["Env"] = new JsonArray(baseEnv),
            ["ExposedPorts"] = new JsonObject { ["80/tcp"] = new JsonObject() },
            ["Labels"] = new JsonObject { ["org.opencontainers.image.title"] = options.Repository },
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
