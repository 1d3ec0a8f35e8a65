using ModWsgi.Core.Python;

namespace ModWsgi.EndToEnd.Tests;

/// <summary>
/// What sdk/ModWsgi.Sdk/baseimage/build-base-image.sh gives, read from the base images in the engine (eng/test.sh and
/// the lead build them with the recipe): small (issue 11: bookworm at most 250 MB, trixie no larger than bookworm),
/// one layer, no docs, man pages or locales beyond C.UTF-8, no apt lists, and dpkg filters that keep later apt-get
/// installs (a pre-build hook's) as slim. Sizes are the engine's uncompressed image size, as `docker images` shows it.
/// </summary>
public sealed class BaseImageRecipeTests
{
    /// <summary>Bytes (decimal MB, as docker prints them). bookworm measured 248.9 MB after the slimming (331 before);
    /// the limit leaves the room of a small init package (dumb-init, tini).</summary>
    private const long MaximumBookwormBytes = 250_000_000;

    public static TheoryData<string> Suites() => new(PythonBaseImages.All.Select(b => b.Suite));

    private static PythonBaseImage Image(string suite) => PythonBaseImages.All.Single(b => b.Suite == suite);

    [DockerTheory]
    [MemberData(nameof(Suites))]
    public void BaseImage_IsNoLargerThanTheTarget(string suite)
    {
        var image = Image(suite).Image;
        var size = long.Parse(Run.DockerOk("image", "inspect", "-f", "{{.Size}}", image));

        Assert.True(size <= MaximumBookwormBytes,
            $"{image} is {size / 1e6:F1} MB, more than the {MaximumBookwormBytes / 1e6:F0} MB of issue 11: check what grew with "
            + $"docker run --rm {image} dpkg-query -W --showformat='${{Installed-Size}} ${{Package}}\\n' | sort -n");
        // One layer: a file the recipe's apt-get upgrade replaced is not carried twice.
        Assert.Equal("1", Run.DockerOk("image", "inspect", "-f", "{{len .RootFS.Layers}}", image));
    }

    [DockerTheory]
    [MemberData(nameof(Suites))]
    public void BaseImage_HasNoDocsLocalesOrAptListsAndKeepsLaterInstallsSlim(string suite)
    {
        var image = Image(suite).Image;
        var report = Run.DockerOk("run", "--rm", "--entrypoint", "bash", image, "-c", """
            echo "doc: $(find /usr/share/doc -type f ! -name copyright | wc -l)"
            echo "man: $(find /usr/share/man /usr/share/info -type f 2>/dev/null | wc -l)"
            echo "locale: $(ls /usr/share/locale | grep -vxc locale.alias)"
            echo "lists: $(find /var/lib/apt/lists /var/cache/apt -type f 2>/dev/null | wc -l)"
            echo "filters: $(cat /etc/dpkg/dpkg.cfg.d/* | grep -c '^path-exclude=/usr/share/\(doc\|man\|locale\)/\*$')"
            echo "apache: $(/usr/sbin/apache2 -v | head -1 | cut -d' ' -f3 | cut -d/ -f1)"
            echo "wsgi: $(ls /usr/lib/apache2/modules/mod_wsgi.so)"
            echo "mime: $(grep -c '^text/css' /etc/mime.types)"
            echo "venv: $(/opt/venv/bin/python -c 'import sys; print(sys.prefix)')"
            echo "pip: $(pip --version | cut -d' ' -f1)"
            echo "setpriv: $(command -v setpriv)"
            echo end
            """);

        Assert.Contains("doc: 0\n", report);
        Assert.Contains("man: 0\n", report);
        Assert.Contains("locale: 0\n", report);
        Assert.Contains("lists: 0\n", report);
        Assert.Contains("filters: 3\n", report);
        // The same function: Apache, mod_wsgi, /etc/mime.types, the venv and its pip, setpriv for the deploy hook.
        Assert.Contains("apache: Apache\n", report);
        Assert.Contains("wsgi: /usr/lib/apache2/modules/mod_wsgi.so\n", report);
        Assert.Contains("mime: 1\n", report);
        Assert.Contains("venv: /opt/venv\n", report);
        Assert.Contains("pip: pip\n", report);
        Assert.Contains("setpriv: /usr/bin/setpriv\n", report);
    }
}
