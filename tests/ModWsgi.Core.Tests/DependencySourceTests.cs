using System.Security.Cryptography;
using System.Text;
using ModWsgi.Core.Cache;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Project;
using ModWsgi.Core.Python;
using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Tests;

/// <summary>Where the dependencies come from: precedence, lock formats, groups, and self-installing projects' metadata.</summary>
public sealed class DependencySourceTests : IDisposable
{
    private readonly string _project = Directory.CreateTempSubdirectory("modwsgi-depsource-").FullName;

    public void Dispose() => Directory.Delete(_project, recursive: true);

    private void Write(string relative, string content)
    {
        var path = Path.Combine(_project, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    /// <summary>A hash as a lock would hold it, computed (not pasted) from a stand-in for a wheel's bytes.</summary>
    private static string Sha(string artifact) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(artifact)));

    private BuildPlan Plan(params string[] groups) => BuildPlan.Create(_project, groups);

    private static string PipScript(BuildPlan plan) => plan.DependencySteps.Single(s => s.Name == "pip").Script;

    private string Locked(params string[] groups) =>
        LockFiles.ToHashedRequirements(LockFiles.Read(_project, LockFormat.All.Single(f => File.Exists(Path.Combine(_project, f.FileName))), groups));

    private void WritePyLock() => Write("pylock.toml", $$"""
        lock-version = "1.0"
        created-by = "test"
        dependency-groups = ["dev"]
        default-groups = []
        extras = ["pg"]

        [[packages]]
        name = "flask"
        version = "2.2.2"
        wheels = [{ name = "Flask-2.2.2-py3-none-any.whl", hashes = { sha256 = "{{Sha("flask")[7..]}}" } }]

        [[packages]]
        name = "colorama"
        version = "0.4.6"
        marker = "sys_platform == 'win32'"
        wheels = [{ name = "colorama-0.4.6-py2.py3-none-any.whl", hashes = { sha256 = "{{Sha("colorama")[7..]}}" } }]

        [[packages]]
        name = "pytest"
        version = "8.0.0"
        marker = "'dev' in dependency_groups"
        sdist = { name = "pytest-8.0.0.tar.gz", hashes = { sha256 = "{{Sha("pytest")[7..]}}" } }

        [[packages]]
        name = "psycopg"
        version = "3.1.0"
        marker = "'pg' in extras and python_version >= '3.8'"
        wheels = [{ name = "psycopg-3.1.0-py3-none-any.whl", hashes = { sha256 = "{{Sha("psycopg")[7..]}}" } }]

        [[packages]]
        name = "app"
        directory = { path = "." }
        """);

    [Fact]
    public void PyLock_DefaultInstallsMainPackages_MarkersOnGroupsAreDecidedHere()
    {
        WritePyLock();

        Assert.Equal($"""
            colorama==0.4.6 ; sys_platform == 'win32' --hash={Sha("colorama")}
            flask==2.2.2 --hash={Sha("flask")}

            """, Locked());
        Assert.Equal($"""
            colorama==0.4.6 ; sys_platform == 'win32' --hash={Sha("colorama")}
            flask==2.2.2 --hash={Sha("flask")}
            psycopg==3.1.0 ; python_version >= '3.8' --hash={Sha("psycopg")}
            pytest==8.0.0 --hash={Sha("pytest")}

            """, Locked("dev", "PG"));
    }

