using System.Diagnostics;

namespace ModWsgi.EndToEnd.Tests;

/// <summary>
/// Issue 10 items 1 and 2 on the host engine: a self-installing project's dependencies cached by its metadata (and the
/// fallback when setup.py reads the package), and every lock format installed exactly by hash from a local index
/// whose wheels the test builds (hashes computed from those files, never committed).
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class DependencySourceTests(SdkFixture sdk) : IDisposable
{
    private readonly TempDirectory _work = new("pydeps-e2e");
    private readonly List<string> _images = [];
    private PackageIndex? _fixtures;

    // Two versions of the main package: a lock pins the older one, which plain resolution would not pick.
    private PackageIndex Fixtures => _fixtures ??= PackageIndex.Create(
        ("lockmain", "1.0", "TEXT = 'main 1.0'\n"),
        ("lockmain", "1.1", "TEXT = 'main 1.1'\n"),
        ("lockdev", "2.0", "TEXT = 'dev 2.0'\n"));

    /// <param name="versionFromFile">The version is dynamic, read by setuptools from a VERSION file: the install is still reused.</param>
    [DockerTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_pyproject_only_Flask_app_keeps_its_dependency_layer_on_a_template_edit_and_serves_the_edit(bool versionFromFile)
    {
        using var index = new RealPackageIndex();
        var project = WriteFlaskApp(Path.Combine(_work.Path, "flaskr" + (versionFromFile ? "-dynamic" : "")), index, versionFromFile);
        var app = Path.GetDirectoryName(project)!;
        var image = NewImage("pydeps-flaskr");

        var first = Publish(project, image, index.Url, index.Host);
        Assert.Contains("dependencies from pyproject.toml", first.StdOut);
        Assert.Contains("dependencies: miss", first.StdOut);
        Assert.Contains("Installing the project itself", first.StdOut);

        Write(app, "flaskr/templates/index.html", "edited template");
        var timer = Stopwatch.StartNew();
        var second = Tracked(sdk.PublishImage(project, null, ["-v:d"], "ContainerRepository=" + image, "WsgiPipIndexUrl=" + index.Url, "WsgiPipTrustedHost=" + index.Host));
        Assert.True(second.ExitCode == 0, second.Output);
        timer.Stop();
        Console.WriteLine(string.Join("\n", second.StdOut.Split('\n').Where(l => l.Contains("timings:") || l.Contains("----->"))));
        Assert.Contains("dependencies: cached (key sha256:", second.StdOut);
        Assert.DoesNotContain("Installing the project's dependencies", second.StdOut);
        // The editable install's files are reused too: the metadata and the file layout did not change.
        Assert.Contains("project install: cached", second.StdOut);
        Assert.DoesNotContain("Installing the project itself", second.StdOut);
        Console.WriteLine($"pydeps: template-edit rebuild took {timer.Elapsed.TotalSeconds:F1} s");

        using var container = RunningContainer.Start(image);
        Assert.Equal((200, "edited template"), await container.GetAsync("/"));
    }

    private string WriteFlaskApp(string app, RealPackageIndex index, bool versionFromFile = false)
    {
        Write(app, "pyproject.toml", $"""
            [build-system]
            requires = ["setuptools>=61", "wheel"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "flaskr"
            {(versionFromFile ? "dynamic = [\"version\"]" : "version = \"1.0.0\"")}
            dependencies = ["flask=={index.VersionOf("flask")}"]

            [tool.setuptools]
            packages = ["flaskr"]
            {(versionFromFile ? "\n[tool.setuptools.dynamic]\nversion = { file = [\"VERSION\"] }" : "")}
            """);
        if (versionFromFile)
            Write(app, "VERSION", "1.0.0\n");
        Write(app, "flaskr/__init__.py", """
            from flask import Flask, render_template

            def create_app():
                app = Flask(__name__)

                @app.route("/")
                def index():
                    return render_template("index.html")

                return app
            """);
        Write(app, "flaskr/templates/index.html", "first template");
        Write(app, "wsgi.py", "from flaskr import create_app\napplication = create_app()\n");
        Write(app, ".dockerignore", "*.proj\nnuget.config\n");
        return sdk.WriteProject(app, "flaskr");
    }

    [DockerFact]
    public void A_self_installing_app_gives_the_same_image_from_a_cold_cache_and_from_a_reused_install()
    {
        using var index = new RealPackageIndex();
        var project = WriteFlaskApp(Path.Combine(_work.Path, "repro"), index);
        var image = NewImage("pydeps-repro");
        var cold = Path.Combine(_work.Path, "cache-cold");

        var first = Publish(project, image, index.Url, index.Host, "WsgiCacheDirectory=" + cold);
        // Only an mtime changes: the build runs again (not "up to date"), reusing the install, and must give the same image.
        File.SetLastWriteTimeUtc(Path.Combine(Path.GetDirectoryName(project)!, "wsgi.py"), DateTime.UtcNow.AddHours(-2));
        var reused = Publish(project, image, index.Url, index.Host, "WsgiCacheDirectory=" + cold);
        var other = Publish(project, image, index.Url, index.Host, "WsgiCacheDirectory=" + Path.Combine(_work.Path, "cache-other"));

        Assert.Contains("project install: cached", reused.StdOut);
        Assert.Equal(ImageId(first), ImageId(reused));
        Assert.Equal(ImageId(first), ImageId(other));
        Assert.DoesNotContain("project install: cached", other.StdOut);
    }

    private static string ImageId(ProcessResult build) =>
        build.StdOut.Split('\n').Select(l => l.Trim()).First(l => l.StartsWith("image id: ", StringComparison.Ordinal))["image id: ".Length..];

    [DockerFact]
    public async Task A_setup_py_that_reads_its_package_falls_back_to_the_whole_folder_and_says_why()
    {
        using var index = new RealPackageIndex();
        var app = Path.Combine(_work.Path, "reads");
        Write(app, "setup.py", $"""
            from setuptools import setup
            from greet import VERSION  # reads the package: the metadata needs the source
            setup(name="greet-app", version=VERSION, py_modules=["greet", "wsgi"], install_requires=["itsdangerous=={index.VersionOf("itsdangerous")}"])
            """);
        Write(app, "greet.py", "VERSION = '1.0'\nTEXT = 'greetings'\n");
        Write(app, "wsgi.py", """
            import greet, itsdangerous
            def application(environ, start_response):
                start_response('200 OK', [('Content-Type', 'text/plain')])
                return [(greet.TEXT + ' ' + itsdangerous.__name__).encode()]
            """);
        Write(app, ".dockerignore", "*.proj\nnuget.config\n");
        var project = sdk.WriteProject(app, "reads");
        var image = NewImage("pydeps-reads");

        var first = Publish(project, image, index.Url, index.Host);
        Assert.Contains("MODWSGI5004", first.StdOut);
        Assert.Contains("could not be computed from setup.py", first.StdOut);
        Assert.Contains("No module named 'greet'", first.StdOut);
        Assert.Contains("Installing the application folder with pip", first.StdOut);

        // Remembered for these metadata files: the next build goes straight to the whole folder, and says why again.
        Write(app, "greet.py", "VERSION = '1.0'\nTEXT = 'edited'\n");
        var second = Publish(project, image, index.Url, index.Host);
        Assert.Contains("MODWSGI5004", second.StdOut);
        Assert.DoesNotContain("Installing the project's dependencies from its metadata", second.StdOut);
        Assert.Contains("input greet.py changed", second.StdOut);

        using var container = RunningContainer.Start(image);
        Assert.Equal((200, "edited itsdangerous"), await container.GetAsync("/"));
    }

    [DockerFact]
    public void A_pylock_toml_installs_exactly_its_pins_and_the_chosen_group() => LockInstallsExactly("pylock.toml", index => $$"""
        lock-version = "1.0"
        created-by = "pydeps-e2e"
        dependency-groups = ["dev"]
        default-groups = []

        [[packages]]
        name = "lockmain"
        version = "1.0"
        wheels = [{ name = "lockmain-1.0-py3-none-any.whl", hashes = { sha256 = "{{index.Sha256Of("lockmain", "1.0")}}" } }]

        [[packages]]
        name = "lockdev"
        version = "2.0"
        marker = "'dev' in dependency_groups"
        wheels = [{ name = "lockdev-2.0-py3-none-any.whl", hashes = { sha256 = "{{index.Sha256Of("lockdev", "2.0")}}" } }]
        """);

    [DockerFact]
    public void A_uv_lock_installs_exactly_its_pins_and_the_chosen_group() => LockInstallsExactly("uv.lock", index => $$"""
        version = 1
        requires-python = ">=3.11"

        [[package]]
        name = "app"
        version = "0.1.0"
        source = { virtual = "." }
        dependencies = [{ name = "lockmain" }]

        [package.dev-dependencies]
        dev = [{ name = "lockdev" }]

        [[package]]
        name = "lockmain"
        version = "1.0"
        source = { registry = "https://pypi.org/simple" }
        wheels = [{ url = "https://files.example/lockmain-1.0-py3-none-any.whl", hash = "sha256:{{index.Sha256Of("lockmain", "1.0")}}" }]

        [[package]]
        name = "lockdev"
        version = "2.0"
        source = { registry = "https://pypi.org/simple" }
        wheels = [{ url = "https://files.example/lockdev-2.0-py3-none-any.whl", hash = "sha256:{{index.Sha256Of("lockdev", "2.0")}}" }]
        """);

    [DockerFact]
    public void A_poetry_lock_installs_exactly_its_pins_and_the_chosen_group() => LockInstallsExactly("poetry.lock", index => $$"""
        [[package]]
        name = "lockmain"
        version = "1.0"
        optional = false
        python-versions = "*"
        groups = ["main"]
        files = [{ file = "lockmain-1.0-py3-none-any.whl", hash = "sha256:{{index.Sha256Of("lockmain", "1.0")}}" }]

        [[package]]
        name = "lockdev"
        version = "2.0"
        optional = false
        python-versions = "*"
        groups = ["dev"]
        files = [{ file = "lockdev-2.0-py3-none-any.whl", hash = "sha256:{{index.Sha256Of("lockdev", "2.0")}}" }]

        [metadata]
        lock-version = "2.1"
        python-versions = "^3.11"
        content-hash = "0"
        """);

    [DockerFact]
    public void A_Pipfile_lock_installs_exactly_its_pins_and_the_chosen_group() => LockInstallsExactly("Pipfile.lock", index => $$"""
        {
          "_meta": { "pipfile-spec": 6, "sources": [] },
          "default": { "lockmain": { "version": "==1.0", "hashes": ["sha256:{{index.Sha256Of("lockmain", "1.0")}}"] } },
          "develop": { "lockdev": { "version": "==2.0", "hashes": ["sha256:{{index.Sha256Of("lockdev", "2.0")}}"] } }
        }
        """);

    [DockerFact]
    public void A_requirements_txt_with_hashes_installs_in_hash_checking_mode() => LockInstallsExactly("requirements.txt", index => $"""
        lockmain==1.0 --hash=sha256:{index.Sha256Of("lockmain", "1.0")}
        lockdev==2.0 --hash=sha256:{index.Sha256Of("lockdev", "2.0")}
        """, groups: false);

    [DockerFact]
    public void A_tampered_hash_fails_with_MODWSGI5005_naming_the_package()
    {
        var app = WriteLockApp("tampered", "uv.lock", $$"""
            version = 1
            [[package]]
            name = "app"
            version = "0.1.0"
            source = { virtual = "." }
            dependencies = [{ name = "lockmain" }]

            [[package]]
            name = "lockmain"
            version = "1.0"
            source = { registry = "https://pypi.org/simple" }
            wheels = [{ url = "https://files.example/lockmain-1.0-py3-none-any.whl", hash = "sha256:{{new string('0', 64)}}" }]
            """);
        var image = NewImage("pydeps-tampered");

        var build = sdk.PublishImage(app, "ContainerRepository=" + image, "WsgiPipIndexUrl=" + Fixtures.Url, "WsgiPipTrustedHost=" + Fixtures.Host);

        Assert.NotEqual(0, build.ExitCode);
        Assert.Contains("MODWSGI5005", build.Output);
        Assert.Contains("'lockmain==1.0'", build.Output);
        Assert.DoesNotContain("MODWSGI5001", build.Output);
    }

    /// <summary>
    /// A src-layout project whose lock pins itsdangerous and gunicorn (hashes of the local index's wheels, computed here):
    /// the project installs itself on top, so wsgi.py's import of src/srcapp works, and WsgiServer=gunicorn is found in the
    /// lock alone. As a uv.lock, and as one of two PEP 751 named locks chosen by WsgiLockName.
    /// </summary>
    [DockerTheory]
    [InlineData("uv.lock", null)]
    [InlineData("pylock.prod.toml", "prod")]
    public async Task A_locked_src_layout_project_installs_itself_and_runs_under_gunicorn_named_only_in_the_lock(string file, string? lockName)
    {
        using var index = new RealPackageIndex();
        string[] locked = ["gunicorn", "itsdangerous", "setuptools"];
        var app = Path.Combine(_work.Path, "srcapp-" + file.Replace('.', '-'));
        Write(app, "pyproject.toml", """
            [build-system]
            requires = ["setuptools>=61"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "srcapp"
            version = "0.1.0"
            dependencies = ["itsdangerous", "gunicorn"]

            [tool.setuptools.packages.find]
            where = ["src"]
            """);
        Write(app, "src/srcapp/__init__.py", """
            from itsdangerous import URLSafeSerializer

            def application(environ, start_response):
                signer = URLSafeSerializer('key')
                start_response('200 OK', [('Content-Type', 'text/plain')])
                return [('srcapp ' + signer.loads(signer.dumps('signed'))).encode()]
            """);
        Write(app, "wsgi.py", "from srcapp import application\n");
        Write(app, ".dockerignore", "*.proj\nnuget.config\n");
        if (file == "uv.lock")
            Write(app, file, "version = 1\nrequires-python = \">=3.11\"\n\n[[package]]\nname = \"srcapp\"\nversion = \"0.1.0\"\nsource = { editable = \".\" }\n"
                + "dependencies = [{ name = \"gunicorn\" }, { name = \"itsdangerous\" }]\n"
                + string.Concat(locked.Select(p => $"\n[[package]]\nname = \"{p}\"\nversion = \"{index.VersionOf(p)}\"\nsource = {{ registry = \"https://pypi.org/simple\" }}\n"
                    + (p == "gunicorn" ? "dependencies = [{ name = \"setuptools\" }]\n" : "")
                    + $"wheels = [{{ url = \"https://files.example/{p}.whl\", hash = \"sha256:{index.Sha256Of(p)}\" }}]\n")));
        else
        {
            string PyLock(IEnumerable<string> packages) => "lock-version = \"1.0\"\ncreated-by = \"test\"\n"
                + string.Concat(packages.Select(p => $"\n[[packages]]\nname = \"{p}\"\nversion = \"{index.VersionOf(p)}\"\n"
                    + $"wheels = [{{ name = \"{p}.whl\", hashes = {{ sha256 = \"{index.Sha256Of(p)}\" }} }}]\n"))
                + "\n[[packages]]\nname = \"srcapp\"\ndirectory = { path = \".\", editable = true }\n";
            Write(app, file, PyLock(locked));
            Write(app, "pylock.dev.toml", PyLock(["itsdangerous"])); // no gunicorn: choosing it would be MODWSGI2012
        }
        var project = sdk.WriteProject(app, "srcapp");
        var image = NewImage("pydeps-srcapp");

        var build = Publish(project, image, index.Url, index.Host, ["WsgiServer=gunicorn", .. lockName is null ? Array.Empty<string>() : ["WsgiLockName=" + lockName]]);

        Assert.Contains("dependencies from " + file, build.StdOut);
        Assert.Contains("the project itself installed on top", build.StdOut);
        Assert.Contains("--require-hashes", build.StdOut);
        Assert.Contains("Installing the project's build backend", build.StdOut);
        Assert.Contains("Installing the project itself", build.StdOut);
        using var container = RunningContainer.Start(image);
        var (status, body) = await container.GetAsync("/");
        Assert.True(status == 200, $"GET / answered {status}:\n{body}\n{container.Logs()}");
        Assert.Equal("srcapp signed", body);
        // The server under dumb-init (PID 1) is gunicorn.
        Assert.Contains("/opt/venv/bin/gunicorn", RunningContainer.Processes(container.Id, "args"));
        var versions = Run.DockerOk("exec", container.Id, "/opt/venv/bin/python", "-c",
            "import importlib.metadata as m; print(m.version('itsdangerous'), m.version('gunicorn'), m.version('srcapp'))");
        Assert.Equal($"{index.VersionOf("itsdangerous")} {index.VersionOf("gunicorn")} 0.1.0", versions.Trim());
    }

    private void LockInstallsExactly(string file, Func<PackageIndex, string> lockText, bool groups = true)
    {
        var project = WriteLockApp(file.Replace('.', '-').ToLowerInvariant(), file, lockText(Fixtures));
        var image = NewImage("pydeps-" + file.Replace('.', '-').ToLowerInvariant());

        var build = Publish(project, image, Fixtures.Url, Fixtures.Host, groups ? ["WsgiDependencyGroups=dev"] : []);

        Assert.Contains("dependencies from " + file, build.StdOut);
        Assert.Contains("--require-hashes", build.StdOut);
        var installed = Run.DockerOk("run", "--rm", "--entrypoint", "/opt/venv/bin/python", image,
            "-c", "import importlib.metadata as m, lockmain, lockdev; print(m.version('lockmain'), lockmain.TEXT, '|', m.version('lockdev'), lockdev.TEXT)");
        Assert.Equal("1.0 main 1.0 | 2.0 dev 2.0", installed.Trim());
    }

    private string WriteLockApp(string name, string file, string lockText)
    {
        var app = Path.Combine(_work.Path, name);
        Write(app, file, lockText);
        Write(app, "wsgi.py", "import lockmain\ndef application(environ, start_response):\n    start_response('200 OK', [])\n    return [lockmain.TEXT.encode()]\n");
        Write(app, ".dockerignore", "*.proj\nnuget.config\n");
        return sdk.WriteProject(app, name);
    }

    private ProcessResult Publish(string project, string image, string indexUrl, string indexHost, params string[] properties)
    {
        var result = sdk.PublishImage(project, ["ContainerRepository=" + image, "WsgiPipIndexUrl=" + indexUrl, "WsgiPipTrustedHost=" + indexHost, .. properties]);
        Assert.True(result.ExitCode == 0, "PublishImage failed:\n" + result.Output);
        return Tracked(result);
    }

    /// <summary>A rebuild moves the tag, leaving the image before it untagged: each build's id is removed too.</summary>
    private ProcessResult Tracked(ProcessResult result)
    {
        if (result.StdOut.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("image id: ", StringComparison.Ordinal)) is { } line)
            _images.Add(line["image id: ".Length..]);
        return result;
    }

    private static void Write(string directory, string relative, string content)
    {
        var path = Path.Combine(directory, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    private string NewImage(string prefix)
    {
        var name = $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)];
        _images.Add(name + ":latest");
        return name;
    }

    public void Dispose()
    {
        foreach (var image in _images)
            Run.Docker("rmi", "-f", image);
        _fixtures?.Dispose();
        _work.Dispose();
    }
}
