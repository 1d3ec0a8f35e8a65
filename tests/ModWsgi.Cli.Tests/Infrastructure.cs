using ModWsgi.Core;
using ModWsgi.Core.Destinations;

namespace ModWsgi.Cli.Tests;

/// <summary>The built tool, as a user runs it: `dotnet modwsgi.dll ...` (the project reference puts it, with runtime/, next to the tests).</summary>
public static class ModWsgiTool
{
    /// <summary>In-process builds: these tests are about what a command does, BuildServerTests about the server.</summary>
    public static ProcessResult Run(params string[] args) =>
        Run(new Dictionary<string, string?> { ["MODWSGI_BUILD_SERVER"] = "0" }, null, args);

    public static ProcessResult Run(IReadOnlyDictionary<string, string?> env, string? workingDirectory, params string[] args) =>
        ModWsgi.Tests.Shared.Run.Process("dotnet", [Path.Combine(AppContext.BaseDirectory, "modwsgi.dll"), .. args],
            workingDirectory: workingDirectory, env: env, timeout: TimeSpan.FromMinutes(5));
}

/// <summary>
/// Runs the command line in-process against a fake engine edge: records the options a build would get and
/// the docker CLI calls run/shell would make, and captures stdout/stderr.
/// </summary>
internal sealed class FakeCli
{
    private readonly StringWriter _out = new();
    private readonly StringWriter _err = new();

    public List<ImageBuildOptions> Builds { get; } = [];
    public List<DockerInvocation> DockerCalls { get; } = [];
    public Func<ImageBuildOptions, Task<PublishResult>>? OnPublish { get; init; }
    public bool StdinIsTerminal { get; init; } = true;
    /// <summary>The command's environment; null is this process's.</summary>
    public IReadOnlyDictionary<string, string?>? Variables { get; init; }

    public string Out => _out.ToString();
    public string Err => _err.ToString();

    /// <summary>The one build's options.</summary>
    public ImageBuildOptions Options => Assert.Single(Builds);

    public int Invoke(params string[] args) => Invoke(CancellationToken.None, args);

    public int Invoke(CancellationToken cancellationToken, params string[] args)
    {
        var host = new CliHost
        {
            Out = _out,
            Error = _err,
            StdinIsTerminal = StdinIsTerminal,
            Variables = Variables,
            Publish = (options, _, _, _) =>
            {
                Builds.Add(options);
                return OnPublish?.Invoke(options) ?? Task.FromResult(new PublishResult("sha256:" + new string('a', 64), null, options.ImageNames(), null));
            },
            Docker = (invocation, _) =>
            {
                DockerCalls.Add(invocation);
                return Task.FromResult(0);
            },
        };
        return new ModWsgiCli(host).InvokeAsync(args, cancellationToken).GetAwaiter().GetResult();
    }
}
