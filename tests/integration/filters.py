#!/usr/bin/env python3
"""Filters in the real agent: stdin and generate inputs -> parse (json), modify,
grep, throttle -> ring -> file output. Checks the events that come out (parsed,
changed, dropped ones missing, lines that do not parse flagged and kept), that
an input no filter matches passes untouched, the per-filter counters on
/metrics and /status, `--check` printing filters and refusing bad filter
configs at file:line:column, and a SIGHUP that changes one filter restarts it
while the others keep running."""
import json
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import agentlib  # noqa: E402
import testlib  # noqa: E402

LOGSHIP = testlib.bin_path("logship")
d = testlib.tmpdir()

# --- --check -------------------------------------------------------------------------
BASE = """data_dir: {dir}/data
http: { listen: 127.0.0.1:{port} }
inputs:
  - type: stdin
    name: app
    tag: json-logs
  - type: generate
    name: gen
    rate: 200
    size: 10
filters:
FILTERS
outputs:
  - type: file
    name: out
    path: {dir}/out.ndjson
"""

FILTERS = """  - type: parse
    name: p
    match: [json-*]
    format: json
    time_field: time
  - type: modify
    name: m
    match: [app]
    rename: { lvl: log.level }
    set: { service.environment: ENV_VALUE, pod: "${user.name}" }
    remove: [secret]
  - type: grep
    name: g
    match: [app]
    exclude: { log.level: "^debug$" }
  - type: throttle
    name: t
    match: [app]
    rate: 5
    interval: 1h
    key: "${user.name}"
"""


def config(env_value="prod"):
    return BASE.replace("FILTERS", FILTERS.replace("ENV_VALUE", env_value))


def check(text, name):
    path = agentlib.write(os.path.join(d, name), text.replace("{dir}", d).replace("{port}", "1"))
    r = testlib.run([LOGSHIP, "--check", "-c", path])
    return path, r.returncode, r.stdout.decode(), r.stderr.decode().strip()


path, rc, out, _ = check(config(), "good.yaml")
testlib.ok(rc == 0 and "filters:\n  - type: parse\n" in out and "format: json" in out
           and "keep_original: false" in out and "match:" in out,
           "--check prints the filters with their defaults")

# Filter items start on line 12 of BASE.
BAD = [
    ("  - type: parse\n    format: regex\n", "13:13", "format: regex needs a 'pattern'"),
    ("  - type: grep\n    include: { message: '(x' }\n", "13:25", "bad regular expression '(x'"),
    ("  - type: nosuch\n", "12:11", "unknown filter type 'nosuch'"),
    ("  - type: modify\n    set: { a: 1 }\n    match: [nope]\n", "14:13", "match: no input is named or tagged 'nope'"),
    ("  - type: throttle\n    rate: lots\n", "13:11", "rate: expected an integer"),
    ("  - type: grep\n    name: x\n    exclude: { a: b }\n  - type: grep\n    name: x\n    exclude: { a: b }\n",
     "16:11", "duplicate filter name 'x'"),
]
for i, (item, pos, msg) in enumerate(BAD):
    path, rc, _, err = check(BASE.replace("FILTERS\n", item), "bad%d.yaml" % i)
    testlib.ok(rc == 1 and err.startswith("%s:%s: " % (path, pos)) and msg in err,
               "--check refuses a bad filter config at file:line:col: %s (got: %s)" % (msg, err))

# --- the running agent ----------------------------------------------------------------
a = agentlib.Agent(d, config(), stdin=subprocess.PIPE)
testlib.ok(a.start(), "agent starts with four filters")


def send(lines):
    a.p.stdin.write(("\n".join(lines) + "\n").encode())
    a.p.stdin.flush()


def events():
    out = []
    try:
        with open(os.path.join(d, "out.ndjson")) as f:
            for line in f:
                out.append(json.loads(line))
    except OSError:
        pass
    return out


