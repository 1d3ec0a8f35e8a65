using System.CommandLine;
using System.CommandLine.Parsing;
using ModWsgi.Core;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Engine;

namespace ModWsgi.Cli;

/// <summary>
/// The options of the commands that build an image (build, publish, run, shell), one per SDK property or
/// item, and their mapping: the folder's .proj gives defaults, the command line wins, and Core's
/// <see cref="ProjectSettings.ToOptions"/> does the rest exactly as it does for the PublishImage task.
/// Repeatable options replace the project's list; --label and --env merge with it by name.
/// </summary>
internal sealed class BuildOptionSet
{
    public Argument<string> ProjectDirectory { get; } = new("PROJECT-DIR")
    {
        Description = "The Python project folder (wsgi.py, requirements.txt, .docker/action_hooks; optionally a ModWsgi.Sdk .proj whose literal properties and items are read as defaults)",
        Arity = ArgumentArity.ZeroOrOne,
        DefaultValueFactory = _ => ".",
    };

    public Option<string> Repository { get; } = Text("--repository", "NAME", "Image repository (ContainerRepository). Default: the .proj's, else the project or folder name lower-cased");
    public Option<string[]> Tag { get; } = List("--tag", "TAG", "Image tag, repeatable (ContainerImageTags); taken as given. Default: the .proj's ContainerImageTag(s), else --version expanded (1.2.3 -> 1.2.3, 1.2, 1), else 'latest'");
    public Option<string> Version { get; } = Text("--version", "VERSION", "Project version (Version): the org.opencontainers.image.version label and the default tags");
    public Option<string> BaseImage { get; } = Text("--base-image", "IMAGE", $"Base image in the local engine (ContainerBaseImage). Default: {ImageBuildOptions.DefaultBaseImage}");
    public Option<string> ApplicationType { get; } = Text("--application-type", "TYPE", "WSGI application type (WsgiApplicationType): script, module, paste or static. Default: script")
        .AcceptOnlyFromAmong([.. WsgiServerOptions.ApplicationTypes]);
    public Option<string> EntryPoint { get; } = Text("--entry-point", "PATH|MODULE", "Script path relative to the project, or dotted module name (WsgiEntryPoint). Default: wsgi.py");
    public Option<string> CallableObject { get; } = Text("--callable-object", "NAME", "Name of the WSGI callable (WsgiCallableObject). Default: application");
    public Option<string> WorkingDirectory { get; } = Text("--working-directory", "PATH", "Working directory of the daemon processes, relative to the project (WsgiWorkingDirectory)");
    public Option<string[]> UrlAlias { get; } = Pairs(List("--url-alias", "URL=PATH", "Serve a project folder or file at a URL path through Apache, repeatable (WsgiUrlAlias), e.g. /static=example/htdocs"), isUrlAlias: true);
    public Option<string[]> ServerArgument { get; } = List("--server-arg", "ARG", "A further server option baked into the image's Cmd, repeatable (WsgiServerArgument), e.g. --server-arg=--processes=2");
    public Option<string> PipIndexUrl { get; } = Text("--pip-index-url", "URL", "pip's index (WsgiPipIndexUrl); used by the build only, never stored in the image");
    public Option<string[]> PipExtraIndexUrl { get; } = List("--pip-extra-index-url", "URL", "A further pip index, repeatable (WsgiPipExtraIndexUrl)");
    public Option<string[]> PipTrustedHost { get; } = List("--pip-trusted-host", "HOST", "A host pip may reach without valid HTTPS, repeatable (WsgiPipTrustedHost)");
    public Option<string> CacheDirectory { get; } = Text("--cache-dir", "DIR", "Build cache folder (WsgiCacheDirectory). Default: $MODWSGI_CACHE_DIR, else $XDG_CACHE_HOME/modwsgi or ~/.cache/modwsgi");
    public Option<string> DockerHost { get; } = Text("--docker-host", "HOST", "Engine endpoint, unix:///path or tcp://host:port (DockerHost). Default: $DOCKER_HOST, else /var/run/docker.sock");
    public Option<string[]> Label { get; } = Pairs(List("--label", "NAME=VALUE", "An image label, repeatable (ContainerLabel); overrides a generated org.opencontainers.image.* label"), isUrlAlias: false);
    public Option<string[]> Env { get; } = Pairs(List("--env", "NAME=VALUE", "An environment variable of the image, repeatable (ContainerEnvironmentVariable)"), isUrlAlias: false);

    // publish only: where the image goes besides (instead of) the local engine.
    public Option<string>? Registry { get; private init; }
    public Option<string>? Archive { get; private init; }
    public Option<bool>? InsecureRegistry { get; private init; }

    public static BuildOptionSet Local() => new();

    public static BuildOptionSet Publishing() => new()
    {
        Registry = Text("--registry", "HOST[:PORT]", "Push to this registry (ContainerRegistry); credentials from ~/.docker/config.json, credential helpers or the environment"),
        Archive = Text("--archive", "PATH", "Write an OCI image archive (ContainerArchiveOutputPath); a path ending in '/' is a folder and gets REPOSITORY.tar"),
        InsecureRegistry = new Option<bool>("--insecure-registry") { Description = "Allow plain HTTP to --registry (ContainerInsecureRegistries); loopback registries never need it" },
    };

