#!/usr/bin/env python3
"""The agent end to end: command line (--version, --help, --check, bad configs
refused with file:line:column), generate -> ring -> file with counts in =
counts out and every sequence number exactly once, routing by name, tag and
wildcard between several instances of one module, stdin -> stdout with
awkward bytes escaped into valid JSON, file rotation by size, SIGTERM drain
and a restart that continues the numbering without duplicates, and the
status endpoint (/health /ready /metrics /status)."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import agentlib  # noqa: E402
import testlib  # noqa: E402

LOGSHIP = testlib.bin_path("logship")
d = testlib.tmpdir()

# --- command line --------------------------------------------------------------
r = testlib.run([LOGSHIP, "--version"])
testlib.ok(r.returncode == 0 and r.stdout.startswith(b"logship "), "--version prints the version")
r = testlib.run([LOGSHIP, "--help"])
testlib.ok(r.returncode == 0 and b"--check" in r.stdout and b"-c" in r.stdout, "--help prints usage")
r = testlib.run([LOGSHIP, "--bogus"])
testlib.ok(r.returncode == 2, "an unknown option is a usage error (exit 2)")

good = agentlib.write(os.path.join(d, "good.yaml"),
                      "data_dir: %s/data\ninputs:\n  - type: generate\n    count: 5\noutputs:\n"
                      "  - type: file\n    path: %s/out.ndjson\n" % (d, d))
r = testlib.run([LOGSHIP, "--check", "-c", good])
out = r.stdout.decode()
testlib.ok(r.returncode == 0 and "rotate_bytes: 100MiB" in out and "name: generate" in out
           and "when_full: block" in out, "--check prints the effective config with defaults")
bad = agentlib.write(os.path.join(d, "bad.yaml"),
                     "data_dir: %s/data\ninputs:\n  - type: generate\n    rate: fast\n" % d)
r = testlib.run([LOGSHIP, "--check", "-c", bad])
testlib.ok(r.returncode == 1 and r.stderr.decode().strip() ==
           '%s:4:11: rate: expected an integer, got "fast"' % bad,
           "--check reports a bad config as file:line:column: message (exit 1)")
r = testlib.run([LOGSHIP, "-c", bad], timeout=10)
testlib.ok(r.returncode == 1 and ('%s:4:11: rate: expected an integer' % bad) in r.stderr.decode(),
           "the daemon refuses to start on a bad config, saying where")
r = testlib.run([LOGSHIP, "--check", "-c", os.path.join(d, "missing.yaml")])
testlib.ok(r.returncode == 1 and b"missing.yaml" in r.stderr, "a missing config file is reported")

# --- generate -> ring -> file ---------------------------------------------------------
N = 200000
conf = """data_dir: {dir}/data1
http: { listen: 127.0.0.1:{port} }
buffer: { max_bytes: 256MiB, segment_bytes: 4MiB, batch_max_bytes: 256KiB }
inputs:
  - type: generate
    count: %d
    rate: 0
outputs:
  - type: file
    path: {dir}/events.ndjson
""" % N
a = agentlib.Agent(d, conf, "pipe")
testlib.ok(a.start(), "agent starts with generate -> file")
a.wait_metric("logship_output_events_total", N, timeout=120, output="file")
code, body = a.get("/health")
testlib.ok(code == 200 and body.strip() == "ok", "/health answers ok")
code, body = a.get("/ready")
testlib.ok(code == 200, "/ready is 200 when the ring takes writes")
ev_in = a.metric("logship_input_events_total", input="generate")
ev_out = a.metric("logship_output_events_total", output="file")
testlib.ok(ev_in == N and ev_out == N, "counts in = counts out (%s in, %s out)" % (ev_in, ev_out))
# the checkpoint follows the ring's fsync (interval: within a second)
st = testlib.wait_for(lambda: (lambda s: s if s and s["inputs"][0]["checkpoint"] == str(N) else None)(a.status()),
                      timeout=10) or a.status()
testlib.ok(st is not None and st["inputs"][0]["checkpoint"] == str(N) and st["inputs"][0]["state"] == "done"
           and st["outputs"][0]["lag_events"] == 0,
           "/status: the input's checkpoint is its last sequence, the output has no lag")
code, body = a.get("/nope")
testlib.ok(code == 404, "unknown paths are 404")
testlib.ok(a.stop() == 0, "SIGTERM: exit 0")
seen, lines, badl = agentlib.sequences([os.path.join(d, "events.ndjson")])
testlib.ok(lines == N and badl == 0 and len(seen) == N and set(seen) == set(range(1, N + 1))
           and max(seen.values()) == 1, "the file holds every sequence 1..%d exactly once" % N)
with open(os.path.join(d, "events.ndjson")) as f:
    ev = json.loads(f.readline())
testlib.ok(set(ev) == {"@timestamp", "message", "event"} and len(ev["message"]) == 100
           and ev["@timestamp"].endswith("Z"), "events are ECS JSON with a 100-byte message")

# restart with a larger count: numbering continues from the checkpoint, the
# output from its cursor: no duplicates, nothing missing.
a.set_config(conf.replace("count: %d" % N, "count: %d" % (N + 5000)).replace("{port}", str(a.port)))
testlib.ok(a.start(), "agent restarts on the same data_dir")
a.wait_metric("logship_output_events_total", 5000, timeout=60, output="file")
testlib.ok(a.stop() == 0, "second SIGTERM: exit 0")
seen, lines, badl = agentlib.sequences([os.path.join(d, "events.ndjson")])
testlib.ok(lines == N + 5000 and set(seen) == set(range(1, N + 5001)) and max(seen.values()) == 1,
           "after a clean restart: 1..%d exactly once (checkpoint and cursor resumed)" % (N + 5000))

# --- several instances, routing -----------------------------------------------------------
conf = """data_dir: {dir}/data2
http: { listen: 127.0.0.1:{port} }
inputs:
  - type: generate
    name: app
    count: 3000
    rate: 0
  - type: generate
    name: audit
    tag: security
    count: 2000
    rate: 0
    size: 10
  - type: generate
    count: 1000
    rate: 0
