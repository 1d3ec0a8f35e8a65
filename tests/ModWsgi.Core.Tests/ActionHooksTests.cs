using System.Runtime.Versioning;
using ModWsgi.Core.Project;

namespace ModWsgi.Core.Tests;

// File modes are what these tests are about, and Windows has none to set.
[UnsupportedOSPlatform("windows")]
public sealed class ActionHooksTests : IDisposable
{
    private readonly string _project = Directory.CreateTempSubdirectory("modwsgi-hooks-").FullName;

    public void Dispose() => Directory.Delete(_project, recursive: true);

    private string HookPath(string hook) => Path.Combine(_project, ActionHooks.RelativePath(hook));

    private void WriteHook(string hook, string octalMode)
    {
        var path = HookPath(hook);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "#!/bin/sh\nexit 0\n");
        File.SetUnixFileMode(path, (UnixFileMode)Convert.ToInt32(octalMode, 8));
    }

    [Fact]
    public void RelativePath_IsUnderDockerActionHooks()
    {
        Assert.Equal(".docker/action_hooks/pre-build", ActionHooks.RelativePath(ActionHooks.PreBuild));
        Assert.Equal(".docker/action_hooks/build", ActionHooks.RelativePath(ActionHooks.Build));
        Assert.Equal(".docker/action_hooks/deploy", ActionHooks.RelativePath(ActionHooks.Deploy));
    }

    [Theory]
    [InlineData("755", HookState.Executable)]
    [InlineData("700", HookState.Executable)]
    [InlineData("610", HookState.Executable)]
    [InlineData("601", HookState.Executable)]
    [InlineData("644", HookState.NotExecutable)]
    [InlineData("600", HookState.NotExecutable)]
    public void Probe_ReadsTheExecuteBits(string octalMode, HookState expected)
    {
        WriteHook(ActionHooks.Build, octalMode);

        Assert.Equal(expected, ActionHooks.Probe(_project, ActionHooks.Build));
    }

    [Fact]
    public void Probe_MissingHook_IsMissing()
    {
        WriteHook(ActionHooks.Build, "755");

        Assert.Equal(HookState.Missing, ActionHooks.Probe(_project, ActionHooks.PreBuild));
    }

    [Fact]
    public void Probe_NoActionHooksFolder_IsMissing() =>
        Assert.Equal(HookState.Missing, ActionHooks.Probe(_project, ActionHooks.Deploy));

    [Fact]
    public void Probe_DirectoryNamedLikeTheHook_IsMissing()
    {
        Directory.CreateDirectory(HookPath(ActionHooks.PreBuild));

        Assert.Equal(HookState.Missing, ActionHooks.Probe(_project, ActionHooks.PreBuild));
    }
}

/// <summary>mod_wsgi-docker's two names of the layout folder: .whiskey (later) and .docker (first).</summary>
public sealed class ProjectLayoutTests : IDisposable
{
    private readonly string _project = Directory.CreateTempSubdirectory("modwsgi-layout-").FullName;

    public void Dispose() => Directory.Delete(_project, recursive: true);

