using System.Formats.Tar;
using System.Text;

namespace ModWsgi.EndToEnd.Tests;

/// <summary>Issue 4 §1: the package index (and credentials in its URL) is a build setting, never part of the image.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class SecretScanTests(SdkFixture sdk) : IDisposable
{
    private readonly TempDirectory _work = new("modwsgi-secret");
    private readonly string _image = $"e2e-secret-{Guid.NewGuid():N}"[..23];

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

        var saved = Path.Combine(_work.Path, "image.tar");
        Run.DockerOk("save", "-o", saved, _image + ":latest");
        var needles = new[] { secret, $"{index.Host}:{index.Port}" };
        var scanned = 0;
        foreach (var (name, content) in Files(saved))
        {
            scanned++;
            var text = Encoding.Latin1.GetString(content);
            foreach (var needle in needles)
                Assert.False(text.Contains(needle, StringComparison.Ordinal), $"'{needle}' found in {name}");
        }
        Assert.True(scanned > 1000, $"only {scanned} files scanned: the scan did not see the layers");
        var history = Run.DockerOk("history", "--no-trunc", _image);
        Assert.DoesNotContain(secret, history);
        Assert.DoesNotContain(index.Host + ":" + index.Port, Run.DockerOk("image", "inspect", _image));
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
        _work.Dispose();
    }
}
