#!/usr/bin/env bash
# A throwaway one-node Ceph RADOS Gateway on 127.0.0.1 for s3sessions' tests and CI: 1 mon, 1 memstore OSD
# (objects live in the OSD's RAM), no mgr, auth none, and a radosgw (beast) with one S3 user.
#
#   scripts/ceph-rgw.sh start  [STATE_DIR]   install packages if missing, build a fresh cluster, start it,
#                                            write STATE_DIR/env.sh and print its `export` lines on stdout
#   scripts/ceph-rgw.sh stop   [STATE_DIR]   stop the daemons started from STATE_DIR (by their pid files)
#   scripts/ceph-rgw.sh status [STATE_DIR]   exit 0 if our radosgw listens and answers HTTP, else 1
#
# STATE_DIR defaults to .rgw at the repository root. Typical use:
#   eval "$(scripts/ceph-rgw.sh start)"     # or: scripts/ceph-rgw.sh start && . .rgw/env.sh
#   ... tests read S3SESSIONS_RGW_ENDPOINT, S3SESSIONS_RGW_ACCESS_KEY, S3SESSIONS_RGW_SECRET_KEY ...
#   scripts/ceph-rgw.sh stop
#
# Optional environment for `start`: S3SESSIONS_RGW_PORT (default: a free port), S3SESSIONS_RGW_ACCESS_KEY and
# S3SESSIONS_RGW_SECRET_KEY (default: fixed test keys), S3SESSIONS_RGW_MEMSTORE_BYTES (OSD capacity, default
# 8 GiB, allocated on use). For `stop`: S3SESSIONS_RGW_STOP_TIMEOUT (seconds before KILL, default 15).
#
# `start` installs Debian's radosgw ceph-mon ceph-osd ceph-common with apt-get --no-install-recommends when they
# are missing (root, or passwordless sudo). Every start builds a fresh cluster: it refuses to run while daemons
# started from the same STATE_DIR are alive, and otherwise deletes only the files it creates in STATE_DIR.
# Everything the cluster writes (config, mon store, OSD metadata, logs, admin sockets, pid files) is under
# STATE_DIR; all daemons listen on 127.0.0.1 only. Timings and progress go to stderr.
#
# Why the configuration looks the way it does (Ceph 16, Debian 12):
# - pool size 1 and 8 PGs: the default 32 PGs x 8 radosgw pools exceeds `mon max pg per osd` on one OSD;
# - `paxos propose interval = 0.05`: a lone mon otherwise batches for 1 s and every radosgw pool waits for it;
# - with auth none, a CLI that sends a mon command before it has the monmap sends a zero fsid and is refused
#   (EPERM "wrong fsid"): CLI calls are retried, and `osd crush update on start = false` with an explicit
#   `ceph osd crush add` keeps the OSD from tripping over the same race at boot;
# - `mon data avail warn = 1`: no HEALTH_WARN on a nearly full disk.
set -euo pipefail

PROG="ceph-rgw"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
PKGS=(radosgw ceph-mon ceph-osd ceph-common)

