#!/usr/bin/env python3
"""The syslog input end to end, with util-linux `logger` as the sender: UDP,
TCP with LF and octet-counting framing, RFC 5424 and RFC 3164, unix datagram
and unix stream sockets; the ECS fields that come out; our load generator
over TCP (both framings, several connections) and UDP with every sequence
number counted; hostile input (no PRI, PRI 999, NUL bytes, a 1 MiB line, half
frames, an octet count of 2^40) answered without a crash and within bounded
memory; max_connections and idle_timeout; `--check` refusing bad listen URLs
at their position; and backpressure: with the ring full a TCP sender is
slowed (not read, nothing lost) while UDP's losses are counted."""
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import agentlib  # noqa: E402
import testlib  # noqa: E402

LOGGER = "logger"
LOAD = testlib.bin_path("tests/tools/syslog_load")
d = testlib.tmpdir()
TCP, UDP = testlib.free_port(), testlib.free_port()
DG, ST = os.path.join(d, "dgram.sock"), os.path.join(d, "stream.sock")


def events(path):
    out = []
    if os.path.exists(path):
        with open(path, "rb") as f:
            for line in f:
                out.append(json.loads(line))
    return out


def wait_events(path, n, timeout=20):
    return testlib.wait_for(lambda: len(events(path)) >= n and events(path), timeout=timeout) or events(path)


def logger(*args, stdin=None):
    return testlib.run([LOGGER] + list(args), input=stdin, timeout=20)


# --- --check ------------------------------------------------------------------------
bad = agentlib.write(os.path.join(d, "bad.yaml"), "data_dir: %s/x\ninputs:\n  - type: syslog\n"
                     "    listen:\n      - tcp://127.0.0.1:514\n      - sctp://x:1\n" % d)
r = testlib.run([testlib.bin_path("logship"), "--check", "-c", bad])
testlib.ok(r.returncode == 1 and ("%s:6:9: listen: sctp://x:1" % bad) in r.stderr.decode(),
           "--check refuses an unknown scheme at its line and column (%s)" % r.stderr.decode().strip())
bad2 = agentlib.write(os.path.join(d, "bad2.yaml"), "data_dir: %s/x\ninputs:\n  - type: syslog\n"
                      "    listen: tcp://127.0.0.1:99999\n" % d)
r = testlib.run([testlib.bin_path("logship"), "--check", "-c", bad2])
testlib.ok(r.returncode == 1 and b"port beyond 65535" in r.stderr, "--check refuses a port beyond 65535")

# --- logger, every transport ------------------------------------------------------------
OUT = os.path.join(d, "out.ndjson")
conf = """data_dir: {dir}/data
http: { listen: 127.0.0.1:{port} }
buffer: { batch_timeout: 20ms }
inputs:
  - type: syslog
    listen: [udp://127.0.0.1:%d, tcp://127.0.0.1:%d, unix://%s, unix-stream://%s]
    receive_buffer: 4MiB
outputs:
  - type: file
    path: %s
""" % (UDP, TCP, DG, ST, OUT)
a = agentlib.Agent(d, conf, "sl")
testlib.ok(a.start(), "agent starts with a syslog input on UDP, TCP, unix and unix-stream")
testlib.ok(os.path.exists(DG) and oct(os.stat(DG).st_mode & 0o777) == "0o666",
           "the unix socket file exists with mode 0666")

logger("--udp", "-n", "127.0.0.1", "-P", str(UDP), "--rfc5424", "-t", "udpapp", "--msgid", "M1",
       "-p", "local3.err", "--sd-id", "zoo@123", "--sd-param", 'tiger="hungry"', "hello over udp")
logger("--tcp", "-n", "127.0.0.1", "-P", str(TCP), "--rfc3164", "-t", "tcpapp", "-i", "hello over tcp 3164")
logger("--tcp", "-n", "127.0.0.1", "-P", str(TCP), "--octet-count", "--rfc5424", "-t", "octapp",
       "multi\nline in one octet-counted frame")
logger("--tcp", "-n", "127.0.0.1", "-P", str(TCP), "--rfc5424", "-t", "lfapp", "hello over tcp lf 5424")
logger("-u", DG, "-t", "dgapp", "-p", "auth.warning", "hello over unix datagram")
r = logger("-u", ST, "--socket-errors=on", "-t", "stapp", "hello over unix stream")
testlib.ok(r.returncode == 0, "logger -u on the unix stream socket with --socket-errors=on succeeds")
# many lines over one TCP connection (logger reads stdin, one message per line)
lines = "".join("line %d from stdin\n" % i for i in range(500)).encode()
logger("--tcp", "-n", "127.0.0.1", "-P", str(TCP), "-t", "bulk", stdin=lines)
logger("-u", DG, "-t", "bulkdg", stdin=lines)
evs = wait_events(OUT, 6 + 1000)
by = {}
for e in evs:
    by.setdefault(e.get("log", {}).get("syslog", {}).get("appname"), []).append(e)


