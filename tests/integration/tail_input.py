#!/usr/bin/env python3
"""The tail input end to end, with real files in a temp dir: tail -> ring ->
file output, events read back from the NDJSON.

One agent runs several tail inputs, each on its own directory, so that every
case runs side by side: append (first start from the end), glob pick-up of
new files, rename rotation (logrotate's `create`), copytruncate, delete while
open (the descriptor is released: /proc/<pid>/fd), a 10 MiB line (whole, and
split at max_line_bytes), a last line without newline (shipped after
flush_timeout or when completed, never twice), binary garbage (valid JSON
out), a Java stack trace (multiline), CRI partial lines, docker json-file
lines, symlinked container logs with Kubernetes metadata (and kubelet-style
rotation behind the link), poll mode. Then the agent is stopped, files are
rotated and replaced (inode reuse) while it is down, and a restart must ship
everything exactly once."""
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import agentlib  # noqa: E402
import testlib  # noqa: E402

d = testlib.tmpdir()
OUT = os.path.join(d, "out.ndjson")
CID = "0123456789abcdef" * 4
names = ["append", "glob", "rename", "copytrunc", "delete", "long", "split", "partial", "binary",
         "java", "cri", "docker", "pods", "poll", "containers"]
for n in names:
    os.makedirs(os.path.join(d, n))


def P(*a):
    return os.path.join(d, *a)


def write(path, text, mode="a"):
    with open(path, mode + "b") as f:
        f.write(text if isinstance(text, bytes) else text.encode())


# Before the agent's first start: read from the end (read_from_head false).
write(P("append", "app.log"), "before-1\nbefore-2\n")
write(P("delete", "gone.log"), "")

conf = """data_dir: {dir}/data
http: { listen: 127.0.0.1:{port} }
buffer: { batch_timeout: 20ms, fsync_interval: 100ms }
inputs:
  - { type: tail, name: append, paths: [{dir}/append/*.log] }
  - { type: tail, name: glob, paths: ["{dir}/glob/*.log", "{dir}/glob/*.txt"], exclude: ["*skip*"], read_from_head: true }
  - { type: tail, name: rename, paths: [{dir}/rename/*.log], read_from_head: true, rotate_wait: 1s }
  - { type: tail, name: copytrunc, paths: [{dir}/copytrunc/*.log], read_from_head: true }
  - { type: tail, name: delete, paths: [{dir}/delete/*.log], read_from_head: true }
  - { type: tail, name: long, paths: [{dir}/long/*.log], read_from_head: true, max_line_bytes: 16MiB }
  - { type: tail, name: split, paths: [{dir}/split/*.log], read_from_head: true, max_line_bytes: 1MiB }
  - { type: tail, name: partial, paths: [{dir}/partial/*.log], read_from_head: true, flush_timeout: 1500ms }
  - { type: tail, name: binary, paths: [{dir}/binary/*.log], read_from_head: true }
  - { type: tail, name: java, paths: [{dir}/java/*.log], read_from_head: true, multiline: { preset: java, flush_timeout: 500ms } }
  - { type: tail, name: cri, paths: [{dir}/cri/*.log], read_from_head: true, parser: cri }
  - { type: tail, name: docker, paths: [{dir}/docker/*.log], read_from_head: true, parser: docker }
  - { type: tail, name: pods, paths: [{dir}/containers/*.log], read_from_head: true, parser: auto, rotate_wait: 1s }
  - { type: tail, name: poll, paths: [{dir}/poll/*.log], read_from_head: true, watcher: poll, poll_interval: 100ms, refresh_interval: 500ms }
outputs:
  - type: file
    path: {dir}/out.ndjson
    rotate_bytes: 0
"""
a = agentlib.Agent(d, conf, "tail")
testlib.ok(a.start(), "agent starts with 14 tail inputs")


_evs = []
_at = [0]


def events():
    """Every event in the output so far (read incrementally: the file grows)."""
    if not os.path.exists(OUT):
        return _evs
    with open(OUT, "rb") as f:
        f.seek(_at[0])
        for raw in f:
            if not raw.endswith(b"\n"):
                break
            _at[0] += len(raw)
            _evs.append(json.loads(raw))
    return _evs


def of(name):
    return [e for e in events() if e["log"]["file"]["path"].startswith(P(name) + "/")]


def msgs(name):
    return [e["message"] for e in of(name)]


def wait_msgs(name, want, timeout=15):
    """Waits until input `name` shipped at least `want` events."""
    testlib.wait_for(lambda: len(of(name)) >= want, timeout=timeout, interval=0.1)
    return msgs(name)


def nums(ms, prefix):
    return sorted(int(m[len(prefix):]) for m in ms if m.startswith(prefix))


