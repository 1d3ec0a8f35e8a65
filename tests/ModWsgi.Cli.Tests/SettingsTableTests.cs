using System.CommandLine;
using ModWsgi.Core.Settings;

namespace ModWsgi.Cli.Tests;

/// <summary>The CLI is held to Core's settings table: every setting with a CLI option is offered, by the right commands, with its help.</summary>
public sealed class SettingsTableTests
{
    [Fact]
    public void EverySettingsOptionIsOfferedByTheCommandsItsScopeNames()
    {
        var cli = new ModWsgiCli(new CliHost());
        foreach (var commandName in new[] { "build", "publish", "run", "shell" })
        {
            var command = cli.Root.Subcommands.Single(c => c.Name == commandName);
            var offered = command.Options.Select(o => o.Name).ToHashSet();
            foreach (var setting in SettingsTable.All.Where(s => s.CliOption is not null))
            {
                var expected = setting.Cli == CliScope.Builds || (setting.Cli == CliScope.Publish && commandName == "publish");
                Assert.True(expected == offered.Contains(setting.CliOption!),
                    $"{commandName} {(expected ? "lacks" : "should not offer")} {setting.CliOption} ({setting.Name})");
            }
        }
    }

    [Fact]
    public void EachOptionsHelpNamesItsSettingAndDefault()
    {
        var set = BuildOptionSet.Publishing();
        Assert.Equal(SettingsTable.All.Count(s => s.CliOption is not null && s.Cli != CliScope.None), set.SettingOptions.Count);
        foreach (var (setting, option) in set.SettingOptions)
        {
            Assert.Equal(setting.CliOption, option.Name);
            Assert.Contains($"({setting.Name}", option.Description);
            if (setting.DefaultText != "—")
                Assert.Contains("Default: " + setting.DefaultText.Replace("`", ""), option.Description);
            var expectedType = setting.Kind switch
            {
                SettingKind.Switch => typeof(Option<bool>),
                SettingKind.Property => typeof(Option<string>),
                _ => typeof(Option<string[]>),
            };
            Assert.IsType(expectedType, option);
        }
    }

    [Fact]
    public void EachSwitchFlagTurnsItsDefaultOff()
    {
        foreach (var setting in SettingsTable.All.Where(s => s.Kind == SettingKind.Switch))
        {
            Assert.True(setting.DefaultSwitch, setting.Name + ": a --no-… flag only makes sense for a default that is on");
            Assert.StartsWith("--no-", setting.CliOption);
        }
    }
}
