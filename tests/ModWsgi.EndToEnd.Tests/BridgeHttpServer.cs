using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;

namespace ModWsgi.EndToEnd.Tests;

/// <summary>
/// python3's http.server serving a folder on the host's address on Docker's default bridge, which build
/// containers can reach (PyPI cannot be, so tests serve their own PEP 503 indexes). Stopped on dispose.
/// </summary>
public sealed class BridgeHttpServer : IDisposable
{
    private readonly Process _server;
    /// <summary>A container that keeps Podman's bridge up (it exists only while a container runs); null elsewhere.</summary>
    private readonly string? _bridgeAnchor;

    public BridgeHttpServer(string directory)
    {
        Host = BridgeGateway();
        Port = Ports.Free();
        _bridgeAnchor = KeepBridgeUp(Host);
        _server = Process.Start(new ProcessStartInfo("python3", ["-m", "http.server", Port.ToString(), "--bind", Host, "--directory", directory])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        _server.OutputDataReceived += (_, _) => { };
        _server.ErrorDataReceived += (_, _) => { };
        _server.BeginOutputReadLine();
        _server.BeginErrorReadLine();
        try
        {
            WaitForPort();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Host { get; }

    public int Port { get; }

    public void Dispose()
    {
        if (!_server.HasExited)
        {
            _server.Kill(entireProcessTree: true);
            _server.WaitForExit();
        }
        _server.Dispose();
        if (_bridgeAnchor is not null)
            Run.Docker("rm", "-f", _bridgeAnchor);
    }

    /// <summary>
    /// Podman creates its bridge (and the gateway address) when a container starts and removes it when the last one
    /// stops, so on Podman each server keeps a container that sleeps: one that found the address up only thanks to
    /// another test's container lost it when that test ended (CI saw http.server fail to bind). Returns its id.
    /// </summary>
    private static string? KeepBridgeUp(string gateway)
    {
        var podman = Environment.GetEnvironmentVariable("MODWSGI_TEST_IMAGE_STORE") == "podman";
        if (IsLocalAddress(gateway) && !podman)
            return null;
        var anchor = Run.DockerOk("run", "-d", "--rm", "--name", $"modwsgi-bridge-anchor-{Guid.NewGuid():N}"[..34], "modwsgi/base:bookworm", "sleep", "3600");
        for (var i = 0; i < 100 && !IsLocalAddress(gateway); i++)
            Thread.Sleep(100);
        return anchor;
    }

    private static bool IsLocalAddress(string address) =>
        System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Any(a => a.Address.ToString() == address);

    private static string BridgeGateway()
    {
        var ipam = JsonNode.Parse(Run.DockerOk("network", "inspect", "bridge", "-f", "{{json .IPAM.Config}}"))![0]!;
        if (ipam["Gateway"]?.GetValue<string>() is { Length: > 0 } gateway)
            return gateway;
        // Some engines (Debian's 20.10) leave Gateway empty: the bridge takes the subnet's first address.
        var network = IPAddress.Parse(ipam["Subnet"]!.GetValue<string>().Split('/')[0]).GetAddressBytes();
        network[3] += 1;
        return new IPAddress(network).ToString();
    }


    private void WaitForPort()
    {
        for (var i = 0; i < 100; i++)
        {
            try
            {
                using var client = new TcpClient(Host, Port);
                return;
            }
            catch (SocketException)
            {
                Thread.Sleep(100);
            }
        }
        throw new TimeoutException($"http.server did not start on {Host}:{Port}.");
    }
}
