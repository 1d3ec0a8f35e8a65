using System.Net.Sockets;
using System.Text;

namespace ModWsgi.Cli.BuildServer;

/// <summary>
/// Where this tool's build server listens, and whether to use one. A server keeps the tool's code loaded and
/// compiled between builds, so a source-only rebuild costs the engine's import plus a few milliseconds
/// instead of a .NET start-up and first-call costs (as MSBuild's node reuse and Roslyn's compiler server).
/// </summary>
internal sealed record BuildServerEndpoint(string SocketPath)
{
    public const string SwitchVariable = "MODWSGI_BUILD_SERVER";
    /// <summary>How long a started server waits for the next build before it exits (default 10 minutes).</summary>
    public const string IdleMinutesVariable = "MODWSGI_BUILD_SERVER_IDLE_MINUTES";

    /// <summary>The commands a server runs; run and shell own the terminal and stay in-process.</summary>
    public static bool Serves(IReadOnlyList<string> args) => args.Count > 0 && args[0] is "build" or "publish";

    /// <summary>
    /// MODWSGI_BUILD_SERVER=0|1 decides; unset, a server is used except under CI=true, where a process that
    /// outlives the build helps nobody (as Nx and Turborepo do with their daemons).
    /// </summary>
    public static bool Enabled(Func<string, string?> environment)
    {
        // The server detaches with setsid(2) and guards its socket with file modes: Linux and macOS only.
        if (OperatingSystem.IsWindows())
            return false;
        if (Flag(environment(SwitchVariable)) is { } explicitly)
            return explicitly;
        return Flag(environment("CI")) != true;
    }

    /// <summary>
    /// One socket per tool build: a path and module-version hash, so an updated tool never talks to the server
    /// of the version it replaced. The folder is the user's own (0700).
    /// </summary>
    public static BuildServerEndpoint ForThisTool(Func<string, string?> environment)
    {
        var folder = environment("XDG_RUNTIME_DIR") is { Length: > 0 } runtime
            ? Path.Combine(runtime, "modwsgi")
            : Path.Combine(Path.GetTempPath(), "modwsgi-" + Environment.UserName);
        // Core is identified by its file, not loaded: the client path stays short.
        var core = new FileInfo(Path.Combine(AppContext.BaseDirectory, "ModWsgi.Core.dll"));
        var identity = AppContext.BaseDirectory + "|" + typeof(BuildServerEndpoint).Assembly.ManifestModule.ModuleVersionId
            + "|" + (core.Exists ? core.Length + "@" + core.LastWriteTimeUtc.Ticks : "");
        return new BuildServerEndpoint(Path.Combine(folder, $"build-server-{Fnv1a(identity):x16}.sock"));
    }

    /// <summary>A connection to the server listening here; null when none answers.</summary>
    public Socket? TryConnect()
    {
        if (!File.Exists(SocketPath))
            return null;
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(SocketPath));
            return socket;
        }
        catch (SocketException)
        {
            socket.Dispose();
            return null;
        }
    }

    public void CreateFolder()
    {
        if (!OperatingSystem.IsWindows())
            Directory.CreateDirectory(Path.GetDirectoryName(SocketPath)!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    /// <summary>A name, not a secret: FNV-1a spares the client loading a cryptography library.</summary>
    private static ulong Fnv1a(string text)
    {
        var hash = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(text))
            hash = (hash ^ b) * 1099511628211UL;
        return hash;
    }

    private static bool? Flag(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        "1" or "true" or "on" or "yes" => true,
        "0" or "false" or "off" or "no" => false,
        _ => null,
    };
}
