using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Project;

namespace ModWsgi.Core.Tests;

public sealed class DockerIgnoreTests
{
    private static void AssertExcluded(DockerIgnore ignore, params string[] paths)
    {
        foreach (var path in paths)
            Assert.True(ignore.IsExcluded(path), $"'{path}' should be excluded");
    }

    private static void AssertIncluded(DockerIgnore ignore, params string[] paths)
    {
        foreach (var path in paths)
            Assert.False(ignore.IsExcluded(path), $"'{path}' should be included");
    }

    [Fact]
    public void Parse_SkipsCommentsAndBlankLines_AndReadsCrlf()
    {
        var ignore = DockerIgnore.Parse("# build output\r\n\r\n   \r\n*.pyc\r\n\t# indented\n");

        // Docker checks for '#' before trimming, so an indented '#' line is a pattern.
        Assert.Equal(["*.pyc", "# indented"], ignore.Patterns);
        AssertIncluded(ignore, "# build output", "app.py");
        AssertExcluded(ignore, "app.pyc", "# indented");
    }

    [Fact]
    public void Star_DoesNotCrossDirectories()
    {
        var ignore = DockerIgnore.Parse("*.pyc");

        AssertExcluded(ignore, "app.pyc", ".pyc");
        AssertIncluded(ignore, "app.py", "pkg/app.pyc", "app.pyc.bak");
    }

    [Fact]
    public void DoubleStarPrefix_MatchesAtAnyDepthIncludingTheRoot()
    {
        var ignore = DockerIgnore.Parse("**/__pycache__");

        AssertExcluded(ignore, "__pycache__", "pkg/__pycache__", "a/b/__pycache__/mod.cpython-311.pyc");
        AssertIncluded(ignore, "pkg/not__pycache__", "__pycache__x/mod.py");
    }

    [Theory]
    [InlineData("docs/")]
    [InlineData("docs")]
    public void TrailingSlash_IsCleanedAway_SoBothFormsMatchTheSamePaths(string pattern)
    {
        var ignore = DockerIgnore.Parse(pattern);

        Assert.Equal(["docs"], ignore.Patterns);
        // Unlike .gitignore, "docs/" also matches a file named docs.
        AssertExcluded(ignore, "docs", "docs/index.md", "docs/api/ref.md");
        AssertIncluded(ignore, "src/docs", "docsite", "docs.md");
    }

    [Fact]
    public void LeadingSlashAndDotSegments_AreCleaned()
    {
        var ignore = DockerIgnore.Parse("/build\n./dist//\n!/build/keep\ntmp/../cache");

        Assert.Equal(["build", "dist", "!build/keep", "cache"], ignore.Patterns);
        AssertExcluded(ignore, "build", "build/lib/x.py", "dist/app.whl", "cache/x");
        AssertIncluded(ignore, "src/build", "build/keep", "tmp/x");
    }

    [Fact]
    public void Exception_ReIncludesOneFileInsideAnExcludedDirectory()
    {
        var ignore = DockerIgnore.Parse("static/*\n!static/keep.css");

        AssertExcluded(ignore, "static/app.css", "static/img/logo.png");
        AssertIncluded(ignore, "static", "static/keep.css");
    }

    [Fact]
    public void Exception_ReIncludesOneFileUnderAnExcludedDirectoryName()
    {
        var ignore = DockerIgnore.Parse("static\n!static/keep.css");

        AssertExcluded(ignore, "static", "static/app.css");
        AssertIncluded(ignore, "static/keep.css");
        Assert.True(ignore.MayIncludeUnder("static"));
    }

    [Fact]
    public void LastMatchingPatternWins()
    {
        var exceptionLast = DockerIgnore.Parse("*.md\n!README.md");
        var exceptionFirst = DockerIgnore.Parse("!README.md\n*.md");

        AssertIncluded(exceptionLast, "README.md");
        AssertExcluded(exceptionLast, "CHANGES.md");
        AssertExcluded(exceptionFirst, "README.md", "CHANGES.md");
    }

    [Fact]
    public void ExceptionForADirectory_ReIncludesEverythingBelowIt()
    {
        var ignore = DockerIgnore.Parse("*\n!app\napp/secret.txt");

        AssertExcluded(ignore, "setup.cfg", "app/secret.txt");
        AssertIncluded(ignore, "app", "app/wsgi.py", "app/pkg/models.py");
    }

    [Fact]
    public void QuestionMark_IsOneCharOtherThanSlash()
    {
        var ignore = DockerIgnore.Parse("file?.txt");

        AssertExcluded(ignore, "file1.txt", "filex.txt");
        AssertIncluded(ignore, "file.txt", "file10.txt", "file/.txt");
    }

    [Fact]
    public void CharacterClasses_RangesAndNegation()
    {
        var ignore = DockerIgnore.Parse("log[0-9].txt\n[^a]*.tmp");

        AssertExcluded(ignore, "log0.txt", "log9.txt", "b.tmp", "zz.tmp");
        AssertIncluded(ignore, "loga.txt", "log10.txt", "a.tmp", "abc.tmp");
    }

