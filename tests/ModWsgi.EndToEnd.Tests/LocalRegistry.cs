using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace ModWsgi.EndToEnd.Tests;

/// <summary>
/// Debian's docker-registry (distribution 2.8) on 127.0.0.1:&lt;free port&gt; with htpasswd (bcrypt) auth and
/// storage in a temp folder. Its output, including the access log, goes to <see cref="LogPath"/>. The docker CLI
/// runs against it with a private DOCKER_CONFIG, so `docker login` never touches the real ~/.docker.
/// Docker treats 127.0.0.0/8 as an insecure registry, so plain HTTP needs no daemon configuration.
/// </summary>
public sealed partial class LocalRegistry : IDisposable
{
    private readonly TempDirectory _root;
    private readonly Process _server;
    private readonly StreamWriter _log;

    private LocalRegistry(TempDirectory root, string host, string username, string password, Process server, StreamWriter log)
    {
        _root = root;
        Host = host;
        Username = username;
        Password = password;
        _server = server;
        _log = log;
    }

    /// <summary>"127.0.0.1:port", as image references and `docker login` spell it.</summary>
    public string Host { get; }

    public string Username { get; }

    public string Password { get; }

    public string LogPath => Path.Combine(_root.Path, "registry.log");

    public string DockerConfigDirectory => Path.Combine(_root.Path, "docker-config");

    public static LocalRegistry Start()
    {
        var root = new TempDirectory("modwsgi-registry");
        LocalRegistry registry;
        try
        {
            var username = "modwsgi";
            var password = "pw-" + Guid.NewGuid().ToString("N");
            var htpasswd = Run.Process("htpasswd", ["-Bbn", username, password]);
            if (htpasswd.ExitCode != 0)
                throw new InvalidOperationException($"htpasswd failed ({htpasswd.ExitCode}): {htpasswd.StdErr}");
            root.Write("htpasswd", htpasswd.StdOut);
            Directory.CreateDirectory(Path.Combine(root.Path, "docker-config"));
            var host = $"127.0.0.1:{Ports.Free()}";
            var config = root.Write("config.yml", $"""
                version: 0.1
                log:
                  level: info
                storage:
                  filesystem:
                    rootdirectory: {Path.Combine(root.Path, "data")}
                  delete:
                    enabled: true
                http:
                  addr: {host}
                auth:
                  htpasswd:
                    realm: modwsgi-e2e
                    path: {Path.Combine(root.Path, "htpasswd")}
                """);

            var log = new StreamWriter(new FileStream(Path.Combine(root.Path, "registry.log"), FileMode.Create, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
            var server = Process.Start(new ProcessStartInfo("docker-registry", ["serve", config])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            })!;
            // The access log goes to stdout, the application log to stderr: one file keeps their order.
            DataReceivedEventHandler append = (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
            server.OutputDataReceived += append;
            server.ErrorDataReceived += append;
            server.BeginOutputReadLine();
            server.BeginErrorReadLine();
            registry = new LocalRegistry(root, host, username, password, server, log);
        }
        catch
        {
            root.Dispose();
            throw;
        }
        try
        {
            registry.WaitUntilServing();
            return registry;
        }
        catch
        {
            registry.Dispose();
            throw;
        }
    }

    /// <summary>Access-log lines whose method is <paramref name="method"/> and whose path (with query) fully matches <paramref name="pathPattern"/>.</summary>
    public int CountRequests(string method, string pathPattern)
    {
        var path = new Regex("^(?:" + pathPattern + ")$");
        return ReadLog().Split('\n')
            .Select(line => AccessLogLine().Match(line))
            .Count(m => m.Success && m.Groups["method"].Value == method && path.IsMatch(m.Groups["path"].Value));
    }

    /// <summary>Waits until the access log holds <paramref name="count"/> matching lines (a line is written just after its response).</summary>
    public int WaitForRequests(string method, string pathPattern, int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        int seen;
        while ((seen = CountRequests(method, pathPattern)) < count && DateTime.UtcNow < deadline)
            Thread.Sleep(50);
        return seen;
    }

    public string ReadLog()
    {
        using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return new StreamReader(stream).ReadToEnd();
    }

    /// <summary>Runs the docker CLI with this registry's private DOCKER_CONFIG.</summary>
    public ProcessResult Docker(string[] args, string? stdin = null) =>
        Run.Process("docker", args, env: new Dictionary<string, string?> { ["DOCKER_CONFIG"] = DockerConfigDirectory }, stdin: stdin);

    public string DockerOk(params string[] args)
    {
        var result = Docker(args);
        Assert.True(result.ExitCode == 0, $"docker {string.Join(' ', args)} failed ({result.ExitCode}):\n{result.Output}");
        return result.StdOut.Trim();
    }

    /// <summary>DELETE of a manifest by digest (the registry's storage allows deletes), as an operator or a retention policy does.</summary>
    public void DeleteManifest(string repository, string digest)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Delete, $"http://{Host}/v2/{repository}/manifests/{digest}");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{Username}:{Password}")));
        using var response = http.Send(request);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"DELETE manifest {digest} answered {(int)response.StatusCode}");
    }

    /// <summary>`docker login` with the password on stdin, stored in the private DOCKER_CONFIG only.</summary>
    public void DockerLogin()
    {
        var result = Docker(["login", Host, "--username", Username, "--password-stdin"], stdin: Password);
        Assert.True(result.ExitCode == 0, $"docker login {Host} failed ({result.ExitCode}):\n{result.Output}");
    }

    public void Dispose()
    {
        if (!_server.HasExited)
        {
            _server.Kill(entireProcessTree: true);
            _server.WaitForExit();
        }
        _server.Dispose();
        lock (_log)
            _log.Dispose();
        _root.Dispose();
    }

    private void WaitUntilServing()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        for (var i = 0; i < 100; i++)
        {
            if (_server.HasExited)
                throw new InvalidOperationException($"docker-registry exited with {_server.ExitCode}:\n{ReadLog()}");
            try
            {
                // Any answer will do; without credentials it is 401 with a Basic challenge.
                using var response = http.GetAsync($"http://{Host}/v2/").GetAwaiter().GetResult();
                return;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                Thread.Sleep(100);
            }
        }
        throw new TimeoutException($"docker-registry did not start on {Host}:\n{ReadLog()}");
    }


    /// <summary>Combined log format: <c>127.0.0.1 - - [date] "HEAD /v2/... HTTP/1.1" 200 ...</c>.</summary>
    [GeneratedRegex("""^\S+ \S+ \S+ \[[^\]]*\] "(?<method>[A-Z]+) (?<path>\S+) HTTP/[0-9.]+" """)]
    private static partial Regex AccessLogLine();
}
