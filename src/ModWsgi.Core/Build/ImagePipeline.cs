using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using ModWsgi.Core.Engine;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Project;

namespace ModWsgi.Core.Build;

/// <summary>
/// The one entry point the MSBuild task and the CLI share: build, then publish — or, when nothing that
/// feeds the image changed since the last publish to the same destination and the destination still has
/// it, do neither and say so.
/// </summary>
public sealed class ImagePipeline(IContainerEngine engine, ILogger logger)
{
    public async Task<PublishResult> PublishAsync(ImageBuildOptions options, BuildEnvironment environment, CancellationToken cancellationToken)
    {
        foreach (var tag in options.Tags)
            ImageReference.Create(options.Repository, tag);
        var timings = new PhaseTimings(logger);
        var builder = new ImageBuilder(engine, logger, timings);
        var cache = new BuildCache(options.CacheDirectory ?? environment.CacheDirectory);

        // The first engine round trip (connection set-up included) and the local reads overlap: git runs a
        // process and the fingerprint reads every project file's metadata.
        var local = Task.Run(() =>
        {
            var checkout = GitCheckout.Read(options.ProjectDirectory);
            return (Git: checkout, Fingerprint: LocalFingerprint(options, environment, checkout));
        }, cancellationToken);
        BaseImage baseImage;
        try
        {
            baseImage = await builder.InspectBaseAsync(options, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // Never leave the local reads running past a failed inspect.
            await Task.WhenAny(local).ConfigureAwait(false);
        }
        var (git, localFingerprint) = await local.ConfigureAwait(false);
        var fingerprint = Digests.Sha256(Encoding.UTF8.GetBytes(localFingerprint + "\n" + baseImage.Id));
        timings.Lap("inspect-base+git+fingerprint");

        var notes = cache.ReadProjectNotes(options.ProjectDirectory);
        if (notes["publish"] is JsonObject last && last["fingerprint"]?.GetValue<string>() == fingerprint
            && await StillPublishedAsync(last, options, cancellationToken).ConfigureAwait(false))
        {
            var previous = new PublishResult(last["imageId"]!.GetValue<string>(), last["manifestDigest"]?.GetValue<string>(),
                last["images"]!.AsArray().Select(i => i!.GetValue<string>()).ToArray(), last["archivePath"]?.GetValue<string>(), UpToDate: true);
            logger.LogInformation("Image up to date: nothing changed since the last publish of {Images} ({ImageId}); skipped the build.",
                string.Join(", ", previous.Images), previous.ImageId);
            timings.Lap("up-to-date-check");
            timings.Report();
            return previous;
        }

        var built = await builder.BuildAsync(options, environment, baseImage, git, cache, cancellationToken).ConfigureAwait(false);
        var result = await new ImagePublisher(engine, builder, logger).PublishAsync(built, options, environment, cache, cancellationToken).ConfigureAwait(false);
        timings.Lap("publish");

        notes = cache.ReadProjectNotes(options.ProjectDirectory);
        notes["publish"] = new JsonObject
        {
            ["fingerprint"] = fingerprint,
            ["imageId"] = result.ImageId,
            ["manifestDigest"] = result.ManifestDigest,
            ["images"] = new JsonArray(result.Images.Select(i => (JsonNode?)JsonValue.Create(i)).ToArray()),
            ["archivePath"] = result.ArchivePath,
        };
        cache.WriteProjectNotes(options.ProjectDirectory, notes);
        timings.Report();
        return result;
    }

    /// <summary>
    /// Everything that feeds the image except the base image id, cheaply: the options, the SDK (runtime
    /// scripts' contents and its version), SOURCE_DATE_EPOCH, the checkout, and each project file's path, size, mode
    /// and mtime.
    /// </summary>
    internal static string LocalFingerprint(ImageBuildOptions options, BuildEnvironment environment, GitCheckout git)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(string text) => hash.AppendData(Encoding.UTF8.GetBytes(text + "\n"));
        // What feeds the image, not where the front end keeps its SDK files: the SDK package and the tool hold the
        // runtime scripts in different folders (their contents are added below), so the two share one record.
        Add(JsonSerializer.Serialize(options with { RuntimeDirectory = "", BaseImageRecipe = null }, FingerprintJson.Default.ImageBuildOptions));
        // The SDK's version (with its source revision), the same in the task and the tool built from one commit.
        Add(typeof(ImagePipeline).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "");
        Add(environment.SourceDateEpoch ?? "");
        foreach (var script in ImageBuilder.RuntimeScriptPaths(options))
            Add(Digests.Sha256(File.ReadAllBytes(script)));
        foreach (var file in ProjectFiles.For(options).Enumerate())
        {
            var info = file.Info;
            Add($"{file.RelativePath}|{(info as FileInfo)?.Length}|{(int)info.UnixFileMode}|{info.LastWriteTimeUtc.Ticks}|{info.LinkTarget}");
        }
        // The checkout feeds the labels and the epoch.
        Add(git.ToString());
        return "sha256:" + Convert.ToHexStringLower(hash.GetCurrentHash());
    }

    private async Task<bool> StillPublishedAsync(JsonObject last, ImageBuildOptions options, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrEmpty(options.ArchiveOutputPath))
            return last["archivePath"]?.GetValue<string>() is { } path && File.Exists(path);
        if (!string.IsNullOrEmpty(options.Registry))
            return true; // a registry keeps what it was given; re-pushing unchanged blobs would be skipped anyway
        var imageId = last["imageId"]!.GetValue<string>();
        foreach (var name in options.ImageNames())
        {
            var inspect = await engine.InspectImageAsync(name, cancellationToken).ConfigureAwait(false);
            if (inspect?["Id"]?.GetValue<string>() != imageId)
                return false;
        }
        return true;
    }
}

/// <summary>Compiled (not reflection) serialization of the options for the fingerprint: a cold start pays no reflection.</summary>
[JsonSerializable(typeof(ImageBuildOptions))]
internal sealed partial class FingerprintJson : JsonSerializerContext;
