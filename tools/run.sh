#!/usr/bin/env bash
# make run: a local logship-broker and a logship agent on the shipped default
# configs, with their data under ./run/, events flowing from the agent's inputs
# into the broker's "logs" topic. Prints where everything is and how to look;
# Ctrl-C stops both (by PID) and leaves ./run/ for a look afterwards.
set -u
B=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
run="$root/run"
mkdir -p "$run/broker" "$run/agent"
port=${LOGSHIP_BROKER_PORT:-9092}
http=${LOGSHIP_HTTP:-127.0.0.1:2020}

if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then
  echo "make run: 127.0.0.1:$port is in use; set LOGSHIP_BROKER_PORT=another port" >&2
  exit 1
fi

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo; echo "make run: stopping"
  # Newest first: the consumer, the agent (it flushes to a live broker), the
  # demo writer, the broker last.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    p=${pids[i]}
    kill -TERM "$p" 2>/dev/null
    for _ in $(seq 120); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null
  done
  echo "make run: logs and data are in $run/"
}
trap cleanup INT TERM EXIT

"$B/logship-broker" -c conf.d/broker.yaml --listen "127.0.0.1:$port" --data-dir "$run/broker" \
  2>"$run/broker.log" &
pids+=($!)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done

# A demo log the agent tails, written to for as long as this runs.
( i=0; while sleep 1; do i=$((i + 1)); echo "$(date -u +%FT%TZ) demo: hello from make run, line $i"; done ) \
  >>"$run/demo.log" &
pids+=($!)

# The shipped config as it is, plus one drop-in (conf.d merging) that tails
# the demo log from its head so that events show at once.
mkdir -p "$run/agent-conf.d"
cat >"$run/agent-conf.d/demo.yaml" <<YAML
inputs:
  - type: tail
    name: demo
    paths: [$run/demo.log]
    read_from_head: true
YAML
export LOGSHIP_DATA_DIR="$run/agent" LOGSHIP_BROKERS="127.0.0.1:$port" LOGSHIP_HTTP="$http"
"$B/logship" -c conf.d/logship.yaml -d "$run/agent-conf.d" 2>"$run/agent.log" &
pids+=($!)

cat <<TXT
make run: logship-broker on 127.0.0.1:$port (data $run/broker, log $run/broker.log)
          logship agent with conf.d/logship.yaml + $run/agent-conf.d/ (data $run/agent, log $run/agent.log)
          inputs: /var/log/*.log, the journal, syslog on udp+tcp 127.0.0.1:5514, the demo log
          a demo log written every second: $run/demo.log

Look at the events:
  $B/logshipctl consume logs --from-beginning        # or: kcat -C -b 127.0.0.1:$port -t logs
  $B/logshipctl topics describe logs
  curl -s http://$http/metrics ; curl -s http://$http/status
  logger -n 127.0.0.1 -P 5514 -T "hello over syslog"    # then watch it arrive
Ctrl-C stops both.

First events in topic "logs":
TXT
sleep 3
timeout 10 "$B/logshipctl" -b "127.0.0.1:$port" consume logs --from-beginning --max-messages 5 --exit 2>/dev/null \
  || echo "  (none yet: see $run/agent.log)"
echo "... (following new events; Ctrl-C to stop)"
"$B/logshipctl" -b "127.0.0.1:$port" consume logs 2>/dev/null &
pids+=($!)
wait "${pids[0]}"
