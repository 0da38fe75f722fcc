#!/usr/bin/env bash
# cfn-lint over the synthesized templates: `bash scripts/cfn-lint.sh [cdk.out]`. Installs
# cfn-lint (PyPI, pinned) into a venv under the ignored work folder on first use, synthesizes
# the app (`cdk synth`, bundles included) if no cloud assembly is given, and fails on any
# error (warnings and informational findings are printed, not fatal).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/targets/lib.sh"
source "$TARGETS_DIR/python.sh"

CFN_LINT_VERSION=1.58.0
VENV="$WORK/cfn-lint-$CFN_LINT_VERSION"
python_venv "$VENV" 11 "cfn-lint==$CFN_LINT_VERSION"

out="${1:-}"
if [[ -z "$out" ]]; then
  out="$WORK/cfn-lint.out"
  rm -rf "$out"
  log "synthesizing the app into $out"
  (cd "$ROOT" && AWS_EC2_METADATA_DISABLED=true npx cdk synth --quiet --output "$out" >/dev/null)
fi
shopt -s nullglob
templates=("$out"/*.template.json)
(( ${#templates[@]} )) || die "no templates in $out"
# Exit codes are a bit mask: 2 = an error, 4 = a warning, 8 = informational.
set +e
"$VENV/bin/cfn-lint" --format parseable -- "${templates[@]}"
code=$?
set -e
if (( code & 2 )); then die "cfn-lint found errors in ${templates[*]}"; fi
log "cfn-lint: 0 errors in ${#templates[@]} template(s)"
