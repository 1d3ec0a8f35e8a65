using System.Text.Json.Nodes;
using ModWsgi.Core.Engine;

namespace ModWsgi.Core.Tests;

/// <summary>The engine kind from what GET /version and GET /info answer (trimmed from the real engines' answers).</summary>
public sealed class EngineKindTests
{
    private const string DockerVersion = """{"Components":[{"Name":"Engine","Version":"26.1.5+dfsg1"},{"Name":"containerd"},{"Name":"runc"},{"Name":"docker-init"}],"ApiVersion":"1.45"}""";

    [Theory]
    // Docker 20.10 and 26.1 with the classic store
    [InlineData(DockerVersion, """{"Driver":"overlay2","DriverStatus":[["Backing Filesystem","extfs"],["Supports d_type","true"],["Native Overlay Diff","true"],["userxattr","false"]]}""", EngineKind.DockerClassicStore)]
    // Docker 26.1 with the containerd snapshotter
    [InlineData(DockerVersion, """{"Driver":"overlayfs","DriverStatus":[["driver-type","io.containerd.snapshotter.v1"]]}""", EngineKind.DockerContainerdStore)]
    // Podman 4.3
    [InlineData("""{"Components":[{"Name":"Podman Engine","Version":"4.3.1"},{"Name":"Conmon"},{"Name":"OCI Runtime (runc)"}],"ApiVersion":"1.41"}""",
        """{"Driver":"overlay","DriverStatus":[["Backing Filesystem","extfs"],["Supports d_type","true"]]}""", EngineKind.Podman)]
    // An engine that says little is taken for the classic store (what loads have always assumed)
    [InlineData("""{"ApiVersion":"1.41"}""", """{}""", EngineKind.DockerClassicStore)]
    [InlineData("""{"Components":null}""", """{"DriverStatus":null}""", EngineKind.DockerClassicStore)]
    public void Classify_TellsTheKind(string version, string info, EngineKind expected) =>
        Assert.Equal(expected, EngineKinds.Classify(JsonNode.Parse(version)!.AsObject(), JsonNode.Parse(info)!.AsObject()));

    [Theory]
    [InlineData(EngineKind.DockerClassicStore, true)]
    [InlineData(EngineKind.DockerContainerdStore, false)]
    [InlineData(EngineKind.Podman, false)]
    public void OnlyTheClassicStore_LoadsArchivesWithoutTheLayersItHolds(EngineKind kind, bool expected) =>
        Assert.Equal(expected, kind.LoadsArchivesWithoutHeldLayers());
}
