using System.Security.Cryptography;

namespace ModWsgi.EndToEnd.Tests;

/// <summary>
/// A PEP 503 "simple" index of wheels built by the test from small fixture packages, served by python3's
/// http.server on the Docker bridge gateway so build containers can reach it (PyPI is unreachable here).
/// </summary>
public sealed class PackageIndex : IDisposable
{
    private readonly TempDirectory _root;
    private readonly BridgeHttpServer _server;

    private PackageIndex(TempDirectory root, BridgeHttpServer server)
    {
        _root = root;
        _server = server;
    }

    public string Host => _server.Host;

    public int Port => _server.Port;

    public string Url => $"http://{Host}:{Port}/simple/";

    /// <summary>Builds one wheel per (name, version, module source) with pip inside the base image, then serves them.</summary>
    public static PackageIndex Create(params (string Name, string Version, string ModuleSource)[] packages)
    {
        var root = new TempDirectory("modwsgi-index");
        try
        {
            BuildWheels(root.Path, packages);
            WriteSimpleIndex(root.Path);
            return new PackageIndex(root, new BridgeHttpServer(root.Path));
        }
        catch
        {
            root.Dispose();
            throw;
        }
    }

    /// <summary>The sha256 of the wheel the index serves for name==version, computed from the file (for lock files the tests write).</summary>
    public string Sha256Of(string name, string version)
    {
        var wheel = Directory.GetFiles(Path.Combine(_root.Path, "wheels"), $"{name.Replace('-', '_')}-{version}-*.whl").Single();
        return Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(wheel)));
    }

    public void Dispose()
    {
        _server.Dispose();
        _root.Dispose();
    }

    private static void BuildWheels(string root, (string Name, string Version, string ModuleSource)[] packages)
    {
        foreach (var (name, version, module) in packages)
            FixturePackages.WriteSetuptoolsProject(Path.Combine(root, "src", name + "-" + version), name, version, module);
        // The base image's pip builds the wheels offline, with Debian's setuptools/wheel wheels (PIP_FIND_LINKS).
        Run.DockerOk("run", "--rm", "-v", $"{root}:/work", "modwsgi/base:bookworm", "bash", "-ec",
            "for p in /work/src/*; do /usr/bin/python3 -m pip wheel -q --no-deps --no-index -w /work/wheels \"$p\"; done; chmod -R a+rwX /work");
    }

    private static void WriteSimpleIndex(string root)
    {
        var simple = Path.Combine(root, "simple");
        Directory.CreateDirectory(simple);
        // One page per project, listing every version's wheel (with its sha256, as PyPI's pages do).
        var byProject = Directory.GetFiles(Path.Combine(root, "wheels"), "*.whl")
            .GroupBy(wheel => Path.GetFileName(wheel).Split('-')[0].ToLowerInvariant().Replace('_', '-'))
            .OrderBy(g => g.Key, StringComparer.Ordinal).ToArray();
        var names = byProject.Select(g => g.Key).ToList();
        foreach (var project in byProject)
        {
            var links = project.Order(StringComparer.Ordinal).Select(wheel =>
            {
                var file = Path.GetFileName(wheel);
                var sha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(wheel)));
                return $"<a href=\"../../wheels/{file}#sha256={sha}\">{file}</a>";
            });
            Directory.CreateDirectory(Path.Combine(simple, project.Key));
            File.WriteAllText(Path.Combine(simple, project.Key, "index.html"),
                $"<!DOCTYPE html><html><body>{string.Concat(links)}</body></html>");
        }
        File.WriteAllText(Path.Combine(simple, "index.html"),
            "<!DOCTYPE html><html><body>" + string.Concat(names.Select(n => $"<a href=\"{n}/\">{n}</a>")) + "</body></html>");
    }
}

public static class FixturePackages
{
    /// <summary>A minimal setuptools project: pyproject.toml + one module named like the package.</summary>
    public static void WriteSetuptoolsProject(string directory, string name, string version, string moduleSource)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "pyproject.toml"), $"""
            [build-system]
            requires = ["setuptools", "wheel"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "{name}"
            version = "{version}"

            [tool.setuptools]
            py-modules = ["{name}"]
            """);
        File.WriteAllText(Path.Combine(directory, name + ".py"), moduleSource);
    }
}