time.sleep(0.3)
# --- append --------------------------------------------------------------------------
for i in range(100):
    write(P("append", "app.log"), "line-%d\n" % i)
m = wait_msgs("append", 100)
testlib.ok(m == ["line-%d" % i for i in range(100)],
           "append: lines written after the first start, in order; earlier ones skipped (read_from_head false)")
e = of("append")[0]
testlib.ok(e["log"]["offset"] == len("before-1\nbefore-2\n") and e["host"]["name"] and
           e["@timestamp"].endswith("Z") and e["log"]["file"]["path"] == P("append", "app.log"),
           "events carry log.file.path, log.offset, host.name, @timestamp")

# --- glob pick-up -------------------------------------------------------------------
write(P("glob", "one.log"), "g1\n")
write(P("glob", "two.txt"), "g2\n")
write(P("glob", "skip-me.log"), "nope\n")
write(P("glob", "other.dat"), "nope\n")
m = wait_msgs("glob", 2)
time.sleep(0.5)
testlib.ok(sorted(msgs("glob")) == ["g1", "g2"],
           "glob: new files matching any pattern are read from their head; exclude and non-matching left alone")

# --- rename rotation (create) ---------------------------------------------------------
r = P("rename", "app.log")
for i in range(1000):
    write(r, "r%d\n" % i)
os.rename(r, r + ".1")
for i in range(1000, 1200):      # the writer still holds the old file
    write(r + ".1", "r%d\n" % i)
for i in range(1200, 2000):
    write(r, "r%d\n" % i)
m = wait_msgs("rename", 2000)
testlib.ok(nums(m, "r") == list(range(2000)),
           "rename rotation: the renamed file is read to its end, the new one from its head, each line once")
gone = testlib.wait_for(lambda: not any(os.readlink("/proc/%d/fd/%s" % (a.p.pid, fd)).endswith("app.log.1")
                                        for fd in os.listdir("/proc/%d/fd" % a.p.pid)), timeout=10)
testlib.ok(gone, "rename rotation: the renamed file is released after rotate_wait")

# --- copytruncate --------------------------------------------------------------------
c = P("copytrunc", "app.log")
for i in range(500):
    write(c, "c%d\n" % i)
wait_msgs("copytrunc", 500)
for i in range(500, 600):
    write(c, "c%d\n" % i)
with open(c, "rb") as src, open(c + ".1", "wb") as dst:
    dst.write(src.read())
os.truncate(c, 0)
for i in range(600, 700):
    write(c, "c%d\n" % i)
m = wait_msgs("copytrunc", 700)
time.sleep(0.5)
got = nums(msgs("copytrunc"), "c")
testlib.ok(set(got) == set(range(700)),
           "copytruncate: every line at least once (the copy is found by its head fingerprint)")
testlib.diag("copytruncate: %d events for 700 lines" % len(got))
testlib.ok("truncated" in a.log_text(), "copytruncate: the truncation is logged")

# --- delete while open ----------------------------------------------------------------
g = P("delete", "gone.log")
for i in range(300):
    write(g, "d%d\n" % i)
os.unlink(g)
m = wait_msgs("delete", 300)
testlib.ok(nums(m, "d") == list(range(300)), "delete while open: every line shipped")


def holds_deleted():
    for fd in os.listdir("/proc/%d/fd" % a.p.pid):
        try:
            if "gone.log" in os.readlink("/proc/%d/fd/%s" % (a.p.pid, fd)):
                return True
        except OSError:
            pass
    return False


testlib.ok(testlib.wait_for(lambda: not holds_deleted(), timeout=10),
           "delete while open: the descriptor is released (/proc/<pid>/fd), the disk space comes back")

# --- long lines -----------------------------------------------------------------------
big = "".join(random.choice("abcdefghij") for _ in range(1000)) * (10 * 1024 + 240)   # 10 MiB + a bit
write(P("long", "big.log"), "short-1\n" + big + "\nshort-2\n")
write(P("split", "big.log"), "short-1\n" + big + "\nshort-2\n")
m = wait_msgs("long", 3, timeout=30)
testlib.ok(len(m) == 3 and m[0] == "short-1" and m[1] == big and m[2] == "short-2",
           "a 10 MiB line is one event under max_line_bytes 16MiB")
nparts = (len(big) + (1 << 20) - 1) >> 20
m = wait_msgs("split", 2 + nparts, timeout=30)
sp = of("split")
parts = [e for e in sp if "split" in e["log"].get("flags", [])]
testlib.ok(len(sp) == 2 + nparts and "".join(e["message"] for e in parts) == big and
           all(len(e["message"]) <= 1 << 20 for e in parts) and sp[0]["message"] == "short-1" and
           sp[-1]["message"] == "short-2",
           "a 10 MiB line with max_line_bytes 1MiB: %d parts flagged split, nothing lost" % nparts)

