using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Xml;
using System.Xml.Linq;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Settings;

namespace ModWsgi.Cli;

/// <summary>A ModWsgi.Sdk project file and the settings its evaluation gave.</summary>
internal sealed record ProjectFile(string Path, SettingValues Values)
{
    /// <summary>The evaluation was reused (a build server's earlier one, nothing it read has changed).</summary>
    public bool Reused { get; init; }

    /// <summary>MSBuildProjectName.</summary>
    public string Name => System.IO.Path.GetFileNameWithoutExtension(Path);

    /// <summary>The values, typed (the SDK's MSBuild-visible defaults included, as PublishImage gets them).</summary>
    public Core.ProjectSettings Settings => Core.ProjectSettings.From(Values);
}

/// <summary>
/// Reads a ModWsgi.Sdk <c>.proj</c> the way <c>dotnet build</c> does: by evaluating it with MSBuild (the .NET
/// SDK's, found by Microsoft.Build.Locator), so conditions, imports, Directory.Build.props and -p:NAME=VALUE
/// mean the same in both front ends, and every <see cref="SettingsTable"/> setting is read from the result.
/// A build server evaluates a project once and reuses the result while the project, its imports, the
/// Directory.Build.* candidates above it, the global properties and the environment stay the same.
/// </summary>
internal static class ProjectEvaluator
{
    /// <summary>Read and written under <see cref="ProcessEnvironment"/>'s lock only.</summary>
    private static readonly Dictionary<string, CachedEvaluation> Cache = new(StringComparer.Ordinal);

    /// <summary>The folder's ModWsgi.Sdk project, evaluated, or null when it has none; several is a usage error, as it is for MSBuild.</summary>
    /// <param name="variables">The environment the evaluation sees (MSBuild reads it as properties); null for this process's.</param>
    public static ProjectFile? Find(string directory, IReadOnlyDictionary<string, string> globalProperties, IReadOnlyDictionary<string, string?>? variables = null)
    {
        var candidates = Directory.Exists(directory)
            ? Directory.GetFiles(directory, "*.proj").Where(UsesModWsgiSdk).Order(StringComparer.Ordinal).ToArray()
            : [];
        return candidates.Length switch
        {
            0 => null,
            1 => Evaluate(candidates[0], globalProperties, variables),
            _ => throw new UsageException(
                $"'{directory}' has several ModWsgi.Sdk project files ({string.Join(", ", candidates.Select(Path.GetFileName))}): keep one, or give the settings as options in a folder without a .proj."),
        };
    }

    public static ProjectFile Evaluate(string path, IReadOnlyDictionary<string, string> globalProperties, IReadOnlyDictionary<string, string?>? variables = null)
    {
        path = Path.GetFullPath(path);
        // First: registering sets MSBuild's own variables in the process, which every evaluation then keeps.
        MSBuildRegistration.EnsureRegistered(Path.GetDirectoryName(path)!);
        return ProcessEnvironment.While(variables, environment =>
        {
            var key = CacheKey(path, globalProperties, environment);
            if (Cache.TryGetValue(path, out var cached) && cached.Key == key && cached.Inputs.All(input => input.Unchanged()))
                return new ProjectFile(path, cached.Values) { Reused = true };
            var (values, imports) = MSBuildEvaluation.Evaluate(path, globalProperties, SdkFiles.SdkDirectory);
            var inputs = imports.Append(path).Concat(DirectoryBuildCandidates(path)).Distinct(StringComparer.Ordinal)
                .Select(FileStamp.Of).ToArray();
            Cache[path] = new CachedEvaluation(key, values, inputs);
            return new ProjectFile(path, values);
        });
    }

    /// <summary>Directory.Build.props/.targets in the project's folder and above: one created later changes the evaluation.</summary>
    private static IEnumerable<string> DirectoryBuildCandidates(string projectPath)
    {
        for (var directory = new DirectoryInfo(Path.GetDirectoryName(projectPath)!); directory is not null; directory = directory.Parent)
        {
            yield return Path.Combine(directory.FullName, "Directory.Build.props");
            yield return Path.Combine(directory.FullName, "Directory.Build.targets");
        }
    }

