"""Committed offsets with real clients: durable, exact, and Kafka's rules.

  - a librdkafka group consumer that commits, stops and restarts resumes
    exactly after its committed offsets: across a clean broker restart and
    across a SIGKILLed one, three runs read every message once, each
    partition's offsets contiguous from 0 (no gap, no repeat);
  - kcat -G (balanced consumer, commits on close) picks up where it left;
  - offsets of a deleted topic are forgotten (also after a restart): the
    recreated topic is read from where auto.offset.reset says, not from the
    old offset; reset-offsets names a topic that does not exist;
  - a committed offset below the retention start: auto.offset.reset decides
    (earliest: the new log start; latest: only new messages).
"""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from testlib import *  # noqa: F401,F403

RDK = None
PROPS = ["-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=300"]


class Broker:
    def __init__(self, d, extra=()):
        self.d = d
        self.data = os.path.join(d, "data")
        self.port = free_port()
        self.addr = "127.0.0.1:%d" % self.port
        self.log = os.path.join(d, "broker.log")
        self.extra = list(extra)
        self.p = None
        self.start()

    def start(self):
        self.p = start([bin_path("logship-broker"), "--listen", self.addr, "--data-dir", self.data] + self.extra,
                       log=self.log)
        up = wait_port(self.port, proc=self.p)
        if not up:
            diag(open(self.log).read()[-2000:])
        return up

    def ctl(self, *args, timeout=30):
        return run([bin_path("logshipctl"), "-b", self.addr] + list(args), timeout=timeout)


def group_consume(broker, topic, group, count, extra=(), timeout=40):
    """Runs rdk_client group-consume to completion; returns (rc, [(partition, offset, value)], lines)."""
    r = run([RDK, "group-consume", broker, topic, group, str(count), "--timeout", str(timeout)] + PROPS
            + list(extra), timeout=timeout + 30)
    lines = r.stdout.decode(errors="replace").splitlines()
    msgs = []
    for line in lines:
        if line.startswith("msg "):
            _, p, o, v = line.split(" ", 3)
            msgs.append((int(p), int(o), v))
    return r.returncode, msgs, lines


def produce(broker, topic, n, start_at, prefix="m-"):
    r = run([RDK, "produce", broker, topic, str(n), "--start", str(start_at), "--prefix", prefix, "--timeout", "30",
             "-X", "acks=all", "-X", "sticky.partitioning.linger.ms=0"], timeout=60)
    return r.returncode == 0


def committed(b, group):
    """{(topic, partition): committed} from logshipctl --json groups describe."""
    r = b.ctl("--json", "groups", "describe", group)
    try:
        doc = json.loads(r.stdout.decode())
    except ValueError:
        diag("describe %s: rc %d out %r err %r" % (group, r.returncode, r.stdout[:300], r.stderr[:300]))
        return None
    return {(o["topic"], o["partition"]): o["committed"] for o in doc["offsets"]}


