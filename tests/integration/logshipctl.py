"""logshipctl against a real logship-broker: every subcommand, human and
--json output, and its errors (unknown topic or group, broker down, bad
arguments, a group with active members). Exit codes: 0 ok, 1 failed,
2 usage. Every run is bounded (--timeout and a process timeout).
"""
import datetime
import glob
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from testlib import *  # noqa: F401,F403

CTL = None
B = None


def ctl(*args, input=None, broker=None, timeout=40):
    return run([CTL, "-b", broker or B, "--timeout", "5000"] + list(args), input=input, timeout=timeout)


def js(r):
    try:
        return json.loads(r.stdout.decode())
    except ValueError:
        return None


def out(r):
    return r.stdout.decode(errors="replace")


def err(r):
    return r.stderr.decode(errors="replace").strip()


def test_help():
    r = run([CTL, "--help"])
    ok(r.returncode == 0 and "usage: logshipctl" in out(r), "logshipctl --help: usage, exit 0")
    for args in (["topics", "--help"], ["topics", "create", "--help"], ["groups", "--help"],
                 ["groups", "reset-offsets", "--help"], ["consume", "--help"], ["produce", "--help"],
                 ["status", "--help"]):
        r = run([CTL] + args)
        ok(r.returncode == 0 and "usage:" in out(r), "logshipctl %s: usage on stdout, exit 0" % " ".join(args))
    r = run([CTL, "--version"])
    ok(r.returncode == 0 and "librdkafka" in out(r), "logshipctl --version names librdkafka")


def test_bad_args():
    cases = [
        ([], "no command"),
        (["frobnicate"], "unknown command"),
        (["topics"], "topics without a subcommand"),
        (["topics", "frob"], "unknown topics subcommand"),
        (["topics", "describe"], "topics describe without a topic"),
        (["topics", "create", "x", "--partitions", "0"], "--partitions 0"),
        (["topics", "create"], "topics create without a name"),
        (["groups", "describe"], "groups describe without a group"),
        (["groups", "reset-offsets", "g", "--to-earliest"], "reset-offsets without --topic"),
        (["groups", "reset-offsets", "g", "--topic", "t"], "reset-offsets without a target"),
        (["groups", "reset-offsets", "g", "--topic", "t", "--to-earliest", "--to-latest"], "two targets"),
        (["groups", "reset-offsets", "g", "--topic", "t", "--to-datetime", "yesterday"], "a bad datetime"),
        (["consume"], "consume without a topic"),
        (["consume", "t", "--group", "g", "--partition", "0"], "consume --group with --partition"),
        (["consume", "t", "--partition", "abc"], "consume --partition abc"),
        (["consume", "t", "--max-messages", "0"], "consume --max-messages 0"),
        (["produce"], "produce without a topic"),
        (["produce", "t", "--partition", "-3"], "produce --partition -3"),
        (["--timeout", "abc", "topics", "list"], "--timeout abc"),
        (["-X", "no.such.property=1", "topics", "list"], "-X with an unknown property"),
        (["status", "extra"], "status with an extra argument"),
    ]
    for args, what in cases:
        r = run([CTL, "-b", B] + args, timeout=20)
        ok(r.returncode == 2 and r.stderr, "bad arguments (%s): exit 2 with a message (%d: %s)"
           % (what, r.returncode, err(r)[:100].replace("\n", " | ")))


def segment_bytes(data, topic, p):
    return sum(os.path.getsize(f) for f in glob.glob(os.path.join(data, "%s-%d" % (topic, p), "*.log")))


