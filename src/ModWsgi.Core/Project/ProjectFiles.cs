using ModWsgi.Core.Diagnostics;

namespace ModWsgi.Core.Project;

/// <summary>One file, directory or symlink of the project, by its '/'-separated project-relative path.</summary>
public sealed record ProjectFile(string RelativePath, FileSystemInfo Info)
{
    public bool IsDirectory => Info is DirectoryInfo && Info.LinkTarget is null;
}

/// <summary>
/// The application folder as the image sees it: sorted (ordinal, depth first) so layers are reproducible,
/// filtered by .dockerignore, and never a path <see cref="AlwaysExcluded"/> names or this build's archive output.
/// Every walk of the folder for the image goes through <see cref="Enumerate"/>: the application layer, the
/// dependency step's inputs and cache key, and the publish fingerprint.
/// </summary>
public sealed class ProjectFiles
{
    // Project-relative, '/'-separated: this build's archive output when it lies inside the folder.
    private readonly string? _archive;

    private ProjectFiles(string directory, DockerIgnore ignore, string? archive)
    {
        Directory = directory;
        Ignore = ignore;
        _archive = archive;
    }

    public string Directory { get; }

    public DockerIgnore Ignore { get; }

    /// <summary>The folder with its .dockerignore, leaving out <paramref name="archiveTargetPath"/> (and its
    /// temp files) when that lies inside it.</summary>
    public static ProjectFiles Load(string projectDirectory, string? archiveTargetPath = null) =>
        new(projectDirectory, DockerIgnore.Load(projectDirectory), InsideFolder(projectDirectory, archiveTargetPath));

    /// <summary>The folder as this build sees it: its .dockerignore and its archive output.</summary>
    public static ProjectFiles For(ImageBuildOptions options) => Load(options.ProjectDirectory, options.ArchiveTargetPath());

    /// <summary>Whether the image never holds this path, whatever .dockerignore says: one <see cref="AlwaysExcluded"/>
    /// names, or this build's archive output and the temp files written beside it.</summary>
    public bool IsAlwaysExcluded(string relativePath) =>
        AlwaysExcluded.Matches(relativePath)
        || (_archive is { } archive && (relativePath == archive
            || relativePath.StartsWith(archive + ImageBuildOptions.ArchiveTempSuffix, StringComparison.Ordinal)));

    /// <param name="include">Optional narrowing (the dependency step sees only its inputs). It must also accept
    /// the directories that lead to an included path: only accepted directories are entered.</param>
    /// <remarks>FIFOs, sockets and devices are never part of the image (the overload with a callback reports them); a name
    /// that is not UTF-8 and not left out by .dockerignore is refused (MODWSGI2071).</remarks>
    public IEnumerable<ProjectFile> Enumerate(Func<string, bool>? include = null) => Walk(new DirectoryInfo(Directory), "", include, null);

    /// <summary><see cref="Enumerate"/> that also reports each FIFO, socket and device it leaves out (a dev server's socket,
    /// a pipe) to <paramref name="skipped"/>, for the build's warning.</summary>
    public IEnumerable<ProjectFile> Enumerate(Action<string, FileKind> skipped) => Walk(new DirectoryInfo(Directory), "", null, skipped);

    private IEnumerable<ProjectFile> Walk(DirectoryInfo directory, string relative, Func<string, bool>? include, Action<string, FileKind>? skipped)
    {
        foreach (var info in directory.EnumerateFileSystemInfos().OrderBy(i => i.Name, StringComparer.Ordinal))
        {
            var path = relative.Length == 0 ? info.Name : relative + "/" + info.Name;
            // Before .dockerignore, so no '!' exception brings one back; an excluded directory is not entered.
            if (IsAlwaysExcluded(path))
                continue;
            var isDirectory = info is DirectoryInfo && info.LinkTarget is null;
            var excluded = Ignore.IsExcluded(path);
            var included = include?.Invoke(path) ?? true;
            if (!excluded && included)
            {
                RefuseUndecodableName(info, path);
                // Reading a FIFO blocks until a writer comes, a device may never end, a socket cannot be read: none of them
                // is a file of the app. A regular file with bytes in it needs no second look.
                if (info is FileInfo { LinkTarget: null } file && file.Length == 0 && FileKinds.Of(file.FullName) is var kind && FileKinds.IsSpecial(kind))
                {
                    skipped?.Invoke(path, kind);
                    continue;
                }
                yield return new ProjectFile(path, info);
            }
            if (isDirectory && included && (!excluded || Ignore.MayIncludeUnder(path)))
            {
                foreach (var child in Walk((DirectoryInfo)info, path, include, skipped))
                    yield return child;
            }
        }
    }

