namespace ModWsgi.Core.Python;

/// <summary>One base image the SDK's recipe builds (build-base-image.sh --suite SUITE): which Python it gives.</summary>
/// <param name="Suite">The Debian suite it is made from.</param>
/// <param name="PythonVersion">MAJOR.MINOR, what a project asks for.</param>
/// <param name="PythonRelease">Debian's Python release in that suite, what requires-python is matched against.</param>
/// <param name="ModWsgiVersion">Debian's libapache2-mod-wsgi-py3 in that suite.</param>
/// <param name="Image">The image name the recipe gives it.</param>
public sealed record PythonBaseImage(string Suite, string PythonVersion, string PythonRelease, string ModWsgiVersion, string Image)
{
    public override string ToString() => $"Python {PythonVersion} → {Image} (Debian {Suite}, Python {PythonRelease}, mod_wsgi {ModWsgiVersion})";
}

/// <summary>The base images that exist, by the Python they give.</summary>
public static class PythonBaseImages
{
    // Releases as Debian ships them (bookworm's python3 3.11.2, trixie's 3.13.5); Debian keeps a suite's minor
    // version for its lifetime, and only requires-python pins below the minor version look at the patch number.
    public static readonly PythonBaseImage Bookworm = new("bookworm", "3.11", "3.11.2", "4.9", "modwsgi/base:bookworm");
    public static readonly PythonBaseImage Trixie = new("trixie", "3.13", "3.13.5", "5.0", "modwsgi/base:trixie");

    /// <summary>Oldest first.</summary>
    public static IReadOnlyList<PythonBaseImage> All { get; } = [Bookworm, Trixie];

    /// <summary>When the project says nothing: the image every existing project was built on.</summary>
    public static PythonBaseImage Default => Bookworm;

    /// <summary>The base image of that name, or null for an image the SDK's recipe does not name.</summary>
    public static PythonBaseImage? ForImage(string image) =>
        All.FirstOrDefault(b => string.Equals(b.Image, image.Trim(), StringComparison.Ordinal)
                                || string.Equals("docker.io/" + b.Image, image.Trim(), StringComparison.Ordinal));

    /// <summary>"3.11 (modwsgi/base:bookworm), 3.13 (modwsgi/base:trixie)", for messages.</summary>
    public static string Listing() => string.Join(", ", All.Select(b => $"{b.PythonVersion} ({b.Image}, Debian {b.Suite})"));
}
