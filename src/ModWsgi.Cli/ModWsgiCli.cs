using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.CommandLine;
using Microsoft.Extensions.Logging;
using ModWsgi.Core.Cache;
using ModWsgi.Core.Destinations;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Engine;
using ModWsgi.Core.Layers;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Pipeline;
using ModWsgi.Core.Project;
using ModWsgi.Core.Steps;
using ModWsgi.Core;

namespace ModWsgi.Cli;

/// <summary>
/// The command surface: parsing → <see cref="ImageBuildOptions"/> → Core. Each command is a few lines over
/// Core's <see cref="ImagePipeline"/> (through <see cref="CliHost"/>) or the docker CLI; failures become
/// "error MODWSGInnnn: message" and an exit code, never a stack trace.
/// </summary>
internal sealed class ModWsgiCli
{
    private readonly CliHost _host;
    private readonly Option<bool> _verbose = new("--verbose", "-v")
    {
        Description = "Also show debug output (engine version, phase timings, internal errors in full)",
        Recursive = true,
    };

    public ModWsgiCli(CliHost host)
    {
        _host = host;
        Root = new RootCommand("Build Python WSGI applications into layered Apache/mod_wsgi container images (the ModWsgi.Sdk without MSBuild).");
        Root.Options.Add(_verbose);
        Root.Subcommands.Add(BuildCommand());
        Root.Subcommands.Add(PublishCommand());
        Root.Subcommands.Add(RunCommand());
        Root.Subcommands.Add(ShellCommand());
        Root.Subcommands.Add(InspectCommand());
        Root.Subcommands.Add(PruneCommand());
        Root.Subcommands.Add(BuildServerCommand());
        var help = Root.Options.OfType<HelpOption>().Single();
        help.Action = new HelpWithExitCodes((HelpAction)help.Action!);
    }

    public RootCommand Root { get; }

    public async Task<int> InvokeAsync(IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        var parsed = Root.Parse(args);
        if (parsed.Action is ParseErrorAction)
        {
            foreach (var error in parsed.Errors)
                _host.Error.WriteLine($"error: {error.Message}");
            var command = parsed.CommandResult.Command == Root ? "modwsgi" : "modwsgi " + parsed.CommandResult.Command.Name;
            _host.Error.WriteLine($"Run '{command} --help' for usage.");
            return ExitCodes.Usage;
        }
        var configuration = new InvocationConfiguration
        {
            Output = _host.Out,
            Error = _host.Error,
            // Program owns Ctrl+C/SIGTERM: Core must get time to remove its build container, not a 2 s deadline.
            ProcessTerminationTimeout = null,
            EnableDefaultExceptionHandler = false,
        };
        return await parsed.InvokeAsync(configuration, cancellationToken).ConfigureAwait(false);
    }

    private Command BuildCommand()
    {
        var command = new Command("build", "Build the image into the local container engine (PublishImage without a registry or archive).");
        var set = BuildOptionSet.Local();
        set.AddTo(command);
        SetAction(command, async (parsed, logger, token) =>
        {
            await BuildAsync(set, parsed, logger, token).ConfigureAwait(false);
            return ExitCodes.Ok;
        });
        return command;
    }

    private Command PublishCommand()
    {
        var command = new Command("publish", "Build the image and publish it: to --registry, to an OCI --archive, or (neither) to the local engine. Same outputs as PublishImage.");
        var set = BuildOptionSet.Publishing();
        set.AddTo(command);
        SetAction(command, async (parsed, logger, token) =>
        {
            await BuildAsync(set, parsed, logger, token).ConfigureAwait(false);
            return ExitCodes.Ok;
        });
        return command;
    }

