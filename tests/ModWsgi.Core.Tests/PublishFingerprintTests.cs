using ModWsgi.Core.Project;
using ModWsgi.Core.Pipeline;
using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Tests;

/// <summary>
/// The up-to-date record is shared by `dotnet build -t:PublishImage` and `modwsgi build`: its fingerprint holds
/// what feeds the image (the runtime scripts' contents), not where a front end keeps the SDK's files.
/// </summary>
public sealed class PublishFingerprintTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("modwsgi-fingerprint-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static readonly BuildEnvironment Environment = BuildEnvironment.From(name => name == "HOME" ? "/home/u" : null);

    [Fact]
    public void TheSameScriptsInAnotherFolderGiveTheSameFingerprint()
    {
        var project = Folder("app", ("wsgi.py", "def application(e, s): pass\n"));
        var package = RuntimeFolder("package/runtime", "echo start");
        var tool = RuntimeFolder("tool/runtime", "echo start");
        var changed = RuntimeFolder("changed/runtime", "echo started");
        var git = new GitCheckout(null, null, null);

        var fromPackage = BuildFingerprint.Local(Options(project, package, "/pkg/baseimage/build-base-image.sh"), Environment, git);
        var fromTool = BuildFingerprint.Local(Options(project, tool, "/tool/baseimage/build-base-image.sh"), Environment, git);
        var withChangedScript = BuildFingerprint.Local(Options(project, changed, null), Environment, git);
        var withOtherTag = BuildFingerprint.Local(Options(project, tool, null) with { Tags = ["v2"] }, Environment, git);

        Assert.Equal(fromPackage, fromTool);
        Assert.NotEqual(fromTool, withChangedScript);
        Assert.NotEqual(fromTool, withOtherTag);
    }

    private static ImageBuildOptions Options(string project, string runtime, string? recipe) =>
        new() { ProjectDirectory = project, Repository = "app", RuntimeDirectory = runtime, BaseImageRecipe = recipe };

    private string RuntimeFolder(string relative, string startScript) =>
        Folder(relative, PlanStep.RuntimeScriptNames.Select(name => (name, name == "mod_wsgi-docker-start" ? startScript : "#!/bin/sh\n" + name)).ToArray());

    private string Folder(string relative, params (string Name, string Content)[] files)
    {
        var path = Path.Combine(_root, relative);
        Directory.CreateDirectory(path);
        foreach (var (name, content) in files)
            File.WriteAllText(Path.Combine(path, name), content);
        return path;
    }
}