    public BuildOptionSet()
    {
        // The parser hands an unknown "--option" to the optional folder argument; say what it is instead.
        ProjectDirectory.Validators.Add(result =>
        {
            if (result.Tokens.FirstOrDefault()?.Value is { } value && value.StartsWith('-'))
                result.AddError($"Unrecognized option '{value}' (a folder whose name starts with '-' is given as ./{value}).");
        });
    }

    public void AddTo(Command command)
    {
        command.Arguments.Add(ProjectDirectory);
        Option[] options =
        [
            Repository, Tag, Version, BaseImage, ApplicationType, EntryPoint, CallableObject, WorkingDirectory, UrlAlias, ServerArgument,
            PipIndexUrl, PipExtraIndexUrl, PipTrustedHost, CacheDirectory, DockerHost, Label, Env,
        ];
        foreach (var option in options.Concat(new Option?[] { Registry, Archive, InsecureRegistry }.OfType<Option>()))
            command.Options.Add(option);
    }

    /// <summary>The build's options: the .proj's settings (if any) overridden by the command line.</summary>
    public ResolvedBuild Resolve(ParseResult result)
    {
        var directory = Path.GetFullPath(result.GetValue(ProjectDirectory) ?? ".");
        if (!Directory.Exists(directory))
            throw new ModWsgiException(DiagnosticCodes.ProjectDirectoryMissing,
                $"The project folder '{directory}' does not exist: pass the folder that holds wsgi.py and requirements.txt.");
        var project = ProjectFileReader.Find(directory);
        var defaults = project?.Settings ?? new ProjectSettings();
        if (project is not null)
            defaults = defaults with { ContainerRepository = defaults.ContainerRepository ?? ImageReference.RepositoryFromProjectName(project.Name) };

        string? One(Option<string>? option, string? fallback) => option is not null && result.GetValue(option) is { Length: > 0 } value ? value : fallback;
        IReadOnlyList<string> Many(Option<string[]> option, IReadOnlyList<string> fallback) => result.GetValue(option) is { Length: > 0 } values ? values : fallback;
        IEnumerable<KeyValuePair<string, string>> NameValues(Option<string[]> option) =>
            (result.GetValue(option) ?? []).Select(SplitPair).Select(p => KeyValuePair.Create(p.Name, p.Value));

        var settings = defaults with
        {
            ContainerRepository = One(Repository, defaults.ContainerRepository),
            ContainerImageTags = Many(Tag, defaults.ContainerImageTags),
            Version = One(Version, defaults.Version),
            ContainerBaseImage = One(BaseImage, defaults.ContainerBaseImage),
            WsgiApplicationType = One(ApplicationType, defaults.WsgiApplicationType),
            WsgiEntryPoint = One(EntryPoint, defaults.WsgiEntryPoint),
            WsgiCallableObject = One(CallableObject, defaults.WsgiCallableObject),
            WsgiWorkingDirectory = One(WorkingDirectory, defaults.WsgiWorkingDirectory),
            WsgiUrlAlias = result.GetValue(UrlAlias) is { Length: > 0 } aliases
                ? aliases.Select(SplitPair).Select(p => new UrlAlias(p.Name, p.Value)).ToArray()
                : defaults.WsgiUrlAlias,
            WsgiServerArgument = Many(ServerArgument, defaults.WsgiServerArgument),
            WsgiPipIndexUrl = One(PipIndexUrl, defaults.WsgiPipIndexUrl),
            WsgiPipExtraIndexUrl = Many(PipExtraIndexUrl, defaults.WsgiPipExtraIndexUrl),
            WsgiPipTrustedHost = Many(PipTrustedHost, defaults.WsgiPipTrustedHost),
            WsgiCacheDirectory = One(CacheDirectory, defaults.WsgiCacheDirectory),
            DockerHost = One(DockerHost, defaults.DockerHost),
            ContainerLabel = [.. defaults.ContainerLabel, .. NameValues(Label)],
            ContainerEnvironmentVariable = [.. defaults.ContainerEnvironmentVariable, .. NameValues(Env)],
            ContainerRegistry = One(Registry, null),
            ContainerArchiveOutputPath = One(Archive, null),
            ContainerInsecureRegistries = InsecureRegistry is not null && result.GetValue(InsecureRegistry) ? One(Registry, null) : null,
        };
        return new ResolvedBuild(settings.ToOptions(directory, SdkFiles.RuntimeDirectory, SdkFiles.BaseImageRecipe), project);
    }

    private static Option<string> Text(string name, string helpName, string description) =>
        new(name) { Description = description, HelpName = helpName };

    private static Option<string[]> List(string name, string helpName, string description) =>
        new(name) { Description = description, HelpName = helpName, Arity = ArgumentArity.OneOrMore };

    /// <summary>NAME=VALUE options: malformed values are usage errors (exit 2), reported before anything runs.</summary>
    private static Option<string[]> Pairs(Option<string[]> option, bool isUrlAlias)
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
        return option;
    }

    private static (string Name, string Value) SplitPair(string value)
    {
        var separator = value.IndexOf('=');
        return (value[..separator], value[(separator + 1)..]);
    }
}

/// <summary>The options a build runs with, and the .proj they came from (if any).</summary>
internal sealed record ResolvedBuild(ImageBuildOptions Options, ProjectFile? Project);
