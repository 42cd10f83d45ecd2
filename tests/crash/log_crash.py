#!/usr/bin/env python3
"""Crash test for the segmented log (buffer/): at-least-once at the storage layer.

A child process appends numbered batches with fsync: always and reports each
acknowledged (durable) batch through a pipe. The parent SIGKILLs it at a random
moment, then reopens the log (recovery) and checks: it opens cleanly, every
acknowledged record is there with its content intact, offsets are contiguous,
no batch with a bad CRC is ever returned. Rounds: LOG_CRASH_ROUNDS (default 60).
"""
import os
import random
import select
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import testlib  # noqa: E402

tool = testlib.bin_path("tests/tools/log_crash")
rounds = int(os.environ.get("LOG_CRASH_ROUNDS", "60"))
d = os.path.join(testlib.tmpdir(), "log")
seed = int(os.environ.get("LOG_CRASH_SEED", str(int(time.time()))))
rng = random.Random(seed)
testlib.diag("seed %d (LOG_CRASH_SEED=%d repeats this run)" % (seed, seed))


def verify():
    r = testlib.run([tool, "verify", d], timeout=120)
    out = r.stdout.decode()
    if r.returncode != 0:
        return None, out + r.stderr.decode()
    parts = out.split()
    return (int(parts[1]), int(parts[3])), out


end = 0
truncations = 0
for i in range(rounds):
    p = testlib.start([tool, "append", d, str(end)], stdout=subprocess.PIPE)
    acked = -1
    buf = b""
    deadline = time.time() + rng.uniform(0.005, 0.25)
    while time.time() < deadline:
        ready, _, _ = select.select([p.stdout], [], [], max(0, deadline - time.time()))
        if ready:
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=10)
    buf += p.stdout.read()  # what it printed before it died: acknowledged too
    for line in buf.decode().splitlines():
        if line.startswith("ACK "):
            acked = int(line.split()[2])
    res, out = verify()
    if not testlib.ok(res is not None, "round %d: log reopens and reads back clean" % i):
        testlib.diag(out)
        break
    new_end, truncated = res
    truncations += truncated > 0
    testlib.ok(new_end > acked and new_end >= end,
               "round %d: every acknowledged record is there (acked up to seq %d, log ends at %d)"
               % (i, acked, new_end))
    end = new_end
testlib.diag("%d rounds, %d records in the end, %d recoveries cut a torn tail" % (rounds, end, truncations))
testlib.finish()