    /// <summary>Everything else evaluation reads: global properties, the environment (MSBuild properties too) and the SDK copy.</summary>
    private static string CacheKey(string path, IReadOnlyDictionary<string, string> globalProperties, IReadOnlyDictionary<string, string?> variables)
    {
        var text = new StringBuilder(path).Append('\n').Append(SdkFiles.SdkDirectory).Append('\n');
        foreach (var (name, value) in globalProperties.OrderBy(p => p.Key, StringComparer.OrdinalIgnoreCase))
            text.Append(name).Append('=').Append(value).Append('\n');
        foreach (var (name, value) in variables.OrderBy(v => v.Key, StringComparer.Ordinal))
            text.Append(name).Append('=').Append(value).Append('\n');
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>Project Sdk="ModWsgi.Sdk[/version]" (possibly in a ';' list), an Sdk element, or an Import of it.</summary>
    private static bool UsesModWsgiSdk(string path)
    {
        XElement root;
        try
        {
            root = XDocument.Load(path).Root!;
        }
        catch (XmlException)
        {
            // Only a file naming ModWsgi.Sdk is ours to report: evaluate it, and MSBuild says what is wrong.
            return File.ReadAllText(path).Contains("ModWsgi.Sdk", StringComparison.OrdinalIgnoreCase);
        }
        return Names(root.Attribute("Sdk")?.Value)
            || root.Elements().Any(e => e.Name.LocalName == "Sdk" && Names(e.Attribute("Name")?.Value))
            || root.Elements().Any(e => e.Name.LocalName == "Import" && Names(e.Attribute("Sdk")?.Value));
    }

    /// <summary>Whether an Sdk attribute's ';' list names ModWsgi.Sdk (any version).</summary>
    internal static bool Names(string? sdks) => (sdks ?? "").Split(';', StringSplitOptions.TrimEntries)
        .Any(s => s.Split('/')[0].Equals("ModWsgi.Sdk", StringComparison.OrdinalIgnoreCase));

    private sealed record CachedEvaluation(string Key, SettingValues Values, IReadOnlyList<FileStamp> Inputs);

    private sealed record FileStamp(string Path, long Ticks, long Length)
    {
        public static FileStamp Of(string path)
        {
            var info = new FileInfo(path);
            return info.Exists ? new FileStamp(path, info.LastWriteTimeUtc.Ticks, info.Length) : new FileStamp(path, -1, -1);
        }

        public bool Unchanged() => Of(Path) == this;
    }
}

/// <summary>
/// MSBuild takes environment variables as properties from the process environment only: no evaluation API
/// accepts another set. So a build server evaluating a client's project gives the process the client's
/// variables for the evaluation alone, one evaluation at a time, and puts its own back afterwards. Core's build
/// never reads the process environment (it gets a <see cref="Core.BuildEnvironment"/>). Every evaluation (and the
/// evaluation cache) runs under one lock, so none reads the environment while another has it swapped.
/// </summary>
internal static class ProcessEnvironment
{
    private static readonly Lock Gate = new();

    /// <summary>Set by Microsoft.Build.Locator's registration to point MSBuild at the .NET SDK: the process's stay.</summary>
    private static readonly string[] LocatorVariables = ["MSBUILD_EXE_PATH", "MSBuildExtensionsPath", "MSBuildSDKsPath"];

    public static IReadOnlyDictionary<string, string?> Snapshot() =>
        Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value, StringComparer.Ordinal);

    /// <param name="variables">The environment <paramref name="work"/> runs in; null for the process's own.</param>
    public static T While<T>(IReadOnlyDictionary<string, string?>? variables, Func<IReadOnlyDictionary<string, string?>, T> work)
    {
        lock (Gate)
        {
            var own = Snapshot();
            if (variables is null)
                return work(own);
            var target = variables.Where(v => !LocatorVariables.Contains(v.Key, StringComparer.Ordinal))
                .Concat(own.Where(v => LocatorVariables.Contains(v.Key, StringComparer.Ordinal)))
                .ToDictionary(v => v.Key, v => v.Value, StringComparer.Ordinal);
            if (SameAs(own, target))
                return work(own);
            Apply(target, own);
            try
            {
                return work(target);
            }
            finally
            {
                Apply(own, target);
            }
        }
    }

    private static bool SameAs(IReadOnlyDictionary<string, string?> a, IReadOnlyDictionary<string, string?> b) =>
        a.Count == b.Count && a.All(p => b.TryGetValue(p.Key, out var value) && value == p.Value);

    /// <summary>Makes the process environment <paramref name="target"/>, given that it is <paramref name="current"/> now.</summary>
    private static void Apply(IReadOnlyDictionary<string, string?> target, IReadOnlyDictionary<string, string?> current)
    {
        foreach (var name in current.Keys.Where(name => !target.ContainsKey(name)))
            Environment.SetEnvironmentVariable(name, null);
        foreach (var (name, value) in target)
            Environment.SetEnvironmentVariable(name, value);
    }
}

/// <summary>Loads MSBuild from a .NET SDK once per process, before any Microsoft.Build type is touched.</summary>
internal static class MSBuildRegistration
{
    private static readonly Lock Gate = new();

    public static void EnsureRegistered(string projectDirectory)
    {
        lock (Gate)
        {
            if (Microsoft.Build.Locator.MSBuildLocator.IsRegistered)
                return;
            // The SDK `dotnet build` would use in this folder (global.json honoured), newest first.
            var instance = Microsoft.Build.Locator.MSBuildLocator.QueryVisualStudioInstances(new Microsoft.Build.Locator.VisualStudioInstanceQueryOptions
            {
                DiscoveryTypes = Microsoft.Build.Locator.DiscoveryType.DotNetSdk,
                WorkingDirectory = projectDirectory,
            }).FirstOrDefault()
                ?? throw new ModWsgiException(DiagnosticCodes.ProjectNotEvaluable,
                    "modwsgi reads a .proj with the MSBuild of a .NET SDK, and no .NET SDK was found: install one (e.g. dotnet-sdk-10.0), or build a folder without a .proj and give the settings as options.");
            Microsoft.Build.Locator.MSBuildLocator.RegisterInstance(instance);
        }
    }
}

