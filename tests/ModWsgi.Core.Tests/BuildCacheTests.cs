using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text;
using ModWsgi.Core.Cache;
using ModWsgi.Core.Layers;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Pipeline;
using ModWsgi.Core.Project;
using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Tests;

public sealed class BuildCacheTests : IDisposable
{
    private const string Key = "sha256:abababababababababababababababababababababababababababababababab";

    private readonly string _root = Directory.CreateTempSubdirectory("modwsgi-cache-").FullName;
    private readonly BuildCache _cache;

    public BuildCacheTests() => _cache = new BuildCache(Path.Combine(_root, "cache"));

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private Layer StoredLayer(string content)
    {
        var digest = _cache.Blobs.Put(Encoding.UTF8.GetBytes(content));
        return new Layer(new Descriptor(MediaTypes.OciLayerGzip, digest, content.Length), Digests.Sha256(Encoding.UTF8.GetBytes("diff " + content)));
    }

    private string EntryPath(string kind, string digest) => Path.Combine(_cache.Root, kind, Digests.Hex(digest) + ".json");

    // ---- dependency layers --------------------------------------------------------------------------------------

    [Fact]
    public void SavedDependencies_AreFoundByTheirKey()
    {
        var layer = StoredLayer("layer bytes");

        _cache.SaveDependencies(Key, layer);
        var found = _cache.FindDependencies(Key);

        Assert.Equal(layer, found);
        Assert.Equal(MediaTypes.OciLayerGzip, found!.Blob.MediaType);
        Assert.Equal(11, found.Blob.Size);
        Assert.True(File.Exists(EntryPath("deps", Key)));
        Assert.Empty(Directory.GetFiles(Path.Combine(_cache.Root, "tmp")));
    }

    [Fact]
    public void UnknownKey_IsAMiss()
    {
        _cache.SaveDependencies(Key, StoredLayer("x"));

        Assert.Null(_cache.FindDependencies("sha256:" + new string('c', 64)));
    }

    [Fact]
    public void SavingAgain_ReplacesTheEntry()
    {
        _cache.SaveDependencies(Key, StoredLayer("first"));
        var second = StoredLayer("second");

        _cache.SaveDependencies(Key, second);

        Assert.Equal(second, _cache.FindDependencies(Key));
    }

    [Fact]
    public void DeletedBlob_MakesTheEntryAMiss()
    {
        var layer = StoredLayer("layer bytes");
        _cache.SaveDependencies(Key, layer);

        File.Delete(_cache.Blobs.PathOf(layer.Blob.Digest));

        Assert.Null(_cache.FindDependencies(Key));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json at all")]
    [InlineData("{\"layer\":{\"digest\":\"sha256:")] // cut short
    [InlineData("{}")]
    [InlineData("null")]
    [InlineData("[1,2,3]")]                        // another shape (an older or newer SDK's format)
    [InlineData("{\"layer\":{}}")]
    [InlineData("{\"layer\":{\"digest\":42,\"size\":1,\"diffId\":\"x\"}}")]
    [InlineData("{\"layer\":{\"digest\":\"md5:abc\",\"size\":1,\"diffId\":\"x\"}}")]
    [InlineData("{\"layer\":{\"digest\":\"sha256:abababababababababababababababababababababababababababababababab\",\"size\":\"big\",\"diffId\":\"x\"}}")]
    public void CorruptEntry_IsAMissNotAnException(string content)
    {
        var path = EntryPath("deps", Key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);

        var found = _cache.FindDependencies(Key);

        Assert.Null(found);
    }

    // ---- base layers ---------------------------------------------------------------------------------------------

    [Fact]
    public void BaseLayers_RoundTripInOrder_AndAreAMissWhenOneBlobIsGone()
    {
        var baseId = "sha256:" + new string('e', 64);
        Layer[] layers = [StoredLayer("one"), StoredLayer("two"), StoredLayer("three")];

        _cache.SaveBaseLayers(baseId, layers);
        Assert.Equal(layers, _cache.FindBaseLayers(baseId));
        Assert.Null(_cache.FindBaseLayers("sha256:" + new string('f', 64)));

        File.Delete(_cache.Blobs.PathOf(layers[1].Blob.Digest));
        Assert.Null(_cache.FindBaseLayers(baseId));
    }

    // ---- project notes -------------------------------------------------------------------------------------------

    [Fact]
    public void ProjectNotes_RoundTrip_PerProject()
    {
        var project = Path.Combine(_root, "project");
        var other = Path.Combine(_root, "other");
        var notes = new JsonObject
        {
            ["dependencies"] = new JsonObject { ["base-image"] = "sha256:" + new string('1', 64), ["input requirements.txt"] = "sha256:" + new string('2', 64) },
            ["published"] = "registry.example.com/app@sha256:" + new string('3', 64),
        };

        _cache.WriteProjectNotes(project, notes);
        var read = _cache.ReadProjectNotes(project);

        Assert.Equal(notes.ToJsonString(), read.ToJsonString());
        Assert.Equal("sha256:" + new string('2', 64), read["dependencies"]!["input requirements.txt"]!.GetValue<string>());
        Assert.Empty(_cache.ReadProjectNotes(other));
        // Keyed by the full path: a relative spelling of the same folder finds the same notes.
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, project);
        Assert.Equal(notes.ToJsonString(), _cache.ReadProjectNotes(relative).ToJsonString());
    }