def one(app):
    return (by.get(app) or [None])[0]


e = one("udpapp")
s = (e or {}).get("log", {}).get("syslog", {})
testlib.ok(e and e["message"] == "hello over udp" and s.get("priority") == 19 * 8 + 3
           and s.get("facility") == {"code": 19, "name": "local3"}
           and s.get("severity") == {"code": 3, "name": "Error"} and s.get("msgid") == "M1"
           and s.get("version") == "1" and s.get("hostname")
           and s.get("structured_data", {}).get("zoo@123") == {"tiger": "hungry"}
           and e.get("source", {}).get("ip") == "127.0.0.1",
           "logger --udp --rfc5424: message, priority, facility, severity, msgid, structured data, source.ip")
if not e:
    testlib.diag("events: %r" % evs[:8])
e = one("tcpapp")
s = (e or {}).get("log", {}).get("syslog", {})
testlib.ok(e and e["message"] == "hello over tcp 3164" and s.get("procid") and s.get("hostname")
           and "version" not in s and e["@timestamp"].endswith("Z"),
           "logger --tcp --rfc3164 (LF framing): hostname, appname, procid, message")
e = one("octapp")
testlib.ok(e and e["message"] == "multi\nline in one octet-counted frame",
           "logger --tcp --octet-count --rfc5424: a newline inside an octet-counted frame stays in the message")
e = one("lfapp")
testlib.ok(e and e["message"] == "hello over tcp lf 5424" and e["log"]["syslog"].get("version") == "1",
           "logger --tcp --rfc5424 with LF framing")
e = one("dgapp")
testlib.ok(e and e["message"] == "hello over unix datagram" and e["log"]["syslog"]["facility"]["name"] == "auth"
           and e["log"]["syslog"]["severity"]["code"] == 4 and "source" not in e,
           "logger -u (unix datagram): local sender, auth.warning, no source address")
e = one("stapp")
testlib.ok(e and e["message"] == "hello over unix stream", "logger -u on a unix-stream socket")
bulk = sorted(int(x["message"].split()[1]) for x in by.get("bulk", []))
testlib.ok(bulk == list(range(500)), "500 lines over one logger TCP connection: every one, once")
bulkdg = sorted(int(x["message"].split()[1]) for x in by.get("bulkdg", []))
testlib.ok(bulkdg == list(range(500)), "500 datagrams from logger over the unix socket: every one, once")

# --- the load generator: counts -----------------------------------------------------------
OUT_N = len(events(OUT))
runs = [(["--tcp", "127.0.0.1:%d" % TCP, "--count", "20000", "--start", "1000000"], "TCP octet-counted"),
        (["--tcp", "127.0.0.1:%d" % TCP, "--count", "20000", "--start", "2000000", "--lf", "--rfc3164",
          "--conns", "4"], "TCP LF-framed RFC 3164 over 4 connections"),
        (["--unix", DG, "--count", "5000", "--start", "3000000"], "unix datagrams")]
for args, what in runs:
    r = testlib.run([LOAD] + args, timeout=60)
    if r.returncode != 0:
        testlib.diag(r.stderr.decode())
want = 45000
evs = wait_events(OUT, OUT_N + want, timeout=60)
seqs = {}
for e in evs[OUT_N:]:
    m = e["message"]
    if m.startswith("seq="):
        n = int(m[4:14])
        seqs[n] = seqs.get(n, 0) + 1
ranges = [range(1000000, 1020000), range(2000000, 2020000), range(3000000, 3005000)]
testlib.ok(all(all(seqs.get(n) == 1 for n in rg) for rg in ranges) and len(seqs) == want,
           "load generator: 20000 TCP octet-counted, 20000 TCP LF (4 connections), 5000 unix datagrams: "
           "each exactly once (%d distinct)" % len(seqs))
