namespace ModWsgi.EndToEnd.Tests;

/// <summary>
/// Packs this checkout's ModWsgi.Sdk into a private feed once per run, with a private NuGet package folder:
/// NuGet caches an SDK package by id and version, so a shared cache would silently serve a stale SDK.
/// </summary>
public sealed class SdkFixture : IDisposable
{
    private readonly TempDirectory _root = new("modwsgi-sdk");
    private readonly HashSet<string> _stageImagesBefore = StageImages();

    public SdkFixture()
    {
        Feed = Path.Combine(_root.Path, "feed");
        PackagesFolder = Path.Combine(_root.Path, "nuget-packages");
        var repo = RepositoryRootAttribute.Get();
        var pack = Run.Process("dotnet", ["pack", Path.Combine(repo, "sdk/ModWsgi.Sdk/ModWsgi.Sdk.csproj"), "-c", "Release",
            "-o", Feed, "-nodeReuse:false", "-v:q", "-nologo"], timeout: TimeSpan.FromMinutes(5));
        if (pack.ExitCode != 0)
            throw new InvalidOperationException("dotnet pack of the SDK failed:\n" + pack.Output);
        SdkVersion = Directory.GetFiles(Feed, "ModWsgi.Sdk.*.nupkg").Select(Path.GetFileNameWithoutExtension).Single()!["ModWsgi.Sdk.".Length..];
        _tool = new Lazy<string>(InstallTool);
    }

    private string InstallTool()
    {
        var repo = RepositoryRootAttribute.Get();
        var pack = Run.Process("dotnet", ["pack", Path.Combine(repo, "src/ModWsgi.Cli/ModWsgi.Cli.csproj"), "-c", "Release",
            "-o", Feed, "-nodeReuse:false", "-v:q", "-nologo"], timeout: TimeSpan.FromMinutes(5));
        if (pack.ExitCode != 0)
            throw new InvalidOperationException("dotnet pack of the tool failed:\n" + pack.Output);
        var toolPath = Path.Combine(_root.Path, "tools");
        var install = Run.Process("dotnet", ["tool", "install", "ModWsgi.Cli", "--version", SdkVersion, "--tool-path", toolPath, "--add-source", Feed],
            env: new Dictionary<string, string?> { ["NUGET_PACKAGES"] = PackagesFolder }, timeout: TimeSpan.FromMinutes(5));
        if (install.ExitCode != 0)
            throw new InvalidOperationException("dotnet tool install of ModWsgi.Cli failed:\n" + install.Output);
        return Path.Combine(toolPath, "modwsgi");
    }

    public string Feed { get; }

    private readonly Lazy<string> _tool;

    /// <summary>
    /// The `modwsgi` command as a user gets it: this checkout's ModWsgi.Cli packed into the feed and installed
    /// with `dotnet tool install`, which picks the package for this machine's RID. Packed on first use.
    /// </summary>
    public string ToolCommand => _tool.Value;

    public string PackagesFolder { get; }

    public string SdkVersion { get; }

    /// <summary>Writes NAME.proj (with this run's SDK version) and a nuget.config naming the test feed.</summary>
    public string WriteProject(string directory, string name, string body = "")
    {
        WriteNuGetConfig(directory);
        var project = Path.Combine(directory, name + ".proj");
        File.WriteAllText(project, $"""
            <Project Sdk="ModWsgi.Sdk/{SdkVersion}">
            {body}
            </Project>
            """);
        return project;
    }

    /// <summary>A nuget.config that resolves ModWsgi.Sdk from this run's feed only.</summary>
    public void WriteNuGetConfig(string directory) =>
        File.WriteAllText(Path.Combine(directory, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="modwsgi-test-feed" value="{Feed}" />
              </packageSources>
            </configuration>
            """);

    /// <summary>This run's build cache: tests never touch the user's ~/.cache/modwsgi.</summary>
    public string CacheDirectory => Path.Combine(_root.Path, "cache");

    /// <summary>`dotnet build PROJECT -t:PublishImage` as a user runs it, with the normal-verbosity log returned.</summary>
    public ProcessResult PublishImage(string project, params string[] properties) => PublishImage(project, null, properties);

    /// <summary><see cref="PublishImage(string, string[])"/>, failing the test with the build's output unless it succeeded.</summary>
    public ProcessResult PublishImageOk(string project, params string[] properties)
    {
        var build = PublishImage(project, properties);
        Assert.True(build.ExitCode == 0, "PublishImage failed:\n" + build.Output);
        return build;
    }

    public ProcessResult PublishImage(string project, IReadOnlyDictionary<string, string?>? environment, params string[] properties) =>
        PublishImage(project, environment, [], properties);

    /// <param name="arguments">Further `dotnet build` switches as given, e.g. -bl.</param>
    public ProcessResult PublishImage(string project, IReadOnlyDictionary<string, string?>? environment, IReadOnlyList<string> arguments, params string[] properties)
    {
        List<string> args = ["build", project, "-t:PublishImage", "-nodeReuse:false", "-tl:off", "-v:n", "-nologo", .. arguments];
        if (!properties.Any(p => p.StartsWith("WsgiCacheDirectory=", StringComparison.Ordinal)))
            args.Add("-p:WsgiCacheDirectory=" + CacheDirectory);
        args.AddRange(properties.Select(p => "-p:" + p));
        var env = new Dictionary<string, string?> { ["NUGET_PACKAGES"] = PackagesFolder, ["MSBUILDDISABLENODEREUSE"] = "1" };
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
            env[name] = value;
        return Run.Process("dotnet", args, workingDirectory: Path.GetDirectoryName(project), env: env, timeout: TimeSpan.FromMinutes(10));
    }

    public void Dispose()
    {
        // Build hooks leave their dependency stage (modwsgi/stage:*) in the engine as a cache: not after tests.
        foreach (var stage in StageImages().Except(_stageImagesBefore))
            Run.Docker("rmi", "-f", stage);
        _root.Dispose();
    }

    private static HashSet<string> StageImages()
    {
        var listed = Run.Docker("images", "modwsgi/stage", "--format", "{{.Repository}}:{{.Tag}}");
        return listed.ExitCode == 0 ? listed.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet() : [];
    }
}

/// <summary>What a PublishImage log reports at its end ("image id: …", "manifest digest: …", "archive: …").</summary>
public static class BuildLog
{
    public static string Reported(ProcessResult build, string what)
    {
        var line = build.StdOut.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith(what + ": ", StringComparison.Ordinal));
        Assert.True(line is not null, $"The build log does not report its {what}:\n{build.StdOut}");
        return line![(what.Length + 2)..];
    }
}

[CollectionDefinition(Name)]
public sealed class EndToEndCollection : ICollectionFixture<SdkFixture>
{
    // One collection: builds share two cores and one engine, so they run one at a time.
    public const string Name = "end-to-end";
}
