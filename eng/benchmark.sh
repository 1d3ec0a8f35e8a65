#!/usr/bin/env bash
# Times, for one Flask app on this machine in one run: cold build, source-only rebuild and no-op rebuild,
# for ModWsgi.Sdk (`dotnet build -t:PublishImage`, and the `modwsgi` dotnet tool) and for
# BuildKit (`docker build` of an equivalent cache-friendly Dockerfile), then prints the ratios, the engine's
# own floor for taking in a new layer through the Engine API, and where the tool's time goes.
#   usage: eng/benchmark.sh [RUNS]      (RUNS: repetitions of the warm measurements, median taken; default 3)
# The engine is DOCKER_HOST's (the host engine without it): to measure another, first
#   eval "$(eng/engines.sh env d26s)"      (d26c, d26s, podman: see eng/engines.sh)
# MODWSGI_BENCH_BUILDERS picks what is timed (default "sdk tool toolci buildkit"). On Podman, "buildkit" is
# Podman's own docker build (buildah): Podman has no BuildKit.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${1:-3}"
work="$(mktemp -d /tmp/modwsgi-bench.XXXXXX)"
builders="${MODWSGI_BENCH_BUILDERS:-sdk tool toolci buildkit}"
server_pid=""
anchor=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  [ -x "$work/tool/modwsgi" ] && "$work/tool/modwsgi" build-server shutdown >/dev/null 2>&1 || true
  # Every image the runs made (each build's id is recorded: a rebuild leaves the one before untagged), and only
  # those: the engine may be shared, and other images made meanwhile are not ours.
  docker rmi -f bench-sdk bench-tool bench-toolci bench-buildkit >/dev/null 2>&1 || true
  [ -f "$work/ids" ] && sort -u "$work/ids" | xargs -r docker rmi -f >/dev/null 2>&1 || true
  [ -n "$anchor" ] && docker rm -f "$anchor" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# Setup steps are quiet unless they fail.
quiet() { "$@" >"$work/setup.log" 2>&1 || { cat "$work/setup.log" >&2; echo "benchmark: setup failed: $*" >&2; exit 1; }; }
# The machine and the package index are the host engine's business, whichever engine is measured.
quiet env -u DOCKER_HOST MODWSGI_BASE_SUITES="${MODWSGI_BASE_SUITES:-bookworm}" "$repo/eng/setup-machine.sh"
quiet env -u DOCKER_HOST "$repo/eng/build-package-index.sh" "$repo/artifacts/package-index"
quiet "$repo/eng/pack.sh"
export NUGET_PACKAGES="$work/nuget-packages"
version="$(sed -n 's:.*<VersionPrefix>\(.*\)</VersionPrefix>.*:\1:p' "$repo/Directory.Build.props")"
# The tool as users get it: `dotnet tool install` picks the ReadyToRun linux-x64 package.
quiet dotnet tool install ModWsgi.Cli --version "$version" --tool-path "$work/tool" --add-source "$repo/artifacts/packages"

# Which engine is measured: printed first and with the results.
kind="$(python3 "$repo/eng/engine-load-floor.py" --kind)"
engine="${MODWSGI_TEST_ENGINE:-host} ($(docker version -f '{{.Server.Version}}' 2>/dev/null | head -1), $kind store) at ${DOCKER_HOST:-unix:///var/run/docker.sock}"
[ "$kind" = podman ] && engine="${MODWSGI_TEST_ENGINE:-podman} (Podman $(docker version -f '{{.Server.Version}}' 2>/dev/null | head -1)) at ${DOCKER_HOST:-unix:///var/run/docker.sock}"
echo "engine: $engine" >&2

# The package index on the engine's bridge, where build containers (ours and BuildKit's) reach it.
gateway="${MODWSGI_TEST_BRIDGE_GATEWAY:-$(docker network inspect bridge -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}' 2>/dev/null || true)}"
[ -n "$gateway" ] || gateway="172.17.0.1"
# Podman's bridge exists only while a container runs: one sleeps while the index is served.
if ! ip -o addr show | grep -qF " $gateway/"; then
  anchor="$(docker run -d --rm modwsgi/base:bookworm sleep 3600)"
  for _ in $(seq 50); do ip -o addr show | grep -qF " $gateway/" && break; sleep .1; done
