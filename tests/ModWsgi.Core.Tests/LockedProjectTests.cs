using System.Security.Cryptography;
using System.Text;
using ModWsgi.Core.Cache;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Project;
using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Tests;

/// <summary>A locked project that is a package installs itself on top; WsgiServer is found in locks and PEP 621 metadata.</summary>
public sealed class LockedProjectTests : IDisposable
{
    private readonly string _project = Directory.CreateTempSubdirectory("modwsgi-lockedproject-").FullName;

    public void Dispose() => Directory.Delete(_project, recursive: true);

    private void Write(string relative, string content)
    {
        var path = Path.Combine(_project, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    /// <summary>A hash as a lock would hold it, computed from a stand-in for a wheel's bytes.</summary>
    private static string Sha(string artifact) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(artifact)));

    private BuildPlan Plan(params string[] groups) => BuildPlan.Create(_project, groups);

    private void WriteSrcLayoutPyProject(string dependencies = "['flask']", string extra = "") => Write("pyproject.toml", $"""
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "srcapp"
        version = "0.1.0"
        dependencies = {dependencies}
        {extra}

        [tool.setuptools.packages.find]
        where = ["src"]
        """);

    private string UvLock(string source, params string[] locked) =>
        "version = 1\n[[package]]\nname = \"srcapp\"\nversion = \"0.1.0\"\nsource = { " + source + " = \".\" }\n"
        + "dependencies = [" + string.Join(", ", locked.Select(n => $"{{ name = \"{n}\" }}")) + "]\n"
        + string.Concat(locked.Select(n => $"[[package]]\nname = \"{n}\"\nversion = \"1.0\"\nsource = {{ registry = \"x\" }}\nwheels = [{{ hash = \"{Sha(n)}\" }}]\n"));

    [Fact]
    public void ALockedPackagedProject_InstallsItselfOnTop_WithItsBackendInTheDependencyLayer()
    {
        WriteSrcLayoutPyProject();
        Write("src/srcapp/__init__.py", "");
        Write("uv.lock", UvLock("editable", "flask"));

        var plan = Plan();

        Assert.NotNull(plan.ProjectInstall);
        Assert.Contains("--no-deps --no-build-isolation --no-index --use-pep517 -e .", plan.ProjectInstall!.Script, StringComparison.Ordinal);
        Assert.Equal(["pip", "build-backend"], plan.DependencySteps.Select(s => s.Name));
        // setuptools' build hook would also ask for wheel (PyProject.BuildRequirementsOf).
        Assert.Contains("setuptools>=61\nwheel\n", plan.DependencySteps[1].Script, StringComparison.Ordinal);
        Assert.Equal(["uv.lock"], plan.DependencyInputs);
        Assert.Contains("pyproject.toml", plan.ProjectInstallInputs!);
        Assert.Contains("installed on top", plan.DependencySource, StringComparison.Ordinal);

        // A source edit keeps the dependency key; the backend's requirements change it.
        var files = ProjectFiles.Load(_project);
        var before = DependencyKey.Compute(files, plan, "sha256:b", "sha256:r", new PipSettings()).Key;
        Write("src/srcapp/__init__.py", "X = 1\n");
        Assert.Equal(before, DependencyKey.Compute(ProjectFiles.Load(_project), Plan(), "sha256:b", "sha256:r", new PipSettings()).Key);
        File.WriteAllText(Path.Combine(_project, "pyproject.toml"), File.ReadAllText(Path.Combine(_project, "pyproject.toml")).Replace("setuptools>=61", "setuptools>=62", StringComparison.Ordinal));
        Assert.NotEqual(before, DependencyKey.Compute(ProjectFiles.Load(_project), Plan(), "sha256:b", "sha256:r", new PipSettings()).Key);
    }

    [Theory]
    [InlineData("uv.lock", "virtual")]
    [InlineData("poetry.lock", "package-mode")]
    [InlineData("Pipfile.lock", "no-build-system")]
    public void ALockedProjectThatIsNoPackage_IsNotInstalled(string file, string why)
    {
        Write("pyproject.toml", why switch
        {
            "package-mode" => "[tool.poetry]\npackage-mode = false\n",
            "no-build-system" => "[tool.black]\nline-length = 100\n",
            _ => "[project]\nname = 'srcapp'\nversion = '0.1.0'\n",
        });
        Write(file, file switch
        {
            "uv.lock" => UvLock("virtual", "flask"),
            "poetry.lock" => $"[[package]]\nname = \"flask\"\nversion = \"1.0\"\nfiles = [{{ file = \"f.whl\", hash = \"{Sha("flask")}\" }}]\n",
            _ => $"{{\"_meta\": {{}}, \"default\": {{\"flask\": {{\"version\": \"==1.0\", \"hashes\": [\"{Sha("flask")}\"]}}}}}}",
        });

        var plan = Plan();

        Assert.Null(plan.ProjectInstall);
        Assert.Equal(["pip"], plan.DependencySteps.Select(s => s.Name));
    }

