#!/usr/bin/env python3
"""The syslog input under a connection flood and a slowloris (issue 10),
bounded in time, on loopback. The hostile clients come from other loopback
addresses (127.0.0.2-7: all of 127/8 is the loopback interface), the
well-behaved sender is util-linux `logger` from 127.0.0.1.

Config under test: max_connections 120, max_connections_per_address 40,
idle_timeout 2 s, max_message_bytes 64 KiB.

Checks:
  - 400 connections from 127.0.0.2 at once: at most 40 are kept, the rest are
    closed at once and the refusal is logged (rate-limited: a few lines, not
    hundreds);
  - every kept connection sends half of an octet-counted frame that claims
    60000 bytes and stalls (slowloris): idle_timeout closes all of them;
  - 5 more addresses x 40 connections run into max_connections (logged);
  - meanwhile `logger --tcp` from 127.0.0.1 delivers 300 messages, all of them
    in the output, while the flood holds its slots;
  - the agent's peak RSS stays under the stated bound: 32 MiB + the kept
    connections' buffers (120 x 64 KiB = 7.5 MiB), 40 MiB in all.
"""
import errno
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import agentlib  # noqa: E402
import testlib  # noqa: E402
from testlib import ok, diag  # noqa: E402

BOUND_KB = 40 * 1024
d = testlib.tmpdir()
PORT = testlib.free_port()
OUT = os.path.join(d, "out.ndjson")


def count_lines(path, needle):
    try:
        with open(path, errors="replace") as f:
            return sum(1 for line in f if needle in line)
    except OSError:
        return 0


def dial_from(src, n):
    """n connections from source address src; the sockets that connected."""
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.bind((src, 0))
            s.connect(("127.0.0.1", PORT))
            socks.append(s)
        except OSError as e:
            diag("connect from %s: %s" % (src, e))
            s.close()
    return socks


def kept(socks, wait=1.0):
    """The sockets the agent did not close: a closed one reads EOF (or a reset)."""
    time.sleep(wait)
    alive = []
    for s in socks:
        s.setblocking(False)
        try:
            data = s.recv(1)
            if data == b"":
                s.close()
                continue
        except BlockingIOError:
            alive.append(s)
            continue
        except OSError:
            s.close()
            continue
        alive.append(s)
    return alive


def closed_all(socks, timeout):
    deadline = time.time() + timeout
    left = list(socks)
    while left and time.time() < deadline:
        left = kept(left, wait=0.2)
    for s in left:
        s.close()
    return not left


agent = agentlib.Agent(d, """data_dir: {dir}/data
http: { listen: 127.0.0.1:{port} }
inputs:
  - type: syslog
    name: sys
    listen: tcp://127.0.0.1:%d
    max_connections: 120
    max_connections_per_address: 40
    idle_timeout: 2s
    max_message_bytes: 64KiB
outputs:
  - type: file
    path: %s
""" % (PORT, OUT))
if ok(agent.start(), "agent starts with a TCP syslog listener and connection limits"):
    pid = agent.p.pid
    # Flood from one address: the per-address limit keeps 40.
    flood = dial_from("127.0.0.2", 400)
    alive = kept(flood)
    ok(0 < len(alive) <= 40, "flood from 127.0.0.2: %d of %d connections kept (limit 40 per address)"
       % (len(alive), len(flood)))
    refusals = count_lines(agent.log, "max_connections_per_address (40) reached")
    ok(1 <= refusals <= 3, "the refusals are logged, rate-limited (%d lines for %d refusals)"
       % (refusals, len(flood) - len(alive)))
    # Slowloris: half of a frame that claims 60000 bytes, then silence.
    for s in alive:
        try:
            s.send(b"60000 <13>1 2026-11-25T00:00:00Z host app - - - " + b"x" * 30000)
        except OSError:
            pass
    # More addresses run into max_connections.
    more = []
    for i in range(3, 8):
        more += dial_from("127.0.0.%d" % i, 40)
    more_alive = kept(more, wait=0.5)
    ok(len(alive) + len(more_alive) <= 120, "with 5 more addresses: %d connections kept in all (max 120)"
       % (len(alive) + len(more_alive)))
    ok(count_lines(agent.log, "max_connections (120) reached") >= 1, "max_connections refusals are logged")
    # A well-behaved client is served while the flood holds its slots... once
    # one is free: the flood's idle ones are closed by idle_timeout.
    for s in more_alive:
        s.close()
    msgs = "".join("well-behaved %d\n" % i for i in range(1, 301))
    r = testlib.run(["logger", "--tcp", "-n", "127.0.0.1", "-P", str(PORT), "--octet-count", "-t", "good"],
                    input=msgs.encode(), timeout=30)
    ok(r.returncode == 0, "logger --tcp sends 300 messages during the flood (%s)" % r.stderr.decode().strip())
    ok(closed_all(alive, timeout=15), "idle_timeout closes every stalled slowloris connection")

    def good():
        try:
            with open(OUT) as f:
                return sum(1 for line in f if "well-behaved" in json.loads(line).get("message", ""))
        except (OSError, ValueError):
            return 0
    n = testlib.wait_for(lambda: good() >= 300 and good(), timeout=30) or good()
    ok(n == 300, "all 300 well-behaved messages are in the output (%d)" % n)
    hwm = testlib.status_kb(pid, "VmHWM")
    ok(hwm < BOUND_KB, "agent peak RSS %.1f MiB < %d MiB under the flood" % (hwm / 1024.0, BOUND_KB // 1024))
    ok(agent.alive(), "agent is still up")
    agent.stop()
testlib.finish()
