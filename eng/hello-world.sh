#!/usr/bin/env bash
# README command one: on a fresh machine, set up the engine and base image, pack the SDK, build
# samples/hello-world with `dotnet build -t:PublishImage`, run it and fetch a page over HTTP.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# hello-world needs only the default base image (bookworm); eng/test.sh builds both.
MODWSGI_BASE_SUITES="${MODWSGI_BASE_SUITES:-bookworm}" "$repo/eng/setup-machine.sh"
"$repo/eng/pack.sh"
# A private package folder: NuGet caches an SDK package by id and version, and this one was just re-packed.
export NUGET_PACKAGES="$repo/artifacts/nuget-packages"
rm -rf "$NUGET_PACKAGES/modwsgi.sdk"
dotnet build "$repo/samples/hello-world/hello-world.proj" -t:PublishImage -nodeReuse:false -tl:off

name="hello-world-$$"
port="${PORT:-8000}"
cleanup() { docker rm -f "$name" >/dev/null 2>&1 || true; }
trap cleanup EXIT
docker run -d --name "$name" -p "127.0.0.1:$port:80" hello-world >/dev/null
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$port/" 2>/dev/null && break; sleep 0.2; done
echo
curl -fsS -o /dev/null -w 'HTTP %{http_code} from hello-world on http://127.0.0.1:'"$port"'/\n' "http://127.0.0.1:$port/"