    private DetectedProject DetectServer(ServerKind server, params string[] groups)
    {
        var plan = Plan(groups);
        return FrameworkDetection.Detect(_project, server, entryPointGiven: false, enabled: true, DeclaredDependencies.Of(plan));
    }

    [Theory]
    [InlineData("uv.lock")]
    [InlineData("pylock.toml")]
    [InlineData("pyproject.toml")]
    [InlineData("pyproject.toml extra")]
    [InlineData("pyproject.toml group")]
    public void WsgiServer_ListedOnlyInALockOrInPep621Dependencies_IsFound_ForTheChosenGroups(string where)
    {
        string[] groups = where.EndsWith(" extra", StringComparison.Ordinal) ? ["serve"] : where.EndsWith(" group", StringComparison.Ordinal) ? ["prod"] : [];
        if (where == "uv.lock")
        {
            Write("uv.lock", UvLock("virtual", "flask", "gunicorn"));
            Write("pyproject.toml", "[project]\nname = 'srcapp'\nversion = '0.1.0'\n");
        }
        else if (where == "pylock.toml")
            Write("pylock.toml", $"lock-version = \"1.0\"\n[[packages]]\nname = \"Gunicorn\"\nversion = \"23.0.0\"\nwheels = [{{ hashes = {{ sha256 = \"{Sha("g")[7..]}\" }} }}]\n");
        else
            WriteSrcLayoutPyProject(groups.Length == 0 ? "['flask', 'gunicorn>=20; python_version >= \"3.8\"']" : "['flask']",
                "[project.optional-dependencies]\nserve = ['gunicorn[gevent]']\n\n[dependency-groups]\nprod = ['gunicorn==23.0.0']\n");

        Assert.Equal(ServerKind.Gunicorn, DetectServer(ServerKind.Gunicorn, groups).Server);
        var missing = Assert.Throws<ModWsgiException>(() => DetectServer(ServerKind.Waitress, groups));
        Assert.Equal(DiagnosticCodes.ServerNotInRequirements, missing.Code);
        Assert.Contains(where.Split(' ')[0], missing.Message, StringComparison.Ordinal);
        Assert.Contains("'waitress'", missing.Message, StringComparison.Ordinal);
        if (groups.Length > 0) // not chosen: not installed, so not found
            Assert.Throws<ModWsgiException>(() => DetectServer(ServerKind.Gunicorn));
    }

