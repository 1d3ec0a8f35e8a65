using System.CommandLine;
using System.CommandLine.Parsing;
using ModWsgi.Core;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Settings;

namespace ModWsgi.Cli;

/// <summary>
/// The options of the commands that build an image (build, publish, run, shell): one per
/// <see cref="SettingsTable"/> entry that has a CLI option, made from the table (name, help, default, allowed
/// values), and their mapping: the folder's .proj gives the settings, the command line wins, and Core's
/// <see cref="ProjectSettings"/> does the rest exactly as it does for the PublishImage task. Repeatable options
/// replace the project's list; --label and --env merge with it by name.
/// </summary>
internal sealed class BuildOptionSet
{
    private readonly bool _publishing;
    private readonly List<(Setting Setting, Option Option)> _settingOptions = [];

    public Argument<string> ProjectDirectory { get; } = new("PROJECT-DIR")
    {
        Description = "The Python project folder (wsgi.py, requirements.txt, .docker/action_hooks; optionally a ModWsgi.Sdk .proj, evaluated by MSBuild, whose properties and items are the defaults)",
        Arity = ArgumentArity.ZeroOrOne,
        DefaultValueFactory = _ => ".",
    };

    /// <summary>-p:NAME=VALUE, as dotnet build takes it: a global property of the .proj's evaluation.</summary>
    public Option<string[]> Property { get; } = new("--property", "-p")
    {
        Description = "Set an MSBuild property for the .proj's evaluation, as dotnet build -p does, repeatable (-p:NAME=VALUE, or -p:A=1;B=2). Without a .proj it sets one of the SDK's properties. Options win over it",
        HelpName = "NAME=VALUE",
        Arity = ArgumentArity.OneOrMore,
    };

    private BuildOptionSet(bool publishing)
    {
        _publishing = publishing;
        foreach (var setting in SettingsTable.All)
        {
            if (setting.CliOption is null || setting.Cli == CliScope.None || (setting.Cli == CliScope.Publish && !publishing))
                continue;
            _settingOptions.Add((setting, CreateOption(setting)));
        }
        Property.Validators.Add(result =>
        {
            foreach (var token in result.Tokens)
            {
                foreach (var pair in token.Value.Split(';', StringSplitOptions.RemoveEmptyEntries))
                {
                    if (pair.IndexOf('=') <= 0)
                        result.AddError($"-p '{pair}' is not NAME=VALUE, e.g. -p:ContainerRegistry=127.0.0.1:5000.");
                }
            }
        });
        // The parser hands an unknown "--option" to the optional folder argument; say what it is instead.
        ProjectDirectory.Validators.Add(result =>
        {
            if (result.Tokens.FirstOrDefault()?.Value is { } value && value.StartsWith('-'))
                result.AddError($"Unrecognized option '{value}' (a folder whose name starts with '-' is given as ./{value}).");
        });
    }

    /// <summary>build, run, shell: the local engine; the project's destinations are not read.</summary>
    public static BuildOptionSet Local() => new(publishing: false);

    /// <summary>publish: also the destinations (registry, archive), from the project or the command line.</summary>
    public static BuildOptionSet Publishing() => new(publishing: true);

    /// <summary>The options this set offers, by setting (for tests that hold the CLI to the table).</summary>
    public IReadOnlyList<(Setting Setting, Option Option)> SettingOptions => _settingOptions;

    public void AddTo(Command command)
    {
        command.Arguments.Add(ProjectDirectory);
        command.Options.Add(Property);
        foreach (var (_, option) in _settingOptions)
            command.Options.Add(option);
    }

    /// <summary>The build's options: the .proj's settings (if any) overridden by the command line.</summary>
    /// <param name="variables">The command's environment (MSBuild reads it as properties); null for this process's.</param>
    public ResolvedBuild Resolve(ParseResult result, IReadOnlyDictionary<string, string?>? variables = null)
    {
        var directory = Path.GetFullPath(result.GetValue(ProjectDirectory) ?? ".");
        if (!Directory.Exists(directory))
            throw new ModWsgiException(DiagnosticCodes.ProjectDirectoryMissing,
                $"The project folder '{directory}' does not exist: pass the folder that holds wsgi.py and requirements.txt.");
        var globalProperties = GlobalProperties(result);
        var project = ProjectEvaluator.Find(directory, globalProperties, variables);
        var values = project?.Values ?? WithoutProject(globalProperties);
        // Where an image goes is publish's business: build, run and shell always use the local engine.
        if (!_publishing)
        {
            foreach (var setting in SettingsTable.All.Where(s => s.Cli == CliScope.Publish))
                values.SetText(setting, null);
        }

        foreach (var (setting, option) in _settingOptions)
            ApplyOption(result, setting, option, values);
        var settings = ProjectSettings.From(values);
        return new ResolvedBuild(settings.ToOptions(directory, SdkFiles.RuntimeDirectory, SdkFiles.BaseImageRecipe), project);
    }

