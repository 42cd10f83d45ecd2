#!/usr/bin/env bash
# make bench: runs every benchmark and prints its figures. Benchmarks never
# fail the build on a timing; a benchmark that crashes is reported.
#   - C drivers: tests/bench/*.c built to BUILD/bench/<name>, run with no args;
#   - scripts:   tests/bench/*.sh / *.py (start the daemons themselves).
# Each prints lines "name: figure unit ..." on stdout.
set -u
B=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
export LOGSHIP_ROOT=$root LOGSHIP_BUILD=$(cd "$root/$B" && pwd)
export BENCH_DIR=${BENCH_DIR:-$(mktemp -d /var/tmp/logship-bench.XXXXXX)}
echo "bench: data in $BENCH_DIR on $(df -h "$BENCH_DIR" | awk 'NR==2 {print $1}'), $(nproc) cores"
for b in "$LOGSHIP_BUILD"/bench/*; do
  [[ -x "$b" ]] || continue
  echo "== $(basename "$b")"
  "$b" || echo "$(basename "$b"): exited $?"
done
shopt -s nullglob
for s in "$root"/tests/bench/*.sh "$root"/tests/bench/*.py; do
  [[ "$(basename "$s")" == run.sh ]] && continue
  echo "== $(basename "$s")"
  case "$s" in *.py) python3 "$s" ;; *) bash "$s" ;; esac || echo "$(basename "$s"): exited $?"
done
rm -rf "$BENCH_DIR"
