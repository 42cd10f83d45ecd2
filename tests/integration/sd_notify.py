#!/usr/bin/env python3
"""systemd's notification protocol (Type=notify units): each daemon is started
with NOTIFY_SOCKET pointing at a unix datagram socket this test binds, as
systemd would, and must send READY=1 once it serves, WATCHDOG=1 pings while
WATCHDOG_USEC is set (and none when it is not: idle means no wake-ups),
RELOADING=1 then READY=1 around SIGHUP (agent), and STOPPING=1 on SIGTERM
before a clean exit."""
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import testlib  # noqa: E402

d = testlib.tmpdir()


class NotifySocket:
    """The service manager's end: a bound AF_UNIX SOCK_DGRAM socket."""

    def __init__(self, path):
        self.path = path
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(path)
        self.msgs = []    # (monotonic time, "KEY=VALUE") in arrival order

    def drain(self, timeout):
        """Reads every datagram that arrives within timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.s.settimeout(left)
            try:
                data = self.s.recv(4096)
            except (socket.timeout, BlockingIOError):
                return
            for line in data.decode(errors="replace").split("\n"):
                if line:
                    self.msgs.append((time.monotonic(), line))

    def wait_for(self, what, timeout=10.0, after=0):
        """Index of the first message == what at or after index `after`, or -1."""
        deadline = time.monotonic() + timeout
        while True:
            for i in range(after, len(self.msgs)):
                if self.msgs[i][1] == what:
                    return i
            left = deadline - time.monotonic()
            if left <= 0:
                return -1
            self.drain(min(left, 0.1))

    def count(self, what, after=0):
        return sum(1 for _, m in self.msgs[after:] if m == what)

    def close(self):
        self.s.close()


def env_for(sock, watchdog_usec=None):
    e = {"NOTIFY_SOCKET": sock.path}
    e.pop("WATCHDOG_PID", None)
    if watchdog_usec:
        e["WATCHDOG_USEC"] = str(watchdog_usec)
    return e


def scrub_env():
    # A test run under a systemd service must not pass the runner's own
    # notification variables on to the daemons.
    for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        os.environ.pop(k, None)


scrub_env()

# ---- the agent -------------------------------------------------------------
agent_conf = os.path.join(d, "agent.yaml")
with open(agent_conf, "w") as f:
    f.write("""data_dir: %s/agent-data
inputs:
  - type: generate
    name: gen
    rate: 10
outputs:
  - type: file
    name: out
    path: %s/out.ndjson
""" % (d, d))

# Watchdog of 400 ms: pings expected every 200 ms.
sock = NotifySocket(os.path.join(d, "agent.notify"))
agent_log = os.path.join(d, "agent.log")
agent = testlib.start([testlib.bin_path("logship"), "-c", agent_conf], log=agent_log,
                      env=env_for(sock, 400000))
i_ready = sock.wait_for("READY=1", timeout=15)
testlib.ok(i_ready >= 0, "agent: READY=1 on NOTIFY_SOCKET once the pipeline is up")
testlib.ok(agent.poll() is None, "agent: running after READY=1")
sock.drain(1.2)
n_wd = sock.count("WATCHDOG=1")
testlib.ok(n_wd >= 3, "agent: WATCHDOG=1 pings from the event loop with WATCHDOG_USEC=400000 "
           "(%d in ~1.2 s)" % n_wd)
testlib.ok(n_wd <= 30, "agent: watchdog pings are paced (no busy loop: %d)" % n_wd)

mark = len(sock.msgs)
os.kill(agent.pid, signal.SIGHUP)
i_rel = sock.wait_for("RELOADING=1", timeout=10, after=mark)
testlib.ok(i_rel >= 0, "agent: RELOADING=1 on SIGHUP")
i_rdy = sock.wait_for("READY=1", timeout=10, after=max(i_rel, mark))
testlib.ok(i_rel >= 0 and i_rdy > i_rel, "agent: READY=1 after the reload")
rel_msg = [m for _, m in sock.msgs[mark:] if m.startswith("MONOTONIC_USEC=")]
testlib.ok(len(rel_msg) >= 1, "agent: RELOADING=1 carries MONOTONIC_USEC (Type=notify-reload)")

mark = len(sock.msgs)
os.kill(agent.pid, signal.SIGTERM)
i_stop = sock.wait_for("STOPPING=1", timeout=10, after=mark)
testlib.ok(i_stop >= 0, "agent: STOPPING=1 on SIGTERM")
rc = testlib.stop(agent, timeout=20)
testlib.ok(rc == 0, "agent: clean exit after STOPPING=1 (exit %s)" % rc)
sock.close()

# Without WATCHDOG_USEC: READY=1 and STOPPING=1, and no pings at all.
sock = NotifySocket(os.path.join(d, "agent2.notify"))
agent = testlib.start([testlib.bin_path("logship"), "-c", agent_conf], log=agent_log,
                      env=env_for(sock))
testlib.ok(sock.wait_for("READY=1", timeout=15) >= 0, "agent without watchdog: READY=1")
sock.drain(0.8)
testlib.ok(sock.count("WATCHDOG=1") == 0, "agent without WATCHDOG_USEC: no WATCHDOG=1 sent")
os.kill(agent.pid, signal.SIGTERM)
testlib.ok(sock.wait_for("STOPPING=1", timeout=10) >= 0, "agent without watchdog: STOPPING=1")
testlib.stop(agent, timeout=20)
sock.close()

# Without NOTIFY_SOCKET at all (a shell, a container): the agent runs as usual.
agent = testlib.start([testlib.bin_path("logship"), "-c", agent_conf], log=agent_log)
time.sleep(0.5)
testlib.ok(agent.poll() is None, "agent without NOTIFY_SOCKET: runs")
testlib.ok(testlib.stop(agent, timeout=20) == 0, "agent without NOTIFY_SOCKET: clean exit")

# ---- the broker ------------------------------------------------------------
port = testlib.free_port()
sock = NotifySocket(os.path.join(d, "broker.notify"))
broker_log = os.path.join(d, "broker.log")
broker = testlib.start([testlib.bin_path("logship-broker"), "--listen", "127.0.0.1:%d" % port,
                        "--data-dir", os.path.join(d, "broker-data")],
                       log=broker_log, env=env_for(sock, 400000))
i_ready = sock.wait_for("READY=1", timeout=15)
testlib.ok(i_ready >= 0, "broker: READY=1 on NOTIFY_SOCKET")
testlib.ok(i_ready >= 0 and testlib.wait_port(port, timeout=1, proc=broker),
           "broker: accepts connections when READY=1 arrives")
sock.drain(1.2)
n_wd = sock.count("WATCHDOG=1")
testlib.ok(3 <= n_wd <= 30, "broker: WATCHDOG=1 pings paced by the loop timeout (%d in ~1.2 s)" % n_wd)
mark = len(sock.msgs)
os.kill(broker.pid, signal.SIGTERM)
testlib.ok(sock.wait_for("STOPPING=1", timeout=10, after=mark) >= 0, "broker: STOPPING=1 on SIGTERM")
rc = testlib.stop(broker, timeout=20)
testlib.ok(rc == 0, "broker: clean exit after STOPPING=1 (exit %s)" % rc)
sock.close()

for name, path in (("agent", agent_log), ("broker", broker_log)):
    with open(path, errors="replace") as f:
        text = f.read()
    testlib.ok("sd_notify" not in text, "%s: no sd_notify errors logged" % name)

testlib.finish()
