#!/usr/bin/env python3
"""Rotation storm crash test for the tail input (invariants 1 and 3).

A writer process appends numbered lines at full speed (bursts, capped at
TAIL_CRASH_RATE lines/s) to app.log and rotates it every TAIL_CRASH_EVERY
lines, alternating logrotate's two styles: rename + create, and
copytruncate (copy, then truncate in place; the writer writes nothing in
between, so the copy holds every line the truncation removed). The agent
tails app.log* -> ring -> file and is SIGKILLed at random moments,
TAIL_CRASH_ROUNDS times (default 30), restarted on the same data_dir each
time; then the writer stops and the agent runs until it has shipped
everything. The output must hold every line number at least once, each line
intact (a line split or two merged shows up as a message that is not exactly
what the writer wrote), with duplicates bounded and reported.
TAIL_CRASH_SEED repeats a run."""
import os
import random
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import agentlib  # noqa: E402
import testlib  # noqa: E402

rounds = int(os.environ.get("TAIL_CRASH_ROUNDS", "30"))
seed = int(os.environ.get("TAIL_CRASH_SEED", str(int(time.time()))))
rate = int(os.environ.get("TAIL_CRASH_RATE", "100000"))
every = int(os.environ.get("TAIL_CRASH_EVERY", "30000"))
rng = random.Random(seed)
testlib.diag("seed %d (TAIL_CRASH_SEED=%d repeats this run), rate cap %d lines/s, rotation every %d lines"
             % (seed, seed, rate, every))
d = testlib.tmpdir()
logs = os.path.join(d, "logs")
os.makedirs(logs)
OUT = os.path.join(d, "out.ndjson")

WRITER = r'''
import os, shutil, sys, time
logs, rate, every, stopfile = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
path = os.path.join(logs, "app.log")
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
seq, k, t0, burst = 0, 0, time.time(), 1000
while not os.path.exists(stopfile):
    lines = []
    for s in range(seq + 1, seq + burst + 1):
        lines.append("seq=%09d %s\n" % (s, "x" * (s % 50)))
    os.write(fd, "".join(lines).encode())
    seq += burst
    if seq % every == 0:
        k += 1
        if k % 2:
            os.rename(path, "%s.%d" % (path, k))         # rename + create
            os.close(fd)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        else:
            shutil.copyfile(path, "%s.%d" % (path, k))   # copytruncate
            os.truncate(path, 0)
    ahead = seq / rate - (time.time() - t0)
    if ahead > 0:
        time.sleep(ahead)
print(seq, k, flush=True)
'''
stopfile = os.path.join(d, "stop-writer")
writer = testlib.start([sys.executable, "-c", WRITER, logs, str(rate), str(every), stopfile],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

conf = """data_dir: {dir}/data
http: { listen: 127.0.0.1:{port} }
shutdown_timeout: 30s
buffer: { max_bytes: 2GiB, segment_bytes: 16MiB, batch_timeout: 50ms, fsync: interval, fsync_interval: 200ms }
inputs:
  - type: tail
    paths: [{dir}/logs/app.log*]
    read_from_head: true
    rotate_wait: 2s
outputs:
  - type: file
    path: {dir}/out.ndjson
    rotate_bytes: 0
    commit_interval: 300ms
"""
a = agentlib.Agent(d, conf, "crash")
alive_at_kill = 0
t_start = time.time()
for i in range(rounds):
    a.port = testlib.free_port()
    a.set_config(conf)
    a.start(wait=False)
    time.sleep(rng.uniform(0.05, 1.2))
    alive_at_kill += a.alive()
    a.kill9()
testlib.ok(alive_at_kill == rounds, "the agent was running at each of the %d SIGKILLs" % rounds)
open(stopfile, "w").close()
out, _ = writer.communicate(timeout=60)
total, rotations = (int(x) for x in out.split()[:2])
testlib.diag("writer: %d lines, %d rotations in %.1fs" % (total, rotations, time.time() - t_start))
log = a.log_text()
testlib.ok("AddressSanitizer" not in log and "runtime error" not in log and "Assertion" not in log,
           "no sanitizer report or assertion in the agent's logs")

# The last run goes to the end.
a.port = testlib.free_port()
a.set_config(conf)
testlib.ok(a.start(), "the agent starts after the last crash")

pat = re.compile(rb'"message":"seq=(\d{9}) (x*)"')
seen = {}
bad = []
at = 0


def scan():
    """Reads what the output gained; returns how many numbers are still missing."""
    global at
    with open(OUT, "rb") as f:
        f.seek(at)
        for raw in f:
            if not raw.endswith(b"\n"):
                break
            at += len(raw)
            m = pat.search(raw)
            if not m or len(m.group(2)) != int(m.group(1)) % 50:
                bad.append(raw[:200])
                continue
            s = int(m.group(1))
            seen[s] = seen.get(s, 0) + 1
    return total - len(seen)


deadline = time.time() + 120
missing = total
while time.time() < deadline:
    if os.path.exists(OUT):
        missing = scan()
    if missing == 0 and a.metric("logship_output_events_total", output="file") is not None:
        break
    time.sleep(0.5)
time.sleep(1.0)
scan()
testlib.ok(a.stop() == 0, "SIGTERM after the storm: exit 0")
scan()
missing = [s for s in range(1, total + 1) if s not in seen]
dups = sum(c - 1 for c in seen.values())
extra = [s for s in seen if s > total or s < 1]
testlib.diag("events: %d distinct of %d, %d duplicates (%.2f%%), %d malformed"
             % (len(seen), total, dups, 100.0 * dups / max(total, 1), len(bad)))
if missing:
    testlib.diag("first missing: %s" % missing[:20])
for b in bad[:5]:
    testlib.diag("malformed: %r" % b)
testlib.ok(not missing, "every line number 1..%d is in the output (loss = %d)" % (total, len(missing)))
testlib.ok(not bad and not extra, "no line split, merged or invented (%d malformed)" % len(bad))
# Bound: per crash, what lay between the last checkpoints and the kill: the
# input's (batch_timeout + fsync_interval + a loop turn) and the output's
# (commit_interval), well under 1.5 s of writing at the capped rate.
bound = int(rounds * 1.5 * rate)
testlib.ok(dups <= bound, "duplicates bounded: %d <= %d" % (dups, bound))
testlib.finish()