    [Fact]
    public void UvLock_FollowsTheGraphFromTheProject_WithEdgeMarkersExtrasAndGroups()
    {
        Write("uv.lock", $$"""
            version = 1
            requires-python = ">=3.11"

            [[package]]
            name = "app"
            version = "0.1.0"
            source = { editable = "." }
            dependencies = [{ name = "flask", extra = ["async"] }]

            [package.optional-dependencies]
            pg = [{ name = "psycopg" }]

            [package.dev-dependencies]
            dev = [{ name = "pytest" }]

            [[package]]
            name = "flask"
            version = "2.2.2"
            source = { registry = "https://pypi.org/simple" }
            dependencies = [{ name = "click" }, { name = "colorama", marker = "sys_platform == 'win32'" }]
            sdist = { url = "https://example/flask.tar.gz", hash = "{{Sha("flask-sdist")}}", size = 1 }
            wheels = [{ url = "https://example/flask.whl", hash = "{{Sha("flask")}}", size = 1 }]

            [package.optional-dependencies]
            async = [{ name = "asgiref" }]

            [[package]]
            name = "click"
            version = "8.1.3"
            source = { registry = "https://pypi.org/simple" }
            dependencies = [{ name = "colorama", marker = "platform_system == 'Windows'" }]
            wheels = [{ url = "https://example/click.whl", hash = "{{Sha("click")}}", size = 1 }]

            [[package]]
            name = "colorama"
            version = "0.4.6"
            source = { registry = "https://pypi.org/simple" }
            wheels = [{ url = "https://example/colorama.whl", hash = "{{Sha("colorama")}}", size = 1 }]

            [[package]]
            name = "asgiref"
            version = "3.6.0"
            source = { registry = "https://pypi.org/simple" }
            wheels = [{ url = "https://example/asgiref.whl", hash = "{{Sha("asgiref")}}", size = 1 }]

            [[package]]
            name = "psycopg"
            version = "3.1.0"
            source = { registry = "https://pypi.org/simple" }
            wheels = [{ url = "https://example/psycopg.whl", hash = "{{Sha("psycopg")}}", size = 1 }]

            [[package]]
            name = "pytest"
            version = "8.0.0"
            source = { registry = "https://pypi.org/simple" }
            wheels = [{ url = "https://example/pytest.whl", hash = "{{Sha("pytest")}}", size = 1 }]
            """);

        var main = Locked();
        Assert.Equal($"""
            asgiref==3.6.0 --hash={Sha("asgiref")}
            click==8.1.3 --hash={Sha("click")}
            colorama==0.4.6 ; (platform_system == 'Windows') or (sys_platform == 'win32') --hash={Sha("colorama")}
            flask==2.2.2 --hash={string.Join(" --hash=", new[] { Sha("flask"), Sha("flask-sdist") }.Order(StringComparer.Ordinal))}

            """, main);
        var withGroups = Locked("dev", "pg");
        Assert.Contains($"pytest==8.0.0 --hash={Sha("pytest")}", withGroups);
        Assert.Contains($"psycopg==3.1.0 --hash={Sha("psycopg")}", withGroups);
    }

    [Fact]
    public void PoetryLock_MainGroupByDefault_OptionalOnlyThroughAChosenExtra()
    {
        Write("poetry.lock", $$"""
            [[package]]
            name = "flask"
            version = "2.2.2"
            optional = false
            python-versions = ">=3.7"
            groups = ["main"]
            files = [{ file = "Flask-2.2.2-py3-none-any.whl", hash = "{{Sha("flask")}}" }]

            [[package]]
            name = "pytest"
            version = "8.0.0"
            optional = false
            python-versions = ">=3.8"
            groups = ["dev"]
            markers = "python_version >= '3.8'"
            files = [{ file = "pytest-8.0.0.tar.gz", hash = "{{Sha("pytest")}}" }]

            [[package]]
            name = "psycopg2"
            version = "2.9.5"
            optional = true
            python-versions = ">=3.6"
            groups = ["main"]
            files = [{ file = "psycopg2-2.9.5.tar.gz", hash = "{{Sha("psycopg2")}}" }]

            [extras]
            postgres = ["psycopg2"]

            [metadata]
            lock-version = "2.1"
            python-versions = "^3.11"
            content-hash = "0"
            """);

        Assert.Equal($"flask==2.2.2 --hash={Sha("flask")}\n", Locked());
        Assert.Equal($"""
            flask==2.2.2 --hash={Sha("flask")}
            psycopg2==2.9.5 --hash={Sha("psycopg2")}
            pytest==8.0.0 ; python_version >= '3.8' --hash={Sha("pytest")}

            """, Locked("dev", "postgres"));
    }

