#!/usr/bin/env python3
"""The journald input on real journal files written by systemd's own
systemd-journal-remote from journal export format: the fields of an event
(message, @timestamp from the realtime stamp, host.name, log.syslog.priority,
journald.* with binary values base64 and repeated fields as arrays); the
cursor checkpointed; SIGKILL at a random moment while it reads 200000
entries, restart, every entry there (resumed after the cursor, duplicates
only what lay between checkpoints); entries appended later (a new file in
the directory, and more entries in an existing one) picked up without
polling; `matches`; and a vacuumed (deleted) journal file survived."""
import json
import os
import random
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import agentlib  # noqa: E402
import testlib  # noqa: E402

REMOTE = "/lib/systemd/systemd-journal-remote"
d = testlib.tmpdir()
J = os.path.join(d, "journal")
os.mkdir(J)
BOOT = "0123456789abcdef0123456789abcdef"
T0 = 1795521600 * 1000000  # 2026-11-24T12:00:00Z in us
UNITS = ["nginx.service", "sshd.service", "cron.service", "app@1.service"]


def export(path, first, count, mono0=1000):
    # one boot: the monotonic clock grows with the realtime one (the journal
    # orders entries of one boot by it)
    """count entries SEQ=first.. in journal export format."""
    with open(path, "wb") as f:
        for i in range(first, first + count):
            f.write(b"__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID=%s\n"
                    % (T0 + i * 1000, mono0 + i, BOOT.encode()))
            f.write(b"MESSAGE=entry %d from %s\n" % (i, UNITS[i % 4].encode()))
            f.write(b"SEQ=%d\nPRIORITY=%d\nSYSLOG_FACILITY=3\nSYSLOG_IDENTIFIER=test\n_HOSTNAME=jhost\n"
                    b"_SYSTEMD_UNIT=%s\n_PID=%d\n_COMM=testd\n" % (i, i % 8, UNITS[i % 4].encode(), 100 + i % 7))
            if i % 100 == 0:
                blob = b"bin\x00\x01\xff" + b"%d" % i
                f.write(b"BLOB\n" + struct.pack("<Q", len(blob)) + blob + b"\n")
                f.write(b"TAG=one\nTAG=two\n")
            f.write(b"\n")


def write_journal(name, first, count):
    src = os.path.join(d, "%s.export" % name)
    export(src, first, count)
    r = testlib.run([REMOTE, "--output=" + os.path.join(J, name + ".journal"), src], timeout=120)
    if r.returncode != 0:
        testlib.diag(r.stderr.decode()[-500:])
    return r.returncode == 0


def seqs(path, keep=None):
    """Counter of SEQ over the output and its rotated files; the events whose
    SEQ is in keep."""
    seen = {}
    evs = []
    for p in agentlib.rotated(path, 20):
        with open(p, "rb") as f:
            for raw in f:
                e = json.loads(raw)
                s = int(e["journald"]["SEQ"])
                seen[s] = seen.get(s, 0) + 1
                if keep is None or s in keep:
                    evs.append(e)
    return seen, evs


def wait_out(agent, n, timeout=60):
    return agent.wait_metric("logship_output_events_total", n, timeout=timeout, output="file")


N1 = 100000
testlib.ok(write_journal("one", 1, N1), "systemd-journal-remote wrote %d entries to one.journal" % N1)
OUT = os.path.join(d, "out.ndjson")
conf = """data_dir: {dir}/data
http: { listen: 127.0.0.1:{port} }
buffer: { batch_timeout: 5ms, fsync_interval: 5ms, batch_max_bytes: 64KiB }
inputs:
  - type: journald
    name: jd
    path: %s
    read_from_head: true
outputs:
  - type: file
    path: %s
""" % (J, OUT)
a = agentlib.Agent(d, conf, "jd")
testlib.ok(a.start(), "agent starts with a journald input on the directory")
# SIGKILL at a random moment while it reads, once a first checkpoint exists
# (it reads about half a million entries a second: catch it early)
def ckpt_mid():
    st = a.status()
    if not st:
        return None
    i = st["inputs"][0]
    return i.get("checkpoint") and (a.metric("logship_input_events_total", input="jd") or 0) >= random_at


