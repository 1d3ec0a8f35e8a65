using ModWsgi.Core;

namespace ModWsgi.Cli.Tests;

public sealed class ProjectFileReaderTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void ReadsTheDesignExample()
    {
        _dir.Write("mysite.proj", """
            <Project Sdk="ModWsgi.Sdk/0.1.0">
              <PropertyGroup>
                <ContainerRepository>mysite</ContainerRepository>
                <WsgiApplicationType>module</WsgiApplicationType>     <!-- script | module | paste | static -->
                <WsgiEntryPoint>example.wsgi</WsgiEntryPoint>
                <WsgiWorkingDirectory>example</WsgiWorkingDirectory>
              </PropertyGroup>
              <ItemGroup>
                <WsgiUrlAlias Include="/static" Path="example/htdocs" />
                <WsgiServerArgument Include="--processes=2;--threads=10" />
              </ItemGroup>
            </Project>
            """);

        var project = ProjectFileReader.Find(_dir.Path);

        Assert.NotNull(project);
        Assert.Equal("mysite", project.Name);
        Assert.Empty(project.Skipped);
        var settings = project.Settings;
        Assert.Equal("mysite", settings.ContainerRepository);
        Assert.Equal("module", settings.WsgiApplicationType);
        Assert.Equal("example.wsgi", settings.WsgiEntryPoint);
        Assert.Equal("example", settings.WsgiWorkingDirectory);
        Assert.Equal([new UrlAlias("/static", "example/htdocs")], settings.WsgiUrlAlias);
        Assert.Equal(["--processes=2", "--threads=10"], settings.WsgiServerArgument);
    }

    [Fact]
    public void ReadsTheServerSettings_SoTheToolBuildsWhatPublishImageBuilds()
    {
        _dir.Write("site.proj", """
            <Project Sdk="ModWsgi.Sdk/0.1.0">
              <PropertyGroup>
                <ContainerUser>1001</ContainerUser>
                <WsgiServer>gunicorn</WsgiServer>
                <WsgiFrameworkDetection>False</WsgiFrameworkDetection>
              </PropertyGroup>
              <ItemGroup>
                <ContainerPort Include="8080" />
              </ItemGroup>
            </Project>
            """);

        var settings = ProjectFileReader.Find(_dir.Path)!.Settings;

        Assert.Equal("1001", settings.ContainerUser);
        Assert.Equal(["8080"], settings.ContainerPort);
        Assert.Equal("gunicorn", settings.WsgiServer);
        Assert.Equal("False", settings.WsgiFrameworkDetection);
        Assert.Null(settings.WsgiDjangoCollectStatic);
        var options = settings.ToOptions(_dir.Path, "/runtime", null);
        Assert.Equal(8080, options.Server.Port);
        Assert.Equal("1001", options.User);
        Assert.False(options.FrameworkDetection);
        Assert.True(options.DjangoCollectStatic);
    }

    [Fact]
    public void ReadsTheOtherLiteralPropertiesAndItems()
    {
        var path = _dir.Write("site.proj", """
            <Project>
              <Sdk Name="ModWsgi.Sdk" Version="0.1.0" />
              <PropertyGroup>
                <ContainerImageTag>edge</ContainerImageTag>
                <ContainerImageTags>a;b;;c</ContainerImageTags>
                <Version>1.0.0</Version>
                <ContainerBaseImage>example/base:2</ContainerBaseImage>
                <WsgiCallableObject>app</WsgiCallableObject>
                <WsgiPipIndexUrl>http://127.0.0.1:1/simple</WsgiPipIndexUrl>
                <WsgiPipExtraIndexUrl>http://127.0.0.1:2/simple;http://127.0.0.1:3/simple</WsgiPipExtraIndexUrl>
                <WsgiPipTrustedHost>127.0.0.1</WsgiPipTrustedHost>
              </PropertyGroup>
              <ItemGroup>
                <ContainerLabel Include="team"><Value>web</Value></ContainerLabel>
                <ContainerEnvironmentVariable Include="A;B" Value="x%3By" />
                <WsgiUrlAlias Include="/a;/b" Path="shared" />
              </ItemGroup>
            </Project>
            """);

        var settings = ProjectFileReader.Read(path).Settings;

        Assert.Equal("edge", settings.ContainerImageTag);
        Assert.Equal(["a", "b", "c"], settings.ContainerImageTags);
        Assert.Equal("1.0.0", settings.Version);
        Assert.Equal("example/base:2", settings.ContainerBaseImage);
        Assert.Equal("app", settings.WsgiCallableObject);
        Assert.Equal("http://127.0.0.1:1/simple", settings.WsgiPipIndexUrl);
        Assert.Equal(["http://127.0.0.1:2/simple", "http://127.0.0.1:3/simple"], settings.WsgiPipExtraIndexUrl);
        Assert.Equal(["127.0.0.1"], settings.WsgiPipTrustedHost);
        Assert.Equal([KeyValuePair.Create("team", "web")], settings.ContainerLabel);
        Assert.Equal([KeyValuePair.Create("A", "x;y"), KeyValuePair.Create("B", "x;y")], settings.ContainerEnvironmentVariable);
        Assert.Equal([new UrlAlias("/a", "shared"), new UrlAlias("/b", "shared")], settings.WsgiUrlAlias);
    }

    [Fact]
    public void SkipsWhatOnlyMSBuildCanEvaluate()
    {
        var path = _dir.Write("site.proj", """
            <Project Sdk="ModWsgi.Sdk">
              <PropertyGroup>
                <ContainerRepository>plain</ContainerRepository>
                <WsgiEntryPoint>$(MSBuildProjectName).wsgi</WsgiEntryPoint>
                <WsgiWorkingDirectory Condition="'$(Configuration)' == 'Debug'">debug</WsgiWorkingDirectory>
              </PropertyGroup>
              <PropertyGroup Condition="'$(CI)' == 'true'">
                <ContainerRepository>ci-only</ContainerRepository>
              </PropertyGroup>
              <ItemGroup>
                <WsgiServerArgument Include="@(Other)" />
                <WsgiServerArgument Include="--threads=3" />
                <WsgiServerArgument Remove="--threads=3" />
              </ItemGroup>
            </Project>
            """);

        var project = ProjectFileReader.Read(path);

        Assert.Equal("plain", project.Settings.ContainerRepository);
        Assert.Null(project.Settings.WsgiEntryPoint);
        Assert.Null(project.Settings.WsgiWorkingDirectory);
        Assert.Equal(["--threads=3"], project.Settings.WsgiServerArgument);
        Assert.Equal(["WsgiEntryPoint", "WsgiWorkingDirectory", "ContainerRepository", "WsgiServerArgument"], project.Skipped);
    }

    [Fact]
    public void TheLastDefinitionWinsAndOldStyleNamespacesAreRead()
    {
        var path = _dir.Write("site.proj", """
            <Project Sdk="ModWsgi.Sdk/0.1.0" xmlns="http://schemas.microsoft.com/developer/msbuild/2003">
              <PropertyGroup><ContainerRepository>first</ContainerRepository></PropertyGroup>
              <PropertyGroup><ContainerRepository> second </ContainerRepository></PropertyGroup>
            </Project>
            """);

        Assert.Equal("second", ProjectFileReader.Read(path).Settings.ContainerRepository);
    }

    [Fact]
    public void OnlyModWsgiSdkProjectsCount()
    {
        _dir.Write("other.proj", """<Project Sdk="Microsoft.Build.NoTargets/3.7.0" />""");
        _dir.Write("broken.proj", "<Project");
        Assert.Null(ProjectFileReader.Find(_dir.Path));

        _dir.Write("tools.proj", """<Project><Import Project="Sdk.props" Sdk="ModWsgi.Sdk" /></Project>""");
        Assert.Equal("tools", ProjectFileReader.Find(_dir.Path)?.Name);
    }

    [Fact]
    public void SeveralProjectsAreAUsageError()
    {
        _dir.Write("wsgi.py", "");
        _dir.Write("a.proj", """<Project Sdk="ModWsgi.Sdk/0.1.0" />""");
        _dir.Write("b.proj", """<Project Sdk="Microsoft.NET.Sdk;ModWsgi.Sdk" />""");

        var cli = new FakeCli();
        Assert.Equal(2, cli.Invoke("build", _dir.Path));
        Assert.Contains("a.proj, b.proj", cli.Err);
        Assert.Empty(cli.Builds);
    }

    [Fact]
    public void AMalformedModWsgiProjectIsAUsageError()
    {
        var path = _dir.Write("site.proj", "<Project Sdk=\"ModWsgi.Sdk\"><PropertyGroup>");
        var error = Assert.Throws<UsageException>(() => ProjectFileReader.Read(path));
        Assert.Contains("site.proj", error.Message);
    }
}
