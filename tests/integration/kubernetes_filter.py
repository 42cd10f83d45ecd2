#!/usr/bin/env python3
"""The kubernetes filter end to end: tail -> kubernetes filter -> ring -> file.

A local HTTPS endpoint (Python http.server + ssl, certificate made here with
`openssl req`) STANDS IN FOR THE KUBERNETES API SERVER. It answers
GET /api/v1/namespaces/{ns}/pods/{pod} and GET /api/v1/namespaces/{ns} with
the API's documented Pod and Namespace objects (the recorded responses in
tests/unit/data/kube_*.json, shaped as in the Kubernetes API reference), and
a Status object for 401 and 404. It checks the bearer token like the API
server does, and can answer slowly or not at all.

The agent tails a temp dir laid out like /var/log/containers (symlinks named
<pod>_<namespace>_<container>-<id>.log to CRI-format files) and a plain log
file, through the filter, into a file output. Checked, phase by phase:
  1. labels, namespace labels, annotations, node, uid, IP, owner
     (deployment via ReplicaSet, cronjob via Job) and container image arrive;
     each pod and namespace is fetched once however many events (requests
     de-duplicated, cached); events without kubernetes.pod.name pass untouched;
     a 404 pod's events pass unenriched; a namespace the service account may
     not read (403) costs only the namespace labels;
  2. a slow server (answer after wait_timeout): the first events go on
     unenriched, the fetch finishes in the background, later events are
     enriched;
  3. a server that never answers (request_timeout): events go on unenriched,
     the error is counted and logged;
  4. 401 (the server moved on to a new token): events go on unenriched, one
     clear log line; once the token file rotates (atomic rename, as kubelet
     does) the filter re-reads it and the same pod gets its labels;
and at the end: every line written arrives exactly once (nothing lost), and
logship_filter_unenriched_total equals the events shipped without metadata.
"""
import copy
import http.server
import json
import os
import re
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import agentlib  # noqa: E402
import testlib  # noqa: E402

d = testlib.tmpdir()
DATA = os.path.join(testlib.ROOT, "tests", "unit", "data")


def P(*a):
    return os.path.join(d, *a)


def fixture(name):
    with open(os.path.join(DATA, name)) as f:
        return json.load(f)


POD_WEB = fixture("kube_pod_deployment.json")
POD_BACKUP = fixture("kube_pod_cronjob.json")
NS_SHOP = fixture("kube_namespace.json")
STATUS_404 = fixture("kube_status_404.json")
WEB_NGINX_ID = POD_WEB["status"]["containerStatuses"][0]["containerID"].split("://")[1]
WEB_ENVOY_ID = POD_WEB["status"]["containerStatuses"][1]["containerID"].split("://")[1]


def cid(n):
    return ("%02x" % n) * 32


def pod_like(name, ns, container_id, labels):
    """A Pod object for name, made from the recorded one (same shape)."""
    p = copy.deepcopy(POD_WEB)
    p["metadata"].update(name=name, namespace=ns, uid="uid-" + name, labels=labels)
    p["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": name.rsplit("-", 1)[0],
                                         "uid": "u", "controller": True}]
    p["status"]["containerStatuses"] = [{"name": "app", "containerID": "containerd://" + container_id}]
    p["spec"]["containers"] = [{"name": "app", "image": "example/" + name + ":1"}]
    return p


# --- the stand-in API server -------------------------------------------------------
class Api:
    token = "tok-1"
    pods = {}          # "ns/pod" -> (delay seconds, status, body)
    namespaces = {"shop": NS_SHOP, "ops": {"kind": "Namespace", "apiVersion": "v1",
                                           "metadata": {"name": "ops", "labels": {"team": "sre"}}}}
    forbidden = {"restricted"}   # namespaces whose GET is refused (RBAC)
    log = []           # (path, status) per answered request
    started = []       # paths of requests received
    lock = threading.Lock()


