#!/usr/bin/env python3
"""The filter thread (agent/filter_thread.c) in the real agent.

- The same events, byte for byte and in the same order, come out whether the
  chain (parse json with a time field, modify, grep dropping some, lines
  that do not parse) runs on the filter thread or on the event loop
  (filter_thread: false); stdin with exit_on_eof, so the agent's shutdown
  must hand over everything the thread still held.
- The same with the tail input, whose lines travel raw to the thread.
- Two inputs through the thread at full speed: each one's events arrive in
  the order offered.
- A full ring with events queued at the thread: the input waits, nothing is
  lost or doubled when the output comes back.
- SIGHUP that changes a filter while events are flowing, and one that
  removes every filter: every event once, in order, the ones after it
  changed.
- A burst's queue buffers go back to the kernel once the agent is idle.
- A kubernetes filter in the set (it may make inputs wait): the chains run
  on the event loop, and the log says so."""
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import agentlib  # noqa: E402
import certs  # noqa: E402
import testlib  # noqa: E402

LOGSHIP = testlib.bin_path("logship")

# --- the same output both ways ----------------------------------------------------------
N = 30000
CHAIN = """filters:
  - type: parse
    format: json
    time_field: time
  - type: modify
    rename: { msg: message }
    set: { service.name: shop, service.environment: prod }
    remove: [secret]
  - type: grep
    exclude: { level: "^debug$" }
"""
# Lines the thread takes raw (agent/event.c's event_parse_line) and lines
# it must write out and parse the usual way: both must give what the loop
# gives from the escaped text.
T = b'"time":"2026-01-02T03:04:05.006Z"'
ODD = [b'{' + T + b',"level":"info","msg":"caf\xc3\xa9 \xe2\x82\xac"}',       # UTF-8
       b'{' + T + b',"level":"info","msg":"bad \xff\xfe byte"}',                   # not UTF-8
       b'{' + T + b',"level":"info",\t"msg":"tab"}',                                # a blank JSON allows
       b'{' + T + b',"level":"info","msg":"ctl \x01"}',                             # raw control byte
       b'{' + T + b',"level":"info","message":"inner","msg":"m"}',
       b'{' + T + b',"msg":{"nested":[1,{"a":null}]}}',
       b'[1,2,3]', b'"just a string"', b'{"level":"info","msg":"unterminated', b'', b'{' + T + b'}',
       b'{' + T + b',"msg":"esc \\" \\\\ \\u00e9"}', b'{' + T + b',"a":1}   ']
