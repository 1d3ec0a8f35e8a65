using ModWsgi.Core;
using ModWsgi.Core.Project;

namespace ModWsgi.Cli.Tests;

/// <summary>Command line → <see cref="ImageBuildOptions"/>: every option lands where the PublishImage task puts its property.</summary>
public sealed class OptionMappingTests : IDisposable
{
    private readonly TempDirectory _project = new();

    public OptionMappingTests() => _project.Write("wsgi.py", "def application(environ, start_response): pass\n");

    public void Dispose() => _project.Dispose();

    [Fact]
    public void HealthCmdNone_BuildsWithoutAHealthCheck_AndABadDurationIsMODWSGI2055()
    {
        var cli = new FakeCli();
        Assert.Equal(0, cli.Invoke("build", _project.Path, "--health-cmd", "none"));
        Assert.Null(cli.Options.HealthCheck);

        var bad = new FakeCli();
        Assert.Equal(1, bad.Invoke("build", _project.Path, "--health-interval", "often"));
        Assert.Contains("MODWSGI2055", bad.Err);
    }

    [Fact]
    public void EveryOptionMapsOntoTheOptionsRecord()
    {
        var cli = new FakeCli();
        var exit = cli.Invoke("publish", _project.Path,
            "--repository", "team/site",
            "--tag", "v1", "--tag", "stable",
            "--version", "1.2.3",
            "--base-image", "example/base:1",
            "--application-type", "module",
            "--entry-point", "site.wsgi",
            "--callable-object", "app",
            "--working-directory", "site",
            "--url-alias", "/static=site/htdocs", "--url-alias", "/robots.txt=robots.txt",
            "--server-arg", "--processes=2", "--server-arg=--threads=10",
            "--pip-index-url", "http://127.0.0.1:3141/simple",
            "--pip-extra-index-url", "http://127.0.0.1:3142/simple", "--pip-extra-index-url", "http://127.0.0.1:3143/simple",
            "--pip-trusted-host", "127.0.0.1", "--pip-trusted-host", "localhost",
            "--dependency-group", "dev", "--dependency-group", "postgres",
            "--lock-name", "prod",
            "--cache-dir", "/tmp/cache-here",
            "--docker-host", "tcp://127.0.0.1:2375",
            "--label", "org.opencontainers.image.vendor=Example", "--label", "equation=a=b",
            "--env", "DJANGO_SETTINGS_MODULE=site.settings", "--env", "EMPTY=",
            "--registry", "127.0.0.1:5000",
            "--archive", "/tmp/out/site.tar",
            "--insecure-registry", "registry.test:5000",
            "--local-registry", "Podman",
            "--user", "1001",
            "--container-port", "8080",
            "--server", "gunicorn",
            "--no-framework-detection",
            "--no-collectstatic",
            "--health-cmd", "mod_wsgi-docker-probe alive --port 8080",
            "--health-interval", "2s", "--health-timeout", "1500ms", "--health-start-period", "0s", "--health-retries", "5");

        Assert.True(exit == 0, cli.Err);
        var options = cli.Options;
        Assert.Equal(_project.Path, options.ProjectDirectory);
        Assert.Equal("team/site", options.Repository);
        Assert.Equal(["v1", "stable"], options.Tags); // --tag is ContainerImageTags: taken as given, not expanded
        Assert.Equal("1.2.3", options.Version);
        Assert.Equal("example/base:1", options.BaseImage);
        Assert.Equal(WsgiApplicationType.Module, options.Server.ApplicationType);
        Assert.Equal("site.wsgi", options.Server.EntryPoint);
        Assert.Equal("app", options.Server.CallableObject);
        Assert.Equal("site", options.Server.WorkingDirectory);
        Assert.Equal([new UrlAlias("/static", "site/htdocs"), new UrlAlias("/robots.txt", "robots.txt")], options.Server.UrlAliases);
        Assert.Equal(["--processes=2", "--threads=10"], options.Server.Arguments);
        Assert.Equal("http://127.0.0.1:3141/simple", options.Pip.IndexUrl);
        Assert.Equal(["http://127.0.0.1:3142/simple", "http://127.0.0.1:3143/simple"], options.Pip.ExtraIndexUrls);
        Assert.Equal(["127.0.0.1", "localhost"], options.Pip.TrustedHosts);
        Assert.Equal(["dev", "postgres"], options.DependencyGroups);
        Assert.Equal(["CMD", "mod_wsgi-docker-probe", "alive", "--port", "8080"], options.HealthCheck!.Test);
        Assert.Equal((TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(1500), TimeSpan.Zero, 5),
            (options.HealthCheck.Interval, options.HealthCheck.Timeout, options.HealthCheck.StartPeriod, options.HealthCheck.Retries));
        Assert.Equal("prod", options.LockName);
        Assert.Equal("/tmp/cache-here", options.CacheDirectory);
        Assert.Equal("tcp://127.0.0.1:2375", options.DockerHost);
        Assert.Equal(new Dictionary<string, string> { ["org.opencontainers.image.vendor"] = "Example", ["equation"] = "a=b" }, options.Labels);
        Assert.Equal(new Dictionary<string, string> { ["DJANGO_SETTINGS_MODULE"] = "site.settings", ["EMPTY"] = "" }, options.EnvironmentVariables);
        Assert.Equal("127.0.0.1:5000", options.Registry);
        Assert.Equal("/tmp/out/site.tar", options.ArchiveOutputPath);
        Assert.Equal(["registry.test:5000"], options.InsecureRegistries);
        Assert.Equal(["127.0.0.1:5000/team/site:v1", "127.0.0.1:5000/team/site:stable"], options.ImageNames());
        Assert.Equal("Podman", options.LocalRegistry);
        Assert.Equal("1001", options.User);
        Assert.Equal(8080, options.Server.Port);
        Assert.Equal(ServerKind.Gunicorn, options.WsgiServer);
        Assert.False(options.FrameworkDetection);
        Assert.False(options.DjangoCollectStatic);
    }

