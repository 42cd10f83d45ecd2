#!/usr/bin/env python3
"""The native kafka engine against brokers that misbehave: what a
configured broker address may answer is hostile input to the agent.

Stand-ins (threads of this script on tests/lib/kafka_standin.Listener,
on loopback) take the broker's port in
turn, then the real logship-broker takes it over:
  1. silent: accepts connections and never answers (a hung broker);
  2. garbage: answers every request with bytes that are no Kafka frame
     (an impossible size, then a frame with a wrong correlation id);
  3. closer: reads the request and closes the connection.
Checks: through all of them the agent stays up and ready, counts nothing as
shipped, says why in /status (last_error) and the log, retries with
backoff without spinning; once the real broker listens on the port every
event arrives exactly once (nothing was ever acknowledged by a stand-in).
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import agentlib  # noqa: E402
import kafka_standin  # noqa: E402
import testlib  # noqa: E402
from testlib import ok  # noqa: E402


class StandIn(kafka_standin.Listener):
    """Listens on port and treats each connection the way `mode` says."""

    def __init__(self, port, mode):
        super().__init__(port)
        self.mode = mode

    def serve(self, c):
        c.settimeout(10)
        try:
            if self.mode == "silent":
                while not self.stopping and c.recv(65536):
                    pass
                return
            req = c.recv(65536)
            if not req:
                return
            if self.mode == "garbage":
                if self.accepted % 2:
                    c.sendall(b"\x7f\xff\xff\xff" + b"x" * 64)   # 2 GiB frame announced
                else:
                    corr = int.from_bytes(req[8:12], "big")
                    c.sendall((8).to_bytes(4, "big") + (corr + 1000).to_bytes(4, "big") + b"\0" * 4)
                time.sleep(0.5)
        except OSError:
            pass
        finally:
            c.close()


def main():
    d = testlib.tmpdir()
    port = testlib.free_port()
    N = 3000
    conf = """data_dir: {dir}/agent
http: { listen: 127.0.0.1:{port} }
inputs:
  - type: generate
    name: gen
    count: %d
    rate: 0
    size: 60
outputs:
  - type: kafka
    brokers: [127.0.0.1:%d]
    topic: faults
    message_timeout: 2s
    retry_max: 1s
""" % (N, port)
    si = StandIn(port, "silent")
    si.start()
    a = agentlib.Agent(d, conf, "agent")
    ok(a.start(), "agent starts with a silent broker at its address")
    for mode in ("silent", "garbage", "closer"):
        if mode != "silent":
            si = StandIn(port, mode)
            si.start()
        time.sleep(8 if mode == "garbage" else 5)
        st = a.status() or {}
        out = (st.get("outputs") or [{}])[0]
        ok(si.accepted >= 1, "%s: the agent connected to the stand-in (%d connections)" % (mode, si.accepted))
        ok((a.metric("logship_output_events_total", output="kafka") or 0) == 0,
           "%s: nothing counted as shipped" % mode)
        ok(a.alive() and a.get("/ready")[0] == 200, "%s: the agent stays up and ready" % mode)
        ok(out.get("last_error"), "%s: /status says why: %s" % (mode, out.get("last_error")))
        ok(si.accepted < 60, "%s: reconnects back off (%d connections)" % (mode, si.accepted))
        si.stop()
    log = a.log_text()
    ok("no ApiVersions answer in time" in log or "no answer within" in log, "the log names the silent broker")
    ok("impossible size" in log and "correlation id" in log, "the log names the garbage answers")
    ok("closed by the broker" in log, "the log names the closed connections")
    b = testlib.start([testlib.bin_path("logship-broker"), "--listen", "127.0.0.1:%d" % port,
                       "--data-dir", os.path.join(d, "broker")], log=os.path.join(d, "broker.log"))
    testlib.wait_port(port, proc=b)
    got = a.wait_metric("logship_output_events_total", N, timeout=90, output="kafka")
    ok(got == N, "with the real broker at the address every event is acknowledged (%s of %d)" % (got, N))
    r = testlib.run(["kcat", "-q", "-C", "-b", "127.0.0.1:%d" % port, "-t", "faults", "-o", "beginning", "-e",
                     "-f", "%s\\n"], timeout=60)
    seqs = [json.loads(l)["event"]["sequence"] for l in r.stdout.decode().splitlines() if l.strip()]
    ok(sorted(seqs) == list(range(1, N + 1)), "every event arrived exactly once (%d records)" % len(seqs))
    ok(a.stop() == 0, "SIGTERM: exit 0")
    testlib.stop(b)
    testlib.finish()


main()
