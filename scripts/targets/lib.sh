# shellcheck shell=bash
# Shared helpers for the conformance targets (sourced, not run).
#
# Every emulator is installed into the ignored work folder (.work/ at the repo root, or
# $TESSERA_WORK), started in the background on a free loopback port in its own session,
# and stopped by PID: SIGTERM to its root process, a grace period, then SIGKILL to every
# process of its tree (recorded while it ran, by parent PID and by an environment marker)
# that is still alive. Nothing is ever stopped by name.

set -euo pipefail

TARGETS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$TARGETS_DIR/../.." && pwd)"
WORK="${TESSERA_WORK:-$ROOT/.work}"
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"

log() { printf '[targets] %s\n' "$*" >&2; }
die() { printf '[targets] error: %s\n' "$*" >&2; exit 1; }

# Milliseconds since the epoch (for timings).
now_ms() { date +%s%3N; }
# Seconds with one decimal between two now_ms values.
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }

# A free TCP port on 127.0.0.1 (the kernel's choice; released before the caller binds it).
free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close()})"
}

# wait_http URL TIMEOUT_SECONDS PID [2xx] — until URL answers (any HTTP status, or only a
# 2xx with the 4th argument); fails early if PID died.
wait_http() {
  local url="$1" timeout="$2" pid="$3" want="${4:-any}" deadline flags=-s
  [[ "$want" == 2xx ]] && flags=-sf
  deadline=$(( $(date +%s) + timeout ))
  while (( $(date +%s) < deadline )); do
    if ! kill -0 "$pid" 2>/dev/null; then log "process $pid exited before $url answered"; return 1; fi
    if curl "$flags" -o /dev/null --max-time 2 "$url"; then return 0; fi
    sleep 0.1
  done
  log "$url did not answer within ${timeout}s"
  return 1
}

# True when this process is in a private network namespace holding nothing but loopback.
in_private_netns() {
  [[ "$(readlink /proc/self/ns/net)" != "$(readlink /proc/1/ns/net)" ]] || return 1
  local ifaces
  ifaces="$(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort -u | tr '\n' ' ')"
  [[ "$ifaces" == "lo " ]]
}

# Bring loopback up inside a fresh namespace (`unshare -n` starts with lo down).
netns_lo_up() { ip link set lo up; }

# ---- process trees ---------------------------------------------------------------------

# "pid starttime" of PID and all its descendants, one a line (start time makes PID reuse visible).
tree_of() {
  local root="$1"
  ps -e -o pid=,ppid= | awk -v root="$root" '
    { parent[$1] = $2; pids[NR] = $1 }
    END {
      keep[root] = 1; changed = 1
      while (changed) { changed = 0
        for (i in pids) { p = pids[i]; if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; changed = 1 } } }
      for (p in keep) print p
    }' | while read -r p; do
      local st
      st="$(awk '{ sub(/^.*\) /, ""); print $20 }' "/proc/$p/stat" 2>/dev/null)" || continue
      [[ -n "$st" ]] && echo "$p $st"
    done
}

# Still-alive entries of a "pid starttime" list (same PID, same start time, not a zombie).
alive_of() {
  local list="$1" p st cur
  [[ -f "$list" ]] || return 0
  sort -u "$list" | while read -r p st; do
    cur="$(awk '{ sub(/^.*\) /, ""); if ($1 != "Z") print $20 }' "/proc/$p/stat" 2>/dev/null)" || continue
    [[ -n "$cur" && "$cur" == "$st" ]] || continue
    echo "$p $( { tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | cut -c1-120)"
  done
  return 0
}

# start_bg NAME CMD... — run CMD in its own session and process group, its output in
# $WORK/run/NAME/server.log; sets BG_PID and records it as the root of the target's tree.
# CMD and everything it starts inherit TESSERA_TARGET_RUN=<unique id>, so a descendant that
# re-parents itself (daemonizes) is still found by marked_pids.
start_bg() {
  local name="$1"; shift
  local rundir="$WORK/run/$name" marker
  mkdir -p "$rundir"
  : >>"$rundir/tree"
  marker="$name-$$-$(now_ms)"
  echo "$marker" >"$rundir/marker"
  TESSERA_TARGET_RUN="$marker" setsid "$@" >"$rundir/server.log" 2>&1 </dev/null &
  BG_PID=$!
  disown "$BG_PID"   # no job-control chatter when it is killed; bash still reaps it
  echo "$BG_PID" >"$rundir/pid"
  echo "$BG_PID $(awk '{ sub(/^.*\) /, ""); print $20 }' "/proc/$BG_PID/stat")" >>"$rundir/tree"
}

# "pid starttime" of every process whose environment carries the target's run marker.
marked_pids() {
  local name="$1" marker p st
  marker="$(cat "$WORK/run/$name/marker" 2>/dev/null)" || return 0
  [[ -n "$marker" ]] || return 0
  # grep exits 2 when a process vanishes between the glob and the read: not an error here.
  { grep -laF "TESSERA_TARGET_RUN=$marker" /proc/[0-9]*/environ 2>/dev/null || true; } | while read -r p; do
    p="${p#/proc/}"; p="${p%/environ}"
    st="$(awk '{ sub(/^.*\) /, ""); print $20 }' "/proc/$p/stat" 2>/dev/null)" && echo "$p $st"
  done
  return 0
}

