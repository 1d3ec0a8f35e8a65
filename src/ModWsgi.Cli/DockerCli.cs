using System.ComponentModel;
using System.Diagnostics;
using ModWsgi.Core.Diagnostics;

namespace ModWsgi.Cli;

/// <param name="Arguments">Everything after "docker".</param>
/// <param name="DockerHost">DOCKER_HOST for the CLI, so it talks to the engine the image was built in.</param>
/// <param name="StopOnCancel">A container to `docker stop` when the run is cancelled; null leaves the signal to docker.</param>
internal sealed record DockerInvocation(IReadOnlyList<string> Arguments, string? DockerHost = null, string? StopOnCancel = null);

/// <summary>
/// run and shell start containers with the real docker CLI, not the Engine API: it already does terminals,
/// signal proxying and output streaming the way users know.
/// </summary>
internal static class DockerCli
{
    public static async Task<int> RunAsync(DockerInvocation invocation, CancellationToken cancellationToken)
    {
        // No redirection: the container's output streams straight to our console, and -it gets the real terminal.
        using var process = Start(invocation.Arguments, invocation.DockerHost, redirect: false);
        try
        {
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            if (invocation.StopOnCancel is { } container)
            {
                // docker stop sends the image's stop signal: Apache (PID 1) stops gracefully, then --rm removes it.
                using var stop = Start(["stop", container], invocation.DockerHost, redirect: true);
                await stop.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            }
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            throw;
        }
        return process.ExitCode;
    }

    private static Process Start(IEnumerable<string> arguments, string? dockerHost, bool redirect)
    {
        var info = new ProcessStartInfo("docker")
        {
            UseShellExecute = false,
            RedirectStandardOutput = redirect,
            RedirectStandardError = redirect,
        };
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        if (!string.IsNullOrEmpty(dockerHost))
            info.Environment["DOCKER_HOST"] = dockerHost;
        try
        {
            var process = Process.Start(info)!;
            if (redirect)
            {
                // Drained and dropped: "docker stop" prints the container name, and an error if --rm already removed it.
                process.OutputDataReceived += (_, _) => { };
                process.ErrorDataReceived += (_, _) => { };
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();
            }
            return process;
        }
        catch (Win32Exception ex)
        {
            throw new ModWsgiException(DiagnosticCodes.DockerCliMissing,
                $"The docker CLI could not be started ({ex.Message}): 'modwsgi run' and 'modwsgi shell' start the container with it. Install it (on Debian: apt-get install docker.io) or put it on PATH.", ex);
        }
    }
}
