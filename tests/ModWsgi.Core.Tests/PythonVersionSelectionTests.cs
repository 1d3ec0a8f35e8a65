using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Python;

namespace ModWsgi.Core.Tests;

/// <summary>Which base image a project's Python version picks, from which source, and what is refused.</summary>
public sealed class PythonVersionSelectionTests : IDisposable
{
    private readonly string _project = Directory.CreateTempSubdirectory("modwsgi-python-").FullName;

    public void Dispose() => Directory.Delete(_project, recursive: true);

    private void Write(string name, string content) => File.WriteAllText(Path.Combine(_project, name), content);

    private PythonChoice Select(string? property = null, string? baseImage = null) =>
        PythonVersionSelection.Select(_project, property, baseImage);

    private ModWsgiException Refused(string? property = null) =>
        Assert.Throws<ModWsgiException>(() => Select(property));

    private static string Pyproject(string requiresPython) =>
        $"[project]\nname = \"site\"\nversion = \"1.0\"\nrequires-python = \"{requiresPython}\"\n";

    [Fact]
    public void NothingSaid_IsBookworm_ByDefault()
    {
        var choice = Select();

        Assert.Equal("modwsgi/base:bookworm", choice.BaseImage);
        Assert.Equal(PythonVersionSelection.DefaultSource, choice.Source);
        Assert.Contains("the default", choice.Describe(), StringComparison.Ordinal);
        Assert.Null(choice.Warning);
    }

    [Theory]
    [InlineData("3.13", "modwsgi/base:trixie")]
    [InlineData("3.11", "modwsgi/base:bookworm")]
    [InlineData(" 3.13.1 ", "modwsgi/base:trixie")]
    [InlineData("3.11.4", "modwsgi/base:bookworm")]
    public void TheProperty_PicksTheBaseImageOfItsMinorVersion(string property, string image)
    {
        var choice = Select(property);

        Assert.Equal(image, choice.BaseImage);
        Assert.Equal("WsgiPythonVersion", choice.Source);
        Assert.Equal(property.Trim(), choice.Asked);
    }