def status_obj(code, reason, msg):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": msg, "reason": reason, "code": code}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def answer(self, code, obj):
        body = json.dumps(obj).encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass       # the client gave up (request_timeout)
        with Api.lock:
            Api.log.append((self.path, code))

    def do_GET(self):
        with Api.lock:
            Api.started.append(self.path)
        if self.headers.get("Authorization") != "Bearer " + Api.token:
            return self.answer(401, status_obj(401, "Unauthorized", "Unauthorized"))
        m = re.fullmatch(r"/api/v1/namespaces/([a-z0-9-]+)(?:/pods/([a-z0-9.-]+))?", self.path)
        if not m:
            return self.answer(404, status_obj(404, "NotFound", "the server could not find the requested resource"))
        ns, pod = m.groups()
        if pod is None:
            if ns in Api.forbidden:
                return self.answer(403, status_obj(403, "Forbidden", 'namespaces "%s" is forbidden: User '
                                                   '"system:serviceaccount:logging:logship-agent" cannot get '
                                                   'resource "namespaces" in API group "" at the cluster scope' % ns))
            if ns in Api.namespaces:
                return self.answer(200, Api.namespaces[ns])
            return self.answer(404, status_obj(404, "NotFound", 'namespaces "%s" not found' % ns))
        delay, code, body = Api.pods.get(ns + "/" + pod, (0, 404, STATUS_404))
        if delay:
            time.sleep(delay)
        self.answer(code, body)


class TLSServer(http.server.ThreadingHTTPServer):
    daemon_threads = True


def requests_for(path):
    with Api.lock:
        return sum(1 for p, _ in Api.log if p == path)


testlib.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", P("key.pem"), "-out",
             P("cert.pem"), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
            check=True)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(P("cert.pem"), P("key.pem"))
server = TLSServer(("127.0.0.1", 0), Handler)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
api_port = server.server_address[1]
threading.Thread(target=server.serve_forever, daemon=True).start()

Api.pods["shop/web-7d4b9c8f5-x2x7k"] = (0, 200, POD_WEB)
Api.pods["ops/backup-29384710-q8z4m"] = (0, 200, POD_BACKUP)
Api.pods["restricted/api-0"] = (0, 200, pod_like("api-0", "restricted", cid(9), {"app": "api"}))
# shop/gone-1 is not listed: 404.


def set_token(value):
    """Rotates the token file the way kubelet does: a new file renamed over."""
    with open(P("token.tmp"), "w") as f:
        f.write(value + "\n")
    os.rename(P("token.tmp"), P("token"))


set_token("tok-1")

# --- the log files --------------------------------------------------------------------
os.makedirs(P("containers"))
os.makedirs(P("plain"))
written = {}      # container log name -> lines written


def container_log(pod, ns, container, container_id):
    """A kubelet-style pod log dir and the /var/log/containers symlink to it."""
    real = P("pods", "%s_%s_uid" % (ns, pod), container)
    os.makedirs(real, exist_ok=True)
    target = os.path.join(real, "0.log")
    open(target, "a").close()
    link = P("containers", "%s_%s_%s-%s.log" % (pod, ns, container, container_id))
    os.symlink(target, link)
    return target


def cri(path, key, n, start=0):
    """Appends n CRI lines "key-i" to path."""
    with open(path, "a") as f:
        for i in range(start, start + n):
            f.write("2026-11-25T10:00:00.%09dZ stdout F %s-%d\n" % (i, key, i))
    written[key] = written.get(key, 0) + n


conf = """data_dir: {dir}/data
http: { listen: 127.0.0.1:{port} }
buffer: { batch_timeout: 20ms, fsync_interval: 100ms }
inputs:
  - { type: tail, name: pods, paths: [{dir}/containers/*.log], read_from_head: true, parser: cri }
  - { type: tail, name: plain, paths: [{dir}/plain/*.log], read_from_head: true }
filters:
  - type: kubernetes
    name: k8s
    kube_url: https://127.0.0.1:%d/
    token_file: {dir}/token
    ca_file: {dir}/cert.pem
    annotations: true
    wait_timeout: 3s
    request_timeout: 7s
    retry_interval: 1s
    error_log_interval: 1h
outputs:
  - { type: file, path: {dir}/out.ndjson, rotate_bytes: 0 }
""" % api_port

