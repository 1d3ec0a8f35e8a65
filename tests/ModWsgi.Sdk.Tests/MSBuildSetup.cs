using System.Runtime.CompilerServices;
using Microsoft.Build.Locator;

namespace ModWsgi.Sdk.Tests;

internal static class MSBuildSetup
{
    /// <summary>Before any test touches an MSBuild type: load MSBuild from the .NET SDK that builds this repository.</summary>
#pragma warning disable CA2255 // a test assembly is the place for it: nothing else may load Microsoft.Build first
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void RegisterSdkMSBuild()
    {
        if (!MSBuildLocator.IsRegistered)
            MSBuildLocator.RegisterDefaults();
    }

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public static string SdkDirectory => Path.Combine(RepositoryRoot, "sdk", "ModWsgi.Sdk", "Sdk");

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "ModWsgi.Sdk.sln")))
                return directory.FullName;
        }
        throw new InvalidOperationException("ModWsgi.Sdk.sln not found above " + AppContext.BaseDirectory);
    }
}
