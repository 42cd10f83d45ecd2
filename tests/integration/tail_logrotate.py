#!/usr/bin/env python3
"""The tail input under logrotate itself (the Debian package): three files,
each rotated by `logrotate -f` with a state file and config in the temp dir,
several times while lines keep coming:
  create          rename to app.log.1 .. .N, a new app.log created;
  copytruncate    copied to app.log.1, app.log truncated in place;
  create+compress renamed, gzipped, the renamed file deleted at once
                  (Fluent Bit issue 7709: the deleted file must be read to
                  its end and its descriptor released).
Every line must arrive; duplicates are reported (copytruncate may re-read
what the copy and the original share)."""
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import agentlib  # noqa: E402
import testlib  # noqa: E402

LOGROTATE = shutil.which("logrotate") or "/usr/sbin/logrotate"
if not os.path.exists(LOGROTATE):
    testlib.ok(False, "logrotate is installed (Debian package logrotate)")
    testlib.finish()

d = testlib.tmpdir()
OUT = os.path.join(d, "out.ndjson")
styles = {"create": "create\n    rotate 10",
          "copytruncate": "copytruncate\n    rotate 10",
          "compress": "create\n    rotate 10\n    compress"}
for s in styles:
    os.makedirs(os.path.join(d, s))
rconf = os.path.join(d, "logrotate.conf")
with open(rconf, "w") as f:
    for s, opts in styles.items():
        f.write("%s/%s/app.log {\n    %s\n    missingok\n    nomail\n}\n" % (d, s, opts))

conf = """data_dir: {dir}/data
http: { listen: 127.0.0.1:{port} }
buffer: { batch_timeout: 20ms, fsync_interval: 100ms }
inputs:
  - { type: tail, name: create, paths: [{dir}/create/app.log], read_from_head: true, rotate_wait: 1s }
  - { type: tail, name: copytruncate, paths: [{dir}/copytruncate/app.log], read_from_head: true }
  - { type: tail, name: compress, paths: [{dir}/compress/app.log], read_from_head: true, rotate_wait: 1s }
outputs:
  - type: file
    path: {dir}/out.ndjson
    rotate_bytes: 0
"""
a = agentlib.Agent(d, conf, "logrotate")
testlib.ok(a.start(), "agent starts")
N_PER, ROUNDS = 3000, 5
seq = 0
for r in range(ROUNDS):
    for s in styles:
        with open(os.path.join(d, s, "app.log"), "a") as f:
            for i in range(N_PER):
                f.write("%s %d round %d\n" % (s, seq + i, r))
    seq += N_PER
    time.sleep(0.3)
    res = testlib.run([LOGROTATE, "-f", "-s", os.path.join(d, "state"), rconf], timeout=30)
    if res.returncode != 0:
        testlib.diag("logrotate: %s" % res.stderr.decode(errors="replace"))
testlib.ok(True, "logrotate -f ran %d times over the three files" % ROUNDS)
# one more burst after the last rotation
for s in styles:
    with open(os.path.join(d, s, "app.log"), "a") as f:
        for i in range(N_PER):
            f.write("%s %d round last\n" % (s, seq + i))
seq += N_PER


def counts():
    c = {s: {} for s in styles}
    if os.path.exists(OUT):
        with open(OUT, "rb") as f:
            for raw in f:
                if not raw.endswith(b"\n"):
                    break
                msg = raw.split(b'"message":"', 1)[1].split(b'"', 1)[0].decode()
                s, n = msg.split(" ")[:2]
                c[s][int(n)] = c[s].get(int(n), 0) + 1
    return c


c = testlib.wait_for(lambda: (lambda x: x if all(len(x[s]) >= seq for s in styles) else None)(counts()),
                     timeout=30) or counts()
for s in styles:
    missing = seq - len([n for n in c[s] if 0 <= n < seq])
    dups = sum(v - 1 for v in c[s].values())
    testlib.ok(missing == 0, "logrotate %s: all %d lines shipped (missing %d, duplicates %d)"
               % (s, seq, missing, dups))
testlib.ok(all(sum(v - 1 for v in c[s].values()) == 0 for s in ("create", "compress")),
           "create and compress: no line twice")


def held():
    out = []
    for fd in os.listdir("/proc/%d/fd" % a.p.pid):
        try:
            t = os.readlink("/proc/%d/fd/%s" % (a.p.pid, fd))
        except OSError:
            continue
        if t.startswith(d) and "(deleted)" in t:
            out.append(t)
    return out


testlib.ok(testlib.wait_for(lambda: not held(), timeout=10),
           "no descriptor of a deleted (compressed) file is kept: %s" % held())
testlib.ok(a.stop() == 0, "SIGTERM: exit 0")
testlib.finish()