    [Fact]
    public void PythonVersionFile_PyenvsFormat_DecidesAndTheLogNamesIt()
    {
        Write(".python-version", "3.13.1\n");

        var choice = Select();

        Assert.Equal("modwsgi/base:trixie", choice.BaseImage);
        Assert.Equal(".python-version", choice.Source);
        Assert.Contains(".python-version: 3.13.1", choice.Describe(), StringComparison.Ordinal);
        Assert.Contains("mod_wsgi 5.0", choice.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void PythonVersionFile_OfSeveralLines_TakesTheFirstVersionABaseImageGives()
    {
        // pyenv's several versions, with a comment, another implementation and a minor version no image has.
        Write(".python-version", "# pinned by pyenv local\npypy3.10-7.3.12\n3.12\n\ncpython-3.13\n3.11\n");

        var choice = Select();

        Assert.Equal("modwsgi/base:trixie", choice.BaseImage);
        Assert.Equal("cpython-3.13", choice.Asked);
    }

    [Theory]
    [InlineData("system\n")]
    [InlineData("\n# nothing\n")]
    [InlineData("pypy3.10\n")]
    public void PythonVersionFile_WithoutACPythonVersion_IsMalformed(string content)
    {
        Write(".python-version", content);

        var ex = Refused();

        Assert.Equal(DiagnosticCodes.PythonVersionInvalid, ex.Code);
        Assert.Contains(".python-version", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RuntimeTxt_HerokusFormat_Decides()
    {
        Write("runtime.txt", "python-3.13.1\n");

        var choice = Select();

        Assert.Equal("modwsgi/base:trixie", choice.BaseImage);
        Assert.Equal("runtime.txt", choice.Source);
    }

    [Theory]
    [InlineData("3.13.1")]
    [InlineData("python 3.13")]
    [InlineData("pypy-3.10")]
    public void RuntimeTxt_NotPythonDashVersion_IsMalformed(string content)
    {
        Write("runtime.txt", content);

        var ex = Refused();

        Assert.Equal(DiagnosticCodes.PythonVersionInvalid, ex.Code);
        Assert.Contains("runtime.txt", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(">=3.12", "modwsgi/base:trixie")]
    [InlineData(">=3.10,<3.14", "modwsgi/base:bookworm")] // both satisfy it: the default is kept
    [InlineData("~=3.11", "modwsgi/base:bookworm")]
    [InlineData("~=3.13.0", "modwsgi/base:trixie")]
    [InlineData("==3.13.*", "modwsgi/base:trixie")]
    [InlineData("!=3.11.*", "modwsgi/base:trixie")]
    [InlineData(">3.11.2, <4", "modwsgi/base:trixie")]
    [InlineData("<=3.11.2", "modwsgi/base:bookworm")]
    public void RequiresPython_PicksTheDefaultWhenItSatisfiesIt_ElseTheNewestThatDoes(string requiresPython, string image)
    {
        Write("pyproject.toml", Pyproject(requiresPython));

        var choice = Select();

        Assert.Equal(image, choice.BaseImage);
        Assert.Equal("pyproject.toml requires-python", choice.Source);
    }

    [Fact]
    public void Pyproject_WithoutRequiresPython_IsTheDefault()
    {
        Write("pyproject.toml", "[project]\nname = \"site\"\n\n[build-system]\nrequires = [\"setuptools\"]\n");

        Assert.Equal(PythonVersionSelection.DefaultSource, Select().Source);
    }

    [Theory]
    [InlineData("3.13")]            // no operator
    [InlineData(">=3.13a1")]        // a pre-release: no base image's Python is one
    [InlineData(">=3.*")]           // a wildcard only goes with == and !=
    [InlineData("~=3")]             // ~= needs two numbers
    public void RequiresPython_NotASpecifierSet_IsMalformed(string requiresPython)
    {
        Write("pyproject.toml", Pyproject(requiresPython));

        var ex = Refused();

        Assert.Equal(DiagnosticCodes.PythonVersionInvalid, ex.Code);
        Assert.Contains(requiresPython, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RequiresPython_NotAString_IsMalformed()
    {
        Write("pyproject.toml", "[project]\nname = \"site\"\nrequires-python = 3.13\n");

        Assert.Equal(DiagnosticCodes.PythonVersionInvalid, Refused().Code);
    }

    [Fact]
    public void Pyproject_NotToml_IsUnreadable()
    {
        Write("pyproject.toml", "[project\nname = \"site\"\n");

        var ex = Refused();

        Assert.Equal(DiagnosticCodes.PyprojectUnreadable, ex.Code);
        Assert.Contains("pyproject.toml", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("3.12")]
    [InlineData("3.14.0")]
    [InlineData("2.7")]
    [InlineData("3")]
    public void AVersionNoBaseImageGives_ListsTheOnesThatExist(string property)
    {
        var ex = Refused(property);

        Assert.Equal(DiagnosticCodes.PythonVersionUnavailable, ex.Code);
        Assert.Contains($"'{property}'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("3.11 (modwsgi/base:bookworm", ex.Message, StringComparison.Ordinal);
        Assert.Contains("3.13 (modwsgi/base:trixie", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(".python-version", "3.12\n")]
    [InlineData("runtime.txt", "python-3.10.4")]
    [InlineData("pyproject.toml", "[project]\nrequires-python = \">=3.14\"\n")]
    [InlineData("pyproject.toml", "[project]\nrequires-python = \"<3.11\"\n")]
    public void AFileAskingForAVersionNoBaseImageGives_IsUnavailable_NamingTheFile(string file, string content)
    {
        Write(file, content);

        var ex = Refused();

        Assert.Equal(DiagnosticCodes.PythonVersionUnavailable, ex.Code);
        Assert.StartsWith(file, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("3,13")]
    [InlineData("latest")]
    [InlineData("3.13-dev")]
    [InlineData("v3.13")]
    public void TheProperty_NotAVersion_IsMalformed(string property)
    {
        var ex = Refused(property);

        Assert.Equal(DiagnosticCodes.PythonVersionInvalid, ex.Code);
        Assert.Contains("WsgiPythonVersion", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Precedence_PropertyThenPythonVersionThenRuntimeTxtThenRequiresPython()
    {
        Write("pyproject.toml", Pyproject(">=3.12"));
        Assert.Equal(("pyproject.toml requires-python", "modwsgi/base:trixie"), (Select().Source, Select().BaseImage));

        Write("runtime.txt", "python-3.11.9");
        Assert.Equal(("runtime.txt", "modwsgi/base:bookworm"), (Select().Source, Select().BaseImage));

        Write(".python-version", "3.13");
        Assert.Equal((".python-version", "modwsgi/base:trixie"), (Select().Source, Select().BaseImage));

        Assert.Equal(("WsgiPythonVersion", "modwsgi/base:bookworm"), (Select("3.11").Source, Select("3.11").BaseImage));
    }

    [Fact]
    public void AnExplicitBaseImage_Wins_WithAWarningWhenItIsAnSdkImageOfAnotherPython()
    {
        Write(".python-version", "3.13");

        var choice = Select(baseImage: "modwsgi/base:bookworm");

        Assert.Equal("modwsgi/base:bookworm", choice.BaseImage);
        Assert.Equal("ContainerBaseImage", choice.Source);
        Assert.NotNull(choice.Warning);
        Assert.Contains("gives Python 3.11", choice.Warning, StringComparison.Ordinal);
        Assert.Contains(".python-version asks for '3.13'", choice.Warning, StringComparison.Ordinal);
        Assert.Contains("modwsgi/base:trixie gives that", choice.Warning, StringComparison.Ordinal);
    }

    [Fact]
    public void AnExplicitBaseImage_ThatAgrees_HasNoWarning()
    {
        Write(".python-version", "3.13");

        Assert.Null(Select(baseImage: "modwsgi/base:trixie").Warning);
    }

    [Fact]
    public void AnExplicitImageOfYourOwn_IsUsedAsGiven_EvenForAVersionNoSdkImageGives()
    {
        Write(".python-version", "3.12");

        var choice = Select(baseImage: "mycorp/python312-modwsgi:1");

        Assert.Equal("mycorp/python312-modwsgi:1", choice.BaseImage);
        Assert.Null(choice.Known);
        Assert.Null(choice.Warning);
        Assert.Contains("the project asks for Python 3.12 in .python-version", choice.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void TheOptions_CarryTheChosenBaseImage()
    {
        Write("runtime.txt", "python-3.13.1");

        var options = new ProjectSettings().ToOptions(_project, "/runtime", null);

        Assert.Equal("modwsgi/base:trixie", options.BaseImage);
        Assert.Equal("runtime.txt", options.Python!.Source);
        Assert.Equal("modwsgi/base:bookworm", (new ProjectSettings { WsgiPythonVersion = "3.11" }).ToOptions(_project, "/runtime", null).BaseImage);
    }
}

/// <summary>The PEP 440 specifier sets requires-python uses, against Python releases.</summary>
public sealed class PythonSpecifierTests
{
    [Theory]
    [InlineData(">=3.10,<3.14", "3.11.2", true)]
    [InlineData(">=3.10,<3.14", "3.14.0", false)]
    [InlineData("~=3.11", "3.13.5", true)]     // >=3.11, ==3.*
    [InlineData("~=3.11", "4.0", false)]
    [InlineData("~=3.11.4", "3.11.2", false)]  // >=3.11.4, ==3.11.*
    [InlineData("~=3.11.1", "3.11.2", true)]
    [InlineData("~=3.11.1", "3.12.0", false)]
    [InlineData("==3.13.*", "3.13.5", true)]
    [InlineData("==3.13.*", "3.1", false)]
    [InlineData("==3.13", "3.13.5", false)]    // 3.13 means 3.13.0
    [InlineData("==3.13", "3.13.0", true)]
    [InlineData("!=3.12.*", "3.12.9", false)]
    [InlineData("!=3.12.*", "3.13.5", true)]
    [InlineData(">3.11", "3.11.2", true)]
    [InlineData(">3.11.2", "3.11.2", false)]
    [InlineData("<=3.11", "3.11.0", true)]
    [InlineData("<=3.11", "3.11.2", false)]
    [InlineData("===3.13.5", "3.13.5", true)]
    [InlineData("===3.13", "3.13.5", false)]
    [InlineData(" >= 3.9 , != 3.10.* ", "3.11.2", true)]
    public void Matches(string specifier, string version, bool expected)
    {
        Assert.True(PythonSpecifier.TryParse(specifier, out var parsed, out var problem), problem);
        Assert.Equal(expected, parsed.IsSatisfiedBy(version));
    }

    [Theory]
    [InlineData("")]
    [InlineData("3.11")]
    [InlineData(">=")]
    [InlineData(">=3.x")]
    [InlineData("<3.*")]
    [InlineData("~=3.*")]
    [InlineData(">=3.11,")]
    [InlineData("=>3.11")]
    public void Refuses(string specifier)
    {
        Assert.False(PythonSpecifier.TryParse(specifier, out _, out var problem));
        Assert.NotEmpty(problem);
    }
}
