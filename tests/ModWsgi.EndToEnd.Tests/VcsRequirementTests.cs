namespace ModWsgi.EndToEnd.Tests;

/// <summary>
/// VCS requirement lines as pip means them, against a real engine and the real tools: repositories the test makes
/// with the host's git, hg, svn and bzr inside the project, pinned with @rev, editable checkouts importable when the
/// app serves a request (they live in the image, not in the removed scratch folder).
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class VcsRequirementTests(SdkFixture sdk, VcsRequirementTests.OtherToolsBuild otherTools)
    : IClassFixture<VcsRequirementTests.OtherToolsBuild>, IDisposable
{
    private readonly TempDirectory _project = new("vcs-git");
    private readonly string _image = $"vcs-git-{Guid.NewGuid():N}"[..20];

    [DockerFact]
    public async Task Git_editables_at_a_tag_and_at_a_commit_in_a_subdirectory_are_importable_and_the_layer_is_reproducible()
    {
        var gitpkg = NewRepository("gitsrc");
        FixturePackages.WriteSetuptoolsProject(gitpkg, "gitpkg", "1.0", "TEXT = 'git-v1.0'\n");
        Commit(gitpkg);
        Tool.Ok("git", gitpkg, "tag", "v1.0");
        File.WriteAllText(Path.Combine(gitpkg, "gitpkg.py"), "TEXT = 'git-later'\n");
        Commit(gitpkg);

        var mono = NewRepository("monosrc");
        File.WriteAllText(Path.Combine(mono, "README"), "the package is in sub/\n");
        FixturePackages.WriteSetuptoolsProject(Path.Combine(mono, "sub"), "subpkg", "1.0", "TEXT = 'sub-at-commit'\n");
        Commit(mono);
        var pinned = Tool.Ok("git", mono, "rev-parse", "HEAD").Trim();
        File.WriteAllText(Path.Combine(mono, "sub", "subpkg.py"), "TEXT = 'sub-later'\n");
        Commit(mono);

        Tool.Ok("git", _project.Path, "clone", "-q", "--bare", gitpkg, "vendor/gitpkg.git");
        Tool.Ok("git", _project.Path, "clone", "-q", "--bare", mono, "vendor/mono.git");
        Directory.Delete(gitpkg, recursive: true);
        Directory.Delete(mono, recursive: true);
        _project.Write("wsgi.py", """
            def application(environ, start_response):
                import gitpkg, subpkg
                start_response('200 OK', [('Content-Type', 'text/plain')])
                return [(gitpkg.TEXT + ' ' + subpkg.TEXT + ' ' + gitpkg.__file__).encode()]
            """);
        _project.Write("requirements.txt", $"""
            -e git+file:///app/vendor/gitpkg.git@v1.0#egg=gitpkg
            -e git+file:///app/vendor/mono.git@{pinned}#egg=subpkg&subdirectory=sub
            """);
        var project = sdk.WriteProject(_project.Path, "vcsgit");

        var build = sdk.PublishImage(project, "ContainerRepository=" + _image);
        Assert.True(build.ExitCode == 0, "PublishImage failed:\n" + build.Output);
        Assert.Contains(" -----> Removing version control metadata from editable checkouts", build.StdOut);

        using (var container = RunningContainer.Start(_image))
        {
            var (status, body) = await container.GetAsync("/");
            Assert.True(status == 200, $"{status}: {body}\n{container.Logs()}");
            Assert.Equal("git-v1.0 sub-at-commit /opt/venv/src/gitpkg/gitpkg.py", body);
        }
        Assert.Equal("", InImage(_image, "for p in /opt/venv/src/gitpkg/.git /opt/venv/src/subpkg/.git /app/.docker/tmp; do [ ! -e $p ] || echo $p; done"));
        Assert.Equal("sub-at-commit", InImage(_image, "cd / && python -c 'import subpkg; print(subpkg.TEXT)'"));

        // The same inputs built again from nothing (an empty cache: apt, clone and pip all run again) give the same
        // layers (the image's title label is its repository name, so the second image's config differs by that).
        using var otherCache = new TempDirectory("vcs-cache");
        var again = sdk.PublishImage(project, "ContainerRepository=" + _image + "-again", "WsgiCacheDirectory=" + otherCache.Path);
        try
        {
            Assert.True(again.ExitCode == 0, "the second PublishImage failed:\n" + again.Output);
            Assert.Contains("dependencies: miss", again.StdOut);
            Assert.Equal(Run.DockerOk("image", "inspect", "-f", "{{json .RootFS.Layers}}", _image),
                Run.DockerOk("image", "inspect", "-f", "{{json .RootFS.Layers}}", _image + "-again"));
        }
        finally
        {
            Run.Docker("rmi", "-f", _image + "-again:latest");
        }
    }

    [DockerFact]
    public async Task A_mercurial_editable_at_a_tag_is_importable()
    {
        Assert.Equal("hg-v1", await otherTools.GetAsync(sdk, "/hg"));
        Assert.Equal("hgpkg.py", otherTools.InImage("ls -A /opt/venv/src/hgpkg | grep -v egg-info | grep -v pyproject"));
    }

    [DockerFact]
    public async Task A_subversion_editable_at_a_revision_inside_the_repository_is_importable()
    {
        Assert.Equal("svn-r1", await otherTools.GetAsync(sdk, "/svn"));
        Assert.Equal("svnpkg.py", otherTools.InImage("ls -A /opt/venv/src/svnpkg | grep -v egg-info | grep -v pyproject"));
    }

    [DockerFact]
    public async Task A_bazaar_requirement_at_a_revision_is_installed()
    {
        Assert.Equal("bzr-r1", await otherTools.GetAsync(sdk, "/bzr"));
        // Not editable: installed into site-packages, no checkout kept.
        Assert.Equal("/opt/venv/lib/python3.11/site-packages/bzrpkg.py", otherTools.InImage("cd / && python -c 'import bzrpkg; print(bzrpkg.__file__)'"));
    }

    private string NewRepository(string name)
    {
        var path = Path.Combine(_project.Path, name);
        Directory.CreateDirectory(path);
        Tool.Ok("git", path, "init", "-q");
        return path;
    }

    private static void Commit(string repository)
    {
        Tool.Ok("git", repository, "add", "-A");
        Tool.Ok("git", repository, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "fixture");
    }

    private static string InImage(string image, string script) =>
        Run.DockerOk("run", "--rm", "--entrypoint", "bash", image, "-c", script);

    public void Dispose()
    {
        Run.Docker("rmi", "-f", _image + ":latest");
        _project.Dispose();
    }

    /// <summary>
    /// One image for the Mercurial, Subversion and Bazaar tests (one apt-get of the three tools, one pip run), built on
    /// first use and served by one container: each repository pinned to its first revision, with a later one on top.
    /// </summary>
    public sealed class OtherToolsBuild : IDisposable
    {
        private readonly TempDirectory _project = new("vcs-other");
        private readonly string _image = $"vcs-other-{Guid.NewGuid():N}"[..22];
        private RunningContainer? _container;

        public async Task<string> GetAsync(SdkFixture sdk, string path)
        {
            _container ??= Build(sdk);
            var (status, body) = await _container.GetAsync(path);
            Assert.True(status == 200, $"{status}: {body}\n{_container.Logs()}");
            return body;
        }

        public string InImage(string script) => VcsRequirementTests.InImage(_image, script);

        private RunningContainer Build(SdkFixture sdk)
        {
            var hg = Path.Combine(_project.Path, "vendor/hgpkg");
            FixturePackages.WriteSetuptoolsProject(hg, "hgpkg", "1.0", "TEXT = 'hg-v1'\n");
            Tool.Ok("hg", hg, "init");
            Tool.Ok("hg", hg, "commit", "-q", "-A", "-u", "t", "-m", "one");
            Tool.Ok("hg", hg, "tag", "-u", "t", "v1");
            File.WriteAllText(Path.Combine(hg, "hgpkg.py"), "TEXT = 'hg-later'\n");
            Tool.Ok("hg", hg, "commit", "-q", "-u", "t", "-m", "two");

            var svnRepository = Path.Combine(_project.Path, "vendor/svnrepo");
            var svnImport = Path.Combine(_project.Path, "svnimport");
            Tool.Ok("svnadmin", _project.Path, "create", svnRepository);
            FixturePackages.WriteSetuptoolsProject(Path.Combine(svnImport, "trunk"), "svnpkg", "1.0", "TEXT = 'svn-r1'\n");
            Tool.Ok("svn", _project.Path, "import", "-q", "-m", "r1", svnImport, "file://" + svnRepository);
            Tool.Ok("svn", _project.Path, "checkout", "-q", "file://" + svnRepository + "/trunk", "svnwc");
            File.WriteAllText(Path.Combine(_project.Path, "svnwc/svnpkg.py"), "TEXT = 'svn-later'\n");
            Tool.Ok("svn", _project.Path, "commit", "-q", "-m", "r2", "svnwc");
            Directory.Delete(svnImport, recursive: true);
            Directory.Delete(Path.Combine(_project.Path, "svnwc"), recursive: true);

            var bzr = Path.Combine(_project.Path, "vendor/bzrpkg");
            FixturePackages.WriteSetuptoolsProject(bzr, "bzrpkg", "1.0", "TEXT = 'bzr-r1'\n");
            Tool.Ok("bzr", bzr, "init", "-q");
            Tool.Ok("bzr", bzr, "add", "-q");
            Tool.Ok("bzr", bzr, "commit", "-q", "-m", "one");
            File.WriteAllText(Path.Combine(bzr, "bzrpkg.py"), "TEXT = 'bzr-later'\n");
            Tool.Ok("bzr", bzr, "commit", "-q", "-m", "two");

            _project.Write("wsgi.py", """
                import importlib
                def application(environ, start_response):
                    module = importlib.import_module(environ['PATH_INFO'].strip('/') + 'pkg')
                    start_response('200 OK', [('Content-Type', 'text/plain')])
                    return [module.TEXT.encode()]
                """);
            _project.Write("requirements.txt", """
                -e hg+file:///app/vendor/hgpkg@v1#egg=hgpkg
                -e svn+file:///app/vendor/svnrepo/trunk@1#egg=svnpkg
                bzr+file:///app/vendor/bzrpkg@1#egg=bzrpkg
                """);
            var project = sdk.WriteProject(_project.Path, "vcsother");
            var build = sdk.PublishImage(project, "ContainerRepository=" + _image);
            Assert.True(build.ExitCode == 0, "PublishImage failed:\n" + build.Output);
            Assert.Contains(" -----> Installing version control tools: mercurial subversion bzr", build.StdOut);
            return RunningContainer.Start(_image);
        }

        public void Dispose()
        {
            _container?.Dispose();
            Run.Docker("rmi", "-f", _image + ":latest");
            _project.Dispose();
        }
    }

    /// <summary>The host's VCS tools (eng/setup-machine.sh installs them).</summary>
    private static class Tool
    {
        private static readonly Dictionary<string, string?> Identity = new()
        {
            ["BRZ_EMAIL"] = "t <t@example.com>",
            ["HGUSER"] = "t",
        };

        public static string Ok(string tool, string directory, params string[] args)
        {
            ProcessResult result;
            try
            {
                result = Run.Process(tool, args, workingDirectory: directory, env: Identity);
            }
            catch (System.ComponentModel.Win32Exception)
            {
                throw new InvalidOperationException($"'{tool}' is not installed on this machine: run eng/setup-machine.sh (it installs git, mercurial, subversion and bzr).");
            }
            Assert.True(result.ExitCode == 0, $"{tool} {string.Join(' ', args)}: {result.Output}");
            return result.StdOut;
        }
    }
}
