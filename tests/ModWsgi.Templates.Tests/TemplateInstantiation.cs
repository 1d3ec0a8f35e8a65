using System.Diagnostics;
using System.Text;

namespace ModWsgi.Templates.Tests;

/// <summary>The outcome of one <c>dotnet</c> command.</summary>
public sealed record DotnetResult(string CommandLine, int ExitCode, string StdOut, string StdErr)
{
    public string Output => StdOut + StdErr;

    public override string ToString() => $"{CommandLine} exited with {ExitCode}:{Environment.NewLine}{Output}";
}

/// <summary>
/// One <c>dotnet new wsgi-app</c> project made from this checkout's template: the template (its folder, or a
/// packed .nupkg) is installed into a private template hive (<c>--debug:custom-hive</c>, so the user's own
/// templates are neither used nor changed), instantiated into a fresh temp folder, and everything is deleted
/// on <see cref="Dispose"/>. Self-contained, so other test projects may link this file
/// (<c>&lt;Compile Include="..\ModWsgi.Templates.Tests\TemplateInstantiation.cs" /&gt;</c>).
/// </summary>
/// <example>
/// <code>
/// using var project = TemplateInstantiation.Create("mysite", "--EntryPoint", "app/serve.py");
/// // project.OutputDirectory holds mysite.proj, app/serve.py, requirements.txt, .docker/action_hooks/*, ...
/// </code>
/// </example>
public sealed class TemplateInstantiation : IDisposable
{
    public const string ShortName = "wsgi-app";
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);

    private TemplateInstantiation(string root, string name)
    {
        Root = root;
        Name = name;
        Hive = Path.Combine(root, "hive");
        OutputDirectory = Path.Combine(root, "out", name);
    }

    /// <summary>The temp folder holding the hive and the output; deleted by <see cref="Dispose"/>.</summary>
    public string Root { get; }

    /// <summary>The private template hive the template was installed into.</summary>
    public string Hive { get; }

    /// <summary>The project name given with <c>-n</c>.</summary>
    public string Name { get; }

    /// <summary>The generated project's folder (<c>-o</c>).</summary>
    public string OutputDirectory { get; }

    /// <summary>The generated project file: <c>NAME.proj</c>.</summary>
    public string ProjectFile => Path.Combine(OutputDirectory, Name + ".proj");

    /// <summary>The output of <c>dotnet new wsgi-app</c>.</summary>
    public DotnetResult Instantiation { get; private set; } = null!;

    /// <summary>The template folder of this checkout: <c>src/ModWsgi.Templates/content/wsgi-app</c>.</summary>
    public static string TemplateFolder { get; } = FindTemplateFolder();

    /// <summary>
    /// Installs <paramref name="templateSource"/> (default: <see cref="TemplateFolder"/>; a .nupkg path works too)
    /// into a new hive and runs <c>dotnet new wsgi-app -n NAME -o OUTPUT [templateArguments]</c>.
    /// Throws with the command's output when either step fails.
    /// </summary>
    public static TemplateInstantiation Create(string name = "mysite", IEnumerable<string>? templateArguments = null, string? templateSource = null)
    {
        var root = Path.Combine(Path.GetTempPath(), "modwsgi-template-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        var instance = new TemplateInstantiation(root, name);
        try
        {
            instance.Install(templateSource ?? TemplateFolder);
            instance.Instantiation = instance.DotnetNewOk(
                [ShortName, "-n", name, "-o", instance.OutputDirectory, "--no-update-check", .. templateArguments ?? []]);
            return instance;
        }
        catch
        {
            instance.Dispose();
            throw;
        }
    }

    /// <inheritdoc cref="Create(string, IEnumerable{string}?, string?)"/>
    public static TemplateInstantiation Create(string name, params string[] templateArguments) => Create(name, templateArguments, null);

    /// <summary>Installs a template source (folder or .nupkg) into this hive.</summary>
    public DotnetResult Install(string templateSource) => DotnetNewOk(["install", templateSource]);

    /// <summary>Runs <c>dotnet new ARGS --debug:custom-hive HIVE</c> and returns its result, whatever the exit code.</summary>
    public DotnetResult DotnetNew(params string[] args) => Dotnet(["new", .. args, "--debug:custom-hive", Hive]);

    /// <summary>Like <see cref="DotnetNew"/>, but throws unless the command succeeded.</summary>
    public DotnetResult DotnetNewOk(params string[] args)
    {
        var result = DotnetNew(args);
        if (result.ExitCode != 0)
            throw new InvalidOperationException(result.ToString());
        return result;
    }

    /// <summary>A path inside the generated project, from a '/'-separated relative path.</summary>
    public string PathOf(string relativePath) => Path.Combine(OutputDirectory, relativePath.Replace('/', Path.DirectorySeparatorChar));

    /// <summary>Runs the dotnet CLI non-interactively (stdin closed, so a prompt can never wait for an answer).</summary>
    public static DotnetResult Dotnet(IEnumerable<string> args, string? workingDirectory = null, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var info = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
        };
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        info.Environment["DOTNET_CLI_UI_LANGUAGE"] = "en";
        // Inherited from `dotnet test`, these would point the child CLI at the test host's MSBuild.
        info.Environment.Remove("MSBuildExtensionsPath");
        info.Environment.Remove("MSBUILD_EXE_PATH");
        info.Environment.Remove("MSBuildSDKsPath");
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
            info.Environment[key] = value;

        var commandLine = "dotnet " + string.Join(' ', info.ArgumentList);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start " + commandLine);
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.StandardInput.Close();
        if (!process.WaitForExit(Timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{commandLine} did not finish in {Timeout}.{Environment.NewLine}{stdout}{stderr}");
        }
        process.WaitForExit();
        return new DotnetResult(commandLine, process.ExitCode, stdout.ToString(), stderr.ToString());
    }

    public void Dispose()
    {
        try
        {
            if (Directory.Exists(Root))
                Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder must not fail a test.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    // The dotnet that runs the tests, so the template engine is the one of the SDK under test.
    private static string DotnetHost()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromEnvironment) && File.Exists(fromEnvironment))
            return fromEnvironment;
        return "dotnet";
    }

    private static string FindTemplateFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "src", "ModWsgi.Templates", "content", "wsgi-app");
            if (File.Exists(Path.Combine(candidate, ".template.config", "template.json")))
                return candidate;
        }
        throw new DirectoryNotFoundException(
            $"src/ModWsgi.Templates/content/wsgi-app was not found above {AppContext.BaseDirectory}.");
    }
}