    [Fact]
    public void PipfileLock_DefaultAlways_DevelopForTheDevGroup()
    {
        Write("Pipfile.lock", $$"""
            {
              "_meta": { "hash": { "sha256": "0" }, "pipfile-spec": 6 },
              "default": {
                "flask": { "hashes": ["{{Sha("flask")}}", "{{Sha("flask-sdist")}}"], "version": "==2.2.2", "index": "pypi" },
                "colorama": { "hashes": ["{{Sha("colorama")}}"], "markers": "sys_platform == 'win32'", "version": "==0.4.6" },
                "app": { "editable": true, "path": "." }
              },
              "develop": {
                "pytest": { "hashes": ["{{Sha("pytest")}}"], "version": "==8.0.0" }
              }
            }
            """);

        Assert.Equal($"""
            colorama==0.4.6 ; sys_platform == 'win32' --hash={Sha("colorama")}
            flask==2.2.2 --hash={string.Join(" --hash=", new[] { Sha("flask"), Sha("flask-sdist") }.Order(StringComparer.Ordinal))}

            """, Locked());
        Assert.Contains($"pytest==8.0.0 --hash={Sha("pytest")}", Locked("dev"));
    }

    [Theory]
    [InlineData("requirements.txt", "pylock.toml", "uv.lock", "poetry.lock", "Pipfile.lock")]
    [InlineData("pylock.toml", "uv.lock", "poetry.lock", "Pipfile.lock")]
    [InlineData("uv.lock", "poetry.lock", "Pipfile.lock")]
    [InlineData("poetry.lock", "Pipfile.lock")]
    [InlineData("Pipfile.lock")]
    public void TheFirstFileInPrecedenceOrderWins_AndTheLogNamesTheOthers(params string[] present)
    {
        Write("pyproject.toml", "[project]\nname = 'app'\nversion = '1'\ndependencies = ['flask']\n");
        foreach (var file in present)
            Write(file, file switch
            {
                "requirements.txt" => "flask\n",
                "pylock.toml" => $"lock-version = \"1.0\"\n[[packages]]\nname = \"flask\"\nversion = \"2.2.2\"\nwheels = [{{ hashes = {{ sha256 = \"{Sha("f")[7..]}\" }} }}]\n",
                "uv.lock" => $"version = 1\n[[package]]\nname = \"app\"\nversion = \"1\"\nsource = {{ virtual = \".\" }}\ndependencies = [{{ name = \"flask\" }}]\n[[package]]\nname = \"flask\"\nversion = \"2.2.2\"\nsource = {{ registry = \"x\" }}\nwheels = [{{ hash = \"{Sha("f")}\" }}]\n",
                "poetry.lock" => $"[[package]]\nname = \"flask\"\nversion = \"2.2.2\"\nfiles = [{{ file = \"f.whl\", hash = \"{Sha("f")}\" }}]\n",
                _ => $"{{\"_meta\": {{}}, \"default\": {{\"flask\": {{\"version\": \"==2.2.2\", \"hashes\": [\"{Sha("f")}\"]}}}}}}",
            });

        var plan = Plan();

        Assert.StartsWith(present[0], plan.DependencySource, StringComparison.Ordinal);
        foreach (var ignored in present.Skip(1))
            Assert.Contains(ignored, plan.DependencySource![present[0].Length..], StringComparison.Ordinal);
        // A [project] table makes it a package: a lock installs it on top, except uv's virtual project and requirements.txt.
        var installsItself = present[0] is not ("requirements.txt" or "uv.lock");
        Assert.Equal(!installsItself, plan.DependencySource!.Contains("the project's own metadata", StringComparison.Ordinal));
        Assert.Equal(installsItself, plan.ProjectInstall is not null);
        if (present[0] != "requirements.txt")
        {
            Assert.Equal([present[0]], plan.DependencyInputs);
            Assert.Contains($"flask==2.2.2 --hash={Sha("f")}\n", PipScript(plan), StringComparison.Ordinal);
            Assert.Contains("--require-hashes --no-deps", PipScript(plan), StringComparison.Ordinal);
        }
        else
            Assert.EndsWith("-r requirements.txt", PipScript(plan), StringComparison.Ordinal);
    }

