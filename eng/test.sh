#!/usr/bin/env bash
# README command two: every test, unit and end-to-end. End-to-end tests need the engine and base image,
# which setup-machine.sh provides; under CI=true they fail rather than skip when those are missing.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$repo/eng/setup-machine.sh"
log="$(mktemp /tmp/modwsgi-test.XXXXXX.log)"
trap 'rm -f "$log"' EXIT
status=0
# The engine matrix (issue 9): under CI=true, or MODWSGI_ENGINE_MATRIX=1, the engine-compatibility tests run
# against each engine eng/engines.sh stands up beside the host engine, instead of skipping in the main run.
matrix=0
if [ "${MODWSGI_ENGINE_MATRIX:-}" = 1 ] || { [ "${CI:-}" = true ] && [ "${MODWSGI_ENGINE_MATRIX:-}" != 0 ] && [ $# = 0 ]; }; then matrix=1; fi
# Engine tests carry an xunit trait: Category=EngineMatrix runs on every engine of the matrix, Category=EngineFloor
# only on d26min (the raised API minimum it needs exists only there). The main run leaves both out.
filter=(); [ "$matrix" = 1 ] && filter=(--filter "Category!=EngineMatrix&Category!=EngineFloor")
dotnet test "$repo/ModWsgi.Sdk.sln" -nodeReuse:false --logger "console;verbosity=normal" "${filter[@]}" "$@" 2>&1 | tee "$log" || status=$?
if [ "$matrix" = 1 ]; then
  trap '"$repo/eng/engines.sh" stop all || true; rm -f "$log"' EXIT
  echo " -----> engine matrix: starting Docker 26.1 (classic, containerd store, API floor 1.44) and Podman 4.3"
  "$repo/eng/engines.sh" start all
  for engine in d26c d26s d26min podman; do
    echo " -----> engine matrix: $engine"
    tests="Category=EngineMatrix"; [ "$engine" = d26min ] && tests="Category=EngineFloor"
    ( eval "$("$repo/eng/engines.sh" env "$engine")"
      dotnet test "$repo/tests/ModWsgi.EndToEnd.Tests" --no-build -nodeReuse:false --logger "console;verbosity=normal" --filter "$tests" ) 2>&1 | tee -a "$log" || status=$?
  done
fi
# One closing line over all test projects, in the plain form CI reads.
count() { awk -v key="$1:" '$1 == key && $2 ~ /^[0-9]+$/ {s += $2} END {print s + 0}' "$log"; }
passed=$(count Passed); failed=$(count Failed); skipped=$(count Skipped)
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit "$status"