_evs = []
_at = [0]


def events():
    OUT = P("out.ndjson")
    if os.path.exists(OUT):
        with open(OUT, "rb") as f:
            f.seek(_at[0])
            for raw in f:
                if not raw.endswith(b"\n"):
                    break
                _at[0] += len(raw)
                _evs.append(json.loads(raw))
    return _evs


def of(key):
    return [e for e in events() if e.get("message", "").startswith(key + "-")]


def wait_n(key, n, timeout=20):
    testlib.wait_for(lambda: len(of(key)) >= n, timeout=timeout, interval=0.1)
    return of(key)


def k8s(e):
    return e.get("kubernetes", {})


# Phase 1 files exist before the start: the first events of each pod wait
# for its fetch (the server answers at once).
web = container_log("web-7d4b9c8f5-x2x7k", "shop", "nginx", WEB_NGINX_ID)
sidecar = container_log("web-7d4b9c8f5-x2x7k", "shop", "envoy-sidecar", WEB_ENVOY_ID)
backup = container_log("backup-29384710-q8z4m", "ops", "backup", cid(3))
gone = container_log("gone-1", "shop", "app", cid(4))
restricted = container_log("api-0", "restricted", "app", cid(9))
cri(restricted, "api", 10)
cri(web, "web", 200)
cri(sidecar, "sidecar", 50)
cri(backup, "backup", 20)
cri(gone, "gone", 30)
with open(P("plain", "app.log"), "w") as f:
    for i in range(10):
        f.write("plain-%d\n" % i)
written["plain"] = 10

a = agentlib.Agent(d, conf, "k8s")
if not testlib.ok(a.start(), "agent starts with a kubernetes filter against the stand-in API server"):
    testlib.diag(a.log_text()[-3000:])
    testlib.finish()

# --- phase 1 ---------------------------------------------------------------------------
ws = wait_n("web", 200)
ss = wait_n("sidecar", 50)
bs = wait_n("backup", 20)
gs = wait_n("gone", 30)
rs = wait_n("api", 10)
ps = wait_n("plain", 10)
testlib.ok(len(ws) == 200 and len(ss) == 50 and len(bs) == 20 and len(gs) == 30 and len(ps) == 10,
           "phase 1: every line arrives (web %d/200, sidecar %d/50, backup %d/20, gone %d/30, plain %d/10)"
           % (len(ws), len(ss), len(bs), len(gs), len(ps)))
w0 = ws[0]
kw = k8s(w0)
testlib.ok(all(k8s(e).get("labels") == {"app": "web", "app_kubernetes_io/name": "web",
                                       "app_kubernetes_io/version": "1.25.3", "pod-template-hash": "7d4b9c8f5",
                                       "tier": 'front "end"'} for e in ws + ss),
           "pod labels on every event of both containers, dedotted (kubernetes.labels.*)")
testlib.ok(kw.get("namespace_labels") == {"kubernetes_io/metadata_name": "shop", "team": "checkout",
                                          "pod-security_kubernetes_io/enforce": "baseline"},
           "namespace labels (kubernetes.namespace_labels.*)")
testlib.ok(kw.get("annotations", {}).get("prometheus_io/scrape") == "true", "annotations when asked (annotations: true)")
testlib.ok(kw.get("node", {}).get("name") == "node-a3" and
           kw.get("pod", {}).get("uid") == "5f0c3e2a-8a57-4bd4-9a1e-2f6b1c1d9e01" and
           kw.get("pod", {}).get("ip") == "10.244.3.41" and kw.get("pod", {}).get("name") == "web-7d4b9c8f5-x2x7k",
           "node name, pod uid and IP beside the tail input's pod name")
testlib.ok(kw.get("deployment", {}).get("name") == "web" and kw.get("replicaset", {}).get("name") == "web-7d4b9c8f5",
           "owner: kubernetes.deployment.name from the ReplicaSet (pod-template-hash)")
