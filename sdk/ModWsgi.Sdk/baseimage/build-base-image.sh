#!/usr/bin/env bash
# Builds the ModWsgi.Sdk base image from Debian packages only (no public registry is needed):
# debootstrap a minimal Debian rootfs, import it, then apt-get Python, Apache and mod_wsgi inside.
#   usage: build-base-image.sh [--suite bookworm|trixie] [IMAGE]      (needs root and a Docker engine)
# The suite decides the Python: bookworm gives Python 3.11 with mod_wsgi 4.9 and Apache 2.4.6x, trixie
# Python 3.13 with mod_wsgi 5.0 and Apache 2.4.6x-7x. Without --suite (or MODWSGI_BASE_SUITE) an IMAGE tagged
# :bookworm or :trixie names its suite, anything else is bookworm. IMAGE defaults to modwsgi/base:SUITE.
set -euo pipefail

suite="${MODWSGI_BASE_SUITE:-}"
image=""
while [ $# -gt 0 ]; do
  case "$1" in
    --suite) [ $# -ge 2 ] || { echo "build-base-image: --suite needs bookworm or trixie" >&2; exit 2; }; suite="$2"; shift 2 ;;
    --suite=*) suite="${1#--suite=}"; shift ;;
    -*) echo "build-base-image: unknown option $1 (usage: build-base-image.sh [--suite bookworm|trixie] [IMAGE])" >&2; exit 2 ;;
    *) [ -z "$image" ] || { echo "build-base-image: one IMAGE only, not also $1" >&2; exit 2; }; image="$1"; shift ;;
  esac
done
image="${image:-${MODWSGI_BASE_IMAGE:-}}"
if [ -z "$suite" ]; then
  case "$image" in *:trixie) suite=trixie ;; *) suite=bookworm ;; esac
fi
image="${image:-modwsgi/base:$suite}"
case "$suite" in
  bookworm) python_version=3.11 ;;
  trixie) python_version=3.13 ;;
  *) echo "build-base-image: the suite must be bookworm (Python 3.11) or trixie (Python 3.13), not '$suite'" >&2; exit 2 ;;
esac
# What the image runs, and nothing else. apache2-bin, not apache2: the launcher writes its own configuration,
# so /etc/apache2, apache2ctl/a2enmod and their procps dependency are dead weight; media-types gives
# /etc/mime.types (bookworm's mime-support also pulls mailcap). One package per line: add to the end.
packages=(
  ca-certificates
  python3
  python3-venv
  python3-pip
  python3-setuptools-whl
  python3-wheel-whl
  apache2-bin
  libapache2-mod-wsgi-py3
  media-types
  # dumb-init: PID 1 of the running container (mod_wsgi-docker-start execs it): it reaps zombies, turns the SIGTERM
  # of docker stop into the graceful stop of Apache (SIGWINCH) and drops the SIGWINCH of a terminal resize.
  dumb-init
)
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security_mirror="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
docker="${DOCKER:-docker}"

if [ "$(id -u)" != 0 ]; then echo "build-base-image: debootstrap needs root; run it with sudo" >&2; exit 1; fi
command -v debootstrap >/dev/null || { echo "build-base-image: debootstrap is missing: apt-get install -y debootstrap" >&2; exit 1; }

work="$(mktemp -d /tmp/modwsgi-base.XXXXXX)"
container=""
cleanup() {
  [ -n "$container" ] && "$docker" rm -f "$container" >/dev/null 2>&1 || true
  "$docker" rmi "modwsgi/rootfs:$$" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo " -----> debootstrap $suite (minbase) from $mirror"
debootstrap --variant=minbase "$suite" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }

