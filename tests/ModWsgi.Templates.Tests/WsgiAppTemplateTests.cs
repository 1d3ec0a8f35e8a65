using System.Text.Json;
using System.Xml.Linq;
using ModWsgi.Core.Project;

namespace ModWsgi.Templates.Tests;

/// <summary><c>dotnet new wsgi-app</c> from the template folder, with the real dotnet CLI, into private hives.</summary>
public sealed class WsgiAppTemplateTests
{
    private static readonly string[] Hooks = [".docker/action_hooks/pre-build", ".docker/action_hooks/build", ".docker/action_hooks/deploy"];

    [Fact]
    public void Default_parameters_make_a_named_script_project()
    {
        using var project = TemplateInstantiation.Create("mysite");

        foreach (var file in (string[])["mysite.proj", "wsgi.py", "requirements.txt", ".dockerignore", "README.md", .. Hooks])
            Assert.True(File.Exists(project.PathOf(file)), $"{file} is missing; generated: {Listing(project)}");
        Assert.False(File.Exists(project.PathOf("WsgiApp.proj")));
        Assert.False(Directory.Exists(project.PathOf(".template.config")));

        var proj = XDocument.Load(project.ProjectFile);
        Assert.Equal("ModWsgi.Sdk/0.1.0", proj.Root!.Attribute("Sdk")?.Value);
        Assert.Equal("mysite", Property(proj, "ContainerRepository"));
        // Guards the sourceName 'WsgiApp' against replacing the start of 'WsgiApplicationType'.
        Assert.Equal("script", Property(proj, "WsgiApplicationType"));
        Assert.Equal("wsgi.py", Property(proj, "WsgiEntryPoint"));

        var wsgi = File.ReadAllText(project.PathOf("wsgi.py"));
        Assert.Contains("Hello from mysite!", wsgi);
        Assert.Contains("def application(environ, start_response):", wsgi);
        Assert.Contains("text/plain", wsgi);
    }

    [Fact]
    public void Commented_examples_survive_the_template_engine()
    {
        using var project = TemplateInstantiation.Create("mysite");

        // The engine evaluates MSBuild Condition attributes in *.proj files; the examples' Condition="false"
        // groups are shielded from it and must come out whole, or the file ends early.
        var proj = XDocument.Load(project.ProjectFile);
        var examples = proj.Root!.Elements("ItemGroup").Single(g => g.Attribute("Condition")?.Value == "false");
        Assert.Equal("/static", examples.Element("WsgiUrlAlias")?.Attribute("Include")?.Value);
        Assert.Equal("--processes=2;--threads=10", examples.Element("WsgiServerArgument")?.Attribute("Include")?.Value);
        Assert.Contains(proj.Root.Elements("PropertyGroup"), g => g.Attribute("Condition")?.Value == "false" && g.Element("ContainerRegistry") is not null);
    }

    [Fact]
    public void No_template_tokens_are_left()
    {
        using var project = TemplateInstantiation.Create("mysite");

        foreach (var file in Directory.EnumerateFiles(project.OutputDirectory, "*", SearchOption.AllDirectories))
        {
            var text = File.ReadAllText(file);
            foreach (var token in (string[])["SDKVERSION", "WSGI_ENTRY_POINT", "WSGIAPP_REPOSITORY", ":replacements", ":cnd"])
                Assert.False(text.Contains(token, StringComparison.Ordinal), $"{file} still contains {token}");
            Assert.False(text.Replace("WsgiApplicationType", "").Contains("WsgiApp", StringComparison.Ordinal), $"{file} still contains WsgiApp");
        }
    }

    [Fact]
    public void Hooks_are_executable_bash_scripts()
    {
        using var project = TemplateInstantiation.Create("mysite");

        foreach (var hook in Hooks)
        {
            var path = project.PathOf(hook);
            Assert.True((File.GetUnixFileMode(path) & UnixFileMode.UserExecute) != 0,
                $"{hook} is not executable (mode {File.GetUnixFileMode(path)}){Environment.NewLine}{project.Instantiation.Output}");
            Assert.Equal(HookState.Executable, ActionHooks.Probe(project.OutputDirectory, Path.GetFileName(hook)));
            var text = File.ReadAllText(path);
            Assert.StartsWith("#!/bin/bash\n", text);
            Assert.Contains("\nset -eo pipefail\n", text);
            Assert.DoesNotContain("\r", text);
        }
    }