src = os.path.join(testlib.tmpdir(), "lines.ndjson")
kept_lines = 0
with open(src, "wb") as f:
    for i in range(N):
        if i % 97 == 5:
            f.write(b"plain text line %d, not json\n" % i)
            kept_lines += 1
            continue
        if i % 89 == 7:
            f.write(ODD[i // 89 % len(ODD)] + b"\n")
            kept_lines += 1
            continue
        level = "debug" if i % 10 == 3 else "info"
        kept_lines += level != "debug"
        f.write(json.dumps({"time": "2026-01-02T03:04:%02d.%03dZ" % (i // 1000 % 60, i % 1000), "level": level,
                            "msg": "GET /items/%d" % i, "seq": i, "secret": "x"}).encode() + b"\n")


def chain_conf(thread, inp):
    """The agent with CHAIN on the filter thread or on the loop, one input."""
    return """data_dir: {dir}/data
http: { listen: 127.0.0.1:{port} }
filter_thread: %s
inputs:
  - %s
%soutputs:
  - type: file
    path: {dir}/out.ndjson
    rotate_bytes: 0
""" % ("true" if thread else "false", inp, CHAIN)


def run_stdin(thread):
    d = testlib.tmpdir()
    conf = chain_conf(thread, "{ type: stdin, name: app, exit_on_eof: true }")
    with open(src) as stdin:
        a = agentlib.Agent(d, conf, "same-%s" % thread, stdin=stdin)
        started = a.start()
        rc = a.p.wait(timeout=120) if started else None
    with open(os.path.join(d, "out.ndjson"), "rb") as f:
        data = f.read()
    return started, rc, data, a.log_text()


ok1, rc1, on_thread, log1 = run_stdin(True)
ok2, rc2, on_loop, log2 = run_stdin(False)
testlib.ok(ok1 and rc1 == 0 and "on the filter thread" in log1,
           "stdin -> chain on the filter thread: the agent ends at EOF with exit 0 (rc %s)" % rc1)
testlib.ok(ok2 and rc2 == 0 and "on the event loop" in log2, "filter_thread: false runs the chain on the event loop")
lines = on_thread.splitlines()
testlib.ok(len(lines) == kept_lines,
           "every kept event came out at EOF, none of the dropped: %d of %d lines (want %d)"
           % (len(lines), N, kept_lines))


def steady(data):
    # a line that did not parse keeps the time stdin read it at: blank it
    return b"\n".join(re.sub(rb'^\{"@timestamp":"[^"]*"', b'{"@timestamp":""', x) if b"parse_error" in x else x
                      for x in data.splitlines())


testlib.ok(steady(on_thread) == steady(on_loop),
           "the output is byte for byte the same both ways (%d bytes; the unparsed lines' read times aside)"
           % len(on_thread))
seqs = [json.loads(x).get("seq") for x in lines]
seqs = [s for s in seqs if s is not None]
testlib.ok(seqs == sorted(seqs), "the events are in the order offered")
first = json.loads(lines[0]) if lines else {}
testlib.ok(first.get("@timestamp") == "2026-01-02T03:04:00.000Z" and first.get("message") == "GET /items/0"
           and first.get("service") == {"name": "shop", "environment": "prod"} and "secret" not in first,
           "the chain ran: %s" % (lines[0][:200] if lines else b""))

# --- the same with the tail input (its lines travel raw to the thread too) ---------------
logs = testlib.tmpdir()   # one file for both runs: log.file.path is in every event
with open(src, "rb") as f_in, open(os.path.join(logs, "app.log"), "wb") as f_out:
    f_out.write(f_in.read())


def run_tail(thread):
    d = testlib.tmpdir()
    conf = chain_conf(thread, "{ type: tail, name: app, paths: [%s/*.log], read_from_head: true }" % logs)
    a = agentlib.Agent(d, conf, "tail-%s" % thread)
    out = os.path.join(d, "out.ndjson")

    def count():
        try:
            with open(out, "rb") as f:
                return f.read().count(b"\n")
        except OSError:
            return 0
    started = a.start()
    done = started and testlib.wait_for(lambda: count() >= kept_lines, timeout=120)
    a.stop()
    with open(out, "rb") as f:
        return done, f.read()


tok1, tail_thread = run_tail(True)
tok2, tail_loop = run_tail(False)
testlib.ok(tok1 and tok2 and tail_thread.count(b"\n") == kept_lines,
           "tail -> chain: every kept line came out both ways (%d, want %d)" % (tail_thread.count(b"\n"), kept_lines))


def first_diff(a, b):
    for x, y in zip(steady(a).splitlines(), steady(b).splitlines()):
        if x != y:
            return "\n  thread %r\n  loop   %r" % (x[:300], y[:300])
    return ""


testlib.ok(steady(tail_thread) == steady(tail_loop),
           "tail: the output is byte for byte the same on the filter thread and on the loop (%d bytes)%s"
           % (len(tail_thread), first_diff(tail_thread, tail_loop)))


# --- two inputs at full speed: each in its own order --------------------------------------
d = testlib.tmpdir()
M = 100000
conf = """data_dir: {dir}/data
http: { listen: 127.0.0.1:{port} }
inputs:
  - { type: generate, name: g1, count: %d, rate: 0, size: 30 }
  - { type: generate, name: g2, count: %d, rate: 0, size: 30 }
filters:
  - { type: modify, name: m1, match: [g1], set: { src: g1 } }
  - { type: modify, name: m2, match: [g2], set: { src: g2 } }
outputs:
  - type: file
    path: {dir}/out.ndjson
    rotate_bytes: 0
""" % (M, M)
a = agentlib.Agent(d, conf, "two")
testlib.ok(a.start(), "two generate inputs, each with its own chain")
n = a.wait_metric("logship_output_events_total", 2 * M, timeout=120, output="file")
testlib.ok(n == 2 * M, "all %d events shipped (%s)" % (2 * M, n))
testlib.ok(a.stop() == 0, "SIGTERM: exit 0")
order = {"g1": [], "g2": []}
with open(os.path.join(d, "out.ndjson")) as f:
    for line in f:
        e = json.loads(line)
        order.setdefault(e.get("src"), []).append(e.get("event", {}).get("sequence"))
testlib.ok(set(order) == {"g1", "g2"} and all(order[k] == list(range(1, M + 1)) for k in order),
           "each input's events arrive in the order offered, every one once (%d, %d)"
           % (len(order["g1"]), len(order["g2"])))

# --- a full ring with events at the thread -----------------------------------------------
d = testlib.tmpdir()
B = 60000
blocker = os.path.join(d, "outdir")
with open(blocker, "w") as f:
    f.write("a file, not a directory\n")
conf = """data_dir: {dir}/data
http: { listen: 127.0.0.1:{port} }
buffer: { max_bytes: 1MiB, segment_bytes: 128KiB, batch_max_bytes: 16KiB, batch_timeout: 20ms }
inputs:
  - { type: generate, count: %d, rate: 0 }
filters:
  - type: modify
    set: { service.name: full, service.environment: ring }
outputs:
  - type: file
    path: {dir}/outdir/events.ndjson
    retry_initial: 50ms
    retry_max: 300ms
""" % B
a = agentlib.Agent(d, conf, "full")
testlib.ok(a.start(), "agent with a chain and an output that cannot write")
# Paused alone is not enough: the thread's queue window pauses the input too,
# and under ASan that happens before the first result reaches the ring. The
# ring's refusal counter says the ring itself is full.
paused = testlib.wait_for(lambda: (a.metric("logship_ring_full_total") or 0) >= 1 and
                          a.metric("logship_input_paused", input="generate") == 1, timeout=30)
testlib.ok(paused, "the ring fills and the input is paused")
in1 = a.metric("logship_input_events_total", input="generate")
time.sleep(1.0)
testlib.ok(a.metric("logship_input_events_total", input="generate") == in1 and in1 < B,
           "nothing more goes in while the ring is full (%s events in)" % in1)
os.unlink(blocker)
os.mkdir(blocker)
out = a.wait_metric("logship_output_events_total", B, timeout=90, output="file")
testlib.ok(out == B, "the output comes back and drains all %d events (%s)" % (B, out))
testlib.ok(a.stop() == 0, "SIGTERM: exit 0")
seen, nlines, bad = agentlib.sequences([os.path.join(blocker, "events.ndjson")])
testlib.ok(len(seen) == B and set(seen) == set(range(1, B + 1)) and max(seen.values()) == 1 and bad == 0,
           "nothing lost, nothing twice: 1..%d exactly once" % B)

# --- SIGHUP while events flow: one that changes a filter, one that removes them all ----------
R = 200000


def reload_midstream(what, rate, before, after, value_before, value_after):
    """R events from generate at rate, through the filters `before`; SIGHUP to
    `after` once 20000 are out. Every event once, in order, with
    value_before in "stage" up to a switch and value_after from it on."""
    d = testlib.tmpdir()
    conf = """data_dir: {dir}/data
http: { listen: 127.0.0.1:{port} }
inputs:
  - { type: generate, count: %d, rate: %d, size: 30 }
FILTERSoutputs:
  - type: file
    path: {dir}/out.ndjson
    rotate_bytes: 0
""" % (R, rate)
    a = agentlib.Agent(d, conf.replace("FILTERS", before), "reload")
    testlib.ok(a.start(), "%s: agent with a generate input (rate %d) through a chain" % (what, rate))
    testlib.wait_for(lambda: (a.metric("logship_output_events_total", output="file") or 0) > 20000, timeout=30)
    a.set_config(conf.replace("FILTERS", after))
    a.signal(signal.SIGHUP)
    testlib.ok(testlib.wait_for(lambda: "reloaded:" in a.log_text(), timeout=20), "%s: reloaded mid-stream" % what)
    n = a.wait_metric("logship_output_events_total", R, timeout=120, output="file")
    testlib.ok(n == R, "%s: all %d events shipped across the reload (%s)" % (what, R, n))
    testlib.ok(a.stop() == 0, "%s: SIGTERM: exit 0" % what)
    stages, seqs = [], []
    with open(os.path.join(d, "out.ndjson")) as f:
        for line in f:
            e = json.loads(line)
            stages.append(e.get("stage"))
            seqs.append(e.get("event", {}).get("sequence"))
    testlib.ok(seqs == list(range(1, R + 1)), "%s: every event once, in order, across the reload" % what)
    switch = stages.index(value_after) if value_after in stages else -1
    testlib.ok(0 < switch and all(s == value_before for s in stages[:switch])
               and all(s == value_after for s in stages[switch:]),
               "%s: events before the reload have the old value, after it the new one (switch at %d)"
               % (what, switch))


def stage(value):
    return "filters:\n  - { type: modify, set: { stage: %s } }\n" % value


reload_midstream("SIGHUP that changes a filter", 100000, stage("before"), stage("after"), "before", "after")
# Events still at the thread when the chain goes: the input's next ones
# wait for them (order) and are resumed once they are back.
reload_midstream("SIGHUP that removes every filter", 0, stage("chained"), "", "chained", None)

# --- a burst's queue buffers go back once the agent is idle -------------------------------
# The queues grow to their window under a burst; FT_IDLE_MS after it they
# are freed and handed back to the kernel (malloc_trim). Under ASan freed
# memory stays in its quarantine, so the RSS part is not measured there.
def sanitized(path):
    try:
        out = subprocess.run(["ldd", path], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "libasan" in out


d = testlib.tmpdir()
NB = 200000
burst = os.path.join(d, "burst.ndjson")
with open(burst, "wb") as f:
    f.write(b"".join(b'{"level":"info","msg":"GET /items/%d","user":"u%d","latency_ms":%d}\n' % (i, i % 97, i % 300)
                     for i in range(NB)))
conf = """data_dir: {dir}/data
http: { listen: 127.0.0.1:{port} }
inputs:
  - { type: stdin, name: app }
filters:
  - { type: parse, format: json }
  - { type: modify, rename: { msg: message }, set: { service.name: shop } }
outputs:
  - type: file
    path: {dir}/out.ndjson
    rotate_bytes: 0
"""
# a file: read as fast as the loop can, so the queues fill; the agent
# stays up after its end (no exit_on_eof)
with open(burst, "rb") as src_f:
    a = agentlib.Agent(d, conf, "burst", stdin=src_f)
    started = a.start()
got = started and a.wait_metric("logship_output_events_total", NB, timeout=120, output="file") == NB
time.sleep(3)   # FT_IDLE_MS and then some
peak, after = (testlib.status_kb(a.p.pid, "VmHWM"), testlib.status_kb(a.p.pid, "VmRSS")) \
    if started and a.alive() else (0, 0)
a.stop()
testlib.ok(got, "a burst of %d events through the chain came out" % NB)
if sanitized(LOGSHIP):
    testlib.ok(True, "RSS after the burst not measured under ASan (its quarantine keeps freed memory)")
else:
    testlib.ok(0 < after <= peak // 2 + 4096,
               "idle after the burst, the queues' memory went back: RSS %d kB at the peak, %d after" % (peak, after))

# --- a filter that may wait keeps the chains on the loop ------------------------------------
d = testlib.tmpdir()
conf = """data_dir: {dir}/data
http: { listen: 127.0.0.1:{port} }
inputs:
  - { type: generate, count: 10, rate: 0 }
filters:
  - type: modify
    set: { a: 1 }
  - type: kubernetes
    kube_url: https://127.0.0.1:1
    token_file: {dir}/token
    ca_file: {dir}/ca.pem
outputs:
  - type: file
    path: {dir}/out.ndjson
"""
agentlib.write(os.path.join(d, "token"), "t\n")
certs.ca(d)
a = agentlib.Agent(d, conf, "kube")
testlib.ok(a.start(), "agent with a kubernetes filter")
testlib.ok(testlib.wait_for(lambda: "on the event loop" in a.log_text(), timeout=10),
           "with a filter that may make inputs wait, the chains run on the event loop")
testlib.ok(a.wait_metric("logship_output_events_total", 10, timeout=30, output="file") == 10,
           "and the events flow")
a.stop()
testlib.finish()
