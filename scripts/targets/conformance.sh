#!/usr/bin/env bash
# The conformance run (`npm run test:conformance`): the integration and end-to-end suites
# against each emulator target, each installed (cached in .work/), started on loopback,
# used and stopped by PID by scripts/targets/run.sh.
#
#   scripts/targets/conformance.sh [SUITE_PATH...]
#
# SUITE_PATH...  what vitest runs; default $TESSERA_CONFORMANCE_SUITES, else
#                "test/integration test/e2e" (those of them that exist).
# Targets        $TESSERA_CONFORMANCE_TARGETS, default
#                "dynamodb-local localstack-host ministack localstack".
#
# Prints, per target, its wall time (install, start, stop), its result line
# "N passed, N failed, N skipped", the reasons of its skips, and the outcome of the check
# that nothing of it is left running and that it listened on loopback only; then a total.
# Exits non-zero if any target failed (a failed test, a start failure, a failed check).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

read -r -a targets <<<"${TESSERA_CONFORMANCE_TARGETS:-dynamodb-local localstack-host ministack localstack}"
if [[ $# -gt 0 ]]; then suites=("$@")
else
  read -r -a wanted <<<"${TESSERA_CONFORMANCE_SUITES:-test/integration test/e2e}"
  suites=()
  for s in "${wanted[@]}"; do [[ -e "$s" ]] && suites+=("$s"); done
  [[ ${#suites[@]} -gt 0 ]] || die "none of the suites exist: ${wanted[*]}"
fi

# passed failed skipped from a vitest JSON report (a file that failed to load counts as failed).
counts() {
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    let failedFiles = 0;
    for (const f of r.testResults ?? []) if (f.status === "failed" && (f.assertionResults ?? []).every((a) => a.status !== "failed")) failedFiles++;
    console.log(r.numPassedTests, r.numFailedTests + failedFiles, r.numPendingTests + r.numTodoTests);
  ' "$1"
}

mkdir -p "$WORK/run"
t_all=$(now_ms)
total_p=0 total_f=0 total_s=0 any_failed=0
summary=()
for target in "${targets[@]}"; do
  rundir="$WORK/run/$target"
  report="$WORK/run/$target.vitest.json"
  logfile="$WORK/run/$target.vitest.log"
  rm -f "$report" "$logfile"
  printf '\n===== %s: %s =====\n' "$target" "${suites[*]}"
  t0=$(now_ms)
  set +e
  bash "$TARGETS_DIR/run.sh" "$target" -- \
    npx vitest run "${suites[@]}" --reporter=default --reporter=json --outputFile.json="$report" 2>&1 | tee "$logfile"
  rc=${PIPESTATUS[0]}
  set -e
  wall="$(elapsed "$t0" "$(now_ms)")"

  declare -A tm=()
  if [[ -f "$rundir/timings" ]]; then
    while IFS='=' read -r k v; do tm[$k]="$v"; done <"$rundir/timings"
  fi
  if [[ -f "$report" ]]; then read -r p f s < <(counts "$report"); else p=0 f=0 s=0; fi
  status=ok
  if [[ ! -f "$report" ]]; then
    status="FAILED (exit $rc, no test report)"; any_failed=1; f=$(( f + 1 ))
  elif (( rc != 0 || f > 0 )); then
    status="FAILED (exit $rc)"; any_failed=1
  fi
  total_p=$(( total_p + p )); total_f=$(( total_f + f )); total_s=$(( total_s + s ))
  reasons="$(grep -aoE '\[tessera:skip\] .*' "$logfile" | sed 's/\x1b\[[0-9;]*m//g' | sort | uniq -c | sed 's/^ */    /' || true)"
  line="$(printf '%s: wall %s s (install %s s, start %s s, stop %s s); check: %s; run: %s' \
    "$target" "$wall" "${tm[install_s]:--}" "${tm[start_s]:--}" "${tm[stop_s]:--}" "${tm[check]:--}" "$status")"
  summary+=("$line" "$target: $p passed, $f failed, $s skipped")
  [[ -n "$reasons" ]] && summary+=("  skipped because:" "$reasons")
  unset tm
done

printf '\n===== conformance summary (%s s in all) =====\n' "$(elapsed "$t_all" "$(now_ms)")"
printf '%s\n' "${summary[@]}"
echo "conformance: $total_p passed, $total_f failed, $total_s skipped"
exit "$any_failed"