    [Fact]
    public void RequirementsTxtWithHashes_IsInstalledInHashCheckingMode_WithoutOneItIsUnchanged()
    {
        Write("requirements.txt", "flask==2.2.2\n");
        Assert.Equal("/usr/bin/python3 -m pip --python /opt/venv/bin/python install --no-cache-dir --src /opt/venv/src -r requirements.txt", PipScript(Plan()));

        Write("requirements.txt", $"flask==2.2.2 \\\n    --hash={Sha("flask")}\n");
        Assert.Contains("--require-hashes --no-deps -r requirements.txt", PipScript(Plan()), StringComparison.Ordinal);
    }

    [Fact]
    public void ChoosingTheGroups_ChangesTheKey_ButNotTheLockFileInput()
    {
        WritePyLock();
        var files = ProjectFiles.Load(_project);
        DependencyKey Key(params string[] groups) => DependencyKey.Compute(files, Plan(groups), "sha256:b", "sha256:r", new PipSettings());

        var main = Key();
        var dev = Key("dev");

        Assert.NotEqual(main.Key, dev.Key);
        Assert.Equal(main.Components["input pylock.toml"], dev.Components["input pylock.toml"]);
        Assert.Contains("lock groups changed", dev.DescribeChangesFrom(main.Components));
        Assert.Equal(main.Key, Key().Key);
    }

    [Fact]
    public void AnUnknownGroup_IsACodedErrorListingTheLocksGroups()
    {
        WritePyLock();

        var error = Assert.Throws<ModWsgiException>(() => Plan("docs"));

        Assert.Equal(DiagnosticCodes.DependencyGroupUnknown, error.Code);
        Assert.Contains("'docs'", error.Message, StringComparison.Ordinal);
        Assert.Contains("dev, pg", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[[package]]\nname = \"x\"\nversion = \"1\"\nfiles = []\n", DiagnosticCodes_LockedPackageNotHashed)]
    [InlineData("[[package]]\nname = \"x\"\nversion = \"1\"\nfiles = [{ file = \"x.whl\", hash = \"md5 zzz\" }]\n", DiagnosticCodes_DependencyFileInvalid)]
    [InlineData("[[package]\nname = ", DiagnosticCodes_DependencyFileInvalid)]
    [InlineData("[[package]]\nname = \"x\"\nversion = \"1\"\nsource = { type = \"git\", url = \"https://g/x\" }\nfiles = []\n", DiagnosticCodes_LockedPackageNotHashed)]
    public void ABrokenOrUnhashableLock_IsACodedErrorNamingTheFile(string lockText, int code)
    {
        Write("poetry.lock", lockText);

        var error = Assert.Throws<ModWsgiException>(() => Plan());

        Assert.Equal(code, error.Code.Number);
        Assert.Contains("poetry.lock", error.Message, StringComparison.Ordinal);
    }

    private const int DiagnosticCodes_DependencyFileInvalid = 2015;
    private const int DiagnosticCodes_LockedPackageNotHashed = 2017;