/// <summary>
/// The MSBuild part, kept apart so no Microsoft.Build type is loaded before <see cref="MSBuildRegistration"/>.
///
/// How the project's Sdk="ModWsgi.Sdk/0.1.0" is resolved: the project XML is loaded in memory and the reference
/// is replaced by explicit imports of the Sdk.props/Sdk.targets that ship inside this tool (Sdk/ next to
/// modwsgi.dll) — exactly the implicit imports MSBuild adds for an Sdk attribute (props first, targets last).
/// Not MSBuild's SDK resolvers: for a versioned reference the NuGet resolver would restore the ModWsgi.Sdk package
/// from a feed (slow, and the feed may not have it), and an MSBuildSDKsPath override would hide the .NET SDK's own
/// SDKs from projects that also use them. The tool builds with its own Core, so its own targets are the ones
/// that match; other SDKs a project names still resolve as usual. The file on disk is never changed.
/// </summary>
internal static class MSBuildEvaluation
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static (SettingValues Values, IReadOnlyList<string> Imports) Evaluate(string path, IReadOnlyDictionary<string, string> globalProperties, string sdkDirectory)
    {
        var properties = globalProperties.ToDictionary(p => p.Key, p => p.Value, StringComparer.OrdinalIgnoreCase);
        // A collection per evaluation: MSBuild snapshots the environment per collection, and a build server's
        // environment is the client's of the moment.
        using var collection = new Microsoft.Build.Evaluation.ProjectCollection(properties);
        try
        {
            Microsoft.Build.Construction.ProjectRootElement root;
            using (var reader = XmlReader.Create(path))
                root = Microsoft.Build.Construction.ProjectRootElement.Create(reader, collection, preserveFormatting: false);
            root.FullPath = path; // MSBuildProjectName/Directory and error locations are the user's file
            PointAtThisToolsSdk(root, sdkDirectory);
            var project = new Microsoft.Build.Evaluation.Project(root, properties, toolsVersion: null, collection);

            var values = new SettingValues();
            foreach (var setting in SettingsTable.All)
            {
                if (setting.Kind == SettingKind.Item)
                    values.SetItems(setting, project.GetItems(setting.Name).Select(item => new SettingItem(item.EvaluatedInclude,
                        setting.Metadata.ToDictionary(m => m, item.GetMetadataValue, StringComparer.Ordinal))));
                else
                    values.SetText(setting, project.GetPropertyValue(setting.Name));
            }
            return (values, project.Imports.Select(i => i.ImportedProject.FullPath).ToArray());
        }
        catch (Microsoft.Build.Exceptions.InvalidProjectFileException ex)
        {
            throw new ModWsgiException(DiagnosticCodes.ProjectNotEvaluable, $"MSBuild cannot evaluate '{path}': {ex.Message} Fix the project file.");
        }
        catch (XmlException ex)
        {
            throw new ModWsgiException(DiagnosticCodes.ProjectNotEvaluable, $"MSBuild cannot evaluate '{path}': {ex.Message} Fix the project file.");
        }
    }

    private static void PointAtThisToolsSdk(Microsoft.Build.Construction.ProjectRootElement root, string sdkDirectory)
    {
        var props = Path.Combine(sdkDirectory, "Sdk.props");
        var targets = Path.Combine(sdkDirectory, "Sdk.targets");
        var implicitImports = false;
        if (ProjectEvaluator.Names(root.Sdk))
        {
            root.Sdk = string.Join(';', root.Sdk.Split(';', StringSplitOptions.TrimEntries).Where(s => !ProjectEvaluator.Names(s)));
            implicitImports = true;
        }
        foreach (var sdk in root.Children.OfType<Microsoft.Build.Construction.ProjectSdkElement>().Where(s => ProjectEvaluator.Names(s.Name)).ToArray())
        {
            root.RemoveChild(sdk);
            implicitImports = true;
        }
        if (implicitImports)
        {
            root.PrependChild(root.CreateImportElement(props));
            root.AppendChild(root.CreateImportElement(targets));
        }
        // <Import Project="Sdk.props" Sdk="ModWsgi.Sdk" />: the same import of this tool's file (an import's Sdk cannot be cleared, so it is replaced).
        foreach (var import in root.Imports.Where(i => ProjectEvaluator.Names(i.Sdk)).ToArray())
        {
            var replacement = root.CreateImportElement(Path.Combine(sdkDirectory, import.Project));
            replacement.Condition = import.Condition;
            import.Parent.InsertBeforeChild(replacement, import);
            import.Parent.RemoveChild(import);
        }
    }
}
