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

    /// <summary>
    /// What `ps -eo COLUMNS` prints in the container (columns uid, user, comm, args, stat), read from /proc by the
    /// image's python3 (itself left out): the base image has no procps. A process without a command line (a zombie) shows as [comm].
    /// </summary>
    public static string Processes(string containerId, params string[] columns) =>
        Run.DockerOk(["exec", containerId, "python3", "-c", ProcessList, .. columns]);

    private const string ProcessList = """
        import os, pwd, sys
        for pid in sorted((p for p in os.listdir('/proc') if p.isdigit() and int(p) != os.getpid()), key=int):
            try:
                status = dict(l.split(':', 1) for l in open('/proc/%s/status' % pid).read().splitlines() if ':' in l)
                comm = open('/proc/%s/comm' % pid).read().strip()
                args = open('/proc/%s/cmdline' % pid, 'rb').read().rstrip(b'\0').replace(b'\0', b' ').replace(b'\n', b' ').decode(errors='replace')
            except OSError:
                continue
            uid = int(status['Uid'].split()[0])
            try:
                user = pwd.getpwuid(uid).pw_name
            except KeyError:
                user = str(uid)
            row = {'uid': str(uid), 'user': user, 'comm': comm, 'args': args or '[%s]' % comm, 'stat': status['State'].split()[0]}
            print(' '.join(row[c] for c in sys.argv[1:]))
        """;

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
