#!/usr/bin/env python3
"""packaging/Dockerfile, checked statically (no container engine runs here,
and hadolint is not packaged in Debian): two stages, build on debian:bookworm
and run on debian:bookworm-slim; the runtime stage installs, by package name,
the Debian package of every shared library the binaries link directly
(readelf NEEDED -> the file ldd resolves -> dpkg -S), installs no -dev package
or compiler, copies the binaries from the build stage, runs as a non-root
numeric USER, and its CMD is `logship -c /etc/logship/logship.yaml`."""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import testlib  # noqa: E402

ok = testlib.ok
path = os.path.join(testlib.ROOT, "packaging", "Dockerfile")
text = open(path).read()

# ---- parse: join continuations, drop comments ---------------------------------
instrs = []
cur = ""
for raw in text.splitlines():
    line = raw.strip()
    if not cur and (not line or line.startswith("#")):
        continue
    if line.startswith("#"):
        continue
    if line.endswith("\\"):
        cur += line[:-1] + " "
        continue
    cur += line
    word, _, rest = cur.partition(" ")
    instrs.append((word.upper(), rest.strip()))
    cur = ""
ok(not cur, "Dockerfile: no dangling line continuation")
known = {"FROM", "RUN", "COPY", "ADD", "ENV", "ARG", "WORKDIR", "USER", "CMD", "ENTRYPOINT", "EXPOSE",
         "LABEL", "VOLUME", "HEALTHCHECK", "STOPSIGNAL", "SHELL", "ONBUILD"}
bad = [w for w, _ in instrs if w not in known]
ok(not bad, "Dockerfile: every instruction is a Dockerfile instruction%s" % (" (not: %s)" % bad if bad else ""))

