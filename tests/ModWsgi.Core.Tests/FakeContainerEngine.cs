using System.Formats.Tar;
using System.Text;
using System.Text.Json.Nodes;
using ModWsgi.Core.Engine;
using ModWsgi.Core.Oci;

namespace ModWsgi.Core.Tests;

/// <summary>
/// An in-memory engine at the <see cref="IContainerEngine"/> edge: it records every call, holds images by name
/// and id, runs no command but answers execs from a script, reports the change list it is given, archives the
/// files it is told the container holds, and takes `docker load` archives apart to say what travelled.
/// </summary>
internal sealed class FakeContainerEngine : IContainerEngine
{
    private const string PathListFile = "/.modwsgi-layer-paths";
    private readonly Dictionary<string, JsonObject> _images = new(StringComparer.Ordinal);
    private readonly Dictionary<string, byte[]> _baseLayerTars = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _extracted = new(StringComparer.Ordinal);
    /// <summary>Config digest → the manifest digest Docker's containerd store calls that image by.</summary>
    private readonly Dictionary<string, string> _manifestIds = new(StringComparer.Ordinal);
    /// <summary>Layer blobs the containerd store's content store holds (of images loaded as OCI layouts).</summary>
    private readonly HashSet<string> _contentStore = new(StringComparer.Ordinal);
    private int _containers;

    /// <summary>Every call, e.g. "create modwsgi/base:bookworm", "exec c1 /bin/bash -c …", "remove c1".</summary>
    public List<string> Calls { get; } = [];

    /// <summary>Containers created and not yet removed.</summary>
    public HashSet<string> LiveContainers { get; } = [];

    /// <summary>Each step's script (the text after `set -eo pipefail`) in the order run.</summary>
    public List<string> Scripts { get; } = [];

    /// <summary>The answer to a step: output lines and exit code. Default: no output, exit 0.</summary>
    public Func<string, CancellationToken, Task<(long Exit, string[] Lines)>> OnScript { get; set; } = (_, _) => Task.FromResult((0L, Array.Empty<string>()));

    /// <summary>What GET /containers/{id}/changes answers besides the files extracted into that container.</summary>
    public List<FilesystemChange> Changes { get; } = [];

