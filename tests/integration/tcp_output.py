#!/usr/bin/env python3
"""The tcp output end to end: generate -> ring -> tcp, against an in-process
Python TCP server (stdlib socket/ssl) that collects every line it reads.

What is checked:
  - json_lines: the server is stopped mid-stream (it reads what its kernel
    already holds, then closes: a server that exits cleanly) and restarted
    on the same port a second later; the agent reconnects with backoff and
    every sequence arrives at least once, duplicates counted;
  - raw: each line is the event's message field alone, not JSON;
  - TLS with a self-signed certificate made by `openssl req` in the temp
    dir: verified with tls.ca_file and server_name, every line arrives; with
    a server_name the certificate does not carry, nothing is delivered and
    the verification failure is reported (the events wait in the ring).
The tcp output's guarantee is the weakest (see docs/outputs.md): a server
killed with unread data in its socket buffer loses it, so this test stops
the server the clean way only.
"""
import collections
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import agentlib  # noqa: E402
import certs  # noqa: E402
import testlib  # noqa: E402


class LineServer:
    """Accepts connections on port (0 = any), one reader thread each."""

    def __init__(self, port=0, tls_ctx=None):
        self.lock = threading.Lock()
        self.lines = []
        self.tls_ctx = tls_ctx
        self.conns = 0
        self.errors = 0
        self._start(port)

    def _start(self, port):
        self.stopping = False
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", port))
        self.ls.listen(16)
        self.port = self.ls.getsockname()[1]
        self.readers = []
        self.t = threading.Thread(target=self._accept, daemon=True)
        self.t.start()

    def _accept(self):
        while not self.stopping:
            try:
                self.ls.settimeout(0.1)
                c, _ = self.ls.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            if self.tls_ctx:
                try:
                    c.settimeout(5)
                    c = self.tls_ctx.wrap_socket(c, server_side=True)
                except (ssl.SSLError, OSError):
                    with self.lock:
                        self.errors += 1
                    c.close()
                    continue
            with self.lock:
                self.conns += 1
            r = threading.Thread(target=self._read, args=(c,), daemon=True)
            self.readers.append(r)
            r.start()

    def _read(self, c):
        buf = b""
        c.settimeout(0.05)
        while True:
            try:
                data = c.recv(1 << 20)
            except (socket.timeout, ssl.SSLWantReadError):
                data = None
            except OSError:
                break
            if data == b"":
                break
            if data:
                buf += data
                *done, buf = buf.split(b"\n")
                with self.lock:
                    self.lines.extend(done)
                continue
            if self.stopping:
                break
        c.close()

    def stop(self):
        """A clean exit: stop accepting, read what the kernel holds, close."""
        self.stopping = True
        self.ls.close()
        self.t.join(5)
        for r in self.readers:
            r.join(5)

    def restart(self):
        self._start(self.port)


def seqs(lines):
    c = collections.Counter()
    bad = 0
    for ln in lines:
        try:
            c[json.loads(ln)["event"]["sequence"]] += 1
        except (ValueError, KeyError, TypeError):
            bad += 1
    return c, bad


d = testlib.tmpdir()

