#!/usr/bin/env python3
"""The elasticsearch output end to end: generate -> ring -> elasticsearch.

Elasticsearch is stood in for by an in-process threaded http.server that
implements `POST /_bulk` as Elasticsearch documents it (the Bulk API
reference): an NDJSON body of action/source line pairs (gzip when the request
says Content-Encoding: gzip), answered with HTTP 200 and one item per action,
in order, each with its own status, and "errors": true when any item failed;
`create` of an _id that exists is a 409 version_conflict_engine_exception;
429 es_rejected_execution_exception for an overloaded item; 400
mapper_parsing_exception for a document that does not fit the mapping. It
keeps every document it indexed, by _id.

What is checked, counting every event.sequence at the far end:
  - mixed per-item results inside HTTP 200: the 429 items (and only those)
    are retried by the agent and accepted later; mapping errors are rejected
    for good (never accepted, reason logged with the ring offset, counted,
    written with the reason to data_dir/deadletter/elasticsearch.ndjson);
    everything else accepted; none lost; dedupe ids + op_type create make
    replays 409s, so every sequence is stored exactly once;
  - a connection dropped mid-response and responses slower than `timeout`:
    the whole request is retried, nothing lost;
  - the index name is the strftime pattern on the event time (UTC), basic auth
    from password_file, gzip bodies;
  - none acknowledged early: while the server answers 503 to every request,
    the agent's acknowledged count and durable cursor stay at 0; once it
    recovers, everything arrives (API key auth, op_type index, no ids);
  - kill -9 of the agent mid-way and a restart on the same data_dir: still
    every sequence accepted, none lost.
"""
import base64
import collections
import gzip
import http.server
import json
import os
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import agentlib  # noqa: E402
import testlib  # noqa: E402


class FakeES:
    """State of the stand-in cluster; the handler below serves it."""

    def __init__(self):
        self.lock = threading.Lock()
        self.docs = {}                        # _id (or generated) -> seq
        self.stored = collections.Counter()   # seq -> documents holding it
        self.attempts = collections.Counter()  # seq -> times seen in a request
        self.rejected = collections.Counter()  # seq -> mapping errors answered
        self.conflicts = 0
        self.requests = 0
        self.bad_index = 0
        self.auth = None                      # expected Authorization header
        self.auth_failures = 0
        self.mode = "normal"                  # normal | down
        self.drop_requests = set()            # request numbers answered with a cut response
        self.slow_requests = set()            # request numbers answered too late
        self.slow_s = 0
        self.delay_s = 0.0                    # every request
        self.reject_mod = 50                  # seq % reject_mod == 7: mapping error
        self.throttle_mod = 10                # seq % throttle_mod == 3: first attempt 429
        self.next_auto = 0

    def item(self, op, meta, src):
        seq = src.get("event", {}).get("sequence")
        self.attempts[seq] += 1
        ts = src.get("@timestamp", "")
        want = "logs-" + ts[:10].replace("-", ".")
        if meta.get("_index") != want and meta.get("_index") != "plain-logs":
            self.bad_index += 1
        if self.reject_mod and seq % self.reject_mod == 7:
            self.rejected[seq] += 1
            return {"status": 400, "error": {
                "type": "mapper_parsing_exception",
                "reason": "failed to parse field [event.sequence] of type [date] in document with id "
                          "'%s'. Preview of field's value: '%s'" % (meta.get("_id"), seq),
                "caused_by": {"type": "illegal_argument_exception", "reason": "nope"}}}
        if self.throttle_mod and seq % self.throttle_mod == 3 and self.attempts[seq] == 1:
            return {"status": 429, "error": {"type": "es_rejected_execution_exception",
                                             "reason": "rejected execution of coordinating operation"}}
        _id = meta.get("_id")
        if _id is None:
            self.next_auto += 1
            _id = "auto-%d" % self.next_auto
        elif _id in self.docs:
            if op == "create":
                self.conflicts += 1
                return {"status": 409, "error": {
                    "type": "version_conflict_engine_exception",
                    "reason": "[%s]: version conflict, document already exists (current version [1])" % _id}}
            self.stored[self.docs[_id]] -= 1
        self.docs[_id] = seq
        self.stored[seq] += 1
        return {"_index": meta.get("_index"), "_id": _id, "_version": 1, "result": "created",
                "_shards": {"total": 2, "successful": 1, "failed": 0}, "status": 201}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"            # keep-alive, as Elasticsearch
    es = None

    def log_message(self, *a):
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        es = self.es
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        if self.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        with es.lock:
            es.requests += 1
            num = es.requests
            mode = es.mode
        if es.delay_s:
            time.sleep(es.delay_s)
        if not self.path.startswith("/_bulk"):
            return self.reply(404, {"error": "no handler for %s" % self.path, "status": 404})
        if es.auth and self.headers.get("Authorization") != es.auth:
            with es.lock:
                es.auth_failures += 1
            return self.reply(401, {"error": {"type": "security_exception"}, "status": 401})
        if mode == "down":
            return self.reply(503, {"error": {"type": "cluster_block_exception",
                                              "reason": "blocked by: [SERVICE_UNAVAILABLE/1/state not recovered]"},
                                    "status": 503})
        lines = raw.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        items, errors = [], False
        with es.lock:
            for i in range(0, len(lines), 2):
                action = json.loads(lines[i])
                op, meta = next(iter(action.items()))
                res = es.item(op, meta, json.loads(lines[i + 1]))
                errors |= res["status"] >= 300
                items.append({op: res})
        resp = {"took": 3, "errors": errors, "items": items}
        if num in es.drop_requests:
            # indexed, but the answer is cut off and the connection dropped
            body = json.dumps(resp).encode()
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                             % len(body) + body[:len(body) // 3])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        if num in es.slow_requests:
            time.sleep(es.slow_s)
        try:
            self.reply(200, resp)
        except OSError:
            self.close_connection = True


def serve(es):
    h = type("H", (Handler,), {"es": es})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), h)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, srv.server_address[1]