    [Fact]
    public void StaticPyProject_InstallsItsDependenciesAndBackend_KeyedByThemNotTheFile_ProjectGoesInOnTop()
    {
        Write("pyproject.toml", """
            [build-system]
            requires = ["setuptools>=61"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "flaskr"
            version = "1.0.0"
            dependencies = ["flask>=2.2"]

            [project.optional-dependencies]
            test = ["pytest"]

            [dependency-groups]
            lint = ["ruff", { include-group = "typing" }]
            typing = ["mypy"]
            """);
        Write("flaskr/templates/index.html", "<p>hi</p>");
        var files = ProjectFiles.Load(_project);
        var plan = Plan();
        var key = DependencyKey.Compute(files, plan, "sha256:b", "sha256:r", new PipSettings());

        Assert.Empty(plan.DependencyInputs);
        Assert.Contains("setuptools>=61\nwheel\nflask>=2.2\n", PipScript(plan), StringComparison.Ordinal); // wheel: setuptools' build hook asks for it
        Assert.DoesNotContain("pytest", PipScript(plan), StringComparison.Ordinal);
        Assert.Contains("--no-deps --no-build-isolation --no-index --use-pep517 -e .", plan.ProjectInstall!.Script, StringComparison.Ordinal);
        // Fully static metadata: the editable install's result is reusable, keyed by pyproject.toml and the layout.
        Assert.Equal([PyProject.FileName], plan.ProjectInstallInputs);
        Assert.Null(plan.MetadataFallback);
        Assert.Contains("ruff\nmypy\n", PipScript(Plan("lint")), StringComparison.Ordinal);
        Assert.Contains("pytest\n", PipScript(Plan("test")), StringComparison.Ordinal);

        // A version bump or a template edit leaves the key alone; a new dependency does not.
        File.WriteAllText(Path.Combine(_project, "pyproject.toml"), File.ReadAllText(Path.Combine(_project, "pyproject.toml")).Replace("1.0.0", "1.0.1"));
        Write("flaskr/templates/index.html", "<p>edited</p>");
        Assert.Equal(key.Key, DependencyKey.Compute(ProjectFiles.Load(_project), Plan(), "sha256:b", "sha256:r", new PipSettings()).Key);
        File.WriteAllText(Path.Combine(_project, "pyproject.toml"), File.ReadAllText(Path.Combine(_project, "pyproject.toml")).Replace("\"flask>=2.2\"", "\"flask>=2.2\", \"click\""));
        Assert.Contains("metadata pyproject.toml changed", DependencyKey.Compute(ProjectFiles.Load(_project), Plan(), "sha256:b", "sha256:r", new PipSettings()).DescribeChangesFrom(key.Components));
    }

    [Fact]
    public void ProjectInstallKey_FollowsTheMetadataAndTheLayout_NotOtherContents()
    {
        Write("pyproject.toml", "[project]\nname = 'app'\nversion = '1'\n");
        Write("app/__init__.py", "X = 1\n");
        var install = new BuildStep("project", "t", "pip install -e .");
        string Key() => ProjectInstallKey.Compute(ProjectFiles.Load(_project), [PyProject.FileName], install, "sha256:deps");
        var first = Key();

        Write("app/__init__.py", "X = 2\n");
        Assert.Equal(first, Key());
        Write("app/views.py", "");
        var withModule = Key();
        Assert.NotEqual(first, withModule);
        Write("pyproject.toml", "[project]\nname = 'app'\nversion = '2'\n");
        Assert.NotEqual(withModule, Key());
    }

    [Theory]
    [InlineData("[project]\nname = 'app'\ndynamic = ['dependencies', 'version']\n[tool.setuptools.dynamic]\ndependencies = { file = ['requirements.in'] }\n")]
    [InlineData("[build-system]\nrequires = ['setuptools']\n")]
    public void DynamicDependencies_AreComputedFromTheMetadataFilesOnly_WithTheWholeFolderAsFallback(string pyproject)
    {
        Write("pyproject.toml", pyproject);
        Write("requirements.in", "flask\n");
        Write("setup.py", "from setuptools import setup\nsetup()\n");
        Write("README.md", "# app\n");
        Write("app/__init__.py", "");

        var plan = Plan();

        var expected = new List<string> { "README.md", "pyproject.toml", "setup.py" };
        if (pyproject.Contains("requirements.in", StringComparison.Ordinal))
            expected.Add("requirements.in");
        Assert.Equal(expected.Order(StringComparer.Ordinal), plan.DependencyInputs.Order(StringComparer.Ordinal));
        Assert.Contains("--dry-run --no-build-isolation --report", PipScript(plan), StringComparison.Ordinal);
        Assert.NotNull(plan.ProjectInstall);
        Assert.Null(plan.ProjectInstallInputs);
        Assert.Equal([BuildPlan.WholeProject], plan.MetadataFallback!.DependencyInputs);
        Assert.Null(plan.MetadataFallback.ProjectInstall);
        var explained = plan.DependencySteps.Single(s => s.Name == "pip").ExplainFailure!(PipStepPlanner.MetadataNeedsSourceExit, ["ModuleNotFoundError: No module named 'app'"]);
        Assert.Equal(DiagnosticCodes.MetadataNeedsSource, explained!.Code);
        Assert.Contains("No module named 'app'", explained.Message, StringComparison.Ordinal);
        Assert.Null(plan.DependencySteps.Single(s => s.Name == "pip").ExplainFailure!(1, ["network"]));
    }

