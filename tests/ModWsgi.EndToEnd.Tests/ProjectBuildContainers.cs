using ModWsgi.Core.Steps;

namespace ModWsgi.EndToEnd.Tests;

/// <summary>
/// The build containers of one project's builds, found by the label every build container carries: never by a
/// name pattern, which would also see other runs' builds sharing the engine.
/// </summary>
public static class ProjectBuildContainers
{
    /// <summary>The ids (running or not) of build containers of the project in <paramref name="projectDirectory"/>, on the engine DOCKER_HOST names.</summary>
    public static string Ids(string projectDirectory, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var result = Run.Process("docker", ["ps", "-a", "-q", "--no-trunc", "--filter", Filter(projectDirectory)], env: environment);
        Assert.True(result.ExitCode == 0, result.Output);
        return result.StdOut.Trim();
    }

    public static string Filter(string projectDirectory) =>
        $"label={BuildContainerLabels.ProjectLabel}={BuildContainerLabels.ProjectHash(projectDirectory)}";
}
