using System.IO.Compression;

namespace ModWsgi.Templates.Tests;

/// <summary>The packed ModWsgi.Templates .nupkg: what it holds, and a project made from it after `dotnet new install`.</summary>
public sealed class TemplatePackageTests
{
    [Fact]
    public void Packed_template_holds_dot_files_and_instantiates_with_executable_hooks()
    {
        var work = Path.Combine(Path.GetTempPath(), "modwsgi-template-pack-" + Guid.NewGuid().ToString("N")[..12]);
        try
        {
            var csproj = Path.GetFullPath(Path.Combine(TemplateInstantiation.TemplateFolder, "..", "..", "ModWsgi.Templates.csproj"));
            var feed = Path.Combine(work, "feed");
            // A private artifacts path: the pack never touches the checkout's bin/obj, which a parallel build may use.
            var pack = TemplateInstantiation.Dotnet(["pack", csproj, "-o", feed, "--artifacts-path", Path.Combine(work, "artifacts"), "-nodeReuse:false"]);
            Assert.True(pack.ExitCode == 0, pack.ToString());
            var nupkg = Assert.Single(Directory.GetFiles(feed, "ModWsgi.Templates.*.nupkg"));

            using (var zip = ZipFile.OpenRead(nupkg))
            {
                var entries = zip.Entries.Select(e => e.FullName).ToHashSet();
                foreach (var expected in (string[])[
                    "content/wsgi-app/.template.config/template.json", "content/wsgi-app/.dockerignore",
                    "content/wsgi-app/.docker/action_hooks/pre-build", "content/wsgi-app/.docker/action_hooks/build",
                    "content/wsgi-app/.docker/action_hooks/deploy", "content/wsgi-app/WsgiApp.proj", "content/wsgi-app/wsgi.py",
                    "content/wsgi-app/requirements.txt", "content/wsgi-app/README.md"])
                    Assert.Contains(expected, entries);
                Assert.DoesNotContain(entries, e => e.StartsWith("lib/", StringComparison.Ordinal));
                Assert.Contains("<packageType name=\"Template\"", ReadEntry(zip, "ModWsgi.Templates.nuspec"));
            }

            using var project = TemplateInstantiation.Create("mysite", templateArguments: null, templateSource: nupkg);
            foreach (var hook in (string[])["pre-build", "build", "deploy"])
            {
                var mode = File.GetUnixFileMode(project.PathOf(".docker/action_hooks/" + hook));
                Assert.True((mode & UnixFileMode.UserExecute) != 0, $"{hook}: {mode}{Environment.NewLine}{project.Instantiation.Output}");
            }
            Assert.True(File.Exists(project.PathOf(".dockerignore")));
            Assert.Contains("Hello from mysite!", File.ReadAllText(project.PathOf("wsgi.py")));
        }
        finally
        {
            if (Directory.Exists(work))
                Directory.Delete(work, recursive: true);
        }
    }

    private static string ReadEntry(ZipArchive zip, string name)
    {
        using var reader = new StreamReader(zip.GetEntry(name)!.Open());
        return reader.ReadToEnd();
    }
}
