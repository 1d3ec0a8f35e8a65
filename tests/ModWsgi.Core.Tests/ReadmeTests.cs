using ModWsgi.Core.Diagnostics;

namespace ModWsgi.Core.Tests;

/// <summary>The README's diagnostics table is the user's reference: it must list every code the product emits.</summary>
public sealed class ReadmeTests
{
    [Fact]
    public void Readme_lists_every_diagnostic_code_with_its_title()
    {
        var readme = File.ReadAllText(Path.Combine(RepositoryRoot(), "README.md"));
        foreach (var code in DiagnosticCodes.All)
            Assert.Contains($"| {code.Id} | {code.Title} |", readme);
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "ModWsgi.Sdk.sln")))
                return directory.FullName;
        }
        throw new InvalidOperationException("ModWsgi.Sdk.sln not found above " + AppContext.BaseDirectory);
    }
}