outputs:
  - type: file
    name: only-app
    path: {dir}/app.ndjson
    match: [app]
  - type: file
    name: by-tag
    path: {dir}/security.ndjson
    match: [security]
  - type: file
    name: wild
    path: {dir}/wild.ndjson
    match: ["a*"]
  - type: file
    name: all
    path: {dir}/all.ndjson
"""
a = agentlib.Agent(d, conf, "route")
testlib.ok(a.start(), "agent starts with three generate instances and four file outputs")
a.wait_metric("logship_output_events_total", 6000, timeout=60, output="all")
a.wait_metric("logship_output_events_total", 5000, timeout=30, output="wild")
a.stop()


def count(name):
    with open(os.path.join(d, name)) as f:
        return sum(1 for _ in f)


testlib.ok(count("app.ndjson") == 3000, "match by name: only app's 3000 events")
testlib.ok(count("security.ndjson") == 2000, "match by tag: audit's 2000 events")
testlib.ok(count("wild.ndjson") == 5000, "match by wildcard a*: app + audit = 5000 events")
testlib.ok(count("all.ndjson") == 6000, "match default *: all 6000 events from three instances")
m = {}
with open(os.path.join(d, "all.ndjson")) as f:
    for line in f:
        ev = json.loads(line)
        m[len(ev["message"])] = m.get(len(ev["message"]), 0) + 1
testlib.ok(m == {100: 4000, 10: 2000}, "each instance runs with its own settings (size 100 and 10)")

# --- stdin -> stdout, exit at EOF ---------------------------------------------------------
conf = """data_dir: %s/data3
inputs:
  - type: stdin
    exit_on_eof: true
    max_line_bytes: 64
outputs:
  - type: stdout
""" % d
cpath = agentlib.write(os.path.join(d, "stdin.yaml"), conf)
lines_in = [b"hello world", b'quote " backslash \\ tab \t end', b"bad utf8 \xff\xfe here",
            b"caf\xc3\xa9", b"x" * 100, b"crlf line\r", b"", b"last line without newline"]
data = b"\n".join(lines_in)
p = testlib.start([LOGSHIP, "-c", cpath], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                  stderr=open(os.path.join(d, "stdin.log"), "wb"))
try:
    out, _ = p.communicate(data, timeout=30)
except subprocess.TimeoutExpired:
    testlib.stop(p)
    out = b""
testlib.ok(p.returncode == 0, "stdin with exit_on_eof: the agent exits 0 by itself at EOF")
evs = []
for line in out.splitlines():
    try:
        evs.append(json.loads(line))
    except ValueError:
        evs.append(None)
msgs = [e["message"] if e else None for e in evs]
want = ["hello world", 'quote " backslash \\ tab \t end', "bad utf8 \ufffd\ufffd here", "caf\u00e9",
        "x" * 64, "crlf line", "", "last line without newline"]
testlib.ok(msgs == want, "every line is one valid JSON event; invalid UTF-8 became \\ufffd, "
           "the long line was cut at 64 bytes")
if msgs != want:
    testlib.diag("got %r" % msgs)

# stdin from a regular file (cannot be polled)
src = os.path.join(d, "lines.txt")
with open(src, "w") as f:
    for i in range(50000):
        f.write("line %d\n" % i)
with open(src, "rb") as fin:
    p = testlib.start([LOGSHIP, "-c", cpath.replace("stdin.yaml", "stdin.yaml")], stdin=fin,
                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out, _ = p.communicate(timeout=60)
testlib.ok(p.returncode == 0 and len(out.splitlines()) == 50000,
           "stdin redirected from a regular file: all 50000 lines, then exit")

# --- rotation by size -------------------------------------------------------------------
conf = """data_dir: {dir}/data4
http: { listen: 127.0.0.1:{port} }
inputs:
  - type: generate
    count: 20000
    rate: 0
outputs:
  - type: file
    path: {dir}/rot.ndjson
    rotate_bytes: 1MiB
    rotate_keep: 100
"""
a = agentlib.Agent(d, conf, "rot")
testlib.ok(a.start(), "agent starts with a rotating file output")
a.wait_metric("logship_output_events_total", 20000, timeout=60, output="file")
a.stop()
files = agentlib.rotated(os.path.join(d, "rot.ndjson"), 100)
sizes = [os.path.getsize(f) for f in files]
seen, lines, badl = agentlib.sequences(files)
testlib.ok(len(files) >= 3 and max(sizes) <= 1 << 20,
           "rotated by size: %d files, none above 1MiB" % len(files))
testlib.ok(lines == 20000 and len(seen) == 20000 and badl == 0,
           "rotation loses and duplicates nothing (20000 events in %d files)" % len(files))
testlib.finish()
