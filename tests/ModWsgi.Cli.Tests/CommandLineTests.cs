using ModWsgi.Core.Destinations;
using ModWsgi.Core.Diagnostics;

namespace ModWsgi.Cli.Tests;

/// <summary>Help, usage errors and exit codes, and what run/shell hand to the docker CLI.</summary>
public sealed class CommandLineTests : IDisposable
{
    private static readonly string[] Commands = ["build", "publish", "run", "shell", "inspect"];
    private readonly TempDirectory _project = new();

    public CommandLineTests() => _project.Write("wsgi.py", "");

    public void Dispose() => _project.Dispose();

    [Fact]
    public void HelpListsEveryCommandAndTheExitCodes()
    {
        var cli = new FakeCli();
        Assert.Equal(0, cli.Invoke("--help"));
        foreach (var command in Commands)
            Assert.Matches($@"(?m)^\s+{command}\b", cli.Out);
        AssertExitCodes(cli.Out);
    }

    [Theory]
    [InlineData("build", new[] { "--repository", "--tag", "--version", "--base-image", "--application-type", "--entry-point", "--callable-object",
        "--working-directory", "--url-alias", "--server-arg", "--pip-index-url", "--pip-extra-index-url", "--pip-trusted-host", "--cache-dir",
        "--docker-host", "--label", "--env", "--local-registry", "--user", "--container-port", "--server", "--no-framework-detection",
        "--no-collectstatic", "--property", "PROJECT-DIR" })]
    [InlineData("publish", new[] { "--registry", "--archive", "--insecure-registry", "--repository", "--url-alias", "PROJECT-DIR" })]
    [InlineData("run", new[] { "--port", "--repository", "docker run", "PROJECT-DIR" })]
    [InlineData("shell", new[] { "mod_wsgi-docker-shell", "--repository", "PROJECT-DIR" })]
    [InlineData("inspect", new[] { "IMAGE", "--json", "--project", "--cache-dir", "--docker-host" })]
    public void EachCommandsHelpIsComplete(string command, string[] expected)
    {
        var cli = new FakeCli();
        Assert.Equal(0, cli.Invoke(command, "--help"));
        foreach (var text in expected)
            Assert.Contains(text, cli.Out);
        AssertExitCodes(cli.Out);
        Assert.Empty(cli.Builds);
    }

    [Fact]
    public void BuildHasNoDestinationOptions()
    {
        var cli = new FakeCli();
        Assert.Equal(2, cli.Invoke("build", _project.Path, "--registry", "127.0.0.1:5000"));
        Assert.Contains("--registry", cli.Err);
        Assert.Empty(cli.Builds);
    }

    [Theory]
    [InlineData("frobnicate")]
    [InlineData("build", "--no-such-option")]
    public void UnknownCommandOrOptionIsAUsageError(params string[] args)
    {
        var cli = new FakeCli();
        Assert.Equal(2, cli.Invoke(args));
        Assert.Contains(args[^1], cli.Err);
        Assert.Contains("--help", cli.Err);
        Assert.Empty(cli.Builds);
    }

    [Fact]
    public void NoCommandIsAUsageError()
    {
        var cli = new FakeCli();
        Assert.Equal(2, cli.Invoke());
        Assert.Contains("modwsgi --help", cli.Err);
    }

    [Theory]
    [InlineData("static=htdocs")]
    [InlineData("/static")]
    [InlineData("/static=")]
    [InlineData("=htdocs")]
    public void MalformedUrlAliasIsAUsageErrorThatSaysTheForm(string alias)
    {
        var cli = new FakeCli();
        Assert.Equal(2, cli.Invoke("build", _project.Path, "--url-alias", alias));
        Assert.Contains($"--url-alias '{alias}' is not URL=PATH", cli.Err);
        Assert.Empty(cli.Builds);
    }

    [Theory]
    [InlineData("--label", "novalue")]
    [InlineData("--env", "=x")]
    [InlineData("--application-type", "cgi")]
    [InlineData("--port", "0")]
    [InlineData("--local-registry", "containerd")]
    [InlineData("--server", "uwsgi")]
    public void OtherMalformedValuesAreUsageErrors(string option, string value)
    {
        var cli = new FakeCli();
        Assert.Equal(2, cli.Invoke("run", _project.Path, option, value));
        Assert.Contains(value, cli.Err);
        Assert.Empty(cli.Builds);
    }

    [Fact]
    public void ACodedFailureIsOneErrorLineAndExitCode1()
    {
        var cli = new FakeCli
        {
            OnPublish = _ => throw new ModWsgiException(DiagnosticCodes.BuildStepFailed, "The build step 'pre-build' failed with exit code 4."),
        };
        Assert.Equal(1, cli.Invoke("build", _project.Path));
        Assert.Equal("error MODWSGI5001: The build step 'pre-build' failed with exit code 4.", cli.Err.Trim());
    }

    [Fact]
    public void AnUnexpectedFailureIsCodedWithoutAStackTrace()
    {
        var cli = new FakeCli { OnPublish = _ => throw new InvalidOperationException("boom") };
        Assert.Equal(1, cli.Invoke("build", _project.Path));
        Assert.StartsWith("error MODWSGI4001: Unexpected failure: InvalidOperationException: boom", cli.Err);
        Assert.DoesNotContain(" at ", cli.Err);
    }

