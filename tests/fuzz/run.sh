#!/usr/bin/env bash
# Runs every libFuzzer target in DIR for SECONDS each (make fuzz).
#   tests/fuzz/run.sh build/fuzz 30
# Seeds come from tests/fuzz/corpus/<target>/ (committed, small); the working
# corpus and any crash artifacts go under DIR. Exits non-zero if a target fails.
set -u
dir=${1:-build/fuzz}; secs=${2:-30}
root=$(cd "$(dirname "$0")/../.." && pwd)
status=0; n=0
for f in "$dir"/fuzz_*; do
  [[ -x "$f" && ! -d "$f" ]] || continue
  name=$(basename "$f"); n=$((n + 1))
  work="$dir/corpus/$name"; art="$dir/artifacts/$name/"
  mkdir -p "$work" "$art"
  seeds=()
  [[ -d "$root/tests/fuzz/corpus/$name" ]] && seeds=("$root/tests/fuzz/corpus/$name")
  echo "== $name: ${secs}s"
  if "$f" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
       -artifact_prefix="$art" "$work" "${seeds[@]}" >"$dir/$name.log" 2>&1; then
    grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$dir/$name.log" | sed 's/^/   /'
    echo "   ok"
  else
    status=1
    tail -n 30 "$dir/$name.log"
    echo "   FAILED: artifacts in $art"
  fi
done
echo "fuzz: $n targets, $( [[ $status -eq 0 ]] && echo all clean || echo failures )"
exit $status
