using System.Formats.Tar;
using System.IO.Compression;
using System.Text;

namespace ModWsgi.EndToEnd.Tests;

/// <summary>Issue 4 §1 and issue 8: the package index (and credentials in its URL) is a build setting, never part of the image.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class SecretScanTests(SdkFixture sdk) : IDisposable
{
    private readonly TempDirectory _work = new("modwsgi-secret");
    private readonly string _image = $"e2e-secret-{Guid.NewGuid():N}"[..23];
    private readonly List<string> _untagged = [];

    [DockerFact]
    public void The_index_url_and_its_credentials_appear_in_no_layer_config_or_history()
    {
        using var index = new RealPackageIndex();
        var secret = "s3cret-" + Guid.NewGuid().ToString("N")[..12];
        // http.server ignores the credentials; pip still sends them, as it would to a private index.
        var url = $"http://builder:{secret}@{index.Host}:{index.Port}/simple/";
        var app = Path.Combine(_work.Path, "app");
        Directory.CreateDirectory(app);
        File.WriteAllText(Path.Combine(app, "wsgi.py"), "import flask\ndef application(e, s):\n    s('200 OK', [])\n    return [b'ok']\n");
        File.WriteAllText(Path.Combine(app, "requirements.txt"), "Flask\n");
        var project = sdk.WriteProject(app, "secretive");

        var build = sdk.PublishImage(project, "ContainerRepository=" + _image, "WsgiPipIndexUrl=" + url, "WsgiPipTrustedHost=" + index.Host);
        Assert.True(build.ExitCode == 0, "PublishImage failed:\n" + build.Output);
        Assert.Contains("Successfully installed", build.StdOut);

        AssertNotInImage(secret, $"{index.Host}:{index.Port}");
    }

    /// <summary>
    /// Issue 8: credentials written into the project file, and every -p: value that `-bl` records in the
    /// msbuild.binlog it leaves in the project folder, stay out of the image: the .proj, the binlog and
    /// nuget.config never reach /app, whatever .dockerignore says.
    /// </summary>
    [DockerFact]
    public void Credentials_in_the_proj_and_in_a_binlog_from_an_earlier_build_appear_in_no_layer_config_or_history()
    {
        using var index = new RealPackageIndex();
        var inProject = "proj-s3cret-" + Guid.NewGuid().ToString("N")[..12];
        var onCommandLine = "cli-s3cret-" + Guid.NewGuid().ToString("N")[..12];
        var app = Path.Combine(_work.Path, "app");
        Directory.CreateDirectory(app);
        File.WriteAllText(Path.Combine(app, "wsgi.py"), "import flask\ndef application(e, s):\n    s('200 OK', [])\n    return [b'one']\n");
        File.WriteAllText(Path.Combine(app, "requirements.txt"), "Flask\n");
        // A .dockerignore that asks for them back: the build's own files stay out regardless.
        File.WriteAllText(Path.Combine(app, ".dockerignore"), "!*.proj\n!*.binlog\n!nuget.config\n");
        var project = sdk.WriteProject(app, "secretive", $"""
            <PropertyGroup>
              <ContainerRepository>{_image}</ContainerRepository>
              <WsgiPipIndexUrl>http://builder:{inProject}@{index.Host}:{index.Port}/simple/</WsgiPipIndexUrl>
              <WsgiPipTrustedHost>{index.Host}</WsgiPipTrustedHost>
            </PropertyGroup>
            """);
        // The extra index is the same one: pip sends these credentials too, and -bl records them.
        var extraIndex = $"WsgiPipExtraIndexUrl=http://builder:{onCommandLine}@{index.Host}:{index.Port}/simple/";

        var first = sdk.PublishImage(project, null, ["-bl"], extraIndex);
        Assert.True(first.ExitCode == 0, "PublishImage -bl failed:\n" + first.Output);
        Assert.Contains("Successfully installed", first.StdOut);
        // The second build moves the tag off this image: remove it by id afterwards.
        _untagged.AddRange(first.StdOut.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("image id: ", StringComparison.Ordinal)).Select(l => l["image id: ".Length..]));
        var binlog = Path.Combine(app, "msbuild.binlog");
        Assert.True(File.Exists(binlog), "-bl left no msbuild.binlog in the project folder");
        // The binlog really holds the secrets the image must not: the scan below would find them in it.
        Assert.Contains(ScannedTexts("msbuild.binlog", File.ReadAllBytes(binlog)), text => text.Contains(onCommandLine, StringComparison.Ordinal));

        // A source edit, so the second build writes a new application layer with the binlog in the folder.
        File.WriteAllText(Path.Combine(app, "wsgi.py"), "import flask\ndef application(e, s):\n    s('200 OK', [])\n    return [b'two']\n");
        var second = sdk.PublishImage(project, extraIndex);
        Assert.True(second.ExitCode == 0, "PublishImage failed:\n" + second.Output);
        Assert.DoesNotContain("up to date", second.StdOut);

        var names = AssertNotInImage(inProject, onCommandLine, $"{index.Host}:{index.Port}");
        Assert.Contains(names, n => n.EndsWith(":app/wsgi.py", StringComparison.Ordinal));
        var buildFiles = names.Where(n => n.Contains(":app/", StringComparison.Ordinal)
            && (n.EndsWith(".proj", StringComparison.OrdinalIgnoreCase) || n.EndsWith(".binlog", StringComparison.OrdinalIgnoreCase)
                || n.EndsWith("/nuget.config", StringComparison.OrdinalIgnoreCase))).ToArray();
        Assert.True(buildFiles.Length == 0, "build files in the image: " + string.Join(", ", buildFiles));

        // The publish fingerprint walks the same files: a binlog rewritten by this very build is no change.
        var third = sdk.PublishImage(project, null, ["-bl"], extraIndex);
        Assert.True(third.ExitCode == 0, "PublishImage -bl failed:\n" + third.Output);
        Assert.Contains("Image up to date", third.StdOut);
    }

    /// <summary>
    /// Scans every file of the saved image (JSON documents and each layer's files, gzip ones also unpacked) plus its
    /// history and inspect output for the needles; returns the names of the files scanned.
    /// </summary>
    private List<string> AssertNotInImage(params string[] needles)
    {
        var saved = Path.Combine(_work.Path, "image.tar");
        Run.DockerOk("save", "-o", saved, _image + ":latest");
        var names = new List<string>();
        foreach (var (name, content) in Files(saved))
        {
            names.Add(name);
            foreach (var text in ScannedTexts(name, content))
            {
                foreach (var needle in needles)
                    Assert.False(text.Contains(needle, StringComparison.Ordinal), $"'{needle}' found in {name}");
            }
        }
        Assert.True(names.Count > 1000, $"only {names.Count} files scanned: the scan did not see the layers");
        var history = Run.DockerOk("history", "--no-trunc", _image);
        var inspect = Run.DockerOk("image", "inspect", _image);
        foreach (var needle in needles)
        {
            Assert.DoesNotContain(needle, history);
            Assert.DoesNotContain(needle, inspect);
        }
        File.Delete(saved);
        return names;
    }

    /// <summary>A file's bytes as text, and, for a gzip file (a binlog is one), its unpacked content too.</summary>
    private static IEnumerable<string> ScannedTexts(string name, byte[] content)
    {
        yield return Encoding.Latin1.GetString(content);
        if (content is not [0x1f, 0x8b, ..])
            yield break;
        using var unpacked = new MemoryStream();
        try
        {
            using var gzip = new GZipStream(new MemoryStream(content), CompressionMode.Decompress);
            gzip.CopyTo(unpacked);
        }
        catch (InvalidDataException)
        {
            // Not gzip after all (or truncated): the raw bytes were scanned.
        }
        yield return Encoding.Latin1.GetString(unpacked.ToArray());
    }

    /// <summary>Every file of a `docker save` archive: its JSON documents, and each file inside every layer.tar.</summary>
    private static IEnumerable<(string Name, byte[] Content)> Files(string savedImage)
    {
        using var outer = new TarReader(File.OpenRead(savedImage));
        while (outer.GetNextEntry() is { } entry)
        {
            if (entry.DataStream is null)
                continue;
            if (!entry.Name.EndsWith("layer.tar", StringComparison.Ordinal))
            {
                yield return (entry.Name, Read(entry.DataStream));
                continue;
            }
            using var layer = new TarReader(entry.DataStream);
            while (layer.GetNextEntry() is { } file)
            {
                if (file.DataStream is not null)
                    yield return (entry.Name + ":" + file.Name, Read(file.DataStream));
            }
        }
    }

    private static byte[] Read(Stream stream)
    {
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }

    public void Dispose()
    {
        Run.Docker("rmi", "-f", _image + ":latest");
        foreach (var id in _untagged)
            Run.Docker("rmi", "-f", id);
        _work.Dispose();
    }
}
