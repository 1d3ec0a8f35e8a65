using Microsoft.Build.Framework;
using ModWsgi.Core;
using ModWsgi.Core.Diagnostics;

namespace ModWsgi.Sdk.Tasks;

/// <summary>
/// The image's repository, tags and names as the build will give them (Core's tag rules: ContainerImageTags,
/// else ContainerImageTag or Version expanded, else latest), for targets that run before or after PublishImage.
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

    [Output] public string? Repository { get; private set; }
    [Output] public string[]? ImageTags { get; private set; }
    /// <summary>registry/repository:tag when pushing, else repository:tag: the names PublishImage will output.</summary>
    [Output] public string[]? ImageNames { get; private set; }

    public override bool Execute()
    {
        try
        {
            // Only naming settings are read; the rest keep their defaults, which do not affect names.
            var options = ProjectSettings.From(TaskSettings.Read(this)).ToOptions(ProjectDirectory, runtimeDirectory: "", baseImageRecipe: null);
            foreach (var tag in options.Tags)
                Core.Engine.ImageReference.Create(options.Repository, tag);
            Repository = options.Repository;
            ImageTags = options.Tags.ToArray();
            ImageNames = options.ImageNames().ToArray();
        }
        catch (ModWsgiException ex)
        {
            Log.LogError(null, ex.Code.Id, null, ProjectFile, 0, 0, 0, 0, ex.Message);
        }
        return !Log.HasLoggedErrors;
    }
}
