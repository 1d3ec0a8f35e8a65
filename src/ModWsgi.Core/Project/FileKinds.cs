using System.Runtime.InteropServices;

namespace ModWsgi.Core.Project;

/// <summary>What a directory entry is, as lstat(2) says (the link itself, never its target).</summary>
public enum FileKind { Regular, Directory, Symlink, Fifo, Socket, CharacterDevice, BlockDevice, Missing }

/// <summary>
/// The kind of a file. The BCL has no such API on Unix (FileInfo reports a FIFO, a socket and a device as ordinary
/// empty files), Mono.Unix needs a native library of its own and Tmds.LibC's struct stat is per architecture, so this
/// asks the runtime's own System.Native for the lstat it uses behind FileInfo: its FileStatus record starts with
/// two int32s, flags then st_mode, on every platform .NET runs on (src/native/libs/System.Native/pal_io.h).
/// </summary>
public static class FileKinds
{
    // The S_IFMT bits of st_mode: the same values on Linux and macOS, and the ones System.Native reports.
    private const int TypeMask = 0xF000, Fifo = 0x1000, CharacterDevice = 0x2000, Directory = 0x4000, BlockDevice = 0x6000,
        Regular = 0x8000, Symlink = 0xA000, Socket = 0xC000;

    public static FileKind Of(string path)
    {
        if (OperatingSystem.IsWindows())
            return File.Exists(path) ? FileKind.Regular : System.IO.Directory.Exists(path) ? FileKind.Directory : FileKind.Missing;
        // Room to spare: only the first 8 bytes are read, so a FileStatus that grows in a later runtime still fits.
        Span<byte> status = stackalloc byte[512];
        if (LStat(path, ref MemoryMarshal.GetReference(status)) != 0)
            return FileKind.Missing;
        return (BitConverter.ToInt32(status[4..8]) & TypeMask) switch
        {
            Regular => FileKind.Regular,
            Directory => FileKind.Directory,
            Symlink => FileKind.Symlink,
            Fifo => FileKind.Fifo,
            Socket => FileKind.Socket,
            CharacterDevice => FileKind.CharacterDevice,
            BlockDevice => FileKind.BlockDevice,
            _ => FileKind.Missing,
        };
    }

    /// <summary>A FIFO, socket or device: a file whose "contents" are not bytes on disk (reading one may block or never end).</summary>
    public static bool IsSpecial(FileKind kind) => kind is FileKind.Fifo or FileKind.Socket or FileKind.CharacterDevice or FileKind.BlockDevice;

    public static string Describe(FileKind kind) => kind switch
    {
        FileKind.Fifo => "a named pipe (FIFO)",
        FileKind.Socket => "a unix socket",
        FileKind.CharacterDevice => "a character device",
        FileKind.BlockDevice => "a block device",
        FileKind.Directory => "a folder",
        FileKind.Symlink => "a symbolic link",
        FileKind.Missing => "missing",
        _ => "a regular file",
    };

    [DllImport("libSystem.Native", EntryPoint = "SystemNative_LStat")]
    private static extern int LStat([MarshalAs(UnmanagedType.LPUTF8Str)] string path, ref byte status);
}
