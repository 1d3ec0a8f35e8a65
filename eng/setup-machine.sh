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
# A base built by an older recipe (its io.modwsgi.base.recipe label is not the recipe's number) is built again: the
# runtime expects what the current recipe installs (dumb-init, e.g.), and the size test holds the recipe to its target.
recipe="$repo/sdk/ModWsgi.Sdk/baseimage/build-base-image.sh"
recipe_version="$(grep -o 'io\.modwsgi\.base\.recipe=\\"[0-9]*' "$recipe" | grep -o '[0-9]*$')"
bases=()
for suite in ${MODWSGI_BASE_SUITES:-bookworm trixie}; do
  base="modwsgi/base:$suite"
  [ "$suite" = bookworm ] && base="${MODWSGI_BASE_IMAGE:-$base}"
  bases+=("$base")
  built="$(docker image inspect -f '{{index .Config.Labels "io.modwsgi.base.recipe"}}' "$base" 2>/dev/null || true)"
  if [ "$built" != "$recipe_version" ]; then
    old_id="$(docker image inspect -f '{{.Id}}' "$base" 2>/dev/null || true)"
    echo " -----> building base image $base (recipe $recipe_version${built:+, replacing one of recipe $built})"
    start=$(date +%s)
    $sudo bash "$recipe" --suite "$suite" "$base"
    echo " -----> built $base in $(($(date +%s) - start)) s"
    # The image the tag left: removed unless something still uses it.
    if [ -n "$old_id" ] && [ "$old_id" != "$(docker image inspect -f '{{.Id}}' "$base")" ]; then docker rmi "$old_id" >/dev/null 2>&1 || true; fi
  fi
done
echo " -----> machine ready: $(docker version --format 'Docker {{.Server.Version}}'), base images ${bases[*]}"
