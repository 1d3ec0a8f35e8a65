using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Python;

namespace ModWsgi.Core.Tests;

public sealed class RequirementsScannerTests : IDisposable
{
    private readonly string _project = Directory.CreateTempSubdirectory("modwsgi-req-").FullName;

    public void Dispose() => Directory.Delete(_project, recursive: true);

    private void Write(string relativePath, params string[] lines)
    {
        var path = Path.Combine(_project, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, string.Join("\n", lines) + "\n");
    }

    private RequirementsScan Scan() => RequirementsScanner.Scan(_project);

    [Fact]
    public void NoRequirementsFile_GivesAnEmptyScan()
    {
        var scan = Scan();

        Assert.Empty(scan.RequirementFiles);
        Assert.Empty(scan.VcsTools);
        Assert.Empty(scan.LocalPaths);
    }

    [Fact]
    public void PlainRequirements_AreNeitherVcsNorLocal()
    {
        Write("requirements.txt", "Django>=4.2,<5", "requests[security] == 2.31.0 ; python_version >= \"3.8\"", "psycopg2-binary");

        var scan = Scan();

        Assert.Equal(["requirements.txt"], scan.RequirementFiles);
        Assert.Empty(scan.VcsTools);
        Assert.Empty(scan.LocalPaths);
    }

    [Fact]
    public void NestedRequirements_TwoLevels_ResolveRelativeToTheReferencingFile()
    {
        Write("requirements.txt", "-r requirements/base.txt", "flask");
        Write("requirements/base.txt", "-r common/shared.txt", "requests");
        Write("requirements/common/shared.txt", "git+https://github.com/acme/shared.git#egg=shared");

        var scan = Scan();

        Assert.Equal(["requirements.txt", "requirements/base.txt", "requirements/common/shared.txt"], scan.RequirementFiles);
        Assert.Equal([VcsTool.Git], scan.VcsTools);
    }

    [Fact]
    public void ConstraintFile_IsScannedForVcsLines()
    {
        Write("requirements.txt", "-c constraints.txt", "library");
        Write("constraints.txt", "hg+https://hg.example.org/library#egg=library");

        var scan = Scan();

        Assert.Equal(["requirements.txt", "constraints.txt"], scan.RequirementFiles);
        Assert.Equal([VcsTool.Mercurial], scan.VcsTools);
    }

    [Fact]
    public void LongAndAttachedNestingForms_AreFollowed()
    {
        Write("requirements.txt", "--requirement=a.txt", "--requirement b.txt", "-rc.txt", "--constraint=d.txt", "-ce.txt");
        foreach (var name in new[] { "a.txt", "b.txt", "c.txt", "d.txt", "e.txt" })
            Write(name, "flask");

        var scan = Scan();

        Assert.Equal(["requirements.txt", "a.txt", "b.txt", "c.txt", "d.txt", "e.txt"], scan.RequirementFiles);
    }

    [Fact]
    public void UnambiguousLongOptionPrefix_IsFollowedLikeOptparse()
    {
        Write("requirements.txt", "--requirem other.txt");
        Write("other.txt", "svn+https://svn.example.org/repo/trunk#egg=repo");

        var scan = Scan();

        Assert.Equal(["requirements.txt", "other.txt"], scan.RequirementFiles);
        Assert.Equal([VcsTool.Subversion], scan.VcsTools);
    }

    [Fact]
    public void ShortOptionWithEquals_NamesAFileStartingWithEquals_AsPipDoes()
    {
        Write("requirements.txt", "-r=other.txt");
        Write("other.txt", "flask");

        var error = Assert.Throws<ModWsgiException>(Scan);

        Assert.Contains("'=other.txt'", error.Message);
    }

    [Fact]
    public void QuotedNestedPath_IsUnquoted()
    {
        Write("requirements.txt", "-r \"my requirements/dev.txt\"");
        Write("my requirements/dev.txt", "bzr+lp:project#egg=project");

        var scan = Scan();

        Assert.Equal(["requirements.txt", "my requirements/dev.txt"], scan.RequirementFiles);
        Assert.Equal([VcsTool.Bazaar], scan.VcsTools);
    }

    [Fact]
    public void Comments_AreIgnored_ButUrlFragmentsAreNot()
    {
        Write("requirements.txt",
            "# git+https://github.com/acme/commented.git",
            "   # hg+https://hg.example.org/indented-comment",
            "flask  # svn+https://svn.example.org/inline-comment",
            "requests\t# bzr+https://bzr.example.org/tab-comment",
            "-e git+https://github.com/acme/tool.git#egg=tool");

        var scan = Scan();

        Assert.Equal([VcsTool.Git], scan.VcsTools);
    }

    [Fact]
    public void CommentedOutNestedFile_IsNotFollowed()
    {
        Write("requirements.txt", "# -r missing.txt", "flask # -r also-missing.txt");

        var scan = Scan();

        Assert.Equal(["requirements.txt"], scan.RequirementFiles);
    }

