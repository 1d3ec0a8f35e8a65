using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Python;
using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Tests;

public sealed class VcsRequirementTests
{
    [Theory]
    // Local repositories: the path leaves out @rev and the fragment; the query stays in the repository URL.
    [InlineData("git+file:///app/vendor/pkg.git@v1.0#egg=pkg&subdirectory=sub", VcsTool.Git, "file:///app/vendor/pkg.git", "v1.0", "pkg", "sub", "/app/vendor/pkg.git")]
    [InlineData("git+file:///app/vendor/pkg.git#subdirectory=src/pkg&egg=pkg", VcsTool.Git, "file:///app/vendor/pkg.git", null, "pkg", "src/pkg", "/app/vendor/pkg.git")]
    [InlineData("git+file://localhost/app/My%20Repo.git@0123abc", VcsTool.Git, "file://localhost/app/My%20Repo.git", "0123abc", null, null, "/app/My Repo.git")]
    [InlineData("GIT+file:///app/a@b/pkg.git@main", VcsTool.Git, "file:///app/a@b/pkg.git", "main", null, null, "/app/a@b/pkg.git")]
    [InlineData("hg+file:///app/vendor/hgpkg@v1#egg=hgpkg", VcsTool.Mercurial, "file:///app/vendor/hgpkg", "v1", "hgpkg", null, "/app/vendor/hgpkg")]
    [InlineData("svn+file:///app/vendor/svnrepo/trunk@1#egg=svnpkg", VcsTool.Subversion, "file:///app/vendor/svnrepo/trunk", "1", "svnpkg", null, "/app/vendor/svnrepo/trunk")]
    [InlineData("bzr+file:///app/vendor/bzrpkg@2#egg=bzrpkg", VcsTool.Bazaar, "file:///app/vendor/bzrpkg", "2", "bzrpkg", null, "/app/vendor/bzrpkg")]
    [InlineData("git+file:vendor/pkg.git@v2", VcsTool.Git, "file:vendor/pkg.git", "v2", null, null, "vendor/pkg.git")]
    // Remote repositories: planned (the tool is installed), never a local input. A user@ in the host is no revision.
    [InlineData("git+https://user@github.com/acme/pkg.git@v1.0#egg=pkg", VcsTool.Git, "https://user@github.com/acme/pkg.git", "v1.0", "pkg", null, null)]
    [InlineData("git+ssh://git@github.com/acme/pkg.git", VcsTool.Git, "ssh://git@github.com/acme/pkg.git", null, null, null, null)]
    [InlineData("git+https://example.org/r.git?ref=x#egg=r", VcsTool.Git, "https://example.org/r.git?ref=x", null, "r", null, null)]
    [InlineData("git+file://otherhost/app/pkg.git", VcsTool.Git, "file://otherhost/app/pkg.git", null, null, null, null)]
    [InlineData("bzr+lp:project#egg=project", VcsTool.Bazaar, "lp:project", null, "project", null, null)]
    public void Parse_SplitsRepositoryRevisionAndFragment(string url, VcsTool tool, string repository, string? revision, string? egg, string? subdirectory, string? localPath)
    {
        var vcs = VcsRequirement.Parse(url, editable: false);

        Assert.Equal(new VcsRequirement(tool, repository, revision, egg, subdirectory, false, localPath), vcs);
    }

    [Fact]
    public void Parse_TakesABareVcsSchemeOnlyForAnEditable()
    {
        Assert.Equal(new VcsRequirement(VcsTool.Git, "git://example.org/pkg.git", "v1", "pkg", null, true, null),
            VcsRequirement.Parse("git://example.org/pkg.git@v1#egg=pkg", editable: true));
        Assert.Null(VcsRequirement.Parse("git://example.org/pkg.git", editable: false));
    }

    [Theory]
    [InlineData("https://example.org/pkg.tar.gz")]
    [InlineData("file:///app/vendor/pkg")]
    [InlineData("cvs+file:///app/x")]
    [InlineData("pkg==1.0")]
    public void Parse_IsNullForWhatIsNoVcsUrl(string url) => Assert.Null(VcsRequirement.Parse(url, editable: true));
}

public sealed class LocalRepositoryScanTests : IDisposable
{
    private readonly string _project = Directory.CreateTempSubdirectory("modwsgi-vcs-").FullName;

    public void Dispose() => Directory.Delete(_project, recursive: true);

