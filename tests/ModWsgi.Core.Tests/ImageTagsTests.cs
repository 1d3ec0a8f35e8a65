using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Tags;

namespace ModWsgi.Core.Tests;

public sealed class ImageTagsTests
{
    [Theory]
    [InlineData("1.2.3", new[] { "1.2.3", "1.2", "1" })]
    [InlineData("0.1.0", new[] { "0.1.0", "0.1", "0" })]
    [InlineData("10.20.30", new[] { "10.20.30", "10.20", "10" })]
    [InlineData("1.2.3+build.5", new[] { "1.2.3", "1.2", "1" })]
    [InlineData("1.2.3-beta.1", new[] { "1.2.3-beta.1" })]
    [InlineData("1.2.3-beta.1+sha.abc", new[] { "1.2.3-beta.1" })]
    [InlineData("latest", new[] { "latest" })]
    [InlineData("main", new[] { "main" })]
    [InlineData("1.2", new[] { "1.2" })]
    [InlineData("1.2.3.4", new[] { "1.2.3.4" })]
    [InlineData("v1.2.3", new[] { "v1.2.3" })]
    public void Expand(string tag, string[] expected) => Assert.Equal(expected, ImageTags.Expand(tag));

    [Fact]
    public void Resolve_TagsListWinsOverTagAndVersion_AndIsTakenLiterally()
    {
        var tags = ImageTags.Resolve("9.9.9", ["1.2.3", "stable"], "5.0.0");

        Assert.Equal(["1.2.3", "stable"], tags);
    }

    [Fact]
    public void Resolve_TagsListIsExpandedWhenAsked()
    {
        var tags = ImageTags.Resolve(null, ["2.0.1", "stable", "2.1.0"], null, expandVersions: true);

        Assert.Equal(["2.0.1", "2.0", "2", "stable", "2.1.0", "2.1"], tags);
    }

    [Fact]
    public void Resolve_TagWinsOverVersion_AndIsExpanded() =>
        Assert.Equal(["3.4.5", "3.4", "3"], ImageTags.Resolve("3.4.5", null, "1.0.0"));

    [Fact]
    public void Resolve_VersionIsUsedWhenNoTagIsSet() =>
        Assert.Equal(["1.0.0", "1.0", "1"], ImageTags.Resolve(null, null, "1.0.0"));

    [Fact]
    public void Resolve_BlankInputsCountAsUnset() =>
        Assert.Equal(["0.2.0", "0.2", "0"], ImageTags.Resolve("  ", [" ", ""], "0.2.0"));

    [Fact]
    public void Resolve_NothingSet_IsLatest()
    {
        Assert.Equal(["latest"], ImageTags.Resolve(null, null, null));
        Assert.Equal(["latest"], ImageTags.Resolve("", [], ""));
    }

    [Fact]
    public void Resolve_RemovesDuplicates_KeepingFirstOccurrence()
    {
        var tags = ImageTags.Resolve(null, ["1.2.0", "1.2", "edge", "1", "edge"], null, expandVersions: true);

        Assert.Equal(["1.2.0", "1.2", "1", "edge"], tags);
    }

    [Theory]
    [InlineData("bad tag")]
    [InlineData("-x")]
    [InlineData(".hidden")]
    [InlineData("a+b")]
    [InlineData("")]
    public void Validate_RejectsInvalidTags_WithCode2004NamingTheTag(string tag)
    {
        var error = Assert.Throws<ModWsgiException>(() => ImageTags.Validate(tag));

        Assert.Equal(2004, error.Code.Number);
        Assert.Equal("MODWSGI2004", error.Id);
        Assert.Contains($"'{tag}'", error.Message);
        Assert.Contains("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", error.Message);
    }

    [Fact]
    public void Validate_LengthLimitIs128()
    {
        ImageTags.Validate(new string('a', 128));
        var tooLong = new string('a', 129);

        var error = Assert.Throws<ModWsgiException>(() => ImageTags.Validate(tooLong));

        Assert.Equal(DiagnosticCodes.InvalidImageTag, error.Code);
        Assert.Contains(tooLong, error.Message);
    }

    [Theory]
    [InlineData("latest")]
    [InlineData("_x")]
    [InlineData("1.2.3-beta.1")]
    [InlineData("Release_2024.01-rc")]
    public void Validate_AcceptsValidTags(string tag) => ImageTags.Validate(tag);

    [Fact]
    public void Resolve_InvalidTagFromAnySource_Throws()
    {
        Assert.Throws<ModWsgiException>(() => ImageTags.Resolve(null, ["ok", "not ok"], null));
        Assert.Throws<ModWsgiException>(() => ImageTags.Resolve("bad tag", null, null));
        // A literal list keeps '+', which no tag may hold.
        Assert.Throws<ModWsgiException>(() => ImageTags.Resolve(null, ["1.2.3+build.5"], null));
    }

    [Theory]
    [InlineData("v1\n")]  // a trailing newline: the engine's reference check once accepted it ('$' instead of '\z')
    [InlineData(".hidden")]
    [InlineData("a+b")]
    public void ImageReferencesCheckTagsWithTheSameGrammar(string tag)
    {
        Assert.False(ImageTags.IsValid(tag));
        var error = Assert.Throws<ModWsgiException>(() => ModWsgi.Core.Engine.ImageReference.Create("site", tag));
        Assert.Equal(DiagnosticCodes.InvalidImageTag, error.Code);
        Assert.Equal(Assert.Throws<ModWsgiException>(() => ImageTags.Validate(tag)).Message, error.Message);
    }

    [Theory]
    [InlineData("site:1.0", "docker.io/library/site:1.0")]
    [InlineData("team/site:1.0", "docker.io/team/site:1.0")]
    [InlineData("team/sub/site:1.0", "docker.io/team/sub/site:1.0")]
    [InlineData("registry.example.com/site:1.0", "registry.example.com/site:1.0")]
    [InlineData("registry.example.com/team/site:latest", "registry.example.com/team/site:latest")]
    [InlineData("localhost:5000/site:1.0", "localhost:5000/site:1.0")]
    [InlineData("localhost/site:1.0", "localhost/site:1.0")]
    [InlineData("Registry/site:1.0", "Registry/site:1.0")]
    [InlineData("docker.io/site:1.0", "docker.io/library/site:1.0")]
    [InlineData("docker.io/library/site:1.0", "docker.io/library/site:1.0")]
    [InlineData("index.docker.io/team/site:1.0", "docker.io/team/site:1.0")]
    public void FullyQualifiedName_IsDockersNormalization(string reference, string expected) =>
        Assert.Equal(expected, ModWsgi.Core.Engine.ImageReference.FullyQualifiedName(reference));
}