random_at = random.randint(1, 30000)
testlib.wait_for(ckpt_mid, timeout=60, interval=0.002)
a.kill9()
seen, _ = seqs(OUT)
testlib.diag("SIGKILL with %d entries in the file output" % len(seen))
testlib.ok(a.start(), "agent restarts after SIGKILL")
wait_out(a, 1, timeout=30)
testlib.wait_for(lambda: a.status() and ";i=%x;" % N1 in (a.status()["inputs"][0].get("checkpoint") or ""),
                 timeout=120, interval=0.2)
time.sleep(0.5)
seen, evs = seqs(OUT, keep={100})
dups = sum(v - 1 for v in seen.values())
testlib.ok(set(seen) == set(range(1, N1 + 1)),
           "after SIGKILL and restart every one of %d entries is there (%d distinct)" % (N1, len(seen)))
testlib.ok(dups < N1 / 2, "re-read after the crash: %d duplicates (what lay between checkpoint and kill)" % dups)
log = a.log_text()
testlib.ok("resuming after the checkpointed cursor" in log and dups < N1,
           "the restart resumed at the checkpointed cursor (not from the head)")

# fields of one event
e = next((x for x in evs if x["journald"]["SEQ"] == "100"), None)
ok = e is not None
if ok:
    j = e["journald"]
    ok = (e["message"] == "entry 100 from nginx.service" and e["@timestamp"] == "2026-11-24T12:00:00.100Z"
          and e["host"]["name"] == "jhost" and e["log"]["syslog"]["priority"] == 4
          and e["log"]["syslog"]["severity"] == {"code": 4, "name": "Warning"}
          and e["log"]["syslog"]["facility"] == {"code": 3, "name": "daemon"}
          and j["_SYSTEMD_UNIT"] == "nginx.service" and j["_PID"] == "102" and j["_COMM"] == "testd"
          and j["SYSLOG_IDENTIFIER"] == "test" and j["_BOOT_ID"] == BOOT
          and "MESSAGE" not in j and "PRIORITY" not in j and "_HOSTNAME" not in j)
testlib.ok(ok, "fields: message, @timestamp (realtime), host.name, log.syslog.priority/severity/facility, journald.*")
if not ok:
    testlib.diag(json.dumps(e))
import base64  # noqa: E402
testlib.ok(e is not None and base64.b64decode(e["journald"]["BLOB"]) == b"bin\x00\x01\xff100"
           and e["journald"]["binary_fields"] == ["BLOB"], "a binary field is base64, named in binary_fields")
testlib.ok(e is not None and e["journald"]["TAG"] == ["one", "two"], "a repeated field is an array, in order")
st = testlib.wait_for(lambda: (lambda s: s if s and (s["inputs"][0].get("checkpoint") or "").startswith("s=")
                               and ";i=%x;" % N1 in s["inputs"][0]["checkpoint"] else None)(a.status()), timeout=10)
testlib.ok(st, "the checkpoint is the journal cursor of the last entry (seqnum %d)" % N1)

# entries appended later: a new file in the same directory
N2 = 5000
cpu0 = open("/proc/%d/stat" % a.p.pid).read().split()[13:15]
time.sleep(1.0)
cpu1 = open("/proc/%d/stat" % a.p.pid).read().split()[13:15]
idle_ticks = sum(int(x) for x in cpu1) - sum(int(x) for x in cpu0)
testlib.ok(idle_ticks <= 5, "idle: the agent used %d clock ticks in 1 s (no busy loop)" % idle_ticks)
base = a.metric("logship_output_events_total", output="file")
testlib.ok(write_journal("two", N1 + 1, N2), "journal-remote wrote %d more entries to two.journal" % N2)
wait_out(a, base + N2, timeout=30)
time.sleep(0.3)
seen, _ = seqs(OUT)
testlib.ok(set(range(N1 + 1, N1 + N2 + 1)) <= set(seen), "entries in a new journal file are picked up (%d)"
           % sum(1 for s in seen if s > N1))
