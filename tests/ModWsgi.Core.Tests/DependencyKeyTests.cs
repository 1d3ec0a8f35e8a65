using System.Runtime.Versioning;
using ModWsgi.Core.Cache;
using ModWsgi.Core.Layers;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Pipeline;
using ModWsgi.Core.Project;
using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Tests;

// The pre-build hook's executable bit is one of the inputs, and Windows has none.
[UnsupportedOSPlatform("windows")]
public sealed class DependencyKeyTests : IDisposable
{
    private const UnixFileMode Mode0755 = (UnixFileMode)0b111_101_101;
    private const UnixFileMode Mode0644 = (UnixFileMode)0b110_100_100;
    private const string BaseId = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    private const string RuntimeDiffId = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    private const string PreBuild = ".docker/action_hooks/pre-build";

    private readonly string _project = Directory.CreateTempSubdirectory("modwsgi-depkey-").FullName;

    public DependencyKeyTests()
    {
        Write("requirements.txt", "-r extra.txt\nFlask==3.0.0\n");
        Write("extra.txt", "requests==2.31.0\n");
        Write(PreBuild, "#!/bin/sh\necho preparing\n", Mode0755);
        Write("wsgi.py", "from app import app as application\n");
        Write("app.py", "app = None\n");
        Write("static/site.css", "body { margin: 0 }\n");
    }

    public void Dispose() => Directory.Delete(_project, recursive: true);

