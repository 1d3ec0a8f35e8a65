using System.Text.Json;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Settings;

namespace ModWsgi.Core.Tests;

/// <summary>Issue 11 §2: the image's HEALTHCHECK from the WsgiHealthCheck* settings, and how the config carries it.</summary>
public sealed class HealthCheckTests
{
    private static ImageBuildOptions Options(ProjectSettings settings) =>
        settings.ToOptions(Path.GetTempPath(), Path.Combine(AppContext.BaseDirectory, "runtime"), null);

    [Fact]
    public void UnsetSettings_GiveTheProbe_WithTheTablesTimes()
    {
        var check = Options(new ProjectSettings()).HealthCheck!;

        Assert.Equal(["CMD", "mod_wsgi-docker-probe", "ready"], check.Test);
        Assert.Equal((TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30), 3),
            (check.Interval, check.Timeout, check.StartPeriod, check.Retries));
    }

    [Theory]
    [InlineData("none")]
    [InlineData(" NONE ")]
    public void None_LeavesTheImageWithoutAHealthCheck(string value) =>
        Assert.Null(Options(new ProjectSettings { WsgiHealthCheck = value }).HealthCheck);

    [Theory]
    [InlineData("mod_wsgi-docker-probe alive --port 8080", new[] { "CMD", "mod_wsgi-docker-probe", "alive", "--port", "8080" })]
    [InlineData("  /app/bin/check   --url=http://127.0.0.1:80/health ", new[] { "CMD", "/app/bin/check", "--url=http://127.0.0.1:80/health" })]
    [InlineData("curl -fs http://localhost/ || exit 1", new[] { "CMD-SHELL", "curl -fs http://localhost/ || exit 1" })]
    [InlineData("test -f \"$HOME/ok\"", new[] { "CMD-SHELL", "test -f \"$HOME/ok\"" })]
    public void PlainWordsRunAsGiven_AnythingElseThroughTheShell(string command, string[] test) =>
        Assert.Equal(test, Options(new ProjectSettings { WsgiHealthCheck = command }).HealthCheck!.Test);

    [Theory]
    [InlineData("10s", 10_000)]
    [InlineData("1m30s", 90_000)]
    [InlineData("500ms", 500)]
    [InlineData("1.5s", 1_500)]
    [InlineData("2h", 7_200_000)]
    [InlineData("7", 7_000)] // a bare number is seconds
    public void Durations_AreDockers(string text, int milliseconds) =>
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), Options(new ProjectSettings { WsgiHealthCheckInterval = text }).HealthCheck!.Interval);

    [Fact]
    public void AStartPeriodOfZero_IsAllowed() =>
        Assert.Equal(TimeSpan.Zero, Options(new ProjectSettings { WsgiHealthCheckStartPeriod = "0s" }).HealthCheck!.StartPeriod);

    [Theory]
    [InlineData(nameof(ProjectSettings.WsgiHealthCheckInterval), "10 seconds")]
    [InlineData(nameof(ProjectSettings.WsgiHealthCheckInterval), "0s")] // Docker takes 0 for "its default", never for no time
    [InlineData(nameof(ProjectSettings.WsgiHealthCheckTimeout), "-5s")]
    [InlineData(nameof(ProjectSettings.WsgiHealthCheckStartPeriod), "soon")]
    [InlineData(nameof(ProjectSettings.WsgiHealthCheckRetries), "0")]
    [InlineData(nameof(ProjectSettings.WsgiHealthCheckRetries), "three")]
    public void AMalformedValue_IsMODWSGI2055_NamingTheSettingAndAnExample(string setting, string value)
    {
        var settings = setting switch
        {
            nameof(ProjectSettings.WsgiHealthCheckInterval) => new ProjectSettings { WsgiHealthCheckInterval = value },
            nameof(ProjectSettings.WsgiHealthCheckTimeout) => new ProjectSettings { WsgiHealthCheckTimeout = value },
            nameof(ProjectSettings.WsgiHealthCheckStartPeriod) => new ProjectSettings { WsgiHealthCheckStartPeriod = value },
            _ => new ProjectSettings { WsgiHealthCheckRetries = value },
        };

        var error = Assert.Throws<ModWsgiException>(() => Options(settings));

        Assert.Equal(DiagnosticCodes.HealthCheckInvalid, error.Code);
        Assert.Equal("MODWSGI2055", error.Code.Id);
        Assert.Contains($"{setting} '{value}'", error.Message);
        Assert.Contains(SettingsTable.Find(setting)!.CliOption!, error.Message);
    }

    private static JsonElement Config(HealthCheck? check)
    {
        var baseImage = new BaseImage("base", "sha256:" + new string('b', 64), "amd64", "linux", ["sha256:" + new string('1', 64)], []);
        var bytes = ImageConfigWriter.Write(baseImage, [], new ImageSettings { Entrypoint = ["x"], HealthCheck = check }, DateTimeOffset.UnixEpoch);
        return JsonDocument.Parse(bytes).RootElement.GetProperty("config");
    }

    [Fact]
    public void TheConfig_CarriesDockersHealthcheck_InNanoseconds()
    {
        var check = Options(new ProjectSettings { WsgiHealthCheckInterval = "1s", WsgiHealthCheckRetries = "2" }).HealthCheck;

        var healthcheck = Config(check).GetProperty("Healthcheck");

        Assert.Equal("""{"Test":["CMD","mod_wsgi-docker-probe","ready"],"Interval":1000000000,"Timeout":5000000000,"StartPeriod":30000000000,"Retries":2}""",
            healthcheck.GetRawText());
    }

    [Fact]
    public void WithoutAHealthCheck_TheConfigHasNoHealthcheckField() =>
        Assert.False(Config(null).TryGetProperty("Healthcheck", out _));

    [Fact]
    public void TheSameSettings_GiveTheSameConfigBytes_OtherTimesOtherBytes()
    {
        var baseImage = new BaseImage("base", "sha256:" + new string('b', 64), "amd64", "linux", [], []);
        byte[] Write(string interval) => ImageConfigWriter.Write(baseImage, [],
            new ImageSettings { HealthCheck = Options(new ProjectSettings { WsgiHealthCheckInterval = interval }).HealthCheck }, DateTimeOffset.UnixEpoch);

        Assert.Equal(Write("10s"), Write("10s"));
        Assert.Equal(Write("10s"), Write("10")); // the same duration, spelled otherwise
        Assert.NotEqual(Write("10s"), Write("11s"));
    }
}
