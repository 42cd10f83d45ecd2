#!/usr/bin/env python3
"""The http output end to end: generate -> ring -> http, against an in-process
threaded http.server (Python stdlib) that records every request.

What is checked, counting every event.sequence at the far end:
  - 2xx acknowledges the batch: every sequence arrives, NDJSON bodies with
    Content-Type application/x-ndjson, gzip (Content-Encoding), basic auth and
    the configured extra headers;
  - 429 with Retry-After: 1 makes the batch retry, and the next request comes
    no sooner than the server asked (the agent's own backoff is set far
    shorter); 500 makes the batch retry; nothing is lost;
  - format json_array with method PUT: one JSON array per request;
  - 400 rejects the batch for good: its events are never acknowledged or
    re-sent, each is logged with its ring offset, "HTTP 400" and the first
    bytes of the body, counted as rejected and dead-lettered with that reason;
    every other event arrives;
  - https with a self-signed certificate (made by `openssl req` in the temp
    dir) verified through tls.ca_file and tls.server_name while connecting
    to 127.0.0.1.
"""
import base64
import collections
import gzip
import http.server
import json
import os
import re
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import agentlib  # noqa: E402
import certs  # noqa: E402
import testlib  # noqa: E402


class Sink:
    def __init__(self):
        self.lock = threading.Lock()
        self.got = collections.Counter()        # seq -> times acknowledged (2xx)
        self.refused = collections.Counter()     # seq -> times answered 400
        self.requests = []                       # (time, method, status, n events)
        self.bad = []                            # protocol problems seen
        self.script = {}                         # request number -> (status, headers, body)
        self.reject_if = None                    # fn(seqs) -> True: answer 400
        self.expect = {}                         # header -> value every request must carry


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    sink = None

    def log_message(self, *a):
        pass

    def handle_any(self):
        s = self.sink
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        ctype = self.headers.get("Content-Type", "")
        if ctype == "application/json":
            events = json.loads(raw)
        else:
            events = [json.loads(x) for x in raw.split(b"\n") if x]
        seqs = [e["event"]["sequence"] for e in events]
        with s.lock:
            num = len(s.requests) + 1
            for k, v in s.expect.items():
                if self.headers.get(k) != v:
                    s.bad.append("request %d: %s is %r" % (num, k, self.headers.get(k)))
            status, headers, body = s.script.get(num, (200, {}, b"{\"ok\":true}"))
            if status == 200 and s.reject_if and s.reject_if(seqs):
                status, body = 400, b"{\"error\":\"bad event in batch\",\"detail\":\"" + b"x" * 300 + b"\"}"
            s.requests.append((time.monotonic(), self.command, status, len(seqs)))
            for q in seqs:
                if status // 100 == 2:
                    s.got[q] += 1
                elif status == 400:
                    s.refused[q] += 1
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = handle_any
    do_PUT = handle_any


def serve(sink):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), type("H", (Handler,), {"sink": sink}))
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, srv.server_address[1]


d = testlib.tmpdir()