def app_events():
    return [e for e in events() if "event" not in e or "sequence" not in e.get("event", {})]


lines = [json.dumps({"time": "2026-01-02T03:04:05.678Z", "lvl": "info", "msg": "hello %d" % i,
                     "user": {"name": "alice"}, "secret": "s3cr3t"}) for i in range(8)]
lines += [json.dumps({"lvl": "debug", "msg": "noise", "user": {"name": "bob"}})]
lines += ["this is not json", json.dumps({"lvl": "warn", "msg": "from bob", "user": {"name": "bob"}})]
send(lines)
testlib.ok(testlib.wait_for(lambda: len(app_events()) >= 7, timeout=20), "filtered events reach the output")
testlib.ok(a.wait_metric("logship_filter_events_total", 11, timeout=20, filter="p") >= 11,
           "parse saw every stdin event")
evs = app_events()
alice = [e for e in evs if e.get("pod") == "alice"]
testlib.ok(len(alice) == 5, "throttle let 5 of alice's 8 events through (rate 5 per hour per user)")
e = alice[0] if alice else {}
testlib.ok(e.get("@timestamp") == "2026-01-02T03:04:05.678Z" and e.get("msg", "").startswith("hello")
           and e.get("log", {}).get("level") == "info" and "lvl" not in e and "secret" not in e
           and "message" not in e and e.get("service", {}).get("environment") == "prod",
           "parse + modify: fields parsed, time read, renamed, set, removed (%s)" % json.dumps(e))
testlib.ok(not [x for x in evs if x.get("msg") == "noise"], "grep dropped the debug event")
flagged = [x for x in evs if x.get("message") == "this is not json"]
testlib.ok(len(flagged) == 1 and flagged[0].get("event", {}).get("parse_error") == "message: not valid JSON",
           "a line that does not parse is kept, flagged with the reason")
testlib.ok([x for x in evs if x.get("msg") == "from bob" and x.get("pod") == "bob"], "bob's own bucket is not starved")
gen = [x for x in events() if "sequence" in x.get("event", {})]
testlib.ok(gen and all(set(x) == {"@timestamp", "message", "event"} for x in gen),
           "the generate input, matched by no filter, is untouched")

testlib.ok(a.metric("logship_filter_dropped_total", filter="g") == 1, "grep drop counted on /metrics")
testlib.ok(a.metric("logship_filter_dropped_total", filter="t") == 3, "throttle drops counted on /metrics")
testlib.ok(a.metric("logship_filter_parse_failed_total", filter="p") == 1,
           "parse's own counter on /metrics (logship_filter_parse_failed_total)")
st = a.status() or {}
fs = {f["name"]: f for f in st.get("filters", [])}
testlib.ok(set(fs) == {"p", "m", "g", "t"} and fs["t"]["dropped"] == 3 and fs["p"]["counters"].get("parse_failed") == 1
           and fs["p"]["match"] == ["json-*"], "/status lists the filters with their counters")

# --- SIGHUP: change modify's value; the others keep running ----------------------------
a.set_config(config("staging"))
a.signal(signal.SIGHUP)
testlib.ok(testlib.wait_for(lambda: "filters: 4 running (3 kept)" in a.log_text(), timeout=20),
           "SIGHUP restarts the changed filter only")
testlib.ok(a.metric("logship_filter_dropped_total", filter="t") == 3, "a kept filter keeps its state and counters")
send([json.dumps({"msg": "after reload", "user": {"name": "carol"}})])
testlib.ok(testlib.wait_for(lambda: [x for x in app_events() if x.get("msg") == "after reload"], timeout=20),
           "events flow after the reload")
after = [x for x in app_events() if x.get("msg") == "after reload"]
testlib.ok(after and after[0].get("service", {}).get("environment") == "staging", "the restarted filter has the new value")

a.p.stdin.close()
testlib.ok(a.stop() == 0, "agent stops cleanly")
testlib.finish()