    private void Write(string relative, string content = "", bool executable = false)
    {
        var path = Path.Combine(_project, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        if (executable && !OperatingSystem.IsWindows())
            File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
    }

    [Theory]
    [InlineData(".docker", ".docker/action_hooks/build")]
    [InlineData(".docker", ".docker/user_vars/NAME")]
    [InlineData(".whiskey", ".whiskey/action_hooks/deploy")]
    [InlineData(".whiskey", ".whiskey/user_vars/NAME1")]
    [InlineData(".whiskey", ".whiskey/server_args")]
    [InlineData(".docker", "wsgi.py")] // neither: the template's .docker
    [InlineData(".whiskey", ".whiskey/server_args", ".docker/tmp/scratch")] // a .docker without the layout does not count
    [InlineData(".docker", ".docker/server_args", ".whiskey/notes.txt")]
    public void Folder_IsTheOneThatHoldsTheLayout(string expected, params string[] files)
    {
        foreach (var file in files)
            Write(file);

        Assert.Equal(expected, ProjectLayout.Folder(_project));
    }

    [Theory]
    [InlineData(".docker/action_hooks/ready")]
    [InlineData(".whiskey/action_hooks/alive")]
    public void BuildPlan_WarnsOfANonExecutableProbeHook(string hook)
    {
        Write("requirements.txt", "");
        Write(hook, "#!/bin/sh\n");

        var warning = Assert.Single(Steps.BuildPlan.Create(_project).Warnings);

        Assert.Equal("MODWSGI2010", warning.Code.Id);
        Assert.Contains($"chmod +x {hook}", warning.Message);
    }

    [Fact]
    public void Folder_BothHoldingTheLayout_IsACodedError()
    {
        Write(".docker/action_hooks/build");
        Write(".whiskey/server_args");

        var ex = Assert.Throws<ModWsgi.Core.Diagnostics.ModWsgiException>(() => ProjectLayout.Folder(_project));

        Assert.Equal("MODWSGI2035", ex.Id);
        Assert.Contains(".whiskey/", ex.Message);
        Assert.Contains(".docker/", ex.Message);
        Assert.Contains("git mv", ex.Message);
        Assert.Equal("MODWSGI2035", Assert.Throws<ModWsgi.Core.Diagnostics.ModWsgiException>(() => Steps.BuildPlan.Create(_project)).Id);
    }

    [Fact]
    public void BuildPlan_RunsTheWhiskeyHooks_AndKeysTheDependenciesByThePreBuildHook()
    {
        Write("requirements.txt", "flask\n");
        Write(".whiskey/action_hooks/pre-build", "#!/bin/sh\n", executable: true);
        Write(".whiskey/action_hooks/build", "#!/bin/sh\n", executable: true);

        var plan = Steps.BuildPlan.Create(_project);

        Assert.Equal(".whiskey", plan.Layout);
        Assert.Equal("./.whiskey/action_hooks/pre-build", plan.DependencySteps[0].Script);
        Assert.Equal("./.whiskey/action_hooks/build", plan.BuildHook!.Script);
        Assert.Contains(".whiskey/action_hooks/pre-build", plan.DependencyInputs);
    }

    [Fact]
    public void BuildPlan_NonExecutableWhiskeyHook_WarnsWithItsPath()
    {
        Write(".whiskey/action_hooks/build", "#!/bin/sh\n");

        var plan = Steps.BuildPlan.Create(_project);

        Assert.Null(plan.BuildHook);
        Assert.Contains(plan.Warnings, w => w.Message.Contains("chmod +x .whiskey/action_hooks/build", StringComparison.Ordinal));
    }
}

public sealed class ServerArgsChoiceTests : IDisposable
{
    private readonly string _project = Directory.CreateTempSubdirectory("modwsgi-server-args-").FullName;

    public void Dispose() => Directory.Delete(_project, recursive: true);

    [Theory]
    [InlineData("--application-type static\n--document-root htdocs\n--directory-index index.html\n", true)] // demos/static
    [InlineData("environ.wsgi\n", true)] // demos/environ
    [InlineData("--working-directory example\n--url-alias /static example/htdocs\n--application-type module\nexample.wsgi\n", true)]
    [InlineData("--entry-point=app.wsgi\n", true)]
    [InlineData("--processes 2 --directory-index index.html\n--url-alias /static htdocs/static\n", false)]
    [InlineData("# --application-type static\n--access-log\n", false)]
    public void ServerArgsChooseTheApplication_ReadsTheWordsLikeTheLauncher(string content, bool expected)
    {
        Directory.CreateDirectory(Path.Combine(_project, ".whiskey"));
        File.WriteAllText(Path.Combine(_project, ".whiskey", "server_args"), content);

        Assert.Equal(expected, ProjectLayout.ServerArgsChooseTheApplication(_project, ".whiskey"));
        Assert.False(ProjectLayout.ServerArgsChooseTheApplication(_project, ".docker"));
    }
}
