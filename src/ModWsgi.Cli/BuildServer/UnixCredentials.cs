using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace ModWsgi.Cli.BuildServer;

/// <summary>
/// Who owns a path and who is at the other end of a unix socket: the two facts the build server's trust rests
/// on, which .NET does not expose. Linux only (statx and SO_PEERCRED), as the build server is.
/// </summary>
internal static class UnixCredentials
{
    /// <summary>The uid this process acts as; a build server and its clients must share it.</summary>
    public static uint EffectiveUid => geteuid();

    /// <summary>
    /// The uid of the process at the other end of a connected unix socket: for a client, the server as it was
    /// when it called listen(); for a server, the client as it was when it called connect(). Null if unknown.
    /// </summary>
    public static uint? PeerUid(Socket socket)
    {
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
        Span<byte> ucred = stackalloc byte[12];
        try
        {
            return socket.GetRawSocketOption(SolSocket, SoPeerCred, ucred) == ucred.Length ? MemoryMarshal.Read<uint>(ucred[4..]) : null;
        }
        catch (SocketException)
        {
            return null;
        }
    }

    /// <summary>What lstat says about a path (a symlink is described, not followed); null when it does not exist.</summary>
    public static PathStatus? LStat(string path)
    {
        // statx rather than lstat: its layout is the same on every Linux architecture.
        var buffer = new byte[256];
        if (statx(AtFdCwd, path, AtSymlinkNoFollow, StatxType | StatxMode | StatxUid, buffer) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            return errno is ENOENT or ENOTDIR ? null : throw new IOException($"statx {path} failed: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        // struct statx { u32 stx_mask; u32 stx_blksize; u64 stx_attributes; u32 stx_nlink; u32 stx_uid; u32 stx_gid; u16 stx_mode; … }
        var uid = MemoryMarshal.Read<uint>(buffer.AsSpan(20));
        var mode = MemoryMarshal.Read<ushort>(buffer.AsSpan(28));
        return new PathStatus(uid, (UnixFileMode)(mode & 0xFFF), (FileKind)(mode & 0xF000));
    }

    internal enum FileKind
    {
        Directory = 0x4000,
        SymbolicLink = 0xA000,
    }

    /// <param name="Kind">S_IFMT of the mode: compare with <see cref="FileKind"/>.</param>
    internal sealed record PathStatus(uint Uid, UnixFileMode Mode, FileKind Kind);

    private const int SolSocket = 1;
    private const int SoPeerCred = 17;
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxType = 0x1;
    private const uint StatxMode = 0x2;
    private const uint StatxUid = 0x8;
    private const int ENOENT = 2;
    private const int ENOTDIR = 20;

    [DllImport("libc")]
    private static extern uint geteuid();

    [DllImport("libc", SetLastError = true)]
    private static extern int statx(int dirfd, string pathname, int flags, uint mask, [Out] byte[] statxbuf);
}