def test_resume(b):
    ok(b.ctl("topics", "create", "resume", "--partitions", "4").returncode == 0, "topic resume (4 partitions)")
    ok(produce(b.addr, "resume", 200, 1), "200 messages produced")
    runs = []
    rc, m1, _ = group_consume(b.addr, "resume", "g-resume", 80)
    ok(rc == 0 and len(m1) == 80, "run 1 reads 80 messages, commits each, and closes (%d)" % len(m1))
    runs.append(m1)
    last = {}
    for p, o, _ in m1:
        last[p] = max(last.get(p, -1), o)
    c = committed(b, "g-resume")
    ok(c == {("resume", p): o + 1 for p, o in last.items()},
       "committed offsets are each partition's last read offset + 1: %s" % c)

    ok(stop(b.p) == 0, "broker stopped (SIGTERM)")
    ok(b.start(), "broker restarted")
    c2 = committed(b, "g-resume")
    ok(c2 == c, "the committed offsets survive the restart")
    rc, m2, _ = group_consume(b.addr, "resume", "g-resume", 60)
    ok(rc == 0 and len(m2) == 60, "run 2 reads 60 more")
    runs.append(m2)

    kill9(b.p)
    ok(b.p.returncode == -signal.SIGKILL, "broker SIGKILLed after run 2 committed")
    ok(b.start(), "broker restarted after SIGKILL")
    rc, m3, _ = group_consume(b.addr, "resume", "g-resume", 60)
    ok(rc == 0 and len(m3) == 60, "run 3 reads the last 60")
    runs.append(m3)

    allv = [v for r in runs for _, _, v in r]
    ok(sorted(allv) == sorted("m-%d" % i for i in range(1, 201)),
       "three runs read each of the 200 messages exactly once (%d read, %d distinct)" % (len(allv), len(set(allv))))
    per = {}
    for r in runs:
        for p, o, _ in r:
            per.setdefault(p, []).append(o)
    contiguous = all(offs == list(range(len(offs))) for offs in per.values())
    ok(contiguous, "per partition the runs' offsets are contiguous from 0: each run resumed exactly after the "
       "commit (%s)" % {p: (offs[0], offs[-1], len(offs)) for p, offs in sorted(per.items())})
    r = b.ctl("--json", "groups", "describe", "g-resume")
    doc = json.loads(r.stdout.decode()) if r.returncode == 0 else {"offsets": []}
    ok(len(doc["offsets"]) == 4 and all(o["lag"] == 0 for o in doc["offsets"]),
       "logshipctl shows lag 0 on all 4 partitions")


def test_kcat(b):
    ok(b.ctl("topics", "create", "kc", "--partitions", "2").returncode == 0, "topic kc (2 partitions)")
    r = run(["kcat", "-q", "-P", "-b", b.addr, "-t", "kc", "-X", "acks=all"],
            input="".join("k-%d\n" % i for i in range(1, 51)).encode(), timeout=60)
    ok(r.returncode == 0, "kcat -P: 50 messages")

    def kcat_g():
        return run(["kcat", "-q", "-b", b.addr, "-G", "kgrp", "-e", "-f", "%s\\n", "-X", "auto.offset.reset=earliest",
                    "-X", "session.timeout.ms=6000", "kc"], timeout=60)
    r = kcat_g()
    got = r.stdout.decode().split()
    ok(r.returncode == 0 and sorted(got) == sorted("k-%d" % i for i in range(1, 51)),
       "kcat -G reads all 50 and exits at the end (%d read, rc %d)" % (len(got), r.returncode))
    c = committed(b, "kgrp")
    ok(c is not None and sum(c.values()) == 50, "kcat -G committed both partitions' ends on close: %s" % c)
    r = run(["kcat", "-q", "-P", "-b", b.addr, "-t", "kc", "-X", "acks=all"],
            input="".join("k-%d\n" % i for i in range(51, 81)).encode(), timeout=60)
    r = kcat_g()
    got = r.stdout.decode().split()
    ok(r.returncode == 0 and sorted(got) == sorted("k-%d" % i for i in range(51, 81)),
       "a second kcat -G in the same group reads only the 30 new messages (%d read)" % len(got))


def test_deleted_topic(b):
    ok(b.ctl("topics", "create", "gone", "--partitions", "1").returncode == 0, "topic gone (1 partition)")
    ok(produce(b.addr, "gone", 50, 1, "old-"), "50 messages into gone")
    rc, m, _ = group_consume(b.addr, "gone", "g-gone", 30)
    ok(rc == 0 and len(m) == 30, "group g-gone reads 30 and commits")
    ok(committed(b, "g-gone") == {("gone", 0): 30}, "g-gone committed offset 30")
    ok(b.ctl("topics", "delete", "gone").returncode == 0, "topic gone deleted")
    c = committed(b, "g-gone")
    ok(c == {}, "the deleted topic's committed offsets are gone: %s" % c)
    ok(stop(b.p) == 0 and b.start(), "broker restarted")
    c = committed(b, "g-gone")
    ok(c == {}, "still gone after the restart (the tombstones replay): %s" % c)
    ok(b.ctl("topics", "create", "gone", "--partitions", "1").returncode == 0, "topic gone recreated")
    ok(produce(b.addr, "gone", 40, 1, "new-"), "40 messages into the new gone")
    rc, m, _ = group_consume(b.addr, "gone", "g-gone", 40)
    ok(rc == 0 and [x[2] for x in m] == ["new-%d" % i for i in range(1, 41)] and m[0][1] == 0,
       "g-gone reads the new topic from offset 0 (auto.offset.reset=earliest), not from the old 30 (%d read)"
       % len(m))

    # A commit to a partition that does not exist is refused, as Kafka does.
    r = b.ctl("groups", "reset-offsets", "g-gone", "--topic", "nosuch", "--to-earliest")
    ok(r.returncode != 0 and b"nosuch" in r.stderr, "reset-offsets on a topic that does not exist fails: %s"
       % r.stderr.decode().strip())


