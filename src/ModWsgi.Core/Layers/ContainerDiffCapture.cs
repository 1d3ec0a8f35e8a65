using System.Formats.Tar;
using System.Text;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Engine;

namespace ModWsgi.Core.Layers;

/// <summary>
/// Turns what a build container changed into a layer, without `docker commit` + `docker save` (which
/// streams the whole base image, 330 MB here): the engine's change list names the paths, `tar` inside the
/// container archives exactly those (keeping modes, owners, symlinks and hard links), and deletions become
/// whiteouts. Scratch paths (caches, apt lists, /tmp, pip's --src) never reach a layer.
/// </summary>
public static class ContainerDiffCapture
{
    private const string PathListFile = ".modwsgi-layer-paths";

    /// <summary>
    /// Files every engine puts into every container, not the build: Docker bind-mounts them, Podman creates
    /// them in the container's own layer, so its change list reports their folder (<c>C /etc</c>, nothing under it).
    /// Declared before <see cref="ExcludedRoots"/>, which reads it: static fields are set in textual order.
    /// </summary>
    private static readonly string[] EngineMadeFiles = ["etc/hostname", "etc/hosts", "etc/resolv.conf"];

    /// <summary>Folders of <see cref="EngineMadeFiles"/>: reported changed with no change below them, it is the engine's doing.</summary>
    private static readonly string[] EngineMadeFolders = [.. EngineMadeFiles.Select(Parent).Distinct(StringComparer.Ordinal)];

    /// <summary>Never part of a layer: runtime mounts, caches and scratch space.</summary>
    public static readonly IReadOnlyList<string> ExcludedRoots =
    [
        "dev", "proc", "sys", "run", "tmp", "var/tmp", "var/log", "root/.cache", "var/lib/apt/lists", "var/cache/apt",
        "var/cache/debconf/config.dat-old", "var/cache/debconf/templates.dat-old",
        .. EngineMadeFiles, "app/.docker/tmp", PathListFile,
        // ldconfig's own cache of the libraries' inode and mtime: every apt-get install rewrites it differently, and
        // ldconfig rebuilds what it needs from /etc/ld.so.cache, which is kept.
        "var/cache/ldconfig/aux-cache",
    ];

    public static async Task CaptureAsync(IContainerEngine engine, string containerId, LayerWriter writer,
        Func<string, bool> exclude, CancellationToken cancellationToken)
    {
        var changes = await engine.GetChangesAsync(containerId, cancellationToken).ConfigureAwait(false);
        var relevant = changes
            .Select(c => c with { Path = c.Path.TrimStart('/') })
            .ToArray();
        relevant = relevant
            .Where(c => c.Path.Length > 0 && !IsExcludedRoot(c.Path) && !exclude(c.Path) && !IsEngineMadeFolder(c, relevant))
            .ToArray();
        var kept = relevant.Where(c => c.Kind != ChangeKind.Deleted).Select(c => c.Path).Order(StringComparer.Ordinal).ToArray();
        var deleted = relevant.Where(c => c.Kind == ChangeKind.Deleted).Select(c => c.Path).ToHashSet(StringComparer.Ordinal);

        if (kept.Length > 0)
            await CopyPathsAsync(engine, containerId, kept, writer, cancellationToken).ConfigureAwait(false);

        // A deleted directory's children are deleted with it: one whiteout for the topmost path is enough.
        foreach (var path in deleted.Where(p => !deleted.Contains(Parent(p))).Order(StringComparer.Ordinal))
            await writer.AddWhiteoutAsync(path, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A folder of engine-made files that the change list reports as modified with nothing changed below it: the
    /// engine made its mount points there, the build did nothing. Left out on every engine, so Podman's layer is Docker's.
    /// </summary>
    private static bool IsEngineMadeFolder(FilesystemChange change, IReadOnlyList<FilesystemChange> all) =>
        change.Kind == ChangeKind.Modified && EngineMadeFolders.Contains(change.Path, StringComparer.Ordinal)
        && !all.Any(c => c.Path.StartsWith(change.Path + "/", StringComparison.Ordinal) && !IsExcludedRoot(c.Path));

    public static bool IsExcludedRoot(string path) =>
        ExcludedRoots.Any(root => path == root || path.StartsWith(root + "/", StringComparison.Ordinal));

    private static async Task CopyPathsAsync(IContainerEngine engine, string containerId, string[] paths, LayerWriter writer, CancellationToken cancellationToken)
    {
        // The path list travels as a file (NUL-separated: any byte but NUL may be in a name), not as arguments.
        using (var list = new MemoryStream())
        {
            await using (var tar = new TarWriter(list, TarEntryFormat.Gnu, leaveOpen: true))
            {
                var entry = new GnuTarEntry(TarEntryType.RegularFile, PathListFile) { Mode = (UnixFileMode)0b110_000_000 };
                entry.DataStream = new MemoryStream(Encoding.UTF8.GetBytes(string.Join('\0', paths) + "\0"));
                await tar.WriteEntryAsync(entry, cancellationToken).ConfigureAwait(false);
            }
            list.Position = 0;
            await engine.PutArchiveAsync(containerId, "/", list, cancellationToken).ConfigureAwait(false);
        }

        var spool = Path.Combine(Path.GetTempPath(), $"modwsgi-diff-{Guid.NewGuid():N}.tar");
        await using var stream = new FileStream(spool, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.DeleteOnClose);
        var errors = new List<string>();
        var exit = await engine.ExecToStreamAsync(containerId, new ExecSpec(
            ["tar", "--create", "--file=-", "--directory=/", "--no-recursion", "--numeric-owner", "--format=gnu",
             "--null", "--verbatim-files-from", "--files-from=/" + PathListFile]), stream, errors.Add, cancellationToken).ConfigureAwait(false);
        if (exit != 0)
            throw new ModWsgiException(DiagnosticCodes.EngineRequestFailed,
                $"Archiving the build container's changes failed (tar exit code {exit}): {string.Join(" ", errors.TakeLast(5))}");

        stream.Position = 0;
        await using var reader = new TarReader(stream);
        while (await reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false) is { } entry)
            await writer.AddEntryAsync(entry, entry.Name.TrimStart('/'), cancellationToken).ConfigureAwait(false);
    }

    private static string Parent(string path) => path.LastIndexOf('/') is var i and > 0 ? path[..i] : "";
}
