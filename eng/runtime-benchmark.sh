#!/usr/bin/env bash
# Measures the image's default server against what users would write themselves, side by side in one run on
# this machine: the same small WSGI app (`/` hello world, `/io` sleeping 20 ms like a database call, and a
# 10 KB `/static/site.css`) built three ways on modwsgi/base:bookworm:
#   default     our image, default server (Apache/mod_wsgi, embedded mode), /static served by Apache (WsgiUrlAlias)
#   daemon      the same image run in mod_wsgi daemon mode (MOD_WSGI_DAEMON_MODE=1), mod_wsgi-express's default
#   gunicorn    our image built with WsgiServer=gunicorn (the app serves /static itself)
#   handwritten a hand-written Dockerfile FROM the same base: pip install gunicorn, `gunicorn --workers N`
#               with N = this machine's cores, sync workers (the app serves /static itself)
# and the static file through the default image's own Apache with no WSGI in front
# (`--application-type static`), the denominator of the static target. Each runs with
# `docker run --network host` on its own free port; wrk on loopback: -t2 -c32 for `/` and the static file,
# -t2 -c64 for `/io`. Every cell is the median of RUNS interleaved rounds, every ratio the median of the
# per-round ratios (each round measures the servers back to back); the issue's targets are printed at the end.
#   usage: eng/runtime-benchmark.sh [RUNS]     (default 5; MODWSGI_RUNTIME_BENCH_SECONDS per wrk run, default 5)
# Needs wrk (installed from Debian's apt when missing), the host engine with modwsgi/base:bookworm
# (eng/setup-machine.sh) and the local package index (eng/build-package-index.sh, run here). Containers and
# images are named runtime-benchmark-<pid>-* and removed on exit.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${1:-5}"
seconds="${MODWSGI_RUNTIME_BENCH_SECONDS:-5}"
base="modwsgi/base:bookworm"
prefix="runtime-benchmark-$$"
work="$(mktemp -d "/tmp/$prefix.XXXXXX")"
server_pid=""
containers=()
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  for c in "${containers[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
  # Our images only, by name and by the ids recorded (the engine is shared).
  docker rmi -f "$prefix-default" "$prefix-gunicorn" "$prefix-handwritten" >/dev/null 2>&1 || true
  [ -f "$work/ids" ] && sort -u "$work/ids" | xargs -r docker rmi -f >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

quiet() { "$@" >"$work/setup.log" 2>&1 || { cat "$work/setup.log" >&2; echo "runtime-benchmark: setup failed: $*" >&2; exit 1; }; }
say() { echo "runtime-benchmark: $*" >&2; }

if ! command -v wrk >/dev/null; then
  say "installing wrk from Debian's apt"
  sudo=(); [ "$(id -u)" = 0 ] || sudo=(sudo)
  quiet "${sudo[@]}" apt-get install -y --no-install-recommends wrk \
    || { quiet "${sudo[@]}" apt-get update && quiet "${sudo[@]}" apt-get install -y --no-install-recommends wrk; }
fi
docker image inspect "$base" >/dev/null 2>&1 || { say "$base is not in the engine (run eng/setup-machine.sh)"; exit 1; }
quiet "$repo/eng/build-package-index.sh" "$repo/artifacts/package-index"
say "building the modwsgi tool from this checkout"
quiet dotnet build "$repo/src/ModWsgi.Cli" -c Release -nodeReuse:false -v:q -nologo
modwsgi="$(ls -d "$repo"/src/ModWsgi.Cli/bin/Release/net*/modwsgi | head -1)"

# The package index on the engine's bridge, where build containers reach it.
gateway="$(docker network inspect bridge -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}' 2>/dev/null || true)"
[ -n "$gateway" ] || gateway="172.17.0.1"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
index_port="$(free_port)"
python3 -m http.server "$index_port" --bind "$gateway" --directory "$repo/artifacts/package-index" >/dev/null 2>&1 &
server_pid=$!
index="http://$gateway:$index_port/simple/"

