#!/usr/bin/env bash
# Stands up the container engines users run BESIDE the host engine, for engine-compatibility tests:
#   d26c    Docker 26.1 (Debian trixie), classic image store      bridge d26cbr0   10.226.1.1
#   d26s    Docker 26.1, containerd image store (snapshotter)     bridge d26sbr0   10.226.2.1
#   d26min  Docker 26.1 classic store with DOCKER_MIN_API_VERSION=1.44 (Docker 29's API floor)
#                                                                 bridge d26minbr0 10.226.3.1
#   podman  Podman 4.3 (bookworm), rootful API service on /run/podman/podman.sock, gateway 10.88.0.1
# Usage: engines.sh start|stop [NAME...|all] | env NAME | check NAME... | status | purge [NAME...|all] | download
#   download: only fetch and unpack Docker 26.1 into $MODWSGI_ENGINES_DIR/root (tests that start a daemon of
#   their own, e.g. the TLS engine of RemoteEngineTests, take its binaries from there).
# The host engine (/var/run/docker.sock, its containerd and docker0) is never restarted or reconfigured:
# each engine has its own containerd, roots, socket and bridge, and --iptables=false. Recipe and reasons:
# /work/shared/ENGINES.md. Idempotent; quiet unless something fails (then the engine's log tail is printed).
# MODWSGI_ENGINES_TIMES=1 prints how long each step took on stderr.
set -euo pipefail

state="${MODWSGI_ENGINES_DIR:-/var/tmp/modwsgi-engines}"
base="${MODWSGI_BASE_IMAGE:-modwsgi/base:bookworm}"
# Always explicit: the caller's DOCKER_HOST may point at one of these engines (after `eval "$(... env d26c)"`).
host_engine="${MODWSGI_HOST_DOCKER_HOST:-unix:///var/run/docker.sock}"
podman_socket=/run/podman/podman.sock
all_engines=(d26c d26s d26min podman)
root="$state/root" # trixie's docker.io and containerd, unpacked (runc and tini stay bookworm's)

die() { echo "engines.sh: $*" >&2; exit 1; }
timing() { [ "${MODWSGI_ENGINES_TIMES:-}" = 1 ]; }
now() { date +%s.%N; }
took() { # LABEL START: prints the step's duration when asked to
  if timing; then awk -v l="$1" -v s="$2" -v e="$(now)" 'BEGIN { printf "engines.sh: %-22s %6.1f s\n", l, e - s }' >&2; fi
}

