#!/usr/bin/env bash
# Feast's own Python SDK, for the suite that reads from Tessera the way a team coming from
# Feast would (test/feast/feast-sdk.test.ts).
#
#   scripts/targets/feast.sh install     a venv at .work/feast/venv with feast==FEAST_VERSION
#                                        from PyPI (cached; idempotent); prints its python
#   scripts/targets/feast.sh test [ARGS]  install, then run the suite with vitest (ARGS passed on)
#
# The venv is the only thing installed; the suite starts local mode itself, on a free loopback
# port, and runs the SDK in child processes it stops by PID.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$TARGETS_DIR/python.sh"

FEAST_VERSION="${FEAST_VERSION:-0.67.0}"
FEAST_VENV="$WORK/feast/venv"

install_feast() {
  mkdir -p "$WORK/feast"
  # Feast 0.67 needs Python 3.10+; the oldest CPython found that is new enough is used.
  python_venv "$FEAST_VENV" 10 "feast==$FEAST_VERSION"
}

case "${1:-}" in
  install)
    install_feast
    echo "$FEAST_VENV/bin/python"
    ;;
  test)
    shift
    install_feast
    cd "$ROOT"
    TESSERA_FEAST_PYTHON="$FEAST_VENV/bin/python" exec npx vitest run test/feast "$@"
    ;;
  *)
    sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
