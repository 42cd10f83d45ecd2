"""logship-broker under a connection flood and slow clients (slowloris), on
loopback, bounded in time.

The attackers connect from 127.0.0.2..127.0.0.x (Linux routes all of
127/8 to lo), the well-behaved kcat producer and consumer from 127.0.0.1, so
the per-address limit can be seen to refuse the flood while kcat goes on.

Checks: max_connections_per_ip refuses a flood from one address, and the
refusals are logged at most about once a second with a count; a listener's
own max_connections; the broker-wide max_connections; request_timeout
closes connections that send part of a request and stall, including ones
that announce 64 MiB requests, and the broker's RSS stays within a stated
bound meanwhile (buffers grow with bytes received, not with sizes claimed);
idle_timeout closes silent connections; auth_timeout closes a TLS
connection that never handshakes; throughout, a kcat producer and consumer
keep working, every message produced read back; the counters are on
/metrics (metrics_listen) and logged at stop.
"""
import os
import re
import socket
import struct
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from testlib import *  # noqa: F401,F403

RSS_GROWTH_BOUND = 64 << 20   # what the slowloris may cost the broker, at most


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def connect_from(src, port, timeout=5):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def is_closed(s, wait=0.3):
    """True if the broker closed s (EOF or reset) within wait seconds."""
    s.settimeout(wait)
    try:
        return s.recv(1) == b""
    except socket.timeout:
        return False
    except OSError:
        return True


def api_versions():
    hdr = struct.pack(">hhih", 18, 0, 1, 4) + b"test"
    return struct.pack(">i", len(hdr)) + hdr


def served(s):
    """True if s gets an ApiVersions answer (a connection the broker kept)."""
    try:
        s.settimeout(5)
        s.sendall(api_versions())
        return len(s.recv(4)) == 4
    except OSError:
        return False


class Traffic(threading.Thread):
    """A well-behaved kcat producer, batch after batch, for as long as asked."""

    def __init__(self, broker, topic):
        super().__init__(daemon=True)
        self.broker, self.topic = broker, topic
        self.sent = 0
        self.failures = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            msgs = "".join("m-%d\n" % (self.sent + i) for i in range(100)).encode()
            try:
                r = run(["kcat", "-P", "-b", self.broker, "-t", self.topic, "-X", "acks=all",
                         "-X", "message.timeout.ms=15000"], input=msgs, timeout=60)
            except Exception as e:  # a hung kcat: counted, not fatal
                self.failures.append(str(e))
                continue
            if r.returncode == 0:
                self.sent += 100
            else:
                self.failures.append(r.stderr.decode()[-200:])
            time.sleep(0.2)