def settled(es, n, rejects):
    with es.lock:
        got = sum(1 for s in range(1, n + 1) if es.stored[s] > 0)
        rej = sum(1 for s in range(1, n + 1) if es.rejected[s] > 0)
    return got + rej >= n and rej >= rejects


d = testlib.tmpdir()

# --- 1: mixed per-item results, drops, slow responses -------------------------------
N = 20000
REJ = [s for s in range(1, N + 1) if s % 50 == 7]
es = FakeES()
es.drop_requests = {3, 9, 20}
es.slow_requests = {5, 14}
es.slow_s = 2.5
es.auth = "Basic " + base64.b64encode(b"elastic:changeme").decode()
srv, esport = serve(es)
agentlib.write(os.path.join(d, "es.pw"), "changeme\n")
conf = """data_dir: {dir}/data1
http: { listen: 127.0.0.1:{port} }
inputs:
  - type: generate
    count: %d
    rate: 0
    size: 20
outputs:
  - type: elasticsearch
    hosts: ["http://127.0.0.1:%d"]
    index: "logs-%%Y.%%m.%%d"
    op_type: create
    dedupe: true
    compress: gzip
    user: elastic
    password_file: {dir}/es.pw
    max_batch_events: 500
    timeout: 1500ms
    retry_initial: 50ms
    retry_max: 500ms
""" % (N, esport)
a = agentlib.Agent(d, conf, "mixed")
testlib.ok(a.start(), "agent starts with generate -> elasticsearch")
done = testlib.wait_for(lambda: settled(es, N, len(REJ)), timeout=180, interval=0.2)
testlib.ok(done, "every sequence was accepted or rejected (%d requests)" % es.requests)
a.wait_metric("logship_output_events_total", N - len(REJ), timeout=30, output="elasticsearch")
out = a.metric("logship_output_events_total", output="elasticsearch")
rejm = a.metric("logship_output_rejected_total", output="elasticsearch")
testlib.ok(a.stop() == 0, "SIGTERM: exit 0")
with es.lock:
    lost = [s for s in range(1, N + 1) if es.stored[s] == 0 and es.rejected[s] == 0]
    dup = [s for s in range(1, N + 1) if es.stored[s] > 1]
    accepted_rejects = [s for s in REJ if es.stored[s]]
    throttled = [s for s in range(1, N + 1) if s % 10 == 3 and s % 50 != 7]
    retried_ok = all(es.attempts[s] >= 2 and es.stored[s] == 1 for s in throttled)
    once = [s for s in range(1, N + 1) if s % 10 != 3 and s % 50 != 7 and es.stored[s] != 1]
testlib.ok(not lost, "none lost (%d missing, e.g. %s)" % (len(lost), lost[:5]))
testlib.ok(not dup and not once, "every accepted sequence stored exactly once (dedupe ids, %d 409s on replay)"
           % es.conflicts)
testlib.ok(retried_ok, "items answered 429 were retried and accepted later (%d of them)" % len(throttled))
testlib.ok(not accepted_rejects and all(es.rejected[s] >= 1 for s in REJ),
           "mapping errors are never accepted (%d rejected)" % len(REJ))
log = a.log_text()
offs = set(int(m) for m in re.findall(r"event at ring offset (\d+) rejected for good: HTTP 400 "
                                     r"mapper_parsing_exception: failed to parse field", log))
testlib.ok(len(offs) == len(REJ) and all((o + 1) % 50 == 7 for o in offs),
           "each rejection is logged once with its ring offset and reason (%d logged)" % len(offs))
dl = []
dlpath = os.path.join(d, "data1", "deadletter", "elasticsearch.ndjson")
if os.path.exists(dlpath):
    with open(dlpath) as f:
        dl = [json.loads(x) for x in f if x.strip()]