# A debootstrapped rootfs lists only 'SUITE main': add updates and security, or it ships without fixes.
cat >"$work/rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security_mirror $suite-security main
SOURCES
# Keep docs, man pages, translations and lintian overrides out of this image and of every layer built on it
# (dpkg reads this for each later apt-get install too, as in Debian's slim images); apt fetches no translations
# and keeps no downloaded .debs.
cat >"$work/rootfs/etc/dpkg/dpkg.cfg.d/01-modwsgi-nodoc" <<'NODOC'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/groff/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/lintian/*
path-exclude=/usr/share/linda/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
NODOC
cat >"$work/rootfs/etc/apt/apt.conf.d/01-modwsgi-norecommends" <<'NOREC'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
NOREC
cat >"$work/rootfs/etc/apt/apt.conf.d/01-modwsgi-slim" <<'SLIM'
Acquire::Languages "none";
Binary::apt::APT::Keep-Downloaded-Packages "false";
SLIM
# debootstrap unpacks its packages without dpkg's path filters: strip what the filters would have kept out.
slim_rootfs() {
  local root="$1"
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} + 2>/dev/null || true
  rm -rf "$root/usr/share/man/"* "$root/usr/share/groff/"* "$root/usr/share/info/"* "$root/usr/share/lintian/"* \
         "$root/usr/share/linda/"* "$root/var/lib/apt/lists/"* "$root/var/cache/apt/"* "$root/var/cache/debconf/"*-old \
         "$root/var/cache/ldconfig/aux-cache" "$root/var/log/apt" "$root/var/log/dpkg.log" "$root/var/log/alternatives.log" \
         "$root/var/log/bootstrap.log" "$root/root/.cache" "$root/.dockerenv"
}
slim_rootfs "$work/rootfs"

echo " -----> importing rootfs"
tar -C "$work/rootfs" --numeric-owner -c . | "$docker" import - "modwsgi/rootfs:$$" >/dev/null
rm -rf "$work/rootfs"

echo " -----> installing Python $python_version, Apache 2.4 and mod_wsgi"
container="modwsgi-base-build-$$"
"$docker" run --name "$container" "modwsgi/rootfs:$$" /bin/bash -ec '
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get upgrade -y -q
  apt-get install -y -q --no-install-recommends '"${packages[*]}"'
  apt-get clean
  # The application venv: no pip of its own (176 KB, not 22 MB); builds drive it with the image pip (pip --python).
  python3 -m venv --without-pip /opt/venv
  # `pip` in hooks and shells installs into the venv, through the image pip (PEP 668 forbids the system one).
  printf "#!/bin/sh\nexec /usr/bin/python3 -m pip --python /opt/venv/bin/python \"\$@\"\n" >/opt/venv/bin/pip
  chmod 0755 /opt/venv/bin/pip
  ln -s pip /opt/venv/bin/pip3
  mkdir -p /app
' >"$work/install.log" 2>&1 || { tail -n 40 "$work/install.log" >&2; exit 1; }

# One layer: the upgrade and installs above replace files of the debootstrapped rootfs, which a committed second
# layer would carry twice (38 MB for bookworm). The container's filesystem is flattened, stripped again and imported.
echo " -----> flattening into one layer"
mkdir "$work/rootfs"
"$docker" export "$container" | tar -C "$work/rootfs" --numeric-owner -xf -
slim_rootfs "$work/rootfs"
# Docker's placeholders for the files it bind-mounts at run time: empty, as in Debian's own images.
: >"$work/rootfs/etc/hostname"; : >"$work/rootfs/etc/hosts"; : >"$work/rootfs/etc/resolv.conf"
tar -C "$work/rootfs" --numeric-owner -c . | "$docker" import \
  --change 'ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8 PYTHONUNBUFFERED=1 PIP_FIND_LINKS=/usr/share/python-wheels PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1' \
  --change 'WORKDIR /app' \
  --change "LABEL org.opencontainers.image.title=\"ModWsgi.Sdk base image\" io.modwsgi.base.recipe=\"2\" io.modwsgi.base.suite=\"$suite\" io.modwsgi.python.version=\"$python_version\"" \
  --change 'CMD ["/bin/bash"]' \
  - "$image" >/dev/null
echo " -----> built $image"
