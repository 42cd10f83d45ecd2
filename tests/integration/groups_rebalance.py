"""Consumer groups with real librdkafka consumers (tests/tools/rdk_client
group-consume: subscribe() with a group id, classic protocol, the client
leader runs the range assignor):

  - two consumers in one group split a 4-partition topic, each partition to
    exactly one of them, and between them read every message;
  - a third joining triggers a rebalance: three members, disjoint, covering;
  - the third SIGKILLed (no LeaveGroup) loses its partitions to the others
    once its session times out (session.timeout.ms=6000);
  - a member leaving cleanly (SIGTERM -> consumer_close -> LeaveGroup) hands
    its partitions over at once, without waiting for a session timeout;
  - the broker's log names the rebalances.
Every wait is bounded; every process is ours and stopped by PID.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from testlib import *  # noqa: F401,F403

TOPIC = "events4"
GROUP = "split"
SESSION_MS = 6000
PROPS = ["-X", "session.timeout.ms=%d" % SESSION_MS, "-X", "heartbeat.interval.ms=300",
         "-X", "topic.metadata.refresh.interval.ms=1000"]


class Consumer:
    """One rdk_client group-consume process and what it printed."""

    def __init__(self, name, broker, topic=TOPIC, group=GROUP, count=0, extra=()):
        self.name = name
        self.lines = []
        self.lock = threading.Lock()
        argv = [bin_path("tests/tools/rdk_client"), "group-consume", broker, topic, group, str(count),
                "--timeout", "110", "-X", "client.id=" + name] + PROPS + list(extra)
        self.p = start(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for raw in self.p.stdout:
            with self.lock:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    def snapshot(self):
        with self.lock:
            return list(self.lines)

    def assignment(self):
        """The partitions it holds now: its last 'assigned' line, unless revoked since."""
        cur = set()
        for line in self.snapshot():
            if line.startswith("assigned "):
                cur = {int(x.split("/")[1]) for x in line[9:].split(",") if x}
            elif line.startswith("revoked"):
                cur = set()
        return cur

    def messages(self):
        out = []
        for line in self.snapshot():
            if line.startswith("msg "):
                _, p, o, v = line.split(" ", 3)
                out.append((int(p), int(o), v))
        return out

    def rebalances(self):
        return sum(1 for line in self.snapshot() if line.startswith("assigned"))


def split_ok(consumers, nparts=4):
    """Each partition held by exactly one consumer, all of them held, nobody idle."""
    sets = [c.assignment() for c in consumers]
    union = set().union(*sets)
    disjoint = sum(len(s) for s in sets) == len(union)
    return disjoint and union == set(range(nparts)) and all(sets)


def produce(broker, n, start_at):
    r = run([bin_path("tests/tools/rdk_client"), "produce", broker, TOPIC, str(n), "--start", str(start_at),
             "--prefix", "m-", "--timeout", "30", "-X", "acks=all",
             "-X", "sticky.partitioning.linger.ms=0"], timeout=60)
    return r.returncode == 0


def main():
    d = tmpdir()
    data = os.path.join(d, "data")
    port = free_port()
    broker = "127.0.0.1:%d" % port
    blog = os.path.join(d, "broker.log")
    b = start([bin_path("logship-broker"), "--listen", broker, "--data-dir", data], log=blog)
    if not ok(wait_port(port, proc=b), "broker starts"):
        diag(open(blog).read()[-2000:])
        finish()
    r = run([bin_path("logshipctl"), "-b", broker, "topics", "create", TOPIC, "--partitions", "4"])
    ok(r.returncode == 0, "topic %s with 4 partitions created" % TOPIC)
    a = Consumer("cons-a", broker)
    bb = Consumer("cons-b", broker)
    pair = wait_for(lambda: split_ok([a, bb]), timeout=40, interval=0.2)
    ok(pair, "two consumers split the 4 partitions, each partition to exactly one (a=%s b=%s)"
       % (sorted(a.assignment()), sorted(bb.assignment())))
    owner = {p: x.name for x in (a, bb) for p in x.assignment()}
    ok(produce(broker, 400, 1), "400 messages produced with acks=all")
    got = wait_for(lambda: len({m[2] for m in a.messages() + bb.messages()}) >= 400, timeout=30)
    seen = {m[2] for m in a.messages() + bb.messages()}
    ok(got and seen == {"m-%d" % i for i in range(1, 401)},
       "between them the two read all 400 messages (%d distinct)" % len(seen))
    parts_of = {}
    for c in (a, bb):
        for p, _, _ in c.messages():
            parts_of.setdefault(p, set()).add(c.name)
    ok(len(parts_of) == 4 and all(v == {owner[p]} for p, v in parts_of.items()),
       "each partition's messages were read by its owner only: %s"
       % {p: sorted(v) for p, v in sorted(parts_of.items())})

    before = (a.rebalances(), bb.rebalances())
    c = Consumer("cons-c", broker)
    three = wait_for(lambda: split_ok([a, bb, c]) and a.rebalances() > before[0] and bb.rebalances() > before[1],
                     timeout=40, interval=0.2)
    ok(three, "a third member triggers a rebalance: three members, disjoint, covering (a=%s b=%s c=%s)"
       % (sorted(a.assignment()), sorted(bb.assignment()), sorted(c.assignment())))
    ok(sorted(len(x.assignment()) for x in (a, bb, c)) == [1, 1, 2], "the range assignor's 2/1/1 split")
    def described():
        r = run([bin_path("logshipctl"), "-b", broker, "--json", "groups", "describe", GROUP], timeout=30)
        try:
            doc = json.loads(r.stdout.decode())
        except ValueError:
            return None
        return doc if doc["state"] == "Stable" and len(doc["members"]) == 3 else None
    doc = wait_for(described, timeout=20, interval=0.3)
    ok(doc and sorted(len(m["assignment"]) for m in doc["members"]) == [1, 1, 2],
       "logshipctl groups describe shows the three members, Stable, with their assignments")

    # New messages while c holds partitions: they must reach someone after c dies.
    c_parts = c.assignment()
    ok(produce(broker, 200, 401), "200 more messages produced")
    wait_for(lambda: len({m[2] for m in a.messages() + bb.messages() + c.messages()}) >= 600, timeout=30)
    t0 = time.time()
    before = (a.rebalances(), bb.rebalances())
    kill9(c.p)
    ok(c.p.returncode == -signal.SIGKILL, "the third consumer is SIGKILLed (holding %s)" % sorted(c_parts))
    back = wait_for(lambda: split_ok([a, bb]) and a.rebalances() > before[0] and bb.rebalances() > before[1],
                    timeout=SESSION_MS / 1000.0 + 30, interval=0.2)
    took = time.time() - t0
    ok(back, "after the session timeout the survivors hold all 4 partitions again (a=%s b=%s)"
       % (sorted(a.assignment()), sorted(bb.assignment())))
    diag("reassigned %.1f s after SIGKILL (session.timeout.ms=%d)" % (took, SESSION_MS))
    ok(produce(broker, 100, 601), "100 more messages produced after the reassignment")
    want = {"m-%d" % i for i in range(1, 701)}
    wait_for(lambda: want <= {m[2] for m in a.messages() + bb.messages() + c.messages()}, timeout=30)
    seen = {m[2] for m in a.messages() + bb.messages() + c.messages()}
    ok(want <= seen, "every one of the 700 messages was read by some member (%d missing)" % len(want - seen))
    after = {m[2] for m in a.messages() + bb.messages()}
    ok({"m-%d" % i for i in range(601, 701)} <= after, "messages after the kill reach the survivors")

    # A clean leave hands over at once (LeaveGroup, no session timeout).
    before = a.rebalances()
    t0 = time.time()
    stop(bb.p, signal.SIGTERM, timeout=20)
    ok(bb.p.returncode == 0, "a member stopped with SIGTERM closes cleanly (exit %s)" % bb.p.returncode)
    alone = wait_for(lambda: a.assignment() == {0, 1, 2, 3} and a.rebalances() > before, timeout=30, interval=0.1)
    ok(alone, "after it leaves, the last member holds all 4 partitions")
    diag("handed over %.1f s after LeaveGroup" % (time.time() - t0))
    stop(a.p, signal.SIGTERM, timeout=20)
    ok(a.p.returncode == 0, "the last member leaves cleanly")
    r = run([bin_path("logshipctl"), "-b", broker, "--json", "groups", "list"], timeout=30)
    ok(r.returncode == 0 and ('"group":"%s","state":"Empty"' % GROUP) in r.stdout.decode(),
       "the group is Empty once every member left: %s" % r.stdout.decode().strip())

    # A member SIGKILLed while its JoinGroup waits for the rest of the group
    # (A is stopped, so the rebalance cannot complete until A's session
    # expires) must not stay in the group as a zombie holding partitions.
    za = Consumer("zomb-a", broker, group="zombie")
    zb = Consumer("zomb-b", broker, group="zombie")
    ok(wait_for(lambda: split_ok([za, zb]), timeout=40, interval=0.2), "group zombie: two members split the topic")
    os.kill(za.p.pid, signal.SIGSTOP)
    zc = Consumer("zomb-c", broker, group="zombie")
    time.sleep(2.5)  # zomb-c is now parked in JoinGroup, waiting for zomb-a
    kill9(zc.p)
    ok(not zc.assignment(), "the joining member was killed before the rebalance completed")
    alone = wait_for(lambda: zb.assignment() == {0, 1, 2, 3}, timeout=3 * SESSION_MS / 1000.0 + 30, interval=0.2)
    ok(alone, "once the stopped and the killed member expire, the survivor holds all 4 partitions (%s)"
       % sorted(zb.assignment()))
    os.kill(za.p.pid, signal.SIGCONT)
    back = wait_for(lambda: split_ok([za, zb]), timeout=40, interval=0.2)
    ok(back, "the stopped member, continued, rejoins and the two split the topic again (a=%s b=%s)"
       % (sorted(za.assignment()), sorted(zb.assignment())))
    doc = None
    r = run([bin_path("logshipctl"), "-b", broker, "--json", "groups", "describe", "zombie"], timeout=30)
    if r.returncode == 0:
        doc = json.loads(r.stdout.decode())
    ok(doc and len(doc["members"]) == 2, "the group has exactly two members, no zombie (%s)"
       % (len(doc["members"]) if doc else None))
    stop(za.p, signal.SIGTERM, timeout=20)
    stop(zb.p, signal.SIGTERM, timeout=20)

    log = open(blog).read()
    ok("session timed out" in log and "left the group" in log,
       "the broker logs the session expiry and the leave")
    ok(stop(b) == 0, "broker stops cleanly on SIGTERM")
    finish()


if __name__ == "__main__":
    main()
