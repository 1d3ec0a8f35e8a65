#!/usr/bin/env bash
# Packs the MSBuild SDK (ModWsgi.Sdk), the template pack (ModWsgi.Templates) and the dotnet tool
# (ModWsgi.Cli) into artifacts/packages, the local feed samples/nuget.config names.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for project in sdk/ModWsgi.Sdk/ModWsgi.Sdk.csproj src/ModWsgi.Templates/ModWsgi.Templates.csproj src/ModWsgi.Cli/ModWsgi.Cli.csproj; do
  dotnet pack "$repo/$project" -c Release -o "$repo/artifacts/packages" -nodeReuse:false -v:q -nologo "$@"
done
