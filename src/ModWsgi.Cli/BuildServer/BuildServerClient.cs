using System.Collections;
using System.Diagnostics;
using System.Text.Json.Nodes;
using ModWsgi.Core.Diagnostics;

namespace ModWsgi.Cli.BuildServer;

/// <summary>The client side: hands a command to the running server, or starts one for the next build.</summary>
internal static class BuildServerClient
{
    /// <summary>
    /// Runs the command on the server and returns its exit code, with its output written here as it comes;
    /// null when no server answers, it is busy, or it (or its folder) is not this user's alone, which the
    /// warning on <paramref name="error"/> says (the caller then runs the command itself).
    /// </summary>
    public static async Task<int?> TryRunAsync(BuildServerEndpoint endpoint, IReadOnlyList<string> args,
        TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        using var connection = Connect(endpoint, error, "This build runs in-process instead.");
        if (connection is null)
            return null;
        var environment = new JsonObject();
        foreach (DictionaryEntry variable in Environment.GetEnvironmentVariables())
            environment[(string)variable.Key] = (string?)variable.Value;
        var request = new JsonObject
        {
            ["args"] = new JsonArray(args.Select(a => (JsonNode?)a).ToArray()),
            ["cwd"] = Environment.CurrentDirectory,
            ["env"] = environment,
        };
        if (!connection.Send(request))
            return null;
        // Ctrl+C is passed on; the server cancels the build, removes its container and still reports the exit code.
        await using var onCancel = cancellationToken.Register(() => connection.Send(new JsonObject { ["cancel"] = true }));
        var started = false;
        while (await connection.ReadAsync(CancellationToken.None).ConfigureAwait(false) is { } message)
        {
            if (message["busy"] is not null && !started)
                return null;
            started = true;
            if (message["out"]?.GetValue<string>() is { } text)
            {
                output.Write(text);
                output.Flush();
            }
            if (message["err"]?.GetValue<string>() is { } errorText)
            {
                error.Write(errorText);
                error.Flush();
            }
            if (message["exit"] is JsonValue exit && exit.TryGetValue<int>(out var exitCode))
            {
                if (args.Contains("--verbose") || args.Contains("-v"))
                    output.WriteLine($"(run by the build server at {endpoint.SocketPath}; {BuildServerEndpoint.SwitchVariable}=0 builds in-process)");
                return exitCode;
            }
        }
        if (!started)
            return null; // closed before it began: a server on its way out
        error.WriteLine($"error {DiagnosticCodes.UnexpectedFailure.Id}: The build server ended during the build. Build again; set {BuildServerEndpoint.SwitchVariable}=0 to build without it.");
        return ExitCodes.Failed;
    }

    /// <summary>Asks the server to exit once its current build (if any) ends; false when none was running.</summary>
    public static async Task<bool> ShutdownAsync(BuildServerEndpoint endpoint, TextWriter error)
    {
        using var connection = Connect(endpoint, error, "Nothing was stopped.");
        if (connection is null || !connection.Send(new JsonObject { ["shutdown"] = true }))
            return false;
        return await connection.ReadAsync(CancellationToken.None).ConfigureAwait(false) is not null;
    }

    /// <summary>
    /// Starts a server for the next build, detached: its own session (no terminal signals) and no inherited
    /// output pipes (a caller capturing our output must not wait for the server's idle timeout).
    /// </summary>
    public static void StartInBackground(BuildServerEndpoint endpoint)
    {
        var executable = Environment.ProcessPath;
        if (executable is null)
            return;
        var info = new ProcessStartInfo(executable)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = "/",
        };
        // `dotnet modwsgi.dll …` (not the installed command) runs the server the same way.
        if (Path.GetFileNameWithoutExtension(executable) == "dotnet")
            info.ArgumentList.Add(typeof(BuildServerClient).Assembly.Location);
        foreach (var arg in (string[])["build-server", "run", "--socket", endpoint.SocketPath])
            info.ArgumentList.Add(arg);
        if (Environment.GetEnvironmentVariable(BuildServerEndpoint.IdleMinutesVariable) is { Length: > 0 } minutes)
        {
            info.ArgumentList.Add("--idle-minutes");
            info.ArgumentList.Add(minutes);
        }
        try
        {
            using var process = Process.Start(info);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // no server then; every build runs in-process
        }
    }

    /// <summary>Starting one is worth it when none listens and the folder is fit to hold one.</summary>
    public static bool ShouldStart(BuildServerEndpoint endpoint) =>
        !File.Exists(endpoint.SocketPath) && endpoint.CheckFolder() is null;

    private static BuildServerConnection? Connect(BuildServerEndpoint endpoint, TextWriter error, string instead)
    {
        var attempt = endpoint.TryConnect();
        if (attempt.Untrusted is { } untrusted)
            error.WriteLine(untrusted.ClientWarning(instead));
        return attempt.Socket is { } socket ? new BuildServerConnection(socket) : null;
    }
}
