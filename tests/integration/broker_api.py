"""logship-broker's Kafka APIs, the corners a plain produce/consume misses.

Checks: acks=0 produce (kcat) lands; ListOffsets by timestamp (kcat -o s@TS)
starts at the first message at or after TS; a Fetch response respects the
request's max_bytes and partition_max_bytes in whole batches, and still
returns one batch larger than max_bytes (KIP-74); Metadata for an unknown
topic with auto_create_topics: false answers UNKNOWN_TOPIC_OR_PARTITION and
creates nothing; DeleteTopics removes the topic and its directories;
SIGTERM with parked long-poll fetches and acks=all produces in flight exits 0
within 5 s and answers the parked fetches first.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from testlib import *  # noqa: F401,F403
import kafka_wire as kw  # noqa: E402

RDK = bin_path("tests/tools/rdk_client")


def start_broker(d, port, extra=""):
    conf = os.path.join(d, "broker.yaml")
    with open(conf, "w") as f:
        f.write("listen: 127.0.0.1:%d\ndata_dir: %s/data\n%s" % (port, d, extra))
    b = start([bin_path("logship-broker"), "-c", conf], log=os.path.join(d, "broker.log"))
    ok(wait_port(port, proc=b), "broker starts (%s)" % (extra.strip().replace("\n", ", ") or "defaults"))
    return b


def kcat(args, input=None, timeout=60):
    return run(["kcat", "-q"] + args, input=input, timeout=timeout)


def lines(n, prefix):
    return "".join("%s-%d\n" % (prefix, i) for i in range(n)).encode()


def check_acks0(broker):
    r = kcat(["-P", "-b", broker, "-t", "acks0", "-X", "acks=0"], input=lines(1000, "zero"))
    ok(r.returncode == 0, "kcat -P -X acks=0: exit 0")
    want = lines(1000, "zero")

    def all_there():
        return kcat(["-C", "-b", broker, "-t", "acks0", "-o", "beginning", "-e"]).stdout == want

    ok(wait_for(all_there, timeout=10, interval=0.2), "the 1000 acks=0 messages are in the log, in order")


def check_offsets_by_time(broker):
    kcat(["-P", "-b", broker, "-t", "bytime", "-X", "acks=1"], input=lines(100, "early"))
    time.sleep(1.2)
    ts = int(time.time() * 1000)
    time.sleep(0.1)
    kcat(["-P", "-b", broker, "-t", "bytime", "-X", "acks=1"], input=lines(50, "late"))
    r = kcat(["-C", "-b", broker, "-t", "bytime", "-o", "s@%d" % ts, "-e", "-f", "%o %s\\n"])
    out = r.stdout.decode().splitlines()
    ok(len(out) == 50 and out[0] == "100 late-0" and out[-1] == "149 late-49",
       "kcat -o s@TS (ListOffsets by timestamp) starts at offset 100, the first message after TS (%s)"
       % (out[0] if out else "nothing"))
    r = kcat(["-C", "-b", broker, "-t", "bytime", "-o", "s@%d" % (ts + 3600 * 1000), "-e"])
    ok(r.returncode == 0 and r.stdout == b"", "a timestamp after every message: nothing to read (the end)")


def check_fetch_max_bytes(broker, port):
    # Many small batches: one message per batch.
    r = kcat(["-P", "-b", broker, "-t", "sizes", "-X", "acks=1", "-X", "batch.num.messages=1",
              "-X", "linger.ms=0"], input="".join("%04d%s\n" % (i, "x" * 200) for i in range(300)).encode())
    ok(r.returncode == 0, "300 one-message batches produced")
    s = kw.connect(port)
    cases = [(4096, 1 << 20, "max_bytes 4096"), (1 << 20, 3000, "partition_max_bytes 3000"),
             (10, 1 << 20, "max_bytes 10 (smaller than one batch)")]
    for i, (mb, pmb, what) in enumerate(cases):
        rd = kw.call(s, 1, 4, 10 + i, kw.fetch_v4("sizes", 0, 0, mb, pmb))
        res = kw.parse_fetch_v4(rd) if rd else []
        recs = res[0][4] if res else b""
        bs = kw.batches(recs)
        limit = min(mb, pmb)
        if limit < 300:
            good = len(bs) == 1 and len(recs) == bs[0][1]
        else:
            # filled up to the last whole batch that fits
            good = 0 < len(recs) <= limit and sum(n for _, n in bs) == len(recs) and \
                len(recs) + bs[-1][1] > limit
        ok(good and [b for b, _ in bs] == list(range(len(bs))),
           "Fetch with %s: %d bytes in %d whole batches from offset 0" % (what, len(recs), len(bs)))
    s.close()


def check_unknown_topic(d):
    port = free_port()
    os.makedirs(os.path.join(d, "noauto"))
    b = start_broker(os.path.join(d, "noauto"), port, "auto_create_topics: false\n")
    s = kw.connect(port)
    rd = kw.call(s, 3, 4, 1, kw.metadata_v4(["nosuch"], allow_create=True))
    md = kw.parse_metadata_v4(rd) if rd else {}
    ok(md.get("nosuch") == (3, 0), "Metadata for an unknown topic, auto_create_topics false: "
       "UNKNOWN_TOPIC_OR_PARTITION (3) (%s)" % (md.get("nosuch"),))
    s.close()
    r = kcat(["-P", "-b", "127.0.0.1:%d" % port, "-t", "nosuch", "-X", "message.timeout.ms=2000"],
             input=b"x\n", timeout=30)
    ok(r.returncode != 0, "kcat -P to it fails (the topic is not created)")
    ok(not any(n.startswith("nosuch") for n in os.listdir(os.path.join(d, "noauto", "data"))),
       "no directory was created for it")
    ok(stop(b) == 0, "that broker stops")


def check_delete_topics(broker, port, d):
    kcat(["-P", "-b", broker, "-t", "doomed", "-X", "acks=1"], input=lines(10, "doomed"))
    data = os.path.join(d, "data")
    ok(any(n.startswith("doomed-") for n in os.listdir(data)), "topic doomed has its directory")
    s = kw.connect(port)
    rd = kw.call(s, 20, 1, 1, kw.delete_topics_v1(["doomed", "never-was"]))
    res = kw.parse_delete_topics_v1(rd) if rd else {}
    ok(res == {"doomed": 0, "never-was": 3}, "DeleteTopics: doomed deleted, never-was UNKNOWN_TOPIC (%s)" % res)
    rd = kw.call(s, 3, 4, 2, kw.metadata_v4(None, allow_create=False))
    md = kw.parse_metadata_v4(rd) if rd else {"?": 0}
    ok("doomed" not in md and "acks0" in md, "Metadata no longer lists it (others stay)")
    s.close()
    ok(not any(n.startswith("doomed-") for n in os.listdir(data)), "its partition directories are gone")
    r = kcat(["-C", "-b", broker, "-t", "doomed", "-o", "beginning", "-e"], timeout=30)
    ok(b"doomed-" not in r.stdout, "its messages are gone (auto-create makes a new empty topic)")


def check_sigterm(d):
    port = free_port()
    os.makedirs(os.path.join(d, "term"))
    b = start_broker(os.path.join(d, "term"), port, "fsync: interval\nfsync_interval: 10s\n")
    broker = "127.0.0.1:%d" % port
    kcat(["-P", "-b", broker, "-t", "parked", "-X", "acks=1"], input=b"one\n")
    socks = []
    for i in range(5):
        s = kw.connect(port, timeout=15)
        s.sendall(kw.frame(1, 4, 500 + i, kw.fetch_v4("parked", 0, 1, 1 << 20, 1 << 20, max_wait=30000)))
        socks.append(s)
    prod = start([RDK, "produce", broker, "inflight", "10000000", "-X", "acks=all", "--rate", "20000",
                  "--timeout", "60"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)
    t0 = time.time()
    rc = stop(b, timeout=10)
    dt = time.time() - t0
    ok(rc == 0 and dt < 5, "SIGTERM with 5 parked fetches and an acks=all producer: exit %s in %.2f s" % (rc, dt))
    answered = 0
    for i, s in enumerate(socks):
        r = kw.recv_frame(s)
        answered += r is not None and r[:4] == (500 + i).to_bytes(4, "big")
        s.close()
    ok(answered == 5, "the parked fetches were answered before the exit (%d of 5)" % answered)
    log = open(os.path.join(d, "term", "broker.log")).read()
    ok("stopping" in log and "stopped:" in log, "the broker logged its stop")
    kill9(prod)


def main():
    d = tmpdir()
    port = free_port()
    broker = "127.0.0.1:%d" % port
    b = start_broker(d, port)
    check_acks0(broker)
    check_offsets_by_time(broker)
    check_fetch_max_bytes(broker, port)
    check_delete_topics(broker, port, d)
    ok(stop(b) == 0, "SIGTERM: exit 0")
    check_unknown_topic(d)
    check_sigterm(d)
    finish()


main()