    [Fact]
    public void DefaultsAreTheSdksAndTheSdkFilesShipNextToTheTool()
    {
        var cli = new FakeCli();
        Assert.Equal(0, cli.Invoke("build", _project.Path));
        var options = cli.Options;
        // No .proj: the folder is the project, so it names the repository (lower-cased, like MSBuildProjectName).
        Assert.Equal(Path.GetFileName(_project.Path).ToLowerInvariant(), options.Repository);
        Assert.Equal(["latest"], options.Tags);
        Assert.Equal(ImageBuildOptions.DefaultBaseImage, options.BaseImage);
        Assert.Equal(new WsgiServerOptions(), options.Server with { UrlAliases = [], Arguments = [] });
        Assert.Empty(options.Server.UrlAliases);
        Assert.Empty(options.Server.Arguments);
        Assert.Null(options.Pip.IndexUrl);
        Assert.Null(options.Version);
        Assert.Null(options.CacheDirectory);
        Assert.Null(options.DockerHost);
        Assert.Null(options.Registry);
        Assert.Null(options.ArchiveOutputPath);
        Assert.Empty(options.InsecureRegistries);
        Assert.Empty(options.Labels);
        Assert.Empty(options.EnvironmentVariables);
        Assert.Equal("Docker", options.LocalRegistry);
        Assert.Null(options.User);
        Assert.Null(options.WsgiServer);
        Assert.True(options.FrameworkDetection);
        Assert.True(options.DjangoCollectStatic);
        foreach (var script in new[] { "mod_wsgi-docker-start", "mod_wsgi-docker-shell", "modwsgi-launch" })
            Assert.True(File.Exists(Path.Combine(options.RuntimeDirectory, script)), script);
        Assert.True(File.Exists(options.BaseImageRecipe), options.BaseImageRecipe);
        Assert.Contains($"{options.Repository} -> {options.Repository}:latest", cli.Out);
    }

    [Fact]
    public void ProjectDirectoryDefaultsToTheCurrentFolder()
    {
        var cli = new FakeCli();
        Assert.Equal(0, cli.Invoke("build"));
        Assert.Equal(Path.GetFullPath(Environment.CurrentDirectory), cli.Options.ProjectDirectory);
    }

    [Fact]
    public void VersionGivesExpandedTagsWhenNoTagIsGiven()
    {
        var cli = new FakeCli();
        Assert.Equal(0, cli.Invoke("build", _project.Path, "--version", "2.5.1"));
        Assert.Equal(["2.5.1", "2.5", "2"], cli.Options.Tags);
        Assert.Equal("2.5.1", cli.Options.Version);
    }

    [Fact]
    public void DestinationsInTheProjectAreReadByPublishOnly()
    {
        _project.Write("site.proj", """
            <Project Sdk="ModWsgi.Sdk/0.1.0">
              <PropertyGroup>
                <ContainerRegistry>127.0.0.1:5000</ContainerRegistry>
                <ContainerInsecureRegistries>a.test:5000,b.test</ContainerInsecureRegistries>
              </PropertyGroup>
            </Project>
            """);
        var publish = new FakeCli();
        Assert.Equal(0, publish.Invoke("publish", _project.Path));
        Assert.Equal("127.0.0.1:5000", publish.Options.Registry);
        Assert.Equal(["a.test:5000", "b.test"], publish.Options.InsecureRegistries);

        var build = new FakeCli();
        Assert.Equal(0, build.Invoke("build", _project.Path));
        Assert.Null(build.Options.Registry); // build, run and shell always load into the local engine
        Assert.Empty(build.Options.InsecureRegistries);
    }