fi
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
python3 -m http.server "$port" --bind "$gateway" --directory "$repo/artifacts/package-index" >/dev/null 2>&1 &
server_pid=$!
index="http://$gateway:$port/simple/"
sleep 0.5

app="$work/app"
mkdir -p "$app"
cat >"$app/wsgi.py" <<'PY'
from flask import Flask
application = Flask(__name__)

@application.route("/")
def hello():
    return "Hello from Flask, edit 0"
PY
echo "flask" >"$app/requirements.txt"
printf '*.proj\nnuget.config\nDockerfile\n' >"$app/.dockerignore"
cat >"$app/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration><packageSources><clear /><add key="local" value="$repo/artifacts/packages" /></packageSources></configuration>
XML
cat >"$app/bench.proj" <<XML
<Project Sdk="ModWsgi.Sdk/$version">
  <PropertyGroup>
    <ContainerRepository>bench-sdk</ContainerRepository>
    <WsgiPipIndexUrl>$index</WsgiPipIndexUrl>
    <WsgiPipTrustedHost>$gateway</WsgiPipTrustedHost>
    <WsgiCacheDirectory>$work/cache-sdk</WsgiCacheDirectory>
  </PropertyGroup>
</Project>
XML
# The same image by hand: dependencies first so a source edit reuses BuildKit's pip layer.
mkdir -p "$app/.bench-runtime"
cp "$repo/sdk/ModWsgi.Sdk/runtime/"* "$app/.bench-runtime/"
cat >"$work/Dockerfile" <<DOCKERFILE
FROM modwsgi/base:bookworm
COPY .bench-runtime/ /usr/local/bin/
COPY requirements.txt /app/
RUN /usr/bin/python3 -m pip --python /opt/venv/bin/python install --no-cache-dir --index-url $index --trusted-host $gateway -r requirements.txt
COPY . /app/
ENTRYPOINT ["mod_wsgi-docker-start"]
CMD ["--application-type", "script", "--entry-point", "wsgi.py"]
DOCKERFILE

now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.2f}')"; }
median() { python3 -c "import statistics,sys; print(f'{statistics.median(map(float, sys.argv[1:])):.2f}')" "$@"; }
edit=0
touch_source() { edit=$((edit + 1)); sed -i "s/edit [0-9]*/edit $edit/" "$app/wsgi.py"; }

record() { docker image inspect -f '{{.Id}}' "$1" >>"$work/ids" 2>/dev/null || true; }
sdk() { record bench-sdk; dotnet build "$app/bench.proj" -t:PublishImage -nodeReuse:false -tl:off -v:q -nologo >"$work/last.log" 2>&1 || { cat "$work/last.log"; exit 1; }; record bench-sdk; }
# The tool as a developer runs it (its build server on, started by the cold build) and as CI runs it (no server).
export XDG_RUNTIME_DIR="$work/xdg-runtime" MODWSGI_BUILD_SERVER_IDLE_MINUTES=2
mkdir -p "$XDG_RUNTIME_DIR"
tool() { record bench-tool; MODWSGI_BUILD_SERVER=1 "$work/tool/modwsgi" build "$app" --repository bench-tool --pip-index-url "$index" --pip-trusted-host "$gateway" --cache-dir "$work/cache-tool" "$@" >"$work/last.log" 2>&1 || { cat "$work/last.log"; exit 1; }; record bench-tool; }
toolci() { record bench-toolci; MODWSGI_BUILD_SERVER=0 "$work/tool/modwsgi" build "$app" --repository bench-toolci --pip-index-url "$index" --pip-trusted-host "$gateway" --cache-dir "$work/cache-toolci" "$@" >"$work/last.log" 2>&1 || { cat "$work/last.log"; exit 1; }; record bench-toolci; }
buildkit_switch=1; buildkit_label="docker build (BuildKit)"
[ "$kind" = podman ] && { buildkit_switch=0; buildkit_label="docker build (Podman's buildah)"; }
buildkit() { record bench-buildkit; DOCKER_BUILDKIT=$buildkit_switch /usr/bin/docker build -q -t bench-buildkit "$@" -f "$work/Dockerfile" "$app" >"$work/last.log" 2>&1 || { cat "$work/last.log"; exit 1; }; record bench-buildkit; }