r = testlib.run([LOAD, "--udp", "127.0.0.1:%d" % UDP, "--count", "2000", "--start", "4000000", "--rate", "20000"])
evs = wait_events(OUT, OUT_N + want + 2000, timeout=20)
udp = [e for e in evs if e["message"].startswith("seq=00040")]
testlib.ok(len(udp) >= 1900 and udp[0]["log"]["syslog"]["appname"] == "loadgen",
           "UDP at 20000/s: %d of 2000 datagrams arrived (loopback, no backpressure)" % len(udp))

# --- hostile input ---------------------------------------------------------------------------
rss0 = testlib.status_kb(a.p.pid, "VmRSS")
HOST_N = len(events(OUT))


def tcp_send(data, close=True):
    s = socket.create_connection(("127.0.0.1", TCP), timeout=5)
    s.sendall(data)
    if close:
        s.shutdown(socket.SHUT_WR)
        try:
            s.settimeout(5)
            s.recv(1)
        except OSError:
            pass
        s.close()
    return s


tcp_send(b"no pri at all\n<999>pri 999\n<13>nul\x00in\x00the middle\n" + b"<13>" + b"x" * (1 << 20) + b"\n"
         + b"<14>after the big one\n")
tcp_send(b"<13>half a line without end")
tcp_send(b"50 <13>only half of a frame")
tcp_send(b"1099511627776 <13>an octet count of 2^40\n<13>never read\n")
tcp_send(b"12x <13>a count not followed by a space\n")
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.sendto(b"<13>" + b"u" * 65000, ("127.0.0.1", UDP))
sock.sendto(b"\x00\x01\x02 binary", ("127.0.0.1", UDP))
sock.close()
time.sleep(0.3)
evs = wait_events(OUT, HOST_N + 8, timeout=20)[HOST_N:]
msgs = {e["message"][:40]: e for e in evs}
e = msgs.get("no pri at all")
testlib.ok(e and "_syslog_parse_failure" in e.get("tags", []) and e["error"]["message"] == "no valid PRI",
           "a line without PRI is kept whole in message, tagged _syslog_parse_failure")
e = msgs.get("<999>pri 999")
testlib.ok(e and "_syslog_parse_failure" in e.get("tags", []) and "log" not in e, "PRI 999 is no PRI: kept whole")
e = msgs.get("nul\x00in\x00the middle")
testlib.ok(e is not None and e["log"]["syslog"]["priority"] == 13, "NUL bytes inside a message survive as \\u0000")
big = [e for e in evs if e["message"].startswith("xxxx")]
testlib.ok(len(big) == 1 and len(big[0]["message"]) < 70000 and "_syslog_truncated" in big[0].get("tags", []),
           "a 1 MiB line is cut at max_message_bytes and tagged _syslog_truncated (%s bytes)"
           % (len(big[0]["message"]) if big else None))
testlib.ok("after the big one" in msgs, "the line after the 1 MiB one is read normally")
testlib.ok(msgs.get("half a line without end") is not None, "a last LF line without its LF is kept at EOF")
testlib.ok(not any("only half of a frame" in m for m in msgs) and not any("never read" in m for m in msgs),
           "a torn octet-counted frame is not shipped; after a 2^40 count the connection is closed")
e = [e for e in evs if e["message"].startswith("uuuu")]
testlib.ok(len(e) == 1 and len(e[0]["message"]) == 65000,
           "a 65000-byte UDP datagram arrives whole (max_message_bytes 64KiB)")
testlib.ok(any(m.startswith("\x00\x01\x02") for m in msgs), "a binary UDP datagram is kept and escaped")
testlib.ok(a.alive() and "octet count larger than the maximum" in a.log_text()
           and "octet count not followed by a space" in a.log_text(),
           "the agent is alive and logged both framing errors")
rss1 = testlib.status_kb(a.p.pid, "VmRSS")
testlib.ok(rss1 - rss0 < 64 * 1024, "memory after hostile input: RSS %d -> %d KiB" % (rss0, rss1))
code, _ = a.get("/health")
testlib.ok(code == 200, "/health still answers")
testlib.ok(a.stop() == 0 and not os.path.exists(DG) and not os.path.exists(ST),
           "SIGTERM: exit 0, the unix socket files are removed")

# --- limits: max_connections, idle_timeout ------------------------------------------------------
P3 = testlib.free_port()
conf = """data_dir: {dir}/data2
http: { listen: 127.0.0.1:{port} }
inputs:
  - type: syslog
    listen: tcp://127.0.0.1:%d
    max_connections: 2
    idle_timeout: 600ms
outputs:
  - type: file
    path: {dir}/lim.ndjson
""" % P3
a = agentlib.Agent(d, conf, "lim")
testlib.ok(a.start(), "agent starts with max_connections 2, idle_timeout 600ms")


