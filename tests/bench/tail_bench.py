#!/usr/bin/env python3
"""Benchmark: the tail input reading one large file of ~100-byte lines
(TAIL_BENCH_MB, default 1024 = 1 GiB) -> ring (on disk, default fsync
policy: group commit every second) -> `file` output, end to end; then the
same file read by rsyslog's imfile writing to a file (rsyslogd -n in the
foreground), in the same run. Prints lines/s, MiB/s, CPU seconds per GiB and
peak RSS for each, the agent's CPU per thread (main: tail + batch + append;
out:file: read + decode + write), and the ratio. Never fails on a timing
(make bench).

The sinks are alike: rsyslog's omfile here never syncs its file, so the
`file` output runs with fsync: false (TAIL_BENCH_FILE_FSYNC=1 makes it
fdatasync before each cursor commit instead); the ring itself keeps its
default policy either way. TAIL_BENCH_RUNS=N runs each side N times and
prints every run, the best and the spread (default 3: wall-clock figures
are noisy on a shared machine; CPU s per GiB is the stable one). Every
timed run, either side's, starts after a sync(2), so that none pays for the
writeback of the file just generated or of the run before it."""
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import agentlib  # noqa: E402
import testlib  # noqa: E402

MB = int(os.environ.get("TAIL_BENCH_MB", "1024"))
RUNS = max(1, int(os.environ.get("TAIL_BENCH_RUNS", "3")))
FILE_FSYNC = os.environ.get("TAIL_BENCH_FILE_FSYNC", "0") not in ("", "0", "false", "no")
base = os.environ.get("BENCH_DIR") or testlib.tmpdir()
d = os.path.join(base, "tail-bench")
shutil.rmtree(d, ignore_errors=True)
os.makedirs(d)
src = os.path.join(d, "big.log")


def make_file():
    """~100-byte lines, numbered, written in 4 MiB blocks (fast: the digits
    change, the rest is copied)."""
    pad = "GET /api/v1/items?id=42 HTTP/1.1 200 512 0.004 \"Mozilla/5.0 (X11; Linux x86_64)\" req="
    n = 0
    target = MB << 20
    with open(src, "wb", buffering=0) as f:
        written = 0
        while written < target:
            block = "".join("%s%010d\n" % (pad, i) for i in range(n, n + 40000)).encode()
            n += 40000
            f.write(block)
            written += len(block)
    return n, os.path.getsize(src)


def cpu_rss(pid):
    return testlib.cpu_seconds(pid), testlib.status_kb(pid, "VmHWM") * 1024


def threads(pid):
    """[(name, user s, sys s)] of the threads that used CPU."""
    return [t for t in testlib.threads_times(pid) if t[1] + t[2] >= 0.01]


def report(name, lines, size, secs, cpu, rss):
    print("%s: %.0f lines/s, %.1f MiB/s, %.2f CPU s per GiB, peak RSS %.1f MiB (%d lines, %.1fs)"
          % (name, lines / secs, size / secs / 1048576, cpu / (size / 1073741824.0), rss / 1048576.0, lines, secs),
          flush=True)


def best(name, rates):
    if len(rates) > 1:
        print("%s: best of %d %.0f lines/s (runs: %s; spread %.0f%%)" % (
            name, len(rates), max(rates), ", ".join("%.0f" % r for r in rates),
            100.0 * (max(rates) - min(rates)) / max(rates)), flush=True)
    return max(rates) if rates else 0


t0 = time.time()
lines, size = make_file()
print("tail_bench: %d lines, %.0f MiB generated in %.1fs" % (lines, size / 1048576.0, time.time() - t0), flush=True)
gib = size / 1073741824.0

# --- logship --------------------------------------------------------------------
conf = """data_dir: {dir}/data
http: { listen: 127.0.0.1:{port} }
buffer: { max_bytes: 8GiB }
inputs:
  - type: tail
    paths: [%s]
    read_from_head: true
outputs:
  - type: file
    path: {dir}/out.ndjson
    rotate_bytes: 0
    fsync: %s
""" % (src, "true" if FILE_FSYNC else "false")
ls_rates = []
for run in range(RUNS):
    a = agentlib.Agent(d, conf, "logship")
    os.sync()
    t0 = time.time()
    ok = a.start()
    done = ok and testlib.wait_for(
        lambda: (a.metric("logship_output_events_total", output="file") or 0) >= lines, timeout=900, interval=0.05)
    secs = time.time() - t0
    if done:
        cpu, rss = cpu_rss(a.p.pid)
        report("tail_logship", lines, size, secs, cpu, rss)
        print("tail_logship_threads: " + ", ".join(
            "%s %.2f user + %.2f sys s per GiB" % (n, u / gib, s_ / gib) for n, u, s_ in threads(a.p.pid)),
            flush=True)
        ls_rates.append(lines / secs)
    else:
        print("tail_logship: did not finish (%s events out)" % a.metric("logship_output_events_total", output="file"))
    a.stop()
    shutil.rmtree(os.path.join(d, "data"), ignore_errors=True)
    try:
        os.unlink(os.path.join(d, "out.ndjson"))
    except OSError:
        pass
ls_rate = best("tail_logship", ls_rates)

# --- rsyslog imfile -----------------------------------------------------------------
rsyslogd = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
if not os.path.exists(rsyslogd):
    print("tail_rsyslog: rsyslogd not installed, skipped")
    sys.exit(0)
rs_rates = []
for run in range(RUNS):
    work = os.path.join(d, "rsyslog-work")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    rout = os.path.join(d, "rsyslog.out")
    try:
        os.unlink(rout)
    except OSError:
        pass
    rconf = os.path.join(d, "rsyslog.conf")
    with open(rconf, "w") as f:
        f.write("""global(workDirectory="%s" maxMessageSize="64k")
module(load="imfile" mode="inotify")
template(name="msgonly" type="string" string="%%msg%%\\n")
ruleset(name="bench") {
  action(type="omfile" file="%s" template="msgonly" asyncWriting="on" ioBufferSize="1m" flushOnTXEnd="off")
}
input(type="imfile" file="%s" tag="bench" ruleset="bench" freshStartTail="off")
""" % (work, rout, src))
    os.sync()
    t0 = time.time()
    p = testlib.start([rsyslogd, "-n", "-f", rconf, "-i", os.path.join(d, "rsyslog.pid")],
                      log=os.path.join(d, "rsyslog.log"))
    done = testlib.wait_for(lambda: os.path.exists(rout) and os.path.getsize(rout) >= size, timeout=900,
                            interval=0.05)
    secs = time.time() - t0
    if done and p.poll() is None:
        cpu, rss = cpu_rss(p.pid)
        report("tail_rsyslog", lines, size, secs, cpu, rss)
        rs_rates.append(lines / secs)
    else:
        print("tail_rsyslog: did not finish (%s bytes out); log: %s" %
              (os.path.getsize(rout) if os.path.exists(rout) else 0,
               open(os.path.join(d, "rsyslog.log")).read()[-500:]))
    testlib.stop(p)
rs_rate = best("tail_rsyslog", rs_rates)
if ls_rate and rs_rate:
    print("tail_ratio: logship/rsyslog %.2fx" % (ls_rate / rs_rate))
shutil.rmtree(d, ignore_errors=True)