measure() { # name command...
  local name="$1"; shift
  local t0; t0=$(now); "$@"; elapsed "$t0" "$(now)"
}

declare -A cold source noop label
label[sdk]="dotnet build -t:PublishImage"; label[tool]="modwsgi build (dotnet tool)"
label[toolci]="modwsgi build, no build server"; label[buildkit]="$buildkit_label"
has() { [[ " $builders " == *" $1 "* ]]; }
echo "Measuring (warm figures are the median of $runs runs)..." >&2
for b in sdk buildkit tool toolci; do
  has "$b" || continue
  if [ "$b" = buildkit ]; then cold[$b]=$(measure "$b" "$b" --no-cache); else cold[$b]=$(measure "$b" "$b"); fi
done
for tool_name in sdk buildkit tool toolci; do
  has "$tool_name" || continue
  s=(); n=()
  for _ in $(seq "$runs"); do
    touch_source
    s+=("$(measure "$tool_name" "$tool_name")")
    n+=("$(measure "$tool_name" "$tool_name")")
  done
  source[$tool_name]=$(median "${s[@]}")
  noop[$tool_name]=$(median "${n[@]}")
done

echo
echo "engine: $engine"
printf '%-34s %10s %14s %10s\n' "seconds" "cold" "source-only" "no-op"
for b in sdk tool toolci buildkit; do
  has "$b" && printf '%-34s %10s %14s %10s\n' "${label[$b]}" "${cold[$b]}" "${source[$b]}" "${noop[$b]}"
done
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
if has buildkit; then
  echo
  echo "ratios to ${label[buildkit]} (lower is faster):"
  for b in sdk tool toolci; do
    has "$b" && echo "  ${label[$b]}: cold $(ratio "${cold[$b]}" "${cold[buildkit]}"), source-only $(ratio "${source[$b]}" "${source[buildkit]}"), no-op $(ratio "${noop[$b]}" "${noop[buildkit]}")"
  done
fi

# What no tool that hands reproducible layers to the engine can go below, and where the tool's time goes. On
# Podman every load carries the base's layers too: fewer runs, each takes seconds.
floor_runs=$((2 * runs + 1)); [ "$kind" = podman ] && floor_runs=3
floor=$(python3 "$repo/eng/engine-load-floor.py" modwsgi/base:bookworm "$floor_runs")
carried="the base's layers held by the engine, not sent"; [ "$kind" = podman ] && carried="every layer sent, the base's too, as this engine needs"
echo
echo "engine floor: $floor s to load one new one-file layer through the Engine API (docker load, $carried; median of $floor_runs)"
if has tool; then
  touch_source
  tool --verbose
  phases=$(sed -n 's/^timings: //p' "$work/last.log")
  echo "tool source-only rebuild, by phase: $phases (the rest is process start-up and argument parsing)"
fi
echo
verdict() { python3 -c "print('met' if $1 else 'NOT met')"; }
echo "targets ($engine):"
if has buildkit; then
  has tool && echo "  tool source-only <= ${label[buildkit]}'s:     ${source[tool]} vs ${source[buildkit]}: $(verdict "${source[tool]} <= ${source[buildkit]}")"
  has sdk && echo "  dotnet build source-only <= ${label[buildkit]}'s + 1.5 s: ${source[sdk]} vs ${source[buildkit]} + 1.5: $(verdict "${source[sdk]} <= ${source[buildkit]} + 1.5")"
fi
has sdk && echo "  dotnet build no-op < 1.5 s:                    ${noop[sdk]}: $(verdict "${noop[sdk]} < 1.5")"
true