    /// <summary>
    /// .NET decodes a name that is not UTF-8 with U+FFFD in place of the bad bytes, and that name then names no file: the
    /// layer could not hold it, and tar headers and the OCI layout want UTF-8 anyway.
    /// </summary>
    private void RefuseUndecodableName(FileSystemInfo info, string path)
    {
        if (!info.Name.Contains('\uFFFD', StringComparison.Ordinal) || FileKinds.Of(info.FullName) != FileKind.Missing)
            return;
        throw new ModWsgiException(DiagnosticCodes.FileNameNotUtf8,
            $"The name of '{path}' in '{Directory}' is not valid UTF-8 (the bad bytes are shown as \uFFFD), so it cannot go into "
            + "the image: rename it, e.g. with 'convmv -f latin1 -t utf8 --notest', or leave it out with a .dockerignore line.");
    }

    private static string? InsideFolder(string projectDirectory, string? path)
    {
        if (string.IsNullOrEmpty(path))
            return null;
        var relative = Path.GetRelativePath(Path.GetFullPath(projectDirectory), Path.GetFullPath(path)).Replace('\\', '/');
        return relative == "." || relative == ".." || relative.StartsWith("../", StringComparison.Ordinal) || Path.IsPathRooted(relative)
            ? null
            : relative;
    }
}

/// <summary>
/// The one rule of what in a project folder is never part of the image, whatever .dockerignore says (a
/// <c>!</c> exception cannot bring it back): version-control metadata, pip's scratch folder, and the build's own
/// files, which may hold secrets (a <c>WsgiPipIndexUrl</c> with credentials in the <c>.proj</c>, every
/// <c>-p:</c> value in a <c>-bl</c> binlog, feed credentials in nuget.config) and which the running app never reads.
/// </summary>
public static class AlwaysExcluded
{
    /// <summary>Paths at the folder's root only: a Python package may well have its own <c>bin/</c> further down.</summary>
    private static readonly string[] RootPaths = [".git", ".hg", ".svn", ".docker/tmp", "bin", "obj"];

    /// <summary>File names left out at any depth, case-insensitively (NuGet reads NuGet.Config in any case).</summary>
    private static readonly string[] FileNames =
        ["nuget.config", "Directory.Build.props", "Directory.Build.targets", "Directory.Build.rsp", "Directory.Packages.props"];

    /// <summary>The rule as the README and the template's .dockerignore list it (a test holds them to it).</summary>
    public static readonly IReadOnlyList<string> Listed =
    [
        "/.git", "/.hg", "/.svn", "/.docker/tmp", "/bin/", "/obj/", "*.*proj", "*.binlog", .. FileNames,
        "ContainerArchiveOutputPath", ImageBuildOptions.ArchiveTempSuffix + "*",
    ];

    /// <summary>Whether the fixed rule covers this '/'-separated project-relative path itself (not its ancestors).</summary>
    public static bool Matches(string relativePath)
    {
        if (RootPaths.Contains(relativePath, StringComparer.Ordinal))
            return true;
        var name = relativePath[(relativePath.LastIndexOf('/') + 1)..];
        var extension = Path.GetExtension(name);
        return FileNames.Contains(name, StringComparer.OrdinalIgnoreCase)
            || extension.Equals(".binlog", StringComparison.OrdinalIgnoreCase)
            // .proj, .csproj, .fsproj, .vbproj, .pyproj, .msbuildproj, ...: every MSBuild project file.
            || (extension.Length >= ".proj".Length && extension.EndsWith("proj", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>The path itself or the nearest ancestor the rule covers (<c>bin</c> for <c>bin/reqs.txt</c>), else null.</summary>
    public static string? Covering(string relativePath)
    {
        for (var slash = relativePath.IndexOf('/'); slash >= 0; slash = relativePath.IndexOf('/', slash + 1))
        {
            if (Matches(relativePath[..slash]))
                return relativePath[..slash];
        }
        return Matches(relativePath) ? relativePath : null;
    }
}