    [Fact]
    public void ProjectFileGivesDefaultsAndTheCommandLineWins()
    {
        _project.Write("mysite.proj", """
            <Project Sdk="ModWsgi.Sdk/0.1.0">
              <PropertyGroup>
                <ContainerRepository>from-proj</ContainerRepository>
                <WsgiApplicationType>module</WsgiApplicationType>
                <WsgiEntryPoint>example.wsgi</WsgiEntryPoint>
                <WsgiWorkingDirectory>example</WsgiWorkingDirectory>
                <Version>3.0.0</Version>
              </PropertyGroup>
              <ItemGroup>
                <WsgiUrlAlias Include="/static" Path="example/htdocs" />
                <WsgiServerArgument Include="--processes=2;--threads=10" />
                <ContainerLabel Include="team" Value="web" />
                <ContainerLabel Include="tier" Value="front" />
              </ItemGroup>
            </Project>
            """);

        var fromProject = new FakeCli();
        Assert.Equal(0, fromProject.Invoke("build", _project.Path));
        var options = fromProject.Options;
        Assert.Equal("from-proj", options.Repository);
        Assert.Equal(["3.0.0", "3.0", "3"], options.Tags);
        Assert.Equal(WsgiApplicationType.Module, options.Server.ApplicationType);
        Assert.Equal("example.wsgi", options.Server.EntryPoint);
        Assert.Equal("example", options.Server.WorkingDirectory);
        Assert.Equal([new UrlAlias("/static", "example/htdocs")], options.Server.UrlAliases);
        Assert.Equal(["--processes=2", "--threads=10"], options.Server.Arguments);
        Assert.Contains("mysite.proj", fromProject.Out);

        var overridden = new FakeCli();
        Assert.Equal(0, overridden.Invoke("build", _project.Path, "--repository", "from-cli", "--application-type", "script",
            "--entry-point", "wsgi.py", "--url-alias", "/media=media", "--server-arg", "--processes=4", "--label", "tier=back", "--tag", "dev"));
        options = overridden.Options;
        Assert.Equal("from-cli", options.Repository);
        Assert.Equal(["dev"], options.Tags);
        Assert.Equal(WsgiApplicationType.Script, options.Server.ApplicationType);
        Assert.Equal("wsgi.py", options.Server.EntryPoint);
        Assert.Equal("example", options.Server.WorkingDirectory); // not given: still the project's
        Assert.Equal([new UrlAlias("/media", "media")], options.Server.UrlAliases); // a repeatable option replaces the list
        Assert.Equal(["--processes=4"], options.Server.Arguments);
        Assert.Equal(new Dictionary<string, string> { ["team"] = "web", ["tier"] = "back" }, options.Labels); // labels merge by name
    }

    [Fact]
    public void ProjectFileNameIsTheDefaultRepository()
    {
        _project.Write("My Site.proj", """<Project Sdk="ModWsgi.Sdk/0.1.0" />""");
        var cli = new FakeCli();
        Assert.Equal(0, cli.Invoke("build", _project.Path));
        Assert.Equal("my-site", cli.Options.Repository);
    }

    [Fact]
    public void PropertyOverridesMeanWhatTheyMeanToDotnetBuild()
    {
        _project.Write("site.proj", """
            <Project Sdk="ModWsgi.Sdk/0.1.0">
              <PropertyGroup>
                <ContainerRepository>site</ContainerRepository>
                <ContainerRepository Condition="'$(Flavour)' == 'ci'">site-ci</ContainerRepository>
                <Version>1.0.0</Version>
              </PropertyGroup>
            </Project>
            """);
        var cli = new FakeCli();
        Assert.Equal(0, cli.Invoke("publish", _project.Path, "-p:Flavour=ci", "-p:Version=2.1.0;ContainerRegistry=127.0.0.1:5000", "--property", "WsgiServer=gunicorn"));
        var options = cli.Options;
        Assert.Equal("site-ci", options.Repository);                 // a condition on a global property
        Assert.Equal(["2.1.0", "2.1", "2"], options.Tags);            // a global property wins over the project's
        Assert.Equal("127.0.0.1:5000", options.Registry);
        Assert.Equal(ServerKind.Gunicorn, options.WsgiServer);

        var optionWins = new FakeCli();
        Assert.Equal(0, optionWins.Invoke("build", _project.Path, "-p:Version=2.1.0", "--version", "3.0.0"));
        Assert.Equal("3.0.0", optionWins.Options.Version);
    }

    [Fact]
    public void WithoutAProjectPropertyOverridesSetTheSdksProperties()
    {
        var cli = new FakeCli();
        Assert.Equal(0, cli.Invoke("build", _project.Path, "-p:ContainerRepository=direct", "-p:WsgiFrameworkDetection=false"));
        Assert.Equal("direct", cli.Options.Repository);
        Assert.False(cli.Options.FrameworkDetection);

        var unknown = new FakeCli();
        Assert.Equal(2, unknown.Invoke("build", _project.Path, "-p:Flavour=ci"));
        Assert.Contains("-p:Flavour sets nothing", unknown.Err);
        var malformed = new FakeCli();
        Assert.Equal(2, malformed.Invoke("build", _project.Path, "-p:Flavour"));
        Assert.Contains("is not NAME=VALUE", malformed.Err);
    }
}
