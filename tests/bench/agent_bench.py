#!/usr/bin/env python3
"""make bench, the agent: generate -> ring -> file, end to end through the
real daemon, and the agent at rest.

1. Throughput: `generate` (count N, rate 0, 100-byte messages) -> ring
   (fsync: interval) -> `file` output, timed from start until the output has
   acknowledged all N. Printed: events/s, MiB/s of events, CPU seconds per GiB
   (user + system of the whole process, every thread), peak RSS. Run twice:
   on BENCH_DIR (the disk: ring + output file are written, so the disk's
   bandwidth bounds it) and on /dev/shm (tmpfs: what the CPU can do).
2. Idle: the shipped conf.d/logship.yaml (data_dir and the status port moved
   to temp values, stdin from /dev/null as under systemd) with its kafka
   output connected to a logship-broker the bench starts, RSS (and PSS) and
   CPU over BENCH_IDLE_SECONDS (default 60 s, as issue 4 states the target).
3. Filters: the cost of a `parse` (json) + `modify` chain beside the bare
   pipeline, both fed the same file of JSON log lines through `stdin` (the
   chain parses each line's message into fields, renames, sets and removes
   a few). Printed per case: events/s and CPU s per GiB (best of its
   runs), and the chain's throughput relative to the bare run's: the median
   over BENCH_FILTER_RUNS paired rounds (default 5; each round runs both,
   seconds apart, as the machine is shared; target: the chain costs < 30%).
   BENCH_FILTER_EVENTS sets the line count (default 2M).
BENCH_AGENT_PARTS picks parts (default "throughput,filters,idle").
Figures only; nothing is asserted. BENCH_AGENT_EVENTS sets N (default 5M)."""
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

N = int(os.environ.get("BENCH_AGENT_EVENTS", "5000000"))
IDLE = float(os.environ.get("BENCH_IDLE_SECONDS", "60"))


def throughput(where, base):
    d = tempfile.mkdtemp(prefix="logship-agent-bench.", dir=base)
    conf = """data_dir: %s/data
http: { listen: 127.0.0.1:{port} }
log_level: warn
buffer: { max_bytes: 64GiB, segment_bytes: 64MiB, fsync: interval }
inputs:
  - type: generate
    count: %d
    rate: 0
    size: 100
outputs:
  - type: file
    path: %s/events.ndjson
    rotate_bytes: 0
""" % (d, N, d)
    a = agentlib.Agent(d, conf, "bench")
    t0 = time.time()
    if not a.start():
        print("agent %s: did not start" % where)
        return
    done = testlib.wait_for(lambda: (a.metric("logship_output_events_total", output="file") or 0) >= N,
                            timeout=600, interval=0.02)
    t = time.time() - t0
    cpu = testlib.cpu_seconds(a.p.pid)
    per = testlib.threads_cpu(a.p.pid)
    hwm = testlib.status_kb(a.p.pid, "VmHWM")
    nbytes = a.metric("logship_output_bytes_total", output="file") or 0
    a.stop()
    shutil.rmtree(d, ignore_errors=True)
    if not done:
        print("agent %s: timed out" % where)
        return
    gib = nbytes / float(1 << 30)
    print("agent generate->ring->file (%s): %.0f events/s, %.0f MiB/s of events (%d events of %.0f bytes), "
          "%.2f CPU s per GiB (%.2f CPU s in all: %.0f events per CPU second), peak RSS %.1f MiB   "
          "(target >= 2,000,000 events/s of 100-byte events on one core)"
          % (where, N / t, nbytes / t / (1 << 20), N, nbytes / N, cpu / gib, cpu, N / cpu, hwm / 1024.0))
    main = per.get("main", 0)
    out = sum(v for k, v in per.items() if k.startswith("out:"))
    print("agent %s per thread: event loop (generate + batcher + ring append) %.2f CPU s = %.0f events/s "
          "per core; output thread (ring read + decode + file write) %.2f CPU s = %.0f events/s per core; "
          "other threads %.2f CPU s"
          % (where, main, N / main if main else 0, out, N / out if out else 0, cpu - main - out))