    [Fact]
    public void AHashMismatchExit_BecomesTheCodedErrorNamingThePackage()
    {
        WritePyLock();
        var step = Plan().DependencySteps.Single(s => s.Name == "pip");

        var error = step.ExplainFailure!(PipStepPlanner.HashMismatchExit, ["ERROR: THESE PACKAGES DO NOT MATCH THE HASHES", "modwsgi: hash mismatch: flask==2.2.2"]);

        Assert.Equal(DiagnosticCodes.LockHashMismatch, error!.Code);
        Assert.Contains("'flask==2.2.2'", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("'dev' in dependency_groups", "", false, null)]
    [InlineData("'dev' in dependency_groups", "dev", false, null)]
    [InlineData("'dev' not in dependency_groups and os_name == 'posix'", "", false, "os_name == 'posix'")]
    [InlineData("('pg' in extras or extra == \"PG\") and python_version >= '3.8'", "", true, null)]
    [InlineData("sys_platform == 'win32' or 'dev' in dependency_groups", "", false, "sys_platform == 'win32'")]
    [InlineData("(sys_platform == 'win32' or os_name == 'nt') and 'dev' in dependency_groups", "dev", false, "sys_platform == 'win32' or os_name == 'nt'")]
    [InlineData("(sys_platform == 'win32' or os_name == 'nt') and 'dev' in dependency_groups and python_version > '3'", "dev", false, "(sys_platform == 'win32' or os_name == 'nt') and python_version > '3'")]
    public void MarkerSelection_DecidesOnlyTheSelectionTerms(string marker, string chosen, bool never, string? residual)
    {
        var groups = chosen.Length == 0 ? new HashSet<string>() : [chosen];
        var result = MarkerSelection.Apply(marker, new HashSet<string>(), groups);

        if (marker.StartsWith("'dev' in", StringComparison.Ordinal) && chosen.Length == 0)
            Assert.True(result.Never);
        else
            Assert.Equal(never, result.Never);
        Assert.Equal(residual, result.Residual);
    }
}

/// <summary>The build requirements a --no-build-isolation install of the project needs.</summary>
public sealed class BuildRequirementsTests
{
    [Theory]
    [InlineData("requires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"", "setuptools>=61 wheel")]
    [InlineData("requires = [\"setuptools>=61\", \"Wheel>=0.37\"]\nbuild-backend = \"setuptools.build_meta\"", "setuptools>=61 Wheel>=0.37")]
    [InlineData("requires = [\"setuptools\"]", "setuptools wheel")]
    [InlineData("requires = [\"flit_core<4\"]\nbuild-backend = \"flit_core.buildapi\"", "flit_core<4")]
    public void Setuptools_backends_get_the_wheel_their_build_hook_would_ask_for(string buildSystem, string expected)
    {
        var document = Tomlyn.TomlSerializer.Deserialize<Tomlyn.Model.TomlTable>("[build-system]\n" + buildSystem)!;

        Assert.Equal(expected, string.Join(' ', ModWsgi.Core.Python.PyProject.BuildRequirementsOf(document)));
    }
}
