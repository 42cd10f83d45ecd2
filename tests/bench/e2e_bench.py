#!/usr/bin/env python3
"""make bench, end to end (issue #5): a log file -> agent (tail input -> ring
-> kafka output, its default native engine) -> logship-broker, both daemons
on this machine. E2E_KAFKA="engine: librdkafka" measures the other engine.

1. Throughput: E2E_LINES (default 2,500,000) lines of ~100 bytes written to a
   file first; the agent starts with read_from_head and is timed until the
   broker has acknowledged every line (the kafka output counts a record out
   only once the broker acknowledged it, acks=all: the broker made it durable).
   Printed: lines/s, MiB/s (of log lines, and of the JSON events shipped),
   agent CPU seconds per GiB of log lines (user + system, every thread),
   agent peak RSS (VmHWM), the per-thread split, the broker's CPU, and the
   CPU-bound ceiling: lines / ((agent + broker CPU s) / cores), the rate the
   cores could reach with the machine to themselves and perfect overlap.
   Target: >= 1,000,000 lines/s end to end.
2. Latency: a fresh agent tails an empty file; tests/tools/e2e_latency writes
   lines at E2E_RATE (default 10,000) lines/s for E2E_LAT_SECONDS (default
   10, after a 2 s warm-up), each stamped with its write time, and a
   librdkafka consumer on the broker takes arrival - write time per line:
   p50/p90/p99/p99.9/max. Target: p99 < 100 ms at 10,000 lines/s.
Data lives in BENCH_DIR (make bench: a temp dir on the disk; E2E_DIR
overrides it, e.g. /dev/shm to take the disk out). E2E_REPEAT runs each part
several times and prints each run, the median, the best and the spread.
E2E_PARTS=throughput or latency runs one part only; E2E_KAFKA adds keys to
the kafka output ("in_flight_bytes: 4MiB, linger: 1ms"), E2E_RDKAFKA
librdkafka properties ("batch.num.messages: 20000"), to try settings.
Figures only: nothing is asserted, a run that does not finish says so and
the script goes on."""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import agentlib  # noqa: E402
import testlib  # noqa: E402

N = int(os.environ.get("E2E_LINES", "2500000"))
RATE = int(os.environ.get("E2E_RATE", "10000"))
LAT_SECS = float(os.environ.get("E2E_LAT_SECONDS", "10"))
REPEAT = max(1, int(os.environ.get("E2E_REPEAT", "1")))
BASE = os.environ.get("E2E_DIR") or os.environ.get("BENCH_DIR") or "/var/tmp"
BROKER_BIN = os.environ.get("E2E_BROKER") or testlib.bin_path("logship-broker")
PARTS = os.environ.get("E2E_PARTS", "throughput,latency").split(",")
KAFKA_EXTRA = os.environ.get("E2E_KAFKA", "")
RDKAFKA_EXTRA = os.environ.get("E2E_RDKAFKA", "")
LINE = 100


def rdk_grouped(name):
    return "rdk:*" if name.startswith("rdk:") else name  # librdkafka's threads


def start_broker(d):
    port = testlib.free_port()
    data = os.path.join(d, "broker")
    os.makedirs(data, exist_ok=True)
    with open(os.path.join(d, "broker.yaml"), "w") as f:
        f.write("listen: 127.0.0.1:%d\ndata_dir: %s\nlog_level: warn\n" % (port, data))
    b = testlib.start([BROKER_BIN, "-c", os.path.join(d, "broker.yaml")], log=os.path.join(d, "broker.log"))
    if not testlib.wait_port(port, timeout=15, proc=b):
        testlib.stop(b)
        return None, None
    return b, "127.0.0.1:%d" % port


def make_file(path, n):
    """n lines of LINE bytes, numbered, written in big blocks."""
    pad = "GET /api/v1/items?id=42 HTTP/1.1 200 512 0.004 \"Mozilla/5.0 (X11; Linux x86_64)\" req="
    pad = (pad * 2)[:LINE - 11]
    with open(path, "wb", buffering=0) as f:
        for s in range(0, n, 40000):
            f.write("".join("%s%010d\n" % (pad, i) for i in range(s, min(n, s + 40000))).encode())
    return os.path.getsize(path)