def closed_by_peer(s, timeout):
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except socket.timeout:
        return False
    except OSError:
        return True


c1 = socket.create_connection(("127.0.0.1", P3))
c2 = socket.create_connection(("127.0.0.1", P3))
time.sleep(0.1)
c3 = socket.create_connection(("127.0.0.1", P3))
testlib.ok(closed_by_peer(c3, 2), "a third connection is closed at once (max_connections 2)")
t0 = time.time()
c1.sendall(b"<13>keep me busy\n")
testlib.ok(closed_by_peer(c2, 3) and time.time() - t0 >= 0.3, "an idle connection is closed after idle_timeout")
testlib.ok(closed_by_peer(c1, 3), "and so is the other once it falls silent")
for c in (c1, c2, c3):
    c.close()
testlib.ok(a.metric("logship_input_events_total", input="syslog") == 1, "the one message was taken")
a.stop()

# --- backpressure: TCP slowed, UDP drops counted ----------------------------------------------------
P4, P5 = testlib.free_port(), testlib.free_port()
blocker = os.path.join(d, "outdir")
with open(blocker, "w") as f:
    f.write("a file, not a directory\n")
conf = """data_dir: {dir}/data3
http: { listen: 127.0.0.1:{port} }
buffer: { max_bytes: 1MiB, segment_bytes: 128KiB, batch_max_bytes: 16KiB, batch_timeout: 20ms }
inputs:
  - type: syslog
    name: tcp
    listen: tcp://127.0.0.1:%d
  - type: syslog
    name: udp
    listen: udp://127.0.0.1:%d
outputs:
  - type: file
    path: {dir}/outdir/bp.ndjson
    retry_initial: 50ms
    retry_max: 200ms
""" % (P4, P5)
a = agentlib.Agent(d, conf, "bp")
testlib.ok(a.start(), "agent starts with a 1 MiB ring and an output that cannot write")
N = 60000
sender = testlib.start([LOAD, "--tcp", "127.0.0.1:%d" % P4, "--count", str(N), "--size", "150"],
                       stdout=open(os.path.join(d, "load.out"), "wb"))
full = testlib.wait_for(lambda: (a.metric("logship_ring_bytes") or 0) > (1 << 19) and
                        a.metric("logship_input_events_total", input="tcp") ==
                        (time.sleep(0.5) or a.metric("logship_input_events_total", input="tcp")), timeout=30)
n1 = a.metric("logship_input_events_total", input="tcp")
time.sleep(1.0)
n2 = a.metric("logship_input_events_total", input="tcp")
testlib.ok(full and n1 == n2 and n2 < N and sender.poll() is None,
           "ring full: the TCP sender is not read (%s of %d taken, unchanged for 1 s, sender blocked)" % (n2, N))
rb = a.metric("logship_ring_bytes") or 0
testlib.ok(rb <= 1 << 20, "the ring stays within max_bytes (%d)" % rb)
r = testlib.run([LOAD, "--udp", "127.0.0.1:%d" % P5, "--count", "3000", "--start", "9000000", "--rate", "30000"])
time.sleep(0.5)
udrop = a.metric("logship_input_dropped_total", input="udp") or 0
uin = a.metric("logship_input_events_total", input="udp") or 0
testlib.ok(udrop > 0 and udrop + uin <= 3000, "UDP under backpressure: %d dropped and counted, %d taken" % (udrop, uin))
os.unlink(blocker)
os.mkdir(blocker)
done = testlib.wait_for(lambda: a.metric("logship_output_events_total", output="file") ==
                        N + uin and sender.poll() is not None, timeout=90)
seen = {}
for path in agentlib.rotated(os.path.join(d, "outdir", "bp.ndjson")):
    for e in events(path):
        if e["message"].startswith("seq=0"):
            k = int(e["message"][4:14])
            seen[k] = seen.get(k, 0) + 1
testlib.ok(done and sender.returncode == 0 and len(seen) == N and set(seen) == set(range(1, N + 1))
           and max(seen.values()) == 1,
           "space back: the TCP sender finishes and all %d messages arrive exactly once (%d distinct)" % (N, len(seen)))
tdrop = a.metric("logship_input_dropped_total", input="tcp") or 0
testlib.ok(tdrop == 0, "a kept TCP message offered again is not counted as a drop (dropped_total %s)" % tdrop)
a.stop()
testlib.finish()