testlib.ok(w0.get("container", {}).get("image", {}).get("name") == "nginx:1.25.3" and
           ss[0].get("container", {}).get("image", {}).get("name") == "envoyproxy/envoy:v1.28.0" and
           kw.get("container", {}).get("name") == "nginx" and kw.get("namespace") == "shop",
           "container.image.name per container; the tail input's fields are kept")
kb = k8s(bs[0])
testlib.ok(kb.get("job", {}).get("name") == "backup-29384710" and kb.get("cronjob", {}).get("name") == "backup" and
           kb.get("namespace_labels") == {"team": "sre"}, "owner: kubernetes.job.name and kubernetes.cronjob.name")
testlib.ok(all("labels" not in k8s(e) and "uid" not in k8s(e).get("pod", {}) for e in gs) and
           all(k8s(e).get("pod", {}).get("name") == "gone-1" for e in gs),
           "404 (pod gone): events pass with the tail input's fields only")
testlib.ok(len(rs) == 10 and all(k8s(e).get("labels") == {"app": "api"} and "namespace_labels" not in k8s(e)
                                 for e in rs) and "may not get namespaces" in a.log_text(),
           "403 on the namespace: the pod still gets its labels, the log says what to grant")
testlib.ok(all("kubernetes" not in e for e in ps), "events without kubernetes.pod.name pass untouched")
testlib.ok(requests_for("/api/v1/namespaces/shop/pods/web-7d4b9c8f5-x2x7k") == 1 and
           requests_for("/api/v1/namespaces/shop") == 1 and requests_for("/api/v1/namespaces/shop/pods/gone-1") == 1,
           "one request per pod and per namespace for %d events (web %d, shop %d, gone %d)" % (
               len(ws) + len(ss) + len(gs), requests_for("/api/v1/namespaces/shop/pods/web-7d4b9c8f5-x2x7k"),
               requests_for("/api/v1/namespaces/shop"), requests_for("/api/v1/namespaces/shop/pods/gone-1")))
# Cached: more lines of a known pod are enriched without a new request.
cri(web, "web", 100, start=200)
ws = wait_n("web", 300)
testlib.ok(len(ws) == 300 and all("labels" in k8s(e) for e in ws) and
           requests_for("/api/v1/namespaces/shop/pods/web-7d4b9c8f5-x2x7k") == 1,
           "a cached pod's later events are enriched without asking again")

# --- phase 2: a slow server --------------------------------------------------------------
SLOW_DELAY = 5.0   # > wait_timeout (3s), < request_timeout (7s); generous for loaded machines
Api.pods["shop/slow-0"] = (SLOW_DELAY, 200, pod_like("slow-0", "shop", cid(5), {"app": "slow"}))
slow = container_log("slow-0", "shop", "app", cid(5))
cri(slow, "slow", 5)
first = wait_n("slow", 5)
testlib.ok(len(first) == 5 and all("labels" not in k8s(e) for e in first),
           "slow server: events wait at most wait_timeout, then go on unenriched")
testlib.wait_for(lambda: requests_for("/api/v1/namespaces/shop/pods/slow-0") >= 1, timeout=10)
n = 5
got = False
deadline = time.time() + 15
while time.time() < deadline and not got:
    cri(slow, "slow", 1, start=n)
    n += 1
    evs = wait_n("slow", n)
    got = len(evs) == n and "labels" in k8s(evs[-1])
testlib.ok(got and k8s(of("slow")[-1]).get("labels") == {"app": "slow"} and
           k8s(of("slow")[-1]).get("statefulset", {}).get("name") == "slow",
           "slow server: the fetch went on in the background; later events are enriched")

