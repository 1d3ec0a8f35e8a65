using System.Text.Json.Nodes;

namespace ModWsgi.Cli.Tests;

public sealed class ImageDescriptionTests
{
    private static readonly JsonObject Inspect = JsonNode.Parse("""
        {
          "Id": "sha256:feed", "RepoTags": ["site:latest"], "Created": "1980-01-01T00:00:00Z", "Os": "linux", "Architecture": "amd64", "Size": 3000,
          "RootFS": { "Layers": ["sha256:l1", "sha256:l2", "sha256:l3"] },
          "Config": {
            "Entrypoint": ["mod_wsgi-docker-start"], "Cmd": ["--application-type", "script"], "WorkingDir": "/app",
            "Env": ["PATH=/usr/bin", "MULTI=a\nb"], "ExposedPorts": { "80/tcp": {} }, "Labels": { "b": "2", "a": "1" }
          }
        }
        """)!.AsObject();

    // The engine's history: newest first, with metadata-only entries (size 0) between layers.
    private static readonly JsonArray History = JsonNode.Parse("""
        [
          { "CreatedBy": "ModWsgi.Sdk application: /app", "Size": 0, "Comment": "ModWsgi.Sdk" },
          { "CreatedBy": "/bin/sh -c #(nop) CMD [\"bash\"]", "Size": 0, "Comment": "" },
          { "CreatedBy": "apt-get install", "Size": 2000, "Comment": "" },
          { "CreatedBy": "/bin/sh -c #(nop) ENV A=1", "Size": 0, "Comment": "" },
          { "CreatedBy": "Imported from -", "Size": 1000, "Comment": "" }
        ]
        """)!.AsArray();

    [Fact]
    public void LayersArePairedWithTheirHistoryEntriesSkippingEmptyOnes()
    {
        var layers = ImageDescription.MatchLayers(["sha256:l1", "sha256:l2", "sha256:l3"], History);

        Assert.Equal(
            [new LayerDescription(1, "sha256:l1", 1000, "Imported from -", ""),
             new LayerDescription(2, "sha256:l2", 2000, "apt-get install", ""),
             new LayerDescription(3, "sha256:l3", 0, "ModWsgi.Sdk application: /app", "ModWsgi.Sdk")],
            layers);
    }

    [Fact]
    public void WithoutHistoryTheLayersStillShow()
    {
        var layers = ImageDescription.MatchLayers(["sha256:l1", "sha256:l2"], []);
        Assert.Equal([1, 2], layers.Select(l => l.Index));
        Assert.All(layers, l => Assert.Null(l.Size));
    }

    [Fact]
    public void TextShowsLayersConfigAndBuildNotes()
    {
        var notes = new BuildNotes("/src/site", "/cache", "sha256:feed", ["site:latest"],
            new Dictionary<string, string> { ["input requirements.txt"] = "sha256:abc" });
        var text = ImageDescription.Create("site", Inspect, History, notes).ToText();

        Assert.Contains("Layers: 3", text);
        Assert.Matches(@"(?m)^\s+Entrypoint\s+\[""mod_wsgi-docker-start""\]$", text);
        Assert.Matches(@"(?m)^\s+WorkingDir\s+/app$", text);
        Assert.Contains("80/tcp", text);
        Assert.Contains(@"MULTI=a\nb", text); // one line per variable
        Assert.Contains("(this image)", text);
        Assert.Contains("input requirements.txt  sha256:abc", text);
        Assert.Contains("Built by     ModWsgi.Sdk", text);
    }

    [Fact]
    public void JsonIsMachineReadable()
    {
        var json = JsonNode.Parse(ImageDescription.Create("site", Inspect, History, null).ToJson())!;

        Assert.Equal("sha256:feed", json["id"]!.GetValue<string>());
        Assert.Equal(3, json["layers"]!.AsArray().Count);
        Assert.Equal(2000, json["layers"]![1]!["size"]!.GetValue<long>());
        Assert.Equal("mod_wsgi-docker-start", json["config"]!["entrypoint"]![0]!.GetValue<string>());
        Assert.Equal("1", json["config"]!["labels"]!["a"]!.GetValue<string>());
        Assert.Null(json["buildNotes"]);
    }

    [Theory]
    [InlineData(999, "999 B")]
    [InlineData(25_900, "25.9 kB")]
    [InlineData(131_700_000, "131.7 MB")]
    public void SizesReadLikeDockers(long bytes, string expected) =>
        Assert.Equal(expected, ImageDescription.FormatSize(bytes).Replace(',', '.'));
}