log() { echo "[$PROG] $*" >&2; }
die() { log "$*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

usage() {
  awk 'NR == 1 { next } /^# Why/ { exit } { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}" >&2
  exit 2
}

# state_dir DIR: the canonical absolute path (created when $2 = create)
state_dir() {
  if [ "${2:-}" = create ]; then mkdir -p "$1"; fi
  (cd "$1" 2>/dev/null && pwd -P)
}

# ours PID: true if the process PID has exactly "$CONF" among its arguments (a recycled pid is not ours)
ours() {
  local arg
  [ -n "$1" ] && [ -r "/proc/$1/cmdline" ] || return 1
  while IFS= read -r -d '' arg; do
    [ "$arg" = "$CONF" ] && return 0
  done <"/proc/$1/cmdline" 2>/dev/null
  return 1
}

# pid_files: radosgw first, then OSDs, then the mon (the order to stop them in)
pid_files() {
  local f
  for f in "$S/run/client.rgw.a.pid" "$S"/run/osd.*.pid "$S/run/mon.a.pid"; do
    [ -e "$f" ] && printf '%s\n' "$f"
  done
  return 0
}

# stop_daemons: TERM each daemon of ours named by a pid file, KILL it after the timeout; 1 if any survived
stop_daemons() {
  local f pid name i rc=0 timeout=${S3SESSIONS_RGW_STOP_TIMEOUT:-15}
  while IFS= read -r f; do
    name=$(basename "$f" .pid)
    pid=$(tr -dc '0-9' <"$f" 2>/dev/null || true)
    if ours "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      for ((i = 0; i < timeout * 10; i++)); do ours "$pid" || break; sleep 0.1; done
      if ours "$pid"; then
        log "$name (pid $pid) ignored TERM for ${timeout} s: KILL"
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do ours "$pid" || break; sleep 0.1; done
      fi
      if ours "$pid"; then log "$name (pid $pid) is still running"; rc=1; continue; fi
      log "stopped $name (pid $pid)"
    else
      log "$name: pid ${pid:-?} is not running (or not ours)"
    fi
    rm -f "$f"
  done < <(pid_files)
  return "$rc"
}

# http_answers HOST PORT: true if an HTTP server answers there (any status)
http_answers() {
  # shellcheck disable=SC2016  # $1/$2 are the inner shell's arguments
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/$1/$2" || exit 1
    printf "GET / HTTP/1.0\r\nHost: %s:%s\r\n\r\n" "$1" "$2" >&3
    IFS= read -r line <&3 && [[ $line == HTTP/1.* ]]' _ "$1" "$2" 2>/dev/null
}

# listen_inodes PORT: socket inodes of TCP sockets listening on PORT (any address)
listen_inodes() {
  local hex
  hex=$(printf ':%04X' "$1")
  awk -v p="$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { print $10 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
  return 0
}

port_in_use() { [ -n "$(listen_inodes "$1")" ]; }

# pid_listens PID PORT: true if process PID itself holds a socket listening on PORT. (A radosgw whose port is
# taken logs "failed to bind" and exits, but an HTTP probe of that port gets the other server's answer.)
pid_listens() {
  local fd link inodes
  inodes=" $(listen_inodes "$2" | tr '\n' ' ') "
  [ "$inodes" != "  " ] || return 1
  for fd in /proc/"$1"/fd/*; do
    link=$(readlink "$fd" 2>/dev/null) || continue
    [[ $link == socket:\[*\] ]] || continue
    link=${link#socket:[}
    [[ $inodes == *" ${link%]} "* ]] && return 0
  done
  return 1
}

freeport() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# With auth none a CLI call can lose the zero-fsid race (EPERM "wrong fsid"): retry it.
retry() {
  local i out=""
  for ((i = 0; i < 40; i++)); do
    if out=$("$@" 2>"$S/log/retry.err"); then printf '%s\n' "$out"; return 0; fi
    sleep 0.25
  done
  cat "$S/log/retry.err" >&2
  return 1
}

install_packages() {
  local p missing=() sudo=() t0
  t0=$(now)
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} = 0 ]; then
    log "install: packages already installed (0.0 s)"
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then
    if ! command -v sudo >/dev/null || ! sudo -n true 2>/dev/null; then
      die "need root (or sudo -n) to install ${missing[*]}"
    fi
    sudo=(sudo -n)
  fi
  log "installing ${missing[*]} (apt-get, --no-install-recommends; log: $S/apt-install.log)"
  if ! { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${PKGS[@]}"; } \
    >"$S/apt-install.log" 2>&1; then
    die "apt-get failed: see $S/apt-install.log"
  fi
  log "install took $(since "$t0") s"
}

START_OK=""
start_cleanup() {
  local rc=$?
  [ -n "$START_OK" ] && return 0
  log "start failed (rc $rc); stopping what it started; logs in $S/log"
  stop_daemons || true
  rm -f "$S/env.sh"
  exit "$rc"
}

cmd_start() {
  local f pid t0 t1 mon_port rgw_port fsid osd_uuid osd_id ep up i rgw_pid
  local ak=${S3SESSIONS_RGW_ACCESS_KEY:-S3SESSIONSTESTKEY001}
  local sk=${S3SESSIONS_RGW_SECRET_KEY:-s3sessionstestsecret0000000000000000001}
  local membytes=${S3SESSIONS_RGW_MEMSTORE_BYTES:-8589934592}
  S=$(state_dir "$1" create) || die "cannot create state dir $1"
  CONF="$S/ceph.conf"
  t0=$(now)

  # refuse to start over a cluster that is still running from this state dir
  while IFS= read -r f; do
    pid=$(tr -dc '0-9' <"$f" 2>/dev/null || true)
    if ours "$pid"; then
      die "already running ($(basename "$f" .pid), pid $pid); run: $0 stop $S"
    fi
  done < <(pid_files)

  install_packages

  # --- configuration ---------------------------------------------------------------------------------------------
  t1=$(now)
  rm -rf "${S:?}"/{ceph.conf,monmap,mon,osd,rgw,log,run,crash,env.sh,user.json}
  mkdir -p "$S"/{mon,osd,rgw,log,run,crash}
  mon_port=$(freeport)
  rgw_port=${S3SESSIONS_RGW_PORT:-$(freeport)}
  while [ "$mon_port" = "$rgw_port" ]; do mon_port=$(freeport); done
  if port_in_use "$rgw_port"; then die "port $rgw_port (S3SESSIONS_RGW_PORT) is already in use"; fi
  fsid=$(cat /proc/sys/kernel/random/uuid)
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  cat >"$CONF" <<EOF
# written by s3sessions scripts/ceph-rgw.sh; a throwaway one-node cluster
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$mon_port
mon initial members = a
public addr = 127.0.0.1
public network = 127.0.0.1/32
cluster network = 127.0.0.1/32
ms bind msgr2 = false
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
mon warn on insecure global id reclaim allowed = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 1
paxos propose interval = 0.05
paxos min wait = 0.01
osd crush chooseleaf type = 0
osd crush update on start = false
osd class update on start = false
osd objectstore = memstore
memstore device bytes = $membytes
run dir = $S/run
admin socket = $S/run/\$name.asok
pid file = $S/run/\$name.pid
log file = $S/log/\$name.log
mon cluster log file = $S/log/cluster.log
crash dir = $S/crash
mon data = $S/mon/\$id
osd data = $S/osd/\$id

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
rgw data = $S/rgw
EOF
  local c=(-c "$CONF")
  trap start_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  # --- mon -------------------------------------------------------------------------------------------------------
  monmaptool --create --fsid "$fsid" --addv a "[v1:127.0.0.1:$mon_port]" "$S/monmap" >/dev/null
  ceph-mon "${c[@]}" --mkfs -i a --monmap "$S/monmap"
  ceph-mon "${c[@]}" -i a
  retry timeout 10 ceph "${c[@]}" mon stat >/dev/null
  log "mon up (127.0.0.1:$mon_port) at $(since "$t1") s"

  # --- osd (memstore) --------------------------------------------------------------------------------------------
  osd_id=$(retry timeout 10 ceph "${c[@]}" osd new "$osd_uuid")
  [[ $osd_id =~ ^[0-9]+$ ]] || die "unexpected answer from 'ceph osd new': $osd_id"
  mkdir -p "$S/osd/$osd_id"
  ceph-osd "${c[@]}" -i "$osd_id" --mkfs --osd-uuid "$osd_uuid" >>"$S/log/osd-mkfs.log" 2>&1
  retry timeout 10 ceph "${c[@]}" osd crush add "osd.$osd_id" 1.0 root=default host=localhost >/dev/null
  ceph-osd "${c[@]}" -i "$osd_id" >>"$S/log/osd-start.log" 2>&1
  up=""
  for ((i = 0; i < 120; i++)); do
    if timeout 10 ceph "${c[@]}" osd dump -f json 2>/dev/null |
      python3 -c 'import json, sys; sys.exit(0 if any(o["up"] for o in json.load(sys.stdin)["osds"]) else 1)' \
        2>/dev/null; then
      up=1
      break
    fi
    sleep 0.25
  done
  [ -n "$up" ] || die "osd.$osd_id did not come up; see $S/log/osd.$osd_id.log"
  log "osd.$osd_id up at $(since "$t1") s"

  # --- radosgw ---------------------------------------------------------------------------------------------------
  radosgw "${c[@]}" -n client.rgw.a
  ep="http://127.0.0.1:$rgw_port"
  for ((i = 0; i < 40; i++)); do [ -s "$S/run/client.rgw.a.pid" ] && break; sleep 0.25; done
  [ -s "$S/run/client.rgw.a.pid" ] || die "radosgw wrote no pid file; see $S/log/client.rgw.a.log"
  rgw_pid=$(tr -dc '0-9' <"$S/run/client.rgw.a.pid")
  up=""
  for ((i = 0; i < 240; i++)); do
    ours "$rgw_pid" || break
    if pid_listens "$rgw_pid" "$rgw_port" && http_answers 127.0.0.1 "$rgw_port"; then up=1; break; fi
    sleep 0.25
  done
  [ -n "$up" ] || die "radosgw (pid $rgw_pid) did not listen and answer on $ep; see $S/log/client.rgw.a.log"
  log "radosgw up ($ep) at $(since "$t1") s"
  retry radosgw-admin "${c[@]}" user create --uid=s3sessions --display-name="s3sessions tests" \
    --access-key="$ak" --secret-key="$sk" >"$S/user.json"

  cat >"$S/env.sh" <<EOF
export S3SESSIONS_RGW_ENDPOINT=$ep
export S3SESSIONS_RGW_ACCESS_KEY=$ak
export S3SESSIONS_RGW_SECRET_KEY=$sk
EOF
  START_OK=1
  trap - EXIT INT TERM
  log "start took $(since "$t1") s (total with install check $(since "$t0") s); env: $S/env.sh"
  cat "$S/env.sh"
}

cmd_stop() {
  S=$(state_dir "$1") || { log "no state dir $1: nothing to stop"; return 0; }
  CONF="$S/ceph.conf"
  rm -f "$S/env.sh"
  stop_daemons
}

cmd_status() {
  local ep hostport pid
  S=$(state_dir "$1") || { log "no state dir $1: not running"; return 1; }
  [ -r "$S/env.sh" ] || { log "no $S/env.sh: not running"; return 1; }
  ep=$(sed -n 's/^export S3SESSIONS_RGW_ENDPOINT=//p' "$S/env.sh")
  hostport=${ep#http://}
  CONF="$S/ceph.conf"
  pid=$(tr -dc '0-9' <"$S/run/client.rgw.a.pid" 2>/dev/null || true)
  if ! ours "$pid"; then log "no radosgw of ours is running (pid file: ${pid:-none})"; return 1; fi
  if [ -n "$ep" ] && pid_listens "$pid" "${hostport##*:}" && http_answers "${hostport%:*}" "${hostport##*:}"; then
    log "radosgw (pid $pid) answers on $ep"
    return 0
  fi
  log "radosgw does not answer on ${ep:-?}"
  return 1
}

if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
DIR=${2:-$ROOT/.rgw}
case "$1" in
  start) cmd_start "$DIR" ;;
  stop) cmd_stop "$DIR" ;;
  status) cmd_status "$DIR" ;;
  -h | --help | help) usage ;;
  *) usage ;;
esac