    [Fact]
    public void ProjectNotes_Corrupt_AreEmpty()
    {
        var project = Path.Combine(_root, "project");
        _cache.WriteProjectNotes(project, new JsonObject { ["x"] = 1 });
        var file = Assert.Single(Directory.GetFiles(Path.Combine(_cache.Root, "projects")));

        File.WriteAllText(file, "{\"x\":");
        Assert.Empty(_cache.ReadProjectNotes(project));
        File.WriteAllText(file, "[\"not\",\"an\",\"object\"]");
        Assert.Empty(_cache.ReadProjectNotes(project));
    }

    // ---- SOURCE_DATE_EPOCH ---------------------------------------------------------------------------------------

    [Fact]
    public void SourceDateEpoch_Explicit_Wins()
    {
        var dir = Directory.CreateDirectory(Path.Combine(_root, "plain")).FullName;

        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000), SourceDateEpoch.Resolve(dir, "1700000000"));
        Assert.Equal(new DateTimeOffset(2023, 11, 14, 22, 13, 20, TimeSpan.Zero), SourceDateEpoch.Resolve(dir, "1700000000"));
    }

    [Fact]
    public void SourceDateEpoch_OutsideGitWithoutAValue_IsTheFixedEpoch()
    {
        var dir = Directory.CreateDirectory(Path.Combine(_root, "plain")).FullName;

        Assert.Equal(SourceDateEpoch.Fixed, SourceDateEpoch.Resolve(dir, null));
        Assert.Equal(SourceDateEpoch.Fixed, SourceDateEpoch.Resolve(dir, ""));
        Assert.Equal(new DateTimeOffset(1980, 1, 1, 0, 0, 0, TimeSpan.Zero), SourceDateEpoch.Fixed);
        Assert.Equal(315532800, SourceDateEpoch.Fixed.ToUnixTimeSeconds());
    }

    [Fact]
    public void SourceDateEpoch_InAGitCheckout_IsTheLastCommitTime()
    {
        var dir = Directory.CreateDirectory(Path.Combine(_root, "repo")).FullName;
        Git(dir, "init", "-q");
        File.WriteAllText(Path.Combine(dir, "wsgi.py"), "application = None\n");
        Git(dir, "add", "wsgi.py");
        Git(dir, "-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false",
            "commit", "-q", "--no-verify", "-m", "first");

        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1_600_000_000), SourceDateEpoch.Resolve(dir, null));
        // An explicit value still wins over the commit.
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000), SourceDateEpoch.Resolve(dir, "1700000000"));
        // A subfolder of the checkout is a project in it too.
        var sub = Directory.CreateDirectory(Path.Combine(dir, "site")).FullName;
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1_600_000_000), SourceDateEpoch.Resolve(sub, null));
    }

    private static void Git(string dir, params string[] args)
    {
        var info = new ProcessStartInfo("git") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-C");
        info.ArgumentList.Add(dir);
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        // Isolated from the machine's git configuration; the commit gets a fixed time.
        info.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
        info.Environment["GIT_CONFIG_GLOBAL"] = "/dev/null";
        info.Environment["GIT_COMMITTER_DATE"] = "@1600000000 +0000";
        info.Environment["GIT_AUTHOR_DATE"] = "@1600000000 +0000";
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"git {string.Join(' ', args)} failed ({process.ExitCode}): {stderr}{stdout.Result}");
    }
}