    [Fact]
    public void Hooks_run()
    {
        using var project = TemplateInstantiation.Create("mysite");

        foreach (var hook in Hooks)
        {
            // Executed directly: the mode and the shebang line make it runnable, as the build container runs it.
            var info = new System.Diagnostics.ProcessStartInfo(project.PathOf(hook))
            {
                WorkingDirectory = project.OutputDirectory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var process = System.Diagnostics.Process.Start(info)!;
            var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
            Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)));
            Assert.True(process.ExitCode == 0, $"{hook} exited with {process.ExitCode}: {output}");
            Assert.StartsWith(Path.GetFileName(hook) + ":", output);
        }
    }

    [Fact]
    public void EntryPoint_and_SdkVersion_parameters_are_applied()
    {
        using var project = TemplateInstantiation.Create("mysite", "--EntryPoint", "app/serve.py", "--SdkVersion", "0.2.0-beta.1");

        var proj = XDocument.Load(project.ProjectFile);
        Assert.Equal("ModWsgi.Sdk/0.2.0-beta.1", proj.Root!.Attribute("Sdk")?.Value);
        Assert.Equal("app/serve.py", Property(proj, "WsgiEntryPoint"));
        // The hello-world script is created at the entry point, so the project builds as generated.
        Assert.Contains("Hello from mysite!", File.ReadAllText(project.PathOf("app/serve.py")));
        Assert.False(File.Exists(project.PathOf("wsgi.py")));
        Assert.Contains("`app/serve.py`", File.ReadAllText(project.PathOf("README.md")));
    }

    [Fact]
    public void Name_as_given_names_the_project_and_lower_cased_names_the_image()
    {
        using var project = TemplateInstantiation.Create("My-Site");

        Assert.True(File.Exists(project.PathOf("My-Site.proj")), Listing(project));
        var proj = XDocument.Load(project.PathOf("My-Site.proj"));
        // The SDK's own default for ContainerRepository: the project name, lower-cased.
        Assert.Equal("my-site", Property(proj, "ContainerRepository"));
        Assert.Contains("Hello from My-Site!", File.ReadAllText(project.PathOf("wsgi.py")));
        var readme = File.ReadAllText(project.PathOf("README.md"));
        Assert.Contains("`My-Site.proj`", readme);
        Assert.Contains("docker run --rm -p 8000:80 my-site", readme);
    }

    [Fact]
    public void Dockerignore_keeps_the_app_and_hooks_and_drops_build_litter()
    {
        using var project = TemplateInstantiation.Create("mysite");
        Directory.CreateDirectory(project.PathOf("__pycache__"));
        File.WriteAllText(project.PathOf("__pycache__/wsgi.cpython-311.pyc"), "");
        Directory.CreateDirectory(project.PathOf("pkg/__pycache__"));
        File.WriteAllText(project.PathOf("pkg/__pycache__/m.cpython-311.pyc"), "");
        File.WriteAllText(project.PathOf("pkg/m.py"), "");
        Directory.CreateDirectory(project.PathOf("obj"));
        File.WriteAllText(project.PathOf("obj/x"), "");
        Directory.CreateDirectory(project.PathOf(".venv/bin"));
        File.WriteAllText(project.PathOf(".venv/bin/python"), "");

        Assert.True(File.Exists(project.PathOf(".dockerignore")));
        var files = ProjectFiles.Load(project.OutputDirectory).Enumerate()
            .Where(f => !f.IsDirectory).Select(f => f.RelativePath).ToHashSet();

        foreach (var kept in (string[])["wsgi.py", "requirements.txt", "pkg/m.py", .. Hooks])
            Assert.Contains(kept, files);
        foreach (var dropped in (string[])["mysite.proj", "__pycache__/wsgi.cpython-311.pyc", "pkg/__pycache__/m.cpython-311.pyc", "obj/x", ".venv/bin/python"])
            Assert.DoesNotContain(dropped, files);
    }

    [Fact]
    public void Help_lists_both_parameters()
    {
        using var project = TemplateInstantiation.Create("mysite");

        var help = project.DotnetNewOk(TemplateInstantiation.ShortName, "--help").StdOut;
        Assert.Contains("Python WSGI app (Apache/mod_wsgi container)", help);
        Assert.Contains("--EntryPoint", help);
        Assert.Contains("Default: wsgi.py", help);
        Assert.Contains("--SdkVersion", help);
        Assert.Contains("Default: 0.1.0", help);
    }

    [Fact]
    public void Allow_scripts_is_not_needed_and_not_accepted()
    {
        using var project = TemplateInstantiation.Create("mysite");

        // The hooks are made executable by the chmod post action, which is not a script: the CLI offers
        // --allow-scripts only for templates with a 'Run script' post action, and rejects it here.
        var result = project.DotnetNew(TemplateInstantiation.ShortName, "-n", "other", "-o", Path.Combine(project.Root, "other"), "--allow-scripts", "yes");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("--allow-scripts", result.Output);
    }

    [Fact]
    public void Template_default_SdkVersion_is_the_repository_version()
    {
        var template = JsonDocument.Parse(File.ReadAllText(Path.Combine(TemplateInstantiation.TemplateFolder, ".template.config", "template.json")));
        var symbols = template.RootElement.GetProperty("symbols");
        var repoRoot = Path.GetFullPath(Path.Combine(TemplateInstantiation.TemplateFolder, "..", "..", "..", ".."));
        var props = XDocument.Load(Path.Combine(repoRoot, "Directory.Build.props"));
        var versionPrefix = props.Descendants("VersionPrefix").Single().Value;

        Assert.Equal(versionPrefix, symbols.GetProperty("SdkVersion").GetProperty("defaultValue").GetString());
        Assert.Equal("wsgi.py", symbols.GetProperty("EntryPoint").GetProperty("defaultValue").GetString());
        Assert.Equal("wsgi-app", template.RootElement.GetProperty("shortName").GetString());
        Assert.Equal("ModWsgi.Templates.WsgiApp", template.RootElement.GetProperty("identity").GetString());
    }

    private static string? Property(XDocument proj, string name) =>
        proj.Root!.Elements("PropertyGroup").Where(g => g.Attribute("Condition") is null).Elements(name).SingleOrDefault()?.Value;

    private static string Listing(TemplateInstantiation project) =>
        Directory.Exists(project.OutputDirectory)
            ? string.Join(", ", Directory.EnumerateFileSystemEntries(project.OutputDirectory, "*", SearchOption.AllDirectories)
                .Select(p => Path.GetRelativePath(project.OutputDirectory, p)))
            : "(no output folder)";
}
