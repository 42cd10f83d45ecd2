#!/usr/bin/env python3
"""packaging/kubernetes/: the manifests parse, kustomization.yaml lists them
all, the objects have what the design asks for (agent DaemonSet with the log
hostPaths, a state hostPath, tolerations for every node, resources, probes on
/health and /ready, a ServiceAccount; broker StatefulSet with a PVC, headless
and client Services on 9092, a PodDisruptionBudget), the ConfigMaps' configs
pass `logship --check` / `logship-broker --check`, and every object validates
against the Kubernetes API's schemas.

Schema validation runs offline in the sense that matters: kubernetes-models
(npm; the OpenAPI schemas of the API compiled to validators) is installed from
tests/tools/k8s/package-lock.json into build/k8s-validate/ with `npm ci` the
first time (the npm registry is reachable here and in CI), then reused. No
node/npm or no registry: that part reports SKIP and the structural checks
below still run. Python side: python3-yaml (packages.txt)."""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import testlib  # noqa: E402

import yaml  # noqa: E402

ok = testlib.ok
K = os.path.join(testlib.ROOT, "packaging", "kubernetes")
d = testlib.tmpdir()

# ---- parse ------------------------------------------------------------------
kust = yaml.safe_load(open(os.path.join(K, "kustomization.yaml")))
ok(kust.get("kind") == "Kustomization" and kust.get("apiVersion", "").startswith("kustomize.config.k8s.io/"),
   "kustomization.yaml is a Kustomization")
resources = kust.get("resources") or []
files = sorted(f for f in os.listdir(K) if f.endswith((".yaml", ".yml")) and f != "kustomization.yaml")
ok(sorted(resources) == files, "kustomization.yaml lists every manifest in the folder (%s)" % ", ".join(files))
ok(kust.get("namespace") == "logship", "kustomization sets the namespace (logship)")

objs = []
for f in resources:
    try:
        with open(os.path.join(K, f)) as fh:
            docs = [x for x in yaml.safe_load_all(fh) if x]
        ok(bool(docs), "%s parses as YAML" % f)
        for x in docs:
            x["_file"] = f
            objs.append(x)
    except (OSError, yaml.YAMLError) as e:
        ok(False, "%s parses as YAML: %s" % (f, e))

by = {}
for o in objs:
    ok(all(k in o for k in ("apiVersion", "kind", "metadata")) and o["metadata"].get("name"),
       "%s: %s has apiVersion, kind, metadata.name" % (o["_file"], o.get("kind")))
    by.setdefault(o["kind"], []).append(o)


def one(kind, name):
    for o in by.get(kind, []):
        if o["metadata"]["name"] == name:
            return o
    return None


# ---- the agent ----------------------------------------------------------------
ds = one("DaemonSet", "logship-agent")
ok(ds is not None and ds["apiVersion"] == "apps/v1", "agent: DaemonSet logship-agent (apps/v1)")
ds = ds or {"spec": {"template": {"spec": {"containers": [{}]}}}}
pod = ds["spec"]["template"]["spec"]
c = (pod.get("containers") or [{}])[0]
sel = ds["spec"].get("selector", {}).get("matchLabels", {})
labels = ds["spec"]["template"].get("metadata", {}).get("labels", {})
ok(sel and all(labels.get(k) == v for k, v in sel.items()), "agent: selector matches the pod labels")
sa = pod.get("serviceAccountName")
ok(sa and one("ServiceAccount", sa) is not None, "agent: runs as its ServiceAccount (%s)" % sa)
tol = pod.get("tolerations") or []
ok(any(t.get("operator") == "Exists" and not t.get("key") and not t.get("effect") for t in tol),
   "agent: tolerates every taint (operator: Exists), so it runs on every node")
vols = {v["name"]: v for v in pod.get("volumes", [])}
mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}


def host_mount(path):
    m = mounts.get(path)
    v = vols.get(m["name"]) if m else None
    return m, (v or {}).get("hostPath", {}).get("path")


for p in ("/var/log", "/var/log/pods", "/var/log/containers"):
    m, hp = host_mount(p)
    ok(m is not None and hp == p and m.get("readOnly") is True, "agent: hostPath %s mounted read-only" % p)
m, hp = host_mount("/var/lib/logship")
ok(m is not None and hp and not m.get("readOnly"), "agent: state hostPath (%s) mounted writable at /var/lib/logship" % hp)
res = c.get("resources", {})
ok(all(k in res.get("requests", {}) for k in ("cpu", "memory")) and "memory" in res.get("limits", {}),
   "agent: resource requests (cpu, memory) and a memory limit")
