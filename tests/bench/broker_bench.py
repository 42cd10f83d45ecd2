"""make bench: logship-broker throughput with librdkafka (tests/tools/rdk_client).

One broker (fsync: interval, the default 1s), one 4-partition topic, 100-byte
messages: produce with acks=1, produce with acks=all, then consume everything
from the beginning, with one consumer and with two at once (consume rates
count from the first message: librdkafka spends ~0.5 s before its first
fetch when assign() precedes the metadata; the total is printed too). Prints one line per figure (msgs/s, MiB/s) plus the
broker's CPU seconds and peak RSS. Never fails on a timing.
  BROKER_BENCH_MSGS   messages per produce run (default 2,000,000)
"""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from testlib import *  # noqa: F401,F403

RDK = bin_path("tests/tools/rdk_client")
N = int(os.environ.get("BROKER_BENCH_MSGS", "2000000"))
SIZE = 100
PARTS = 4


def peak_rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        m = re.search(r"VmHWM:\s+(\d+) kB", f.read())
    return int(m.group(1)) / 1024 if m else 0


def measure(b, argv, what):
    c0 = cpu_seconds(b.pid)
    t0 = time.time()
    r = run(argv, timeout=600)
    dt = time.time() - t0
    cpu = cpu_seconds(b.pid) - c0
    out = r.stdout.decode().strip()
    print("%s  [broker CPU %.2f s of %.2f s wall, %.0f%%]" % (out or "%s: failed (exit %d) %s"
          % (what, r.returncode, r.stderr.decode()[-300:]), cpu, dt, 100 * cpu / dt if dt else 0), flush=True)


def consume_pair(b, broker):
    """Two consumers at once, half the partitions each: one librdkafka
    consumer decodes on one thread, so this shows what the broker serves."""
    half = PARTS // 2
    c0 = cpu_seconds(b.pid)
    t0 = time.time()
    ps = [start([RDK, "bench-consume", broker, "bench", str(half), str(2 * N), "--first", str(i * half),
                 "--timeout", "300"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) for i in range(2)]
    outs = [p.communicate(timeout=600)[0].decode() for p in ps]
    dt = time.time() - t0
    cpu = cpu_seconds(b.pid) - c0
    ms = [re.search(r"consume: (\d+) msgs in ([\d.]+) s", o) for o in outs]
    got = sum(int(m.group(1)) for m in ms if m)
    busy = max([float(m.group(2)) for m in ms if m] or [dt])
    print("broker consume, 2 consumers x %d partitions: %d msgs in %.2f s: %.0f msgs/s  [broker CPU %.2f s of %.2f s "
          "wall, %.0f%%]" % (half, got, busy, got / busy, cpu, dt, 100 * cpu / dt), flush=True)


def main():
    base = os.environ.get("BENCH_DIR") or tmpdir()
    d = os.path.join(base, "broker-bench")
    os.makedirs(d, exist_ok=True)
    port = free_port()
    broker = "127.0.0.1:%d" % port
    conf = os.path.join(d, "broker.yaml")
    with open(conf, "w") as f:
        f.write("listen: 127.0.0.1:%d\ndata_dir: %s/data\nnum_partitions: %d\nfsync: interval\n"
                "fsync_interval: 1s\nlog_level: warn\n" % (port, d, PARTS))
    b = start([bin_path("logship-broker"), "-c", conf], log=os.path.join(d, "broker.log"))
    if not wait_port(port, proc=b):
        print("broker bench: the broker did not start")
        return
    print("broker bench: %d x %d B messages per run, %d partitions, fsync interval 1s" % (N, SIZE, PARTS),
          flush=True)
    measure(b, [RDK, "bench-produce", broker, "bench", str(N), str(SIZE), "1", "--timeout", "300"], "produce acks=1")
    measure(b, [RDK, "bench-produce", broker, "bench", str(N), str(SIZE), "all", "--timeout", "300"],
            "produce acks=all")
    measure(b, [RDK, "bench-consume", broker, "bench", str(PARTS), str(2 * N), "--timeout", "300"], "consume")
    consume_pair(b, broker)
    print("broker bench: broker peak RSS %.1f MiB" % peak_rss_mib(b.pid), flush=True)
    stop(b)


main()
