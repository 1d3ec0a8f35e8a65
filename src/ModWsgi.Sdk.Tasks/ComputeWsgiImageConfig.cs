using Microsoft.Build.Framework;
using ModWsgi.Core;
using ModWsgi.Core.Diagnostics;

namespace ModWsgi.Sdk.Tasks;

/// <summary>
/// The image's repository, tags and names as the build will give them (Core's tag rules: ContainerImageTags,
/// else ContainerImageTag or Version expanded, else latest) and its base image, for targets that run before or after PublishImage.
/// </summary>
public sealed class ComputeWsgiImageConfig : Microsoft.Build.Utilities.Task
{
    [Required] public string ProjectDirectory { get; set; } = "";
    public string? ProjectFile { get; set; }
    public string? ContainerRepository { get; set; }
    public string? ContainerImageTag { get; set; }
    public string[]? ContainerImageTags { get; set; }
    public string? Version { get; set; }
    public string? ContainerRegistry { get; set; }
    public string? ContainerBaseImage { get; set; }
    public string? WsgiPythonVersion { get; set; }

    [Output] public string? Repository { get; private set; }
    [Output] public string[]? ImageTags { get; private set; }
    /// <summary>registry/repository:tag when pushing, else repository:tag: the names PublishImage will output.</summary>
    [Output] public string[]? ImageNames { get; private set; }
    /// <summary>The base image the build starts from (ContainerBaseImage, else the one giving the project's Python).</summary>
    [Output] public string? BaseImage { get; private set; }
    /// <summary>The Debian suite of an SDK base image (bookworm, trixie): build-base-image.sh --suite; blank for another image.</summary>
    [Output] public string? BaseImageSuite { get; private set; }

    public override bool Execute()
    {
        try
        {
            // Only naming and base image settings are read; the rest keep their defaults, which do not affect them.
            var options = ProjectSettings.From(TaskSettings.Read(this)).ToOptions(ProjectDirectory, runtimeDirectory: "", baseImageRecipe: null);
            foreach (var tag in options.Tags)
                Core.Engine.ImageReference.Create(options.Repository, tag);
            Repository = options.Repository;
            ImageTags = options.Tags.ToArray();
            ImageNames = options.ImageNames().ToArray();
            BaseImage = options.BaseImage;
            BaseImageSuite = options.Python?.Known?.Suite;
        }
        catch (ModWsgiException ex)
        {
            Log.LogError(null, ex.Code.Id, null, ProjectFile, 0, 0, 0, 0, ex.Message);
        }
        return !Log.HasLoggedErrors;
    }
}
