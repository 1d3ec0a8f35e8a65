using ModWsgi.Core.Project;

namespace ModWsgi.Core.Layers;

/// <summary>What goes into the layers the SDK writes itself (no container needed).</summary>
public static class LayerSources
{
    public const string AppDirectory = "app";
    public const string RuntimeDirectory = "usr/local/bin";

    /// <summary>The project folder under <c>app/</c>, owned by root, modes as on disk (executable hooks stay executable) less setuid/setgid.</summary>
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
                await writer.AddDirectoryAsync(name, WithoutSetIdBits(info.UnixFileMode), 0, 0, cancellationToken).ConfigureAwait(false);
            else
            {
                await using var content = ((FileInfo)info).OpenRead();
                await writer.AddFileAsync(name, WithoutSetIdBits(info.UnixFileMode), 0, 0, content, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The setuid and setgid bits: a user's file that becomes a root-owned setuid program in the image is a way to root.</summary>
    public const UnixFileMode SetIdBits = UnixFileMode.SetUser | UnixFileMode.SetGroup;

    /// <summary>A project file's mode in the layer: as on disk, less <see cref="SetIdBits"/> (the plan warns, MODWSGI2075).</summary>
    public static UnixFileMode WithoutSetIdBits(UnixFileMode mode) => mode & ~SetIdBits;

    /// <summary>The application's data folder (/data): writable by the application, the place for a volume.</summary>
    public const string DataDirectory = "data";

    /// <summary>www-data, the user of Apache's children and the mod_wsgi daemons: uid and gid 33 in every Debian release (base-passwd).</summary>
    public const int WwwDataId = 33;

    /// <summary>
    /// Who owns /data: the user the application runs as. Unset (or root, or www-data), the container starts as root and
    /// the daemons run as www-data; a numeric ContainerUser (1001, 1001:1001) is that uid (its gid, else 0, Docker's
    /// group for a uid without a passwd entry). A user name other than root/www-data cannot be resolved without the
    /// image's passwd file, so /data stays www-data's and a volume of that user's should be mounted there.
    /// The group is 0 unless ContainerUser names one, and /data is group-writable (mode 0775): a container run as any
    /// uid in group 0 (OpenShift's random uid, <c>docker run --user 12345:0</c>) writes there too.
    /// </summary>
    public static (int Uid, int Gid) DataDirectoryOwner(string? containerUser)
    {
        var parts = (containerUser ?? "").Trim().Split(':', 2);
        if (parts[0].Length > 0 && parts[0] != "0" && int.TryParse(parts[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var uid))
            return (uid, parts.Length == 2 && int.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var gid) ? gid : 0);
        return (WwwDataId, 0);
    }

    /// <summary>The runtime layer: /data owned by the application's user (mode 0775), and the SDK's in-image scripts in
    /// /usr/local/bin, mode 0755.</summary>
    public static async Task WriteRuntimeAsync(LayerWriter writer, IEnumerable<string> scripts, (int Uid, int Gid) dataOwner, CancellationToken cancellationToken)
    {
        await writer.AddDirectoryAsync(DataDirectory, (UnixFileMode)0b111_111_101, dataOwner.Uid, dataOwner.Gid, cancellationToken).ConfigureAwait(false);
        foreach (var script in scripts.Order(StringComparer.Ordinal))
        {
            await using var content = File.OpenRead(script);
            await writer.AddFileAsync(RuntimeDirectory + "/" + Path.GetFileName(script), (UnixFileMode)0b111_101_101, 0, 0,
                content, cancellationToken).ConfigureAwait(false);
        }
    }
}