port = next((p for p in c.get("ports", []) if p.get("containerPort") == 2020), None)
ok(port is not None, "agent: status port 2020 declared")


def probe_ok(pr, path):
    g = (pr or {}).get("httpGet", {})
    return g.get("path") == path and g.get("port") in (2020, (port or {}).get("name"))


ok(probe_ok(c.get("livenessProbe"), "/health"), "agent: livenessProbe GET /health on the status port")
ok(probe_ok(c.get("readinessProbe"), "/ready"), "agent: readinessProbe GET /ready on the status port")
args = (c.get("command") or []) + (c.get("args") or [])
ok(args[:3] == ["logship", "-c", "/etc/logship/logship.yaml"], "agent: runs logship -c /etc/logship/logship.yaml")
cm_vol = next((v for v in vols.values() if "configMap" in v), None)
cm = one("ConfigMap", (cm_vol or {}).get("configMap", {}).get("name", ""))
ok(cm is not None and mounts.get("/etc/logship", {}).get("name") == (cm_vol or {}).get("name"),
   "agent: its ConfigMap is mounted at /etc/logship")
sc = c.get("securityContext", {})
ok(sc.get("allowPrivilegeEscalation") is False and sc.get("readOnlyRootFilesystem") is True
   and "ALL" in sc.get("capabilities", {}).get("drop", []),
   "agent: no privilege escalation, read-only root filesystem, capabilities dropped")

conf_text = (cm or {}).get("data", {}).get("logship.yaml", "")
conf = yaml.safe_load(conf_text) if conf_text else {}
tails = [i for i in conf.get("inputs", []) if i.get("type") == "tail"]
ok(any(i.get("paths") == ["/var/log/containers/*.log"] and i.get("parser") == "cri" for i in tails),
   "agent config: tail /var/log/containers/*.log with parser: cri")
kafka = [o for o in conf.get("outputs", []) if o.get("type") == "kafka"]
ok(kafka and kafka[0].get("brokers") == ["logship-broker:9092"],
   "agent config: kafka output to the broker's client Service (logship-broker:9092)")
ok(conf.get("http", {}).get("listen", "").endswith(":2020") and not conf["http"]["listen"].startswith("127."),
   "agent config: status endpoint on all interfaces, port 2020 (for the kubelet's probes)")
ok(conf.get("data_dir") == "/var/lib/logship", "agent config: data_dir is the state hostPath")
cf = os.path.join(d, "logship.yaml")
with open(cf, "w") as f:
    f.write(conf_text)
r = testlib.run([testlib.bin_path("logship"), "--check", "-c", cf], timeout=30)
ok(r.returncode == 0, "agent config from the ConfigMap passes logship --check%s"
   % ("" if r.returncode == 0 else ": " + r.stderr.decode(errors="replace").strip()))

# ---- the broker -----------------------------------------------------------------
ss = one("StatefulSet", "logship-broker")
ok(ss is not None and ss["apiVersion"] == "apps/v1", "broker: StatefulSet logship-broker (apps/v1)")
ss = ss or {"spec": {"template": {"spec": {"containers": [{}]}}}}
bpod = ss["spec"]["template"]["spec"]
bc = (bpod.get("containers") or [{}])[0]
ok(ss["spec"].get("replicas") == 1, "broker: one replica (a single-node broker)")
vct = ss["spec"].get("volumeClaimTemplates") or []
ok(vct and vct[0]["spec"]["resources"]["requests"].get("storage"), "broker: a PersistentVolumeClaim template")
bm = {m["mountPath"]: m["name"] for m in bc.get("volumeMounts", [])}
ok(vct and bm.get("/var/lib/logship-broker") == vct[0]["metadata"]["name"],
   "broker: the PVC is mounted at data_dir (/var/lib/logship-broker)")
headless = one("Service", ss["spec"].get("serviceName", ""))
ok(headless is not None and headless["spec"].get("clusterIP") == "None",
   "broker: serviceName is a headless Service (%s)" % ss["spec"].get("serviceName"))
client = one("Service", "logship-broker")
ok(client is not None and client["spec"].get("clusterIP") != "None"
   and any(p.get("port") == 9092 for p in client["spec"].get("ports", [])),
   "broker: client Service logship-broker on 9092")
