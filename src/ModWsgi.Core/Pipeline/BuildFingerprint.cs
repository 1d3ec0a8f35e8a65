using System.Reflection;
using System.Security.Cryptography;
using System.Text.Json.Serialization;
using System.Text.Json;
using System.Text;
using ModWsgi.Core.Cache;
using ModWsgi.Core.Layers;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Pipeline;
using ModWsgi.Core.Project;
using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Pipeline;

/// <summary>
/// Everything that feeds the image except the base image id, cheaply: the options, the SDK (runtime scripts'
/// contents and its version), SOURCE_DATE_EPOCH, the checkout, and each project file's path, size, mode and mtime.
/// </summary>
public static class BuildFingerprint
{
    public static string Local(ImageBuildOptions options, BuildEnvironment environment, GitCheckout git)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(string text) => hash.AppendData(Encoding.UTF8.GetBytes(text + "\n"));
        // What feeds the image, not where the front end keeps its SDK files: the SDK package and the tool hold the
        // runtime scripts in different folders (their contents are added below), so the two share one record.
        Add(JsonSerializer.Serialize(options with { RuntimeDirectory = "", BaseImageRecipe = null, CacheSizeLimit = null }, FingerprintJson.Default.ImageBuildOptions));
        // The SDK's version (with its source revision), the same in the task and the tool built from one commit.
        Add(typeof(BuildFingerprint).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "");
        Add(environment.SourceDateEpoch ?? "");
        foreach (var script in PlanStep.RuntimeScriptPaths(options))
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
}

/// <summary>Compiled (not reflection) serialization of the options for the fingerprint: a cold start pays no reflection.</summary>
[JsonSerializable(typeof(ImageBuildOptions))]
internal sealed partial class FingerprintJson : JsonSerializerContext;
