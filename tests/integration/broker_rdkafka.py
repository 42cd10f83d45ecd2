"""logship-broker with librdkafka from C (tests/tools/rdk_client.c).

Checks: a producer with delivery reports (acks=all) gets an offset for every
message; a consumer assign()ed at explicit offsets reads from the start, from
the middle (replay) and at the end; after size retention removed the head of
the partition, fetching below the start answers OFFSET_OUT_OF_RANGE (the
client's auto.offset.reset decides: with "error" it reports it, with
"earliest" it resumes at the new start).
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from testlib import *  # noqa: F401,F403

RDK = bin_path("tests/tools/rdk_client")


def lines(r, kind):
    return [l.split(" ", 2)[1:] for l in r.stdout.decode().splitlines() if l.startswith(kind + " ")]


def main():
    d = tmpdir()
    port = free_port()
    broker = "127.0.0.1:%d" % port
    conf = os.path.join(d, "broker.yaml")
    with open(conf, "w") as f:
        f.write("listen: 127.0.0.1:%d\ndata_dir: %s/data\nsegment_bytes: 64KiB\n"
                "retention_check_interval: 200ms\nfsync: interval\n" % (port, d))
    b = start([bin_path("logship-broker"), "-c", conf], log=os.path.join(d, "broker.log"))
    ok(wait_port(port, proc=b), "broker starts from a config file")

    r = run([RDK, "produce", broker, "events", "1000", "-X", "acks=all", "--prefix", "event-"], timeout=120)
    acks = [l.split() for l in r.stdout.decode().splitlines() if l.startswith("ack ")]
    ok(r.returncode == 0 and len(acks) == 1000, "1000 delivery reports with acks=all (%d)" % len(acks))
    offs = sorted(int(a[2]) for a in acks)
    ok(offs == list(range(1000)), "offsets 0..999 assigned, each once")
    by_off = {int(a[2]): int(a[3]) for a in acks}

    r = run([RDK, "consume", broker, "events", "0", "beginning", "1000"], timeout=60)
    msgs = lines(r, "msg")
    ok(len(msgs) == 1000 and all(m[1] == "event-%d" % by_off[int(m[0])] for m in msgs),
       "consumer assigned at the beginning reads all 1000, each value at its offset")

    r = run([RDK, "consume", broker, "events", "0", "500", "10"], timeout=60)
    msgs = lines(r, "msg")
    ok([int(m[0]) for m in msgs] == list(range(500, 510)), "replay from the middle: offsets 500..509")

    r = run([RDK, "consume", broker, "events", "0", "end", "1", "--timeout", "3"], timeout=60)
    ok(not lines(r, "msg") and lines(r, "eof"), "assigned at the end: nothing, then end of partition")

    # Size retention: 64 KiB segments, the partition kept under 256 KiB.
    stop(b)
    with open(conf, "a") as f:
        f.write("retention_bytes: 256KiB\n")
    b = start([bin_path("logship-broker"), "-c", conf], log=os.path.join(d, "broker.log"))
    ok(wait_port(port, proc=b), "broker restarts with retention_bytes")
    r = run([RDK, "produce", broker, "events", "20000", "-X", "acks=1", "--prefix", "x" * 100], timeout=120)
    ok(r.returncode == 0, "20000 more messages produced")

    def head_gone():
        r = run([RDK, "consume", broker, "events", "0", "0", "1", "-X", "auto.offset.reset=error",
                 "--timeout", "5"], timeout=60)
        return r if any("OFFSET" in " ".join(e) or "RESET" in " ".join(e) for e in lines(r, "error")) else None

    r = wait_for(head_gone, timeout=20, interval=0.5)
    ok(r is not None, "after retention, fetching offset 0 gives OFFSET_OUT_OF_RANGE (auto.offset.reset=error)")
    r = run([RDK, "consume", broker, "events", "0", "0", "5", "-X", "auto.offset.reset=earliest"], timeout=60)
    msgs = lines(r, "msg")
    ok(len(msgs) == 5 and int(msgs[0][0]) > 0,
       "with auto.offset.reset=earliest the consumer resumes at the new start offset (%s)"
       % (msgs[0][0] if msgs else "none"))
    log = open(os.path.join(d, "broker.log")).read()
    ok("retention:" in log, "retention logs what it deleted")
    ok(stop(b) == 0, "SIGTERM: exit 0")
    finish()


main()