# --- 1: json_lines; the server goes away mid-stream and comes back -------------------------
N = 30000
srv = LineServer()
conf = """data_dir: {dir}/data1
http: { listen: 127.0.0.1:{port} }
inputs:
  - type: generate
    count: %d
    rate: 6000
outputs:
  - type: tcp
    host: 127.0.0.1
    port: %d
    timeout: 3s
    retry_initial: 50ms
    retry_max: 300ms
""" % (N, srv.port)
a = agentlib.Agent(d, conf, "tcp1")
testlib.ok(a.start(), "agent starts with generate -> tcp (json_lines)")
testlib.wait_for(lambda: len(srv.lines) >= N // 3, timeout=60, interval=0.05)
srv.stop()
mid = len(srv.lines)
time.sleep(1.0)
srv.restart()
testlib.ok(0 < mid < N, "server stopped mid-stream (%d of %d lines) and restarted 1s later" % (mid, N))
testlib.wait_for(lambda: len(seqs(list(srv.lines))[0]) >= N, timeout=120, interval=0.2)
a.wait_metric("logship_output_events_total", N, timeout=30, output="tcp")
testlib.ok(a.stop() == 0, "SIGTERM: exit 0")
srv.stop()
got, bad = seqs(srv.lines)
missing = [q for q in range(1, N + 1) if not got[q]]
testlib.ok(not missing and bad == 0, "every sequence arrived at least once (%d missing, %d bad lines, %d duplicates)"
           % (len(missing), bad, sum(v - 1 for v in got.values())))
testlib.ok(srv.conns >= 2, "the agent reconnected after the restart (%d connections)" % srv.conns)

# --- 2: raw ---------------------------------------------------------------------------------
N2 = 2000
srv2 = LineServer()
conf2 = """data_dir: {dir}/data2
http: { listen: 127.0.0.1:{port} }
inputs:
  - type: generate
    count: %d
    rate: 0
    size: 30
outputs:
  - type: tcp
    host: localhost
    port: %d
    format: raw
""" % (N2, srv2.port)
a2 = agentlib.Agent(d, conf2, "tcp2")
testlib.ok(a2.start(), "agent starts with generate -> tcp (raw)")
testlib.wait_for(lambda: len(srv2.lines) >= N2, timeout=60, interval=0.05)
a2.stop()
srv2.stop()
msgs = set(srv2.lines)
testlib.ok(len(srv2.lines) == N2 and all(len(m) == 30 and not m.startswith(b"{") for m in msgs),
           "raw: %d lines, each the 30-byte message alone (%r)" % (len(srv2.lines), srv2.lines[:1]))

# --- 3: TLS with a self-signed certificate ------------------------------------------------------
cert, key = certs.self_signed(d, "server", "logship-test", ["DNS:logship-test", "IP:127.0.0.1"])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv3 = LineServer(tls_ctx=ctx)
N3 = 5000
conf3 = """data_dir: {dir}/data3
http: { listen: 127.0.0.1:{port} }
inputs:
  - type: generate
    count: %d
    rate: 0
outputs:
  - type: tcp
    host: 127.0.0.1
    port: %d
    tls: { ca_file: %s, server_name: logship-test }
""" % (N3, srv3.port, cert)
a3 = agentlib.Agent(d, conf3, "tcp3")
testlib.ok(a3.start(), "agent starts with generate -> tcp (TLS)")
testlib.wait_for(lambda: len(srv3.lines) >= N3, timeout=60, interval=0.05)
a3.wait_metric("logship_output_events_total", N3, timeout=30, output="tcp")
testlib.ok(a3.stop() == 0, "SIGTERM: exit 0")
got3, bad3 = seqs(srv3.lines)
testlib.ok(len(got3) == N3 and bad3 == 0, "TLS: every sequence arrived (%d)" % len(got3))
testlib.ok("(TLS)" in a3.log_text(), "the agent logged a TLS connection")

conf4 = conf3.replace("data3", "data4").replace("server_name: logship-test", "server_name: other-name")
a4 = agentlib.Agent(d, conf4, "tcp4")
lines_before = len(srv3.lines)
testlib.ok(a4.start(), "agent starts with a server_name the certificate does not carry")
testlib.wait_for(lambda: "certificate verification failed" in a4.log_text(), timeout=30)
time.sleep(0.5)
testlib.ok((a4.metric("logship_output_events_total", output="tcp") or 0) == 0
           and len(srv3.lines) == lines_before, "nothing is delivered to a server that fails verification")
testlib.ok("certificate verification failed" in a4.log_text(), "the verification failure is reported")
testlib.ok(a4.stop() == 0, "SIGTERM while retrying: exit 0 (abort)")
srv3.stop()
testlib.finish()
