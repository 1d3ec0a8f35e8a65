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
        Assert.Equal("/run/podman/podman.sock", EngineEndpoint.ForLocalRegistry("Podman", null, From(("XDG_RUNTIME_DIR", "/nonexistent"), ("HOME", "/h"))).SocketPath);
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