    private void Write(string relative, string content, UnixFileMode mode = Mode0644)
    {
        var path = Path.Combine(_project, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        File.SetUnixFileMode(path, mode);
    }

    private DependencyKey Key(string baseId = BaseId, string runtimeDiffId = RuntimeDiffId, PipSettings? pip = null) =>
        DependencyKey.Compute(ProjectFiles.Load(_project), BuildPlan.Create(_project), baseId, runtimeDiffId, pip ?? new PipSettings());

    [Fact]
    public void Key_IsADigestOverTheNamedInputs()
    {
        var key = Key();

        Assert.Matches("^sha256:[0-9a-f]{64}$", key.Key);
        Assert.Equal(
            ["base-image", "input .docker/action_hooks/pre-build", "input extra.txt", "input requirements.txt", "pip-settings", "runtime-layer", "steps"],
            key.Components.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(BaseId, key.Components["base-image"]);
        Assert.Equal(RuntimeDiffId, key.Components["runtime-layer"]);
        Assert.EndsWith(" +x", key.Components["input " + PreBuild]);
        Assert.Matches("^sha256:[0-9a-f]{64}$", key.Components["input requirements.txt"]);
        Assert.Equal(Key().Key, key.Key);
    }

    [Fact]
    public void EditingSourceOrStaticFiles_KeepsTheKey()
    {
        var before = Key();

        Write("wsgi.py", "from app import app as application  # edited\n");
        Write("app.py", "app = 'changed'\n");
        Write("static/site.css", "body { margin: 1px }\n");
        Write("static/new.js", "console.log('new');\n");
        Write("newmodule.py", "x = 1\n");

        var after = Key();
        Assert.Equal(before.Key, after.Key);
        Assert.Equal(before.Components, after.Components);
    }

    [Fact]
    public void Mtimes_DoNotChangeTheKey()
    {
        var before = Key();

        foreach (var file in Directory.EnumerateFiles(_project, "*", SearchOption.AllDirectories))
            File.SetLastWriteTimeUtc(file, new DateTime(2030, 6, 1, 12, 0, 0, DateTimeKind.Utc));

        Assert.Equal(before.Key, Key().Key);
    }

    [Theory]
    [InlineData("requirements.txt", "-r extra.txt\nFlask==3.0.1\n")]
    [InlineData("extra.txt", "requests==2.32.0\n")]
    [InlineData(PreBuild, "#!/bin/sh\necho preparing differently\n")]
    public void EditingAnInput_ChangesTheKey(string input, string content)
    {
        var before = Key();

        Write(input, content, input == PreBuild ? Mode0755 : Mode0644);
        var after = Key();

        Assert.NotEqual(before.Key, after.Key);
        Assert.Equal(["input " + input + " changed"], after.DescribeChangesFrom(before.Components));
    }

    [Fact]
    public void ThePreBuildHooksExecutableBit_ChangesTheKey()
    {
        var before = Key();

        File.SetUnixFileMode(Path.Combine(_project, PreBuild), Mode0644);
        var after = Key();

        Assert.NotEqual(before.Key, after.Key);
        // Same content digest, without the executable mark.
        Assert.Equal(before.Components["input " + PreBuild], after.Components["input " + PreBuild] + " +x");
        Assert.Contains("input " + PreBuild + " changed", after.DescribeChangesFrom(before.Components));
        // A non-executable hook is skipped, so the steps change too.
        Assert.Contains("steps changed", after.DescribeChangesFrom(before.Components));
    }

    [Fact]
    public void BaseImageRuntimeLayerAndPipSettings_ChangeTheKey()
    {
        var before = Key();

        var otherBase = Key(baseId: "sha256:3333333333333333333333333333333333333333333333333333333333333333");
        var otherRuntime = Key(runtimeDiffId: "sha256:4444444444444444444444444444444444444444444444444444444444444444");
        var otherIndex = Key(pip: new PipSettings { IndexUrl = "https://pypi.example.com/simple" });
        var otherExtra = Key(pip: new PipSettings { ExtraIndexUrls = ["https://extra.example.com/simple"] });

        Assert.Equal(5, new[] { before.Key, otherBase.Key, otherRuntime.Key, otherIndex.Key, otherExtra.Key }.Distinct().Count());
        Assert.Equal(["base-image changed"], otherBase.DescribeChangesFrom(before.Components));
        Assert.Equal(["runtime-layer changed"], otherRuntime.DescribeChangesFrom(before.Components));
        Assert.Equal(["pip-settings changed"], otherIndex.DescribeChangesFrom(before.Components));
    }

    [Fact]
    public void PipIndexUrl_NeverAppearsInAComponent()
    {
        var pip = new PipSettings
        {
            IndexUrl = "https://deploy:s3cr3t-token@pypi.internal.example.com/simple",
            ExtraIndexUrls = ["https://other:hunter2@extra.example.com/simple"],
            TrustedHosts = ["pypi.internal.example.com"],
        };

        var key = Key(pip: pip);

        Assert.All(key.Components, c =>
        {
            Assert.DoesNotContain("s3cr3t", c.Value);
            Assert.DoesNotContain("hunter2", c.Value);
            Assert.DoesNotContain("pypi.internal.example.com", c.Value);
            Assert.DoesNotContain("s3cr3t", c.Key);
        });
        Assert.Matches("^sha256:[0-9a-f]{64}$", key.Components["pip-settings"]);
    }

    [Fact]
    public void WithoutRequirementsTxt_ASetupPyProjectIsKeyedByItsMetadataFiles_NotItsSource()
    {
        File.Delete(Path.Combine(_project, "requirements.txt"));
        Write("setup.py", "from setuptools import setup\nsetup(name='app')\n");
        var before = Key();

        Assert.Contains("input setup.py", before.Components.Keys);
        Assert.DoesNotContain("input wsgi.py", before.Components.Keys);
        Write("wsgi.py", "from app import app as application  # edited\n");
        Assert.Equal(before.Key, Key().Key);

        Write("setup.py", "from setuptools import setup\nsetup(name='app', install_requires=['flask'])\n");
        Assert.Equal(["input setup.py changed"], Key().DescribeChangesFrom(before.Components));
    }

    [Fact]
    public void WhenTheMetadataNeedsTheSource_TheFallbackMakesTheWholeFolderAnInput()
    {
        File.Delete(Path.Combine(_project, "requirements.txt"));
        Write("setup.py", "from setuptools import setup\nsetup(name='app')\n");
        var fallback = BuildPlan.Create(_project).MetadataFallback!;
        DependencyKey FallbackKey() => DependencyKey.Compute(ProjectFiles.Load(_project), fallback, "sha256:base", "sha256:runtime", new PipSettings());
        var before = FallbackKey();

        Assert.Contains("input static/site.css", before.Components.Keys);
        Write("wsgi.py", "from app import app as application  # edited\n");

        Assert.Equal(["input wsgi.py changed"], FallbackKey().DescribeChangesFrom(before.Components));
        Assert.EndsWith("-e .", fallback.DependencySteps.Single(s => s.Name == "pip").Script, StringComparison.Ordinal);
    }

    [Fact]
    public void ReferencingAndDroppingARequirementsFile_IsNamedAddedAndRemoved()
    {
        Write("requirements.txt", "Flask==3.0.0\n");
        var without = Key();
        Assert.DoesNotContain("input extra.txt", without.Components.Keys);

        Write("requirements.txt", "-r extra.txt\nFlask==3.0.0\n");
        var with = Key();

        Assert.Equal(["input extra.txt added", "input requirements.txt changed"], with.DescribeChangesFrom(without.Components).Order(StringComparer.Ordinal));
        Assert.Equal(["input extra.txt removed", "input requirements.txt changed"], without.DescribeChangesFrom(with.Components).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void DescribeChangesFrom_WithoutAnEarlierBuild_SaysSo()
    {
        var key = Key();

        Assert.Equal(["no earlier build of this project"], key.DescribeChangesFrom(null));
        Assert.Equal(["no earlier build of this project"], key.DescribeChangesFrom(new Dictionary<string, string>()));
        // Same components but the layer is gone: the miss still has a reason.
        Assert.Equal(["the cached layer is gone from the cache"], key.DescribeChangesFrom(key.Components));
    }

    [Fact]
    public void EditableInstallOfTheProjectItself_MakesTheWholeFolderAnInput()
    {
        Write("requirements.txt", "-r extra.txt\n-e .\n");
        Write("pyproject.toml", "[project]\nname = 'app'\n");
        var before = Key();

        Write("static/site.css", "body { margin: 2px }\n");

        Assert.Equal(["input static/site.css changed"], Key().DescribeChangesFrom(before.Components));
    }

    [Fact]
    public void RequirementsTxtAsASymlink_EditingTheFileItPointsTo_ChangesTheKey()
    {
        // A common layout: requirements.txt -> requirements/prod.txt. pip reads through the link, so the target's
        // content is what decides the installed packages.
        File.Delete(Path.Combine(_project, "requirements.txt"));
        Write("requirements/prod.txt", "Flask==3.0.0\n");
        File.CreateSymbolicLink(Path.Combine(_project, "requirements.txt"), "requirements/prod.txt");
        var before = Key();

        Write("requirements/prod.txt", "Flask==3.1.0\n");
        var after = Key();

        Assert.NotEqual(before.Key, after.Key);
    }

    [Fact]
    public void RequirementsTxtAsASymlink_ItsTargetReachesTheDependencyStep()
    {
        // The dependency container receives only the files the input filter accepts; a link without its target
        // leaves pip with "Could not open requirements file".
        File.Delete(Path.Combine(_project, "requirements.txt"));
        Write("requirements/prod.txt", "Flask==3.0.0\n");
        File.CreateSymbolicLink(Path.Combine(_project, "requirements.txt"), "requirements/prod.txt");

        var plan = BuildPlan.Create(_project);
        var shipped = ProjectFiles.Load(_project).Enumerate(plan.DependencyInputFilter())
            .Select(f => f.RelativePath).ToArray();

        Assert.Contains("requirements.txt", shipped);
        Assert.Contains("requirements/prod.txt", shipped);
    }
}