# Record the current tree of a started target (called by the sampler and before stopping).
record_tree() {
  local name="$1" rundir="$WORK/run/$1" pid
  pid="$(cat "$rundir/pid" 2>/dev/null)" || return 0
  if kill -0 "$pid" 2>/dev/null; then tree_of "$pid" >>"$rundir/tree"; fi
  marked_pids "$name" >>"$rundir/tree"
}

# Every listening socket (TCP and UDP) owned by a process of the target's tree, as
# "address:port pid=N". Appended to the run folder's listeners file.
record_listeners() {
  local name="$1" rundir="$WORK/run/$1" pids
  pids="$(awk '{print $1}' "$rundir/tree" 2>/dev/null | sort -u | tr '\n' '|')"
  [[ -n "$pids" ]] || return 0
  { ss -Hltunp 2>/dev/null || true; } | awk -v pids="|$pids" '
    { addr = $5; proc = $0
      while (match(proc, /pid=[0-9]+/)) {
        p = substr(proc, RSTART + 4, RLENGTH - 4); proc = substr(proc, RSTART + RLENGTH)
        if (index(pids, "|" p "|")) print $1, addr, "pid=" p
      } }' >>"$rundir/listeners"
  return 0
}

# sampler NAME — background loop recording the tree and its listeners every 0.25 s.
start_sampler() {
  local name="$1"
  : >"$WORK/run/$name/listeners"
  ( set +e; trap 'exit 0' TERM; while :; do record_tree "$name"; record_listeners "$name"; sleep 0.25; done ) &
  SAMPLER_PID=$!
}
stop_sampler() { [[ -n "${SAMPLER_PID:-}" ]] && { kill "$SAMPLER_PID" 2>/dev/null || true; wait "$SAMPLER_PID" 2>/dev/null || true; }; SAMPLER_PID=; }

# stop_target NAME [GRACE_SECONDS] — SIGTERM the target's root process and let it stop its
# children; after the grace period, SIGKILL by PID whatever of its tree is still alive.
stop_target() {
  local name="$1" grace="${2:-10}" rundir="$WORK/run/$1" pid deadline left
  pid="$(cat "$rundir/pid" 2>/dev/null)" || return 0
  record_tree "$name"
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$(( $(now_ms) + grace * 1000 ))
  while (( $(now_ms) < deadline )); do
    record_tree "$name"   # a child started while shutting down is still ours
    left="$(alive_of "$rundir/tree")"
    [[ -z "$left" ]] && break
    sleep 0.2
  done
  record_tree "$name"
  left="$(alive_of "$rundir/tree")"
  if [[ -n "$left" ]]; then
    log "$name: still running after ${grace}s grace, SIGKILL by PID:"
    printf '%s\n' "$left" | sed 's/^/    /' >&2
    printf '%s\n' "$left" | awk '{print $1}' | xargs -r kill -KILL 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$rundir/pid"
}

# check_target NAME — after stop: nothing of the tree runs; nothing listened beyond loopback.
# Prints one line per finding; returns non-zero on a violation.
check_target() {
  local name="$1" rundir="$WORK/run/$1" ok=0 left bad wildcard private=no
  marked_pids "$name" >>"$rundir/tree"
  left="$(alive_of "$rundir/tree")"
  if [[ -n "$left" ]]; then
    log "CHECK FAIL $name: processes still running after stop:"; printf '%s\n' "$left" | sed 's/^/    /' >&2; ok=1
  fi
  in_private_netns && private=yes
  local n_listen
  n_listen="$(awk '{print $1, $2}' "$rundir/listeners" 2>/dev/null | sort -u | wc -l)"
  # Loopback: 127.0.0.0/8, ::1, ::ffff:127.x. Wildcards: *, 0.0.0.0, [::].
  bad="$(awk '{print $2}' "$rundir/listeners" 2>/dev/null | sort -u |
    grep -Ev '^(127\.[0-9.]+|\[::1\]|\[::ffff:127\.[0-9.]+\]):[0-9]+$' || true)"
  wildcard="$(printf '%s\n' "$bad" | grep -E '^(\*|0\.0\.0\.0|\[::\]):[0-9]+$' || true)"
  local other
  other="$(printf '%s\n' "$bad" | grep -Ev '^(\*|0\.0\.0\.0|\[::\]):[0-9]+$' | grep -v '^$' || true)"
  if [[ -n "$other" ]]; then
    log "CHECK FAIL $name: listened on non-loopback addresses: $(echo $other)"; ok=1
  fi
  if [[ -n "$wildcard" ]]; then
    if [[ $private == yes ]]; then
      log "check $name: wildcard listeners $(echo $wildcard) were inside a private network namespace whose only interface is lo (reachable from loopback only)"
    else
      log "CHECK FAIL $name: listened on every interface of the host: $(echo $wildcard)"; ok=1
    fi
  fi
  (( ok == 0 )) && log "check $name: ok — $(sort -u "$rundir/tree" | wc -l) process(es) started, none left; $n_listen listener(s) seen, $([[ $private == yes ]] && echo 'all reachable from loopback only (private netns)' || echo 'all on loopback addresses')"
  return $ok
}
