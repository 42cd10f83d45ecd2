#!/usr/bin/env bash
# The one test runner behind `make test` and `make check`.
#   tests/run.sh BUILD_DIR [PATTERN]
# Runs, in order: unit tests (cmocka binaries in BUILD_DIR/tests), integration
# tests (tests/integration/*.sh|*.py) and crash tests (tests/crash/*.sh|*.py).
# Script tests print TAP-style lines, "ok - what" / "not ok - what"; each line
# counts as one test. A script that exits non-zero without a "not ok" line counts
# one failure, as does a cmocka binary that dies before its summary.
# Every test runs under a time bound. The last line is "N passed, N failed".
set -u
B=${1:-build}; PAT=${2:-}
root=$(cd "$(dirname "$0")/.." && pwd)
export LOGSHIP_ROOT=$root LOGSHIP_BUILD=$(cd "$root/$B" 2>/dev/null && pwd || echo "$root/$B")
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export CMOCKA_MESSAGE_OUTPUT=stdout
UNIT_TIMEOUT=${UNIT_TIMEOUT:-300}
SCRIPT_TIMEOUT=${SCRIPT_TIMEOUT:-900}
passed=0; failed=0; failures=()
logdir="$LOGSHIP_BUILD/test-logs"; mkdir -p "$logdir"

match() { [[ -z "$PAT" || "$1" == *"$PAT"* ]]; }

run_unit() {
  local bin=$1 name out p f rc
  name=$(basename "$bin"); out="$logdir/$name.log"
  timeout -k 5 "$UNIT_TIMEOUT" "$bin" >"$out" 2>&1; rc=$?
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
  if [[ $rc -ne 0 && $f -eq 0 ]]; then f=1; fi
  if grep -q -e 'ERROR: AddressSanitizer' -e 'runtime error:' -e 'ERROR: LeakSanitizer' "$out"; then
    [[ $f -eq 0 ]] && f=1
  fi
  report "$name" "$p" "$f" "$rc" "$out"
}

run_script() {
  local t=$1 name out p f rc
  name=$(basename "$t"); out="$logdir/$name.log"
  case "$t" in
    *.py) timeout -k 10 "$SCRIPT_TIMEOUT" python3 "$t" >"$out" 2>&1 ;;
    *)    timeout -k 10 "$SCRIPT_TIMEOUT" bash "$t" >"$out" 2>&1 ;;
  esac
  rc=$?
  p=$(grep -c '^ok\b' "$out")
  f=$(grep -c '^not ok\b' "$out")
  [[ $rc -ne 0 && $f -eq 0 ]] && f=1
  report "$name" "$p" "$f" "$rc" "$out"
}

report() {
  local name=$1 p=$2 f=$3 rc=$4 out=$5
  passed=$((passed + p)); failed=$((failed + f))
  if [[ $f -gt 0 ]]; then
    printf '%-34s %4d passed, %d failed (exit %d)  log: %s\n' "$name" "$p" "$f" "$rc" "$out"
    failures+=("$out")
  else
    printf '%-34s %4d passed\n' "$name" "$p"
  fi
}

echo "== unit"
for bin in "$LOGSHIP_BUILD"/tests/test_*; do
  [[ -x "$bin" ]] && match "$(basename "$bin")" && run_unit "$bin"
done
for suite in integration crash; do
  shopt -s nullglob
  ts=("$root"/tests/$suite/*.sh "$root"/tests/$suite/*.py)
  shopt -u nullglob
  [[ ${#ts[@]} -gt 0 ]] && echo "== $suite"
  for t in "${ts[@]}"; do match "$(basename "$t")" && run_script "$t"; done
done
for out in "${failures[@]}"; do
  echo; echo "---- $out (last 40 lines)"; tail -n 40 "$out"
done
echo "$passed passed, $failed failed"
[[ $failed -eq 0 && $passed -gt 0 ]]
