#!/usr/bin/env bash
# Install, start, use and stop one conformance target.
#
#   scripts/targets/run.sh TARGET install        install into .work/ (cached; idempotent)
#   scripts/targets/run.sh TARGET -- CMD...      install if needed, start TARGET on a free
#                                                loopback port, run CMD with TESSERA_TARGET
#                                                and the endpoint variables set, stop it by
#                                                PID, check that nothing of it is left and
#                                                that it listened on loopback only.
#
# TARGET: dynamodb-local | localstack-host | ministack | trino | localstack (Docker; nothing to
# start here: the test process starts the container, or skips without a Docker engine).
# Targets that bind every interface run, with CMD, in a private network namespace
# (`unshare -n`, loopback only). Exit status: CMD's, or 3 when the target could not be
# installed or started, or 4 when the check after it failed.
# Timings go to .work/run/TARGET/timings (install_s, start_s, stop_s, check).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$TARGETS_DIR/maven.sh"
source "$TARGETS_DIR/python.sh"

usage() { sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[[ $# -ge 2 ]] || usage
name="$1"; shift
[[ -f "$TARGETS_DIR/$name.sh" && "$name" =~ ^[a-z-]+$ && "$name" != run && "$name" != lib && "$name" != conformance ]] \
  || die "unknown target '$name' (dynamodb-local, localstack-host, ministack, trino, localstack)"
# shellcheck source=/dev/null
source "$TARGETS_DIR/$name.sh"

rundir="$WORK/run/$name"
timing() { echo "$1=$2" >>"$rundir/timings"; }

if [[ "$1" == install ]]; then
  mkdir -p "$rundir"
  t0=$(now_ms); target_install; log "$name: installed in $(elapsed "$t0" "$(now_ms)") s"
  exit 0
fi
[[ "$1" == -- ]] && shift
[[ $# -ge 1 ]] || usage

# Install outside the namespace (it needs the package registries), then re-enter in one.
if [[ -z "${TESSERA_TARGET_INNER:-}" ]]; then
  rm -rf "$rundir"; mkdir -p "$rundir"
  t0=$(now_ms)
  if ! target_install; then timing install_s fail; exit 3; fi
  timing install_s "$(elapsed "$t0" "$(now_ms)")"
  log "$name: install ready in $(elapsed "$t0" "$(now_ms)") s"
  if [[ "${TARGET_NETNS:-0}" == 1 ]]; then
    command -v unshare >/dev/null || die "unshare not found (util-linux)"
    exec unshare --net --fork -- env TESSERA_TARGET_INNER=1 bash "${BASH_SOURCE[0]}" "$name" -- "$@"
  fi
fi

if [[ "${TARGET_NETNS:-0}" == 1 ]]; then
  netns_lo_up
  in_private_netns || die "not in a loopback-only network namespace"
  log "$name: in a private network namespace (interfaces: $(ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' '))"
fi

SAMPLER_PID=
cleanup() {
  stop_sampler
  if [[ -f "$rundir/pid" ]]; then target_stop || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_sampler "$name"   # records the tree and its listeners from the first moment on
t0=$(now_ms)
if ! target_start; then
  timing start_s fail
  log "$name: failed to start (log: $rundir/server.log)"
  stop_sampler; target_stop || true; check_target "$name" || true
  exit 3
fi
timing start_s "$(elapsed "$t0" "$(now_ms)")"
log "$name: started in $(elapsed "$t0" "$(now_ms)") s$([[ -f "$rundir/pid" ]] && echo " (pid $(cat "$rundir/pid"))")"

export TESSERA_TARGET="$TARGET_TEST_NAME"
set +e
"$@"
rc=$?
set -e

t1=$(now_ms)
stop_sampler
if [[ -f "$rundir/pid" ]]; then
  record_tree "$name"; record_listeners "$name"
  target_stop
fi
timing stop_s "$(elapsed "$t1" "$(now_ms)")"
log "$name: stopped in $(elapsed "$t1" "$(now_ms)") s"
trap - EXIT
if check_target "$name"; then timing check ok; else timing check fail; (( rc == 0 )) && rc=4; fi
exit "$rc"
