using System.Xml;
using Microsoft.Build.Construction;
using Microsoft.Build.Evaluation;
using Microsoft.Build.Execution;
using Microsoft.Build.Framework;

namespace ModWsgi.Sdk.Tests;

/// <summary>
/// A small stand-in for MSBuild.ProjectCreation (not obtainable here): a project in a temp folder whose body is
/// given as XML, importing this repository's Sdk.props and Sdk.targets directly (as Sdk="ModWsgi.Sdk" would the
/// package's), evaluated or built in-process by the located .NET SDK's MSBuild.
/// </summary>
internal sealed class SdkProject : IDisposable
{
    private readonly ProjectCollection _collection;

    public SdkProject(string body, string name = "site", IDictionary<string, string>? globalProperties = null, Action<string>? prepareFolder = null)
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("modwsgi-sdk-").FullName;
        ProjectFolder = Path.Combine(Directory, "app");
        System.IO.Directory.CreateDirectory(ProjectFolder);
        prepareFolder?.Invoke(Directory);
        var xml = $"""
            <Project>
              <Import Project="{Path.Combine(MSBuildSetup.SdkDirectory, "Sdk.props")}" />
              {body}
              <Import Project="{Path.Combine(MSBuildSetup.SdkDirectory, "Sdk.targets")}" />
            </Project>
            """;
        var properties = new Dictionary<string, string>(globalProperties ?? new Dictionary<string, string>())
        {
            // The tasks of this very build, not a packed SDK's.
            ["_ModWsgiTasksAssembly"] = typeof(Tasks.PublishImage).Assembly.Location,
        };
        _collection = new ProjectCollection(properties);
        using var reader = XmlReader.Create(new StringReader(xml));
        var root = ProjectRootElement.Create(reader, _collection);
        root.FullPath = Path.Combine(ProjectFolder, name + ".proj");
        Project = new Project(root, properties, toolsVersion: null, _collection);
    }

    /// <summary>The temp folder above the project folder (for Directory.Build.props and the like).</summary>
    public string Directory { get; }

    public string ProjectFolder { get; }

    public Project Project { get; }

    public string Property(string name) => Project.GetPropertyValue(name);

    public IReadOnlyList<string> Items(string name) => Project.GetItems(name).Select(i => i.EvaluatedInclude).ToArray();

    /// <summary>Runs targets in-process; returns the instance (for outputs) and what was logged.</summary>
    public (bool Success, ProjectInstance Instance, RecordingLogger Log) Build(params string[] targets)
    {
        var instance = Project.CreateProjectInstance();
        var logger = new RecordingLogger();
        var success = instance.Build(targets, [logger]);
        return (success, instance, logger);
    }

    public void Dispose()
    {
        _collection.UnloadAllProjects();
        _collection.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}

/// <summary>Targets started (in order), messages and errors.</summary>
internal sealed class RecordingLogger : ILogger
{
    public List<string> TargetsStarted { get; } = [];
    public List<string> Messages { get; } = [];
    public List<BuildErrorEventArgs> Errors { get; } = [];

    public LoggerVerbosity Verbosity { get; set; } = LoggerVerbosity.Normal;
    public string? Parameters { get; set; }

    public void Initialize(IEventSource eventSource)
    {
        eventSource.TargetStarted += (_, e) => TargetsStarted.Add(e.TargetName);
        eventSource.MessageRaised += (_, e) => Messages.Add(e.Message ?? "");
        eventSource.ErrorRaised += (_, e) => Errors.Add(e);
    }

    public void Shutdown() { }
}
