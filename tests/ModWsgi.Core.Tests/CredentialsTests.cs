using System.Text;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Registry;

namespace ModWsgi.Core.Tests;

public sealed class CredentialsTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("modwsgi-creds-").FullName;
    private readonly Dictionary<string, string?> _environment = [];
    private readonly List<(string Helper, string Stdin)> _helperCalls = [];
    private (int Exit, string Stdout, string Stderr) _helperAnswer = (0, """{"ServerURL":"x","Username":"helper-user","Secret":"helper-secret"}""", "");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string ConfigPath => Path.Combine(_directory, "config.json");

    private DockerConfigCredentialStore Store() => new(name => _environment.GetValueOrDefault(name), ConfigPath, (helper, stdin) =>
    {
        _helperCalls.Add((helper, stdin));
        return _helperAnswer;
    });

    private void WriteConfig(string json) => File.WriteAllText(ConfigPath, json);

    private static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    [Fact]
    public async Task Auths_Base64Auth_IsSplitAtTheFirstColon()
    {
        WriteConfig($$"""{"auths":{"registry.example.com":{"auth":"{{Base64("alice:pa:ss")}}"} } }""");

        var credential = await Store().GetAsync("registry.example.com", CancellationToken.None);

        Assert.Equal(new RegistryCredential("alice", "pa:ss"), credential);
    }

    [Fact]
    public async Task Auths_UsernamePasswordForm_IsRead()
    {
        WriteConfig("""{"auths":{"registry.example.com:5000":{"username":"bob","password":"hunter2"}}}""");

        var credential = await Store().GetAsync("registry.example.com:5000", CancellationToken.None);

        Assert.Equal(new RegistryCredential("bob", "hunter2"), credential);
    }

    [Fact]
    public async Task Auths_IdentityToken_WinsOverAuthAndIsMarkedAsToken()
    {
        WriteConfig($$"""{"auths":{"myacr.azurecr.io":{"auth":"{{Base64("00000000-0000-0000-0000-000000000000:")}}","identitytoken":"refresh-123"} } }""");

        var credential = await Store().GetAsync("myacr.azurecr.io", CancellationToken.None);

        Assert.Equal(new RegistryCredential("<token>", "refresh-123"), credential);
        Assert.True(credential!.IsIdentityToken);
    }

    [Theory]
    [InlineData("https://index.docker.io/v1/", "docker.io")]
    [InlineData("https://index.docker.io/v1/", "registry-1.docker.io")]
    [InlineData("https://registry.example.com/v1/", "registry.example.com")]
    [InlineData("http://localhost:5000", "localhost:5000")]
    [InlineData("REGISTRY.example.com", "registry.example.com")]
    public async Task Auths_KeysInDockerSpellings_Match(string key, string registry)
    {
        WriteConfig($$"""{"auths":{"{{key}}":{"auth":"{{Base64("carol:secret")}}"} } }""");

        var credential = await Store().GetAsync(registry, CancellationToken.None);

        Assert.Equal(new RegistryCredential("carol", "secret"), credential);
    }

    [Fact]
    public async Task Auths_OtherPortOrHost_DoesNotMatch()
    {
        WriteConfig($$"""{"auths":{"registry.example.com:5000":{"auth":"{{Base64("carol:secret")}}"},"other.example.com":{"auth":"{{Base64("dave:x")}}"} } }""");

        var credential = await Store().GetAsync("registry.example.com", CancellationToken.None);

        Assert.Null(credential);
    }

    [Fact]
    public async Task CredHelpers_RunTheRegistrysHelperWithTheServerOnStdin()
    {
        WriteConfig($$"""{"credHelpers":{"123.dkr.ecr.us-east-1.amazonaws.com":"ecr-login"},"auths":{"123.dkr.ecr.us-east-1.amazonaws.com":{"auth":"{{Base64("file:ignored")}}"} } }""");

        var credential = await Store().GetAsync("123.dkr.ecr.us-east-1.amazonaws.com", CancellationToken.None);

        Assert.Equal(new RegistryCredential("helper-user", "helper-secret"), credential);
        Assert.Equal([("docker-credential-ecr-login", "123.dkr.ecr.us-east-1.amazonaws.com")], _helperCalls);
    }

    [Fact]
    public async Task CredsStore_IsTheFallbackForEmptyAuthEntries_AndDockerHubAsksForItsV1Url()
    {
        WriteConfig("""{"auths":{"https://index.docker.io/v1/":{}},"credsStore":"desktop"}""");

        var credential = await Store().GetAsync("docker.io", CancellationToken.None);

        Assert.Equal(new RegistryCredential("helper-user", "helper-secret"), credential);
        Assert.Equal([("docker-credential-desktop", "https://index.docker.io/v1/")], _helperCalls);
    }

    [Fact]
    public async Task CredsStore_IsNotAskedWhenAuthsHasTheCredential()
    {
        WriteConfig($$"""{"auths":{"registry.example.com":{"auth":"{{Base64("erin:pw")}}"} },"credsStore":"desktop"}""");

        var credential = await Store().GetAsync("registry.example.com", CancellationToken.None);

        Assert.Equal(new RegistryCredential("erin", "pw"), credential);
        Assert.Empty(_helperCalls);
    }

    [Fact]
    public async Task Helper_NotFoundAnswer_MeansAnonymous()
    {
        WriteConfig("""{"credsStore":"pass"}""");
        _helperAnswer = (1, "credentials not found in native keychain\n", "");

        Assert.Null(await Store().GetAsync("registry.example.com", CancellationToken.None));
    }

    [Fact]
    public async Task Helper_Failure_IsCodedAndNamesTheHelper()
    {
        WriteConfig("""{"credHelpers":{"registry.example.com":"gcloud"}}""");
        _helperAnswer = (127, "", "docker-credential-gcloud was not found on PATH");

        var error = await Assert.ThrowsAsync<ModWsgiException>(() => Store().GetAsync("registry.example.com", CancellationToken.None));

        Assert.Equal(DiagnosticCodes.CredentialHelperFailed, error.Code);
        Assert.Contains("docker-credential-gcloud", error.Message);
        Assert.Contains("exit code 127", error.Message);
    }

    [Fact]
    public async Task Helper_GarbageOutput_IsCodedWithoutEchoingIt()
    {
        WriteConfig("""{"credsStore":"odd"}""");
        _helperAnswer = (0, "Username=frank Secret=s3cr3t", "");

        var error = await Assert.ThrowsAsync<ModWsgiException>(() => Store().GetAsync("registry.example.com", CancellationToken.None));

        Assert.Equal(DiagnosticCodes.CredentialHelperFailed, error.Code);
        Assert.DoesNotContain("s3cr3t", error.Message);
    }

    [Fact]
    public async Task EnvironmentVariables_WinOverTheFile()
    {
        WriteConfig($$"""{"auths":{"registry.example.com":{"auth":"{{Base64("file-user:file-pw")}}"} },"credsStore":"desktop"}""");
        _environment["DOTNET_CONTAINER_REGISTRY_UNAME"] = "env-user";
        _environment["DOTNET_CONTAINER_REGISTRY_PWORD"] = "env-pw";

        var credential = await Store().GetAsync("registry.example.com", CancellationToken.None);

        Assert.Equal(new RegistryCredential("env-user", "env-pw"), credential);
        Assert.Empty(_helperCalls);
    }

    [Fact]
    public async Task SdkPrefixedVariables_AreTheSecondChoice()
    {
        _environment["SDK_CONTAINER_REGISTRY_UNAME"] = "sdk-user";
        _environment["SDK_CONTAINER_REGISTRY_PWORD"] = "sdk-pw";
        _environment["DOTNET_CONTAINER_REGISTRY_UNAME"] = "half-set";

        var credential = await Store().GetAsync("registry.example.com", CancellationToken.None);

        Assert.Equal(new RegistryCredential("sdk-user", "sdk-pw"), credential);
    }

    [Fact]
    public async Task NoVariablesAndNoFile_IsNull() =>
        Assert.Null(await Store().GetAsync("registry.example.com", CancellationToken.None));

    [Fact]
    public async Task MalformedConfig_IsCoded()
    {
        WriteConfig("{ not json");

        var error = await Assert.ThrowsAsync<ModWsgiException>(() => Store().GetAsync("registry.example.com", CancellationToken.None));

        Assert.Equal(DiagnosticCodes.DockerConfigInvalid, error.Code);
        Assert.Contains(ConfigPath, error.Message);
    }

    [Fact]
    public void DefaultConfigPath_FollowsDockerConfigThenHome()
    {
        Assert.Equal("/cfg/config.json", RegistryCredentialSources.From(n => n == "DOCKER_CONFIG" ? "/cfg" : "/home/u").DockerConfigPath);
        Assert.Equal("/home/u/.docker/config.json", RegistryCredentialSources.From(n => n == "HOME" ? "/home/u" : null).DockerConfigPath);
    }

    [Fact]
    public void Credential_ToString_HidesTheSecret() =>
        Assert.DoesNotContain("topsecret", new RegistryCredential("u", "topsecret").ToString());
}
