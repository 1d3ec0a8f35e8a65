namespace ModWsgi.Core.Project;

/// <summary>One file, directory or symlink of the project, by its '/'-separated project-relative path.</summary>
public sealed record ProjectFile(string RelativePath, FileSystemInfo Info)
{
    public bool IsDirectory => Info is DirectoryInfo && Info.LinkTarget is null;
}

/// <summary>
/// The application folder as the image sees it: sorted (ordinal, depth first) so layers are reproducible,
/// filtered by .dockerignore, and never VCS metadata or pip's scratch folder.
/// </summary>
public static class ProjectFiles
{
    public static readonly IReadOnlyList<string> AlwaysExcluded = [".git", ".hg", ".svn", ".docker/tmp"];

    /// <param name="include">Optional narrowing (the dependency step sees only its inputs). It must also accept
    /// the directories that lead to an included path: only accepted directories are entered.</param>
    public static IEnumerable<ProjectFile> Enumerate(string projectDirectory, DockerIgnore ignore, Func<string, bool>? include = null)
        => Walk(new DirectoryInfo(projectDirectory), "", ignore, include);

    private static IEnumerable<ProjectFile> Walk(DirectoryInfo directory, string relative, DockerIgnore ignore, Func<string, bool>? include)
    {
        foreach (var info in directory.EnumerateFileSystemInfos().OrderBy(i => i.Name, StringComparer.Ordinal))
        {
            var path = relative.Length == 0 ? info.Name : relative + "/" + info.Name;
            if (AlwaysExcluded.Contains(path, StringComparer.Ordinal))
                continue;
            var isDirectory = info is DirectoryInfo && info.LinkTarget is null;
            var excluded = ignore.IsExcluded(path);
            var included = include?.Invoke(path) ?? true;
            if (!excluded && included)
                yield return new ProjectFile(path, info);
            if (isDirectory && included && (!excluded || ignore.MayIncludeUnder(path)))
            {
                foreach (var child in Walk((DirectoryInfo)info, path, ignore, include))
                    yield return child;
            }
        }
    }
}
