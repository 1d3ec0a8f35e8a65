using System.Text;
using Microsoft.Extensions.Logging;
using ModWsgi.Core.Cache;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Engine;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Project;

namespace ModWsgi.Core.Steps;

/// <summary>
/// The image's server options checked by the launcher itself (<c>modwsgi-launch --check-only</c>) in a container of
/// the base image, before any image is tagged: the Cmd, the config's MOD_WSGI_* variables and the project's
/// <c>server_args</c>, so an unknown or malformed option fails the build (MODWSGI2036) instead of the container's
/// start. A set of options that passed is remembered in the cache (keyed by the launcher and everything it was given).
/// </summary>
public sealed class ServerOptionsCheckStep(IContainerEngine engine, BuildCache cache, ILogger logger)
{
    /// <summary>Where the launcher and a copy of the layout's server_args go in the check container (never in a layer).</summary>
    public const string CheckRoot = "/tmp/modwsgi-check";
    private const string Prefix = "modwsgi-launch: error: ";
    private const string HelpSuffix = " (see --help)";

    public async Task RunAsync(ImagePlan plan, ImageSettings settings, CancellationToken cancellationToken)
    {
        // python-app and shell-app do not go through the launcher; a start hook replaces it and may take other options.
        if (plan.Detected.Server is ServerKind.PythonApp or ServerKind.ShellApp)
            return;
        var project = plan.Options.ProjectDirectory;
        var layout = plan.Build.Layout;
        if (ActionHooks.Probe(project, ActionHooks.Start) == HookState.Executable)
        {
            logger.LogInformation(" -----> Server options not checked: {Hook} replaces the server and receives them",
                ActionHooks.RelativePath(ActionHooks.Start, layout));
            return;
        }

        var launcher = File.ReadAllBytes(plan.RuntimeScripts.Single(p => Path.GetFileName(p) == "modwsgi-launch"));
        var serverArgsPath = ProjectLayout.ServerArgsPath(layout);
        var serverArgs = InImage(plan, serverArgsPath) ? File.ReadAllBytes(Path.Combine(project, serverArgsPath)) : null;
        var key = Key(launcher, settings, serverArgsPath, serverArgs);
        if (cache.HasPassedServerCheck(key))
            return;

        logger.LogInformation(" -----> Checking the server options with modwsgi-launch --check-only{ServerArgs}",
            serverArgs is null ? "" : " (with " + serverArgsPath + ")");
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal) { [CheckRoot + "/modwsgi-launch"] = launcher };
        // In mod_wsgi-docker-start's order: the image's Cmd, then server_args.
        List<string> command = ["/usr/bin/python3", CheckRoot + "/modwsgi-launch", "--check-only", .. settings.Cmd];
        if (serverArgs is not null)
        {
            files[CheckRoot + "/" + serverArgsPath] = serverArgs;
            command.AddRange(["--server-args-file", serverArgsPath]);
        }
        var output = new List<string>();
        var exit = await BuildContainer.UseAsync(engine, plan.Base.Id, plan.ContainerLabels, logger, async container =>
        {
            await container.PutFilesAsync(files, cancellationToken).ConfigureAwait(false);
            // The working folder holds the launcher and the server_args copy, under the path the messages name.
            return await container.ExecAsync(new ExecSpec(command) { WorkingDir = CheckRoot, Env = settings.Env },
                line => output.Add(line.Text), cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        if (exit == 2 && output.Any(l => l.StartsWith(Prefix, StringComparison.Ordinal)))
            throw Refused(output, serverArgsPath);
        if (exit != 0)
            // Not an option the launcher refused: the check itself could not run.
            throw new ModWsgiException(DiagnosticCodes.UnexpectedFailure,
                $"The server options could not be checked: modwsgi-launch --check-only exited with {exit} in a container of "
                + $"{plan.Options.BaseImage}: {string.Join(" / ", output.TakeLast(5))}. Check that the base image has /usr/bin/python3.");
        cache.SavePassedServerCheck(key);
    }

    private static ModWsgiException Refused(IReadOnlyList<string> output, string serverArgsPath)
    {
        var error = output.Last(l => l.StartsWith(Prefix, StringComparison.Ordinal));
        var problem = error[Prefix.Length..].Replace(HelpSuffix, "", StringComparison.Ordinal);
        var source = problem.Contains(serverArgsPath, StringComparison.Ordinal)
            ? $"the project's {serverArgsPath}"
            : "the project's server options (the WsgiServerArgument items and the Wsgi*/ContainerPort properties that make the image's Cmd, "
              + "or a MOD_WSGI_* ContainerEnvironmentVariable)";
        return new ModWsgiException(DiagnosticCodes.ServerOptionRejected,
            $"The container would not start: its server refuses an option: {problem}. The option comes from {source}: fix or "
            + "remove it and build again (the options are listed by 'modwsgi-launch --help', e.g. "
            + "'docker run --rm --entrypoint modwsgi-launch IMAGE --help'). No image was tagged.");
    }

    /// <summary>Whether the image holds the file: .dockerignore and the always-excluded paths may leave it out.</summary>
    private static bool InImage(ImagePlan plan, string relativePath) =>
        File.Exists(Path.Combine(plan.Options.ProjectDirectory, relativePath))
        && !plan.Files.IsAlwaysExcluded(relativePath) && !plan.Files.Ignore.IsExcluded(relativePath);

    private static string Key(byte[] launcher, ImageSettings settings, string serverArgsPath, byte[]? serverArgs)
    {
        var text = new StringBuilder()
            .Append(Digests.Sha256(launcher)).Append('\n')
            .AppendJoin('\0', settings.Cmd).Append('\n')
            .AppendJoin('\0', settings.Env).Append('\n')
            .Append(serverArgsPath).Append('\n')
            .Append(serverArgs is null ? "-" : Digests.Sha256(serverArgs));
        return Digests.Sha256(Encoding.UTF8.GetBytes(text.ToString()));
    }
}
