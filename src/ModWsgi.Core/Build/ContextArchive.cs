using System.Formats.Tar;

namespace ModWsgi.Core.Build;

/// <summary>
/// Tar streams the build container is fed with: the application folder (keeping modes and symlinks, so
/// executable hooks stay executable) and the SDK's runtime scripts.
/// </summary>
public static class ContextArchive
{
    // Never part of an image: VCS metadata, and pip's scratch --src folder from an earlier local run.
    private static readonly string[] AlwaysExcluded = [".git", ".hg", ".svn", ".docker/tmp"];

    /// <summary>Writes <paramref name="directory"/>'s contents under <paramref name="prefix"/>, owned by root.</summary>
    public static async Task WriteDirectoryAsync(Stream output, string directory, string prefix, CancellationToken cancellationToken)
    {
        await using var writer = new TarWriter(output, TarEntryFormat.Gnu, leaveOpen: true);
        await AddDirectoryAsync(writer, new DirectoryInfo(directory), "", prefix.TrimEnd('/'), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes each file as <c>destinationDirectory/name</c> with mode 0755.</summary>
    public static async Task WriteExecutablesAsync(Stream output, IEnumerable<string> files, string destinationDirectory, CancellationToken cancellationToken)
    {
        await using var writer = new TarWriter(output, TarEntryFormat.Gnu, leaveOpen: true);
        foreach (var file in files)
        {
            var entry = new GnuTarEntry(TarEntryType.RegularFile, destinationDirectory.Trim('/') + "/" + Path.GetFileName(file))
            {
                Mode = (UnixFileMode)0b111_101_101,
                ModificationTime = File.GetLastWriteTimeUtc(file),
            };
            await using var data = File.OpenRead(file);
            entry.DataStream = data;
            await writer.WriteEntryAsync(entry, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task AddDirectoryAsync(TarWriter writer, DirectoryInfo directory, string relative, string prefix, CancellationToken cancellationToken)
    {
        foreach (var info in directory.EnumerateFileSystemInfos().OrderBy(i => i.Name, StringComparer.Ordinal))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var relativePath = relative.Length == 0 ? info.Name : relative + "/" + info.Name;
            if (AlwaysExcluded.Contains(relativePath, StringComparer.Ordinal))
                continue;
            var name = prefix.Length == 0 ? relativePath : prefix + "/" + relativePath;
            if (info.LinkTarget is { } target)
            {
                await writer.WriteEntryAsync(new GnuTarEntry(TarEntryType.SymbolicLink, name)
                {
                    LinkName = target,
                    Mode = (UnixFileMode)0b111_111_111,
                    ModificationTime = info.LastWriteTimeUtc,
                }, cancellationToken).ConfigureAwait(false);
            }
            else if (info is DirectoryInfo sub)
            {
                await writer.WriteEntryAsync(new GnuTarEntry(TarEntryType.Directory, name + "/")
                {
                    Mode = sub.UnixFileMode,
                    ModificationTime = sub.LastWriteTimeUtc,
                }, cancellationToken).ConfigureAwait(false);
                await AddDirectoryAsync(writer, sub, relativePath, prefix, cancellationToken).ConfigureAwait(false);
            }
            else if (info is FileInfo file)
            {
                var entry = new GnuTarEntry(TarEntryType.RegularFile, name)
                {
                    Mode = file.UnixFileMode,
                    ModificationTime = file.LastWriteTimeUtc,
                };
                await using var data = file.OpenRead();
                entry.DataStream = data;
                await writer.WriteEntryAsync(entry, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
