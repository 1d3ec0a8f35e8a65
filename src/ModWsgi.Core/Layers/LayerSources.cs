using ModWsgi.Core.Project;

namespace ModWsgi.Core.Layers;

/// <summary>What goes into the layers the SDK writes itself (no container needed).</summary>
public static class LayerSources
{
    public const string AppDirectory = "app";
    public const string RuntimeDirectory = "usr/local/bin";

    /// <summary>The project folder under <c>app/</c>, owned by root, modes as on disk (executable hooks stay executable).</summary>
    public static async Task WriteProjectAsync(LayerWriter writer, ProjectFiles project,
        Func<string, bool>? include, CancellationToken cancellationToken)
    {
        await writer.AddDirectoryAsync(AppDirectory, (UnixFileMode)0b111_101_101, 0, 0, cancellationToken).ConfigureAwait(false);
        foreach (var file in project.Enumerate(include))
        {
            var name = AppDirectory + "/" + file.RelativePath;
            var info = file.Info;
            if (info.LinkTarget is { } target)
                await writer.AddSymlinkAsync(name, target, 0, 0, cancellationToken).ConfigureAwait(false);
            else if (file.IsDirectory)
                await writer.AddDirectoryAsync(name, info.UnixFileMode, 0, 0, cancellationToken).ConfigureAwait(false);
            else
            {
                await using var content = ((FileInfo)info).OpenRead();
                await writer.AddFileAsync(name, info.UnixFileMode, 0, 0, content, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The SDK's in-image scripts in /usr/local/bin, mode 0755: the runtime layer.</summary>
    public static async Task WriteRuntimeAsync(LayerWriter writer, IEnumerable<string> scripts, CancellationToken cancellationToken)
    {
        foreach (var script in scripts.Order(StringComparer.Ordinal))
        {
            await using var content = File.OpenRead(script);
            await writer.AddFileAsync(RuntimeDirectory + "/" + Path.GetFileName(script), (UnixFileMode)0b111_101_101, 0, 0,
                content, cancellationToken).ConfigureAwait(false);
        }
    }
}