def idle():
    d = tempfile.mkdtemp(prefix="logship-agent-idle.")
    port, kport = testlib.free_port(), testlib.free_port()
    os.mkdir(os.path.join(d, "broker"))
    with open(os.path.join(d, "broker.log"), "w") as blog:
        broker = subprocess.Popen([testlib.bin_path("logship-broker"), "--listen", "127.0.0.1:%d" % kport,
                                   "--data-dir", os.path.join(d, "broker")], stdout=blog, stderr=blog)
    testlib.wait_port(kport, timeout=10, proc=broker)
    env = dict(os.environ, LOGSHIP_DATA_DIR=d, LOGSHIP_HTTP="127.0.0.1:%d" % port,
               LOGSHIP_BROKERS="127.0.0.1:%d" % kport)
    env.pop("LOGSHIP_LOG_LEVEL", None)
    conf = os.path.join(testlib.ROOT, "conf.d", "logship.yaml")
    with open(os.devnull) as null, open(os.path.join(d, "agent.log"), "w") as log:
        p = subprocess.Popen([testlib.bin_path("logship"), "-c", conf], stdin=null, stdout=log,
                             stderr=log, env=env)
    try:
        if not testlib.wait_port(port, timeout=10, proc=p):
            with open(os.path.join(d, "agent.log")) as log:
                print("agent idle: did not start: %s" % log.read()[-400:])
            return
        time.sleep(2)  # settle
        c0, t0 = testlib.cpu_seconds(p.pid), time.time()
        time.sleep(IDLE)
        c1, t1 = testlib.cpu_seconds(p.pid), time.time()
        rss = testlib.status_kb(p.pid, "VmRSS")
        pss = 0
        with open("/proc/%d/smaps_rollup" % p.pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
        print("agent idle (shipped conf.d/logship.yaml, kafka output connected, %.0f s window): RSS %.1f MiB "
              "(PSS %.1f MiB), CPU %.3f%%   (targets < 5 MiB, < 0.1%%)"
              % (t1 - t0, rss / 1024.0, pss / 1024.0, 100.0 * (c1 - c0) / (t1 - t0)))
    finally:
        testlib.stop(p)
        testlib.stop(broker)
        shutil.rmtree(d, ignore_errors=True)


FN = int(os.environ.get("BENCH_FILTER_EVENTS", "2000000"))
FRUNS = int(os.environ.get("BENCH_FILTER_RUNS", "5"))
CHAIN = """filters:
  - type: parse
    format: json
  - type: modify
    rename: { msg: message }
    set: { service.name: shop, service.environment: prod }
    remove: [logger]
"""


def stdin_run(d, lines_path, filters):
    conf = """data_dir: %s/data
http: { listen: 127.0.0.1:{port} }
log_level: warn
buffer: { max_bytes: 64GiB, segment_bytes: 64MiB, fsync: interval }
inputs:
  - type: stdin
    name: app
%soutputs:
  - type: file
    path: %s/events.ndjson
    rotate_bytes: 0
""" % (d, filters, d)
    shutil.rmtree(os.path.join(d, "data"), ignore_errors=True)
    try:
        os.unlink(os.path.join(d, "events.ndjson"))
    except OSError:
        pass
    with open(lines_path) as src:
        a = agentlib.Agent(d, conf, "bench", stdin=src)
        t0 = time.time()
        if not a.start():
            return None
        done = testlib.wait_for(lambda: (a.metric("logship_output_events_total", output="file") or 0) >= FN,
                                timeout=600, interval=0.02)
        t = time.time() - t0
        cpu = testlib.cpu_seconds(a.p.pid)
        main = testlib.threads_cpu(a.p.pid).get("main", 0)
        nin = a.metric("logship_input_bytes_total", input="app") or 0
        nout = a.metric("logship_output_bytes_total", output="file") or 0
        a.stop()
    return (t, cpu, main, nin, nout) if done else None


def filters_cost(where, base):
    d = tempfile.mkdtemp(prefix="logship-filter-bench.", dir=base)
    lines_path = os.path.join(d, "lines.ndjson")
    with open(lines_path, "w") as f:
        for i in range(FN):
            f.write('{"level":"info","logger":"http","msg":"GET /api/v1/items/%d 200","user":"u%d",'
                    '"latency_ms":%d,"trace":{"id":"%016x"}}\n' % (i, i % 1000, i % 300, i * 2654435761))
    # Paired rounds: each round runs both, in turn first (bare, chain;
    # chain, bare; ...), and the cost is the median of the rounds' ratios.
    # On a shared machine the speed drifts over a minute and jumps between
    # runs; a ratio of two runs seconds apart sees the least of that, where
    # the best of each kind may come from different minutes.
    kinds = (("bare", ""), ("parse+modify", CHAIN))
    res = {name: None for name, _ in kinds}
    ratios = []
    for r in range(FRUNS):
        got = {}
        for name, filters in (kinds if r % 2 == 0 else kinds[::-1]):
            got[name] = stdin_run(d, lines_path, filters)
            if got[name] and (res[name] is None or got[name][0] < res[name][0]):
                res[name] = got[name]
        if got["bare"] and got["parse+modify"]:
            ratios.append(got["bare"][0] / got["parse+modify"][0])
    for name, _ in kinds:
        best = res[name]
        if not best:
            print("agent filters %s (%s): did not finish" % (name, where))
            continue
        t, cpu, main, nin, nout = best
        print("agent stdin->%s->ring->file (%s): %.0f events/s, %.2f CPU s per GiB of input "
              "(%.2f CPU s in all, event loop %.2f CPU s = %.0f events per loop-CPU second; "
              "events %.0f bytes in, %.0f out), best of %d"
              % (name, where, FN / t, cpu / (nin / float(1 << 30)), cpu, main, FN / main if main else 0,
                 nin / FN, nout / FN, FRUNS))
    if ratios:
        med = statistics.median(ratios)
        print("agent filters (%s): parse+modify chain runs at %.0f%% of the bare pipeline's events/s "
              "(cost %.0f%%), median of %d paired rounds (%s)   (target: cost < 30%%)"
              % (where, 100.0 * med, 100.0 * (1 - med), len(ratios),
                 " ".join("%.0f%%" % (100.0 * x) for x in ratios)))
    shutil.rmtree(d, ignore_errors=True)


base = os.environ.get("BENCH_DIR", "/var/tmp")
# BENCH_AGENT_PARTS: which of throughput, filters, idle to run (default all).
parts = os.environ.get("BENCH_AGENT_PARTS", "throughput,filters,idle").split(",")
shm = os.path.isdir("/dev/shm")
if "throughput" in parts:
    throughput("disk %s" % base, base)
    if shm:
        throughput("tmpfs /dev/shm", "/dev/shm")
if "filters" in parts:
    filters_cost("tmpfs /dev/shm" if shm else "disk %s" % base, "/dev/shm" if shm else base)
if "idle" in parts:
    idle()
