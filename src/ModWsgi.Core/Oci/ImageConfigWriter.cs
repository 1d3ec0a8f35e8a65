using System.Text;
using System.Text.Json.Nodes;

namespace ModWsgi.Core.Oci;

/// <summary>
/// Writes the OCI image config: the base image's platform and layers, our layers, settings and history,
/// with every time set to the build epoch and a fixed property order, so equal inputs give equal bytes.
/// </summary>
public static class ImageConfigWriter
{
    public static byte[] Write(BaseImage baseImage, IReadOnlyList<AddedLayer> added, ImageSettings settings, DateTimeOffset created)
    {
        var timestamp = created.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
        var config = new JsonObject
        {
            ["Env"] = Array(settings.Env),
            ["Entrypoint"] = Array(settings.Entrypoint),
            ["Cmd"] = Array(settings.Cmd),
            ["WorkingDir"] = settings.WorkingDir,
            ["ExposedPorts"] = new JsonObject(settings.ExposedPorts.Order(StringComparer.Ordinal).Select(p => KeyValuePair.Create(p, (JsonNode?)new JsonObject()))),
            ["Labels"] = new JsonObject(settings.Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => KeyValuePair.Create(l.Key, (JsonNode?)l.Value))),
        };
        if (!string.IsNullOrEmpty(settings.User))
            config["User"] = settings.User;
        if (!string.IsNullOrEmpty(settings.StopSignal))
            config["StopSignal"] = settings.StopSignal;
        if (settings.HealthCheck is { } check)
        {
            // Docker's field names; durations in nanoseconds, as Docker's image config holds them.
            config["Healthcheck"] = new JsonObject
            {
                ["Test"] = Array(check.Test),
                ["Interval"] = Nanoseconds(check.Interval),
                ["Timeout"] = Nanoseconds(check.Timeout),
                ["StartPeriod"] = Nanoseconds(check.StartPeriod),
                ["Retries"] = check.Retries,
            };
        }

        var history = new JsonArray();
        foreach (var _ in baseImage.DiffIds)
            history.Add(new JsonObject { ["created"] = timestamp, ["created_by"] = $"base image {baseImage.Name}", ["comment"] = baseImage.ConfigDigest });
        foreach (var layer in added)
            history.Add(new JsonObject { ["created"] = timestamp, ["created_by"] = layer.CreatedBy, ["comment"] = "ModWsgi.Sdk" });

        var document = new JsonObject
        {
            ["architecture"] = baseImage.Architecture,
            ["os"] = baseImage.Os,
            ["created"] = timestamp,
            ["config"] = config,
            ["rootfs"] = new JsonObject
            {
                ["type"] = "layers",
                ["diff_ids"] = Array(baseImage.DiffIds.Concat(added.Select(a => a.Layer.DiffId))),
            },
            ["history"] = history,
        };
        return Encoding.UTF8.GetBytes(document.ToJsonString());
    }

    /// <summary>The OCI manifest for a config and the compressed blobs of every layer, base layers first.</summary>
    public static byte[] WriteManifest(Descriptor config, IEnumerable<Descriptor> layers)
    {
        var manifest = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = MediaTypes.OciManifest,
            ["config"] = Descriptor(config),
            ["layers"] = new JsonArray(layers.Select(l => (JsonNode?)Descriptor(l)).ToArray()),
        };
        return Encoding.UTF8.GetBytes(manifest.ToJsonString());
    }

    public static JsonObject Descriptor(Descriptor descriptor)
    {
        var node = new JsonObject { ["mediaType"] = descriptor.MediaType, ["digest"] = descriptor.Digest, ["size"] = descriptor.Size };
        if (descriptor.Annotations is { Count: > 0 } annotations)
            node["annotations"] = new JsonObject(annotations.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => KeyValuePair.Create(a.Key, (JsonNode?)a.Value)));
        return node;
    }

    private static long Nanoseconds(TimeSpan duration) => duration.Ticks * 100;

    private static JsonArray Array(IEnumerable<string> values) => new(values.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray());
}
