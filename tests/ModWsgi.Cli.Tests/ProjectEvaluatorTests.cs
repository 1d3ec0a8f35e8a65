using ModWsgi.Core;

namespace ModWsgi.Cli.Tests;

/// <summary>The CLI reads a .proj by evaluating it with MSBuild, as dotnet build does.</summary>
public sealed class ProjectEvaluatorTests : IDisposable
{
    private static readonly Dictionary<string, string> NoProperties = [];
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

        var project = ProjectEvaluator.Find(_dir.Path, NoProperties);

        Assert.NotNull(project);
        Assert.Equal("mysite", project.Name);
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

        var settings = ProjectEvaluator.Find(_dir.Path, NoProperties)!.Settings;

        Assert.Equal("1001", settings.ContainerUser);
        Assert.Equal(["8080"], settings.ContainerPort);
        Assert.Equal("gunicorn", settings.WsgiServer);
        Assert.Equal("False", settings.WsgiFrameworkDetection);
        Assert.Equal("true", settings.WsgiDjangoCollectStatic); // Sdk.targets' default, as PublishImage gets it
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

        var settings = ProjectEvaluator.Evaluate(path, NoProperties).Settings;

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
    public void ConditionsExpressionsAndItemOperationsMeanWhatTheyMeanToMSBuild()
    {
        var path = _dir.Write("site.proj", """
            <Project Sdk="ModWsgi.Sdk">
              <PropertyGroup>
                <ContainerRepository>plain</ContainerRepository>
                <WsgiEntryPoint>$(MSBuildProjectName).wsgi</WsgiEntryPoint>
                <WsgiWorkingDirectory Condition="'$(Configuration)' == 'Debug'">debug</WsgiWorkingDirectory>
              </PropertyGroup>
              <PropertyGroup Condition="'$(Flavour)' == 'ci'">
                <ContainerRepository>ci-only</ContainerRepository>
              </PropertyGroup>
              <ItemGroup>
                <Other Include="--processes=2" />
                <WsgiServerArgument Include="@(Other)" />
                <WsgiServerArgument Include="--threads=3;--timeout=5" />
                <WsgiServerArgument Remove="--threads=3" />
              </ItemGroup>
            </Project>
            """);

        var plain = ProjectEvaluator.Evaluate(path, NoProperties).Settings;
        Assert.Equal("plain", plain.ContainerRepository);
        Assert.Equal("site.wsgi", plain.WsgiEntryPoint);
        Assert.Null(plain.WsgiWorkingDirectory);
        Assert.Equal(["--processes=2", "--timeout=5"], plain.WsgiServerArgument);

        var overridden = ProjectEvaluator.Evaluate(path, new Dictionary<string, string> { ["Flavour"] = "ci", ["Configuration"] = "Debug" }).Settings;
        Assert.Equal("ci-only", overridden.ContainerRepository);
        Assert.Equal("debug", overridden.WsgiWorkingDirectory);
    }

    [Fact]
    public void TheSdksDefaultsComeFromItsTargetsAsPublishImageGetsThem()
    {
        var path = _dir.Write("My Site.proj", """<Project Sdk="ModWsgi.Sdk/0.1.0" />""");
        var settings = ProjectEvaluator.Evaluate(path, NoProperties).Settings;
        Assert.Equal("my-site", settings.ContainerRepository);
        // Blank: the Python version the folder asks for picks the base image (nothing asks here: the default).
        Assert.Null(settings.ContainerBaseImage);
        Assert.Equal(ModWsgi.Core.Settings.SettingsTable.DefaultBaseImage, settings.ToOptions(Path.GetDirectoryName(path)!, "/runtime", null).BaseImage);
        Assert.Equal("Docker", settings.LocalRegistry);
        Assert.Equal(["80"], settings.ContainerPort);
    }

    [Fact]
    public void WsgiPythonVersionInTheProj_PicksTheTrixieBaseImage_OverTheFoldersPythonVersionFile()
    {
        _dir.Write("app/.python-version", "3.11\n");
        var path = _dir.Write("app/site.proj", """<Project Sdk="ModWsgi.Sdk/0.1.0"><PropertyGroup><WsgiPythonVersion>3.13</WsgiPythonVersion></PropertyGroup></Project>""");
        var settings = ProjectEvaluator.Evaluate(path, NoProperties).Settings;

        Assert.Equal("3.13", settings.WsgiPythonVersion);
        var options = settings.ToOptions(Path.GetDirectoryName(path)!, "/runtime", null);
        Assert.Equal("modwsgi/base:trixie", options.BaseImage);
        Assert.Equal("WsgiPythonVersion", options.Python!.Source);
    }

