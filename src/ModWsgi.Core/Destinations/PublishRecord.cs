using System.Text.Json.Nodes;

namespace ModWsgi.Core.Destinations;

/// <summary>
/// The last publish of a project, kept in its build-cache notes: what fed it (<see cref="Fingerprint"/>) and
/// what the destination was given, so the next publish can ask the destination whether it still holds that.
/// </summary>
public sealed record PublishRecord(string Fingerprint, PublishResult Result)
{
    private const string Key = "publish";

    /// <summary>The record in <paramref name="notes"/>, or null when there is none or it is not this shape.</summary>
    public static PublishRecord? Read(JsonObject notes)
    {
        if (notes[Key] is not JsonObject last
            || Text(last, "fingerprint") is not { } fingerprint || Text(last, "imageId") is not { } imageId
            || last["images"] is not JsonArray images)
            return null;
        var names = images.Select(i => i is JsonValue v && v.TryGetValue<string>(out var name) ? name : null).ToArray();
        if (names.Any(n => n is null))
            return null;
        return new PublishRecord(fingerprint, new PublishResult(imageId, Text(last, "manifestDigest"), names!, Text(last, "archivePath"))
        {
            ArchiveDigest = Text(last, "archiveDigest"),
            ArchiveSize = last["archiveSize"] is JsonValue size && size.TryGetValue<long>(out var bytes) ? bytes : null,
        });
    }

    public void WriteTo(JsonObject notes) => notes[Key] = new JsonObject
    {
        ["fingerprint"] = Fingerprint,
        ["imageId"] = Result.ImageId,
        ["manifestDigest"] = Result.ManifestDigest,
        ["images"] = new JsonArray(Result.Images.Select(i => (JsonNode?)JsonValue.Create(i)).ToArray()),
        ["archivePath"] = Result.ArchivePath,
        ["archiveDigest"] = Result.ArchiveDigest,
        ["archiveSize"] = Result.ArchiveSize,
    };

    private static string? Text(JsonObject node, string name) =>
        node[name] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;
}
