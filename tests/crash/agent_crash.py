#!/usr/bin/env python3
"""Crash test for the agent: invariants 1-3 end to end.

generate (count N, numbered events) -> ring -> file. The agent is SIGKILLed
at a random moment, AGENT_CRASH_ROUNDS times (default 30), each time
restarted on the same data_dir; then it runs to the end. Every kill can land
anywhere: mid-batch, mid-append, mid-fsync, mid-write of the output file,
mid-checkpoint or mid-cursor commit. Afterwards the file output must hold
every number 1..N at least once (loss = 0), and duplicates must be bounded
by what can lie between the checkpoints at each crash. Prints loss and the
duplicate count. AGENT_CRASH_SEED repeats a run.

It runs twice: without filters, and with a filter chain, which runs on the
filter thread (agent/filter_thread.c): events accepted from the input but
still queued there when the kill lands must be generated again, because the
input's position waits until they reached the batcher."""
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import agentlib  # noqa: E402
import testlib  # noqa: E402

rounds = int(os.environ.get("AGENT_CRASH_ROUNDS", "30"))
seed = int(os.environ.get("AGENT_CRASH_SEED", str(int(time.time()))))
rng = random.Random(seed)
testlib.diag("seed %d (AGENT_CRASH_SEED=%d repeats this run)" % (seed, seed))
RATE = 100000
N = int(os.environ.get("AGENT_CRASH_EVENTS", "400000"))
CHAIN = """filters:
  - type: modify
    set: { service.name: crash, service.environment: test }
    remove: [nothere]
  - type: grep
    exclude: { message: "^never-matches$" }
"""


def crash_run(what, filters, rounds):
    d = testlib.tmpdir()
    out = os.path.join(d, "out.ndjson")
    conf = """data_dir: {dir}/data
http: { listen: 127.0.0.1:{port} }
shutdown_timeout: 30s
buffer: { max_bytes: 512MiB, segment_bytes: 1MiB, batch_max_bytes: 64KiB, batch_timeout: 50ms,
          fsync: interval, fsync_interval: 50ms }
inputs:
  - type: generate
    count: %d
    rate: %d
    size: 40
%soutputs:
  - type: file
    path: {dir}/out.ndjson
    rotate_bytes: 0
    commit_interval: 100ms
""" % (N, RATE, filters)
    a = agentlib.Agent(d, conf, "crash")
    alive_at_kill = 0
    for i in range(rounds):
        a.port = testlib.free_port()
        a.set_config(conf)
        if not a.start(wait=False):
            break
        time.sleep(rng.uniform(0.02, 0.6))
        alive_at_kill += a.alive()
        a.kill9()
    testlib.ok(alive_at_kill == rounds, "%s: the agent was running at each of the %d SIGKILLs" % (what, rounds))
    log = a.log_text()
    testlib.ok("panic" not in log and "Assertion" not in log, "%s: no assertion or crash in the agent's logs" % what)

    # the last run goes to the end
    a.port = testlib.free_port()
    a.set_config(conf)
    testlib.ok(a.start(), "%s: the agent starts after %d SIGKILLs (ring recovered)" % (what, rounds))
    done = testlib.wait_for(lambda: (lambda s: s and s["inputs"][0]["state"] == "done"
                                     and s["outputs"][0]["lag_events"] == 0)(a.status()), timeout=120)
    testlib.ok(bool(done), "%s: the last run generates up to %d and ships everything" % (what, N))
    testlib.ok(a.stop() == 0, "%s: SIGTERM after the last run: exit 0" % what)

    seen, lines, torn = agentlib.sequences([out])
    missing = [k for k in range(1, N + 1) if k not in seen]
    dups = sum(c - 1 for c in seen.values() if c > 1)
    extra = [k for k in seen if k < 1 or k > N]
    print("# %s: loss = %d, duplicates = %d (%.2f%% of %d), torn lines = %d, lines = %d"
          % (what, len(missing), dups, 100.0 * dups / N, N, torn, lines), flush=True)
    testlib.ok(not missing, "%s: loss = 0: every number 1..%d is in the file output%s"
               % (what, N, "" if not missing else " (first missing: %s)" % missing[:10]))
    testlib.ok(not extra, "%s: no number outside 1..%d" % (what, N))
    # Per crash, what can be shipped twice: the events the output wrote after
    # its last cursor commit (commit_interval 100ms, plus the read in flight)
    # and the events generated after the input's last checkpoint
    # (fsync_interval 50ms, plus the batch in flight): well under 1 s of
    # generation at RATE.
    bound = rounds * 1 * RATE
    testlib.ok(dups <= bound, "%s: duplicates are bounded: %d <= %d (%d crashes x 1 s x %d/s)"
               % (what, dups, bound, rounds, RATE))
    testlib.ok(torn <= rounds, "%s: torn lines (a crash mid-write, ended by a newline on reopen): %d <= %d"
               % (what, torn, rounds))
    if filters:
        with open(out) as f:
            first = f.readline()
        testlib.ok('"service":{"name":"crash","environment":"test"}' in first,
                   "%s: the events went through the chain: %s" % (what, first.strip()[:160]))
        testlib.ok("filter thread" in a.log_text(), "%s: the chain ran on the filter thread" % what)


crash_run("no filters", "", rounds)
crash_run("filter thread", CHAIN, max(1, rounds * 2 // 3))
testlib.finish()
