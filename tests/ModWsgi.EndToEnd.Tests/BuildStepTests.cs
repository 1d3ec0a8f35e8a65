namespace ModWsgi.EndToEnd.Tests;

/// <summary>The build steps of DESIGN.md §2 against a real engine, pip and git.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class BuildStepTests(SdkFixture sdk) : IDisposable
{
    private readonly TempDirectory _project = new("modwsgi-steps");
    private readonly string _image = $"e2e-steps-{Guid.NewGuid():N}"[..22];

    private const string ReportingApp = """
        def application(environ, start_response):
            import greeting, gitpkg
            body = (greeting.TEXT + " " + gitpkg.TEXT).encode()
            start_response('200 OK', [('Content-Type', 'text/plain')])
            return [body]
        """;

    [DockerFact]
    public async Task Requirements_from_a_local_index_and_a_git_file_url_are_both_installed()
    {
        using var index = PackageIndex.Create(("greeting", "1.0", "TEXT = 'from-the-index'\n"));
        // A git repository inside the app folder: the build container sees it at /app/deps/gitpkg.git.
        var gitSource = Path.Combine(_project.Path, "gitsrc");
        FixturePackages.WriteSetuptoolsProject(gitSource, "gitpkg", "2.0", "TEXT = 'from-git'\n");
        Git(gitSource, "init", "-q");
        Git(gitSource, "add", ".");
        Git(gitSource, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "fixture");
        Git(_project.Path, "clone", "-q", "--bare", gitSource, "deps/gitpkg.git");
        Directory.Delete(gitSource, recursive: true);

        _project.Write("wsgi.py", ReportingApp);
        _project.Write("requirements.txt", """
            # served by the test's PEP 503 index
            greeting==1.0
            -r requirements/vcs.txt
            """);
        _project.Write("requirements/vcs.txt", "GIT+file:///app/deps/gitpkg.git#egg=gitpkg\n");
        var project = sdk.WriteProject(_project.Path, "steps");

        var build = sdk.PublishImage(project, "ContainerRepository=" + _image, "WsgiPipIndexUrl=" + index.Url, "WsgiPipTrustedHost=" + index.Host);
        Assert.True(build.ExitCode == 0, "PublishImage failed:\n" + build.Output);
        Assert.Contains(" -----> Installing version control tools: git", build.StdOut);

        using var container = RunningContainer.Start(_image);
        var (status, body) = await container.GetAsync("/");
        Assert.True(status == 200, $"{status}: {body}\n{container.Logs()}");
        Assert.Equal("from-the-index from-git", body);
        // pip's scratch --src checkouts never reach the image.
        Assert.NotEqual(0, Run.Docker("run", "--rm", "--entrypoint", "test", _image, "-e", "/app/.docker/tmp").ExitCode);
    }

    [DockerFact]
    public void A_failing_pre_build_hook_fails_the_build_with_its_code_and_leaves_no_image_or_container()
    {
        _project.Write("wsgi.py", "def application(e, s):\n    s('200 OK', [])\n    return [b'x']\n");
        _project.Write("requirements.txt", "");
        _project.Write(".docker/action_hooks/pre-build", "#!/bin/bash\necho preparing the system\necho 'pre-build went wrong' >&2\nexit 7\n",
            (UnixFileMode)0b111_101_101);
        var project = sdk.WriteProject(_project.Path, "failing");

        var build = sdk.PublishImage(project, "ContainerRepository=" + _image);

        Assert.NotEqual(0, build.ExitCode);
        Assert.Contains("error MODWSGI5001", build.StdOut);
        Assert.Contains("exit code 7", build.StdOut);
        Assert.Contains("pre-build went wrong", build.StdOut);
        Assert.DoesNotContain("Unhandled exception", build.Output);
        Assert.NotEqual(0, Run.Docker("image", "inspect", _image + ":latest").ExitCode);
        Assert.Equal("", ProjectBuildContainers.Ids(_project.Path));
    }

    [DockerFact]
    public async Task A_failing_deploy_hook_is_logged_and_the_server_still_answers_and_a_non_executable_hook_warns()
    {
        _project.Write("wsgi.py", "def application(e, s):\n    s('200 OK', [('Content-Type', 'text/plain')])\n    return [b'still serving']\n");
        _project.Write("requirements.txt", "");
        _project.Write(".docker/action_hooks/deploy", "#!/bin/bash\necho deploy-hook-ran\nexit 3\n", (UnixFileMode)0b111_101_101);
        _project.Write(".docker/action_hooks/build", "#!/bin/bash\necho should-not-run\n", (UnixFileMode)0b110_100_100);
        var project = sdk.WriteProject(_project.Path, "deploying");

        var build = sdk.PublishImage(project, "ContainerRepository=" + _image);
        Assert.True(build.ExitCode == 0, "PublishImage failed:\n" + build.Output);
        Assert.Contains("warning MODWSGI2010", build.StdOut);
        Assert.Contains("chmod +x .docker/action_hooks/build", build.StdOut);
        Assert.DoesNotContain("should-not-run", build.StdOut);

        using var container = RunningContainer.Start(_image);
        var (status, body) = await container.GetAsync("/");
        Assert.Equal(200, status);
        Assert.Equal("still serving", body);
        Assert.Contains("deploy-hook-ran", container.Logs());
    }

    [DockerFact]
    public async Task Docker_run_arguments_add_to_the_project_options_and_user_vars_reach_app_and_shell()
    {
        _project.Write("webapp/app.py", "import os\ndef application(e, s):\n    s('200 OK', [('Content-Type', 'text/plain')])\n    return [os.environ.get('GREETING', 'unset').encode()]\n");
        _project.Write("webapp/__init__.py", "");
        _project.Write("requirements.txt", "");
        _project.Write(".docker/user_vars/GREETING", "from-user-vars");
        var project = sdk.WriteProject(_project.Path, "modular", """
            <PropertyGroup>
              <WsgiApplicationType>module</WsgiApplicationType>
              <WsgiEntryPoint>webapp.app</WsgiEntryPoint>
            </PropertyGroup>
            """);
        var build = sdk.PublishImage(project, "ContainerRepository=" + _image);
        Assert.True(build.ExitCode == 0, "PublishImage failed:\n" + build.Output);

        // `docker run IMAGE --threads 2` replaces Cmd; the module entry point must survive it.
        using var container = RunningContainer.Start(_image, [], ["--threads", "2"]);
        var (status, body) = await container.GetAsync("/");
        Assert.Equal((200, "from-user-vars"), (status, body));
        var config = Run.DockerOk("exec", container.Id, "cat", "/tmp/modwsgi/httpd.conf");
        Assert.Contains("ThreadsPerChild 2\n", config);
        Assert.Contains("webapp.app", Run.DockerOk("exec", container.Id, "cat", "/tmp/modwsgi/handler.wsgi"));

        var shell = Run.Process("docker", ["run", "--rm", "-i", "--entrypoint", "mod_wsgi-docker-shell", _image], stdin: "echo $GREETING\n");
        Assert.Equal("from-user-vars", shell.StdOut.Trim());
    }

    private static void Git(string directory, params string[] args)
    {
        var result = Run.Process("git", args, workingDirectory: directory);
        Assert.True(result.ExitCode == 0, $"git {string.Join(' ', args)}: {result.Output}");
    }

    public void Dispose()
    {
        Run.Docker("rmi", "-f", _image + ":latest");
        _project.Dispose();
    }
}