testlib.ok(len(dl) == len(REJ) and sorted(x["event"]["event"]["sequence"] for x in dl) == REJ
           and all(x["reason"].startswith("HTTP 400 mapper_parsing_exception: failed to parse") for x in dl),
           "every rejected event is in the dead-letter log with its reason (%d)" % len(dl))
testlib.ok(rejm == len(REJ) and out == N - len(REJ),
           "metrics: %s acknowledged, %s rejected" % (out, rejm))
testlib.ok(es.bad_index == 0, "index names are logs-%Y.%m.%d of the event time (UTC)")
testlib.ok(es.auth_failures == 0, "basic auth from password_file")
testlib.ok(re.search(r"unreadable _bulk response|transfer closed|Operation timed out|Timeout", log) is not None,
           "dropped and slow responses were seen as whole-request failures and retried")
srv.shutdown()
srv.server_close()

# --- 2: nothing acknowledged before Elasticsearch says so ------------------------------
N2 = 3000
es2 = FakeES()
es2.mode = "down"
es2.reject_mod = 0
es2.throttle_mod = 0
es2.auth = "ApiKey c2VjcmV0OmtleQ=="
srv2, port2 = serve(es2)
conf2 = """data_dir: {dir}/data2
http: { listen: 127.0.0.1:{port} }
inputs:
  - type: generate
    count: %d
    rate: 0
outputs:
  - type: elasticsearch
    hosts: ["127.0.0.1:%d"]
    index: plain-logs
    api_key: c2VjcmV0OmtleQ==
    retry_initial: 50ms
    retry_max: 300ms
    commit_interval: 100ms
""" % (N2, port2)
a2 = agentlib.Agent(d, conf2, "down")
testlib.ok(a2.start(), "agent starts against a cluster that answers 503")
testlib.wait_for(lambda: es2.requests >= 5, timeout=30)
time.sleep(1)
st = a2.status()
testlib.ok((a2.metric("logship_output_events_total", output="elasticsearch") or 0) == 0
           and st and st["outputs"][0]["cursor"] == 0 and st["outputs"][0]["lag_events"] == N2,
           "while every request gets 503: nothing acknowledged, cursor stays at 0 (%d requests)" % es2.requests)
testlib.ok(st and "503" in (st["outputs"][0]["last_error"] or ""), "/status shows the 503 as last_error")
es2.mode = "normal"
testlib.wait_for(lambda: settled(es2, N2, 0), timeout=60, interval=0.1)
testlib.ok(a2.stop() == 0, "SIGTERM: exit 0")
testlib.ok(all(es2.stored[s] == 1 for s in range(1, N2 + 1)) and es2.auth_failures == 0,
           "after recovery every sequence arrives once (op_type index, API key)")
srv2.shutdown()
srv2.server_close()

# --- 3: kill -9 mid-way, restart: nothing lost ------------------------------------------------
N3 = 40000
es3 = FakeES()
es3.reject_mod = 0
es3.delay_s = 0.05
srv3, port3 = serve(es3)
conf3 = conf.replace("data1", "data3").replace(str(esport), str(port3)).replace("count: %d" % N, "count: %d" % N3)
conf3 = conf3.replace("    user: elastic\n    password_file: {dir}/es.pw\n", "")
conf3 = conf3.replace("max_batch_events: 500", "max_batch_events: 200")
a3 = agentlib.Agent(d, conf3, "crash")
testlib.ok(a3.start(), "agent starts (crash scenario)")
# kill once the input has checkpointed every event (so the restart does not
# generate them again) while the output is still shipping
testlib.wait_for(lambda: (lambda st: st and st["inputs"][0]["checkpoint"] == str(N3))(a3.status()), timeout=60)
testlib.wait_for(lambda: len(es3.docs) >= N3 // 3, timeout=120, interval=0.05)
a3.kill9()
with es3.lock:
    before = len(es3.docs)
testlib.ok(0 < before < N3, "agent killed with SIGKILL mid-way (%d of %d indexed)" % (before, N3))
testlib.ok(a3.start(), "agent restarts on the same data_dir")
ok3 = testlib.wait_for(lambda: settled(es3, N3, 0), timeout=180, interval=0.2)
a3.wait_metric("logship_output_lag_events", 0, timeout=1)
testlib.ok(a3.stop() == 0, "SIGTERM after the restart: exit 0")
with es3.lock:
    lost3 = [s for s in range(1, N3 + 1) if es3.stored[s] == 0]
    dup3 = [s for s in range(1, N3 + 1) if es3.stored[s] > 1]
testlib.ok(ok3 and not lost3, "after kill -9 and restart: none lost (%d missing)" % len(lost3))
testlib.ok(not dup3, "what the output replayed from its cursor was answered 409 and is stored once "
           "(%d 409s)" % es3.conflicts)
srv3.shutdown()
srv3.server_close()
testlib.finish()
