"""End to end under crashes: a file of numbered lines -> logship (tail ->
ring -> kafka output, acks=all) -> logship-broker -> kcat.

A writer appends numbered lines the whole time. The agent and the broker
are each SIGKILLed at random moments (20 rounds each, alternating) and
restarted. Then the broker stays down long enough for the agent's small
ring to fill (the tail input pauses: backpressure) and comes back: the
backlog drains. At the end every line number must be in the topic at least
once (loss = 0); duplicates are counted and reported (bounded by what lay
between the last checkpoints), and the first occurrences of the numbers come
in order (one source, one partition).
"""
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import agentlib  # noqa: E402
import testlib  # noqa: E402
from testlib import ok, diag  # noqa: E402

ROUNDS = int(os.environ.get("E2E_CRASH_ROUNDS", "20"))
RATE = 5000  # lines/s written


class Writer(threading.Thread):
    def __init__(self, path):
        super().__init__(daemon=True)
        self.path, self.n, self.stop = path, 0, threading.Event()

    def run(self):
        with open(self.path, "a", buffering=1) as f:
            t0 = time.time()
            while not self.stop.is_set():
                want = int((time.time() - t0) * RATE)
                chunk = []
                while self.n < want:
                    self.n += 1
                    chunk.append("line %d %s\n" % (self.n, "x" * 40))
                if chunk:
                    f.write("".join(chunk))
                time.sleep(0.005)


def read_topic(broker, topic):
    r = testlib.run(["kcat", "-q", "-C", "-b", broker, "-t", topic, "-o", "beginning", "-e",
                     "-X", "check.crcs=true", "-f", "%s\\n"], timeout=120)
    nums = []
    for line in r.stdout.decode(errors="replace").splitlines():
        i = line.find('"message":"line ')
        if i >= 0:
            nums.append(int(line[i + 16:].split(" ", 1)[0]))
    return nums


def main():
    d = testlib.tmpdir()
    port = testlib.free_port()
    broker_addr = "127.0.0.1:%d" % port
    bdata = os.path.join(d, "broker")
    blog = os.path.join(d, "broker.log")

    def start_broker():
        p = testlib.start([testlib.bin_path("logship-broker"), "--listen", broker_addr, "--data-dir", bdata],
                          log=blog)
        testlib.wait_port(port, proc=p)
        return p

    src = os.path.join(d, "numbers.log")
    open(src, "w").close()
    conf = """data_dir: {dir}/agent
http: { listen: 127.0.0.1:{port} }
buffer: { max_bytes: 8MiB, segment_bytes: 1MiB, batch_timeout: 50ms }
inputs:
  - type: tail
    name: numbers
    paths: [%s]
    read_from_head: true
outputs:
  - type: kafka
    brokers: [%s]
    topic: e2e
    retry_max: 1s
    commit_interval: 200ms
""" % (src, broker_addr)
    b = start_broker()
    a = agentlib.Agent(d, conf, "agent")
    ok(a.start(), "agent and broker start")
    w = Writer(src)
    w.start()

    rnd = random.Random(int(os.environ.get("E2E_CRASH_SEED", "0")) or None)
    kills = {"agent": 0, "broker": 0}
    for i in range(2 * ROUNDS):
        time.sleep(rnd.uniform(0.3, 1.2))
        if i % 2 == 0:
            a.kill9()
            kills["agent"] += 1
            if not a.start():
                ok(False, "agent restarts after SIGKILL %d" % kills["agent"])
                break
        else:
            testlib.kill9(b)
            kills["broker"] += 1
            time.sleep(rnd.uniform(0, 0.5))
            b = start_broker()
    ok(kills["agent"] == ROUNDS and kills["broker"] == ROUNDS,
       "%d SIGKILLs of the agent and %d of the broker under load" % (kills["agent"], kills["broker"]))

    # The broker down for long enough that the 8 MiB ring fills.
    testlib.stop(b)
    filled = testlib.wait_for(lambda: a.status() and a.status().get("ring", {}).get("bytes", 0) >= 6 << 20,
                              timeout=60, interval=0.5)
    st = a.status() or {}
    diag("ring while the broker is down: %s" % st.get("ring"))
    ok(filled, "with the broker down the ring fills towards buffer.max_bytes")
    ready = a.get("/ready")[0]
    ok(a.alive(), "the agent keeps running with its destination dead (/ready %s)" % ready)
    b = start_broker()
    w.stop.set()
    w.join()
    total = w.n
    diag("writer wrote %d lines" % total)

    def caught_up():
        nums = read_topic(broker_addr, "e2e")
        return nums if total in set(nums) and len(set(nums)) >= total else None

    nums = testlib.wait_for(caught_up, timeout=180, interval=2) or read_topic(broker_addr, "e2e")
    seen = set(nums)
    missing = [n for n in range(1, total + 1) if n not in seen]
    dups = len(nums) - len(seen)
    print("# loss = %d, duplicates = %d of %d lines (%.1f%%), %d agent + %d broker SIGKILLs"
          % (len(missing), dups, total, 100.0 * dups / max(total, 1), kills["agent"], kills["broker"]))
    ok(not missing, "loss = 0: every one of %d lines arrived (missing %d, first %s)"
       % (total, len(missing), missing[:5]))
    first, order_ok, last = set(), True, 0
    for n in nums:
        if n in first:
            continue
        first.add(n)
        if n < last:
            order_ok = False
        last = n
    ok(order_ok, "first occurrences arrive in order (one source, one partition)")
    # What a crash may repeat: lines read but not yet checkpointed (the ring's
    # 1 s fsync interval + batching) or shipped but not yet committed (the
    # 200 ms commit interval), and a broker's unacknowledged in-flight
    # batches: about a second of writing. Two seconds' worth is the bound.
    bound = 2 * ROUNDS * 2 * RATE
    ok(dups <= bound, "duplicates are bounded: %d for %d crashes (bound %d = 2 s of writing per crash)"
       % (dups, 2 * ROUNDS, bound))
    ok(a.stop() == 0, "SIGTERM: agent exits 0")
    ok(testlib.stop(b) == 0, "SIGTERM: broker exits 0")
    testlib.finish()


main()