def main():
    d = tmpdir()
    port, small_port, tls_port, mport = free_port(), free_port(), free_port(), free_port()
    key, crt = os.path.join(d, "k.pem"), os.path.join(d, "c.pem")
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt, "-days", "1",
         "-subj", "/CN=127.0.0.1"])
    cfg = os.path.join(d, "broker.yaml")
    with open(cfg, "w") as f:
        f.write("data_dir: %s\n" % os.path.join(d, "data"))
        f.write("max_connections: 150\nmax_connections_per_ip: 40\n")
        f.write("request_timeout: 2s\nidle_timeout: 3s\nauth_timeout: 2s\n")
        f.write("metrics_listen: 127.0.0.1:%d\n" % mport)
        f.write("listeners:\n")
        f.write("  - { name: main, address: 127.0.0.1, port: %d }\n" % port)
        f.write("  - { name: small, address: 127.0.0.1, port: %d, max_connections: 5 }\n" % small_port)
        f.write("  - { name: tls, address: 127.0.0.1, port: %d, tls: { cert_file: %s, key_file: %s } }\n"
                % (tls_port, crt, key))
    log = os.path.join(d, "broker.log")
    b = start([bin_path("logship-broker"), "-c", cfg], log=log)
    ok(wait_port(port, proc=b) and wait_port(small_port, proc=b), "the broker listens")
    broker = "127.0.0.1:%d" % port
    traffic = Traffic(broker, "steady")
    traffic.start()
    time.sleep(1)
    base_rss = rss(b.pid)
    diag("broker RSS before the attacks: %.1f MiB" % (base_rss / 1048576))

    # 1. A flood from one address: 40 served, the rest refused.
    t0 = time.time()
    flood = []
    for i in range(300):
        try:
            flood.append(connect_from("127.0.0.2", port))
        except OSError:
            pass
    kept = [s for s in flood if served(s)]
    ok(len(kept) == 40, "flood of 300 from 127.0.0.2 with max_connections_per_ip 40: %d served" % len(kept))
    text = open(log).read()
    lines = len(re.findall(r"127\.0\.0\.2: refused: max_connections_per_ip", text))
    secs = time.time() - t0
    ok(1 <= lines <= secs + 2, "260 refusals logged in %d line(s) over %.1f s (rate-limited)" % (lines, secs))
    for s in flood:
        s.close()

    # 2. A listener's own limit.
    small = [connect_from("127.0.0.3", small_port) for _ in range(10)]
    n = sum(1 for s in small if served(s))
    ok(n == 5, "listener max_connections 5: %d of 10 served" % n)
    ok(wait_for(lambda: "refused: listener max_connections (5)" in open(log).read(), timeout=5),
       "the listener's refusals are logged")
    for s in small:
        s.close()

    # 3. Slowloris: partial requests, some announcing 64 MiB, then nothing.
    slow = []
    t0 = time.time()
    for i in range(120):
        src = "127.0.1.%d" % (1 + i // 30)
        try:
            s = connect_from(src, port)
        except OSError:
            continue
        if i % 2:
            s.sendall(struct.pack(">i", 64 << 20) + b"\0" * (256 << 10))  # 256 KiB of a 64 MiB request
        else:
            s.sendall(struct.pack(">i", 100) + b"\0\3\0")                   # 7 bytes of a 104-byte frame
        slow.append(s)
    time.sleep(0.5)
    peak = rss(b.pid)
    diag("broker RSS with %d slow connections holding partial requests: %.1f MiB"
         % (len(slow), peak / 1048576))
    ok(len(slow) == 120, "120 slowloris connections opened from 4 addresses")
    ok(peak - base_rss < RSS_GROWTH_BOUND,
       "RSS grew by %.1f MiB under the slowloris (bound %d MiB)"
       % ((peak - base_rss) / 1048576, RSS_GROWTH_BOUND >> 20))
    closed = wait_for(lambda: all(is_closed(s, 0.05) for s in slow), timeout=15, interval=0.5)
    ok(closed, "request_timeout (2s) closed every stalled connection within %.1f s" % (time.time() - t0))
    ok("request not complete within request_timeout" in open(log).read(), "... and said why")
    for s in slow:
        s.close()
    after = rss(b.pid)
    diag("broker RSS after they were closed: %.1f MiB" % (after / 1048576))

    # 4. Silent connections: idle_timeout; a TLS one that never handshakes: auth_timeout.
    idle = connect_from("127.0.0.5", port)
    tls_idle = connect_from("127.0.0.5", tls_port)
    ok(wait_for(lambda: is_closed(tls_idle, 0.1), timeout=10), "auth_timeout closes a TLS connection with no handshake")
    ok(wait_for(lambda: is_closed(idle, 0.1), timeout=10), "idle_timeout closes a connection that sends nothing")
    idle.close()
    tls_idle.close()

    # 5. The broker-wide limit: 150 connections from many addresses.
    many = []
    for i in range(200):
        try:
            many.append(connect_from("127.0.2.%d" % (1 + i // 20), port))
        except OSError:
            pass
    n = sum(1 for s in many if served(s))
    ok(n <= 150, "max_connections 150: %d of 200 (from 10 addresses) served" % n)
    ok(wait_for(lambda: "refused: max_connections (150)" in open(log).read(), timeout=5),
       "the broker-wide refusals are logged")
    for s in many:
        s.close()

    time.sleep(1)
    traffic.stop.set()
    traffic.join(timeout=90)
    ok(traffic.sent >= 300, "kcat kept producing during the attacks: %d messages" % traffic.sent)
    if traffic.failures:
        diag("kcat batches that failed (while max_connections was reached, expected): %d; last: %s"
             % (len(traffic.failures), traffic.failures[-1].strip()))
    r = run(["kcat", "-C", "-b", broker, "-t", "steady", "-o", "beginning", "-e", "-q"], timeout=60)
    got = r.stdout.decode().split()
    want = set("m-%d" % i for i in range(traffic.sent))
    ok(r.returncode == 0 and want <= set(got), "kcat consumes every acknowledged message back (%d of %d)"
       % (len(want & set(got)), len(want)))
    ok(b.poll() is None, "the broker is still running")
    body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=10).read().decode()
    metric = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            metric[k] = float(v)
    ok(metric.get('logship_broker_connections_refused_total{reason="max_connections_per_ip"}', 0) >= 260
       and metric.get('logship_broker_connections_refused_total{reason="listener_max_connections"}', 0) >= 5
       and metric.get('logship_broker_connections_refused_total{reason="max_connections"}', 0) >= 1,
       "/metrics counts the refusals by reason")
    ok(metric.get('logship_broker_connections_timed_out_total{timeout="request_timeout"}', 0) >= 120
       and metric.get('logship_broker_connections_timed_out_total{timeout="auth_timeout"}', 0) >= 1
       and metric.get('logship_broker_connections_timed_out_total{timeout="idle_timeout"}', 0) >= 1,
       "/metrics counts the timeouts")
    ok(metric.get("logship_broker_requests_total", 0) > 0 and "logship_broker_connections_open" in metric,
       "/metrics has requests and open connections")
    ok(stop(b) == 0, "SIGTERM: exit 0")
    m = re.search(r"connections: (\d+) accepted, refused (\d+) \(max_connections\) (\d+) \(listener\) (\d+) "
                  r"\(per ip\); closed for timeouts: (\d+) auth, (\d+) request, (\d+) idle", open(log).read())
    ok(m is not None and int(m.group(4)) >= 260 and int(m.group(3)) >= 5 and int(m.group(2)) >= 1
       and int(m.group(5)) >= 1 and int(m.group(6)) >= 120 and int(m.group(7)) >= 1,
       "the counters add up: %s" % (m.group(0) if m else "no counter line"))
    finish()


main()
