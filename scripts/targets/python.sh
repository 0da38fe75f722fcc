# shellcheck shell=bash
# python_venv DIR MIN_MINOR PACKAGE... — a venv at DIR (CPython 3.MIN_MINOR or newer) with the
# given pinned packages. Idempotent: DIR/.complete holds the package list it was made with.
find_python() {
  local min="$1" cand v
  # The oldest CPython that is new enough (the versions these targets were measured with).
  for cand in "${TESSERA_PYTHON:-}" /root/.pyenv/versions/3.11.*/bin/python3 \
      /root/.pyenv/versions/3.12.*/bin/python3 /root/.pyenv/versions/3.13.*/bin/python3 \
      python3.11 python3.12 python3.13 python3; do
    [[ -n "$cand" ]] || continue
    command -v "$cand" >/dev/null 2>&1 || [[ -x "$cand" ]] || continue
    v="$("$cand" -c 'import sys; print(sys.version_info[1] if sys.version_info[0] == 3 else 0)' 2>/dev/null)" || continue
    if (( v >= min )); then command -v "$cand" 2>/dev/null || echo "$cand"; return 0; fi
  done
  return 1
}

python_venv() {
  local dir="$1" min="$2"; shift 2
  local want="python>=3.$min $*"
  if [[ -f "$dir/.complete" && "$(cat "$dir/.complete")" == "$want" ]]; then return 0; fi
  local py
  py="$(find_python "$min")" || die "no CPython 3.$min+ found (set TESSERA_PYTHON)"
  log "creating venv $dir with $("$py" --version) and: $want"
  rm -rf "$dir"
  "$py" -m venv "$dir"
  "$dir/bin/python" -m pip install -q --disable-pip-version-check "$@" >"$dir.pip.log" 2>&1 \
    || { tail -30 "$dir.pip.log" >&2; die "pip install into $dir failed (log: $dir.pip.log)"; }
  echo "$want" >"$dir/.complete"
}
