#!/usr/bin/env bash
# Packs the ModWsgi.Sdk MSBuild SDK into artifacts/packages, the local feed nuget.config names.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dotnet pack "$repo/sdk/ModWsgi.Sdk/ModWsgi.Sdk.csproj" -c Release -o "$repo/artifacts/packages" -nodeReuse:false -v:q -nologo "$@"
