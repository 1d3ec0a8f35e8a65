namespace ModWsgi.Cli;

/// <summary>
/// The SDK files that ship inside the tool package next to the assembly (the csproj copies them from
/// sdk/ModWsgi.Sdk): found relative to it, so an installed tool and a build output both work.
/// </summary>
internal static class SdkFiles
{
    public static string RuntimeDirectory => Path.Combine(AppContext.BaseDirectory, "runtime");

    public static string BaseImageRecipe => Path.Combine(AppContext.BaseDirectory, "baseimage", "build-base-image.sh");
}
