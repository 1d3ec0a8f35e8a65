using System.Globalization;
using System.Text;
using ModWsgi.Core.Oci;

namespace ModWsgi.Core.Steps;

/// <summary>
/// The labels every build container carries: which project and build made it and which process runs that build,
/// so a later build can find (by label filter, never by name) and remove what an earlier one left behind.
/// </summary>
/// <param name="Project">sha256 (hex) of the project folder's full path: <see cref="ProjectHash"/>.</param>
/// <param name="BuildId">One per build (every container of that build carries it).</param>
/// <param name="Client">The process the build runs in.</param>
public sealed record BuildContainerLabels(string Project, string BuildId, BuildClient Client)
{
    /// <summary>Marks a build container (its value: the build id); the filter every sweep lists by.</summary>
    public const string BuildIdLabel = "modwsgi.build.id";
    public const string ProjectLabel = "modwsgi.build.project";
    public const string PidLabel = "modwsgi.build.client.pid";
    public const string StartTimeLabel = "modwsgi.build.client.start-time";
    public const string BootIdLabel = "modwsgi.build.client.boot-id";
    public const string PidNamespaceLabel = "modwsgi.build.client.pid-ns";
    public const string HostLabel = "modwsgi.build.client.host";

    /// <summary>A new build of the project in <paramref name="projectDirectory"/>, run by this process.</summary>
    public static BuildContainerLabels NewBuild(string projectDirectory) =>
        new(ProjectHash(projectDirectory), Guid.NewGuid().ToString("N"), BuildClient.Current);

    /// <summary>What the project label holds for a folder: the same on every run, so a test or a person can filter by it.</summary>
    public static string ProjectHash(string projectDirectory) =>
        Digests.Hex(Digests.Sha256(Encoding.UTF8.GetBytes(Path.TrimEndingDirectorySeparator(Path.GetFullPath(projectDirectory)))));

    public IReadOnlyDictionary<string, string> ToLabels()
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [BuildIdLabel] = BuildId,
            [ProjectLabel] = Project,
            [PidLabel] = Client.Pid.ToString(CultureInfo.InvariantCulture),
            [HostLabel] = Client.Host,
        };
        if (Client.StartTime is { } start)
            labels[StartTimeLabel] = start;
        if (Client.BootId is { } boot)
            labels[BootIdLabel] = boot;
        if (Client.PidNamespace is { } ns)
            labels[PidNamespaceLabel] = ns;
        return labels;
    }

    /// <summary>The process a container's labels name, or null when they name none (not one of ours, or malformed).</summary>
    public static BuildClient? ClientOf(IReadOnlyDictionary<string, string> labels) =>
        labels.TryGetValue(PidLabel, out var pidText) && int.TryParse(pidText, NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
            ? new BuildClient(pid, labels.GetValueOrDefault(StartTimeLabel), labels.GetValueOrDefault(BootIdLabel),
                labels.GetValueOrDefault(PidNamespaceLabel), labels.GetValueOrDefault(HostLabel) ?? "")
            : null;
}