def test_topics(data):
    r = ctl("topics", "create", "ctl-a", "--partitions", "3")
    ok(r.returncode == 0 and "created topic ctl-a" in out(r), "topics create (human): %s" % out(r).strip())
    r = ctl("--json", "topics", "create", "ctl-b")
    ok(r.returncode == 0 and js(r) == {"ok": True}, "topics create --json: %s" % out(r).strip())
    r = ctl("topics", "create", "ctl-a")
    ok(r.returncode == 1 and "ctl-a" in err(r), "topics create of an existing topic: exit 1, names it (%s)" % err(r))
    r = ctl("topics", "create", "bad/name")
    ok(r.returncode == 1 and "bad/name" in err(r), "topics create with an invalid name: exit 1 (%s)" % err(r))

    r = ctl("topics", "list")
    lines = out(r).splitlines()
    ok(r.returncode == 0 and lines[0].split() == ["TOPIC", "PARTITIONS"] and any(
        line.split() == ["ctl-a", "3"] for line in lines), "topics list (human) shows ctl-a with 3 partitions")
    doc = js(ctl("--json", "topics", "list"))
    ok(doc is not None and {"topic": "ctl-a", "partitions": 3} in doc and {"topic": "ctl-b", "partitions": 1} in doc,
       "topics list --json: %s" % doc)

    r = ctl("produce", "ctl-a", "--partition", "1", input=b"".join(b"line %d\n" % i for i in range(30)))
    ok(r.returncode == 0 and "30 events delivered, 0 failed" in err(r), "produce 30 lines into ctl-a/1: %s" % err(r))
    r = ctl("--json", "produce", "ctl-a", "--partition", "2", input=b"x\ny\n")
    ok(r.returncode == 0 and js(r) == {"sent": 2, "delivered": 2, "failed": 0}, "produce --json: %s" % out(r).strip())

    r = ctl("topics", "describe", "ctl-a")
    text = out(r)
    want = sum(segment_bytes(data, "ctl-a", p) for p in range(3))
    ok(r.returncode == 0 and ("ctl-a: 3 partition(s), %d bytes on disk" % want) in text,
       "topics describe (human): the size on disk is the segments' (%d B): %s" % (want, text.splitlines()[:1]))
    rows = {int(line.split()[0]): line.split() for line in text.splitlines()[2:]}
    ok(rows.get(1, [])[2:5] == ["0", "30", "30"] and rows.get(2, [])[2:5] == ["0", "2", "2"],
       "topics describe (human): start, end and message count per partition")
    doc = js(ctl("--json", "topics", "describe", "ctl-a"))
    ok(doc and doc[0]["size_bytes"] == want and [p["end_offset"] for p in doc[0]["partitions"]] == [0, 30, 2]
       and all(p["size_bytes"] == segment_bytes(data, "ctl-a", p["partition"]) for p in doc[0]["partitions"]),
       "topics describe --json: offsets and per-partition sizes match the files")
    r = ctl("topics", "describe", "no-such-topic")
    ok(r.returncode == 1 and "no-such-topic" in err(r), "topics describe of an unknown topic: exit 1 (%s)" % err(r))
    r = ctl("topics", "list")
    ok("no-such-topic" not in out(r), "describing an unknown topic does not create it")

    r = ctl("topics", "delete", "ctl-b")
    ok(r.returncode == 0 and "deleted topic ctl-b" in out(r), "topics delete (human)")
    ok(not os.path.exists(os.path.join(data, "ctl-b-0")), "the deleted topic's directory is gone")
    r = ctl("--json", "topics", "delete", "ctl-b")
    ok(r.returncode == 1 and js(r) == {"ok": False} and "ctl-b" in err(r),
       "topics delete of an unknown topic: exit 1, --json says ok false (%s)" % err(r))


def test_consume():
    r = ctl("consume", "ctl-a", "--from-beginning", "--exit")
    lines = out(r).splitlines()
    ok(r.returncode == 0 and sorted(lines) == sorted(["line %d" % i for i in range(30)] + ["x", "y"]),
       "consume --from-beginning --exit prints all 32 events, one per line (%d)" % len(lines))
    r = ctl("--json", "consume", "ctl-a", "--partition", "1", "--offset", "28", "--exit")
    docs = [json.loads(line) for line in out(r).splitlines()]
    ok(r.returncode == 0 and [(d["partition"], d["offset"], d["value"]) for d in docs]
       == [(1, 28, "line 28"), (1, 29, "line 29")] and all(d["topic"] == "ctl-a" and d["key"] is None for d in docs),
       "consume --json --partition 1 --offset 28: one JSON object per event")
    r = ctl("consume", "ctl-a", "--from-beginning", "--max-messages", "5")
    ok(r.returncode == 0 and len(out(r).splitlines()) == 5, "consume --max-messages 5 stops after 5")
    r = ctl("produce", "ctl-a", "--key", "k1", "--partition", "0", input=b"keyed\n")
    r = ctl("consume", "ctl-a", "--partition", "0", "--offset", "0", "--exit", "--key")
    ok(r.returncode == 0 and out(r) == "k1\tkeyed\n", "consume --key prints KEY<tab>VALUE")
    r = ctl("consume", "no-such-topic", "--exit")
    ok(r.returncode == 1 and "no-such-topic" in err(r), "consume of an unknown topic: exit 1 (%s)" % err(r))
    # Without --exit it follows the topic until SIGINT.
    p = start([CTL, "-b", B, "consume", "ctl-a", "--partition", "2"], stdout=subprocess.PIPE,
              stderr=subprocess.DEVNULL)
    time.sleep(1.5)
    ctl("produce", "ctl-a", "--partition", "2", input=b"live\n")
    time.sleep(1.5)
    rc = stop(p, signal.SIGINT, timeout=15)
    text = p.stdout.read().decode()
    ok(rc == 0 and text == "live\n", "consume follows new events and exits 0 on SIGINT (%r)" % text)


