#!/usr/bin/env bash
# README command two: every test, unit and end-to-end. End-to-end tests need the engine and base image,
# which setup-machine.sh provides; under CI=true they fail rather than skip when those are missing.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$repo/eng/setup-machine.sh"
dotnet test "$repo/ModWsgi.Sdk.sln" -nodeReuse:false --logger "console;verbosity=normal" "$@"
