using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Project;

namespace ModWsgi.Core.Tests;

/// <summary>Strings from the project become enums once, in <see cref="ProjectSettings.ToOptions"/>, with the table's codes.</summary>
public sealed class ProjectSettingsTests
{
    private static ImageBuildOptions Options(ProjectSettings settings) => settings.ToOptions("/tmp/site", "/sdk/runtime", null);

    [Theory]
    [InlineData(null, WsgiApplicationType.Script)]
    [InlineData(" ", WsgiApplicationType.Script)]
    [InlineData("module", WsgiApplicationType.Module)]
    [InlineData("Paste", WsgiApplicationType.Paste)]
    [InlineData("static", WsgiApplicationType.Static)]
    public void ApplicationType_IsParsedOnce(string? given, WsgiApplicationType expected)
    {
        var options = Options(new ProjectSettings { WsgiApplicationType = given });
        Assert.Equal(expected, options.Server.ApplicationType);
        Assert.Equal(["--application-type", expected.ToString().ToLowerInvariant()], options.Server.ToArguments().Take(2));
    }

    [Fact]
    public void ApplicationType_Unknown_IsMODWSGI2005()
    {
        var ex = Assert.Throws<ModWsgiException>(() => Options(new ProjectSettings { WsgiApplicationType = "wsgi" }));
        Assert.Equal(DiagnosticCodes.InvalidApplicationType, ex.Code);
        Assert.Contains("script, module, paste, static", ex.Message);
    }

    [Fact]
    public void GracefulStopTimeout_GoesIntoTheImagesCmd_AndUnsetLeavesTheCmdAsItWas()
    {
        var set = Options(new ProjectSettings { WsgiGracefulStopTimeout = " 8 " }).Server.ToArguments();
        var unset = Options(new ProjectSettings()).Server.ToArguments();

        Assert.Equal(["--application-type", "script", "--graceful-stop-timeout", "8"], set);
        Assert.Equal(["--application-type", "script"], unset);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("5s")]
    [InlineData("-3")]
    public void GracefulStopTimeout_NotAWholeNumberFrom1_IsMODWSGI2050(string given)
    {
        var ex = Assert.Throws<ModWsgiException>(() => Options(new ProjectSettings { WsgiGracefulStopTimeout = given }));
        Assert.Equal(DiagnosticCodes.InvalidGracefulStopTimeout, ex.Code);
        Assert.Contains($"WsgiGracefulStopTimeout '{given}' is not a whole number of seconds from 1", ex.Message);
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("gunicorn", ServerKind.Gunicorn)]
    [InlineData("Python-App", ServerKind.PythonApp)]
    [InlineData("mod_wsgi", ServerKind.ModWsgi)]
    public void Server_IsParsedOnce(string? given, ServerKind? expected) =>
        Assert.Equal(expected, Options(new ProjectSettings { WsgiServer = given }).WsgiServer);

    [Fact]
    public void Server_Unknown_IsMODWSGI2008()
    {
        var ex = Assert.Throws<ModWsgiException>(() => Options(new ProjectSettings { WsgiServer = "uwsgi" }));
        Assert.Equal(DiagnosticCodes.InvalidServerOption, ex.Code);
        Assert.Contains("gunicorn", ex.Message);
    }
}