def test_groups():
    r = ctl("consume", "ctl-a", "--group", "ctl-g", "--from-beginning", "--exit")
    ok(r.returncode == 0 and len(out(r).splitlines()) == 34, "consume --group ctl-g --from-beginning --exit "
       "reads all 34 (%d)" % len(out(r).splitlines()))
    r = ctl("groups", "list")
    ok(r.returncode == 0 and any(line.split() == ["ctl-g", "Empty"] for line in out(r).splitlines()),
       "groups list (human): ctl-g Empty")
    doc = js(ctl("--json", "groups", "list"))
    ok(doc is not None and {"group": "ctl-g", "state": "Empty"} in doc, "groups list --json: %s" % doc)

    r = ctl("groups", "describe", "ctl-g")
    text = out(r)
    ok(r.returncode == 0 and "group ctl-g: state Empty, 0 member(s)" in text, "groups describe (human): state")
    rows = [line.split() for line in text.splitlines() if line.strip().startswith("ctl-a ")]
    ok([row[:5] for row in rows] == [["ctl-a", "0", "1", "1", "0"], ["ctl-a", "1", "30", "30", "0"],
                                     ["ctl-a", "2", "3", "3", "0"]],
       "groups describe (human): committed, end and lag 0 per partition: %s" % rows)
    r = ctl("produce", "ctl-a", "--partition", "1", input=b"late1\nlate2\n")
    doc = js(ctl("--json", "groups", "describe", "ctl-g"))
    p1 = [o for o in doc["offsets"] if o["partition"] == 1] if doc else []
    ok(p1 and p1[0]["committed"] == 30 and p1[0]["end_offset"] == 32 and p1[0]["lag"] == 2,
       "groups describe --json: lag 2 after two new events on partition 1: %s" % p1)
    r = ctl("groups", "describe", "no-such-group")
    ok(r.returncode == 1 and "no-such-group" in err(r), "groups describe of an unknown group: exit 1 (%s)" % err(r))

    # reset-offsets, only without active members.
    r = ctl("groups", "reset-offsets", "ctl-g", "--topic", "ctl-a", "--to-earliest")
    ok(r.returncode == 0 and "group ctl-g: ctl-a/1 -> 0" in out(r), "reset-offsets --to-earliest (human)")
    doc = js(ctl("--json", "groups", "describe", "ctl-g"))
    ok(doc and sorted((o["partition"], o["committed"]) for o in doc["offsets"]) == [(0, 0), (1, 0), (2, 0)],
       "after --to-earliest every committed offset is 0")
    doc = js(ctl("--json", "groups", "reset-offsets", "ctl-g", "--topic", "ctl-a", "--to-latest"))
    ok(doc and doc["ok"] and sorted((o["partition"], o["offset"]) for o in doc["offsets"]) == [(0, 1), (1, 32), (2, 3)],
       "reset-offsets --to-latest --json: %s" % doc)
    # --to-datetime: events before the mark vs after it.
    time.sleep(1.1)
    mark = datetime.datetime.now(datetime.timezone.utc)
    time.sleep(1.1)
    ctl("produce", "ctl-a", "--partition", "2", input=b"after-mark\n")
    iso = mark.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (mark.microsecond // 1000)
    r = ctl("groups", "reset-offsets", "ctl-g", "--topic", "ctl-a", "--to-datetime", iso)
    ok(r.returncode == 0 and "ctl-a/2 -> 3" in out(r) and "ctl-a/1 -> 32" in out(r),
       "reset-offsets --to-datetime %s: the first event at or after it (2 -> 3), else the end (1 -> 32)" % iso)
    r = ctl("consume", "ctl-a", "--group", "ctl-g", "--exit")
    ok(r.returncode == 0 and out(r) == "after-mark\n", "the group then reads only what came after the mark")
    local = mark.astimezone(datetime.timezone(datetime.timedelta(hours=2)))
    iso2 = local.strftime("%Y-%m-%dT%H:%M:%S+02:00")
    r = ctl("groups", "reset-offsets", "ctl-g", "--topic", "ctl-a", "--to-datetime", iso2)
    ok(r.returncode == 0 and "ctl-a/2 -> 3" in out(r), "--to-datetime with a +02:00 offset means the same instant")

    r = ctl("groups", "reset-offsets", "ctl-g", "--topic", "no-such-topic", "--to-earliest")
    ok(r.returncode == 1 and "no-such-topic" in err(r), "reset-offsets of an unknown topic: exit 1 (%s)" % err(r))
    member = start([bin_path("tests/tools/rdk_client"), "group-consume", B, "ctl-a", "ctl-g", "0", "--timeout", "60",
                    "-X", "session.timeout.ms=6000"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    joined = wait_for(lambda: (js(ctl("--json", "groups", "describe", "ctl-g")) or {}).get("state") == "Stable",
                      timeout=30, interval=0.3)
    ok(joined, "a member joins ctl-g (Stable)")
    r = ctl("groups", "describe", "ctl-g")
    ok("1 member(s)" in out(r) and "rdkafka" in out(r) and "ctl-a/0 ctl-a/1 ctl-a/2" in out(r),
       "groups describe (human) shows the member, its client id and assignment")
    doc = js(ctl("--json", "groups", "describe", "ctl-g"))
    ok(doc and len(doc["members"]) == 1 and len(doc["members"][0]["assignment"]) == 3 and all(
        o["member_id"] == doc["members"][0]["member_id"] for o in doc["offsets"]),
       "groups describe --json: member, assignment, and which member holds each partition")
    r = ctl("groups", "reset-offsets", "ctl-g", "--topic", "ctl-a", "--to-earliest")
    ok(r.returncode == 1 and "active member" in err(r), "reset-offsets refuses while a member is active (%s)" % err(r))
    stop(member, signal.SIGTERM, timeout=20)


class StatusHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/status":
            self.send_error(404)
            return
        body = b'{"inputs":[],"outputs":[{"name":"central","lag":0}]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def test_status():
    srv = http.server.HTTPServer(("127.0.0.1", 0), StatusHandler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    agent = "127.0.0.1:%d" % srv.server_address[1]
    r = run([CTL, "--agent", agent, "status"], timeout=20)
    ok(r.returncode == 0 and js(r) == {"inputs": [], "outputs": [{"name": "central", "lag": 0}]},
       "status prints the agent's /status")
    srv.shutdown()
    srv.server_close()
    r = run([CTL, "--agent", agent, "--timeout", "2000", "status"], timeout=20)
    ok(r.returncode == 1 and agent in err(r), "status with the agent down: exit 1, names it (%s)" % err(r))


def test_broker_down():
    down = "127.0.0.1:%d" % free_port()
    for args in (["topics", "list"], ["topics", "describe", "t"], ["topics", "create", "t"], ["topics", "delete", "t"],
                 ["groups", "list"], ["groups", "describe", "g"],
                 ["groups", "reset-offsets", "g", "--topic", "t", "--to-earliest"],
                 ["consume", "t", "--exit"], ["consume", "t", "--group", "g", "--exit"]):
        t0 = time.time()
        r = run([CTL, "-b", down, "--timeout", "2000"] + args, timeout=60)
        ok(r.returncode == 1 and down in err(r), "broker down: %s exits 1 naming %s (%s, %.1f s)"
           % (" ".join(args), down, err(r)[:90], time.time() - t0))
    r = run([CTL, "-b", down, "--timeout", "1000", "produce", "t"], input=b"a\nb\n", timeout=60)
    ok(r.returncode == 1 and down in err(r) and "2 of 2" in err(r), "broker down: produce exits 1, counts what "
       "was not delivered (%s)" % err(r).splitlines()[-1:])


def main():
    global CTL, B
    CTL = bin_path("logshipctl")
    d = tmpdir()
    data = os.path.join(d, "data")
    port = free_port()
    B = "127.0.0.1:%d" % port
    log = os.path.join(d, "broker.log")
    b = start([bin_path("logship-broker"), "--listen", B, "--data-dir", data], log=log)
    if not ok(wait_port(port, proc=b), "broker starts"):
        diag(open(log).read()[-2000:])
        finish()
    test_help()
    test_bad_args()
    test_topics(data)
    test_consume()
    test_groups()
    test_status()
    test_broker_down()
    ok(stop(b) == 0, "broker stops cleanly")
    finish()


if __name__ == "__main__":
    main()
