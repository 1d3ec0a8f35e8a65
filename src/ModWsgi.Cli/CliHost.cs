using Microsoft.Extensions.Logging;
using ModWsgi.Core;
using ModWsgi.Core.Destinations;
using ModWsgi.Core.Pipeline;
using ModWsgi.Core.Engine;

namespace ModWsgi.Cli;

/// <summary>
/// The edges the commands touch: the console, Core's pipeline on a real engine, and the docker CLI.
/// Tests replace them to check what a command line turns into without an engine.
/// </summary>
internal sealed class CliHost
{
    public TextWriter Out { get; init; } = Console.Out;

    public TextWriter Error { get; init; } = Console.Error;

    /// <summary>The command's environment variables: null for this process's, or (in the build server) the client's.</summary>
    public IReadOnlyDictionary<string, string?>? Variables { get; init; }

    /// <summary>One variable of <see cref="Variables"/>.</summary>
    public Func<string, string?> Variable => Variables is { } variables ? variables.GetValueOrDefault : Environment.GetEnvironmentVariable;

    /// <summary>The build environment Core gets, resolved from <see cref="Variable"/>.</summary>
    public BuildEnvironment BuildEnvironment => BuildEnvironment.From(Variable);

    /// <summary>Builds and publishes: Core's <see cref="ImagePipeline"/> on the engine the options name.</summary>
    public Func<ImageBuildOptions, BuildEnvironment, ILogger, CancellationToken, Task<PublishResult>> Publish { get; init; } = PublishWithEngineAsync;

    /// <summary>Runs the docker CLI with the console attached; returns its exit code.</summary>
    public Func<DockerInvocation, CancellationToken, Task<int>> Docker { get; init; } = DockerCli.RunAsync;

    public bool StdinIsTerminal { get; init; } = !Console.IsInputRedirected;

    private static async Task<PublishResult> PublishWithEngineAsync(ImageBuildOptions options, BuildEnvironment environment, ILogger logger, CancellationToken cancellationToken)
    {
        using var engine = new DockerEngineClient(EngineEndpoint.ForLocalRegistry(options.LocalRegistry, options.DockerHost, environment));
        return await new ImagePipeline(engine, logger).PublishAsync(options, environment, cancellationToken).ConfigureAwait(false);
    }
}
