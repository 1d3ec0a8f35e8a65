using System.Net.Sockets;
using System.Text;
using ModWsgi.Core.Diagnostics;

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
        // The server detaches with setsid(2); client and server check each other with statx(2) and
        // SO_PEERCRED (see UnixCredentials): Linux only.
        if (!OperatingSystem.IsLinux())
            return false;
        if (Flag(environment(SwitchVariable)) is { } explicitly)
            return explicitly;
        return Flag(environment("CI")) != true;
    }

    /// <summary>
    /// One socket per tool build: a path and module-version hash, so an updated tool never talks to the server
    /// of the version it replaced. The folder must be the user's own (see <see cref="CheckFolder"/>).
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

    /// <summary>The folder the socket lives in.</summary>
    public string Folder => Path.GetDirectoryName(SocketPath)!;

    /// <summary>
    /// A connection to a server of this user listening here; none when nobody answers, or when the folder or
    /// the process that answered is not to be trusted (then <see cref="ConnectAttempt.Untrusted"/> says why).
    /// Nothing has been sent yet, so refusing costs nothing but the server.
    /// </summary>
    public ConnectAttempt TryConnect()
    {
        if (CheckFolder() is { } untrusted)
            return new ConnectAttempt(null, untrusted);
        if (!File.Exists(SocketPath))
            return default;
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(SocketPath));
        }
        catch (SocketException)
        {
            socket.Dispose();
            return default;
        }
        if (CheckPeer(socket) is { } stranger)
        {
            socket.Dispose();
            return new ConnectAttempt(null, stranger);
        }
        return new ConnectAttempt(socket, null);
    }

    /// <summary>Creates the socket folder for this user alone (0700) if it is missing; an existing one is left as it is.</summary>
    public void CreateFolder()
    {
        if (!OperatingSystem.IsWindows())
            Directory.CreateDirectory(Folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    /// <summary>
    /// Why the socket folder is not to be trusted; null when it is (or does not exist yet). Whoever can write in
    /// it can replace the socket, receive each client's environment (registry passwords included) and answer
    /// with a fake result; CreateFolder's 0700 only applies to a folder it creates, and /tmp/modwsgi-USER can
    /// be made by anyone first. So: a real folder (not a symlink), owned by this user, that group and others
    /// cannot write.
    /// </summary>
    public UntrustedEndpoint? CheckFolder()
    {
        UnixCredentials.PathStatus? status;
        try
        {
            status = UnixCredentials.LStat(Folder);
        }
        catch (IOException ex)
        {
            return new UntrustedEndpoint(Folder, $"its owner and mode could not be checked ({ex.Message})");
        }
        var me = UnixCredentials.EffectiveUid;
        return status switch
        {
            null => null,
            { Kind: UnixCredentials.FileKind.SymbolicLink } => new UntrustedEndpoint(Folder, "it is a symbolic link"),
            { Kind: not UnixCredentials.FileKind.Directory } => new UntrustedEndpoint(Folder, "it is not a folder"),
            { Uid: var owner } when owner != me => new UntrustedEndpoint(Folder, $"it is owned by uid {owner}, not by you (uid {me})"),
            { Mode: var mode } when (mode & (UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) != 0 =>
                new UntrustedEndpoint(Folder, $"group or others can write in it (mode {Convert.ToString((int)mode, 8).PadLeft(4, '0')})"),
            _ => null,
        };
    }

    /// <summary>
    /// Why the process at the other end of <paramref name="socket"/> is not to be trusted (SO_PEERCRED: another
    /// uid than this process's); null when it runs as this user. Client and server both ask, before reading or
    /// sending anything.
    /// </summary>
    public UntrustedEndpoint? CheckPeer(Socket socket)
    {
        var me = UnixCredentials.EffectiveUid;
        return UnixCredentials.PeerUid(socket) switch
        {
            { } peer when peer == me => null,
            { } peer => new UntrustedEndpoint(Folder, $"the process at {SocketPath} runs as uid {peer}, not as you (uid {me})"),
            null => new UntrustedEndpoint(Folder, $"the uid of the process at {SocketPath} could not be read"),
        };
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

/// <summary>What <see cref="BuildServerEndpoint.TryConnect"/> found: a trusted server, nobody, or something not to trust.</summary>
internal readonly record struct ConnectAttempt(Socket? Socket, UntrustedEndpoint? Untrusted);

/// <summary>A build server folder or process that is not this user's alone: what was found there.</summary>
internal sealed record UntrustedEndpoint(string Folder, string Finding)
{
    /// <summary>The client's warning; <paramref name="instead"/> says what it does without the server.</summary>
    public string ClientWarning(string instead) =>
        $"warning {DiagnosticCodes.BuildServerUntrusted.Id}: Not using the build server in {Folder}: {Finding}; another user could " +
        $"receive what a build sends it (the environment, registry passwords included). {instead} {Advice}";

    /// <summary>The server's error: it does not listen.</summary>
    public string ServerError =>
        $"error {DiagnosticCodes.BuildServerUntrusted.Id}: The build server will not listen in {Folder}: {Finding}. {Advice}";

    private string Advice =>
        $"Remove the folder (rm -rf '{Folder}') so the next build creates it for you alone (mode 0700), or set " +
        $"{BuildServerEndpoint.SwitchVariable}=0 to build without a server.";
}