# more entries appended to an existing file
src = os.path.join(d, "three.export")
export(src, N1 + N2 + 1, 1000)
r = testlib.run([REMOTE, "--output=" + os.path.join(J, "two.journal"), src], timeout=60)
wait_out(a, base + N2 + 1000, timeout=30)
time.sleep(0.3)
seen, _ = seqs(OUT)
testlib.ok(r.returncode == 0 and set(range(N1 + N2 + 1, N1 + N2 + 1001)) <= set(seen),
           "entries appended to an existing journal file are picked up")

# vacuum: the first files go away while running (journal-remote rotated
# one.journal into archived one@...journal files); new entries still come
import glob  # noqa: E402
for p in glob.glob(os.path.join(J, "one*.journal")):
    os.unlink(p)
time.sleep(0.5)
testlib.ok(write_journal("four", N1 + N2 + 1001, 500), "journal-remote wrote four.journal after one.journal was deleted")
wait_out(a, base + N2 + 1500, timeout=30)
time.sleep(0.3)
seen, _ = seqs(OUT)
testlib.ok(set(range(N1 + N2 + 1001, N1 + N2 + 1501)) <= set(seen) and a.alive(),
           "vacuumed file survived: the entries written after it are read")
n_before = sum(seen.values())
testlib.ok(a.stop() == 0, "SIGTERM: exit 0")
testlib.ok(a.start(), "restart on the same checkpoint after the vacuum")
time.sleep(2)
seen, _ = seqs(OUT)
testlib.ok(sum(seen.values()) == n_before, "a clean restart re-reads nothing (%d events before and after)"
           % n_before)
a.stop()

# matches
OUT2 = os.path.join(d, "match.ndjson")
conf2 = """data_dir: {dir}/data2
http: { listen: 127.0.0.1:{port} }
buffer: { batch_timeout: 20ms }
inputs:
  - type: journald
    path: %s
    read_from_head: true
    matches: [_SYSTEMD_UNIT=nginx.service, _SYSTEMD_UNIT=cron.service, "+", SEQ=7]
outputs:
  - type: file
    path: %s
""" % (J, OUT2)
b = agentlib.Agent(d, conf2, "match")
testlib.ok(b.start(), "agent starts with matches")
want = [s for s in range(N1 + 1, N1 + N2 + 1501) if s % 4 in (0, 2)]
b.wait_metric("logship_output_events_total", len(want), timeout=30, output="file")
time.sleep(0.5)
seen, evs = seqs(OUT2)
units = {e["journald"]["_SYSTEMD_UNIT"] for e in evs}
testlib.ok(sorted(seen) == want and units == {"nginx.service", "cron.service"},
           "matches: only nginx.service and cron.service entries (%d, units %s)" % (len(seen), sorted(units)))
b.stop()
bad = agentlib.write(os.path.join(d, "bad.yaml"), "data_dir: %s/x\ninputs:\n  - type: journald\n"
                     "    matches: [nginx]\n" % d)
r = testlib.run([testlib.bin_path("logship"), "--check", "-c", bad])
testlib.ok(r.returncode == 1 and b"expected FIELD=value" in r.stderr and (":4:15:" in r.stderr.decode()),
           "--check refuses a match without FIELD= at its position")

# no such directory: refused with a clear error, agent does not crash
conf3 = conf2.replace(J, os.path.join(d, "nope")).replace("data2", "data3")
c = agentlib.Agent(d, conf3, "nope")
c.start(wait=False)
time.sleep(2)
testlib.ok("cannot open the journal" in c.log_text() or not c.alive(), "a missing path is reported")
testlib.stop(c.p)
testlib.finish()
