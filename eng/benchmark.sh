#!/usr/bin/env bash
# Times, for one Flask app on this machine in one run: cold build, source-only rebuild and no-op rebuild,
# for ModWsgi.Sdk (`dotnet build -t:PublishImage`, and the `modwsgi` dotnet tool) and for
# BuildKit (`docker build` of an equivalent cache-friendly Dockerfile), then prints the ratios, the engine's
# own floor for taking in a new layer through the Engine API, and where the tool's time goes.
#   usage: eng/benchmark.sh [RUNS]      (RUNS: repetitions of the warm measurements, median taken; default 3)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${1:-3}"
work="$(mktemp -d /tmp/modwsgi-bench.XXXXXX)"
server_pid=""
images_before=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  [ -x "$work/tool/modwsgi" ] && "$work/tool/modwsgi" build-server shutdown >/dev/null 2>&1 || true
  # Every image the runs made, the ones a rebuild left untagged included.
  if [ -n "$images_before" ]; then
    comm -13 <(echo "$images_before") <(docker images -aq --no-trunc | sort -u) | xargs -r docker rmi -f >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# Setup steps are quiet unless they fail.
quiet() { "$@" >"$work/setup.log" 2>&1 || { cat "$work/setup.log" >&2; echo "benchmark: setup failed: $*" >&2; exit 1; }; }
MODWSGI_BASE_SUITES="${MODWSGI_BASE_SUITES:-bookworm}" quiet "$repo/eng/setup-machine.sh"
quiet "$repo/eng/build-package-index.sh" "$repo/artifacts/package-index"
quiet "$repo/eng/pack.sh"
export NUGET_PACKAGES="$work/nuget-packages"
version="$(sed -n 's:.*<VersionPrefix>\(.*\)</VersionPrefix>.*:\1:p' "$repo/Directory.Build.props")"
# The tool as users get it: `dotnet tool install` picks the ReadyToRun linux-x64 package.
quiet dotnet tool install ModWsgi.Cli --version "$version" --tool-path "$work/tool" --add-source "$repo/artifacts/packages"
images_before="$(docker images -aq --no-trunc | sort -u)"

# The package index on the Docker bridge, where build containers (ours and BuildKit's) reach it.
gateway="$(docker network inspect bridge -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}')"
[ -n "$gateway" ] || gateway="172.17.0.1"
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

sdk() { dotnet build "$app/bench.proj" -t:PublishImage -nodeReuse:false -tl:off -v:q -nologo >"$work/last.log" 2>&1 || { cat "$work/last.log"; exit 1; }; }
# The tool as a developer runs it (its build server on, started by the cold build) and as CI runs it (no server).
export XDG_RUNTIME_DIR="$work/xdg-runtime" MODWSGI_BUILD_SERVER_IDLE_MINUTES=2
mkdir -p "$XDG_RUNTIME_DIR"
tool() { MODWSGI_BUILD_SERVER=1 "$work/tool/modwsgi" build "$app" --repository bench-tool --pip-index-url "$index" --pip-trusted-host "$gateway" --cache-dir "$work/cache-tool" "$@" >"$work/last.log" 2>&1 || { cat "$work/last.log"; exit 1; }; }
toolci() { MODWSGI_BUILD_SERVER=0 "$work/tool/modwsgi" build "$app" --repository bench-toolci --pip-index-url "$index" --pip-trusted-host "$gateway" --cache-dir "$work/cache-toolci" "$@" >"$work/last.log" 2>&1 || { cat "$work/last.log"; exit 1; }; }
buildkit() { DOCKER_BUILDKIT=1 /usr/bin/docker build -q -t bench-buildkit "$@" -f "$work/Dockerfile" "$app" >"$work/last.log" 2>&1 || { cat "$work/last.log"; exit 1; }; }

measure() { # name command...
  local name="$1"; shift
  local t0; t0=$(now); "$@"; elapsed "$t0" "$(now)"
}

declare -A cold source noop
echo "Measuring (warm figures are the median of $runs runs)..." >&2
cold[sdk]=$(measure sdk sdk)
cold[buildkit]=$(measure buildkit buildkit --no-cache)
cold[tool]=$(measure tool tool)
cold[toolci]=$(measure toolci toolci)
for tool_name in sdk buildkit tool toolci; do
  s=(); n=()
  for _ in $(seq "$runs"); do
    touch_source
    s+=("$(measure "$tool_name" "$tool_name")")
    n+=("$(measure "$tool_name" "$tool_name")")
  done
  source[$tool_name]=$(median "${s[@]}")
  noop[$tool_name]=$(median "${n[@]}")
done

printf '\n%-34s %10s %14s %10s\n' "seconds" "cold" "source-only" "no-op"
printf '%-34s %10s %14s %10s\n' "dotnet build -t:PublishImage" "${cold[sdk]}" "${source[sdk]}" "${noop[sdk]}"
printf '%-34s %10s %14s %10s\n' "modwsgi build (dotnet tool)" "${cold[tool]}" "${source[tool]}" "${noop[tool]}"
printf '%-34s %10s %14s %10s\n' "modwsgi build, no build server" "${cold[toolci]}" "${source[toolci]}" "${noop[toolci]}"
printf '%-34s %10s %14s %10s\n' "docker build (BuildKit)" "${cold[buildkit]}" "${source[buildkit]}" "${noop[buildkit]}"
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
echo
echo "ratios to BuildKit (lower is faster):"
echo "  dotnet build: cold $(ratio "${cold[sdk]}" "${cold[buildkit]}"), source-only $(ratio "${source[sdk]}" "${source[buildkit]}"), no-op $(ratio "${noop[sdk]}" "${noop[buildkit]}")"
echo "  modwsgi tool: cold $(ratio "${cold[tool]}" "${cold[buildkit]}"), source-only $(ratio "${source[tool]}" "${source[buildkit]}"), no-op $(ratio "${noop[tool]}" "${noop[buildkit]}")"
echo "  modwsgi tool, no build server: cold $(ratio "${cold[toolci]}" "${cold[buildkit]}"), source-only $(ratio "${source[toolci]}" "${source[buildkit]}"), no-op $(ratio "${noop[toolci]}" "${noop[buildkit]}")"

# What no tool that hands reproducible layers to the engine can go below, and where the tool's time goes.
floor=$(python3 "$repo/eng/engine-load-floor.py" modwsgi/base:bookworm $((2 * runs + 1)))
touch_source
tool --verbose
phases=$(sed -n 's/^timings: //p' "$work/last.log")
echo
echo "engine floor: $floor s to load one new one-file layer through the Engine API (docker load; median of $((2 * runs + 1)))"
echo "tool source-only rebuild, by phase: $phases (the rest is process start-up and argument parsing)"
echo
verdict() { python3 -c "print('met' if $1 else 'NOT met')"; }
echo "targets:"
echo "  tool source-only <= BuildKit's:                ${source[tool]} vs ${source[buildkit]}: $(verdict "${source[tool]} <= ${source[buildkit]}")"
echo "  dotnet build source-only <= BuildKit's + 1.5 s: ${source[sdk]} vs ${source[buildkit]} + 1.5: $(verdict "${source[sdk]} <= ${source[buildkit]} + 1.5")"
echo "  dotnet build no-op < 1.5 s:                    ${noop[sdk]}: $(verdict "${noop[sdk]} < 1.5")"