AGENT = """data_dir: {dir}/data
http: { listen: 127.0.0.1:{port} }
log_level: warn
buffer: { max_bytes: 16GiB }
inputs:
  - type: tail
    name: e2e
    paths: [%(path)s]
    read_from_head: true
outputs:
  - type: kafka
    name: kafka
    brokers: [%(broker)s]
    topic: %(topic)s
%(extra)s"""


def agent_conf(path, broker, topic):
    extra = ""
    for kv in filter(None, (x.strip() for x in KAFKA_EXTRA.split(","))):
        extra += "    %s\n" % kv
    if RDKAFKA_EXTRA:
        extra += "    rdkafka: { %s }\n" % RDKAFKA_EXTRA
    return AGENT % dict(path=path, broker=broker, topic=topic, extra=extra)


def throughput(run):
    d = tempfile.mkdtemp(prefix="logship-e2e.", dir=BASE)
    b = a = None
    try:
        src = os.path.join(d, "app.log")
        t0 = time.time()
        size = make_file(src, N)
        gen = time.time() - t0
        b, broker = start_broker(d)
        if not b:
            print("e2e throughput: the broker did not start")
            return None
        a = agentlib.Agent(d, agent_conf(src, broker, "e2e"), "agent")
        t0 = time.time()
        if not a.start():
            print("e2e throughput: the agent did not start")
            return None
        t_in = None
        deadline = t0 + 600
        done = False
        while time.time() < deadline and a.alive():
            if t_in is None and (a.metric("logship_input_events_total", input="e2e") or 0) >= N:
                t_in = time.time() - t0
            if (a.metric("logship_output_events_total", output="kafka") or 0) >= N:
                done = True
                break
            time.sleep(0.02)
        secs = time.time() - t0
        if not done:
            print("e2e throughput: did not finish in %.0fs (%s of %d lines acknowledged)"
                  % (secs, a.metric("logship_output_events_total", output="kafka"), N))
            return None
        pid = a.p.pid
        cpu, per = testlib.cpu_seconds(pid), testlib.threads_cpu(pid, rdk_grouped)
        hwm = testlib.status_kb(pid, "VmHWM")
        bcpu, bhwm = testlib.cpu_seconds(b.pid), testlib.status_kb(b.pid, "VmHWM")
        ev_bytes = a.metric("logship_output_bytes_total", output="kafka") or 0
        gib = size / float(1 << 30)
        # What this machine's cores could do if the two daemons had them to
        # themselves and overlapped perfectly: on a shared machine the wall
        # clock says more about the neighbours than about logship.
        ceiling = N / ((cpu + bcpu) / (os.cpu_count() or 1))
        r = dict(rate=N / secs, mib=size / secs / 1048576, ev_mib=ev_bytes / secs / 1048576,
                 cpu_gib=cpu / gib, rss=hwm / 1024.0, cpu=cpu, bcpu=bcpu, brss=bhwm / 1024.0,
                 t_in=t_in or secs, secs=secs, ceiling=ceiling)
        print("e2e throughput run %d: %d lines (%.0f MiB, %.0f-byte lines, file written in %.1fs) in %.2fs: "
              "%.0f lines/s, %.1f MiB/s of lines, %.1f MiB/s of events (%.0f bytes each); "
              "agent %.2f CPU s = %.2f CPU s per GiB of lines, peak RSS %.1f MiB; "
              "tail -> ring done after %.2fs; broker %.2f CPU s, peak RSS %.1f MiB"
              % (run, N, size / 1048576.0, size / float(N), gen, secs, r["rate"], r["mib"], r["ev_mib"],
                 ev_bytes / float(N), cpu, r["cpu_gib"], r["rss"], r["t_in"], bcpu, r["brss"]), flush=True)
        print("e2e throughput run %d: CPU-bound ceiling %.0f lines/s on %d cores (lines / ((agent + broker CPU s) / cores))"
              % (run, ceiling, os.cpu_count() or 1), flush=True)
        print("e2e throughput run %d, agent CPU per thread: %s" % (
            run, ", ".join("%s %.2fs" % kv for kv in sorted(per.items(), key=lambda kv: -kv[1]))), flush=True)
        return r
    finally:
        if a:
            a.stop()
        if b:
            testlib.stop(b)
        shutil.rmtree(d, ignore_errors=True)


