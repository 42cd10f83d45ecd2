#!/usr/bin/env python3
"""SIGHUP reloads: a good new config is applied without losing events
(unchanged modules keep running, changed ones restart from their checkpoint
and cursor, added ones start, removed ones stop and their cursor is deleted);
a bad new config is reported as file:line:column and the running config stays
in force. Events are numbered (generate), so "without losing events" is
checked by finding every number in the file output after all reloads."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import agentlib  # noqa: E402
import testlib  # noqa: E402

d = testlib.tmpdir()
base = """data_dir: {dir}/data
http: { listen: 127.0.0.1:{port} }
log_level: LEVEL
inputs:
  - type: generate
    name: main
    rate: RATE
    size: 20
EXTRA_IN
outputs:
  - type: file
    name: all
    path: {dir}/all.ndjson
    match: [main]
EXTRA_OUT
"""


def config(rate=2000, level="info", extra_in="", extra_out=""):
    return (base.replace("RATE", str(rate)).replace("LEVEL", level)
            .replace("EXTRA_IN", extra_in).replace("EXTRA_OUT", extra_out))


a = agentlib.Agent(d, config())
testlib.ok(a.start(), "agent starts")
a.wait_metric("logship_output_events_total", 1000, timeout=30, output="all")


def reloaded(n):
    return testlib.wait_for(lambda: a.log_text().count("reloaded:") >= n, timeout=20)


def in_events(name):
    return a.metric("logship_input_events_total", input=name) or 0


# 1. add an input and an output; "main" and "all" are unchanged and keep running
before = in_events("main")
a.set_config(config(extra_in="  - type: generate\n    name: side\n    rate: 500\n    size: 5\n",
                    extra_out="  - type: file\n    name: side-out\n    path: {dir}/side.ndjson\n    match: [side]\n"))
a.signal(signal.SIGHUP)
testlib.ok(reloaded(1), "SIGHUP with a good config: reloaded")
testlib.ok("2 module(s) kept running, 0 restarted, 2 added, 0 removed" in a.log_text(),
           "unchanged modules keep running, the new ones are added")
testlib.ok(in_events("main") >= before, "the unchanged input was not restarted (its counter goes on: %d >= %d)"
           % (in_events("main"), before))
side = a.wait_metric("logship_output_events_total", 200, timeout=20, output="side-out")
testlib.ok(side and side >= 200, "the added output receives the added input's events")

# 2. a bad config: reported with its position, the running one stays
bad = config() + "buffer:\n  when_full: maybe\n"
a.set_config(bad)
n0 = a.metric("logship_output_events_total", output="side-out")
a.signal(signal.SIGHUP)
testlib.ok(testlib.wait_for(lambda: "reload failed" in a.log_text(), timeout=20),
           "SIGHUP with a bad config: the reload is refused")
testlib.ok('%s:17:14: buffer.when_full: expected one of block, drop_oldest, got "maybe"' % a.conf in a.log_text(),
           "the error is reported as file:line:column: message")
testlib.ok(a.metric("logship_reload_failures_total") == 1, "reload failures are counted")
time.sleep(0.5)
testlib.ok((a.metric("logship_output_events_total", output="side-out") or 0) > n0,
           "the old config stays in force: the side pipeline still ships")
code, _ = a.get("/ready")
testlib.ok(code == 200, "/ready stays 200 after a refused reload")

# 3. change main's rate (restart from its checkpoint), remove side and side-out
a.set_config(config(rate=3000, level="debug"))
a.signal(signal.SIGHUP)
testlib.ok(reloaded(2), "SIGHUP with a changed config: reloaded")
testlib.ok("1 module(s) kept running, 1 restarted, 0 added, 2 removed" in a.log_text(),
           "the changed input restarts, the removed modules stop")
data = os.path.join(d, "data", "ring")
testlib.ok(not os.path.exists(os.path.join(data, "side-out.cursor")), "a removed output's cursor is deleted")
testlib.ok(testlib.wait_for(lambda: " DEBUG " in a.log_text(), timeout=10) is not None,
           "log_level changes take effect")
time.sleep(1.0)
last = in_events("main")
testlib.ok(a.stop() == 0, "SIGTERM after the reloads: exit 0")
seen, lines, badl = agentlib.sequences([os.path.join(d, "all.ndjson")])
top = max(seen) if seen else 0
missing = [k for k in range(1, top + 1) if k not in seen]
dups = sum(c - 1 for c in seen.values() if c > 1)
testlib.ok(top > 1000 and not missing and badl == 0,
           "no event lost across the reloads: 1..%d all in the file" % top)
testlib.ok(dups == 0, "no event twice either: the ring is synced and checkpointed before an input "
           "restarts (%d duplicates)" % dups)
testlib.finish()