# --- phase 3: no answer within request_timeout ---------------------------------------
errors_before = a.metric("logship_filter_kube_errors_total", filter="k8s") or 0
Api.pods["shop/hang-0"] = (12.0, 200, pod_like("hang-0", "shop", cid(6), {"app": "hang"}))
hang = container_log("hang-0", "shop", "app", cid(6))
cri(hang, "hang", 5)
hs = wait_n("hang", 5)
testlib.ok(len(hs) == 5 and all("labels" not in k8s(e) for e in hs), "timeout: events go on unenriched")
testlib.ok(testlib.wait_for(lambda: (a.metric("logship_filter_kube_errors_total", filter="k8s") or 0) > errors_before,
                            timeout=20),
           "timeout: the failed request is counted (logship_filter_kube_errors_total)")
testlib.ok(testlib.wait_for(lambda: "hang-0" in a.log_text() and "imeout" in a.log_text(), timeout=5),
           "timeout: logged with the request and the reason")
# A cached pod is not held up by the failing server.
cri(web, "web", 10, start=300)
ws = wait_n("web", 310)
testlib.ok(len(ws) == 310 and all("labels" in k8s(e) for e in ws[300:]),
           "cached pods keep being enriched while the API server fails")
time.sleep(1.2)    # retry_interval: the server is not "down" any more

# --- phase 4: 401, then the token rotates ---------------------------------------------
Api.token = "tok-2"       # the API server no longer accepts tok-1
Api.pods["shop/auth-0"] = (0, 200, pod_like("auth-0", "shop", cid(7), {"app": "auth"}))
auth = container_log("auth-0", "shop", "app", cid(7))
cri(auth, "auth", 5)
au = wait_n("auth", 5)
testlib.ok(len(au) == 5 and all("labels" not in k8s(e) for e in au), "401: events go on unenriched")
testlib.ok(testlib.wait_for(lambda: "401 Unauthorized" in a.log_text(), timeout=5),
           "401: a clear log line names the status and the token file")
set_token("tok-2")
n = 5
got = False
deadline = time.time() + 20
while time.time() < deadline and not got:
    cri(auth, "auth", 1, start=n)
    n += 1
    evs = wait_n("auth", n)
    got = len(evs) == n and "labels" in k8s(evs[-1])
    if not got:
        time.sleep(0.3)
testlib.ok(got and k8s(of("auth")[-1]).get("labels") == {"app": "auth"},
           "after the token file rotated, the filter re-read it and the pod is enriched")
testlib.ok(a.log_text().count("401 Unauthorized") == 1,
           "401 logged once per error_log_interval (%d lines)" % a.log_text().count("401 Unauthorized"))

# --- nothing lost, and the count of unenriched events -------------------------------------
time.sleep(0.5)
evs = events()
counts = {}
for e in evs:
    key = e.get("message", "").rsplit("-", 1)[0]
    counts[key] = counts.get(key, 0) + 1
msgs = [e.get("message") for e in evs]
testlib.ok(counts == written and len(set(msgs)) == len(msgs),
           "every line written arrived exactly once (%d events)" % len(evs))
unenriched = sum(1 for e in evs if "kubernetes" in e and "uid" not in k8s(e).get("pod", {}))
enriched = sum(1 for e in evs if "uid" in k8s(e).get("pod", {}))
testlib.ok(a.metric("logship_filter_unenriched_total", filter="k8s") == unenriched and
           a.metric("logship_filter_enriched_total", filter="k8s") == enriched,
           "logship_filter_unenriched_total = %s (events without metadata: %d), enriched_total = %s (%d)" % (
               a.metric("logship_filter_unenriched_total", filter="k8s"), unenriched,
               a.metric("logship_filter_enriched_total", filter="k8s"), enriched))

# A request that will not be answered for long is in flight at shutdown.
Api.pods["shop/stuck-0"] = (30.0, 200, pod_like("stuck-0", "shop", cid(8), {"app": "stuck"}))
cri(container_log("stuck-0", "shop", "app", cid(8)), "stuck", 1)
testlib.wait_for(lambda: "/api/v1/namespaces/shop/pods/stuck-0" in Api.started, timeout=10)
t0 = time.time()
testlib.ok(a.stop(timeout=20) == 0, "agent stops on SIGTERM with a request in flight (%.1fs)" % (time.time() - t0))
server.shutdown()
testlib.finish()
