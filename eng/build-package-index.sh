#!/usr/bin/env bash
# Builds a local PEP 503 "simple" index of real Python projects for tests and samples, offline from PyPI:
# Django (+ asgiref, pytz, sqlparse), Flask (+ Werkzeug, Jinja2, MarkupSafe, itsdangerous, click),
# gunicorn, waitress, and setuptools/wheel (for builds from sdists without build isolation).
#
#   eng/build-package-index.sh [--suite bookworm|trixie] OUTPUT_DIR
#
# One index per Debian suite, i.e. per base image (bookworm: Python 3.11, Django 3.2, Flask 2.2; trixie:
# Python 3.13, Django 4.2, Flask 3.1), not one index holding both: Django 4.2 and Flask 3.1 install on 3.11 too
# (Requires-Python >=3.8/>=3.9), so pip on bookworm would pick trixie's newer versions of everything unpinned;
# each suite's set is the one Debian tested together on that Python. Default suite: bookworm.
#
# Produces OUTPUT_DIR/wheels/*.whl, OUTPUT_DIR/simple/index.html, OUTPUT_DIR/simple/<name>/index.html
# (links ../../wheels/FILE#sha256=HEX) and OUTPUT_DIR/debian-packages.txt (which Debian package each wheel
# came from). Serve it with: python3 -m http.server --directory OUTPUT_DIR, then pip --index-url .../simple/.
#
# The wheels are repacked from the suite's *binary* python3-* packages (Debian's build of the
# upstream code, with Debian's security patches) inside a throwaway container of that suite's base image
# (modwsgi/base:SUITE, whose own apt sources name the suite: the host's apt sources are never touched): the
# Debian mirror reachable here serves the binary pool, but most source packages' .orig tarballs 404.
# MarkupSafe's optional C speedup is left out (pure-Python fallback), so every wheel is py3-none-any.
# setuptools and wheel are copied from the base image's /usr/share/python-wheels (Debian's own wheels).
#
# Idempotent: skipped when OUTPUT_DIR/simple/index.html exists and OUTPUT_DIR/.stamp holds this
# script's sha256. Concurrent runs on the same OUTPUT_DIR are serialized with flock.
set -euo pipefail

die() { echo "build-package-index: error: $*" >&2; exit 1; }