def latency(run):
    d = tempfile.mkdtemp(prefix="logship-e2e-lat.", dir=BASE)
    b = a = c = None
    try:
        src = os.path.join(d, "app.log")
        open(src, "w").close()
        b, broker = start_broker(d)
        if not b:
            print("e2e latency: the broker did not start")
            return None
        a = agentlib.Agent(d, agent_conf(src, broker, "lat"), "agent")
        if not a.start():
            print("e2e latency: the agent did not start")
            return None
        want = int(RATE * LAT_SECS)
        tool = testlib.bin_path("tests/tools/e2e_latency")
        c = subprocess.Popen([tool, "consume", broker, "lat", str(want), "--timeout", str(LAT_SECS + 60)],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        c0 = testlib.cpu_seconds(a.p.pid)
        w = subprocess.run([tool, "write", src, str(RATE), str(LAT_SECS), "--warmup", "2", "--size", str(LINE)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=LAT_SECS + 60)
        c1 = testlib.cpu_seconds(a.p.pid)
        try:
            out, _ = c.communicate(timeout=LAT_SECS + 90)
        except subprocess.TimeoutExpired:
            c.kill()
            out, _ = c.communicate()
        c = None
        res = [ln for ln in out.splitlines() if ln.startswith("latency ")]
        if w.returncode != 0 or not res:
            print("e2e latency: no result (writer: %s; consumer: %s)" % (w.stdout.strip(), out.strip()))
            return None
        kv = dict(f.split("=", 1) for f in res[0].split()[1:])
        r = {k: float(v) for k, v in kv.items()}
        print("e2e latency run %d at %d lines/s for %.0fs: %d lines, write -> consumer p50 %.1f ms, p90 %.1f ms, "
              "p99 %.1f ms, p99.9 %.1f ms, max %.1f ms; agent CPU %.1f%%"
              % (run, RATE, LAT_SECS, r["n"], r["p50"], r["p90"], r["p99"], r["p999"], r["max"],
                 100.0 * (c1 - c0) / (LAT_SECS + 2)), flush=True)
        return r
    finally:
        if c:
            c.kill()
            c.wait()
        if a:
            a.stop()
        if b:
            testlib.stop(b)
        shutil.rmtree(d, ignore_errors=True)


def median(rs, k):
    return statistics.median(r[k] for r in rs)


print("e2e_bench: data in %s, %d cores, broker %s" % (BASE, os.cpu_count(), BROKER_BIN), flush=True)
tp = [r for r in (throughput(i + 1) for i in range(REPEAT)) if r] if "throughput" in PARTS else []
if tp:
    rates = [r["rate"] for r in tp]
    print("e2e throughput: %.0f lines/s, %.1f MiB/s of lines, %.2f agent CPU s per GiB, agent peak RSS %.1f MiB, "
          "broker %.2f CPU s, CPU-bound ceiling %.0f lines/s (median of %d; best %.0f lines/s, spread %.0f..%.0f)"
          "   (target >= 1,000,000 lines/s)"
          % (median(tp, "rate"), median(tp, "mib"), median(tp, "cpu_gib"), median(tp, "rss"), median(tp, "bcpu"),
             median(tp, "ceiling"), len(tp), max(rates), min(rates), max(rates)))
lat = [r for r in (latency(i + 1) for i in range(REPEAT)) if r] if "latency" in PARTS else []
if lat:
    print("e2e latency at %d lines/s: p50 %.1f ms, p99 %.1f ms, max %.1f ms (median of %d; p99 spread %.1f..%.1f)"
          "   (target p99 < 100 ms)"
          % (RATE, median(lat, "p50"), median(lat, "p99"), median(lat, "max"), len(lat),
             min(r["p99"] for r in lat), max(r["p99"] for r in lat)))
