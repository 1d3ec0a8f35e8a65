using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Engine;
using ModWsgi.Core.Registry;

namespace ModWsgi.Core.Tests;

/// <summary><see cref="BuildEnvironment.From"/> reads only the source it is given.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class BuildEnvironmentTests
{
    private static BuildEnvironment From(params (string Name, string Value)[] variables) =>
        BuildEnvironment.From(name => variables.FirstOrDefault(v => v.Name == name).Value);

    [Fact]
    public void CacheDirectory_FollowsModwsgiCacheDirThenXdgCacheHomeThenHome()
    {
        Assert.Equal("/explicit", From(("MODWSGI_CACHE_DIR", "/explicit"), ("XDG_CACHE_HOME", "/xdg"), ("HOME", "/home/u")).CacheDirectory);
        Assert.Equal("/xdg/modwsgi", From(("XDG_CACHE_HOME", "/xdg"), ("HOME", "/home/u")).CacheDirectory);
        Assert.Equal("/home/u/.cache/modwsgi", From(("HOME", "/home/u"), ("MODWSGI_CACHE_DIR", "")).CacheDirectory);
    }

    [Fact]
    public void EngineEpochAndRegistryInputs_AreTheSourcesValues()
    {
        var environment = From(("DOCKER_HOST", "tcp://10.0.0.1:2375"), ("SOURCE_DATE_EPOCH", "1700000000"), ("HOME", "/home/u"),
            ("DOTNET_CONTAINER_REGISTRY_UNAME", "ci"), ("DOTNET_CONTAINER_REGISTRY_PWORD", "s3cret"), ("PATH", "/opt/helpers:/usr/bin"),
            ("DOTNET_CONTAINER_INSECURE_REGISTRIES", "a.example:5000; b.example"), ("XDG_RUNTIME_DIR", "/run/user/7"));

        Assert.Equal("tcp://10.0.0.1:2375", environment.DockerHost);
        Assert.Equal("1700000000", environment.SourceDateEpoch);
        Assert.Equal(new RegistryCredential("ci", "s3cret"), environment.Credentials.FromVariables);
        Assert.Equal("/home/u/.docker/config.json", environment.Credentials.DockerConfigPath);
        Assert.Equal("/opt/helpers:/usr/bin", environment.Credentials.SearchPath);
        Assert.Equal(["a.example:5000", "b.example"], environment.InsecureRegistries);
        Assert.Equal("/run/user/7", environment.RuntimeDirectory);
        Assert.DoesNotContain("s3cret", environment.ToString());
    }

    [Fact]
    public void EngineEndpoint_ProjectHostWins_ThenTheEnvironmentsDockerHost_ThenTheDefaultSocket()
    {
        var withHost = From(("DOCKER_HOST", "unix:///env.sock"), ("HOME", "/h"));
        Assert.Equal("/project.sock", EngineEndpoint.ForLocalRegistry(null, "unix:///project.sock", withHost).SocketPath);
        Assert.Equal("/env.sock", EngineEndpoint.ForLocalRegistry(null, null, withHost).SocketPath);
        Assert.Equal(EngineEndpoint.DefaultSocket, EngineEndpoint.ForLocalRegistry(null, null, From(("HOME", "/h"))).SocketPath);
    }

    [Theory]
    [InlineData("/run/user/1000", new[] { "/run/user/1000/podman/podman.sock", "/run/podman/podman.sock" }, "/run/user/1000/podman/podman.sock")] // rootless first
    [InlineData("/run/user/1000", new[] { "/run/podman/podman.sock" }, "/run/podman/podman.sock")] // no rootless service: the system one
    [InlineData(null, new[] { "/run/podman/podman.sock" }, "/run/podman/podman.sock")] // no XDG_RUNTIME_DIR (root in CI)
    [InlineData(null, new[] { "/run/podman/podman.sock", "/run/user/0/podman/podman.sock" }, "/run/podman/podman.sock")]
    public void Podman_WithoutAHost_TakesItsRootlessSocket_ElseTheRootfulOne(string? runtimeDir, string[] existing, string expected)
    {
        var environment = runtimeDir is null ? From(("HOME", "/h")) : From(("XDG_RUNTIME_DIR", runtimeDir), ("HOME", "/h"));
        var asked = new List<string>();

        var endpoint = EngineEndpoint.ForLocalRegistry("Podman", null, environment, path => { asked.Add(path); return existing.Contains(path); });

        Assert.Equal(expected, endpoint.SocketPath);
        Assert.Equal("unix://" + expected, endpoint.Display);
        // Rootless is asked about first; without XDG_RUNTIME_DIR there is none to ask about.
        Assert.Equal(runtimeDir is null ? "/run/podman/podman.sock" : runtimeDir + "/podman/podman.sock", asked[0]);
    }

    [Fact]
    public void Podman_AHostOrDockerHost_WinsWithoutLookingForSockets()
    {
        Func<string, bool> never = path => throw new InvalidOperationException("looked for " + path);
        Assert.Equal("/project.sock", EngineEndpoint.ForLocalRegistry("Podman", "unix:///project.sock", From(("HOME", "/h")), never).SocketPath);
        Assert.Equal("/env.sock", EngineEndpoint.ForLocalRegistry("podman", null, From(("DOCKER_HOST", "unix:///env.sock"), ("HOME", "/h")), never).SocketPath);
        Assert.Equal(EngineEndpoint.DefaultSocket, EngineEndpoint.ForLocalRegistry("Docker", null, From(("HOME", "/h")), never).SocketPath);
    }

    [Theory]
    [InlineData("/run/user/1000", "/run/user/1000/podman/podman.sock (rootless) and /run/podman/podman.sock (rootful)")]
    [InlineData(null, "/run/podman/podman.sock (and XDG_RUNTIME_DIR is unset")]
    public void Podman_WithNoSocket_IsMODWSGI3016SayingWhereItLookedAndWhatToStart(string? runtimeDir, string looked)
    {
        var environment = runtimeDir is null ? From(("HOME", "/h")) : From(("XDG_RUNTIME_DIR", runtimeDir), ("HOME", "/h"));

        var ex = Assert.Throws<ModWsgiException>(() => EngineEndpoint.ForLocalRegistry("Podman", null, environment, _ => false));

        Assert.Equal(DiagnosticCodes.PodmanSocketMissing, ex.Code);
        Assert.Contains(looked, ex.Message);
        Assert.Contains("systemctl --user start podman.socket", ex.Message);
        Assert.Contains("podman system service", ex.Message);
        Assert.Contains("DOCKER_HOST", ex.Message);
    }

    [Fact]
    public void CredentialHelpers_AreFoundOnTheEnvironmentsPath()
    {
        var folder = Directory.CreateTempSubdirectory("modwsgi-path-").FullName;
        try
        {
            var helper = Path.Combine(folder, "docker-credential-fake");
            File.WriteAllText(helper, "#!/bin/sh\n");
            File.SetUnixFileMode(helper, (UnixFileMode)0b110_100_100);
            Assert.Null(DockerConfigCredentialStore.FindOnPath("docker-credential-fake", "/nonexistent:" + folder)); // not executable
            File.SetUnixFileMode(helper, (UnixFileMode)0b111_101_101);
            Assert.Equal(helper, DockerConfigCredentialStore.FindOnPath("docker-credential-fake", "/nonexistent:" + folder));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
