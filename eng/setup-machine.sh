#!/usr/bin/env bash
# Makes a fresh Debian machine ready to build and test: Docker engine running, debootstrap, registry,
# skopeo and the VCS tools (git, hg, svn, bzr) installed, and the SDK's base image in the engine. Idempotent: each part is skipped when present.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v skopeo >/dev/null || need+=(skopeo)
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v htpasswd >/dev/null || need+=(apache2-utils)
command -v git >/dev/null || need+=(git)
# The VCS end-to-end tests make small Mercurial, Subversion and Bazaar (breezy) repositories on the host.
command -v hg >/dev/null || need+=(mercurial)
command -v svnadmin >/dev/null || need+=(subversion)
command -v bzr >/dev/null || need+=(bzr)
if [ ${#need[@]} -gt 0 ]; then
  echo " -----> apt-get install ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

socket="${DOCKER_HOST:-unix:///var/run/docker.sock}"; socket="${socket#unix://}"
if ! docker -H "unix://$socket" version >/dev/null 2>&1; then
  echo " -----> starting dockerd"
  $sudo sh -c 'nohup dockerd >/var/log/modwsgi-dockerd.log 2>&1 &'
  for _ in $(seq 60); do docker -H "unix://$socket" version >/dev/null 2>&1 && break; sleep 1; done
  docker -H "unix://$socket" version >/dev/null || { tail -n 30 /var/log/modwsgi-dockerd.log >&2; echo "dockerd did not start" >&2; exit 1; }
fi

# Both base images: bookworm (Python 3.11, mod_wsgi 4.9) and trixie (Python 3.13, mod_wsgi 5.0); the samples run on
# both. About 45 s each here, built one after the other (debootstrap is network- and disk-bound). MODWSGI_BASE_IMAGE
# names another bookworm image; MODWSGI_BASE_SUITES=bookworm builds only that one.
bases=()
for suite in ${MODWSGI_BASE_SUITES:-bookworm trixie}; do
  base="modwsgi/base:$suite"
  [ "$suite" = bookworm ] && base="${MODWSGI_BASE_IMAGE:-$base}"
  bases+=("$base")
  if ! docker image inspect "$base" >/dev/null 2>&1; then
    echo " -----> building base image $base"
    start=$(date +%s)
    $sudo bash "$repo/sdk/ModWsgi.Sdk/baseimage/build-base-image.sh" --suite "$suite" "$base"
    echo " -----> built $base in $(($(date +%s) - start)) s"
  fi
done
echo " -----> machine ready: $(docker version --format 'Docker {{.Server.Version}}'), base images ${bases[*]}"