    [Fact]
    public void WsgiServer_WithMetadataOnlyTheBackendCanRead_SaysSo()
    {
        Write("setup.py", "from setuptools import setup\nsetup(name='app', install_requires=['gunicorn'])\n");

        var ex = Assert.Throws<ModWsgiException>(() => DetectServer(ServerKind.Gunicorn));

        Assert.Equal(DiagnosticCodes.ServerNotInRequirements, ex.Code);
        Assert.Contains("only the build backend can read", ex.Message, StringComparison.Ordinal);
        Assert.Contains("requirements.txt", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WsgiServer_InRequirementsTxt_IsStillReadFromTheFile_NotFromALockBesideIt()
    {
        Write("requirements.txt", "flask\n");
        Write("pylock.toml", $"lock-version = \"1.0\"\n[[packages]]\nname = \"gunicorn\"\nversion = \"23.0.0\"\nwheels = [{{ hashes = {{ sha256 = \"{Sha("g")[7..]}\" }} }}]\n");
        Assert.Contains("requirements.txt does not list it", Assert.Throws<ModWsgiException>(() => DetectServer(ServerKind.Gunicorn)).Message, StringComparison.Ordinal);

        Write("requirements.txt", "flask\nGunicorn==23.0.0\n");
        Assert.Equal(ServerKind.Gunicorn, DetectServer(ServerKind.Gunicorn).Server);
    }

    private string PyLock(string package) =>
        $"lock-version = \"1.0\"\n[[packages]]\nname = \"{package}\"\nversion = \"1.0\"\nwheels = [{{ hashes = {{ sha256 = \"{Sha(package)[7..]}\" }} }}]\n";

    [Fact]
    public void NamedPyLocks_WsgiLockNameChoosesOne_AndItKeysTheLayer()
    {
        Write("pylock.dev.toml", PyLock("pytest"));
        Write("pylock.prod.toml", PyLock("gunicorn"));

        var prod = BuildPlan.Create(_project, [], "prod");
        var dev = BuildPlan.Create(_project, [], "dev");

        Assert.StartsWith("pylock.prod.toml (also present, not used: pylock.dev.toml)", prod.DependencySource, StringComparison.Ordinal);
        Assert.Equal(["pylock.prod.toml"], prod.DependencyInputs);
        Assert.Contains($"gunicorn==1.0 --hash={Sha("gunicorn")}", prod.DependencySteps.Single().Script, StringComparison.Ordinal);
        Assert.DoesNotContain("pytest", prod.DependencySteps.Single().Script, StringComparison.Ordinal);
        Assert.Equal(["pylock.dev.toml"], dev.DependencyInputs);
        Assert.Contains("pytest==1.0", dev.DependencySteps.Single().Script, StringComparison.Ordinal);
        Assert.Equal(["gunicorn"], prod.DependencyPackages);

        // pylock.toml is the default; the only named lock is taken without a choice.
        Write("pylock.toml", PyLock("flask"));
        Assert.StartsWith("pylock.toml (also present, not used: pylock.dev.toml, pylock.prod.toml)", Plan().DependencySource, StringComparison.Ordinal);
        File.Delete(Path.Combine(_project, "pylock.toml"));
        File.Delete(Path.Combine(_project, "pylock.dev.toml"));
        Assert.Equal(["pylock.prod.toml"], Plan().DependencyInputs);
    }

    [Fact]
    public void SeveralNamedPyLocks_WithoutAChoice_IsACodedErrorListingThem()
    {
        Write("pylock.dev.toml", PyLock("pytest"));
        Write("pylock.prod.toml", PyLock("gunicorn"));
        Write("pylock.not.a.name.toml", PyLock("other")); // dots: not a PEP 751 name

        var ex = Assert.Throws<ModWsgiException>(() => Plan());

        Assert.Equal(DiagnosticCodes.NamedLockAmbiguous, ex.Code);
        Assert.Contains("pylock.dev.toml, pylock.prod.toml)", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("not.a.name", ex.Message, StringComparison.Ordinal);
        Assert.Contains("WsgiLockName", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("staging")]
    [InlineData("../prod")]
    [InlineData("a.b")]
    public void AWsgiLockNameWithNoSuchFile_IsACodedErrorListingTheNames(string name)
    {
        Write("pylock.dev.toml", PyLock("pytest"));
        Write("pylock.prod.toml", PyLock("gunicorn"));

        var ex = Assert.Throws<ModWsgiException>(() => BuildPlan.Create(_project, [], name));

        Assert.Equal(DiagnosticCodes.NamedLockMissing, ex.Code);
        Assert.Contains("WsgiLockName dev or prod", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WsgiServer_InANamedLock_IsFound_AndTheMessageNamesThatLock()
    {
        Write("pylock.prod.toml", PyLock("gunicorn"));
        Write("pylock.dev.toml", PyLock("pytest"));

        var plan = BuildPlan.Create(_project, [], "prod");
        Assert.Equal(ServerKind.Gunicorn, FrameworkDetection.Detect(_project, ServerKind.Gunicorn, false, true, DeclaredDependencies.Of(plan)).Server);
        var ex = Assert.Throws<ModWsgiException>(() => FrameworkDetection.Detect(_project, ServerKind.Waitress, false, true, DeclaredDependencies.Of(plan)));
        Assert.Contains("pylock.prod.toml does not pin it", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", true)]
    [InlineData("[build-system]\nrequires = ['setuptools>=61']\nbuild-backend = 'setuptools.build_meta'\n", true)]
    [InlineData("[build-system]\nrequires = ['hatchling']\nbuild-backend = 'hatchling.build'\n", false)]
    [InlineData("setup.py", false)]
    [InlineData("attr", false)]
    public void APyprojectWhoseDynamicMetadataComesFromFiles_ReusesItsProjectInstall_KeyedByThoseFiles(string variant, bool reusable)
    {
        var version = variant == "attr" ? "{ attr = 'srcapp.__version__' }" : "{ file = ['VERSION'] }";
        Write("pyproject.toml", (variant.StartsWith('[') ? variant : "") + $$"""
            [project]
            name = "srcapp"
            dynamic = ["version", "dependencies"]

            [tool.setuptools.dynamic]
            version = {{version}}
            dependencies = { file = ["requirements.in"] }
            """);
        Write("VERSION", "0.1.0\n");
        Write("requirements.in", "flask\n");
        Write("srcapp/__init__.py", "__version__ = '0.1.0'\n");
        if (variant == "setup.py")
            Write("setup.py", "from setuptools import setup\nsetup()\n");

        var plan = Plan();

        Assert.NotNull(plan.ProjectInstall);
        if (!reusable)
        {
            Assert.Null(plan.ProjectInstallInputs);
            return;
        }
        Assert.Equal(["VERSION", "pyproject.toml", "requirements.in"], plan.ProjectInstallInputs!);
        // The install's key follows those files and the layout, not a code edit.
        var install = plan.ProjectInstall!;
        string Key() => ProjectInstallKey.Compute(ProjectFiles.Load(_project), plan.ProjectInstallInputs!, install, "sha256:deps");
        var first = Key();
        Write("srcapp/__init__.py", "__version__ = '0.1.0'\nX = 1\n");
        Assert.Equal(first, Key());
        Write("VERSION", "0.2.0\n");
        Assert.NotEqual(first, Key());
    }
}
