using System.Reflection;
using System.Text.Json;
using System.Xml.Linq;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using ModWsgi.Core.Settings;
using ModWsgi.Sdk.Tasks;

namespace ModWsgi.Sdk.Tests;

/// <summary>The task's parameters and the targets' call and defaults are held to Core's settings table.</summary>
public sealed class SettingsTableTests
{
    /// <summary>Parameters that say where things are, not what to build.</summary>
    private static readonly string[] Plumbing = ["ProjectDirectory", "ProjectFile", "RuntimeDirectory", "BaseImageRecipe"];

    [Fact]
    public void PublishImageHasOneParameterPerSettingOfTheKindsType()
    {
        var parameters = typeof(PublishImage).GetProperties(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly)
            .Where(p => p.CanWrite && p.GetCustomAttribute<OutputAttribute>() is null)
            .ToDictionary(p => p.Name, p => p.PropertyType);
        Assert.Equal(SettingsTable.All.Select(s => s.Name).Concat(Plumbing).Order(), parameters.Keys.Order());
        foreach (var setting in SettingsTable.All)
        {
            var expected = setting.Kind switch
            {
                SettingKind.Property or SettingKind.Switch => typeof(string),
                SettingKind.List => typeof(string[]),
                _ => typeof(ITaskItem[]),
            };
            Assert.True(expected == parameters[setting.Name], $"{setting.Name} is {parameters[setting.Name].Name}, a {setting.Kind} wants {expected.Name}");
        }
    }

    [Fact]
    public void SdkTargetsPassesEverySettingToPublishImage()
    {
        var call = Targets().Descendants().Single(e => e.Name.LocalName == "PublishImage");
        var attributes = call.Attributes().ToDictionary(a => a.Name.LocalName, a => a.Value);
        Assert.Equal(SettingsTable.All.Select(s => s.Name).Concat(Plumbing).Order(), attributes.Keys.Order());
        foreach (var setting in SettingsTable.All)
            Assert.Equal(setting.Kind == SettingKind.Item ? $"@({setting.Name})" : $"$({setting.Name})", attributes[setting.Name]);
    }

    [Fact]
    public void SdkTargetsDefaultsAreTheTables()
    {
        var defaults = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var element in Targets().Root!.Elements().Where(e => e.Name.LocalName is "PropertyGroup" or "ItemGroup").Elements())
        {
            var name = element.Name.LocalName;
            if (SettingsTable.Find(name) is null)
                continue;
            var condition = element.Attribute("Condition")?.Value;
            var isItem = element.Parent!.Name.LocalName == "ItemGroup";
            Assert.Equal(isItem ? $"'@({name})' == ''" : $"'$({name})' == ''", condition); // a default, never an override
            defaults[name] = isItem ? element.Attribute("Include")!.Value : element.Value;
        }
        foreach (var setting in SettingsTable.All)
        {
            if (setting.Default is not null)
                Assert.True(defaults.TryGetValue(setting.Name, out var value) && value == setting.Default,
                    $"Sdk.targets should default {setting.Name} to the table's '{setting.Default}', not '{value}'");
            else if (setting.DefaultComputedByTargets)
                Assert.True(defaults.ContainsKey(setting.Name), $"Sdk.targets should compute {setting.Name}'s default");
            else
                Assert.False(defaults.ContainsKey(setting.Name), $"Sdk.targets defaults {setting.Name}, which the table leaves unset");
        }
    }

    [Fact]
    public void EverySettingReachesTheOptions()
    {
        var baseline = Options(new PublishImage());
        foreach (var setting in SettingsTable.All)
        {
            var task = new PublishImage();
            var parameter = typeof(PublishImage).GetProperty(setting.Name)!;
            parameter.SetValue(task, SampleValue(setting));
            Assert.True(baseline != Options(task), $"{setting.Name} set on the task did not change the build's options");
        }
    }

    private static string Options(PublishImage task)
    {
        task.ProjectDirectory = "/tmp/sample-project";
        task.RuntimeDirectory = "/tmp/runtime";
        return JsonSerializer.Serialize(task.CreateOptions());
    }

    private static object SampleValue(Setting setting)
    {
        var text = setting switch
        {
            { Kind: SettingKind.Switch } => "false",
            { AllowedValues.Count: > 0 } => setting.AllowedValues[^1],
            { Name: "ContainerPort" } => "8081",
            { Name: "Version" } => "2.0.0",
            // A version a base image provides (any other text is MODWSGI2025/2026).
            { Name: "WsgiPythonVersion" } => "3.13",
            // Whole seconds (any other text is MODWSGI2050).
            { Name: "WsgiGracefulStopTimeout" } => "8",
            // A duration and a count other than the defaults (any other text is MODWSGI2055).
            { Name: "WsgiHealthCheckInterval" or "WsgiHealthCheckTimeout" or "WsgiHealthCheckStartPeriod" } => "42s",
            { Name: "WsgiHealthCheckRetries" } => "7",
            { Name: "WsgiCacheSizeLimit" } => "1GB",
            _ => "sample",
        };
        return setting.Kind switch
        {
            SettingKind.List => new[] { text },
            SettingKind.Item => new ITaskItem[]
            {
                new TaskItem(text, setting.Metadata.ToDictionary(m => m, m => "sample-" + m)),
            },
            _ => text,
        };
    }

    private static XDocument Targets() => XDocument.Load(Path.Combine(MSBuildSetup.SdkDirectory, "Sdk.targets"));
}
