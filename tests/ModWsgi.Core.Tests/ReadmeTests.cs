using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Project;
using ModWsgi.Core.Settings;

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

    [Fact]
    public void Readme_and_the_template_dockerignore_list_every_always_excluded_path()
    {
        var root = RepositoryRoot();
        var readme = File.ReadAllText(Path.Combine(root, "README.md"));
        var dockerIgnore = File.ReadAllText(Path.Combine(root, "src/ModWsgi.Templates/content/wsgi-app/.dockerignore"));
        foreach (var listed in AlwaysExcluded.Listed)
        {
            Assert.Contains($"`{listed}`", readme);
            Assert.Contains(listed, dockerIgnore);
        }
        // Listed as comments only: a pattern for them would suggest that removing it ships them.
        Assert.DoesNotContain(dockerIgnore.Split('\n'), line => !line.StartsWith('#') && AlwaysExcluded.Matches(line.Trim().Trim('/')));
    }

    [Fact]
    public void Readme_property_table_is_the_settings_table()
    {
        var readme = File.ReadAllText(Path.Combine(RepositoryRoot(), "README.md")).ReplaceLineEndings("\n");
        const string heading = "## Properties and items\n\n";
        var start = readme.IndexOf(heading, StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no '## Properties and items' section");
        var table = string.Join('\n', readme[(start + heading.Length)..].Split('\n').TakeWhile(line => line.StartsWith('|')));
        // On a difference, paste the expected table (from SettingsTable.ReadmeTable()) into README.md.
        Assert.Equal(SettingsTable.ReadmeTable(), table);
    }

    internal static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "ModWsgi.Sdk.sln")))
                return directory.FullName;
        }
        throw new InvalidOperationException("ModWsgi.Sdk.sln not found above " + AppContext.BaseDirectory);
    }
}
