using System.Text.RegularExpressions;

namespace ModWsgi.EndToEnd.Tests;

/// <summary>
/// A PEP 503 index of real projects (Django, Flask, gunicorn, waitress, their dependencies, setuptools and
/// wheel) built by eng/build-package-index.sh from one Debian suite's packages, the suite of the base image the
/// build uses: bookworm (Python 3.11, Django 3.2) into artifacts/package-index, trixie (Python 3.13, Django 4.2)
/// into artifacts/package-index-trixie; once per test run and suite (the script itself is skipped when its stamp
/// is current), and served by python3's http.server on the Docker bridge gateway so build containers can reach it.
/// Usable as a class fixture or with <c>using var index = new RealPackageIndex();</c>; pin versions with
/// <see cref="VersionOf"/>.
/// </summary>
public sealed class RealPackageIndex : IDisposable
{
    private static readonly Dictionary<string, Lazy<string>> Built = new()
    {
        ["bookworm"] = new(() => Build("bookworm"), LazyThreadSafetyMode.ExecutionAndPublication),
        ["trixie"] = new(() => Build("trixie"), LazyThreadSafetyMode.ExecutionAndPublication),
    };

    private readonly BridgeHttpServer _server;

    /// <param name="suite">The Debian suite of the base image the build uses: bookworm or trixie.</param>
    public RealPackageIndex(string suite = "bookworm")
    {
        if (!Built.TryGetValue(suite, out var built))
            throw new ArgumentException($"No package index for suite '{suite}' (bookworm or trixie).", nameof(suite));
        Suite = suite;
        Directory = built.Value;
        _server = new BridgeHttpServer(Directory);
    }

    public string Suite { get; }

    /// <summary>The folder holding wheels/ and simple/ (artifacts/package-index[-trixie]).</summary>
    public string Directory { get; }

    public string Host => _server.Host;

    public int Port => _server.Port;

    /// <summary>The index URL for pip's --index-url; pip also needs --trusted-host <see cref="Host"/> (plain HTTP).</summary>
    public string Url => $"http://{Host}:{Port}/simple/";

    /// <summary>The version of a project's wheel in the index, e.g. VersionOf("django") = "3.2.25", for pins like Django==3.2.25.</summary>
    public string VersionOf(string project)
    {
        var wanted = Normalize(project);
        var versions = System.IO.Directory.GetFiles(Path.Combine(Directory, "wheels"), "*.whl")
            .Select(file => Path.GetFileName(file).Split('-'))
            .Where(parts => parts.Length >= 5 && Normalize(parts[0]) == wanted)
            .Select(parts => parts[1])
            .ToList();
        if (versions.Count == 0)
            throw new ArgumentException($"No wheel of '{project}' in {Directory}/wheels.", nameof(project));
        return versions.OrderBy(v => v, Comparer<string>.Create(CompareVersions)).Last();
    }

    /// <summary>The sha256 (hex) of the wheel of <see cref="VersionOf"/>(project), for locks the tests write (never committed).</summary>
    public string Sha256Of(string project)
    {
        var version = VersionOf(project);
        var wheel = System.IO.Directory.GetFiles(Path.Combine(Directory, "wheels"), "*.whl")
            .Single(file => Path.GetFileName(file).Split('-') is var parts && Normalize(parts[0]) == Normalize(project) && parts[1] == version);
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(wheel)));
    }

    public void Dispose() => _server.Dispose();

    private static string Build(string suite)
    {
        var repo = RepositoryRootAttribute.Get();
        var output = Path.Combine(repo, "artifacts", suite == "bookworm" ? "package-index" : "package-index-" + suite);
        var result = Run.Process(Path.Combine(repo, "eng", "build-package-index.sh"), ["--suite", suite, output], timeout: TimeSpan.FromMinutes(10));
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"eng/build-package-index.sh --suite {suite} {output} failed ({result.ExitCode}):\n{result.Output}");
        return output;
    }

    /// <summary>PEP 503: lowercase, runs of '-', '_' and '.' become one '-'.</summary>
    private static string Normalize(string name) => Regex.Replace(name, "[-_.]+", "-").ToLowerInvariant();

    private static int CompareVersions(string a, string b)
    {
        var x = a.Split('.');
        var y = b.Split('.');
        for (var i = 0; i < Math.Max(x.Length, y.Length); i++)
        {
            var p = i < x.Length ? x[i] : "0";
            var q = i < y.Length ? y[i] : "0";
            var order = int.TryParse(p, out var m) && int.TryParse(q, out var n) ? m.CompareTo(n) : string.CompareOrdinal(p, q);
            if (order != 0)
                return order;
        }
        return 0;
    }
}