# The app: plain WSGI, so the servers are measured and not a framework.
app="$work/app"
mkdir -p "$app/static"
cat >"$app/wsgi.py" <<'PY'
import os
import time

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "static", "site.css"), "rb") as handle:
    SITE_CSS = handle.read()


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    content_type = "text/plain"
    if path == "/io":
        time.sleep(0.02)  # waiting on a database or another service
        body = b"slept 20 ms\n"
    elif path == "/static/site.css":  # only reached where no web server serves /static
        body, content_type = SITE_CSS, "text/css"
    else:
        body = b"Hello World!\n"
    start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]
PY
python3 -c 'import sys; rule = b".rule-%04d { margin: 0 auto; padding: 4px; }\n"; sys.stdout.buffer.write(b"".join(rule % i for i in range(1000))[:10240])' >"$app/static/site.css"
echo "gunicorn" >"$app/requirements.txt"
printf 'Dockerfile\n' >"$app/.dockerignore"
cores="$(nproc)"
cat >"$app/Dockerfile" <<DOCKERFILE
FROM $base
WORKDIR /app
COPY requirements.txt .
RUN pip install --index-url $index --trusted-host $gateway -r requirements.txt
COPY . .
CMD exec gunicorn --workers $cores --bind 0.0.0.0:\$PORT wsgi:application
DOCKERFILE

record() { docker image inspect -f '{{.Id}}' "$1" >>"$work/ids" 2>/dev/null || true; }
tool() { MODWSGI_BUILD_SERVER=0 "$modwsgi" build "$app" --pip-index-url "$index" --pip-trusted-host "$gateway" --cache-dir "$work/cache" "$@"; }
say "building $prefix-default, $prefix-gunicorn and $prefix-handwritten"
quiet tool --repository "$prefix-default" --url-alias /static=static
record "$prefix-default"
quiet tool --repository "$prefix-gunicorn" --server gunicorn
record "$prefix-gunicorn"
quiet env DOCKER_BUILDKIT=1 /usr/bin/docker build -q -t "$prefix-handwritten" "$app"
record "$prefix-handwritten"

# name -> port; every container on the host's network, as in production behind a load balancer.
declare -A port
start() { # NAME IMAGE [docker run arguments -- image arguments]
  local name="$1" image="$2"; shift 2
  port[$name]="$(free_port)"
  local run=() args=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do run+=("$1"); shift; done
  [ $# -gt 0 ] && shift && args=("$@")
  containers+=("$prefix-$name")
  docker run -d --name "$prefix-$name" --network host -e "PORT=${port[$name]}" -e "MOD_WSGI_PORT=${port[$name]}" \
    "${run[@]}" "$image" "${args[@]}" >/dev/null
}
start default "$prefix-default"
start daemon "$prefix-default" -e MOD_WSGI_DAEMON_MODE=1
start gunicorn "$prefix-gunicorn"
start handwritten "$prefix-handwritten"
start apache "$prefix-default" -- --application-type static
for name in default daemon gunicorn handwritten apache; do
  path=/; [ "$name" = apache ] && path=/static/site.css
  for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:${port[$name]}$path" 2>/dev/null && continue 2; sleep 0.2; done
  docker logs "$prefix-$name" >&2 || true
  say "$name did not answer on port ${port[$name]}"; exit 1
done
for name in default daemon gunicorn; do
  docker logs "$prefix-$name" 2>&1 | grep -m1 "serving" | sed "s/^/$name: /" >&2 || true
done

# One wrk run: "req/s p99-ms errors" (errors: non-2xx responses and socket errors).
measure() { # NAME PATH CONNECTIONS
  local out
  out="$(wrk -t2 -c"$3" -d"${seconds}s" --latency "http://127.0.0.1:${port[$1]}$2" 2>&1)" || { echo "$out" >&2; return 1; }
  python3 - "$out" <<'PY'
import re, sys
out = sys.argv[1]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\b", out, re.M)
p99 = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)] if p99 else float("nan")
errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", out))
errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
print("%.1f %.1f %d" % (rps, p99, errors))
PY
}