    [Fact]
    public void Backslash_EscapesTheNextChar()
    {
        var ignore = DockerIgnore.Parse(@"\*.txt" + "\n" + @"data\[1\]" + "\n" + @"what\?");

        AssertExcluded(ignore, "*.txt", "data[1]", "what?");
        AssertIncluded(ignore, "a.txt", "data1", "whats");
    }

    [Fact]
    public void DoubleStarInTheMiddle_MatchesZeroOrMoreDirectories()
    {
        var ignore = DockerIgnore.Parse("a/**/b");

        AssertExcluded(ignore, "a/b", "a/x/b", "a/x/y/b", "a/x/b/c.txt");
        AssertIncluded(ignore, "a/xb", "c/a/b", "a/b.txt");
    }

    [Fact]
    public void TrailingDoubleStar_MatchesEverythingBelowButNotTheDirectory()
    {
        var ignore = DockerIgnore.Parse("logs/**");

        AssertExcluded(ignore, "logs/a.log", "logs/2024/b.log");
        AssertIncluded(ignore, "logs", "logs.txt");
    }

    [Fact]
    public void PatternMatchingADirectory_ExcludesAllItsChildren()
    {
        var ignore = DockerIgnore.Parse("node_modules\n*/tmp");

        AssertExcluded(ignore, "node_modules/left-pad/index.js", "node_modules/a/b/c/d.js", "app/tmp/x/y.txt");
        AssertIncluded(ignore, "src/node_modules_notes.txt", "tmp/x", "a/b/tmp/x");
    }

    [Fact]
    public void ParentResults_CarryDownTheWalk_LikeBuildKit()
    {
        // "!a" is skipped for a and a/b (nothing excluded yet) and never tested against a/b/c's ancestors.
        var ignore = DockerIgnore.Parse("a/b/c\n!a");

        AssertExcluded(ignore, "a/b/c", "a/b/c/d");
        AssertIncluded(ignore, "a", "a/b", "a/x");
    }

    [Fact]
    public void MayIncludeUnder_FalseForAnExcludedDirectoryWithoutExceptions()
    {
        var ignore = DockerIgnore.Parse("node_modules\n.venv");

        Assert.False(ignore.MayIncludeUnder("node_modules"));
        Assert.False(ignore.MayIncludeUnder(".venv"));
        Assert.True(ignore.MayIncludeUnder("src"));
        Assert.True(ignore.MayIncludeUnder(""));
    }

    [Fact]
    public void MayIncludeUnder_PlainExceptions_OnlyOpenTheirOwnDirectories()
    {
        var ignore = DockerIgnore.Parse("static\ndocs\n!static/keep/**");

        Assert.True(ignore.MayIncludeUnder("static"));
        Assert.True(ignore.MayIncludeUnder("static/keep"));
        Assert.False(ignore.MayIncludeUnder("static/other"));
        Assert.False(ignore.MayIncludeUnder("docs"));
        AssertIncluded(ignore, "static/keep/a.css");
        AssertExcluded(ignore, "static/other/b.css");
    }

    [Fact]
    public void MayIncludeUnder_AnyWildcardException_OpensEveryExcludedDirectory()
    {
        var ignore = DockerIgnore.Parse("static\ndocs\n!**/*.css");

        Assert.True(ignore.MayIncludeUnder("docs"));
        AssertIncluded(ignore, "static/a.css", "docs/theme/site.css");
        AssertExcluded(ignore, "static/a.js", "docs");
    }

    [Theory]
    [InlineData("[a-")]
    [InlineData("file[]")]
    [InlineData("x[a-]")]
    [InlineData("trailing\\")]
    [InlineData("[z-a]")]
    [InlineData("!")]
    public void MalformedPattern_IsACodedError_NamingTheLine(string pattern)
    {
        var error = Assert.Throws<ModWsgiException>(() => DockerIgnore.Parse("*.pyc\n" + pattern));

        Assert.Equal(DiagnosticCodes.InvalidDockerIgnorePattern, error.Code);
        Assert.Contains($"line 2: '{pattern}'", error.Message);
    }

    [Fact]
    public void Load_WithoutDockerIgnore_ExcludesNothing()
    {
        var project = Directory.CreateTempSubdirectory("modwsgi-ignore-").FullName;
        try
        {
            var ignore = DockerIgnore.Load(project);

            Assert.Empty(ignore.Patterns);
            AssertIncluded(ignore, "app.pyc", "node_modules/x.js", ".env");
            Assert.True(ignore.MayIncludeUnder("node_modules"));
        }
        finally
        {
            Directory.Delete(project, recursive: true);
        }
    }

    [Fact]
    public void Load_ReadsTheProjectsDockerIgnore()
    {
        var project = Directory.CreateTempSubdirectory("modwsgi-ignore-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(project, DockerIgnore.FileName), "\uFEFF*.pyc\n.env\n");

            var ignore = DockerIgnore.Load(project);

            Assert.Equal(["*.pyc", ".env"], ignore.Patterns);
            AssertExcluded(ignore, "app.pyc", ".env");
            AssertIncluded(ignore, "app.py");
        }
        finally
        {
            Directory.Delete(project, recursive: true);
        }
    }
}
