#!/usr/bin/env python3
"""syslog receive throughput, end to end, beside rsyslog in the same run.

  - logship: the agent with a syslog input (TCP and UDP) and no output, so
    what is measured is receive + frame + parse + ECS event + batch + append
    to the ring on disk under the default durability (fsync: interval).
    Time runs from the load generator's first byte to the moment
    logship_input_events_total reaches N.
  - rsyslog: rsyslogd -n with imtcp receiving the same stream and omfile
    writing it to a file (its usual setup); time runs to the moment the file
    stops growing, and every line is counted.
  - UDP: the generator sends as fast as it can; received, dropped by the
    ring (the agent's counter) and lost in the kernel are reported.

The load generator is tests/tools/syslog_load (one TCP connection,
octet-counted RFC 5424). Prints "name: figure unit" lines; never fails."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import testlib  # noqa: E402

ROOT = os.environ.get("LOGSHIP_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("LOGSHIP_BUILD", os.path.join(ROOT, "build"))
BENCH = os.environ.get("BENCH_DIR") or "/var/tmp"
W = os.path.join(BENCH, "syslog-bench")
LOAD = os.path.join(BUILD, "tests", "tools", "syslog_load")
N = int(os.environ.get("SYSLOG_BENCH_N", "5000000"))
NUDP = int(os.environ.get("SYSLOG_BENCH_UDP_N", "2000000"))
procs = []


def port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_s(pid):
    return testlib.cpu_seconds(pid)


def rss_mb(pid):
    return testlib.status_kb(pid, "VmHWM") / 1024


def metrics(p):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % p, timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return {}
    m = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.rpartition(" ")
            m[k] = float(v)
    return m


def metric(p, name, inp):
    return metrics(p).get('%s{input="%s",type="syslog"}' % (name, inp), 0)


def wait_port(p, proc, t=15):
    end = time.time() + t
    while time.time() < end and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", p), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def run_load(args):
    r = subprocess.run([LOAD] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    return r.stdout.decode().strip() or r.stderr.decode().strip()


def bench_logship(size, conns=1):
    d = os.path.join(W, "agent-%d-%d" % (size, conns))
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    hp, tp, up = port(), port(), port()
    conf = os.path.join(d, "agent.yaml")
    with open(conf, "w") as f:
        f.write("""data_dir: %s/data
http: { listen: 127.0.0.1:%d }
buffer: { max_bytes: 64GiB, segment_bytes: 1GiB, fsync: interval }
inputs:
  - type: syslog
    name: tcp
    listen: tcp://127.0.0.1:%d
  - type: syslog
    name: udp
    listen: udp://127.0.0.1:%d
    receive_buffer: 8MiB
""" % (d, hp, tp, up))
    a = subprocess.Popen([os.path.join(BUILD, "logship"), "-c", conf], stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(d, "agent.log"), "wb"))
    procs.append(a)
    if not wait_port(hp, a):
        print("syslog_bench: the agent did not start")
        return None
    c0, t0 = cpu_s(a.pid), time.time()
    out = run_load(["--tcp", "127.0.0.1:%d" % tp, "--count", str(N), "--size", str(size), "--conns", str(conns)])
    while metric(hp, "logship_input_events_total", "tcp") < N and time.time() - t0 < 600:
        time.sleep(0.01)
    dt = time.time() - t0
    cpu = cpu_s(a.pid) - c0
    got = metric(hp, "logship_input_events_total", "tcp")
    rate = got / dt
    ring = metrics(hp).get("logship_ring_bytes", 0)
    print("syslog_tcp_octet_%dB_%dconn_logship: %.0f msgs/s (%d msgs in %.2f s, agent CPU %.2f s = %.0f%% of one core, "
          "peak RSS %.0f MiB, %.0f bytes/event in the ring; sender: %s)"
          % (size, conns, rate, got, dt, cpu, 100 * cpu / dt, rss_mb(a.pid), ring / max(got, 1), out))
    udp = None
    if size == 120 and conns == 1:
        t0 = time.time()
        out = run_load(["--udp", "127.0.0.1:%d" % up, "--count", str(NUDP), "--size", str(size)])
        sent_dt = time.time() - t0
        last, stable = -1, 0
        while stable < 5:
            v = metric(hp, "logship_input_events_total", "udp")
            stable = stable + 1 if v == last else 0
            last = v
            time.sleep(0.1)
        got = metric(hp, "logship_input_events_total", "udp")
        dropped = metric(hp, "logship_input_dropped_total", "udp")
        print("syslog_udp_%dB_logship: %.0f msgs/s received (%d of %d sent in %.2f s; ring drops counted: %d; "
              "lost in the kernel: %d)" % (size, got / sent_dt, got, NUDP, sent_dt, dropped,
                                             NUDP - got - dropped))
        udp = got / sent_dt
    stop(a)
    shutil.rmtree(os.path.join(d, "data"), ignore_errors=True)
    return rate, udp


def bench_rsyslog(size):
    rs = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
    if not os.path.exists(rs):
        print("syslog_tcp_rsyslog: rsyslogd not installed")
        return None
    d = os.path.join(W, "rsyslog-%d" % size)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "work"))
    tp = port()
    outf = os.path.join(d, "out.log")
    conf = os.path.join(d, "rsyslog.conf")
    with open(conf, "w") as f:
        f.write("""global(workDirectory="%s/work")
module(load="imtcp")
input(type="imtcp" port="%d" address="127.0.0.1")
action(type="omfile" file="%s")
""" % (d, tp, outf))
    p = subprocess.Popen([rs, "-n", "-f", conf, "-i", os.path.join(d, "pid")], stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(d, "rsyslog.log"), "wb"))
    procs.append(p)
    if not wait_port(tp, p):
        print("syslog_tcp_rsyslog: rsyslogd did not start")
        return None
    c0, t0 = cpu_s(p.pid), time.time()
    out = run_load(["--tcp", "127.0.0.1:%d" % tp, "--count", str(N), "--size", str(size)])
    last, t_last = -1, time.time()
    while time.time() - t_last < 1.0 and time.time() - t0 < 600:
        sz = os.path.getsize(outf) if os.path.exists(outf) else 0
        if sz != last:
            last, t_last = sz, time.time()
        time.sleep(0.02)
    dt = t_last - t0
    cpu = cpu_s(p.pid) - c0
    stop(p)
    lines = int(subprocess.run(["wc", "-l", outf], stdout=subprocess.PIPE).stdout.split()[0])
    print("syslog_tcp_octet_%dB_rsyslog_imtcp: %.0f msgs/s (%d msgs in %.2f s, CPU %.2f s, to omfile; sender: %s)"
          % (size, lines / dt, lines, dt, cpu, out))
    shutil.rmtree(d, ignore_errors=True)
    return lines / dt


def main():
    if not os.path.exists(LOAD):
        print("syslog_bench: %s not built" % LOAD)
        return
    os.makedirs(W, exist_ok=True)
    try:
        for size in (120, 250):
            ours = bench_logship(size)
            theirs = bench_rsyslog(size)
            if ours and theirs:
                print("syslog_tcp_octet_%dB_ratio: %.2f x rsyslog" % (size, ours[0] / theirs))
        bench_logship(120, conns=4)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(W, ignore_errors=True)


main()