# --- 1: 2xx, 429 + Retry-After, 500; NDJSON, gzip, auth, headers --------------------------
N = 20000
s1 = Sink()
s1.script = {2: (429, {"Retry-After": "1"}, b"slow down"), 4: (500, {}, b"oops")}
s1.expect = {"Authorization": "Basic " + base64.b64encode(b"shipper:pw").decode(),
             "X-Tenant": "blue", "Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}
srv1, p1 = serve(s1)
conf = """data_dir: {dir}/data1
http: { listen: 127.0.0.1:{port} }
inputs:
  - type: generate
    count: %d
    rate: 0
    size: 50
outputs:
  - type: http
    url: http://127.0.0.1:%d/ingest
    compress: gzip
    user: shipper
    password: pw
    headers: { X-Tenant: blue }
    max_batch_bytes: 256KiB
    retry_initial: 20ms
    retry_max: 100ms
""" % (N, p1)
a = agentlib.Agent(d, conf, "http1")
testlib.ok(a.start(), "agent starts with generate -> http")
testlib.wait_for(lambda: len(s1.got) >= N, timeout=120, interval=0.1)
a.wait_metric("logship_output_events_total", N, timeout=30, output="http")
testlib.ok(a.stop() == 0, "SIGTERM: exit 0")
with s1.lock:
    missing = [q for q in range(1, N + 1) if not s1.got[q]]
    reqs = list(s1.requests)
testlib.ok(not missing, "every sequence acknowledged by a 2xx (%d missing, %d requests)" % (len(missing), len(reqs)))
testlib.ok(not s1.bad, "every request carried basic auth, the extra header, NDJSON type and gzip %s" % s1.bad[:2])
testlib.ok(len(reqs) >= 5 and reqs[1][2] == 429 and reqs[2][0] - reqs[1][0] >= 0.9,
           "after 429 with Retry-After: 1 the next request waited %.2fs (backoff alone: <= 0.1s)"
           % ((reqs[2][0] - reqs[1][0]) if len(reqs) > 2 else -1))
testlib.ok(reqs[3][2] == 500 and reqs[4][2] == 200 and reqs[4][3] == reqs[3][3],
           "after a 500 the same batch is sent again and accepted")
dups = sum(1 for q in s1.got if s1.got[q] > 1)
testlib.ok(dups == 0, "no event acknowledged twice (retries resend only what failed)")
srv1.shutdown()
srv1.server_close()

# --- 2: 400 rejects the batch; json_array, PUT ------------------------------------------
N2 = 5000
s2 = Sink()
s2.reject_if = lambda seqs: any(q % 1000 == 42 for q in seqs)
s2.expect = {"Content-Type": "application/json"}
srv2, p2 = serve(s2)
conf2 = """data_dir: {dir}/data2
http: { listen: 127.0.0.1:{port} }
inputs:
  - type: generate
    count: %d
    rate: 0
    size: 50
outputs:
  - type: http
    url: 127.0.0.1:%d/put-here
    method: PUT
    format: json_array
    max_batch_bytes: 16KiB
    retry_initial: 20ms
    retry_max: 100ms
""" % (N2, p2)
a2 = agentlib.Agent(d, conf2, "http2")
testlib.ok(a2.start(), "agent starts with generate -> http (json_array, PUT)")
testlib.wait_for(lambda: len(s2.got) + len(s2.refused) >= N2, timeout=120, interval=0.1)
a2.wait_metric("logship_output_rejected_total", 1, timeout=30, output="http")
time.sleep(0.5)
rej = a2.metric("logship_output_rejected_total", output="http")
acked = a2.metric("logship_output_events_total", output="http")
testlib.ok(a2.stop() == 0, "SIGTERM: exit 0")
with s2.lock:
    lost = [q for q in range(1, N2 + 1) if not s2.got[q] and not s2.refused[q]]
    both = [q for q in range(1, N2 + 1) if s2.got[q] and s2.refused[q]]
    resent = [q for q in s2.refused if s2.refused[q] > 1]
    methods = set(r[1] for r in s2.requests)
    nref = len(s2.refused)
testlib.ok(not lost and not both, "every sequence either accepted or in a batch answered 400 (%d refused)" % nref)
testlib.ok(not resent, "a rejected batch is not sent again")
testlib.ok(all(s2.refused[q] for q in range(42, N2 + 1, 1000)), "the batches holding the bad events were the ones refused")
testlib.ok(rej == nref and acked == N2 - nref, "metrics: %s acknowledged, %s rejected" % (acked, rej))
offs = re.findall(r"event at ring offset (\d+) rejected for good: HTTP 400: \{\"error\":\"bad event in batch\"",
                  a2.log_text())
testlib.ok(len(set(offs)) == nref, "each rejected event is logged with its ring offset, the status and the body (%d)"
           % len(set(offs)))
testlib.ok(methods == {"PUT"} and not s2.bad, "json_array bodies sent with PUT")
dl = []
dlpath = os.path.join(d, "data2", "deadletter", "http.ndjson")
if os.path.exists(dlpath):
    with open(dlpath) as f:
        dl = [json.loads(x) for x in f if x.strip()]
testlib.ok(len(dl) == nref and set(x["event"]["event"]["sequence"] for x in dl) == set(s2.refused)
           and all(x["reason"].startswith("HTTP 400: {\"error\":\"bad event in batch\"") for x in dl),
           "the rejected events are in the dead-letter log with the status and body (%d)" % len(dl))
srv2.shutdown()
srv2.server_close()

# --- 3: https, verified with ca_file and server_name ----------------------------------
cert, key = certs.self_signed(d, "server", "logship-test", ["DNS:logship-test"])
s3 = Sink()
srv3, p3 = serve(s3)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv3.socket = ctx.wrap_socket(srv3.socket, server_side=True)
N3 = 1000
conf3 = """data_dir: {dir}/data3
http: { listen: 127.0.0.1:{port} }
inputs:
  - type: generate
    count: %d
    rate: 0
outputs:
  - type: http
    url: https://127.0.0.1:%d/tls
    tls: { ca_file: %s, server_name: logship-test }
""" % (N3, p3, cert)
a3 = agentlib.Agent(d, conf3, "http3")
testlib.ok(a3.start(), "agent starts with generate -> http (https)")
testlib.wait_for(lambda: len(s3.got) >= N3, timeout=60, interval=0.1)
testlib.ok(a3.stop() == 0, "SIGTERM: exit 0")
testlib.ok(len(s3.got) == N3, "https: every sequence arrived, the certificate verified as logship-test (%d)"
           % len(s3.got))
srv3.shutdown()
srv3.server_close()
testlib.finish()
