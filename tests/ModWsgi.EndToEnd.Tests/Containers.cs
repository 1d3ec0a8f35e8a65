using System.Diagnostics;
using System.Net.Http;

namespace ModWsgi.EndToEnd.Tests;

/// <summary>A container started with the real docker CLI, force-removed on dispose.</summary>
public sealed class RunningContainer : IDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private RunningContainer(string id, int port)
    {
        Id = id;
        Port = port;
    }

    public string Id { get; }

    public int Port { get; }

    public static RunningContainer Start(string image, params string[] extraRunArgs) => Start(image, extraRunArgs, []);

    /// <summary>`docker run -d [runArgs] IMAGE [commandArgs]`, port 80 published on a free loopback port.</summary>
    public static RunningContainer Start(string image, string[] runArgs, string[] commandArgs, int containerPort = 80)
    {
        var args = new List<string> { "run", "-d", "-p", $"127.0.0.1::{containerPort}" };
        args.AddRange(runArgs);
        args.Add(image);
        args.AddRange(commandArgs);
        var id = Run.DockerOk(args.ToArray());
        var mapping = Run.DockerOk("port", id, $"{containerPort}/tcp").Split('\n')[0];
        return new RunningContainer(id, int.Parse(mapping[(mapping.LastIndexOf(':') + 1)..]));
    }

    /// <summary>GETs a path, retrying while Apache starts; returns status and body.</summary>
    public async Task<(int Status, string Body)> GetAsync(string path, TimeSpan? within = null)
    {
        var deadline = Stopwatch.StartNew();
        Exception? last = null;
        while (deadline.Elapsed < (within ?? TimeSpan.FromSeconds(20)))
        {
            try
            {
                using var response = await Http.GetAsync($"http://127.0.0.1:{Port}{path}");
                return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
            }
            catch (HttpRequestException ex)
            {
                last = ex;
                await Task.Delay(200);
            }
        }
        throw new TimeoutException($"No HTTP answer from container {Id[..12]} on port {Port}: {last?.Message}\nLogs:\n{Logs()}");
    }

    public string Logs() => Run.Docker("logs", Id).Output;

    public void Dispose() => Run.Docker("rm", "-f", Id);
}
