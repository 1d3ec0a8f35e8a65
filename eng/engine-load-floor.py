#!/usr/bin/env python3
"""The Docker engine's own cost of taking in one new layer through the Engine API (POST /images/load).

Any tool that builds reproducible layers outside the engine and hands them to it pays at least this on
every rebuild: the smallest possible image (the base image's layers, which the engine already holds, plus
one layer holding one small file) is loaded RUNS times and the median printed, in seconds.
    usage: eng/engine-load-floor.py BASE_IMAGE [RUNS]
"""
import gzip, hashlib, http.client, io, json, os, socket, statistics, sys, tarfile, time

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


def load_archive(base_diff_ids, marker):
    layer = tar([("app/wsgi.py", f"# {marker}\n".encode())])
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": base_diff_ids + ["sha256:" + hashlib.sha256(layer).hexdigest()]}}).encode()
    config_name = "blobs/" + hashlib.sha256(config).hexdigest()
    # As ModWsgi.Sdk sends it: the layers the engine holds are named but not shipped.
    manifest = [{"Config": config_name, "RepoTags": [TAG],
                 "Layers": [f"known/{i}" for i in range(len(base_diff_ids))] + ["blobs/layer"]}]
    return tar([("blobs/layer", gzip.compress(layer, mtime=0)), (config_name, config), ("manifest.json", json.dumps(manifest).encode())])


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    base, runs = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 5
    diff_ids = json.loads(request("GET", f"/images/{base}/json"))["RootFS"]["Layers"]
    seconds = []
    try:
        for run in range(runs):
            body = load_archive(diff_ids, f"{time.time_ns()} {run}")
            start = time.perf_counter()
            request("POST", "/images/load?quiet=1", body)
            seconds.append(time.perf_counter() - start)
            request("DELETE", f"/images/{TAG}?force=1")  # untimed; leaves no dangling image behind
    finally:
        request("DELETE", f"/images/{TAG}?force=1")
    print(f"{statistics.median(seconds):.2f}")


main()
