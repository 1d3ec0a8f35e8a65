using ModWsgi.Core.Cache;
using ModWsgi.Core.Layers;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Pipeline;
using ModWsgi.Core.Project;
using ModWsgi.Core.Steps;

namespace ModWsgi.Core.Steps;

/// <summary>
/// What the project asks for, decided on the host before any container exists: the first step's result,
/// which every later step reads and none changes.
/// </summary>
/// <param name="Options">The build's options.</param>
/// <param name="Base">The base image, as the engine reported it.</param>
/// <param name="Git">The checkout the project is in (labels, default epoch).</param>
/// <param name="Build">The seed's build steps: dependency phase and build hook.</param>
/// <param name="Detected">The server the image starts, and the Django project when there is one.</param>
/// <param name="Files">The project's files as the image sees them: .dockerignore-filtered, never the build's own files.</param>
/// <param name="Epoch">The application layer's and config's time (SOURCE_DATE_EPOCH, commit time or the fixed epoch).</param>
/// <param name="RuntimeScripts">The SDK's in-image scripts on disk.</param>
public sealed record ImagePlan(
    ImageBuildOptions Options,
    BaseImage Base,
    GitCheckout Git,
    BuildPlan Build,
    DetectedProject Detected,
    ProjectFiles Files,
    DateTimeOffset Epoch,
    IReadOnlyList<string> RuntimeScripts)
{
    /// <summary>What this build's containers are labelled with (one build id per plan: a plan is made once per build).</summary>
    public BuildContainerLabels ContainerLabels { get; init; } = BuildContainerLabels.NewBuild(Options.ProjectDirectory);

    /// <summary>The steps that need the whole app with its dependencies installed: Django's, then the build hook.</summary>
    public IReadOnlyList<BuildStep> ApplicationSteps { get; } =
    [
        .. Detected.Django is { } django ? [DjangoSupport.Step(django, Options.DjangoCollectStatic)] : Array.Empty<BuildStep>(),
        .. Build.BuildHook is { } hook ? [hook] : Array.Empty<BuildStep>(),
    ];
}
