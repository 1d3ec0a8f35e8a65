#!/usr/bin/env bash
# Times, for one Flask app on this machine in one run: cold build, source-only rebuild and no-op rebuild,
# for ModWsgi.Sdk (`dotnet build -t:PublishImage`, and the `modwsgi` dotnet tool) and for
# BuildKit (`docker build` of an equivalent cache-friendly Dockerfile), then prints the ratios.
#   usage: eng/benchmark.sh [RUNS]      (RUNS: repetitions of the warm measurements, median taken; default 3)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${1:-3}"
work="$(mktemp -d /tmp/modwsgi-bench.XXXXXX)"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  docker rmi -f bench-sdk:latest bench-tool:latest bench-buildkit:latest >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# Setup steps are quiet unless they fail.
quiet() { "$@" >"$work/setup.log" 2>&1 || { cat "$work/setup.log" >&2; echo "benchmark: setup failed: $*" >&2; exit 1; }; }
quiet "$repo/eng/setup-machine.sh"
quiet "$repo/eng/build-package-index.sh" "$repo/artifacts/package-index"
quiet "$repo/eng/pack.sh"
quiet dotnet build "$repo/src/ModWsgi.Cli/ModWsgi.Cli.csproj" -c Release -nodeReuse:false -v:q -nologo
export NUGET_PACKAGES="$work/nuget-packages"

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
version="$(sed -n 's:.*<VersionPrefix>\(.*\)</VersionPrefix>.*:\1:p' "$repo/Directory.Build.props")"
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
tool_dll="$repo/src/ModWsgi.Cli/bin/Release/net10.0/modwsgi.dll"
tool() { dotnet "$tool_dll" build "$app" --repository bench-tool --pip-index-url "$index" --pip-trusted-host "$gateway" --cache-dir "$work/cache-tool" >"$work/last.log" 2>&1 || { cat "$work/last.log"; exit 1; }; }
buildkit() { DOCKER_BUILDKIT=1 /usr/bin/docker build -q -t bench-buildkit "$@" -f "$work/Dockerfile" "$app" >"$work/last.log" 2>&1 || { cat "$work/last.log"; exit 1; }; }

measure() { # name command...
  local name="$1"; shift
  local t0; t0=$(now); "$@"; elapsed "$t0" "$(now)"
}

declare -A cold source noop
echo "Measuring (warm figures are the median of $runs runs)..." >&2
cold[sdk]=$(measure sdk sdk)
cold[buildkit]=$(measure buildkit buildkit --no-cache)
[ -n "$tool_dll" ] && cold[tool]=$(measure tool tool)
for tool_name in sdk buildkit ${tool_dll:+tool}; do
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
[ -n "$tool_dll" ] && printf '%-34s %10s %14s %10s\n' "modwsgi build (dotnet tool)" "${cold[tool]}" "${source[tool]}" "${noop[tool]}"
printf '%-34s %10s %14s %10s\n' "docker build (BuildKit)" "${cold[buildkit]}" "${source[buildkit]}" "${noop[buildkit]}"
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
echo
echo "ratios to BuildKit (lower is faster):"
echo "  dotnet build: cold $(ratio "${cold[sdk]}" "${cold[buildkit]}"), source-only $(ratio "${source[sdk]}" "${source[buildkit]}"), no-op $(ratio "${noop[sdk]}" "${noop[buildkit]}")"
[ -n "$tool_dll" ] && echo "  modwsgi tool: cold $(ratio "${cold[tool]}" "${cold[buildkit]}"), source-only $(ratio "${source[tool]}" "${source[buildkit]}"), no-op $(ratio "${noop[tool]}" "${noop[buildkit]}")"
echo "targets: tool source-only <= BuildKit's; dotnet build source-only <= BuildKit's + 1.5 s; dotnet build no-op < 1.5 s"
