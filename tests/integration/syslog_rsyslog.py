#!/usr/bin/env python3
"""rsyslog as the sender: rsyslogd (foreground, a test config in a temp dir)
receives our load generator's messages on its own imtcp port and forwards
them to the agent with omfwd over TCP, once with octet counting
(TCP_Framing="octet-counted", RFC 5424 template) and once LF-framed in
rsyslog's default forwarding format (RFC 3164 frame with an RFC 3339 time).
Every sequence number must arrive once per route with the fields parsed;
then the agent is restarted under rsyslog's feet and rsyslog reconnects."""
import json
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import agentlib  # noqa: E402
import testlib  # noqa: E402

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
LOAD = testlib.bin_path("tests/tools/syslog_load")
d = testlib.tmpdir()
A_OCT, A_LF, R_IN = testlib.free_port(), testlib.free_port(), testlib.free_port()
OUT = os.path.join(d, "out.ndjson")

conf = """data_dir: {dir}/data
http: { listen: 127.0.0.1:{port} }
buffer: { batch_timeout: 20ms }
inputs:
  - type: syslog
    name: octet
    listen: tcp://127.0.0.1:%d
  - type: syslog
    name: lf
    listen: tcp://127.0.0.1:%d
outputs:
  - type: file
    path: %s
""" % (A_OCT, A_LF, OUT)
a = agentlib.Agent(d, conf, "agent")
testlib.ok(a.start(), "agent starts with two syslog TCP listeners")

rconf = os.path.join(d, "rsyslog.conf")
os.mkdir(os.path.join(d, "rs"))
with open(rconf, "w") as f:
    f.write("""global(workDirectory="%(d)s/rs" maxMessageSize="64k")
module(load="imtcp")
input(type="imtcp" port="%(rin)d" address="127.0.0.1")
action(type="omfwd" target="127.0.0.1" port="%(oct)d" protocol="tcp"
       TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format"
       action.resumeRetryCount="-1" action.resumeInterval="1"
       queue.type="LinkedList" queue.size="200000")
action(type="omfwd" target="127.0.0.1" port="%(lf)d" protocol="tcp"
       action.resumeRetryCount="-1" action.resumeInterval="1"
       queue.type="LinkedList" queue.size="200000")
""" % {"d": d, "rin": R_IN, "oct": A_OCT, "lf": A_LF})
r = testlib.run([RSYSLOGD, "-N1", "-f", rconf])
testlib.ok(r.returncode == 0, "rsyslogd -N1 accepts the test config")
if r.returncode != 0:
    testlib.diag(r.stderr.decode()[-2000:])
rs = testlib.start([RSYSLOGD, "-n", "-f", rconf, "-i", os.path.join(d, "rsyslog.pid")],
                   log=os.path.join(d, "rsyslog.log"))
testlib.ok(testlib.wait_port(R_IN, timeout=15, proc=rs), "rsyslogd runs in the foreground with imtcp")


def counts():
    oct_, lf = {}, {}
    bad = []
    if not os.path.exists(OUT):
        return oct_, lf, bad
    with open(OUT, "rb") as f:
        for raw in f:
            e = json.loads(raw)
            m = e.get("message", "")
            i = m.find("seq=")
            if i < 0:
                continue
            n = int(m[i + 4:i + 14])
            s = e.get("log", {}).get("syslog", {})
            target = oct_ if s.get("version") == "1" else lf
            target[n] = target.get(n, 0) + 1
            if s.get("appname") != "loadgen" or s.get("hostname") != "host01.example.com" \
                    or s.get("priority") != 134 or s.get("procid") != "4242":
                bad.append(e)
    return oct_, lf, bad


N = 20000
r = testlib.run([LOAD, "--tcp", "127.0.0.1:%d" % R_IN, "--lf", "--rfc3164", "--count", str(N)], timeout=60)
testlib.ok(r.returncode == 0, "load generator sent %d messages to rsyslog" % N)
testlib.wait_for(lambda: (lambda c: len(c[0]) >= N and len(c[1]) >= N)(counts()), timeout=60)
o, lf, bad = counts()
testlib.ok(set(o) == set(range(1, N + 1)) and max(o.values()) == 1,
           "omfwd octet-counted RFC 5424: every one of %d once (%d distinct)" % (N, len(o)))
testlib.ok(set(lf) == set(range(1, N + 1)) and max(lf.values()) == 1,
           "omfwd LF-framed default forwarding format: every one of %d once (%d distinct)" % (N, len(lf)))
testlib.ok(not bad, "hostname, appname, procid and priority parsed from both forms (%d bad)" % len(bad))
if bad:
    testlib.diag(json.dumps(bad[0]))
# The first RFC 5424 event anywhere in the output: batches from the two
# routes interleave in any proportion, so no fixed head of the file will do.
st = []
with open(OUT, "rb") as f:
    for x in f:
        e = json.loads(x)
        if e["log"]["syslog"].get("version") == "1":
            st.append(e)
            break
testlib.ok(st and st[0]["@timestamp"].startswith("2026-11-25T11:00:00"),
           "the sender's timestamp becomes @timestamp (%s)" % (st[0]["@timestamp"] if st else None))

# the agent restarts; rsyslog's action queue holds and reconnects
a.stop()
r = testlib.run([LOAD, "--tcp", "127.0.0.1:%d" % R_IN, "--lf", "--rfc3164", "--count", "2000",
                 "--start", "500000"], timeout=60)
time.sleep(1.5)
testlib.ok(a.start(), "agent restarted while rsyslog had messages for it")
ok_ = testlib.wait_for(lambda: (lambda c: sum(1 for k in c[0] if k >= 500000) >= 2000 and
                                sum(1 for k in c[1] if k >= 500000) >= 2000)(counts()), timeout=60)
o, lf, _ = counts()
testlib.ok(ok_, "rsyslog reconnected and delivered the 2000 sent meanwhile on both routes (%d, %d)"
           % (sum(1 for k in o if k >= 500000), sum(1 for k in lf if k >= 500000)))
testlib.ok(testlib.stop(rs) == 0, "rsyslogd stops on SIGTERM with exit 0")
a.stop()
testlib.finish()
