using System.Globalization;
using System.Text.Json;
using ModWsgi.Core.Oci;

namespace ModWsgi.Core.Tests;

public sealed class ImageConfigWriterTests
{
    private static readonly DateTimeOffset Epoch = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000); // 2023-11-14T22:13:20Z

    private static string Digest(char c) => "sha256:" + new string(c, 64);

    private static BaseImage Base() => new("python-base:3.12", Digest('b'), "amd64", "linux", [Digest('1'), Digest('2')],
        ["PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"]);

    private static IReadOnlyList<AddedLayer> Added() =>
    [
        new(new Layer(new Descriptor(MediaTypes.OciLayerGzip, Digest('a'), 100), Digest('3')), "runtime"),
        new(new Layer(new Descriptor(MediaTypes.OciLayerGzip, Digest('c'), 200), Digest('4')), "dependencies: pip"),
        new(new Layer(new Descriptor(MediaTypes.OciLayerGzip, Digest('d'), 300), Digest('5')), "application: /app"),
    ];

    private static ImageSettings Settings(bool reversed = false)
    {
        var labels = new[]
        {
            KeyValuePair.Create("org.opencontainers.image.version", "1.2.3"),
            KeyValuePair.Create("org.opencontainers.image.created", "2023-11-14T22:13:20Z"),
            KeyValuePair.Create("com.example.team", "web"),
            KeyValuePair.Create("org.opencontainers.image.title", "hello-world"),
        };
        string[] ports = ["80/tcp", "443/tcp"];
        return new ImageSettings
        {
            Entrypoint = ["mod_wsgi-docker-start"],
            Cmd = ["--port", "80", "wsgi.py"],
            WorkingDir = "/app",
            Env = ["PATH=/opt/venv/bin:/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"],
            ExposedPorts = reversed ? ports.Reverse().ToArray() : ports,
            Labels = new Dictionary<string, string>(reversed ? labels.Reverse() : labels),
            User = "www-data",
        };
    }

    private static JsonElement Parse(byte[] bytes) => JsonDocument.Parse(bytes).RootElement;

    private static string[] Strings(JsonElement array) => array.EnumerateArray().Select(e => e.GetString()!).ToArray();

    [Fact]
    public void EqualInputs_GiveIdenticalBytes_WhateverTheOrderOfLabelsAndPorts()
    {
        var first = ImageConfigWriter.Write(Base(), Added(), Settings(), Epoch);
        var second = ImageConfigWriter.Write(Base(), Added(), Settings(reversed: true), Epoch);

        Assert.Equal(first, second);
        Assert.Equal(Digests.Sha256(first), Digests.Sha256(second));
    }

    [Fact]
    public void AnotherEpoch_GivesOtherBytes()
    {
        Assert.NotEqual(
            ImageConfigWriter.Write(Base(), Added(), Settings(), Epoch),
            ImageConfigWriter.Write(Base(), Added(), Settings(), Epoch.AddSeconds(1)));
    }

    [Fact]
    public void CreatedTimes_AreTheEpochInUtcSeconds()
    {
        // The same instant given with a +02:00 offset must still be written as UTC.
        var config = Parse(ImageConfigWriter.Write(Base(), Added(), Settings(), Epoch.ToOffset(TimeSpan.FromHours(2))));

        Assert.Equal("2023-11-14T22:13:20Z", config.GetProperty("created").GetString());
        var history = config.GetProperty("history").EnumerateArray().ToArray();
        Assert.Equal(5, history.Length);
        Assert.All(history, h => Assert.Equal("2023-11-14T22:13:20Z", h.GetProperty("created").GetString()));
        Assert.Equal(["base image python-base:3.12", "base image python-base:3.12", "runtime", "dependencies: pip", "application: /app"],
            history.Select(h => h.GetProperty("created_by").GetString()));
    }

    [Fact]
    public void CreatedTime_DoesNotDependOnTheCurrentCulture()
    {
        // A Thai (Buddhist calendar) or other non-Gregorian user locale must not change the image's bytes.
        var invariant = RunInCulture(CultureInfo.InvariantCulture);
        foreach (var culture in new[] { "th-TH", "ar-SA", "fa-IR", "de-DE" })
        {
            var bytes = RunInCulture(new CultureInfo(culture));
            Assert.Equal("2023-11-14T22:13:20Z", Parse(bytes).GetProperty("created").GetString());
            Assert.Equal(invariant, bytes);
        }

        static byte[] RunInCulture(CultureInfo culture)
        {
            var saved = CultureInfo.CurrentCulture;
            try
            {
                CultureInfo.CurrentCulture = culture;
                return ImageConfigWriter.Write(Base(), Added(), Settings(), Epoch);
            }
            finally
            {
                CultureInfo.CurrentCulture = saved;
            }
        }
    }

    [Fact]
    public void DiffIds_AreTheBaseOnesThenTheAddedOnesInOrder()
    {
        var config = Parse(ImageConfigWriter.Write(Base(), Added(), Settings(), Epoch));

        var rootfs = config.GetProperty("rootfs");
        Assert.Equal("layers", rootfs.GetProperty("type").GetString());
        Assert.Equal([Digest('1'), Digest('2'), Digest('3'), Digest('4'), Digest('5')], Strings(rootfs.GetProperty("diff_ids")));
        Assert.Equal("amd64", config.GetProperty("architecture").GetString());
        Assert.Equal("linux", config.GetProperty("os").GetString());
    }

    [Fact]
    public void Config_CarriesTheRuntimeSettings_WithLabelsSorted()
    {
        var config = Parse(ImageConfigWriter.Write(Base(), Added(), Settings(reversed: true), Epoch)).GetProperty("config");

        Assert.Equal(["mod_wsgi-docker-start"], Strings(config.GetProperty("Entrypoint")));
        Assert.Equal(["--port", "80", "wsgi.py"], Strings(config.GetProperty("Cmd")));
        Assert.Equal("/app", config.GetProperty("WorkingDir").GetString());
        Assert.Equal(["PATH=/opt/venv/bin:/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"], Strings(config.GetProperty("Env")));
        Assert.Equal("www-data", config.GetProperty("User").GetString());
        Assert.False(config.TryGetProperty("StopSignal", out _));

        var ports = config.GetProperty("ExposedPorts").EnumerateObject().ToArray();
        Assert.Equal(["443/tcp", "80/tcp"], ports.Select(p => p.Name));
        Assert.All(ports, p => Assert.Equal(JsonValueKind.Object, p.Value.ValueKind));

        var labels = config.GetProperty("Labels").EnumerateObject().ToArray();
        Assert.Equal(
            ["com.example.team", "org.opencontainers.image.created", "org.opencontainers.image.title", "org.opencontainers.image.version"],
            labels.Select(l => l.Name));
        Assert.Equal("1.2.3", labels.Single(l => l.Name == "org.opencontainers.image.version").Value.GetString());
    }

    [Fact]
    public void Manifest_NamesTheConfigAndTheLayersInOrder()
    {
        var configBytes = ImageConfigWriter.Write(Base(), Added(), Settings(), Epoch);
        var config = new Descriptor(MediaTypes.OciConfig, Digests.Sha256(configBytes), configBytes.Length);
        var layers = new[]
        {
            new Descriptor(MediaTypes.OciLayerGzip, Digest('6'), 11),
            new Descriptor(MediaTypes.OciLayerGzip, Digest('7'), 22),
        }.Concat(Added().Select(a => a.Layer.Blob)).ToArray();

        var bytes = ImageConfigWriter.WriteManifest(config, layers);
        var manifest = Parse(bytes);

        Assert.Equal(2, manifest.GetProperty("schemaVersion").GetInt32());
        Assert.Equal(MediaTypes.OciManifest, manifest.GetProperty("mediaType").GetString());
        var configNode = manifest.GetProperty("config");
        Assert.Equal(MediaTypes.OciConfig, configNode.GetProperty("mediaType").GetString());
        Assert.Equal(config.Digest, configNode.GetProperty("digest").GetString());
        Assert.Equal(configBytes.Length, configNode.GetProperty("size").GetInt64());
        var layerNodes = manifest.GetProperty("layers").EnumerateArray().ToArray();
        Assert.Equal(layers.Select(l => l.Digest), layerNodes.Select(l => l.GetProperty("digest").GetString()));
        Assert.Equal(layers.Select(l => l.Size), layerNodes.Select(l => l.GetProperty("size").GetInt64()));
        Assert.All(layerNodes, l => Assert.Equal(MediaTypes.OciLayerGzip, l.GetProperty("mediaType").GetString()));
        Assert.All(layerNodes, l => Assert.False(l.TryGetProperty("annotations", out _)));
        Assert.Equal(bytes, ImageConfigWriter.WriteManifest(config, layers));
    }
}