engine_dir() { echo "$state/$1"; }
socket_of() { if [ "$1" = podman ]; then echo "$podman_socket"; else echo "$(engine_dir "$1")/docker.sock"; fi; }
octet_of() { case "$1" in d26c) echo 1 ;; d26s) echo 2 ;; d26min) echo 3 ;; esac; }
gateway_of() { if [ "$1" = podman ]; then echo 10.88.0.1; else echo "10.226.$(octet_of "$1").1"; fi; }
store_of() { case "$1" in d26s) echo containerd ;; podman) echo podman ;; *) echo classic ;; esac; }
known() { case "$1" in d26c | d26s | d26min | podman) ;; *) die "unknown engine '$1' (d26c, d26s, d26min, podman or all)" ;; esac; }
selected=()
select_engines() { # sets selected: the named engines; "all" (or nothing) is every engine
  local n
  if [ $# = 0 ] || [ "$1" = all ]; then selected=("${all_engines[@]}"); return; fi
  for n in "$@"; do known "$n"; done
  selected=("$@")
}
on() { docker -H "unix://$(socket_of "$1")" "${@:2}"; }
answers() { on "$1" version >/dev/null 2>&1; }

# PID from FILE when that process is alive and its command line still holds the mark in the file's second
# line (a path only that daemon names: a recycled PID is not ours).
live_pid() {
  local file="$1" pid exe
  [ -f "$file" ] || return 1
  { read -r pid; read -r exe; } <"$file" || true
  [ -n "${pid:-}" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$exe" || return 1
  echo "$pid"
}

# Starts COMMAND... in its own session (it outlives this script and the CI step's process group),
# recording its PID and MARK (see live_pid) in PIDFILE; output goes to LOG.
spawn() {
  local pidfile="$1" log="$2" mark="$3"; shift 3
  rm -f "$pidfile"
  # shellcheck disable=SC2016 # expanded by the inner bash
  setsid bash -c 'printf "%s\n%s\n" "$$" "$1" >"$0.new" && mv "$0.new" "$0"; shift; exec "$@"' "$pidfile" "$mark" "$@" >"$log" 2>&1 </dev/null 9>&- &
  for _ in $(seq 50); do [ -s "$pidfile" ] && return 0; sleep .1; done
  die "could not start $*"
}

# Waits up to SECONDS for COMMAND to succeed.
await() {
  local seconds="$1"; shift
  local until_=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do [ $SECONDS -lt $until_ ] || return 1; sleep .2; done
}

# Waits up to SECONDS for COMMAND to succeed while the daemon in PIDFILE lives.
await_daemon() {
  local pidfile="$1" seconds="$2"; shift 2
  local until_=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $until_ ] && live_pid "$pidfile" >/dev/null || return 1
    sleep .2
  done
}

fail_with_log() { # NAME MESSAGE LOG...
  local name="$1" message="$2"; shift 2
  for log in "$@"; do [ -f "$log" ] && { echo "---- tail of $log" >&2; tail -n 25 "$log" >&2; }; done
  die "$name: $message"
}

stop_pid() { # PIDFILE: SIGTERM, then SIGKILL after 20 s
  local pid
  pid="$(live_pid "$1")" || { rm -f "$1"; return 0; }
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep .2; done
  kill -9 "$pid" 2>/dev/null || true
  for _ in $(seq 25); do kill -0 "$pid" 2>/dev/null || break; sleep .2; done
  rm -f "$1"
}

unmount_under() { # DIR: every mount below it, deepest first
  local dir="$1" target
  while read -r target; do
    [ -n "$target" ] || continue
    umount "$target" 2>/dev/null || umount -l "$target" 2>/dev/null || true
  done < <(awk -v d="$dir/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
}

delete_link() { if ip link show "$1" >/dev/null 2>&1; then ip link del "$1"; fi; }

remove_cgroups() { # NAME: the cgroup folders below /sys/fs/cgroup/*/NAME (v1) or /sys/fs/cgroup/NAME
  local folder
  for folder in /sys/fs/cgroup/"$1" /sys/fs/cgroup/*/"$1"; do
    if [ -d "$folder" ]; then find "$folder" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
  done
}

# ---- downloads: trixie's docker.io and containerd, through an apt configuration of their own (the host's
# apt sources never see trixie); reused while the .debs are in the state folder.
download_docker26() {
  [ -x "$root/usr/sbin/dockerd" ] && [ -x "$root/usr/bin/containerd" ] && return 0
  local apt="$state/apt" started; started="$(now)"
  mkdir -p "$apt/lists/partial" "$apt/debs"
  if ! compgen -G "$apt/debs/docker.io_*.deb" >/dev/null || ! compgen -G "$apt/debs/containerd_*.deb" >/dev/null; then
    echo "deb http://deb.debian.org/debian trixie main" >"$apt/sources.list"
    # Own lists and caches too: the host's apt caches never hold trixie's package lists.
    local o=(-o "Dir::Etc::sourcelist=$apt/sources.list" -o "Dir::Etc::sourceparts=-" -o "Dir::State::Lists=$apt/lists"
      -o "Dir::Cache=$apt/cache")
    mkdir -p "$apt/cache/archives/partial"
    apt-get "${o[@]}" update -qq >"$apt/apt.log" 2>&1 || fail_with_log docker26 "apt-get update (trixie) failed" "$apt/apt.log"
    (cd "$apt/debs" && apt-get "${o[@]}" download docker.io containerd >>"$apt/apt.log" 2>&1) ||
      fail_with_log docker26 "downloading trixie's docker.io and containerd failed" "$apt/apt.log"
    took "download (trixie debs)" "$started"
  fi
  local unpacked="$state/root.partial"
  rm -rf "$unpacked"; mkdir -p "$unpacked"
  for deb in "$apt"/debs/docker.io_*.deb "$apt"/debs/containerd_*.deb; do dpkg -x "$deb" "$unpacked"; done
  rm -rf "$root"; mv "$unpacked" "$root"
}

# ---- the base image: saved once from the host engine per image id, loaded into an engine unless there.
host_base_id() {
  docker -H "$host_engine" image inspect -f '{{.Id}}' "$base" 2>/dev/null ||
    die "the host engine ($host_engine) has no $base: run eng/setup-machine.sh"
}

# The base image's config digest in engine NAME (the containerd store's image id is its manifest digest).
engine_base_id() {
  local name="$1" id
  id="$(on "$name" image inspect -f '{{.Id}}' "$base" 2>/dev/null)" || return 0
  case "$id" in sha256:*) ;; *) id="sha256:$id" ;; esac
  if [ "$name" = d26s ]; then
    local ctr=("$root/usr/bin/ctr" -a "$(engine_dir "$name")/containerd.sock" -n moby) manifest
    manifest="$("${ctr[@]}" content get "$id" 2>/dev/null)" || return 0
    if grep -q '"manifests"' <<<"$manifest"; then # an index: its first manifest
      manifest="$("${ctr[@]}" content get "$(grep -o '"manifests":\[{[^}]*' <<<"$manifest" | grep -o 'sha256:[0-9a-f]\{64\}' | head -n1)")"
    fi
    id="$(grep -o '"config":{[^}]*' <<<"$manifest" | grep -o 'sha256:[0-9a-f]\{64\}' | head -n1)"
  fi
  echo "$id"
}

load_base() {
  local name="$1" want started tar
  want="$(host_base_id)"
  [ "$(engine_base_id "$name")" = "$want" ] && return 0
  tar="$state/base/${want#sha256:}.tar"
  if [ ! -s "$tar" ]; then
    started="$(now)"
    rm -rf "$state/base"; mkdir -p "$state/base"
    docker -H "$host_engine" save -o "$tar.partial" "$base" || die "docker save $base from the host engine failed"
    mv "$tar.partial" "$tar"
    took "save base (host)" "$started"
  fi
  started="$(now)"
  on "$name" load -q -i "$tar" >"$(engine_dir "$name")/load.log" 2>&1 ||
    fail_with_log "$name" "loading $base failed" "$(engine_dir "$name")/load.log"
  [ "$(engine_base_id "$name")" = "$want" ] ||
    fail_with_log "$name" "$base is not $want after loading it" "$(engine_dir "$name")/load.log"
  took "load base ($name)" "$started"
}

# ---- Docker 26
ensure_bridge() { # NAME OCTET
  local bridge="${1}br0" address="10.226.$2.1/24"
  ip link show "$bridge" >/dev/null 2>&1 || ip link add "$bridge" type bridge
  ip -4 addr show dev "$bridge" | grep -qF "$address" || ip addr add "$address" dev "$bridge"
  ip link set "$bridge" up
}

start_docker26() {
  local name="$1" dir; dir="$(engine_dir "$1")"
  # Running: only the base image is brought up to date (the host's may have been rebuilt since).
  if live_pid "$dir/dockerd.pid" >/dev/null && answers "$name"; then load_base "$name"; return 0; fi
  stop_docker26 "$name" # whatever is left of an earlier run
  download_docker26
  local started; started="$(now)"
  mkdir -p "$dir"
  ensure_bridge "$name" "$(octet_of "$name")"
  printf 'version = 2\nroot = "%s/ctd"\nstate = "%s/ctds"\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n[grpc]\n  address = "%s/containerd.sock"\n[ttrpc]\n  address = "%s/containerd.sock.ttrpc"\n' \
    "$dir" "$dir" "$dir" "$dir" >"$dir/containerd.toml"
  if [ "$name" = d26s ]; then
    echo '{"features": {"containerd-snapshotter": true}, "storage-driver": "overlayfs"}' >"$dir/daemon.json"
  else
    echo '{"storage-driver": "overlay2"}' >"$dir/daemon.json"
  fi
  local path="$root/usr/bin:$root/usr/sbin:$PATH" min_api=()
  [ "$name" = d26min ] && min_api=(DOCKER_MIN_API_VERSION=1.44)
  # Its own containerd: otherwise dockerd adopts the host engine's /run/containerd.
  spawn "$dir/containerd.pid" "$dir/containerd.log" "$dir/containerd.toml" env PATH="$path" "$root/usr/bin/containerd" --config "$dir/containerd.toml"
  await_daemon "$dir/containerd.pid" 30 test -S "$dir/containerd.sock" || fail_with_log "$name" "its containerd did not start" "$dir/containerd.log"
  # Its own bridge and no iptables: the host engine's docker0 and chains stay as they are.
  spawn "$dir/dockerd.pid" "$dir/dockerd.log" "$dir/docker.sock" env PATH="$path" "${min_api[@]}" "$root/usr/sbin/dockerd" \
    --config-file "$dir/daemon.json" --containerd "$dir/containerd.sock" \
    --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/exec/dockerd.pid" -H "unix://$dir/docker.sock" \
    --bridge "${name}br0" --iptables=false --ip6tables=false --ip-masq=false --cgroup-parent "/$name" \
    --userland-proxy-path "$root/usr/sbin/docker-proxy"
  await_daemon "$dir/dockerd.pid" 60 answers "$name" || fail_with_log "$name" "dockerd did not answer on $dir/docker.sock" "$dir/dockerd.log" "$dir/containerd.log"
  took "daemon up ($name)" "$started"
  load_base "$name"
}

stop_docker26() {
  local name="$1" dir; dir="$(engine_dir "$1")"
  if [ ! -d "$dir" ]; then delete_link "${name}br0"; return 0; fi
  if live_pid "$dir/dockerd.pid" >/dev/null && answers "$name"; then
    local containers; containers="$(on "$name" ps -aq)"
    # shellcheck disable=SC2086 # one id per word
    [ -z "$containers" ] || on "$name" rm -f $containers >/dev/null 2>&1 || true
  fi
  stop_pid "$dir/dockerd.pid"
  stop_pid "$dir/containerd.pid"
  # Shims of containers that outlived their containerd (found by its socket, which only they name).
  local cmdline
  while read -r cmdline; do
    if tr '\0' ' ' <"$cmdline" 2>/dev/null | grep -q '^[^ ]*containerd-shim'; then kill -9 "$(cut -d/ -f3 <<<"$cmdline")" 2>/dev/null || true; fi
  done < <(grep -lF -- "$dir/containerd.sock" /proc/[0-9]*/cmdline 2>/dev/null || true)
  unmount_under "$dir"
  rm -f "$dir/docker.sock" "$dir/containerd.sock" "$dir/containerd.sock.ttrpc"
  delete_link "${name}br0"
  remove_cgroups "$name"
}

# ---- Podman: bookworm's, with its storage and configuration in the state folder.
podman_env() {
  local dir; dir="$(engine_dir podman)"
  echo "CONTAINERS_CONF=$dir/containers.conf"
  echo "CONTAINERS_STORAGE_CONF=$dir/storage.conf"
}

start_podman() {
  local dir; dir="$(engine_dir podman)"
  if live_pid "$dir/podman.pid" >/dev/null && answers podman; then load_base podman; return 0; fi
  stop_podman
  local started; started="$(now)"
  if ! command -v podman >/dev/null; then
    mkdir -p "$dir"
    { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman; }; } >"$dir/apt.log" 2>&1 ||
      fail_with_log podman "apt-get install podman failed" "$dir/apt.log"
    took "apt-get install podman" "$started"; started="$(now)"
  fi
  mkdir -p "$dir" "$(dirname "$podman_socket")"
  # Root here lacks CAP_SYS_RESOURCE (hard nofile limit below podman's default): without these ulimits
  # every container fails with "error setting rlimit type 7: operation not permitted".
  local nofile; nofile="$(ulimit -Hn)"; [ "$nofile" = unlimited ] && nofile=1048576
  printf '[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=32768:32768"]\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' \
    "$nofile" "$nofile" >"$dir/containers.conf"
  printf '[storage]\ndriver = "overlay"\ngraphroot = "%s/storage"\nrunroot = "%s/run"\n' "$dir" "$dir" >"$dir/storage.conf"
  rm -f "$podman_socket"
  local env_=(); mapfile -t env_ < <(podman_env)
  spawn "$dir/podman.pid" "$dir/podman.log" "$podman_socket" env "${env_[@]}" podman system service --time=0 "unix://$podman_socket"
  await_daemon "$dir/podman.pid" 60 answers podman || fail_with_log podman "podman system service did not answer on $podman_socket" "$dir/podman.log"
  took "daemon up (podman)" "$started"
  load_base podman
}

