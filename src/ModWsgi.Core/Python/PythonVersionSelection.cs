using System.Text.RegularExpressions;
using ModWsgi.Core.Diagnostics;
using Tomlyn;
using Tomlyn.Model;

namespace ModWsgi.Core.Python;

/// <summary>The base image a build uses and why: the Python the project asked for (and where), or an explicit base image.</summary>
/// <param name="BaseImage">The image the build starts from.</param>
/// <param name="Known">The SDK's base image of that name (null for another image given as ContainerBaseImage).</param>
/// <param name="Source">What decided: WsgiPythonVersion, .python-version, runtime.txt, pyproject.toml requires-python,
/// ContainerBaseImage, or "default".</param>
/// <param name="Asked">What the project asked for, as written (null when nothing asked).</param>
/// <param name="AskedFrom">Where it was asked (null when nothing asked); the same as Source unless ContainerBaseImage won.</param>
/// <param name="Warning">A ContainerBaseImage that contradicts the Python asked for (MODWSGI2027).</param>
public sealed record PythonChoice(string BaseImage, PythonBaseImage? Known, string Source, string? Asked, string? AskedFrom, string? Warning)
{
    /// <summary>The log line that says what decided, e.g. "Python 3.13 (.python-version: 3.13.1): base image modwsgi/base:trixie (...)".</summary>
    public string Describe()
    {
        var image = Known is { } known
            ? $"base image {BaseImage} (Debian {known.Suite}, Python {known.PythonRelease}, mod_wsgi {known.ModWsgiVersion})"
            : $"base image {BaseImage}";
        return Source switch
        {
            PythonVersionSelection.DefaultSource => $"Python {Known!.PythonVersion} (the default: no WsgiPythonVersion, .python-version, runtime.txt or requires-python): {image}",
            PythonVersionSelection.BaseImageSource when Asked is null => $"{image}, from ContainerBaseImage",
            PythonVersionSelection.BaseImageSource => $"{image}, from ContainerBaseImage (the project asks for Python {Asked} in {AskedFrom})",
            _ => $"Python {Known!.PythonVersion} ({Source}: {Asked}): {image}",
        };
    }
}

/// <summary>
/// Chooses the base image from the Python version the project asks for. Precedence, highest first: the
/// WsgiPythonVersion property, .python-version (pyenv's, also uv's: one version a line, the first the SDK provides
/// wins), runtime.txt (Heroku's python-3.13.1), pyproject.toml's [project] requires-python (a PEP 440 specifier set:
/// the default base image when it satisfies it, else the newest that does), else the default (bookworm, 3.11).
/// An explicit ContainerBaseImage wins over all of them (with a warning when it is an SDK base image giving
/// another Python). A version no base image provides is MODWSGI2026, listing those that exist.
/// </summary>
public static class PythonVersionSelection
{
    public const string PropertySource = "WsgiPythonVersion";
    public const string PythonVersionFile = ".python-version";
    public const string RuntimeTxt = "runtime.txt";
    public const string RequiresPythonSource = "pyproject.toml requires-python";
    public const string BaseImageSource = "ContainerBaseImage";
    public const string DefaultSource = "default";