    /// <summary>Files in the container (absolute path → content): what `cat` reads and what `tar` archives.</summary>
    public Dictionary<string, byte[]> Files { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// What GET /version and /info would tell. Like the real engines, only the classic store loads an archive
    /// that names layers without carrying them; the others reject it (Podman's message). As Docker's containerd
    /// store, the engine calls images by a manifest digest (a config digest finds nothing) and takes OCI layouts,
    /// keeping the manifest given; its export names the config as blobs/sha256/HEX.
    /// </summary>
    public EngineKind Kind { get; set; } = EngineKind.DockerClassicStore;

    public Task<EngineKind> GetEngineKindAsync(CancellationToken cancellationToken)
    {
        Calls.Add("kind");
        return Task.FromResult(Kind);
    }

    /// <summary>Each `docker load`, in order.</summary>
    public List<LoadedImage> Loads { get; } = [];

    /// <summary>A base image with one layer of <paramref name="content"/> (a file /base.txt).</summary>
    public BaseImage AddBaseImage(string name, string content = "base layer")
    {
        var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Gnu, leaveOpen: true))
            writer.WriteEntry(new GnuTarEntry(TarEntryType.RegularFile, "base.txt") { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)), ModificationTime = DateTimeOffset.UnixEpoch });
        var diffId = Digests.Sha256(tar.ToArray());
        var id = Digests.Sha256(Encoding.UTF8.GetBytes("base:" + name + content));
        _baseLayerTars[id] = tar.ToArray();
        var inspect = new JsonObject
        {
            ["Id"] = id,
            ["Architecture"] = "amd64",
            ["Os"] = "linux",
            ["RootFS"] = new JsonObject { ["Layers"] = new JsonArray(diffId) },
            ["Config"] = new JsonObject { ["Env"] = new JsonArray("PATH=/usr/local/bin:/usr/bin:/bin") },
        };
        _images[name] = inspect;
        _images[id] = inspect;
        _manifestIds[id] = Digests.Sha256(Encoding.UTF8.GetBytes("base manifest:" + id));
        return BaseImage.FromInspect(name, inspect);
    }

    public bool HasImage(string image) => Resolve(image) is not null;

    public void RemoveImage(string image) => _images.Remove(image);

    /// <summary>The image's inspect as this kind of engine answers it: on the containerd store by name or manifest digest only, with the manifest digest as Id.</summary>
    private JsonObject? Resolve(string image)
    {
        if (Kind != EngineKind.DockerContainerdStore)
            return _images.TryGetValue(image, out var found) ? found.DeepClone().AsObject() : null;
        var configId = _manifestIds.FirstOrDefault(p => p.Value == image).Key
            ?? (image.StartsWith("sha256:", StringComparison.Ordinal) ? null : image);
        if (configId is null || !_images.TryGetValue(configId, out var inspect))
            return null;
        var answer = inspect.DeepClone().AsObject();
        answer["Id"] = _manifestIds.GetValueOrDefault(inspect["Id"]!.GetValue<string>()) ?? Digests.Sha256(Encoding.UTF8.GetBytes("converted manifest:" + inspect["Id"]));
        return answer;
    }

    public Task<JsonObject?> InspectImageAsync(string image, CancellationToken cancellationToken)
    {
        Calls.Add("inspect " + image);
        if (StageLayers.TryGetValue(image, out var layers))
            return Task.FromResult<JsonObject?>(new JsonObject { ["Id"] = image, ["RootFS"] = new JsonObject { ["Layers"] = new JsonArray(layers.Select(l => (JsonNode?)l).ToArray()) } });
        return Task.FromResult(Resolve(image));
    }

    /// <summary>The layers (diff ids) inspect reports for a <see cref="ListedImages"/> entry, by id.</summary>
    public Dictionary<string, string[]> StageLayers { get; } = new(StringComparer.Ordinal);

    public Task<string> CreateContainerAsync(ContainerSpec spec, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (Resolve(spec.Image) is null)
            throw new InvalidOperationException($"create from an image the engine lacks: {spec.Image}");
        var id = "c" + ++_containers;
        Calls.Add($"create {spec.Image} -> {id}");
        LiveContainers.Add(id);
        Containers[id] = new ContainerSummary(id, "created", spec.Labels, DateTimeOffset.UtcNow);
        return Task.FromResult(id);
    }

    public Task StartContainerAsync(string containerId, CancellationToken cancellationToken)
    {
        Calls.Add("start " + containerId);
        if (Containers.TryGetValue(containerId, out var container))
            Containers[containerId] = container with { State = "running" };
        return Task.CompletedTask;
    }

    /// <summary>Every container the engine holds (created here or given by a test), by id, with its state and labels.</summary>
    public Dictionary<string, ContainerSummary> Containers { get; } = new(StringComparer.Ordinal);

    public Task<IReadOnlyList<ContainerSummary>> ListContainersAsync(IReadOnlyList<string> labels, CancellationToken cancellationToken)
    {
        Calls.Add("list-containers " + string.Join(",", labels));
        return Task.FromResult<IReadOnlyList<ContainerSummary>>(Containers.Values.Where(c => labels.All(l => HasLabel(c.Labels, l))).ToArray());
    }

    /// <summary>Images a test adds for listing and removal (the loaded ones are listed too, labelled by their config).</summary>
    public List<ImageSummary> ListedImages { get; } = [];

    public Task<IReadOnlyList<ImageSummary>> ListImagesAsync(IReadOnlyList<string> labels, bool danglingOnly, CancellationToken cancellationToken)
    {
        Calls.Add($"list-images {string.Join(",", labels)}{(danglingOnly ? " dangling" : "")}");
        var loaded = Loads.Select(l => l.ManifestDigest ?? l.ImageId).Distinct().Select(id => _images.GetValueOrDefault(id)).OfType<JsonObject>()
            .Select(i => new ImageSummary(i["Id"]!.GetValue<string>(),
                _images.Where(p => p.Value == i && !p.Key.StartsWith("sha256:", StringComparison.Ordinal)).Select(p => p.Key).ToArray(),
                Loads.Last(l => (l.ManifestDigest ?? l.ImageId) == i["Id"]!.GetValue<string>()).Config["config"]?["Labels"]?.AsObject()
                    .ToDictionary(p => p.Key, p => p.Value!.GetValue<string>()) ?? [], 1000));
        return Task.FromResult<IReadOnlyList<ImageSummary>>(ListedImages.Concat(loaded)
            .Where(i => labels.All(l => HasLabel(i.Labels, l)) && (!danglingOnly || i.RepoTags.Count == 0)).ToArray());
    }

    public Task<bool> RemoveImageAsync(string image, CancellationToken cancellationToken)
    {
        Calls.Add("remove-image " + image);
        if (ListedImages.FindIndex(i => i.Id == image || i.RepoTags.Contains(image)) is var listed and >= 0)
        {
            ListedImages.RemoveAt(listed);
            return Task.FromResult(true);
        }
        if (!_images.TryGetValue(image, out var found))
            return Task.FromResult(false);
        var id = found["Id"]!.GetValue<string>();
        var names = _images.Where(p => p.Value == found && !p.Key.StartsWith("sha256:", StringComparison.Ordinal)).Select(p => p.Key).ToArray();
        if (image.StartsWith("sha256:", StringComparison.Ordinal) && names.Length > 0)
            return Task.FromResult(false); // still named: 409 without force
        _images.Remove(image);
        if (names.Length <= 1)
            _images.Remove(id);
        return Task.FromResult(true);
    }

    private static bool HasLabel(IReadOnlyDictionary<string, string> labels, string filter) =>
        filter.IndexOf('=') is var equals and >= 0
            ? labels.TryGetValue(filter[..equals], out var value) && value == filter[(equals + 1)..]
            : labels.ContainsKey(filter);

    /// <summary>What a removal does before the container goes away; a test makes it throw (409, a paused engine…).</summary>
    public Func<string, CancellationToken, Task> OnRemove { get; set; } = (_, _) => Task.CompletedTask;

    public async Task RemoveContainerAsync(string containerId, CancellationToken cancellationToken)
    {
        Calls.Add("remove " + containerId);
        await OnRemove(containerId, cancellationToken);
        LiveContainers.Remove(containerId);
        Containers.Remove(containerId);
    }

    public async Task PutArchiveAsync(string containerId, string path, Stream tar, CancellationToken cancellationToken)
    {
        Calls.Add($"put {containerId} {path}");
        // The engine takes plain and gzip tars alike (the dependency inputs travel as a gzip layer blob).
        var bytes = new MemoryStream();
        await tar.CopyToAsync(bytes, cancellationToken);
        bytes.Position = 0;
        Stream plain = bytes.Length > 2 && bytes.GetBuffer()[0] == 0x1f && bytes.GetBuffer()[1] == 0x8b
            ? new System.IO.Compression.GZipStream(bytes, System.IO.Compression.CompressionMode.Decompress)
            : bytes;
        await using var reader = new TarReader(plain);
        while (await reader.GetNextEntryAsync(copyData: true, cancellationToken) is { } entry)
        {
            if (entry.DataStream is null)
                continue;
            using var content = new MemoryStream();
            await entry.DataStream.CopyToAsync(content, cancellationToken);
            var file = path.TrimEnd('/') + "/" + entry.Name.TrimStart('/');
            Files[file] = content.ToArray();
            if (file != PathListFile)
                (_extracted.TryGetValue(containerId, out var list) ? list : _extracted[containerId] = []).Add(file);
        }
    }

    public async Task<long> ExecAsync(string containerId, ExecSpec spec, Action<OutputLine> onLine, CancellationToken cancellationToken)
    {
        var script = spec.Command.Count == 3 && spec.Command[0] == "/bin/bash" ? spec.Command[2].Replace("set -eo pipefail\n", "") : string.Join(' ', spec.Command);
        Calls.Add($"exec {containerId} {script}");
        Scripts.Add(script);
        var (exit, lines) = await OnScript(script, cancellationToken);
        foreach (var line in lines)
            onLine(new OutputLine(OutputStream.Stdout, line));
        return exit;
    }

    public Task<IReadOnlyList<FilesystemChange>> GetChangesAsync(string containerId, CancellationToken cancellationToken)
    {
        Calls.Add("changes " + containerId);
        var extracted = _extracted.GetValueOrDefault(containerId) ?? [];
        return Task.FromResult<IReadOnlyList<FilesystemChange>>([.. extracted.Select(f => new FilesystemChange(f, ChangeKind.Added)), .. Changes]);
    }

    public async Task<long> ExecToStreamAsync(string containerId, ExecSpec spec, Stream stdout, Action<string> onStderr, CancellationToken cancellationToken)
    {
        Calls.Add($"exec-to-stream {containerId} {spec.Command[0]}");
        if (spec.Command[0] == "cat")
        {
            if (!Files.TryGetValue(spec.Command[^1], out var content))
                return 1;
            await stdout.WriteAsync(content, cancellationToken);
            return 0;
        }
        if (spec.Command[0] == "tar")
        {
            // The paths ContainerDiffCapture listed, each archived as a file holding what Files says (or nothing).
            var paths = Encoding.UTF8.GetString(Files[PathListFile]).Split('\0', StringSplitOptions.RemoveEmptyEntries);
            await using var writer = new TarWriter(stdout, TarEntryFormat.Gnu, leaveOpen: true);
            foreach (var path in paths)
            {
                var content = Files.GetValueOrDefault("/" + path) ?? [];
                await writer.WriteEntryAsync(new GnuTarEntry(TarEntryType.RegularFile, path) { DataStream = new MemoryStream(content), ModificationTime = DateTimeOffset.UnixEpoch }, cancellationToken);
            }
            return 0;
        }
        throw new InvalidOperationException("unexpected exec: " + string.Join(' ', spec.Command));
    }

    public Task<JsonArray> GetImageHistoryAsync(string image, CancellationToken cancellationToken) => Task.FromResult(new JsonArray());

    /// <summary>What `docker save` answers for an image, when a test gives it; otherwise Docker 20.10's layout.</summary>
    public Dictionary<string, byte[]> SavedArchives { get; } = new(StringComparer.Ordinal);

    public Task<Stream> SaveImageAsync(string image, CancellationToken cancellationToken)
    {
        Calls.Add("save " + image);
        if (SavedArchives.TryGetValue(image, out var given))
            return Task.FromResult<Stream>(new MemoryStream(given));
        var configId = Resolve(image) is not null && Kind == EngineKind.DockerContainerdStore ? _manifestIds.First(p => p.Value == image).Key : image;
        var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Gnu, leaveOpen: true))
        {
            writer.WriteEntry(new GnuTarEntry(TarEntryType.RegularFile, "0001/layer.tar") { DataStream = new MemoryStream(_baseLayerTars[configId]) });
            // Docker 20.10 names the config HEX.json; Docker 26.1's stores blobs/sha256/HEX.
            var config = Kind == EngineKind.DockerContainerdStore ? "blobs/sha256/" + Digests.Hex(configId) : Digests.Hex(configId) + ".json";
            var manifest = $"[{{\"Config\":\"{config}\",\"RepoTags\":null,\"Layers\":[\"0001/layer.tar\"]}}]";
            writer.WriteEntry(new GnuTarEntry(TarEntryType.RegularFile, "manifest.json") { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(manifest)) });
        }
        tar.Position = 0;
        return Task.FromResult<Stream>(tar);
    }

    public async Task LoadImageAsync(Stream archive, CancellationToken cancellationToken)
    {
        var entries = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        await using (var reader = new TarReader(archive, leaveOpen: true))
        {
            while (await reader.GetNextEntryAsync(copyData: true, cancellationToken) is { } entry)
            {
                using var content = new MemoryStream();
                if (entry.DataStream is not null)
                    await entry.DataStream.CopyToAsync(content, cancellationToken);
                entries[entry.Name] = content.ToArray();
            }
        }
        if (entries.TryGetValue("index.json", out var indexJson))
        {
            LoadOciLayout(entries, JsonNode.Parse(indexJson)!);
            return;
        }
        var manifest = JsonNode.Parse(entries["manifest.json"])![0]!;
        var config = entries[manifest["Config"]!.GetValue<string>()];
        var id = Digests.Sha256(config);
        var tags = manifest["RepoTags"]!.AsArray().Select(t => t!.GetValue<string>()).ToArray();
        var shipped = manifest["Layers"]!.AsArray().Select(l => l!.GetValue<string>()).Where(entries.ContainsKey)
            .Select(p => "sha256:" + p[(p.LastIndexOf('/') + 1)..]).ToArray();
        var diffIds = JsonNode.Parse(config)!["rootfs"]!["diff_ids"]!.AsArray().Select(d => d!.GetValue<string>()).ToArray();
        if (Kind != EngineKind.DockerClassicStore && shipped.Length != diffIds.Length)
            throw new InvalidOperationException("Some layer tarfiles are missing");
        Calls.Add($"load {string.Join(",", tags)}");
        Loads.Add(new LoadedImage(id, tags, diffIds, shipped, JsonNode.Parse(config)!.AsObject()));
        Hold(id, tags, diffIds);
    }

    /// <summary>
    /// As Docker's containerd store takes an OCI layout: the image is the manifest index.json names, one name per
    /// entry; a layer blob the archive lacks must be in the content store, else the unpack fails.
    /// </summary>
    private void LoadOciLayout(Dictionary<string, byte[]> entries, JsonNode index)
    {
        var names = index["manifests"]!.AsArray().Select(m => m!["annotations"]!["io.containerd.image.name"]!.GetValue<string>())
            .Select(n => n.StartsWith("docker.io/library/", StringComparison.Ordinal) ? n["docker.io/library/".Length..] : n.StartsWith("docker.io/", StringComparison.Ordinal) ? n["docker.io/".Length..] : n)
            .ToArray();
        var manifestDigest = index["manifests"]![0]!["digest"]!.GetValue<string>();
        var manifestBytes = entries["blobs/sha256/" + Digests.Hex(manifestDigest)];
        Assert.Equal(manifestDigest, Digests.Sha256(manifestBytes));
        var manifest = JsonNode.Parse(manifestBytes)!;
        var config = entries["blobs/sha256/" + Digests.Hex(manifest["config"]!["digest"]!.GetValue<string>())];
        var blobs = manifest["layers"]!.AsArray().Select(l => l!["digest"]!.GetValue<string>()).ToArray();
        var shipped = blobs.Where(b => entries.ContainsKey("blobs/sha256/" + Digests.Hex(b))).ToArray();
        if (blobs.FirstOrDefault(b => !shipped.Contains(b) && !_contentStore.Contains(b)) is { } missing)
            throw new Diagnostics.ModWsgiException(Diagnostics.DiagnosticCodes.EngineRequestFailed,
                $"The container engine could not load the built image: failed to unpack loaded image: content digest {missing}: not found");
        _contentStore.UnionWith(blobs);
        var id = Digests.Sha256(config);
        var diffIds = JsonNode.Parse(config)!["rootfs"]!["diff_ids"]!.AsArray().Select(d => d!.GetValue<string>()).ToArray();
        Calls.Add($"load-oci {string.Join(",", names)}");
        Loads.Add(new LoadedImage(id, names, diffIds, shipped, JsonNode.Parse(config)!.AsObject()) { ManifestDigest = manifestDigest });
        _manifestIds[id] = manifestDigest;
        Hold(id, names, diffIds);
    }

    /// <summary>Forgets the content store's blobs, as when the images holding them were removed.</summary>
    public void ClearContentStore() => _contentStore.Clear();

    private void Hold(string id, IReadOnlyList<string> tags, IReadOnlyList<string> diffIds)
    {
        var inspect = new JsonObject
        {
            ["Id"] = id,
            ["RepoTags"] = new JsonArray(tags.Select(t => (JsonNode?)t).ToArray()),
            ["RootFS"] = new JsonObject { ["Layers"] = new JsonArray(diffIds.Select(d => (JsonNode?)d).ToArray()) },
        };
        _images[id] = inspect;
        foreach (var tag in tags)
            _images[tag] = inspect;
    }
}

/// <param name="ShippedLayerBlobs">The layer blobs the archive carried (the rest the engine already had).</param>
/// <param name="Config">The image config as loaded.</param>
/// <param name="ImageId">The config digest.</param>
internal sealed record LoadedImage(string ImageId, IReadOnlyList<string> Tags, IReadOnlyList<string> DiffIds, IReadOnlyList<string> ShippedLayerBlobs, JsonObject Config)
{
    /// <summary>The manifest the archive carried, for an OCI layout (the containerd store's id of the image).</summary>
    public string? ManifestDigest { get; init; }
}