    /// <summary>-p pairs; a later one wins, as in MSBuild.</summary>
    private Dictionary<string, string> GlobalProperties(ParseResult result)
    {
        var properties = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var pair in (result.GetValue(Property) ?? []).SelectMany(t => t.Split(';', StringSplitOptions.RemoveEmptyEntries)))
        {
            var separator = pair.IndexOf('=');
            properties[pair[..separator].Trim()] = pair[(separator + 1)..];
        }
        return properties;
    }

    /// <summary>A folder without a .proj: -p can only mean the SDK's own properties.</summary>
    private static SettingValues WithoutProject(IReadOnlyDictionary<string, string> properties)
    {
        var values = new SettingValues();
        foreach (var (name, value) in properties)
        {
            if (SettingsTable.Find(name) is not { Kind: not SettingKind.Item } setting)
                throw new UsageException($"-p:{name} sets nothing: this folder has no .proj, so -p takes only the SDK's properties (e.g. -p:ContainerRepository=mysite); items such as ContainerPort have options (--container-port).");
            values.SetText(setting, value);
        }
        return values;
    }

    private static void ApplyOption(ParseResult result, Setting setting, Option option, SettingValues values)
    {
        switch (option)
        {
            case Option<bool> flag when result.GetValue(flag):
                // A switch whose default is on: its --no-… flag turns it off.
                values.SetText(setting, (!setting.DefaultSwitch).ToString().ToLowerInvariant());
                break;
            case Option<string> text when result.GetValue(text) is { Length: > 0 } value:
                values.SetText(setting, value);
                break;
            case Option<string[]> list when result.GetValue(list) is { Length: > 0 } entries:
                var items = entries.Select(e => ToItem(setting, e));
                // Labels and environment variables merge with the project's by name (a later item wins); other lists are replaced.
                values.SetItems(setting, setting.Metadata.Contains("Value") ? [.. values.Items(setting), .. items] : items);
                break;
        }
    }

    private static SettingItem ToItem(Setting setting, string entry)
    {
        if (setting.Kind != SettingKind.Item || setting.Metadata is not [var metadata] || metadata == "Type")
            return new SettingItem(entry);
        var separator = entry.IndexOf('=');
        return new SettingItem(entry[..separator], new Dictionary<string, string> { [metadata] = entry[(separator + 1)..] });
    }

    private static Option CreateOption(Setting setting)
    {
        var name = setting.CliOption!;
        var description = Description(setting);
        Option option = setting.Kind switch
        {
            SettingKind.Switch => new Option<bool>(name) { Description = description },
            SettingKind.Property => new Option<string>(name) { Description = description, HelpName = setting.CliHelpName },
            _ => new Option<string[]>(name) { Description = description, HelpName = setting.CliHelpName, Arity = ArgumentArity.OneOrMore },
        };
        if (option is Option<string> text && setting.AllowedValues.Count > 0)
            text.AcceptOnlyFromAmong([.. setting.AllowedValues]);
        if (option is Option<string[]> pairs && setting.Kind == SettingKind.Item && setting.Metadata is ["Value" or "Path"])
            ValidatePairs(pairs, isUrlAlias: setting.Metadata[0] == "Path");
        return option;
    }

    /// <summary>The table's help, the setting it sets and its default, without the README's markdown.</summary>
    private static string Description(Setting setting)
    {
        var repeatable = setting.Kind is SettingKind.List or SettingKind.Item ? ", repeatable" : "";
        var text = $"{Capitalize(setting.Help)} ({setting.Name}{repeatable})";
        if (setting.DefaultText != "—")
            text += ". Default: " + setting.DefaultText;
        return text.Replace("`", "", StringComparison.Ordinal);
    }

    private static string Capitalize(string text) => text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..];

    /// <summary>NAME=VALUE options: malformed values are usage errors (exit 2), reported before anything runs.</summary>
    private static void ValidatePairs(Option<string[]> option, bool isUrlAlias)
    {
        option.Validators.Add(result =>
        {
            foreach (var token in result.Tokens)
            {
                var value = token.Value;
                var separator = value.IndexOf('=');
                var malformed = separator <= 0
                    || (isUrlAlias && (!value.StartsWith('/') || separator == value.Length - 1));
                if (malformed)
                    result.AddError(isUrlAlias
                        ? $"--url-alias '{value}' is not URL=PATH: the URL path starts with '/' and PATH is a folder or file relative to the project, e.g. --url-alias /static=example/htdocs."
                        : $"{option.Name} '{value}' is not NAME=VALUE, e.g. {option.Name} {(option.Name == "--env" ? "DJANGO_SETTINGS_MODULE=mysite.settings" : "org.opencontainers.image.vendor=Example")}.");
            }
        });
    }
}

/// <summary>The options a build runs with, and the .proj they came from (if any).</summary>
internal sealed record ResolvedBuild(ImageBuildOptions Options, ProjectFile? Project);
