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
