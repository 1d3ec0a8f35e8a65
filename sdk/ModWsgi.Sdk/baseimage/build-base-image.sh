#!/usr/bin/env bash
# Builds the ModWsgi.Sdk base image from Debian packages only (no public registry is needed):
# debootstrap a minimal bookworm rootfs, import it, then apt-get Python, Apache and mod_wsgi inside.
#   usage: build-base-image.sh [IMAGE]      (default: modwsgi/base:bookworm; needs root and a Docker engine)
set -euo pipefail

image="${1:-${MODWSGI_BASE_IMAGE:-modwsgi/base:bookworm}}"
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

echo " -----> debootstrap bookworm (minbase) from $mirror"
debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }

# A debootstrapped rootfs lists only 'bookworm main': add updates and security, or it ships without fixes.
cat >"$work/rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security_mirror bookworm-security main
SOURCES
# Keep docs, man pages and translations out of every layer built on this image.
cat >"$work/rootfs/etc/dpkg/dpkg.cfg.d/01-modwsgi-nodoc" <<'NODOC'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
NODOC
cat >"$work/rootfs/etc/apt/apt.conf.d/01-modwsgi-norecommends" <<'NOREC'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
NOREC
rm -rf "$work/rootfs/var/lib/apt/lists/"* "$work/rootfs/var/cache/apt/"*.bin "$work/rootfs/usr/share/doc/"* "$work/rootfs/usr/share/man/"*

echo " -----> importing rootfs"
tar -C "$work/rootfs" --numeric-owner -c . | "$docker" import - "modwsgi/rootfs:$$" >/dev/null
rm -rf "$work/rootfs"

echo " -----> installing Python 3, Apache 2.4 and mod_wsgi"
container="modwsgi-base-build-$$"
"$docker" run --name "$container" "modwsgi/rootfs:$$" /bin/bash -ec '
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get upgrade -y -q
  apt-get install -y -q --no-install-recommends \
    ca-certificates python3 python3-venv python3-pip python3-setuptools-whl python3-wheel-whl \
    apache2 libapache2-mod-wsgi-py3 mime-support
  apt-get clean
  rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /var/log/apt /var/log/dpkg.log \
         /usr/share/doc/* /usr/share/man/* /root/.cache
  # The application venv: no pip of its own (176 KB, not 22 MB); builds drive it with the image pip (pip --python).
  python3 -m venv --without-pip /opt/venv
  # `pip` in hooks and shells installs into the venv, through the image pip (PEP 668 forbids the system one).
  printf "#!/bin/sh\nexec /usr/bin/python3 -m pip --python /opt/venv/bin/python \"\$@\"\n" >/opt/venv/bin/pip
  chmod 0755 /opt/venv/bin/pip
  ln -s pip /opt/venv/bin/pip3
  mkdir -p /app
' >"$work/install.log" 2>&1 || { tail -n 40 "$work/install.log" >&2; exit 1; }
"$docker" commit \
  --change 'ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8 PYTHONUNBUFFERED=1 PIP_FIND_LINKS=/usr/share/python-wheels PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1' \
  --change 'WORKDIR /app' \
  --change 'LABEL org.opencontainers.image.title="ModWsgi.Sdk base image" io.modwsgi.base.recipe="1"' \
  --change 'CMD ["/bin/bash"]' \
  "$container" "$image" >/dev/null
echo " -----> built $image"