# --- no final newline -------------------------------------------------------------------
pt = P("partial", "p.log")
write(pt, "first\nhalf")
time.sleep(0.5)
write(pt, "-done\n")            # completed before flush_timeout: one line
write(pt, "tail-without-newline")
m = wait_msgs("partial", 2, timeout=10)
e2 = of("partial")
testlib.ok(m[:2] == ["first", "half-done"], "a line completed before flush_timeout is one event")
testlib.ok(len(m) >= 2 and (len(m) == 2 or m[2] == "tail-without-newline"), "no early partial event")
m = wait_msgs("partial", 3, timeout=10)
e2 = of("partial")
testlib.ok(len(m) == 3 and m[2] == "tail-without-newline" and "partial" in e2[2]["log"]["flags"],
           "the unterminated last line is shipped after flush_timeout, flagged partial")
write(pt, "-rest\nnext\n")
m = wait_msgs("partial", 5, timeout=10)
e2 = of("partial")
testlib.ok(m[3:] == ["-rest", "next"] and "continued" in e2[3]["log"]["flags"] and
           not any("tail-without-newline-rest" in x for x in m),
           "its completion ships only the rest (flagged continued): no byte twice")

# --- binary garbage ------------------------------------------------------------------------
rnd = random.Random(7)
garbage = bytes(rnd.randrange(256) for _ in range(200000))
write(P("binary", "bin.log"), garbage + b"\nend\n")
nl = garbage.count(b"\n") + 2
m = wait_msgs("binary", nl, timeout=15)
ok_json = True
with open(OUT, "rb") as f:
    for raw in f:
        try:
            raw.decode("utf-8")
            json.loads(raw)
        except ValueError:
            ok_json = False
testlib.ok(len(m) == nl and m[-1] == "end" and ok_json,
           "binary garbage: one event per newline, every event valid JSON and valid UTF-8")

# --- multiline java ---------------------------------------------------------------------------
trace = ("2024-01-01 12:00:00 ERROR request failed\n"
         "java.lang.IllegalStateException: boom\n"
         "\tat com.example.Foo.bar(Foo.java:10)\n"
         "\tat com.example.Main.main(Main.java:5)\n"
         "Caused by: java.io.IOException: disk\n"
         "\tat com.example.Disk.read(Disk.java:3)\n"
         "\t... 2 more\n")
write(P("java", "app.log"), "2024-01-01 11:59:59 INFO start\n" + trace + "2024-01-01 12:00:01 INFO next\n")
m = wait_msgs("java", 3, timeout=10)
ev = of("java")
testlib.ok(m == ["2024-01-01 11:59:59 INFO start", trace.rstrip("\n"), "2024-01-01 12:00:01 INFO next"] and
           "multiline" in ev[1]["log"]["flags"],
           "java preset: the stack trace is one event (flag multiline); the last one ships on its timeout")

# --- CRI ---------------------------------------------------------------------------------------
write(P("cri", "c.log"), "2024-05-06T07:08:09.123456789Z stdout P part one, \n"
      "2024-05-06T07:08:09.223456789Z stdout P part two, \n"
      "2024-05-06T07:08:09.323456789Z stdout F the end\n"
      "2024-05-06T07:08:10.000000000Z stderr F an error\n")
m = wait_msgs("cri", 2)
ev = of("cri")
testlib.ok(m == ["part one, part two, the end", "an error"] and ev[0]["stream"] == "stdout" and
           ev[1]["stream"] == "stderr" and ev[0]["@timestamp"] == "2024-05-06T07:08:09.123Z" and
           ev[0]["log"]["offset"] == 0,
           "CRI: partial P lines joined to their F line, stream and runtime time kept")

# --- docker -------------------------------------------------------------------------------------
write(P("docker", "d.log"), '{"log":"hello \\u00e9\\n","stream":"stdout","time":"2024-05-06T07:08:09.5Z"}\n'
      '{"log":"long line part 1 ","stream":"stderr","time":"2024-05-06T07:08:10Z"}\n'
      '{"log":"and part 2\\n","stream":"stderr","time":"2024-05-06T07:08:10.1Z"}\n')
m = wait_msgs("docker", 2)
ev = of("docker")
testlib.ok(m == ["hello \u00e9", "long line part 1 and part 2"] and ev[0]["stream"] == "stdout" and
           ev[1]["stream"] == "stderr" and ev[0]["@timestamp"] == "2024-05-06T07:08:09.500Z",
           "docker json-file: unescaped, split lines joined, stream and time kept")

