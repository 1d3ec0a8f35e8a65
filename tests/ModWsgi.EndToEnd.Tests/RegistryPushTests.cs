using System.Formats.Tar;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using ModWsgi.Core;
using ModWsgi.Core.Engine;
using ModWsgi.Core.Oci;
using ModWsgi.Core.Pipeline;
using ModWsgi.Core.Registry;

namespace ModWsgi.EndToEnd.Tests;

public sealed class RegistryPushTests
{
    [DockerFact]
    public async Task Push_ToARegistryWithAuth_IsPullableByDocker_AndASecondPushUploadsNothing()
    {
        using var registry = LocalRegistry.Start();
        using var work = new TempDirectory("modwsgi-push");
        var blobs = new FileBlobStore(work.Path);
        var image = HelloImage(blobs);
        const string repository = "e2e/hello";
        // The SDK's variables, injected rather than set on this process, which other tests share.
        var variables = new Dictionary<string, string?>
        {
            ["DOTNET_CONTAINER_REGISTRY_UNAME"] = registry.Username,
            ["DOTNET_CONTAINER_REGISTRY_PWORD"] = registry.Password,
        };
        var credentials = new DockerConfigCredentialStore(variables.GetValueOrDefault, Path.Combine(work.Path, "absent", "config.json"));
        var client = new RegistryClient(new RegistryClientOptions(), credentials, NullLogger.Instance);

        var first = await client.PushAsync(image, blobs, registry.Host, repository, ["v1"], CancellationToken.None);

        Assert.Equal((2, 0), (first.BlobsUploaded, first.BlobsSkipped));
        var reference = $"{registry.Host}/{repository}:v1";
        Assert.Equal([reference], first.Images);
        Assert.Equal(image.Digest, first.Digest);
        try
        {
            registry.DockerLogin();
            registry.DockerOk("pull", reference);
            var inspect = JsonNode.Parse(registry.DockerOk("image", "inspect", reference))![0]!;
            Assert.Equal(image.ImageId, inspect["Id"]!.GetValue<string>());
            Assert.Equal([image.Layers[0].DiffId], inspect["RootFS"]!["Layers"]!.AsArray().Select(l => l!.GetValue<string>()));
            Assert.Equal(["cat", "/hello.txt"], inspect["Config"]!["Cmd"]!.AsArray().Select(c => c!.GetValue<string>()));
            Assert.Contains($"{registry.Host}/{repository}@{image.Digest}", inspect["RepoDigests"]!.AsArray().Select(d => d!.GetValue<string>()));
        }
        finally
        {
            registry.Docker(["rmi", reference]);
        }

        const string blobCheck = "/v2/e2e/hello/blobs/sha256:[0-9a-f]{64}";
        const string uploads = "/v2/e2e/hello/blobs/uploads/.*";
        const string manifest = "/v2/e2e/hello/manifests/v1";
        var before = (Head: registry.CountRequests("HEAD", blobCheck), Post: registry.CountRequests("POST", uploads),
            Put: registry.CountRequests("PUT", uploads), Manifest: registry.CountRequests("PUT", manifest));
        // Each push starts unauthenticated: its first HEAD is answered 401 and retried with credentials.
        Assert.Equal((3, 2, 2, 1), before);

        var second = await client.PushAsync(image, blobs, registry.Host, repository, ["v1"], CancellationToken.None);

        Assert.Equal((0, 2), (second.BlobsUploaded, second.BlobsSkipped));
        Assert.Equal(before.Manifest + 1, registry.WaitForRequests("PUT", manifest, before.Manifest + 1));
        Assert.Equal(before.Head + 3, registry.CountRequests("HEAD", blobCheck));
        Assert.Equal(before.Post, registry.CountRequests("POST", uploads));
        Assert.Equal(before.Put, registry.CountRequests("PUT", uploads));
    }

    [DockerFact]
    public async Task Publish_AfterTheRegistryLostTheManifest_PushesAgain_InsteadOfReportingUpToDate()
    {
        using var registry = LocalRegistry.Start();
        using var work = new TempDirectory("modwsgi-push-again");
        work.Write("app/wsgi.py", "def application(environ, start_response):\n    start_response('200 OK', [])\n    return [b'hi']\n");
        var options = new ProjectSettings
        {
            ContainerRepository = "e2e/again",
            ContainerRegistry = registry.Host,
            WsgiCacheDirectory = Path.Combine(work.Path, "cache"),
        }.ToOptions(Path.Combine(work.Path, "app"), Path.Combine(RepositoryRootAttribute.Get(), "sdk/ModWsgi.Sdk/runtime"), null);
        var environment = BuildEnvironment.From(new Dictionary<string, string?>
        {
            ["HOME"] = work.Path,
            ["DOTNET_CONTAINER_REGISTRY_UNAME"] = registry.Username,
            ["DOTNET_CONTAINER_REGISTRY_PWORD"] = registry.Password,
        }.GetValueOrDefault);
        using var engine = new DockerEngineClient(EngineEndpoint.ForLocalRegistry(null, null, BuildEnvironment.From(System.Environment.GetEnvironmentVariable)));
        var pipeline = new ImagePipeline(engine, NullLogger.Instance);
        const string manifest = "/v2/e2e/again/manifests/latest";

        var first = await pipeline.PublishAsync(options, environment, CancellationToken.None);
        Assert.False(first.UpToDate);
        Assert.Equal(1, registry.WaitForRequests("PUT", manifest, 1));

        var unchanged = await pipeline.PublishAsync(options, environment, CancellationToken.None);
        Assert.True(unchanged.UpToDate);
        Assert.Equal(1, registry.CountRequests("PUT", manifest));

        registry.DeleteManifest("e2e/again", first.ManifestDigest!);
        var again = await pipeline.PublishAsync(options, environment, CancellationToken.None);

        Assert.False(again.UpToDate);
        Assert.Equal(first.ManifestDigest, again.ManifestDigest);
        Assert.Equal(2, registry.WaitForRequests("PUT", manifest, 2));
        Assert.True((await pipeline.PublishAsync(options, environment, CancellationToken.None)).UpToDate);
    }

    /// <summary>One gzip layer holding hello.txt and an OCI config naming its diff id: no shell, but pullable and inspectable.</summary>
    private static OciImage HelloImage(FileBlobStore blobs) =>
        TestImages.SingleLayer(blobs, [("hello.txt", Encoding.UTF8.GetBytes("hello from ModWsgi.Sdk\n"))], CompressionLevel.Optimal);
}
