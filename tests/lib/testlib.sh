# Shared helpers for shell integration tests; see tests/lib/testlib.py for the
# conventions (TAP lines, loopback, free ports, stop by PID, bounded waits).
: "${LOGSHIP_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${LOGSHIP_BUILD:=$LOGSHIP_ROOT/build}"
T_FAILED=0
T_PIDS=()
T_TMP=$(mktemp -d /tmp/logship-test.XXXXXX)
ok()   { echo "ok - $*"; }
nok()  { echo "not ok - $*"; T_FAILED=$((T_FAILED + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else nok "$what"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
track() { T_PIDS+=("$1"); }
wait_port() { # port [seconds]
  local i n=$(( ${2:-10} * 20 ))
  for ((i = 0; i < n; i++)); do
    (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}
t_cleanup() {
  local p
  for p in "${T_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  [[ -n "${LOGSHIP_KEEP_TMP:-}" ]] || rm -rf "$T_TMP"
}
trap t_cleanup EXIT
t_finish() { [[ $T_FAILED -eq 0 ]]; exit $?; }
