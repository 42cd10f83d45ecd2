#!/usr/bin/env python3
"""Backpressure: a file output whose path cannot be written (its parent is a
regular FILE: ENOTDIR, which root cannot bypass) holds the ring. With
when_full: block the ring fills up to buffer.max_bytes and no further, the
generate input is paused (stops producing), /ready says why; when the path is
made writable again the output recovers by itself (retries with backoff) and
drains everything: every number once, nothing lost. With when_full:
drop_oldest the input keeps going, the ring stays at its cap and the dropped
events are counted (in the ring's and the output's metrics) and logged."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import agentlib  # noqa: E402
import testlib  # noqa: E402

d = testlib.tmpdir()
N = 60000
MAX = 1 << 20
blocker = os.path.join(d, "outdir")
with open(blocker, "w") as f:
    f.write("I am a file, not a directory\n")
conf = """data_dir: {dir}/data
http: { listen: 127.0.0.1:{port} }
buffer: { max_bytes: 1MiB, segment_bytes: 128KiB, batch_max_bytes: 16KiB, batch_timeout: 20ms,
          when_full: WHEN }
inputs:
  - type: generate
    count: %d
    rate: 0
outputs:
  - type: file
    path: {dir}/outdir/events.ndjson
    retry_initial: 50ms
    retry_max: 300ms
""" % N

a = agentlib.Agent(d, conf.replace("WHEN", "block"), "bp")
testlib.ok(a.start(), "agent starts with a file output on an unwritable path")
paused = testlib.wait_for(lambda: a.metric("logship_input_paused", input="generate") == 1, timeout=30)
testlib.ok(paused, "the ring fills and the generate input is paused")
in1 = a.metric("logship_input_events_total", input="generate")
time.sleep(1.5)
in2 = a.metric("logship_input_events_total", input="generate")
ring = a.metric("logship_ring_bytes")
testlib.ok(in1 == in2 and in1 < N, "paused means no more reading: %s events in, unchanged over 1.5 s" % in2)
testlib.ok(ring is not None and ring <= MAX and ring > MAX / 2,
           "the ring holds %d bytes: up to max_bytes (%d) and no further" % (ring or -1, MAX))
code, why = a.get("/ready")
testlib.ok(code == 503 and "full" in why, "/ready is 503 while the ring is full (%r)" % why.strip())
fails = a.metric("logship_output_send_failures_total", output="file")
st = a.status()
err = st["outputs"][0]["last_error"] if st else None
testlib.ok(fails and fails >= 2 and err and "cannot open" in err and "Not a directory" in err,
           "the output retries with backoff (%s failures; last error: %s)" % (fails, err))
testlib.ok(a.metric("logship_input_dropped_total", input="generate") == 0,
           "an input that can wait drops nothing")

# restore: the path becomes writable, everything drains by itself
os.unlink(blocker)
os.mkdir(blocker)
out = a.wait_metric("logship_output_events_total", N, timeout=90, output="file")
testlib.ok(out == N, "after the path is restored the output drains all %d events by itself" % N)
code, _ = a.get("/ready")
testlib.ok(code == 200, "/ready is 200 again")
testlib.ok(a.stop() == 0, "SIGTERM: exit 0")
seen, lines, badl = agentlib.sequences([os.path.join(blocker, "events.ndjson")])
testlib.ok(len(seen) == N and set(seen) == set(range(1, N + 1)) and max(seen.values()) == 1 and badl == 0,
           "nothing lost, nothing twice: 1..%d exactly once" % N)
log = a.log_text()
testlib.ok("inputs paused" in log and "inputs resumed" in log, "pausing and resuming are logged")

# --- drop_oldest --------------------------------------------------------------------------
d2 = testlib.tmpdir()
with open(os.path.join(d2, "outdir"), "w") as f:
    f.write("file\n")
b = agentlib.Agent(d2, conf.replace("WHEN", "drop_oldest"), "drop")
testlib.ok(b.start(), "agent starts with when_full: drop_oldest")
done = testlib.wait_for(lambda: b.metric("logship_input_events_total", input="generate") == N, timeout=60)
testlib.ok(done, "with drop_oldest the input is never paused: all %d events generated" % N)
ring = b.metric("logship_ring_bytes")
dropped = b.metric("logship_ring_dropped_events_total")
testlib.ok(ring <= MAX + 16 * 1024 + 1024, "the ring stays at its cap (%d bytes)" % ring)
testlib.ok(dropped and dropped > 0, "the oldest events were dropped, counted: %d" % (dropped or 0))
os.unlink(os.path.join(d2, "outdir"))
os.mkdir(os.path.join(d2, "outdir"))
shipped_and_lost = testlib.wait_for(lambda: (b.metric("logship_output_events_total", output="file") or 0)
                                    + (b.metric("logship_output_dropped_total", output="file") or 0) >= N,
                                    timeout=60)
o = b.metric("logship_output_events_total", output="file")
lost = b.metric("logship_output_dropped_total", output="file")
testlib.ok(shipped_and_lost and o + lost == N and lost <= dropped,
           "every event is either shipped (%d) or counted as dropped (%d), none silently" % (o, lost))
testlib.ok("dropped the" in b.log_text(), "the drops are logged")
b.stop()
seen, lines, badl = agentlib.sequences([os.path.join(d2, "outdir", "events.ndjson")])
testlib.ok(len(seen) == o and max(seen) == N, "the file holds the newest events, up to %d" % N)
testlib.finish()
