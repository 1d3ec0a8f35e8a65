using ModWsgi.Core.Cache;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Layers;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Project;
using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Tests;

/// <summary>Issue 8: the build's own files (which may hold secrets) never reach the image, whatever .dockerignore says.</summary>
public sealed class ProjectFilesTests : IDisposable
{
    // Re-includes everything it can name: none of it may bring a build file back.
    private const string ReincludeEverything =
        "*\n!*\n!**\n!*.proj\n!*.csproj\n!**/*.proj\n!*.binlog\n!**/*.binlog\n!nuget.config\n!NuGet.Config\n"
        + "!bin\n!bin/**\n!obj\n!obj/**\n!Directory.Build.props\n!Directory.Build.targets\n!out/**\n";

    private readonly string _project = Directory.CreateTempSubdirectory("modwsgi-files-").FullName;

    public ProjectFilesTests()
    {
        Write("wsgi.py", "def application(e, s): pass\n");
        Write("requirements.txt", "Flask\n");
    }

    public void Dispose() => Directory.Delete(_project, recursive: true);

    private void Write(string relative, string content = "x")
    {
        var path = Path.Combine(_project, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    private string[] Enumerated(ProjectFiles? files = null) =>
        (files ?? ProjectFiles.Load(_project)).Enumerate().Select(f => f.RelativePath).ToArray();

    [Theory]
    [InlineData("mysite.proj")]
    [InlineData("MySite.CSPROJ")]
    [InlineData("tools.pyproj")]
    [InlineData("nested/other.proj")]
    [InlineData("nuget.config")]
    [InlineData("NuGet.Config")]
    [InlineData("nested/NuGet.config")]
    [InlineData("msbuild.binlog")]
    [InlineData("logs/build.binlog")]
    [InlineData("Directory.Build.props")]
    [InlineData("Directory.Build.targets")]
    [InlineData("Directory.Build.rsp")]
    [InlineData("bin/Release/app.dll")]
    [InlineData("obj/project.assets.json")]
    [InlineData(".git/config")]
    [InlineData(".docker/tmp/src/pkg/setup.py")]
    public void A_build_file_is_never_enumerated_even_when_dockerignore_re_includes_it(string relative)
    {
        Write(relative, "<Project><PropertyGroup><WsgiPipIndexUrl>http://u:secret@index/</WsgiPipIndexUrl></PropertyGroup></Project>");
        Write(DockerIgnore.FileName, ReincludeEverything);
        var files = ProjectFiles.Load(_project);
        // .dockerignore alone would keep it: the exclusion is the fixed rule's.
        Assert.False(files.Ignore.IsExcluded(relative));

        var enumerated = Enumerated(files);

        Assert.DoesNotContain(relative, enumerated);
        // Nor the folder it is in, when that folder is the build output.
        var top = relative.Split('/')[0];
        if (top is "bin" or "obj" or ".git")
            Assert.DoesNotContain(enumerated, p => p == top || p.StartsWith(top + "/", StringComparison.Ordinal));
        Assert.Contains("wsgi.py", enumerated);
        Assert.Contains("requirements.txt", enumerated);
    }

    [Theory]
    [InlineData("pkg/bin/tool.py")]          // bin/ and obj/ are MSBuild's only at the root
    [InlineData("pkg/obj/model.py")]
    [InlineData("notes.projection")]        // an extension that merely starts with "proj"
    [InlineData("proj")]
    [InlineData("binder.py")]
    [InlineData("docs/nuget.config.md")]
    public void Application_files_that_only_look_like_build_files_are_kept(string relative)
    {
        Write(relative);

        Assert.Contains(relative, Enumerated());
    }

    [Fact]
    public void The_archive_output_inside_the_folder_and_its_temp_files_are_never_enumerated()
    {
        Write("out/app.tar");
        Write("out/app.tar.partial-0123abcd");
        Write("out/readme.txt");
        Write(DockerIgnore.FileName, ReincludeEverything);

        var enumerated = Enumerated(ProjectFiles.Load(_project, Path.Combine(_project, "out", "app.tar")));

        Assert.DoesNotContain("out/app.tar", enumerated);
        Assert.DoesNotContain("out/app.tar.partial-0123abcd", enumerated);
        Assert.Contains("out/readme.txt", enumerated);
        // Without an archive output the same files are ordinary ones.
        Assert.Contains("out/app.tar", Enumerated());
    }

    [Fact]
    public void A_folder_archive_output_leaves_out_the_repository_tar_the_build_writes_there()
    {
        Write("images/site-web.tar");
        Write("images/other.tar");
        var options = new ImageBuildOptions
        {
            ProjectDirectory = _project, Repository = "site/web", RuntimeDirectory = "/nowhere",
            ArchiveOutputPath = Path.Combine(_project, "images") + "/",
        };

        var enumerated = Enumerated(ProjectFiles.For(options));

        Assert.DoesNotContain("images/site-web.tar", enumerated);
        Assert.Contains("images/other.tar", enumerated);
    }

    [Fact]
    public void An_archive_output_outside_the_folder_excludes_nothing_inside_it()
    {
        Write("app.tar");
        var outside = Path.Combine(Path.GetDirectoryName(_project)!, Path.GetFileName(_project) + "-out", "app.tar");

        Assert.Contains("app.tar", Enumerated(ProjectFiles.Load(_project, outside)));
    }

    [Fact]
    public async Task The_application_layer_holds_no_build_file()
    {
        Write("mysite.proj", "<Project />");
        Write("nuget.config", "<configuration />");
        Write("msbuild.binlog", "binlog");
        Write("obj/x.json", "{}");
        Write(DockerIgnore.FileName, ReincludeEverything);
        var store = new FileBlobStore(Path.Combine(_project, "..", Path.GetFileName(_project) + "-blobs"));
        try
        {
            await using var writer = new LayerWriter(store, SourceDateEpoch.Fixed);
            await LayerSources.WriteProjectAsync(writer, ProjectFiles.Load(_project), null, CancellationToken.None);
            var layer = await writer.CompleteAsync();

            await using var blob = store.OpenRead(layer.Blob.Digest);
            await using var gzip = new System.IO.Compression.GZipStream(blob, System.IO.Compression.CompressionMode.Decompress);
            using var tar = new System.Formats.Tar.TarReader(gzip);
            var names = new List<string>();
            while (await tar.GetNextEntryAsync() is { } entry)
                names.Add(entry.Name);

            Assert.Contains("app/wsgi.py", names);
            Assert.DoesNotContain(names, n => n.EndsWith(".proj", StringComparison.Ordinal) || n.EndsWith(".binlog", StringComparison.Ordinal)
                || n.Contains("nuget.config", StringComparison.Ordinal) || n.StartsWith("app/obj", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(store.Root, recursive: true);
        }
    }

    [Fact]
    public void A_self_installing_project_does_not_hand_its_proj_to_the_dependency_step()
    {
        File.Delete(Path.Combine(_project, "requirements.txt"));
        Write("setup.py", "from setuptools import setup\nsetup()\n");
        Write("mysite.proj", "<Project />");
        // The whole-folder plan, which a setup.py that reads the package falls back to.
        var plan = BuildPlan.Create(_project).MetadataFallback!;

        var key = DependencyKey.Compute(ProjectFiles.Load(_project), plan, "sha256:1", "sha256:2", new PipSettings());

        Assert.Equal([BuildPlan.WholeProject], plan.DependencyInputs);
        Assert.Contains("input setup.py", key.Components.Keys);
        Assert.DoesNotContain("input mysite.proj", key.Components.Keys);
    }

    [Theory]
    [InlineData("-r bin/reqs.txt\n", "bin/reqs.txt", "bin")]
    [InlineData("-c obj/constraints.txt\n", "obj/constraints.txt", "obj")]
    [InlineData("-e ./bin/mypkg\n", "bin/mypkg", "bin")]
    public void A_requirement_under_an_always_excluded_path_is_a_coded_error(string requirements, string input, string covered)
    {
        Write("requirements.txt", requirements);
        Write(input.EndsWith("mypkg", StringComparison.Ordinal) ? input + "/setup.py" : input, "Flask\n");

        var error = Assert.Throws<ModWsgiException>(() => BuildPlan.Create(_project));

        Assert.Equal(DiagnosticCodes.InputAlwaysExcluded, error.Code);
        Assert.Contains($"'{input}'", error.Message);
        Assert.Contains($"'{covered}' is never part of the image", error.Message);
    }
}
