namespace ModWsgi.EndToEnd.Tests;

/// <summary>
/// Issue 10 §5–6: projects laid out as mod_wsgi-docker's demos (.whiskey/server_args, user_vars, deploy-env) build
/// and serve as they did, and a server option the launcher refuses fails the build, not the container.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class WhiskeyLayoutTests(SdkFixture sdk) : IDisposable
{
    private static readonly UnixFileMode Executable = (UnixFileMode)0b111_101_101;
    private readonly TempDirectory _project = new("whiskey-e2e");
    private readonly string _image = $"whiskey-{Guid.NewGuid():N}"[..20];

    [DockerFact]
    public async Task DemosStatic_ServerArgsWithDirectoryIndex_ServesTheFilesAndTheIndexAtTheRoot()
    {
        // demos/static's shape: no Python at all, every option in .whiskey/server_args.
        _project.Write(".whiskey/server_args", "--application-type static\n--document-root htdocs\n--directory-index index.html\n");
        _project.Write("htdocs/index.html", "<html><body><h1>the index</h1></body></html>\n");
        _project.Write("htdocs/file.html", "<html><body><h1>file.html</h1></body></html>\n");
        _project.Write("htdocs/static/file.txt", "static/file.txt\n");
        sdk.PublishImageOk(sdk.WriteProject(_project.Path, "static"), "ContainerRepository=" + _image);

        using var container = RunningContainer.Start(_image);
        Assert.Equal((200, "<html><body><h1>the index</h1></body></html>\n"), await container.GetAsync("/"));
        Assert.Equal((200, "<html><body><h1>file.html</h1></body></html>\n"), await container.GetAsync("/file.html"));
        Assert.Equal((200, "static/file.txt\n"), await container.GetAsync("/static/file.txt"));
        Assert.Equal(404, (await container.GetAsync("/missing.html")).Status);
    }

    [DockerFact]
    public async Task DemosEnviron_DeployEnvHook_ChangesTheEnvironmentTheApplicationSees()
    {
        // demos/environ's shape: the script named in server_args, user_vars NAME1..3, and a deploy-env hook that
        // adds NAME4 and removes NAME1 through $WHISKEY_ENVDIR.
        _project.Write(".whiskey/server_args", "environ.wsgi\n");
        _project.Write(".whiskey/user_vars/NAME1", "VALUE1\n");
        _project.Write(".whiskey/user_vars/NAME2", "VALUE2\n");
        _project.Write(".whiskey/user_vars/NAME3", "VALUE3\n");
        _project.Write(".whiskey/action_hooks/deploy-env", "#!/bin/sh\n\necho VALUE4 > $WHISKEY_ENVDIR/NAME4\n\nrm $WHISKEY_ENVDIR/NAME1\n", Executable);
        _project.Write("environ.wsgi", """
            import os

            def application(environ, start_response):
                names = ("NAME1", "NAME2", "NAME3", "NAME4")
                body = " ".join("%s=%s" % (n, os.environ.get(n, "-")) for n in names).encode()
                start_response("200 OK", [("Content-Type", "text/plain")])
                return [body]
            """);
        sdk.PublishImageOk(sdk.WriteProject(_project.Path, "environ"), "ContainerRepository=" + _image);

        using (var container = RunningContainer.Start(_image))
        {
            Assert.Equal((200, "NAME1=- NAME2=VALUE2 NAME3=VALUE3 NAME4=VALUE4"), await container.GetAsync("/"));
            Assert.Contains(" -----> Running .whiskey/action_hooks/deploy-env", container.Logs());
        }
        // docker run -e still wins over a user_vars file the hook left alone.
        using (var container = RunningContainer.Start(_image, "-e", "NAME3=FROM_RUN"))
            Assert.Equal((200, "NAME1=- NAME2=VALUE2 NAME3=FROM_RUN NAME4=VALUE4"), await container.GetAsync("/"));
    }

    [DockerFact]
    public void AnUnknownOptionInServerArgs_FailsTheBuildWithItsCode_AndTagsNothing()
    {
        _project.Write("wsgi.py", "def application(e, s):\n    s('200 OK', [])\n    return [b'hello']\n");
        _project.Write(".whiskey/server_args", "--processes 2\n--directory-indx index.html\n");

        var build = sdk.PublishImage(sdk.WriteProject(_project.Path, "bad"), "ContainerRepository=" + _image);

        Assert.NotEqual(0, build.ExitCode);
        Assert.Contains("error MODWSGI2036", build.Output);
        Assert.Contains("unknown option --directory-indx (in .whiskey/server_args line 2)", build.Output);
        Assert.DoesNotContain("Traceback", build.Output);
        Assert.NotEqual(0, Run.Docker("image", "inspect", _image + ":latest").ExitCode);
    }

    [DockerFact]
    public void AMalformedOptionInTheProject_FailsTheBuildWithItsCode()
    {
        _project.Write("wsgi.py", "def application(e, s):\n    s('200 OK', [])\n    return [b'hello']\n");

        var build = sdk.PublishImage(sdk.WriteProject(_project.Path, "badproj", """
            <ItemGroup>
              <WsgiServerArgument Include="--max-clients=many" />
            </ItemGroup>
            """), "ContainerRepository=" + _image);

        Assert.NotEqual(0, build.ExitCode);
        Assert.True(build.Output.Contains("error MODWSGI2036", StringComparison.Ordinal)
            && build.Output.Contains("--max-clients expects a whole number, not 'many'", StringComparison.Ordinal), build.Output);
        Assert.Contains("WsgiServerArgument", build.Output);
        Assert.NotEqual(0, Run.Docker("image", "inspect", _image + ":latest").ExitCode);
    }

    [DockerFact]
    public void BothLayoutFolders_FailTheBuildWithItsCode()
    {
        _project.Write("wsgi.py", "def application(e, s):\n    s('200 OK', [])\n    return [b'hello']\n");
        _project.Write(".docker/action_hooks/build", "#!/bin/sh\n", Executable);
        _project.Write(".whiskey/server_args", "--processes 2\n");

        var build = sdk.PublishImage(sdk.WriteProject(_project.Path, "both"), "ContainerRepository=" + _image);

        Assert.NotEqual(0, build.ExitCode);
        Assert.Contains("error MODWSGI2035", build.Output);
    }

    public void Dispose()
    {
        Run.Docker("rmi", "-f", _image + ":latest");
        _project.Dispose();
    }
}
