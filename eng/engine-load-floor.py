#!/usr/bin/env python3
"""The Docker engine's own cost of taking in one new layer through the Engine API (POST /images/load).

Any tool that builds reproducible layers outside the engine and hands them to it pays at least this on
every rebuild: the smallest possible image (the base image's layers plus one layer holding one small file)
is loaded RUNS times and the median printed, in seconds. Docker's classic store takes an archive that names
the base's layers without carrying them, and so does the containerd store for an OCI layout whose manifest
names blobs its content store holds (the base's own, read from its export); Podman needs every layer in the
archive (as ModWsgi.Sdk sends them there: the base's from its export), so there the base travels each time.
The engine is DOCKER_HOST's (unix:// only), else /var/run/docker.sock.
    usage: eng/engine-load-floor.py BASE_IMAGE [RUNS]     (--kind prints the engine kind and exits)
"""
import gzip, hashlib, http.client, io, json, os, shutil, socket, statistics, sys, tarfile, tempfile, time

SOCKET = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock").removeprefix("unix://")
TAG = "modwsgi-engine-load-floor:latest"


class UnixConnection(http.client.HTTPConnection):
    def __init__(self):
        super().__init__("localhost")

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(SOCKET)


def request(method, path, body=None):
    connection = UnixConnection()
    connection.request(method, path, body=body, headers={"Content-Type": "application/x-tar"} if body else {})
    response = connection.getresponse()
    data = response.read()
    if response.status >= 300 and not (method == "DELETE" and response.status == 404):
        sys.exit(f"engine-load-floor: {method} {path}: {response.status} {data[:200]!r}")
    return data


def tar(entries):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def engine_kind():
    """classic, containerd or podman, told as ModWsgi.Sdk tells it (EngineKinds.Classify)."""
    version = json.loads(request("GET", "/version"))
    if any(c.get("Name", "").startswith("Podman") for c in version.get("Components") or []):
        return "podman"
    info = json.loads(request("GET", "/info"))
    if any(len(p) == 2 and str(p[1]).startswith("io.containerd.snapshotter") for p in info.get("DriverStatus") or []):
        return "containerd"
    return "classic"


def export_base_layers(base, folder):
    """The base image's layer files from the engine's own export (docker save), in diff-id order."""
    connection = UnixConnection()
    connection.request("GET", f"/images/{base}/get")
    response = connection.getresponse()
    if response.status >= 300:
        sys.exit(f"engine-load-floor: export {base}: {response.status}")
    with tarfile.open(fileobj=response, mode="r|") as archive:
        # The engine's own export, read as it streams (filter= is only on Pythons with the tarfile filters).
        archive.extractall(folder, **({"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}))
    with open(os.path.join(folder, "manifest.json")) as f:
        return json.load(f)[0]["Layers"]


def load_archive(base_diff_ids, marker, base_files):
    """The archive for one load; base_files (folder, paths) when the engine needs the base's layers carried."""
    layer = tar([("app/wsgi.py", f"# {marker}\n".encode())])
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": base_diff_ids + ["sha256:" + hashlib.sha256(layer).hexdigest()]}}).encode()
    config_name = "blobs/" + hashlib.sha256(config).hexdigest()
    buffer = tempfile.TemporaryFile()
    # dereference: Podman's export names layers through symlinks; the files themselves travel.
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT, dereference=True) as archive:
        if base_files is None:
            # As ModWsgi.Sdk sends it to the classic store: the layers the engine holds are named but not shipped.
            base_paths = [f"known/{i}" for i in range(len(base_diff_ids))]
        else:
            folder, base_paths = base_files
            for path in dict.fromkeys(base_paths):
                archive.add(os.path.join(folder, path), arcname=path)
        manifest = [{"Config": config_name, "RepoTags": [TAG], "Layers": base_paths + ["blobs/layer"]}]
        for name, data in [("blobs/layer", gzip.compress(layer, mtime=0)), (config_name, config), ("manifest.json", json.dumps(manifest).encode())]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def base_manifest_layers(folder):
    """The layer descriptors of the base's manifest in its OCI export (the containerd store's own blobs)."""
    with open(os.path.join(folder, "index.json")) as f:
        descriptor = json.load(f)["manifests"][0]
    while True:
        with open(os.path.join(folder, "blobs", *descriptor["digest"].split(":"))) as f:
            document = json.load(f)
        if "layers" in document:
            return document["layers"]
        descriptor = next(m for m in document["manifests"] if m.get("platform", {}).get("architecture", "amd64") == "amd64")


def load_oci_layout(base_diff_ids, base_layers, marker):
    """An OCI layout for the containerd store: the base's blobs named (it holds them), only the new layer carried."""
    layer = tar([("app/wsgi.py", f"# {marker}\n".encode())])
    blob = gzip.compress(layer, mtime=0)
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": base_diff_ids + ["sha256:" + hashlib.sha256(layer).hexdigest()]}}).encode()
    digest = lambda data: "sha256:" + hashlib.sha256(data).hexdigest()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(config), "size": len(config)},
                           "layers": base_layers + [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest(blob), "size": len(blob)}]}).encode()
    index = json.dumps({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(manifest),
                        "size": len(manifest), "annotations": {"io.containerd.image.name": "docker.io/library/" + TAG, "org.opencontainers.image.ref.name": "latest"}}]}).encode()
    buffer = tempfile.TemporaryFile()
    buffer.write(tar([("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", index)]
                     + [("blobs/sha256/" + digest(data)[7:], data) for data in (blob, config, manifest)]))
    buffer.seek(0)
    return buffer


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    if sys.argv[1] == "--kind":
        print(engine_kind())
        return
    base, runs = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 5
    diff_ids = json.loads(request("GET", f"/images/{base}/json"))["RootFS"]["Layers"]
    kind = engine_kind()
    export = None if kind == "classic" else tempfile.mkdtemp(prefix="modwsgi-floor-")
    seconds = []
    try:
        base_files = None if export is None else (export, export_base_layers(base, export))
        base_layers = base_manifest_layers(export) if kind == "containerd" else None
        for run in range(runs):
            marker = f"{time.time_ns()} {run}"
            with (load_oci_layout(diff_ids, base_layers, marker) if base_layers else load_archive(diff_ids, marker, base_files)) as body:
                start = time.perf_counter()
                request("POST", "/images/load?quiet=1", body)
                seconds.append(time.perf_counter() - start)
            request("DELETE", f"/images/{TAG}?force=1")  # untimed; leaves no dangling image behind
    finally:
        request("DELETE", f"/images/{TAG}?force=1")
        if export is not None:
            shutil.rmtree(export, ignore_errors=True)
    print(f"{statistics.median(seconds):.2f}")


main()
