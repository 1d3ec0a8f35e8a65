using ModWsgi.Core.Settings;

namespace ModWsgi.Sdk.Tests;

/// <summary>Sdk.props and Sdk.targets evaluated and run in-process: defaults, overrides, ComputeWsgiImageConfig and the hooks.</summary>
public sealed class SdkTargetsTests
{
    [Fact]
    public void TheTablesDefaultsAppearInAnEmptyProject()
    {
        using var project = new SdkProject("", name: "My Site");
        Assert.Equal("my-site", project.Property("ContainerRepository"));
        foreach (var setting in SettingsTable.All.Where(s => s.Default is not null && s.Kind != SettingKind.Item))
            Assert.Equal(setting.Default, project.Property(setting.Name));
        Assert.Equal([SettingsTable.ContainerPort.Default!], project.Items("ContainerPort"));
        Assert.Equal(project.ProjectFolder, project.Property("WsgiProjectDirectory"));
    }

    [Fact]
    public void TheProjectsValuesWin()
    {
        using var project = new SdkProject("""
            <PropertyGroup>
              <ContainerRepository>team/site</ContainerRepository>
              <ContainerBaseImage>example/base:2</ContainerBaseImage>
              <WsgiFrameworkDetection>false</WsgiFrameworkDetection>
            </PropertyGroup>
            <ItemGroup><ContainerPort Include="8080" /></ItemGroup>
            """);
        Assert.Equal("team/site", project.Property("ContainerRepository"));
        Assert.Equal("example/base:2", project.Property("ContainerBaseImage"));
        Assert.Equal("false", project.Property("WsgiFrameworkDetection"));
        Assert.Equal(["8080"], project.Items("ContainerPort"));
    }

    [Fact]
    public void DirectoryBuildPropsIsImportedAndTheProjectStillWins()
    {
        using var project = new SdkProject("""<PropertyGroup><WsgiServer>gunicorn</WsgiServer></PropertyGroup>""",
            prepareFolder: dir => File.WriteAllText(Path.Combine(dir, "Directory.Build.props"), """
                <Project>
                  <PropertyGroup>
                    <ContainerRegistry>registry.test:5000</ContainerRegistry>
                    <WsgiServer>waitress</WsgiServer>
                  </PropertyGroup>
                </Project>
                """));
        Assert.Equal("registry.test:5000", project.Property("ContainerRegistry"));
        Assert.Equal("gunicorn", project.Property("WsgiServer"));
    }

    [Fact]
    public void ComputeWsgiImageConfigYieldsTheTagsAndNamesTheBuildWillUse()
    {
        using var project = new SdkProject("""
            <PropertyGroup>
              <Version>1.2.3</Version>
              <ContainerRegistry>127.0.0.1:5000</ContainerRegistry>
            </PropertyGroup>
            """);
        var (success, instance, log) = project.Build("ComputeWsgiImageConfig");
        Assert.True(success, string.Join("\n", log.Errors.Select(e => e.Message)));
        Assert.Equal(["1.2.3", "1.2", "1"], instance.GetItems("WsgiImageTag").Select(i => i.EvaluatedInclude));
        Assert.Equal(["127.0.0.1:5000/site:1.2.3", "127.0.0.1:5000/site:1.2", "127.0.0.1:5000/site:1"],
            instance.GetItems("WsgiImageName").Select(i => i.EvaluatedInclude));
    }

    [Fact]
    public void AnInvalidTagIsACodedErrorAtTheUsersProject()
    {
        using var project = new SdkProject("""<PropertyGroup><ContainerImageTag>not ok</ContainerImageTag></PropertyGroup>""");
        var (success, _, log) = project.Build("ComputeWsgiImageConfig");
        Assert.False(success);
        var error = Assert.Single(log.Errors);
        Assert.Equal("MODWSGI2004", error.Code);
        Assert.EndsWith("site.proj", error.File);
    }

    [Fact]
    public void ATargetHookedIntoPublishImageDependsOnRunsAfterTheConfigAndBeforeTheImageBuild()
    {
        // The project hooks a target in; the image build itself (PublishImage's task, which needs an engine) is
        // stood in for by a CustomAfterWsgiTargets file, the documented way to add to or replace these targets.
        using var project = new SdkProject("""
            <PropertyGroup>
              <PublishImageDependsOn>$(PublishImageDependsOn);StampVersion</PublishImageDependsOn>
              <CustomAfterWsgiTargets>$(MSBuildProjectDirectory)/../after.targets</CustomAfterWsgiTargets>
            </PropertyGroup>
            <Target Name="StampVersion">
              <Message Importance="high" Text="stamping @(WsgiImageName)" />
            </Target>
            """, prepareFolder: dir => File.WriteAllText(Path.Combine(dir, "after.targets"), """
                <Project>
                  <Target Name="PublishImage" DependsOnTargets="$(PublishImageDependsOn)">
                    <Message Importance="high" Text="publishing" />
                  </Target>
                </Project>
                """));
        var (success, _, log) = project.Build("PublishImage");
        Assert.True(success, string.Join("\n", log.Errors.Select(e => e.Message)));
        Assert.Equal(["ComputeWsgiImageConfig", "StampVersion", "PublishImage"], log.TargetsStarted); // a target starts after its dependencies ran
        Assert.Equal(["stamping site:latest", "publishing"], log.Messages.Where(m => m is "publishing" || m.StartsWith("stamping", StringComparison.Ordinal)));
    }
}