# --- symlinked container logs --------------------------------------------------------------------
pod_dir = P("pods", "default_web-7d4b9_0a1b", "nginx")
os.makedirs(pod_dir)
target = os.path.join(pod_dir, "0.log")
write(target, "2024-05-06T07:08:09.000000000Z stdout F k1\n")
link = P("containers", "web-7d4b9_default_nginx-%s.log" % CID)
os.symlink(target, link)
m = wait_msgs("containers", 1)
testlib.ok(m == ["k1"], "a symlinked container log is followed")
ev = of("containers")
testlib.ok(ev and ev[0]["kubernetes"] == {"namespace": "default", "pod": {"name": "web-7d4b9"},
                                          "container": {"name": "nginx"}} and
           ev[0]["container"] == {"id": CID} and ev[0]["stream"] == "stdout",
           "kubernetes.namespace, pod.name, container.name, container.id from the link's name")
write(target, "2024-05-06T07:08:09.000000000Z stdout F k2\n")
os.rename(target, target + ".20240506-070809")        # the kubelet rotates behind the link
write(target + ".20240506-070809", "2024-05-06T07:08:09.000000000Z stdout F k3\n")
write(target, "2024-05-06T07:08:09.000000000Z stdout F k4\n")
m = wait_msgs("containers", 4)
testlib.ok(sorted(m) == ["k1", "k2", "k3", "k4"], "rotation behind the symlink: both files read, each line once")

# --- poll mode ------------------------------------------------------------------------------------
for i in range(50):
    write(P("poll", "p.log"), "p%d\n" % i)
wait_msgs("poll", 50)   # found by the poll (a file rotated away before any scan saw it is not ours)
for i in range(50, 60):
    write(P("poll", "p.log"), "p%d\n" % i)
os.rename(P("poll", "p.log"), P("poll", "p.log.1"))
write(P("poll", "p.log.1"), "p60\n")
for i in range(61, 80):
    write(P("poll", "p.log"), "p%d\n" % i)
m = wait_msgs("poll", 80)
testlib.ok(nums(m, "p") == list(range(80)), "watcher: poll: appends and a rename rotation, each line once")

# --- restart across rotation and inode reuse ----------------------------------------------------------
for i in range(2000, 2100):
    write(r, "r%d\n" % i)
wait_msgs("rename", 2100)
testlib.ok(a.stop() == 0, "SIGTERM: the agent stops cleanly")
n_before = len(events())
for i in range(2100, 2200):      # appended while down ...
    write(r, "r%d\n" % i)
os.rename(r, r + ".2")           # ... then rotated away while down
for i in range(2200, 2300):
    write(r, "r%d\n" % i)
# inode reuse: the delete input's directory gets a file, read fully, then replaced
reuse = P("delete", "reuse.log")
a.set_config(conf)
testlib.ok(a.start(), "the agent restarts on the same data_dir")
write(reuse, "old-%s\n" % ("x" * 100))
testlib.wait_for(lambda: any(x.startswith("old-") for x in msgs("delete")), timeout=10)
time.sleep(1.5)                  # the checkpoint holds reuse.log read to its end
a.stop()
ino = os.stat(reuse).st_ino
os.unlink(reuse)
newf = None
for k in range(50):              # ext4 hands a freed inode out again soon; try to get it
    cand = P("delete", "reuse-%d.tmp" % k)
    write(cand, "")
    if os.stat(cand).st_ino == ino:
        newf = cand
        break
if newf:
    os.rename(newf, reuse)
else:
    write(reuse, "")
for k in range(50):
    try:
        os.unlink(P("delete", "reuse-%d.tmp" % k))
    except OSError:
        pass
write(reuse, "new-content-%s\n" % ("y" * 300))
testlib.diag("inode reuse: %s" % ("same inode %d" % ino if os.stat(reuse).st_ino == ino else "other inode"))
a.set_config(conf)
testlib.ok(a.start(), "the agent restarts again")
m = wait_msgs("rename", 2300, timeout=15)
got = nums(m, "r")
testlib.ok(got == list(range(2300)),
           "restart: lines appended and rotated away while down are read from the renamed file, each once "
           "(%d events)" % len(got))
m = testlib.wait_for(lambda: [x for x in msgs("delete") if x.startswith("new-content-")], timeout=10)
testlib.ok(m and m[0] == "new-content-" + "y" * 300,
           "inode reuse: the new file behind a checkpointed inode is read from its head (fingerprint differs)")
testlib.ok(a.stop() == 0, "final SIGTERM: exit 0")
log = a.log_text()
testlib.ok("ERROR" not in log, "no errors in the agent's log")
testlib.finish()