    [Fact]
    public void DirectoryBuildPropsAboveTheProjectIsImported()
    {
        _dir.Write("Directory.Build.props", """
            <Project><PropertyGroup><WsgiPipIndexUrl>http://127.0.0.1:9/simple</WsgiPipIndexUrl></PropertyGroup></Project>
            """);
        var path = _dir.Write("app/site.proj", """<Project Sdk="ModWsgi.Sdk/0.1.0" />""");
        Assert.Equal("http://127.0.0.1:9/simple", ProjectEvaluator.Evaluate(path, NoProperties).Settings.WsgiPipIndexUrl);
    }

    [Fact]
    public void AnEditedProjectOrANewDirectoryBuildPropsIsEvaluatedAgain()
    {
        var path = _dir.Write("app/site.proj", """<Project Sdk="ModWsgi.Sdk/0.1.0"><PropertyGroup><Version>1.0.0</Version></PropertyGroup></Project>""");
        Assert.Equal("1.0.0", ProjectEvaluator.Evaluate(path, NoProperties).Settings.Version);

        File.WriteAllText(path, """<Project Sdk="ModWsgi.Sdk/0.1.0"><PropertyGroup><Version>2.0.0</Version></PropertyGroup></Project>""");
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddSeconds(5)); // a new mtime even on a coarse clock
        Assert.Equal("2.0.0", ProjectEvaluator.Evaluate(path, NoProperties).Settings.Version);

        _dir.Write("Directory.Build.props", """<Project><PropertyGroup><ContainerUser>1001</ContainerUser></PropertyGroup></Project>""");
        Assert.Equal("1001", ProjectEvaluator.Evaluate(path, NoProperties).Settings.ContainerUser);
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

        Assert.Equal("second", ProjectEvaluator.Evaluate(path, NoProperties).Settings.ContainerRepository);
    }

    [Fact]
    public void OnlyModWsgiSdkProjectsCount()
    {
        _dir.Write("other.proj", """<Project Sdk="Microsoft.Build.NoTargets/3.7.0" />""");
        _dir.Write("broken.proj", "<Project");
        Assert.Null(ProjectEvaluator.Find(_dir.Path, NoProperties));

        _dir.Write("tools.proj", """<Project><Import Project="Sdk.props" Sdk="ModWsgi.Sdk" /></Project>""");
        Assert.Equal("tools", ProjectEvaluator.Find(_dir.Path, NoProperties)?.Name);
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
    public void AProjectMSBuildCannotEvaluateIsCodedWithMSBuildsMessage()
    {
        _dir.Write("wsgi.py", "");
        _dir.Write("site.proj", "<Project Sdk=\"ModWsgi.Sdk\"><PropertyGroup Condition=\"'$(A)' = \"></PropertyGroup></Project>");
        var cli = new FakeCli();
        Assert.Equal(1, cli.Invoke("build", _dir.Path));
        Assert.Contains("error MODWSGI2014:", cli.Err);
        Assert.Contains("site.proj", cli.Err);
        Assert.Contains("MSB", cli.Err);
        Assert.Empty(cli.Builds);
    }

    [Fact]
    public void TheTemplatesProjectBuildsWithoutWarningsAndItsExamplesStayOff()
    {
        var template = File.ReadAllText(Path.Combine(RepositoryRoot(), "src", "ModWsgi.Templates", "content", "wsgi-app", "WsgiApp.proj"));
        _dir.Write("mysite.proj", template.Replace("SDKVERSION", "0.1.0").Replace("WSGIAPP_REPOSITORY", "mysite").Replace("WSGI_ENTRY_POINT", "wsgi.py"));
        _dir.Write("wsgi.py", "");

        var cli = new FakeCli();
        Assert.Equal(0, cli.Invoke("publish", _dir.Path));
        Assert.Equal("", cli.Err);
        Assert.DoesNotContain("warning", cli.Out, StringComparison.OrdinalIgnoreCase);
        var options = cli.Options;
        Assert.Equal("mysite", options.Repository);
        Assert.Equal("wsgi.py", options.Server.EntryPoint);
        Assert.Empty(options.Server.UrlAliases);   // the Condition="false" examples
        Assert.Null(options.Registry);
        Assert.Equal(["latest"], options.Tags);
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "ModWsgi.Sdk.sln")))
                return directory.FullName;
        }
        throw new InvalidOperationException("ModWsgi.Sdk.sln not found above " + AppContext.BaseDirectory);
    }
}
