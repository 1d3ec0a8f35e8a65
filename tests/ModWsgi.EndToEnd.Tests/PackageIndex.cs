using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace ModWsgi.EndToEnd.Tests;

/// <summary>
/// A PEP 503 "simple" index of wheels built by the test from small fixture packages, served by python3's
/// http.server on the Docker bridge gateway so build containers can reach it (PyPI is unreachable here).
/// </summary>
public sealed class PackageIndex : IDisposable
{
    private readonly TempDirectory _root;
    private readonly Process _server;

    private PackageIndex(TempDirectory root, string host, int port, Process server)
    {
        _root = root;
        Host = host;
        Port = port;
        _server = server;
    }

    public string Host { get; }

    public int Port { get; }

    public string Url => $"http://{Host}:{Port}/simple/";

    /// <summary>Builds one wheel per (name, version, module source) with pip inside the base image, then serves them.</summary>
    public static PackageIndex Create(params (string Name, string Version, string ModuleSource)[] packages)
    {
        var root = new TempDirectory("modwsgi-index");
        try
        {
            BuildWheels(root.Path, packages);
            WriteSimpleIndex(root.Path);
            var host = BridgeGateway();
            var port = FreePort();
            var server = Process.Start(new ProcessStartInfo("python3", ["-m", "http.server", port.ToString(), "--bind", host, "--directory", root.Path])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            })!;
            server.OutputDataReceived += (_, _) => { };
            server.ErrorDataReceived += (_, _) => { };
            server.BeginOutputReadLine();
            server.BeginErrorReadLine();
            var index = new PackageIndex(root, host, port, server);
            WaitForPort(host, port);
            return index;
        }
        catch
        {
            root.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        if (!_server.HasExited)
        {
            _server.Kill(entireProcessTree: true);
            _server.WaitForExit();
        }
        _server.Dispose();
        _root.Dispose();
    }

    private static void BuildWheels(string root, (string Name, string Version, string ModuleSource)[] packages)
    {
        foreach (var (name, version, module) in packages)
            FixturePackages.WriteSetuptoolsProject(Path.Combine(root, "src", name), name, version, module);
        // The base image's pip builds the wheels offline, with Debian's setuptools/wheel wheels (PIP_FIND_LINKS).
        Run.DockerOk("run", "--rm", "-v", $"{root}:/work", "modwsgi/base:bookworm", "bash", "-ec",
            "for p in /work/src/*; do /usr/bin/python3 -m pip wheel -q --no-deps --no-index -w /work/wheels \"$p\"; done; chmod -R a+rwX /work");
    }

    private static void WriteSimpleIndex(string root)
    {
        var simple = Path.Combine(root, "simple");
        Directory.CreateDirectory(simple);
        var names = new List<string>();
        foreach (var wheel in Directory.GetFiles(Path.Combine(root, "wheels"), "*.whl"))
        {
            var file = Path.GetFileName(wheel);
            var project = file.Split('-')[0].ToLowerInvariant().Replace('_', '-');
            names.Add(project);
            var sha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(wheel)));
            Directory.CreateDirectory(Path.Combine(simple, project));
            File.WriteAllText(Path.Combine(simple, project, "index.html"),
                $"<!DOCTYPE html><html><body><a href=\"../../wheels/{file}#sha256={sha}\">{file}</a></body></html>");
        }
        File.WriteAllText(Path.Combine(simple, "index.html"),
            "<!DOCTYPE html><html><body>" + string.Concat(names.Select(n => $"<a href=\"{n}/\">{n}</a>")) + "</body></html>");
    }

    /// <summary>The host's address on Docker's default bridge, which build containers can reach.</summary>
    private static string BridgeGateway()
    {
        var ipam = System.Text.Json.Nodes.JsonNode.Parse(Run.DockerOk("network", "inspect", "bridge", "-f", "{{json .IPAM.Config}}"))![0]!;
        if (ipam["Gateway"]?.GetValue<string>() is { Length: > 0 } gateway)
            return gateway;
        // Some engines (Debian's 20.10) leave Gateway empty: the bridge takes the subnet's first address.
        var network = System.Net.IPAddress.Parse(ipam["Subnet"]!.GetValue<string>().Split('/')[0]).GetAddressBytes();
        network[3] += 1;
        return new System.Net.IPAddress(network).ToString();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static void WaitForPort(string host, int port)
    {
        for (var i = 0; i < 100; i++)
        {
            try
            {
                using var client = new TcpClient(host, port);
                return;
            }
            catch (SocketException)
            {
                Thread.Sleep(100);
            }
        }
        throw new TimeoutException($"The package index did not start on {host}:{port}.");
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
