#!/usr/bin/env bash
# README command two: every test, unit and end-to-end. End-to-end tests need the engine and base image,
# which setup-machine.sh provides; under CI=true they fail rather than skip when those are missing.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$repo/eng/setup-machine.sh"
log="$(mktemp /tmp/modwsgi-test.XXXXXX.log)"
trap 'rm -f "$log"' EXIT
status=0
dotnet test "$repo/ModWsgi.Sdk.sln" -nodeReuse:false --logger "console;verbosity=normal" "$@" 2>&1 | tee "$log" || status=$?
# One closing line over all test projects, in the plain form CI reads.
count() { awk -v key="$1:" '$1 == key && $2 ~ /^[0-9]+$/ {s += $2} END {print s + 0}' "$log"; }
passed=$(count Passed); failed=$(count Failed); skipped=$(count Skipped)
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit "$status"