    [Fact]
    public void AMissingProjectFolderIsCoded()
    {
        var cli = new FakeCli();
        Assert.Equal(1, cli.Invoke("build", Path.Combine(_project.Path, "nope")));
        Assert.Contains("error MODWSGI2001:", cli.Err);
    }

    [Fact]
    public void CancellationExits130()
    {
        using var cancellation = new CancellationTokenSource();
        var cli = new FakeCli
        {
            OnPublish = _ =>
            {
                cancellation.Cancel(); // Ctrl+C while Core builds: Core throws OperationCanceledException
                throw new OperationCanceledException(cancellation.Token);
            },
        };
        Assert.Equal(130, cli.Invoke(cancellation.Token, "build", _project.Path));
        Assert.Contains("MODWSGI4002", cli.Err);
    }

    [Fact]
    public void RunBuildsThenRunsTheImageWithThePortPublished()
    {
        var cli = new FakeCli();
        Assert.Equal(0, cli.Invoke("run", _project.Path, "--repository", "site", "--port", "8123", "--docker-host", "tcp://127.0.0.1:2375"));
        Assert.Single(cli.Builds);
        var call = Assert.Single(cli.DockerCalls);
        Assert.NotNull(call.StopOnCancel); // Ctrl+C → docker stop
        Assert.Equal(["run", "--rm", "--name", call.StopOnCancel, "-p", "8123:80", "site:latest"], call.Arguments);
        Assert.Equal("tcp://127.0.0.1:2375", call.DockerHost);
    }

    [Fact]
    public void RunAndShell_WithLocalRegistryPodman_HandTheDockerCliPodmansSocket()
    {
        // A rootless Podman socket where XDG_RUNTIME_DIR says (a plain file stands in: only its existence is asked).
        var socket = _project.Write("xdg/podman/podman.sock", "");
        var variables = new Dictionary<string, string?> { ["XDG_RUNTIME_DIR"] = Path.Combine(_project.Path, "xdg"), ["HOME"] = _project.Path };
        var run = new FakeCli { Variables = variables };
        Assert.Equal(0, run.Invoke("run", _project.Path, "--repository", "site", "--local-registry", "Podman"));
        Assert.Equal("Podman", run.Options.LocalRegistry);
        Assert.Equal("unix://" + socket, Assert.Single(run.DockerCalls).DockerHost);

        var shell = new FakeCli { Variables = variables, StdinIsTerminal = false };
        Assert.Equal(0, shell.Invoke("shell", _project.Path, "--repository", "site", "--local-registry", "Podman"));
        Assert.Equal("unix://" + socket, Assert.Single(shell.DockerCalls).DockerHost);

        // Docker (the default) leaves the docker CLI to its own DOCKER_HOST and context, as the build resolved them.
        var docker = new FakeCli { Variables = variables };
        Assert.Equal(0, docker.Invoke("run", _project.Path, "--repository", "site"));
        Assert.Null(Assert.Single(docker.DockerCalls).DockerHost);
    }

    [Fact]
    public void RunPublishesTheContainerPortTheImageListensOn()
    {
        _project.Write("site.proj", """
            <Project Sdk="ModWsgi.Sdk/0.1.0">
              <ItemGroup><ContainerPort Include="8080" /></ItemGroup>
            </Project>
            """);
        var fromProject = new FakeCli();
        Assert.Equal(0, fromProject.Invoke("run", _project.Path, "--port", "8123"));
        Assert.Equal("8123:8080", Assert.Single(fromProject.DockerCalls).Arguments[5]);

        var fromOption = new FakeCli();
        Assert.Equal(0, fromOption.Invoke("run", _project.Path, "--port", "8123", "--container-port", "9000"));
        Assert.Equal("8123:9000", Assert.Single(fromOption.DockerCalls).Arguments[5]);
        Assert.Equal(9000, fromOption.Options.Server.Port);
    }

    [Theory]
    [InlineData(true, "-it")]
    [InlineData(false, "-i")]
    public void ShellAsksForATerminalOnlyWhenStdinIsOne(bool terminal, string flags)
    {
        var cli = new FakeCli { StdinIsTerminal = terminal };
        Assert.Equal(0, cli.Invoke("shell", _project.Path, "--repository", "site"));
        var call = Assert.Single(cli.DockerCalls);
        Assert.Equal(["run", "--rm", flags, "--entrypoint", "mod_wsgi-docker-shell", "site:latest"], call.Arguments);
    }

    [Fact]
    public void PublishPrintsWhatPublishImagePrints()
    {
        var cli = new FakeCli
        {
            OnPublish = o => Task.FromResult(new PublishResult("sha256:1234", "sha256:5678", o.ImageNames(), "/tmp/site.tar")),
        };
        Assert.Equal(0, cli.Invoke("publish", _project.Path, "--repository", "site", "--archive", "/tmp/site.tar"));
        Assert.Contains("site -> site:latest", cli.Out);
        Assert.Contains("image id: sha256:1234", cli.Out);
        Assert.Contains("manifest digest: sha256:5678", cli.Out);
        Assert.Contains("archive: /tmp/site.tar", cli.Out);
    }

    private static void AssertExitCodes(string help)
    {
        Assert.Contains("Exit codes:", help);
        foreach (var code in new[] { "0 ", "1 ", "2 ", "130 " })
            Assert.Matches($@"(?m)^\s+{code}", help);
    }
}
