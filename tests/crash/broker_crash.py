#!/usr/bin/env python3
"""Crash test for logship-broker: acks=all means the record survives.

One librdkafka producer (tests/tools/rdk_client, acks=all, non-idempotent,
retrying for as long as it takes) sends numbered messages at a steady rate to
a 2-partition topic for the whole test and prints "ack <partition> <offset>
<n>" per delivery report. Meanwhile the broker is SIGKILLed at random moments
and restarted on the same port and data directory, BROKER_CRASH_ROUNDS times
(default 20). After each restart the producer is paused (SIGSTOP) while a
consumer reads every partition from the beginning with check.crcs=true, then
resumed; the test checks:
  - every message whose delivery report said success is there, and at the
    very offset its report gave (so recovery never reassigns offsets);
  - offsets are contiguous from 0 in every partition (no hole, no overlap);
  - no batch with a bad CRC is served (librdkafka would report it);
  - the broker restarted cleanly each time.
At the end the producer is stopped (SIGTERM: it stops sending new numbers
and waits for those in flight), and every number it sent is in the log:
loss = 0. Duplicates (a retry of a request whose answer died with the
broker) are allowed, counted and printed.
"""
import os
import random
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from testlib import *  # noqa: F401,F403

RDK = bin_path("tests/tools/rdk_client")
ROUNDS = int(os.environ.get("BROKER_CRASH_ROUNDS", "20"))
RATE = 3000          # messages per second: bounds what each round re-reads
PARTS = 2
PREFIX = "m"


class Producer:
    """The rdk_client producer and the delivery reports it printed so far."""

    def __init__(self, broker, log):
        self.acks = {}       # n -> (partition, offset) of its last successful report
        self.fails = 0
        self.produced = None
        self.lock = threading.Lock()
        props = ["acks=all", "linger.ms=5", "message.timeout.ms=300000", "retry.backoff.ms=50",
                 "reconnect.backoff.ms=20", "reconnect.backoff.max.ms=200", "socket.timeout.ms=10000",
                 "enable.idempotence=false"]
        argv = [RDK, "produce", broker, "crash", "100000000", "--prefix", PREFIX, "--rate", str(RATE),
                "--timeout", "800"]
        for p in props:
            argv += ["-X", p]
        self.p = start(argv, stdout=subprocess.PIPE, stderr=open(log, "ab"))
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stdout:
            f = line.decode().split()
            with self.lock:
                if f[0] == "ack":
                    self.acks[int(f[3])] = (int(f[1]), int(f[2]))
                elif f[0] == "fail":
                    self.fails += 1
                elif f[0] == "produced":
                    self.produced = int(f[1])

    def snapshot(self):
        with self.lock:
            return dict(self.acks)

    def finish(self, timeout=120):
        os.kill(self.p.pid, signal.SIGTERM)
        try:
            self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill9(self.p)
        self.t.join(timeout=10)
        return self.p.returncode


def start_broker(conf, logf, port):
    b = start([bin_path("logship-broker"), "-c", conf], log=logf)
    up = wait_port(port, proc=b, timeout=15)
    return b, up


def read_partition(broker, p):
    """(offset, n) pairs of partition p from the beginning to its end, and any error lines."""
    r = run([RDK, "consume", broker, "crash", str(p), "beginning", "1000000000", "--timeout", "60"], timeout=90)
    msgs, errors = [], []
    for line in r.stdout.decode().splitlines():
        if line.startswith("msg "):
            _, off, val = line.split(" ", 2)
            msgs.append((int(off), int(val[len(PREFIX):])))
        elif line.startswith("error "):
            errors.append(line)
    return msgs, errors


def verify(broker, acks, what):
    """Reads the whole topic; checks acked messages, contiguity, CRCs. Returns n -> copies."""
    copies = {}
    at = {}
    contiguous = True
    errors = []
    for p in range(PARTS):
        msgs, errs = read_partition(broker, p)
        errors += errs
        if [o for o, _ in msgs] != list(range(len(msgs))):
            contiguous = False
        for o, n in msgs:
            at[(p, o)] = n
            copies[n] = copies.get(n, 0) + 1
    missing = [n for n in acks if n not in copies]
    misplaced = [n for n, po in acks.items() if n in copies and at.get(po) != n]
    ok(not missing and not misplaced,
       "%s: all %d acknowledged messages are there (missing %d, not at their acked offset %d)"
       % (what, len(acks), len(missing), len(misplaced)))
    if missing or misplaced:
        diag("missing %s misplaced %s" % (sorted(missing)[:10], sorted(misplaced)[:10]))
    ok(contiguous and not errors, "%s: offsets contiguous from 0, no CRC or other error served%s"
       % (what, (" (" + "; ".join(errors[:3]) + ")") if errors else ""))
    return copies


def main():
    d = tmpdir("logship-broker-crash-")
    port = free_port()
    broker = "127.0.0.1:%d" % port
    conf = os.path.join(d, "broker.yaml")
    logf = os.path.join(d, "broker.log")
    with open(conf, "w") as f:
        f.write("listen: 127.0.0.1:%d\ndata_dir: %s/data\nnum_partitions: %d\nsegment_bytes: 1MiB\n"
                "fsync: interval\n" % (port, d, PARTS))
    seed = int(os.environ.get("BROKER_CRASH_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    diag("seed %d (BROKER_CRASH_SEED=%d repeats the kill timings)" % (seed, seed))

    b, up = start_broker(conf, logf, port)
    ok(up, "broker starts")
    prod = Producer(broker, os.path.join(d, "producer.log"))
    t_start = time.time()
    restarts_ok = 0
    for i in range(ROUNDS):
        time.sleep(rng.uniform(0.2, 1.5))
        kill9(b)
        b, up = start_broker(conf, logf, port)
        restarts_ok += up
        if not up:
            ok(False, "round %d: broker restarts on the same port and data dir" % i)
            break
        # Paused while the log is read, so that the reader reaches the end
        # (it would chase a live producer) and each round reads a bounded log.
        os.kill(prod.p.pid, signal.SIGSTOP)
        verify(broker, prod.snapshot(), "round %d" % i)
        os.kill(prod.p.pid, signal.SIGCONT)
    ok(restarts_ok == ROUNDS, "%d SIGKILLs, %d clean restarts" % (ROUNDS, restarts_ok))

    time.sleep(1)
    rc = prod.finish()
    ok(prod.produced is not None and rc == 0,
       "the producer stops on SIGTERM with every message delivered (exit %s, %s sent, %d acked, %d failed)"
       % (rc, prod.produced, len(prod.acks), prod.fails))
    acks = prod.snapshot()
    copies = verify(broker, acks, "final")
    sent = prod.produced or 0
    lost = [n for n in range(1, sent + 1) if n not in copies]
    dups = sum(c - 1 for c in copies.values())
    diag("%.0f s, %d rounds, %d messages sent, loss = %d, duplicates = %d"
         % (time.time() - t_start, ROUNDS, sent, len(lost), dups))
    ok(sent > 0 and not lost, "loss = 0: every one of the %d messages sent is in the log (%d lost)"
       % (sent, len(lost)))
    ok(len(copies) == sent, "no number in the log that was never sent (%d distinct of %d)" % (len(copies), sent))
    print("broker crash: loss = %d, duplicates = %d" % (len(lost), dups), flush=True)
    log = open(logf).read()
    ok(log.count("listening on") == ROUNDS + 1, "the broker logged %d starts" % (ROUNDS + 1))
    ok(stop(b) == 0, "SIGTERM: the last broker exits 0")
    finish()


main()