stop_podman() {
  local dir; dir="$(engine_dir podman)"
  [ -d "$dir" ] || return 0
  if command -v podman >/dev/null && [ -f "$dir/storage.conf" ]; then
    local env_=(); mapfile -t env_ < <(podman_env)
    env "${env_[@]}" podman pod rm -fa >/dev/null 2>&1 || true
    env "${env_[@]}" podman rm -fa >/dev/null 2>&1 || true
  fi
  stop_pid "$dir/podman.pid"
  rm -f "$podman_socket"
  # podman unmounts its layers on exit; whatever is left (and its storage's own bind mount) goes here.
  unmount_under "$dir"
  # The podman network's bridge exists while a container runs; netavark removes it with the last one.
  delete_link podman0
  remove_cgroups libpod_parent
  remove_netavark_rules
}

# netavark leaves its (by then empty) chains and the jumps to them in the built-in chains: remove them.
remove_netavark_rules() {
  command -v iptables-save >/dev/null || return 0
  local table builtin number chain
  for table in filter nat; do
    for builtin in INPUT FORWARD OUTPUT PREROUTING POSTROUTING; do
      # by rule number, last first, so the numbers above stay right
      while read -r number; do iptables -t "$table" -D "$builtin" "$number" 2>/dev/null || true; done < <(
        iptables -t "$table" -L "$builtin" -n --line-numbers 2>/dev/null | awk '$2 ~ /^NETAVARK/ { print $1 }' | sort -rn)
    done
    while read -r chain; do iptables -t "$table" -F "$chain" 2>/dev/null || true; done < <(iptables-save -t "$table" 2>/dev/null | sed -n 's/^:\(NETAVARK[^ ]*\) .*/\1/p')
    while read -r chain; do iptables -t "$table" -X "$chain" 2>/dev/null || true; done < <(iptables-save -t "$table" 2>/dev/null | sed -n 's/^:\(NETAVARK[^ ]*\) .*/\1/p')
  done
}