bsel = ss["spec"].get("selector", {}).get("matchLabels", {})
blabels = ss["spec"]["template"].get("metadata", {}).get("labels", {})
ok(bsel and all(blabels.get(k) == v for k, v in bsel.items()), "broker: selector matches the pod labels")
for svc in (headless, client):
    if svc:
        ok(all(blabels.get(k) == v for k, v in svc["spec"].get("selector", {}).items()),
           "broker: Service %s selects the broker pods" % svc["metadata"]["name"])
pdb = by.get("PodDisruptionBudget", [None])[0]
ok(pdb is not None and pdb["apiVersion"] == "policy/v1"
   and all(blabels.get(k) == v for k, v in pdb["spec"]["selector"]["matchLabels"].items()),
   "broker: a PodDisruptionBudget (policy/v1) selecting the broker")
ok(any(p.get("containerPort") == 9092 for p in bc.get("ports", [])), "broker: container port 9092")
ok(bpod.get("securityContext", {}).get("runAsNonRoot") is True, "broker: runs as non-root")
bres = bc.get("resources", {})
ok("requests" in bres and "limits" in bres, "broker: resource requests and limits")
bcm_name = next((v["configMap"]["name"] for v in bpod.get("volumes", []) if "configMap" in v), "")
bcm = one("ConfigMap", bcm_name)
btext = (bcm or {}).get("data", {}).get("broker.yaml", "")
bf = os.path.join(d, "broker.yaml")
with open(bf, "w") as f:
    f.write(btext)
env = {"POD_NAME": "logship-broker-0", "POD_NAMESPACE": "logship"}
ok(all(e["name"] in env for e in bc.get("env", [])) and len(bc.get("env", [])) == 2,
   "broker: POD_NAME and POD_NAMESPACE from the downward API")
r = testlib.run([testlib.bin_path("logship-broker"), "--check", "-c", bf], timeout=30, env=env)
out = r.stdout.decode(errors="replace")
ok(r.returncode == 0, "broker config from the ConfigMap passes logship-broker --check%s"
   % ("" if r.returncode == 0 else ": " + r.stderr.decode(errors="replace").strip()))
ok("data_dir: /var/lib/logship-broker" in out and "listen: 0.0.0.0:9092" in out
   and "advertised_host: logship-broker-0.logship-broker-headless.logship.svc" in out,
   "broker config: listens on 9092, data on the PVC, advertises the pod's stable name")

# ---- schemas ------------------------------------------------------------------------
tooldir = os.path.join(testlib.ROOT, "tests", "tools", "k8s")
vdir = os.path.join(testlib.BUILD if os.path.isdir(testlib.BUILD) else testlib.ROOT, "k8s-validate")
node, npm = shutil.which("node"), shutil.which("npm")
ready = os.path.isdir(os.path.join(vdir, "node_modules", "kubernetes-models"))
why = ""
if not ready and node and npm:
    os.makedirs(vdir, exist_ok=True)
    for f in ("package.json", "package-lock.json"):
        shutil.copy(os.path.join(tooldir, f), vdir)
    try:
        r = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=vdir, timeout=180,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        ready = r.returncode == 0
        why = r.stdout.decode(errors="replace").strip()[-300:]
    except subprocess.TimeoutExpired:
        why = "npm ci timed out"
elif not (node and npm):
    why = "node/npm not installed"
if ready:
    shutil.copy(os.path.join(tooldir, "validate.mjs"), vdir)
    clean = [{k: v for k, v in o.items() if k != "_file"} for o in objs]
    r = subprocess.run([node, os.path.join(vdir, "validate.mjs")], input=json.dumps(clean).encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60, cwd=vdir)
    lines = r.stdout.decode(errors="replace").splitlines()
    for ln in lines:
        status, _, rest = ln.partition(" ")
        ok(status == "ok", "schema (kubernetes-models): %s" % rest)
    ok(r.returncode == 0 and len(lines) == len(objs), "schema validation covered all %d objects" % len(objs))
    # The validator does reject a broken object (a negative control).
    broken = json.loads(json.dumps([clean[[o["kind"] for o in objs].index("DaemonSet")]]))
    broken[0]["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "2020x"
    r = subprocess.run([node, os.path.join(vdir, "validate.mjs")], input=json.dumps(broken).encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60, cwd=vdir)
    ok(r.returncode == 1, "schema validation rejects a DaemonSet with a string containerPort")
else:
    ok(True, "schema validation # SKIP kubernetes-models unavailable: %s" % why)

testlib.finish()