stages = []
for w, rest in instrs:
    if w == "FROM":
        m = re.match(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$", rest, re.I)
        stages.append({"image": m.group(1) if m else rest, "name": (m.group(2) if m else None), "instrs": []})
    elif stages:
        stages[-1]["instrs"].append((w, rest))
ok(len(stages) == 2, "two stages (build, run): %s" % [s["image"] for s in stages])
build, run = (stages + [{"image": "", "name": None, "instrs": []}] * 2)[:2]
ok(build["image"] == "debian:bookworm" and build["name"], "build stage: FROM debian:bookworm AS %s" % build["name"])
ok(run["image"] == "debian:bookworm-slim", "runtime stage: FROM debian:bookworm-slim")


def installed(stage):
    pk = set()
    for w, rest in stage["instrs"]:
        if w != "RUN":
            continue
        for m in re.finditer(r"apt-get\s+install\s+([^&;|]*)", rest):
            pk.update(t for t in m.group(1).split() if not t.startswith("-") and "=" not in t)
    return pk


bpk, rpk = installed(build), installed(run)
ok({"build-essential", "pkg-config", "librdkafka-dev"} <= bpk, "build stage installs the toolchain and -dev packages")
ok(not [p for p in rpk if p.endswith("-dev") or p in ("build-essential", "gcc", "make", "pkg-config")],
   "runtime stage installs no -dev package and no compiler (%s)" % " ".join(sorted(rpk)))
ok(any("rm -rf /var/lib/apt/lists" in r for w, r in run["instrs"] if w == "RUN"),
   "runtime stage drops the apt lists")
ok(any("--no-install-recommends" in r for w, r in run["instrs"] if w == "RUN"),
   "runtime stage installs without recommends")

# ---- runtime libraries: what the binaries link, by Debian package -----------------
bins = [testlib.bin_path(b) for b in ("logship", "logship-broker", "logshipctl")]


def needed(b):
    out = subprocess.run(["readelf", "-d", b], stdout=subprocess.PIPE).stdout.decode()
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def resolved(b):
    out = subprocess.run(["ldd", b], stdout=subprocess.PIPE).stdout.decode()
    return {m.group(1): m.group(2) for m in re.finditer(r"^\s*(\S+) => (/\S+)", out, re.M)}


base = {"libc6"}   # in every Debian image (essential)
need = {}
for b in bins:
    res = resolved(b)
    for lib in needed(b):
        if re.match(r"lib(asan|ubsan|lsan|tsan)\.", lib):
            continue   # `make check` binaries: the sanitizer runtimes are not shipped
        f = res.get(lib)
        if not f:
            ok(False, "%s: %s resolves (ldd)" % (os.path.basename(b), lib))
            continue
        real = os.path.realpath(f)
        pkg = None
        for cand in (f, real, f.replace("/usr/lib/", "/lib/", 1), real.replace("/usr/lib/", "/lib/", 1)):
            r = subprocess.run(["dpkg", "-S", cand], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            if r.returncode == 0:
                pkg = r.stdout.decode().split(":")[0].strip()
                break
        ok(pkg is not None, "%s: %s belongs to a Debian package (%s)" % (os.path.basename(b), lib, pkg))
        if pkg:
            need.setdefault(pkg, set()).add(lib)
for pkg in sorted(need):
    ok(pkg in base or pkg in rpk, "runtime stage installs %s (for %s)" % (pkg, ", ".join(sorted(need[pkg]))))
ok("ca-certificates" in rpk, "runtime stage installs ca-certificates (TLS to Elasticsearch/Kafka)")

# ---- the image's contents and how it runs -------------------------------------------
copies = [r for w, r in run["instrs"] if w == "COPY"]
for f in ("/usr/sbin/logship", "/usr/sbin/logship-broker", "/usr/bin/logshipctl", "/etc/logship/"):
    ok(any(("--from=%s" % build["name"]) in c and f in c for c in copies),
       "runtime stage copies %s from the build stage" % f)
users = [r for w, r in run["instrs"] if w == "USER"]
u = users[-1] if users else ""
uid = u.split(":")[0]
ok(uid.isdigit() and int(uid) != 0, "runtime stage: USER is a numeric non-root uid (%s)" % u)
ok(any(re.search(r"useradd\b.*--uid\s+%s\b" % re.escape(uid), r) for w, r in run["instrs"] if w == "RUN"),
   "runtime stage creates that user (useradd --uid %s)" % uid)
cmds = [r for w, r in run["instrs"] if w == "CMD"]
try:
    cmd = json.loads(cmds[-1]) if cmds else None
except ValueError:
    cmd = None
ok(cmd == ["logship", "-c", "/etc/logship/logship.yaml"], "CMD [\"logship\", \"-c\", \"/etc/logship/logship.yaml\"] (exec form)")
ok(not [r for w, r in run["instrs"] if w == "ENTRYPOINT"], "no ENTRYPOINT: the broker runs by naming it as the command")
envs = " ".join(r for w, r in run["instrs"] if w == "ENV")
ok("LOGSHIP_HTTP=0.0.0.0:2020" in envs, "the status endpoint listens beyond loopback in the container")
exposed = " ".join(r for w, r in run["instrs"] if w == "EXPOSE").split()
ok("2020" in exposed and "9092" in exposed, "EXPOSE 2020 (status) and 9092 (broker)")

# The build stage's own commands work on this tree: `make bins` and the install
# it runs (same make targets, here with the test's build dir).
ok(any("make" in r and " bins" in r for w, r in build["instrs"] if w == "RUN"), "build stage runs make bins")
ok(any("make" in r and " install " in r and "DESTDIR=/stage" in r and "PREFIX=/usr" in r
       for w, r in build["instrs"] if w == "RUN"), "build stage runs make install DESTDIR=/stage PREFIX=/usr")
ign = os.path.join(testlib.ROOT, "packaging", "Dockerfile.dockerignore")
ok(os.path.exists(ign) and "build" in open(ign).read().split(), "Dockerfile.dockerignore keeps build/ out of the context")

# The runtime package names exist in Debian 12 (apt's cache, no download).
if subprocess.run(["apt-cache", "show", "libc6"], stdout=subprocess.DEVNULL,
                  stderr=subprocess.DEVNULL).returncode != 0:
    ok(True, "runtime packages known to apt # SKIP apt has no package lists (apt-get update)")
else:
    r = subprocess.run(["apt-cache", "show", "--no-all-versions"] + sorted(rpk), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    found = set(re.findall(r"^Package: (\S+)", r.stdout.decode(), re.M))
    ok(found == rpk, "every runtime package is known to apt (%s)"
       % " ".join(sorted(rpk - found) or ["all found"]))

testlib.finish()