    private void Write(string relativePath, string content = "")
    {
        var path = Path.Combine(_project, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    [Fact]
    public void Local_repositories_with_revisions_and_fragments_are_inputs_by_their_folder()
    {
        Write("vendor/pkg.git/HEAD", "ref: refs/heads/main\n");
        Write("vendor/mono.git/HEAD", "ref: refs/heads/main\n");
        Write("vendor/hgpkg/.hg/requires");
        Write("vendor/bzrpkg/.bzr/branch-format");
        // An svn URL names a folder inside the repository: the repository (format + db/) is the input.
        Write("vendor/svnrepo/format", "5\n");
        Write("vendor/svnrepo/db/current", "1\n");
        Write("requirements.txt",
            "-e git+file:///app/vendor/pkg.git@v1.0#egg=pkg\n" +
            "git+file:///app/vendor/mono.git@0123abc#egg=sub&subdirectory=sub\n" +
            "-e hg+file:///app/vendor/hgpkg@v1#egg=hgpkg\n" +
            "-e svn+file:///app/vendor/svnrepo/trunk@1#egg=svnpkg\n" +
            "bzrpkg @ bzr+file:///app/vendor/bzrpkg@1\n" +
            "git+https://github.com/acme/remote.git@v2#egg=remote\n");

        var scan = RequirementsScanner.Scan(_project);

        Assert.Equal(["vendor/pkg.git", "vendor/mono.git", "vendor/hgpkg", "vendor/svnrepo", "vendor/bzrpkg"], scan.LocalPaths);
        Assert.Equal([VcsTool.Git, VcsTool.Mercurial, VcsTool.Subversion, VcsTool.Bazaar], scan.VcsTools);
        Assert.Equal([true, false, true, true, false, false], scan.VcsRequirements.Select(v => v.Editable));
        Assert.Equal("sub", scan.VcsRequirements[1].Subdirectory);
    }

    [Theory]
    [InlineData("git+file:///srv/repos/pkg.git@v1#egg=pkg", "/srv/repos/pkg.git", "git clone --bare /srv/repos/pkg.git vendor/NAME")]
    [InlineData("-e hg+file:///app/../srv/pkg#egg=pkg", "/app/../srv/pkg", "hg+file:///app/vendor/NAME")]
    public void A_local_repository_outside_the_project_is_a_coded_error_saying_what_to_do(string line, string path, string advice)
    {
        Write("requirements.txt", line + "\n");

        var error = Assert.Throws<ModWsgiException>(() => RequirementsScanner.Scan(_project));

        Assert.Equal(DiagnosticCodes.VcsRepositoryOutsideProject, error.Code);
        Assert.Contains("requirements.txt line 1", error.Message);
        Assert.Contains($"'{path}'", error.Message);
        Assert.Contains(advice, error.Message);
    }

    [Fact]
    public void The_projects_own_host_path_is_answered_with_its_app_path()
    {
        Write("vendor/pkg.git/HEAD");
        Write("requirements.txt", $"git+file://{_project}/vendor/pkg.git@v1#egg=pkg\n");

        var error = Assert.Throws<ModWsgiException>(() => RequirementsScanner.Scan(_project));

        Assert.Equal(DiagnosticCodes.VcsRepositoryOutsideProject, error.Code);
        Assert.Contains("git+file:///app/vendor/pkg.git", error.Message);
    }

    [Theory]
    [InlineData("git+file:///app/vendor/missing.git@v1#egg=x", "vendor/missing.git")]
    // An svn path whose nearest existing folder is no repository.
    [InlineData("svn+file:///app/vendor/plain/trunk#egg=x", "vendor/plain/trunk")]
    public void A_local_repository_that_does_not_exist_is_a_coded_error(string line, string relative)
    {
        Write("vendor/plain/readme.txt");
        Write("requirements.txt", line + "\n");

        var error = Assert.Throws<ModWsgiException>(() => RequirementsScanner.Scan(_project));

        Assert.Equal(DiagnosticCodes.VcsRepositoryMissing, error.Code);
        Assert.Contains($"'{relative}' does not exist", error.Message);
    }

    [Fact]
    public void An_environment_reference_in_the_path_is_left_to_pip()
    {
        Write("requirements.txt", "git+file:///app/${REPO}@v1#egg=x\n");

        var scan = RequirementsScanner.Scan(_project);

        Assert.Empty(scan.LocalPaths);
        Assert.Equal([VcsTool.Git], scan.VcsTools);
    }

    [Fact]
    public void The_plan_keeps_editable_checkouts_in_the_venv_strips_their_metadata_and_sends_the_repository()
    {
        Write("wsgi.py");
        Write("vendor/pkg.git/HEAD");
        Write("vendor/pkg.git/objects/pack/p.pack", "pack");
        Write("requirements.txt", "-e git+file:///app/vendor/pkg.git@v1.0#egg=pkg\n");

        var plan = BuildPlan.Create(_project);

        Assert.Equal(["vcs-tools", "pip", "vcs-checkouts"], plan.DependencySteps.Select(s => s.Name));
        Assert.Contains("--src /opt/venv/src", plan.DependencySteps[1].Script);
        Assert.DoesNotContain(".docker/tmp", plan.DependencySteps[1].Script);
        Assert.Contains("-name .git", plan.DependencySteps[2].Script);
        Assert.Contains("vendor/pkg.git", plan.DependencyInputs);
        Assert.True(plan.DependencyInputFilter()("vendor/pkg.git/objects/pack/p.pack"));
    }

    [Fact]
    public void The_plan_strips_nothing_without_an_editable_and_wraps_bzr_only_when_needed()
    {
        Write("wsgi.py");
        Write("requirements.txt", "git+https://github.com/acme/pkg.git@v1#egg=pkg\n");
        var gitOnly = BuildPlan.Create(_project);
        Write("requirements.txt", "bzr+https://bzr.example.org/pkg#egg=pkg\n");
        var bazaar = BuildPlan.Create(_project);

        Assert.Equal(["vcs-tools", "pip"], gitOnly.DependencySteps.Select(s => s.Name));
        Assert.DoesNotContain("/usr/local/bin/bzr", gitOnly.DependencySteps[0].Script);
        Assert.Contains("PYTHONEXECUTABLE=/usr/bin/python3 exec /usr/bin/bzr", bazaar.DependencySteps[0].Script);
    }
}