# ---- subcommands
start() {
  local n
  select_engines "$@"
  for n in "${selected[@]}"; do
    # a start that fails leaves nothing running (its logs stay in the state folder)
    if [ "$n" = podman ]; then (start_podman) || { stop podman; exit 1; }
    else (start_docker26 "$n") || { stop "$n"; exit 1; }; fi
  done
}
stop() {
  local n started
  select_engines "$@"
  for n in "${selected[@]}"; do
    started="$(now)"
    if [ "$n" = podman ]; then stop_podman; else stop_docker26 "$n"; fi
    took "stop $n" "$started"
  done
}

download() { download_docker26; }

purge() { # stop, then remove the engines' data (images); the downloads stay
  local n dir
  select_engines "$@"
  for n in "${selected[@]}"; do
    stop "$n"; dir="$(engine_dir "$n")"
    [ -d "$dir" ] || continue
    awk -v d="$dir/" 'index($5, d) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo &&
      die "$n: mounts remain under $dir; not removing it"
    rm -rf --one-file-system "$dir"
  done
}

print_env() {
  [ $# = 1 ] || die "usage: engines.sh env NAME"
  known "$1"
  echo "export DOCKER_HOST=unix://$(socket_of "$1")"
  echo "export MODWSGI_TEST_ENGINE=$1"
  echo "export MODWSGI_TEST_IMAGE_STORE=$(store_of "$1")"
  echo "export MODWSGI_TEST_BRIDGE_GATEWAY=$(gateway_of "$1")"
  [ "$1" = d26min ] && echo "export MODWSGI_TEST_MIN_API_VERSION=1.44"
  if [ "$1" = podman ]; then podman_env | sed 's/^/export /'; fi
  return 0
}

status() {
  local n
  for n in "${all_engines[@]}"; do
    if answers "$n"; then
      printf '%-7s running  %s  %s\n' "$n" "$(on "$n" version --format 'server {{.Server.Version}} API {{.Server.APIVersion}} (min {{.Server.MinAPIVersion}})' 2>/dev/null)" "$(socket_of "$n")"
    else
      printf '%-7s stopped\n' "$n"
    fi
  done
}

# Smoke check: the engine answers; a base-image container runs; a published port reaches it from the host;
# it reaches the host on the bridge gateway (where tests serve their package index).
check() {
  local n failed=0
  select_engines "$@"
  for n in "${selected[@]}"; do check_one "$n" || failed=1; done
  return "$failed"
}

has_address() { ip -4 -o addr show | grep -qF " $1/"; }

check_one() {
  local name="$1" out id port gateway server="" result=0 tag="engines-check-$1-$$"
  fail() { echo "$name: FAIL $*" >&2; result=1; }
  out="$(on "$name" version --format '{{.Server.Version}} API {{.Server.APIVersion}} (min {{.Server.MinAPIVersion}})' 2>&1)" ||
    { echo "$name: FAIL docker version: $out" >&2; return 1; }
  echo "$name: version   $out"
  if [ "$name" = d26min ]; then
    if out="$(DOCKER_API_VERSION=1.43 on "$name" version 2>&1)"; then fail "API 1.43 was accepted below the 1.44 floor"
    else echo "$name: floor     API 1.43 refused: $(grep -o 'client version.*' <<<"$out" | head -n1)"; fi
  fi
  if out="$(on "$name" run --rm "$base" python3 --version 2>&1)" && [[ "$out" == Python\ 3.* ]]; then
    echo "$name: run       $out"
  else fail "run --rm $base python3 --version: $out"; fi
  if id="$(on "$name" run -d --name "$tag-http" -p 127.0.0.1::80 "$base" python3 -m http.server 80 2>&1)" &&
    port="$(on "$name" port "$tag-http" 80/tcp 2>&1 | head -n1)" && port="${port##*:}" && [ -n "$port" ] &&
    out="$(curl -fs --retry 20 --retry-delay 1 --retry-all-errors -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")"; then
    echo "$name: publish   127.0.0.1:$port -> 80 answered HTTP $out"
  else fail "publish -p 127.0.0.1::80: ${out:-$id $port}"; fi
  on "$name" rm -f "$tag-http" >/dev/null 2>&1 || true
  # The container first (the podman bridge exists only while one runs), then the host's server on the gateway.
  gateway="$(gateway_of "$name")"; local port_host=$((18000 + $$ % 1000))
  local probe="import time, urllib.request
for _ in range(40):
    try: print(urllib.request.urlopen('http://$gateway:$port_host/', timeout=2).status); break
    except Exception: time.sleep(.5)
else: raise SystemExit('no answer from $gateway:$port_host')"
  if on "$name" run -d --name "$tag-gw" "$base" python3 -c "$probe" >/dev/null 2>&1; then
    if await 15 has_address "$gateway"; then
      (cd /tmp && exec python3 -m http.server $port_host --bind "$gateway" >/dev/null 2>&1) & server=$!
    fi
    out="$(on "$name" wait "$tag-gw" 2>&1)"
    if [ "$out" = 0 ]; then echo "$name: gateway   container reached the host at $gateway:$port_host"
    else fail "container could not reach the host at $gateway:$port_host: $(on "$name" logs "$tag-gw" 2>&1 | tail -n1)"; fi
    [ -z "$server" ] || kill "$server" 2>/dev/null || true
  else fail "run the gateway probe"; fi
  on "$name" rm -f "$tag-gw" >/dev/null 2>&1 || true
  return "$result"
}

main() {
  [ $# -ge 1 ] || die "usage: engines.sh start|stop|purge [NAME...|all] | env NAME | check NAME... | status"
  local command="$1"; shift
  case "$command" in
    env) print_env "$@"; return ;;
    start | stop | purge | check | status | download) ;;
    *) die "unknown command '$command' (start, stop, purge, env, check, status, download)" ;;
  esac
  [ "$(id -u)" = 0 ] || die "run as root (it creates bridges, mounts and daemons)"
  mkdir -p "$state"
  exec 9>"$state/.lock" # one start/stop/check at a time (the daemons never inherit it: see spawn)
  flock -w 300 9 || die "another engines.sh has held $state/.lock for 5 minutes"
  local started; started="$(now)"
  "$command" "$@"
  case "$command" in start | stop | purge) took "$command ${*:-all} (total)" "$started" ;; esac
}

main "$@"