    private Command RunCommand()
    {
        var command = new Command("run", "Build the image if anything changed, then run it: docker run --rm -p PORT:CONTAINER-PORT IMAGE (the image's ContainerPort, 80 unless set), its output streamed here. Ctrl+C stops the container (docker stop) and exits 130.");
        var set = BuildOptionSet.Local();
        set.AddTo(command);
        // No -p alias: -p:NAME=VALUE sets a property, as it does for dotnet build.
        var port = new Option<int>("--port") { Description = "Host port published to the container's port (--container-port / ContainerPort)", HelpName = "PORT", DefaultValueFactory = _ => 8000 };
        port.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 1 or > 65535)
                result.AddError($"--port {result.GetValueOrDefault<int>()} is not a host port: use 1 to 65535.");
        });
        command.Options.Add(port);
        SetAction(command, async (parsed, logger, token) =>
        {
            var (options, result) = await BuildAsync(set, parsed, logger, token).ConfigureAwait(false);
            var container = $"modwsgi-run-{Guid.NewGuid():N}"[..24];
            var hostPort = parsed.GetValue(port);
            _host.Out.WriteLine($"Running {result.Images[0]} as {container} on http://localhost:{hostPort}/ (Ctrl+C stops it)");
            try
            {
                return await _host.Docker(new DockerInvocation(
                    ["run", "--rm", "--name", container, "-p", $"{hostPort}:{options.Server.Port}", result.Images[0]], DockerHostForCli(options), StopOnCancel: container), token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                _host.Out.WriteLine($"Stopped {container}.");
                return ExitCodes.Cancelled;
            }
        });
        return command;
    }

    private Command ShellCommand()
    {
        var command = new Command("shell", "Build the image if anything changed, then open a shell in the application's environment: docker run --rm -it --entrypoint mod_wsgi-docker-shell IMAGE (no -t when stdin is not a terminal, so commands can be piped in).");
        var set = BuildOptionSet.Local();
        set.AddTo(command);
        SetAction(command, async (parsed, logger, token) =>
        {
            var (options, result) = await BuildAsync(set, parsed, logger, token).ConfigureAwait(false);
            // The shell owns the terminal: Ctrl+C belongs to it, so nothing is stopped on our side.
            var exitCode = await _host.Docker(new DockerInvocation(
                ["run", "--rm", _host.StdinIsTerminal ? "-it" : "-i", "--entrypoint", "mod_wsgi-docker-shell", result.Images[0]], DockerHostForCli(options)),
                CancellationToken.None).ConfigureAwait(false);
            return token.IsCancellationRequested ? ExitCodes.Cancelled : exitCode;
        });
        return command;
    }

    /// <summary>
    /// DOCKER_HOST for the docker CLI that runs the image: the project's host, or Podman's socket when the build found it
    /// (the CLI knows nothing of LocalRegistry); null leaves the CLI to pick the engine as the build did.
    /// </summary>
    private string? DockerHostForCli(ImageBuildOptions options)
    {
        if (!string.IsNullOrEmpty(options.DockerHost))
            return options.DockerHost;
        var environment = _host.BuildEnvironment;
        return string.Equals(options.LocalRegistry, "Podman", StringComparison.OrdinalIgnoreCase) && environment.DockerHost is null
            ? EngineEndpoint.ForLocalRegistry(options.LocalRegistry, null, environment).Display
            : null;
    }

    private Command InspectCommand()
    {
        var image = new Argument<string>("IMAGE") { Description = "Image name, name:tag or id in the local engine" };
        var json = new Option<bool>("--json") { Description = "Print JSON (layers, config, build notes) instead of text" };
        var project = new Option<string>("--project") { Description = "Also show what the build cache recorded for this project folder: its last publish and the dependency layer's key inputs", HelpName = "DIR" };
        var cacheDir = new Option<string>("--cache-dir") { Description = "Build cache folder, as given to build. Default: $MODWSGI_CACHE_DIR, else $XDG_CACHE_HOME/modwsgi or ~/.cache/modwsgi", HelpName = "DIR" };
        var dockerHost = new Option<string>("--docker-host") { Description = "Engine endpoint, unix:///path or tcp://host:port. Default: $DOCKER_HOST, else /var/run/docker.sock", HelpName = "HOST" };
        var command = new Command("inspect", "Show an image's layers (diff ids, sizes, what made them) and config (entrypoint, cmd, env, workdir, ports, labels).") { image, json, project, cacheDir, dockerHost };
        SetAction(command, async (parsed, logger, token) =>
        {
            var name = parsed.GetValue(image)!;
            var environment = _host.BuildEnvironment;
            var endpoint = EngineEndpoint.ForLocalRegistry(null, parsed.GetValue(dockerHost), environment);
            using var engine = new DockerEngineClient(endpoint);
            var inspect = await engine.InspectImageAsync(name, token).ConfigureAwait(false)
                ?? throw new ModWsgiException(DiagnosticCodes.ImageNotFound,
                    $"The container engine at {endpoint.Display} has no image '{name}': build it with 'modwsgi build', or check the name with 'docker images'.");
            var history = await engine.GetImageHistoryAsync(name, token).ConfigureAwait(false);
            BuildNotes? notes = null;
            if (parsed.GetValue(project) is { Length: > 0 } projectDir)
            {
                var cache = new BuildCache(parsed.GetValue(cacheDir) is { Length: > 0 } dir ? dir : environment.CacheDirectory);
                var full = Path.GetFullPath(projectDir);
                notes = BuildNotes.From(full, cache.Root, cache.ReadProjectNotes(full));
            }
            var description = ImageDescription.Create(name, inspect, history, notes);
            _host.Out.Write(parsed.GetValue(json) ? description.ToJson() + Environment.NewLine : description.ToText());
            return ExitCodes.Ok;
        });
        return command;
    }

    private Command PruneCommand()
    {
        var cacheDir = new Option<string>("--cache-dir") { Description = "Build cache folder, as given to build. Default: $MODWSGI_CACHE_DIR, else $XDG_CACHE_HOME/modwsgi or ~/.cache/modwsgi", HelpName = "DIR" };
        var dockerHost = new Option<string>("--docker-host") { Description = "Engine endpoint whose images are pruned, as for build. Default: $DOCKER_HOST, else the docker context, else /var/run/docker.sock", HelpName = "HOST" };
        var maxSize = new Option<string>("--max-size") { Description = "Then remove cache entries, least recently used first (with their modwsgi/stage:* images), until the cache is at most SIZE (5GB, 500MB; K, M, G, T are powers of 1024)", HelpName = "SIZE" };
        var all = new Option<bool>("--all") { Description = "Remove every cache entry and every modwsgi/stage:* image (the next build runs pip again)" };
        var command = new Command("prune",
            "Remove what builds no longer need: cache blobs no entry names (earlier builds' application layers), our dangling images (earlier builds' images a rebuild moved the tag off), " +
            "modwsgi/stage:* images whose dependency layer is no longer cached, and with --max-size or --all cache entries too. Only images labelled modwsgi.image are touched, and none a container uses.")
        {
            cacheDir, dockerHost, maxSize, all,
        };
        SetAction(command, async (parsed, logger, token) =>
        {
            var environment = _host.BuildEnvironment;
            var root = Path.GetFullPath(parsed.GetValue(cacheDir) is { Length: > 0 } dir ? dir : environment.CacheDirectory);
            var limit = parsed.GetValue(maxSize) is { Length: > 0 } size ? CacheSize.Parse(size, "--max-size") : null;
            using var engine = new DockerEngineClient(EngineEndpoint.ForLocalRegistry(null, parsed.GetValue(dockerHost), environment));
            var report = await Pruning.RunAsync(engine, root, limit, parsed.GetValue(all), TimeSpan.FromSeconds(30), logger, token).ConfigureAwait(false);
            _host.Out.WriteLine(report.ImagesRemoved.Count == 0
                ? "Engine: no image of ours to remove."
                : $"Engine: removed {report.ImagesRemoved.Count} image(s): {string.Join(", ", report.ImagesRemoved)}");
            if (report.Cache is not { } cache)
                throw new ModWsgiException(DiagnosticCodes.CacheBusy,
                    $"The build cache at {root} is held by a running build (waited 30 s): its folder was not pruned. Run 'modwsgi prune' again when the build ends.");
            _host.Out.WriteLine($"Cache {root}: removed {cache.BlobsRemoved} blob(s) and {cache.EntriesRemoved} entr{(cache.EntriesRemoved == 1 ? "y" : "ies")}; " +
                $"{CacheSize.Describe(cache.BytesBefore)} -> {CacheSize.Describe(cache.BytesAfter)}.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private Command BuildServerCommand()
    {
        var shutdown = new Command("shutdown", "Stop this tool's build server (it also stops by itself after 10 idle minutes).");
        shutdown.SetAction(async (_, _) =>
        {
            var stopped = await BuildServer.BuildServerClient.ShutdownAsync(BuildServer.BuildServerEndpoint.ForThisTool(_host.Variable), _host.Error).ConfigureAwait(false);
            _host.Out.WriteLine(stopped ? "Build server stopped." : "No build server was running.");
            return ExitCodes.Ok;
        });
        var socket = new Option<string>("--socket") { Required = true };
        var idle = new Option<int>("--idle-minutes") { DefaultValueFactory = _ => 10 };
        var run = new Command("run", "Run the build server in the foreground (the tool starts it by itself).") { socket, idle };
        run.Hidden = true;
        run.SetAction(async (parsed, token) =>
        {
            BuildServer.BuildServerHost.DetachFromTerminal();
            var host = new BuildServer.BuildServerHost(new BuildServer.BuildServerEndpoint(parsed.GetValue(socket)!),
                TimeSpan.FromMinutes(parsed.GetValue(idle)), cliHost => new ModWsgiCli(cliHost), _host.Error);
            return await host.RunAsync(token).ConfigureAwait(false);
        });
        return new Command("build-server",
            $"The build server that build and publish hand their work to, so rebuilds skip .NET start-up costs. {BuildServer.BuildServerEndpoint.SwitchVariable}=0 turns it off; under CI=true it is off unless {BuildServer.BuildServerEndpoint.SwitchVariable}=1.")
        {
            shutdown, run,
        };
    }

    /// <summary>Resolves the options, runs Core's pipeline and prints what PublishImage prints.</summary>
    private async Task<(ImageBuildOptions Options, PublishResult Result)> BuildAsync(BuildOptionSet set, ParseResult parsed, ILogger logger, CancellationToken token)
    {
        var resolving = System.Diagnostics.Stopwatch.StartNew();
        var build = set.Resolve(parsed, _host.Variables);
        if (build.Project is { } project)
        {
            logger.LogInformation("Project {Path}", project.Path);
            logger.LogDebug("timings: project evaluation {Milliseconds} ms ({How})", resolving.ElapsedMilliseconds,
                project.Reused ? "reused: nothing it read changed" : "evaluated by MSBuild");
        }
        var result = await _host.Publish(build.Options, _host.BuildEnvironment, logger, token).ConfigureAwait(false);
        _host.Out.WriteLine($"{build.Options.Repository} -> {string.Join(", ", result.Images)}");
        _host.Out.WriteLine($"  image id: {result.ImageId}");
        if (result.ManifestDigest is not null)
            _host.Out.WriteLine($"  manifest digest: {result.ManifestDigest}");
        if (result.ArchivePath is not null)
            _host.Out.WriteLine($"  archive: {result.ArchivePath}");
        return (build.Options, result);
    }

    /// <summary>Every command's failures end here: a coded error line and an exit code.</summary>
    private void SetAction(Command command, Func<ParseResult, ILogger, CancellationToken, Task<int>> body)
    {
        command.SetAction(async (parsed, token) =>
        {
            var logger = new ConsoleLogger(_host.Out, _host.Error, parsed.GetValue(_verbose) ? LogLevel.Debug : LogLevel.Information);
            try
            {
                return await body(parsed, logger, token).ConfigureAwait(false);
            }
            catch (UsageException ex)
            {
                _host.Error.WriteLine($"error: {ex.Message}");
                return ExitCodes.Usage;
            }
            catch (ModWsgiException ex)
            {
                _host.Error.WriteLine($"error {ex.Id}: {ex.Message}");
                logger.LogDebug(ex, "Full exception:");
                return ExitCodes.Failed;
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                _host.Error.WriteLine($"error {DiagnosticCodes.BuildCancelled.Id}: Cancelled; no image was tagged, and the build container was removed unless a warning above names it.");
                return ExitCodes.Cancelled;
            }
            catch (Exception ex)
            {
                _host.Error.WriteLine($"error {DiagnosticCodes.UnexpectedFailure.Id}: Unexpected failure: {ex.GetType().Name}: {ex.Message}. Please report this with the output of --verbose.");
                logger.LogDebug(ex, "Full exception:");
                return ExitCodes.Failed;
            }
        });
    }

    /// <summary>The standard help, followed by the exit codes (every command's help, as the help option is recursive).</summary>
    private sealed class HelpWithExitCodes(HelpAction standard) : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            var code = standard.Invoke(parseResult);
            parseResult.InvocationConfiguration.Output.WriteLine(ExitCodes.HelpText);
            return code;
        }
    }
}