    // 3, 3.13 or 3.13.1; uv also writes cpython-3.13.1 (its implementation prefix).
    private static readonly Regex Version = new(@"^(?:cpython-)?(?<release>\d+(?:\.\d+){0,2})$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase);
    private static readonly Regex HerokuRuntime = new(@"^python-(?<release>\d+\.\d+(?:\.\d+)?)$", RegexOptions.CultureInvariant);

    /// <summary>What asked for a Python, and the base images that give it, preferred first (empty: none does).</summary>
    private sealed record Ask(string Source, string Text, IReadOnlyList<PythonBaseImage> Candidates);

    public static PythonChoice Select(string projectDirectory, string? pythonVersionProperty, string? containerBaseImage)
    {
        var ask = FromProperty(pythonVersionProperty) ?? FromPythonVersionFile(projectDirectory)
            ?? FromRuntimeTxt(projectDirectory) ?? FromRequiresPython(projectDirectory);

        if (!string.IsNullOrWhiteSpace(containerBaseImage))
        {
            var image = containerBaseImage.Trim();
            var known = PythonBaseImages.ForImage(image);
            string? warning = null;
            if (ask is not null && known is not null && !ask.Candidates.Contains(known))
                warning = $"ContainerBaseImage '{image}' gives Python {known.PythonVersion}, but {ask.Source} asks for '{ask.Text}'"
                    + (ask.Candidates.Count > 0 ? $" ({ask.Candidates[0].Image} gives that)" : "")
                    + $": the build uses {image} as set. Remove ContainerBaseImage to follow {ask.Source}, or change {ask.Source}.";
            return new PythonChoice(image, known, BaseImageSource, ask?.Text, ask?.Source, warning);
        }
        if (ask is null)
            return new PythonChoice(PythonBaseImages.Default.Image, PythonBaseImages.Default, DefaultSource, null, null, null);
        if (ask.Candidates.Count == 0)
            throw new ModWsgiException(DiagnosticCodes.PythonVersionUnavailable,
                $"{ask.Source} asks for Python '{ask.Text}', which no ModWsgi base image provides. The base images are: "
                + $"{PythonBaseImages.Listing()}. Ask for one of those versions, or set ContainerBaseImage to an image of your own.");
        var chosen = ask.Candidates[0];
        return new PythonChoice(chosen.Image, chosen, ask.Source, ask.Text, ask.Source, null);
    }

    private static Ask? FromProperty(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
            return null;
        var value = text.Trim();
        return ParseVersion(value) is { } release
            ? new Ask(PropertySource, value, ForRelease(release))
            : throw Malformed($"WsgiPythonVersion '{value}' is not a Python version: set it to MAJOR.MINOR, e.g. <WsgiPythonVersion>3.13</WsgiPythonVersion> (base images: {PythonBaseImages.Listing()}).");
    }

    private static Ask? FromPythonVersionFile(string projectDirectory)
    {
        var path = Path.Combine(projectDirectory, PythonVersionFile);
        if (!File.Exists(path))
            return null;
        var lines = File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToArray();
        // pyenv puts every line's version on PATH, the first as `python`; lines naming other implementations
        // (pypy3.10, system) or builds (3.13t) cannot be a base image and are passed over.
        var versions = lines.Select(l => (Line: l, Release: ParseVersion(l))).Where(v => v.Release is not null).ToArray();
        if (versions.Length == 0)
            throw Malformed($"{PythonVersionFile} names no CPython version ({(lines.Length == 0 ? "it is empty" : $"'{string.Join("', '", lines)}'")}): "
                + $"write one like 3.13 (pyenv's format; base images: {PythonBaseImages.Listing()}), or delete the file.");
        foreach (var (line, release) in versions)
            if (ForRelease(release!) is { Count: > 0 } candidates)
                return new Ask(PythonVersionFile, line, candidates);
        return new Ask(PythonVersionFile, string.Join(", ", versions.Select(v => v.Line)), []);
    }

    private static Ask? FromRuntimeTxt(string projectDirectory)
    {
        var path = Path.Combine(projectDirectory, RuntimeTxt);
        if (!File.Exists(path))
            return null;
        var text = File.ReadAllText(path).Trim();
        var match = HerokuRuntime.Match(text);
        return match.Success
            ? new Ask(RuntimeTxt, text, ForRelease(ParseVersion(match.Groups["release"].Value)!))
            : throw Malformed($"{RuntimeTxt} says '{text}', which is not python-MAJOR.MINOR[.PATCH] (Heroku's format, e.g. python-3.13.1): fix it, or delete the file.");
    }

    private static Ask? FromRequiresPython(string projectDirectory)
    {
        var path = Path.Combine(projectDirectory, "pyproject.toml");
        if (!File.Exists(path))
            return null;
        TomlTable document;
        try
        {
            document = TomlSerializer.Deserialize<TomlTable>(File.ReadAllText(path))!;
        }
        catch (TomlException ex)
        {
            throw new ModWsgiException(DiagnosticCodes.PyprojectUnreadable,
                $"pyproject.toml is not valid TOML: {FirstLine(ex.Message)}. Fix the file (pip cannot read it either).", ex);
        }
        if (!document.TryGetValue("project", out var project) || project is not TomlTable table
            || !table.TryGetValue("requires-python", out var requires))
            return null;
        if (requires is not string text || string.IsNullOrWhiteSpace(text))
            throw Malformed("pyproject.toml's [project] requires-python is not a string of version specifiers: write e.g. requires-python = \">=3.11\".");
        if (!PythonSpecifier.TryParse(text, out var specifier, out var problem))
            throw Malformed($"pyproject.toml's requires-python '{text}' is not a PEP 440 specifier set ({problem}): write e.g. \">=3.11\", \"~=3.13\" or \">=3.10,<3.14\".");
        var satisfying = PythonBaseImages.All.Where(b => specifier.IsSatisfiedBy(b.PythonRelease)).ToList();
        // The default first, so a project that admits it keeps the image it has been built on; else the newest.
        var candidates = satisfying.Contains(PythonBaseImages.Default)
            ? [PythonBaseImages.Default]
            : satisfying.AsEnumerable().Reverse().ToList();
        return new Ask(RequiresPythonSource, specifier.Text, candidates);
    }

    /// <summary>The base images giving that MAJOR.MINOR (a patch number is Debian's to choose); "3" alone is too vague for one.</summary>
    private static List<PythonBaseImage> ForRelease(int[] release) =>
        release.Length < 2 ? [] : PythonBaseImages.All.Where(b => b.PythonVersion == $"{release[0]}.{release[1]}").ToList();

    private static int[]? ParseVersion(string text)
    {
        var match = Version.Match(text.Trim());
        return match.Success && PythonSpecifier.TryParseRelease(match.Groups["release"].Value, out var release) ? release : null;
    }

    private static ModWsgiException Malformed(string message) => new(DiagnosticCodes.PythonVersionInvalid, message);

    private static string FirstLine(string text) => text.Split('\n')[0].Trim().TrimEnd('.');
}