    [Fact]
    public void IndexAndLinkOptions_AreNotVcsRequirements()
    {
        Write("requirements.txt",
            "--index-url https://git+example/simple",
            "-i https://git+mirror.example/simple",
            "--extra-index-url https://hg+extra.example/simple",
            "--extra-index-url=https://svn+extra.example/simple",
            "--find-links https://bzr+links.example/",
            "-f https://git+links.example/",
            "--trusted-host git+host.example",
            "--pre",
            "--no-binary :all:",
            "flask");

        var scan = Scan();

        Assert.Empty(scan.VcsTools);
        Assert.Empty(scan.LocalPaths);
    }

    [Fact]
    public void VcsSchemes_AreCaseInsensitive()
    {
        Write("requirements.txt", "GIT+HTTPS://github.com/acme/loud.git#egg=loud", "Hg+https://hg.example.org/mixed#egg=mixed");

        var scan = Scan();

        Assert.Equal([VcsTool.Git, VcsTool.Mercurial], scan.VcsTools);
    }

    [Fact]
    public void EveryVcs_IsFound_DistinctAndInEnumOrder()
    {
        Write("requirements.txt",
            "bzr+https://bzr.example.org/b#egg=b",
            "svn+svn://svn.example.org/s/trunk#egg=s",
            "hg+ssh://hg@hg.example.org/h#egg=h",
            "git+ssh://git@github.com/acme/g.git#egg=g",
            "git+https://github.com/acme/g2.git@v1.0#egg=g2");

        var scan = Scan();

        Assert.Equal([VcsTool.Git, VcsTool.Mercurial, VcsTool.Subversion, VcsTool.Bazaar], scan.VcsTools);
    }

    [Theory]
    [InlineData("-e git+https://github.com/acme/tool.git#egg=tool", VcsTool.Git)]
    [InlineData("--editable hg+https://hg.example.org/tool#egg=tool", VcsTool.Mercurial)]
    [InlineData("--editable=svn+https://svn.example.org/tool/trunk#egg=tool", VcsTool.Subversion)]
    [InlineData("-ebzr+https://bzr.example.org/tool#egg=tool", VcsTool.Bazaar)]
    [InlineData("-e git://github.com/acme/tool.git#egg=tool", VcsTool.Git)]
    [InlineData("tool @ git+https://github.com/acme/tool.git@main", VcsTool.Git)]
    [InlineData("tool[extra] @ hg+https://hg.example.org/tool ; python_version >= \"3.8\"", VcsTool.Mercurial)]
    [InlineData("tool@svn+https://svn.example.org/tool/trunk", VcsTool.Subversion)]
    [InlineData("git+https://github.com/acme/tool.git#egg=tool --hash=sha256:0123", VcsTool.Git)]
    public void VcsRequirementForms_AreDetected(string line, VcsTool expected)
    {
        Write("requirements.txt", line);

        var scan = Scan();

        Assert.Equal([expected], scan.VcsTools);
    }

    [Theory]
    [InlineData("git-lfs==1.0")]
    [InlineData("gitpython")]
    [InlineData("https://example.org/git+archive/pkg-1.0.tar.gz")]
    [InlineData("pkg @ https://example.org/git+pkg-1.0.tar.gz")]
    public void NonVcsRequirements_MentioningVcsNames_AreNotVcs(string line)
    {
        Write("requirements.txt", line);

        var scan = Scan();

        Assert.Empty(scan.VcsTools);
    }

    [Fact]
    public void ContinuationLines_AreJoined()
    {
        Write("requirements.txt",
            "-e \\",
            "git+https://github.com/acme/tool.git#egg=tool",
            "-r \\",
            "more.txt",
            "flask \\",
            "  >=2.0");
        Write("more.txt", "hg+https://hg.example.org/more#egg=more");

        var scan = Scan();

        Assert.Equal(["requirements.txt", "more.txt"], scan.RequirementFiles);
        Assert.Equal([VcsTool.Git, VcsTool.Mercurial], scan.VcsTools);
    }

    [Fact]
    public void CommentLine_EndsAContinuation()
    {
        Write("requirements.txt", "flask \\", "# git+https://github.com/acme/commented.git \\", "svn+https://svn.example.org/x#egg=x");

        var scan = Scan();

        Assert.Equal([VcsTool.Subversion], scan.VcsTools);
    }

    [Fact]
    public void MissingNestedFile_ThrowsNamingBothFilesAndTheLine()
    {
        Write("requirements.txt", "-r requirements/base.txt");
        Write("requirements/base.txt", "flask", "", "-r missing.txt");

        var error = Assert.Throws<ModWsgiException>(Scan);

        Assert.Equal(DiagnosticCodes.RequirementsFileMissing, error.Code);
        Assert.Equal(2002, error.Code.Number);
        Assert.Contains("requirements/base.txt line 3", error.Message);
        Assert.Contains("requirements/missing.txt", error.Message);
    }

