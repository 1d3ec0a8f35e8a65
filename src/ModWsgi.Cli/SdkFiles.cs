namespace ModWsgi.Cli;

/// <summary>
/// The SDK files that ship inside the tool package next to the assembly (the csproj copies them from
/// sdk/ModWsgi.Sdk): found relative to it, so an installed tool and a build output both work.
/// </summary>
internal static class SdkFiles
{
    public static string RuntimeDirectory => Path.Combine(AppContext.BaseDirectory, "runtime");

    /// <summary>The SDK's Sdk.props and Sdk.targets, which the tool evaluates a .proj with.</summary>
    public static string SdkDirectory => Path.Combine(AppContext.BaseDirectory, "Sdk");

    public static string BaseImageRecipe => Path.Combine(AppContext.BaseDirectory, "baseimage", "build-base-image.sh");
}