# Cells: route label, path, connections, servers.
cells=("/ hello world|/|32|default daemon gunicorn handwritten"
       "/io (20 ms sleep)|/io|64|default daemon gunicorn handwritten"
       "/static/site.css 10 KB|/static/site.css|32|default apache gunicorn handwritten")
say "measuring: $runs interleaved rounds of ${seconds}s per cell (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
for name in default daemon gunicorn handwritten apache; do wrk -t2 -c32 -d1s "http://127.0.0.1:${port[$name]}/static/site.css" >/dev/null 2>&1 || true; done
for round in $(seq "$runs"); do
  for cell in "${cells[@]}"; do
    IFS='|' read -r label path connections servers <<<"$cell"
    for name in $servers; do
      echo "$label|$name|$(measure "$name" "$path" "$connections")" >>"$work/results"
    done
  done
  say "round $round of $runs done (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
done

python3 - "$work/results" "$cores" "$runs" "$seconds" <<'PY'
import statistics, sys
path, cores, runs, seconds = sys.argv[1:]
cells = {}
for line in open(path):
    label, name, figures = line.rstrip("\n").split("|")
    rps, p99, errors = figures.split()
    cells.setdefault((label, name), []).append((float(rps), float(p99), int(errors)))
labels = list(dict.fromkeys(label for label, _ in cells))
columns = [("default", "our default (Apache/mod_wsgi, embedded)"), ("daemon", "our image, daemon mode"),
           ("gunicorn", "our WsgiServer=gunicorn"),
           ("handwritten", "hand-written gunicorn --workers %s" % cores), ("apache", "Apache, no WSGI")]

def median(label, name, index=0):
    values = [v[index] for v in cells.get((label, name), [])]
    return statistics.median(values) if values else None

def cell(label, name):
    if (label, name) not in cells:
        return "—"
    values = cells[(label, name)]
    errors = sum(v[2] for v in values)
    text = "%.0f (p99 %.0f ms)" % (median(label, name), median(label, name, 1))
    return text + (" [%d errors]" % errors if errors else "")

print()
print("req/s, median of %s rounds of %s s (wrk -t2 on loopback; -c64 for /io, -c32 otherwise; %s cores; load average %s)"
      % (runs, seconds, cores, open("/proc/loadavg").read().split()[0]))
print("| | " + " | ".join(title for _, title in columns) + " |")
print("| --- |" + " --- |" * len(columns))
for label in labels:
    print("| %s | %s |" % (label, " | ".join(cell(label, name) for name, _ in columns)))

def ratios(label, a, b):
    """Per round: the two were measured back to back, so a change of the machine's load between rounds cancels out."""
    return [x[0] / y[0] for x, y in zip(cells.get((label, a), []), cells.get((label, b), [])) if y[0]]

targets = [("our default / vs hand-written gunicorn", labels[0], "default", "handwritten", 1.0),
           ("our default /io vs hand-written gunicorn", labels[1], "default", "handwritten", 3.0),
           ("our default static vs Apache with no WSGI", labels[2], "default", "apache", 0.8),
           ("our gunicorn mode / vs hand-written", labels[0], "gunicorn", "handwritten", 0.95),
           ("our gunicorn mode /io vs hand-written", labels[1], "gunicorn", "handwritten", 0.95),
           ("(daemon mode / vs hand-written)", labels[0], "daemon", "handwritten", None),
           ("(daemon mode /io vs hand-written)", labels[1], "daemon", "handwritten", None)]
print()
print("ratios (median of the per-round ratios) and targets:")
for text, label, a, b, target in targets:
    each = ratios(label, a, b)
    value = statistics.median(each) if each else float("nan")
    rounds = ", ".join("%.2f" % r for r in each)
    if target is None:  # figures for the README's reasons, no target
        print("  %-44s %5.2fx  (per round: %s)" % (text, value, rounds))
    else:
        print("  %-44s %5.2fx  (target >= %.2fx: %s; per round: %s)"
              % (text, value, target, "met" if value >= target else "NOT met", rounds))
PY