    [Fact]
    public void MissingNestedFile_AfterAContinuation_ReportsTheFirstLineOfIt()
    {
        Write("requirements.txt", "flask", "-c \\", "nope.txt");

        var error = Assert.Throws<ModWsgiException>(Scan);

        Assert.Contains("requirements.txt line 2", error.Message);
        Assert.Contains("'nope.txt'", error.Message);
        Assert.Contains("-c", error.Message);
    }

    [Fact]
    public void NestedFileBehindAnEnvironmentVariable_IsLeftToPip()
    {
        Write("requirements.txt", "-r ${EXTRA_REQUIREMENTS_DIR}/extra.txt", "-e ${LIB_DIR}/tool");

        var scan = Scan();

        Assert.Equal(["requirements.txt"], scan.RequirementFiles);
        Assert.Equal(["${LIB_DIR}/tool"], scan.LocalPaths);
    }

    [Fact]
    public void RemoteNestedFile_IsNotScanned()
    {
        Write("requirements.txt", "-r https://example.org/requirements.txt");

        var scan = Scan();

        Assert.Equal(["requirements.txt"], scan.RequirementFiles);
    }

    [Fact]
    public void Cycle_Terminates_VisitingEachFileOnce()
    {
        Write("requirements.txt", "-r a.txt");
        Write("a.txt", "-r b.txt", "git+https://github.com/acme/a.git#egg=a");
        Write("b.txt", "-r a.txt", "-r ./requirements.txt", "hg+https://hg.example.org/b#egg=b");

        var scan = Scan();

        Assert.Equal(["requirements.txt", "a.txt", "b.txt"], scan.RequirementFiles);
        Assert.Equal([VcsTool.Git, VcsTool.Mercurial], scan.VcsTools);
    }

    [Fact]
    public void LocalPaths_AreCollected_ProjectRelative_Distinct()
    {
        Write("requirements.txt",
            "-e .",
            "-e ./libs/foo",
            "-e ./libs/foo[dev]",
            "./wheels/x.whl",
            "libs/bar",
            "local_pkg-1.0.tar.gz",
            "./vendor/baz ; python_version >= \"3.8\"",
            "file:./vendor/qux#egg=qux",
            "quux @ file:///opt/quux",
            "-r requirements/dev.txt");
        // pip resolves local requirements against its working folder, the project, not the nested file's folder.
        Write("requirements/dev.txt", "-e ./tools/lint", "./wheels/x.whl");

        var scan = Scan();

        Assert.Equal(
            // file:///opt/quux is outside the project: the build cannot copy it in, so it is no input.
            [".", "libs/foo", "wheels/x.whl", "libs/bar", "local_pkg-1.0.tar.gz", "vendor/baz", "vendor/qux", "tools/lint"],
            scan.LocalPaths);
    }

    [Fact]
    public void LocalFindLinks_IsALocalPath_PreferringTheRequirementsFileFolder()
    {
        Write("requirements.txt", "--find-links ./wheels", "-r requirements/prod.txt");
        Write("requirements/prod.txt", "-f ../vendor", "-f nested-wheels");
        Directory.CreateDirectory(Path.Combine(_project, "vendor"));
        Directory.CreateDirectory(Path.Combine(_project, "requirements/nested-wheels"));

        var scan = Scan();

        Assert.Equal(["wheels", "vendor", "requirements/nested-wheels"], scan.LocalPaths);
    }

    [Fact]
    public void TopLevelFile_CanBeAnotherName()
    {
        Write("requirements/prod.txt", "-r base.txt");
        Write("requirements/base.txt", "svn+https://svn.example.org/x#egg=x");

        var scan = RequirementsScanner.Scan(_project, "requirements/prod.txt");

        Assert.Equal(["requirements/prod.txt", "requirements/base.txt"], scan.RequirementFiles);
        Assert.Equal([VcsTool.Subversion], scan.VcsTools);
    }

    [Theory]
    [InlineData(VcsTool.Git, "git")]
    [InlineData(VcsTool.Mercurial, "mercurial")]
    [InlineData(VcsTool.Subversion, "subversion")]
    [InlineData(VcsTool.Bazaar, "bzr")]
    public void DebianPackage_NamesThePackageProvidingTheTool(VcsTool tool, string package) =>
        Assert.Equal(package, RequirementsScanner.DebianPackage(tool));
}

public sealed class RequirementsScannerContainerPathTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("modwsgi-scan-").FullName;

    [Fact]
    public void Absolute_app_paths_and_git_file_urls_become_project_relative_inputs()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "deps/gitpkg.git"));
        Directory.CreateDirectory(Path.Combine(_dir, "vendor/x.git"));
        File.WriteAllText(Path.Combine(_dir, "requirements.txt"),
            "git+file:///app/deps/gitpkg.git#egg=gitpkg\n-e /app/libs/local\nfile:///srv/elsewhere/pkg\ngit+file://localhost/app/vendor/x.git\n");

        var scan = ModWsgi.Core.Python.RequirementsScanner.Scan(_dir);

        Assert.Equal(["deps/gitpkg.git", "libs/local", "vendor/x.git"], scan.LocalPaths);
        Assert.Equal([ModWsgi.Core.Python.VcsTool.Git], scan.VcsTools);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
