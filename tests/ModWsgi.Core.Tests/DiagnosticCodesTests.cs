using System.Text.RegularExpressions;
using ModWsgi.Core.Diagnostics;

namespace ModWsgi.Core.Tests;

public sealed class DiagnosticCodesTests
{
    [Fact]
    public void Table_HasAtLeastTenCodes() =>
        Assert.True(DiagnosticCodes.All.Count >= 10, $"only {DiagnosticCodes.All.Count} codes");

    [Fact]
    public void Numbers_AreUnique()
    {
        var duplicates = DiagnosticCodes.All.GroupBy(c => c.Number).Where(g => g.Count() > 1).Select(g => g.Key);

        Assert.Empty(duplicates);
    }

    [Fact]
    public void Numbers_AreInTheDocumentedRanges() =>
        Assert.All(DiagnosticCodes.All, c => Assert.InRange(c.Number, 1000, 5999));

    [Fact]
    public void Ids_AreModwsgiAndFourDigits() =>
        Assert.All(DiagnosticCodes.All, c => Assert.Matches(new Regex("^MODWSGI[0-9]{4}$"), c.Id));

    [Fact]
    public void Titles_AreNotEmpty() =>
        Assert.All(DiagnosticCodes.All, c => Assert.False(string.IsNullOrWhiteSpace(c.Title), $"{c.Id} has no title"));
}