suite=bookworm
if [ "${1:-}" = --suite ]; then suite="${2:-}"; shift 2 || die "usage: $0 [--suite bookworm|trixie] OUTPUT_DIR"; fi
case "$suite" in bookworm|trixie) ;; *) die "unknown suite '$suite' (bookworm or trixie)" ;; esac
[ $# -eq 1 ] && [ -n "$1" ] || die "usage: $0 [--suite bookworm|trixie] OUTPUT_DIR"
base="${MODWSGI_BASE_IMAGE:-modwsgi/base:$suite}"
script="$(readlink -f "${BASH_SOURCE[0]}")"
mkdir -p "$1" || die "cannot create output directory $1"
out="$(cd "$1" && pwd)"
# The stamp names the suite too: one folder rebuilt for another suite is not up to date.
hash="$(sha256sum "$script" | cut -d' ' -f1) $suite"

list_wheels() {
  echo "Wheels in $out/wheels:"
  (cd "$out/wheels" && ls -1 -- *.whl | sed 's/^/  /')
}

# One build at a time per output folder (tests in parallel may all ask for it).
command -v flock >/dev/null || die "flock (util-linux) is required"
exec 9>"$out/.lock"
flock 9

if [ -f "$out/simple/index.html" ] && [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$hash" ]; then
  echo "Package index in $out is up to date (stamp matches $hash)."
  list_wheels
  exit 0
fi

command -v docker >/dev/null || die "docker CLI not found (run eng/setup-machine.sh)"
docker image inspect "$base" >/dev/null 2>&1 \
  || die "base image $base not found in the Docker engine, or no engine is running (run eng/setup-machine.sh)"

start=$(date +%s.%N)
staging="$out/.staging-$$"
container="modwsgi-package-index-$$"
cleanup() {
  docker rm -f "$container" >/dev/null 2>&1 || true
  rm -rf "$staging"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
rm -rf "$staging"
mkdir -p "$staging"

# Debian binary package -> the Python project it holds. Supporting packages are unpacked next to each
# of them so that Debian's symlinks (e.g. Django admin's and Werkzeug's jquery.js) can be dereferenced.
if [ "$suite" = bookworm ]; then
  packages=(
    python3-django python3-asgiref python3-tz python3-sqlparse
    python3-flask python3-werkzeug python3-jinja2 python3-markupsafe python3-itsdangerous python3-click
    python3-gunicorn python3-waitress
  )
else # trixie: Django 4.2 needs no pytz; Flask 3.1 needs blinker, gunicorn 23 packaging.
  packages=(
    python3-django python3-asgiref python3-sqlparse
    python3-flask python3-werkzeug python3-jinja2 python3-markupsafe python3-itsdangerous python3-click python3-blinker
    python3-gunicorn python3-packaging python3-waitress
  )
fi
support=(libjs-jquery)
# Packages whose compiled extension is optional (a pure-Python fallback exists): the .so is dropped.
optional_extensions=(python3-markupsafe)

inner=$(cat <<'EOF'
set -euo pipefail
# Whatever happens, leave /out to the invoking user (so a failed build can still be cleaned up).
trap 'chown -R "$HOST_UID:$HOST_GID" /out' EXIT
export DEBIAN_FRONTEND=noninteractive
echo " -----> apt-get update"
apt-get update -qq -o Acquire::Retries=3 || { echo "apt-get update failed: is the Debian mirror reachable?" >&2; exit 1; }
mkdir -p /tmp/debs /tmp/roots && cd /tmp/debs
echo " -----> apt-get download $PACKAGES $SUPPORT"
# -o APT::Sandbox::User=root: the download folder is root's, not _apt's.
apt-get download -qq -o Acquire::Retries=3 -o APT::Sandbox::User=root $PACKAGES $SUPPORT \
  || { echo "apt-get download failed for one of: $PACKAGES $SUPPORT" >&2; exit 1; }
for p in $PACKAGES; do
  deb=$(ls "$p"_*.deb)
  mkdir -p "/tmp/roots/$p"
  dpkg-deb -x "$deb" "/tmp/roots/$p"
  for s in $SUPPORT; do dpkg-deb -x "$(ls "$s"_*.deb)" "/tmp/roots/$p"; done
  echo "$p $(dpkg-deb -f "$deb" Version)" >> /tmp/versions
  echo "$p $(dpkg-deb -f "$deb" Depends)" >> /tmp/depends
done
mkdir -p /out/wheels
echo " -----> repacking as wheels"
# -W: trixie's wheel 0.46 calls wheel.metadata private (a DeprecationWarning); it is what turns PKG-INFO into METADATA.
/usr/bin/python3 -W ignore::DeprecationWarning - <<'PY'
import os, re, shutil, sys
from email.generator import Generator
from email.parser import Parser
from wheel.metadata import pkginfo_to_metadata
from wheel.wheelfile import WheelFile

optional = set(os.environ["OPTIONAL_EXTENSIONS"].split())
versions = dict(line.split(" ", 1) for line in open("/tmp/versions").read().splitlines())
depends = dict(line.split(" ", 1) for line in open("/tmp/depends").read().splitlines())
sources = []

# dh_python3 turns a project's unconditional requirements into Debian Depends and strips them from the
# installed requires.txt of egg-info packages (bookworm's), so the wheels would lose them: these are the upstream
# install_requires of the versions in bookworm, checked below against each package's Depends (a new upstream
# version fails here). trixie's packages are dist-info ones that keep their Requires-Dist: nothing to restore.
RESTORE = {"bookworm": {
    "python3-django": ("3.2.25", ["asgiref>=3.3.2,<4", "pytz", "sqlparse>=0.2.2"]),
    "python3-asgiref": ("3.6.0", ['typing_extensions; python_version < "3.8"']),
    "python3-tz": ("2022.7.1", []),
    "python3-sqlparse": ("0.4.2", []),
    "python3-flask": ("2.2.2", ["Werkzeug>=2.2.2", "Jinja2>=3.0", "itsdangerous>=2.0", "click>=8.0",
                                'importlib-metadata>=3.6.0; python_version < "3.10"']),
    "python3-werkzeug": ("2.2.2", ["MarkupSafe>=2.1.1"]),
    "python3-jinja2": ("3.1.2", ["MarkupSafe>=2.0"]),
    "python3-markupsafe": ("2.1.2", []),
    "python3-itsdangerous": ("2.1.2", []),
    "python3-click": ("8.1.3", ['importlib-metadata; python_version < "3.8"']),
    "python3-gunicorn": ("20.1.0", ["setuptools>=3.0"]),
    "python3-waitress": ("2.1.2", []),
}, "trixie": {}}[os.environ["SUITE"]]
DEBIAN_TO_PROJECT = {"python3-tz": "pytz", "python3-pkg-resources": "setuptools"}

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

def requirement_name(requirement):
    return norm(re.match(r"[A-Za-z0-9._-]+", requirement).group(0))

def fail(message):
    print("build-package-index: error: " + message, file=sys.stderr)
    sys.exit(1)

for deb, deb_version in versions.items():
    site = f"/tmp/roots/{deb}/usr/lib/python3/dist-packages"
    if not os.path.isdir(site):
        fail(f"{deb} has no /usr/lib/python3/dist-packages")
    entries = sorted(os.listdir(site))
    metas = [e for e in entries if e.endswith((".egg-info", ".dist-info"))]
    if len(metas) != 1:
        fail(f"{deb}: expected one .egg-info/.dist-info in dist-packages, found {metas}")
    meta = os.path.join(site, metas[0])
    if meta.endswith(".egg-info"):
        if not os.path.isdir(meta):
            fail(f"{deb}: {metas[0]} is not a directory")
        msg = pkginfo_to_metadata(meta, os.path.join(meta, "PKG-INFO"))
        keep = ["entry_points.txt", "top_level.txt"]
    else:
        with open(os.path.join(meta, "METADATA"), encoding="utf-8") as f:
            msg = Parser().parse(f)
        keep = [n for n in os.listdir(meta) if n not in ("RECORD", "WHEEL", "INSTALLER", "REQUESTED", "direct_url.json")]
    name, version = msg["Name"], msg["Version"]
    if deb in RESTORE:
        expected, restore = RESTORE[deb]
        if version != expected:
            fail(f"{deb} now holds {name} {version}, not {expected}: update RESTORE in eng/build-package-index.sh")
        for requirement in restore:
            msg["Requires-Dist"] = requirement
    # Debian Depends and the wheel's requirements must agree: each python3-* package Debian always depends on is
    # a requirement of the wheel, and each unconditional requirement of the wheel is a Debian dependency. A group
    # "python3-X | python3-supported-min (>= 3.11)" is Debian's spelling of a python_version marker.
    groups = [re.findall(r"python3-[a-z0-9.+-]+", g) for g in depends[deb].split(",")]
    project = lambda d: norm(DEBIAN_TO_PROJECT.get(d, d[len("python3-"):]))
    debian_always = {project(g[0]) for g in groups if g and "python3-supported-min" not in g}
    debian_any = {project(d) for g in groups for d in g if d != "python3-supported-min"}
    requirements = [r for r in msg.get_all("Requires-Dist", []) if not re.search(r"extra\s*==", r)]
    required = {requirement_name(r) for r in requirements}
    unconditional = {requirement_name(r) for r in requirements if ";" not in r}
    if not debian_always <= required or not unconditional <= debian_any:
        fail(f"{deb}: Debian Depends ({depends[deb]}) and the wheel's requirements ({sorted(required)}) disagree")
    safe = re.sub(r"[^\w\d.]+", "_", name, flags=re.UNICODE)
    stage = f"/tmp/stage/{safe}"
    dropped = []

    def ignore(directory, names):
        skip = {n for n in names if n == "__pycache__" or n.endswith(".pyc")}
        for n in names:
            if n.endswith(".so"):
                if deb not in optional:
                    fail(f"{deb} ships a compiled extension {n}: a py3-none-any wheel would not work without it")
                dropped.append(n)
                skip.add(n)
        return skip

    os.makedirs(stage)
    for entry in entries:
        if entry == metas[0]:
            continue
        src = os.path.join(site, entry)
        try:
            if os.path.isdir(src):
                # symlinks=False copies what the links point to; a dangling link raises an error.
                shutil.copytree(src, os.path.join(stage, entry), symlinks=False, ignore=ignore)
            elif not entry.endswith((".pyc", ".so")):
                shutil.copy(src, os.path.join(stage, entry))
        except (OSError, shutil.Error) as e:
            fail(f"{deb}: cannot copy {entry}: {e}")
    dist_info = os.path.join(stage, f"{safe}-{version}.dist-info")
    os.makedirs(dist_info)
    for n in keep:
        if os.path.isfile(os.path.join(meta, n)):
            shutil.copy(os.path.join(meta, n), dist_info)
    with open(os.path.join(dist_info, "METADATA"), "w", encoding="utf-8") as f:
        Generator(f, mangle_from_=False, maxheaderlen=0).flatten(msg)
    with open(os.path.join(dist_info, "WHEEL"), "w") as f:
        f.write("Wheel-Version: 1.0\n"
                f"Generator: modwsgi eng/build-package-index.sh (Debian {deb} {deb_version})\n"
                "Root-Is-Purelib: true\nTag: py3-none-any\n")
    wheel = f"/out/wheels/{safe}-{version}-py3-none-any.whl"
    with WheelFile(wheel, "w") as wf:
        wf.write_files(stage)
    note = f" (dropped optional extension {', '.join(dropped)})" if dropped else ""
    print(f"  {os.path.basename(wheel)} <- {deb} {deb_version}{note}")
    sources.append(f"{os.path.basename(wheel)} {deb} {deb_version}")

with open("/out/debian-packages.txt", "w") as f:
    f.write("\n".join(sorted(sources)) + "\n")
PY
for w in /usr/share/python-wheels/setuptools-*.whl /usr/share/python-wheels/wheel-*.whl; do
  [ -f "$w" ] || { echo "missing $w in the base image (python3-setuptools-whl / python3-wheel-whl)" >&2; exit 1; }
  cp "$w" /out/wheels/
  pkg=$(dpkg -S "$w" | cut -d: -f1)
  echo "$(basename "$w") $pkg $(dpkg-query -W -f '${Version}' "$pkg")" >> /out/debian-packages.txt
  echo "  $(basename "$w") <- $pkg (copied from the base image)"
done
echo " -----> writing the PEP 503 index"
/usr/bin/python3 - <<'PY'
import hashlib, html, os, re
projects = {}
for file in sorted(os.listdir("/out/wheels")):
    if file.endswith(".whl"):
        projects.setdefault(re.sub(r"[-_.]+", "-", file.split("-")[0]).lower(), []).append(file)
os.makedirs("/out/simple")
page = '<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.0"><title>{}</title></head><body>\n{}</body></html>\n'
for project, files in sorted(projects.items()):
    os.makedirs(f"/out/simple/{project}")
    links = ""
    for file in files:
        sha = hashlib.sha256(open(f"/out/wheels/{file}", "rb").read()).hexdigest()
        links += f'<a href="../../wheels/{html.escape(file)}#sha256={sha}">{html.escape(file)}</a><br>\n'
    with open(f"/out/simple/{project}/index.html", "w") as f:
        f.write(page.format(f"Links for {project}", links))
with open("/out/simple/index.html", "w") as f:
    f.write(page.format("Simple index", "".join(f'<a href="{p}/">{p}</a><br>\n' for p in sorted(projects))))
PY
EOF
)

echo " -----> building wheels from Debian $suite packages in $base"
docker run --rm --name "$container" --network bridge \
  -v "$staging:/out" \
  -e PACKAGES="${packages[*]}" -e SUPPORT="${support[*]}" -e OPTIONAL_EXTENSIONS="${optional_extensions[*]}" \
  -e SUITE="$suite" -e HOST_UID="$(id -u)" -e HOST_GID="$(id -g)" -e SOURCE_DATE_EPOCH=315532800 \
  "$base" bash -c "$inner" \
  || die "building the wheels in a $base container failed (see the output above)"

[ -f "$staging/simple/index.html" ] || die "the container finished without writing simple/index.html"
rm -rf "$out/wheels" "$out/simple" "$out/debian-packages.txt"
mv "$staging/wheels" "$staging/simple" "$staging/debian-packages.txt" "$out/"
echo "$hash" > "$out/.stamp"

elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
echo "Package index built in $elapsed s: $out/simple/"
list_wheels