def test_retention(d):
    cfg = os.path.join(d, "broker.yaml")
    with open(cfg, "w") as f:
        f.write("segment_bytes: 4096\nretention_bytes: 16384\nretention_check_interval: 200ms\n"
                "num_partitions: 1\n")
    b = Broker(d, ["-c", cfg])
    ok(b.ctl("topics", "create", "short", "--partitions", "1").returncode == 0, "topic short (retention 16 KiB)")
    ok(produce(b.addr, "short", 20, 1, "early-"), "20 early messages")
    rc, m, _ = group_consume(b.addr, "short", "g-early", 5)
    ok(rc == 0 and len(m) == 5, "group g-early reads 5 and commits offset 5")
    rc, m, _ = group_consume(b.addr, "short", "g-late", 5)
    ok(rc == 0 and len(m) == 5, "group g-late reads 5 and commits offset 5")
    for i in range(10):
        produce(b.addr, "short", 300, 100 + i * 300, "filler-%d-" % i + "x" * 60)

    def start_offset():
        r = b.ctl("--json", "topics", "describe", "short")
        try:
            return json.loads(r.stdout.decode())[0]["partitions"][0]["start_offset"]
        except (ValueError, KeyError, IndexError):
            return -1
    moved = wait_for(lambda: start_offset() > 5, timeout=20, interval=0.3)
    log_start = start_offset()
    ok(moved, "retention moved the log start past the committed offset 5 (start %d)" % log_start)
    ok(committed(b, "g-early") == {("short", 0): 5}, "the committed offset stays 5 (Kafka keeps it too)")
    rc, m, _ = group_consume(b.addr, "short", "g-early", 1, ["-X", "auto.offset.reset=earliest"])
    ok(rc == 0 and m and m[0][1] >= log_start, "auto.offset.reset=earliest: resumes at the retention start "
       "(offset %s, start was %d)" % (m[0][1] if m else None, log_start))
    # latest: the member starts at the end, so it sees only what comes after
    # it joined; keep producing until it reads something.
    p = start([RDK, "group-consume", b.addr, "short", "g-late", "1", "--timeout", "40", "-X",
               "auto.offset.reset=latest"] + PROPS, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    i, deadline = 1, time.time() + 45
    while p.poll() is None and time.time() < deadline:
        produce(b.addr, "short", 1, i, "after-reset-")
        i += 1
        time.sleep(0.3)
    out = p.communicate(timeout=60)[0].decode().splitlines()
    first = [line.split(" ", 3)[3] for line in out if line.startswith("msg ")]
    ok(p.returncode == 0 and first and first[0].startswith("after-reset-"),
       "auto.offset.reset=latest: skips to the end, reads only what is new (%s)" % (first[:1]))
    ok(stop(b.p) == 0, "retention broker stops cleanly")


def main():
    global RDK
    RDK = bin_path("tests/tools/rdk_client")
    d = tmpdir()
    b = Broker(d)
    test_resume(b)
    test_kcat(b)
    test_deleted_topic(b)
    ok(stop(b.p) == 0, "broker stops cleanly")
    test_retention(tmpdir())
    finish()


if __name__ == "__main__":
    main()
