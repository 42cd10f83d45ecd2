"""logship-broker against hostile bytes on raw sockets: whatever arrives, the
broker answers or closes that one connection, logs why, and goes on serving.

Checks: random garbage, an HTTP request, a negative size prefix, a size beyond
max_request_bytes (closed before the body is read), frames cut short then
closed, a valid header with an absurd array count (Metadata, Produce, Fetch),
a header that does not parse; an unknown API key and an unsupported version
get a response with UNSUPPORTED_VERSION (35) on an open connection; more
connections than max_connections are refused past the limit. After all of
it: kcat -L, a produce and a consume still work, and the log names each
malformed request.
"""
import os
import random
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from testlib import *  # noqa: F401,F403
from kafka_wire import connect, recv_frame  # noqa: E402
import kafka_wire  # noqa: E402

MAX_CONN = 20
MAX_REQ = 1 << 20


def closed_by_peer(s, timeout=5.0):
    """True when the broker closes the connection within timeout."""
    s.settimeout(timeout)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def frame(api, ver, corr, body=b""):
    return kafka_wire.frame(api, ver, corr, body, client=b"garbage-test")


def api_versions_ok(s, corr=7):
    s.sendall(frame(18, 0, corr))
    r = recv_frame(s)
    return r is not None and struct.unpack(">ih", r[:6]) == (corr, 0)


def send_and_expect_close(port, data, what):
    s = connect(port)
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
    ok(closed_by_peer(s), what)
    s.close()


def main():
    d = tmpdir()
    port = free_port()
    broker = "127.0.0.1:%d" % port
    conf = os.path.join(d, "broker.yaml")
    with open(conf, "w") as f:
        f.write("listen: 127.0.0.1:%d\ndata_dir: %s/data\nmax_connections: %d\nmax_request_bytes: %d\n"
                % (port, d, MAX_CONN, MAX_REQ))
    logf = os.path.join(d, "broker.log")
    b = start([bin_path("logship-broker"), "-c", conf], log=logf)
    ok(wait_port(port, proc=b), "broker starts")

    rng = random.Random(1234)
    # Random bytes whose size prefix is small enough to be read in full: the
    # header or the body then fails to parse, or the API is unknown.
    closes = 0
    for i in range(50):
        body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 60)))
        s = connect(port)
        s.sendall(struct.pack(">i", len(body)) + body)
        r = recv_frame(s)
        closes += r is None
        s.close()
    ok(b.poll() is None, "50 frames of random bytes: the broker is still running (%d closed, %d answered)"
       % (closes, 50 - closes))
    # A valid header of every API the broker knows, then random bytes.
    answered = 0
    for i in range(100):
        api, ver = rng.choice([(0, 7), (1, 11), (2, 5), (3, 8), (8, 7), (9, 5), (10, 2), (11, 5), (12, 3),
                               (13, 3), (14, 3), (15, 4), (16, 2), (19, 4), (20, 3)])
        body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 80)))
        s = connect(port)
        s.sendall(frame(api, ver, i, body))
        r = recv_frame(s)
        answered += r is not None and r[:4] == struct.pack(">i", i)
        s.close()
    ok(b.poll() is None, "100 valid headers with random bodies: still running (%d answered, the rest closed)"
       % answered)
    raw = bytes(rng.getrandbits(8) for _ in range(4096))
    send_and_expect_close(port, b"\x7f" + raw, "4 KiB of garbage with a huge size prefix: connection closed")
    send_and_expect_close(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "an HTTP request: connection closed")
    send_and_expect_close(port, struct.pack(">i", -2) + b"abcd", "a negative size prefix: connection closed")

    # Oversized: the broker must close after the prefix, never wait for 2 MiB.
    s = connect(port)
    s.sendall(struct.pack(">i", 2 * MAX_REQ) + b"\0" * 100)
    ok(closed_by_peer(s, 3), "a size prefix of 2 MiB > max_request_bytes (1 MiB): closed without reading the body")
    s.close()
    # Just under the limit is read whole: Metadata for no topics, then padding.
    s = connect(port)
    s.sendall(frame(3, 4, 1, b"\0" * (MAX_REQ - 100)))
    r = recv_frame(s)
    ok(r is not None and r[:4] == struct.pack(">i", 1), "a frame of almost max_request_bytes is read whole and answered")
    s.close()

    for cut in (2, 4, 9, 30):
        s = connect(port)
        full = frame(3, 4, 9, struct.pack(">i", 1) + struct.pack(">h", 5) + b"topic" + b"\1")
        s.sendall(full[:cut])
        s.close()
    ok(b.poll() is None, "frames cut short after 2, 4, 9 and 30 bytes, then closed: the broker goes on")

    s = connect(port)
    s.sendall(struct.pack(">i", 3) + b"\0\3\0")
    ok(closed_by_peer(s), "a 3-byte request (header does not parse): connection closed")
    s.close()

    # Valid headers, absurd array counts: refused before any allocation.
    absurd = [
        ("Metadata v4 with 2^31-1 topics", frame(3, 4, 2, struct.pack(">i", 0x7FFFFFFF) + b"\1")),
        ("Produce v7 with 2^31-1 topics", frame(0, 7, 3, struct.pack(">hhii", -1, 1, 1000, 0x7FFFFFFF))),
        ("Fetch v11 with 2^31-1 partitions",
         frame(1, 11, 4, struct.pack(">iiiibiii", -1, 100, 1, 1 << 20, 0, 0, -1, 1) + struct.pack(">h", 1) + b"t"
               + struct.pack(">i", 0x7FFFFFFF))),
        ("CreateTopics v4 with -5 topics", frame(19, 4, 5, struct.pack(">i", -5))),
        ("a record set longer than the request", frame(0, 7, 6, struct.pack(">hhii", -1, 1, 1000, 1) +
                                                      struct.pack(">h", 1) + b"t" + struct.pack(">iii", 1, 0, 1 << 30))),
    ]
    for what, data in absurd:
        s = connect(port)
        s.sendall(data)
        ok(closed_by_peer(s), "%s: connection closed" % what)
        s.close()

    # Unknown API and unsupported version: an answer, and the line stays up.
    s = connect(port)
    s.sendall(frame(9999, 0, 41))
    r = recv_frame(s)
    ok(r is not None and struct.unpack(">ih", r[:6]) == (41, 35),
       "unknown API key 9999: a response with UNSUPPORTED_VERSION (35) and the correlation id")
    s.sendall(frame(3, 99, 42, struct.pack(">i", -1)))
    r = recv_frame(s)
    ok(r is not None and struct.unpack(">ih", r[:6]) == (42, 35),
       "Metadata v99: a response with UNSUPPORTED_VERSION (35)")
    s.sendall(frame(18, 9, 43))
    r = recv_frame(s)
    ok(r is not None and struct.unpack(">ih", r[:6]) == (43, 35),
       "ApiVersions v9: UNSUPPORTED_VERSION with the supported list (KIP-511)")
    ok(api_versions_ok(s, 44), "the same connection then answers ApiVersions v0")
    s.close()

    # Connection limit: the first MAX_CONN are served, the rest refused.
    time.sleep(0.3)  # let the broker see the earlier connections close
    socks = [connect(port) for _ in range(MAX_CONN + 10)]
    served = 0
    for i, s in enumerate(socks):
        try:
            served += api_versions_ok(s, 100 + i)
        except OSError:
            pass
    ok(served == MAX_CONN, "%d connections opened with max_connections %d: %d served, the rest refused"
       % (len(socks), MAX_CONN, served))
    for s in socks:
        s.close()
    time.sleep(0.3)
    s = connect(port)
    ok(api_versions_ok(s), "once they close, a new connection is served again")
    s.close()

    r = run(["kcat", "-q", "-L", "-b", broker], timeout=30)
    ok(r.returncode == 0 and ("broker 0 at 127.0.0.1:%d" % port) in r.stdout.decode(),
       "after all of it, kcat -L works")
    msgs = "".join("after-garbage-%d\n" % i for i in range(100)).encode()
    r = run(["kcat", "-q", "-P", "-b", broker, "-t", "still-ok", "-X", "acks=all"], input=msgs, timeout=60)
    ok(r.returncode == 0, "kcat -P of 100 messages works")
    r = run(["kcat", "-q", "-C", "-b", broker, "-t", "still-ok", "-o", "beginning", "-e"], timeout=60)
    ok(r.stdout == msgs, "kcat -C reads them back")

    log = open(logf).read()
    checks = [
        ("negative request size", "the negative size"),
        ("exceeds max_request_bytes", "the oversized request"),
        ("request header does not parse", "the unparseable header"),
        ("closed mid-request", "the truncated frames"),
        ("malformed request (API 3 v4", "the absurd Metadata count"),
        ("malformed request (API 0 v7", "the absurd Produce count"),
        ("malformed request (API 1 v11", "the absurd Fetch count"),
        ("malformed request (API 19 v4", "the negative CreateTopics count"),
        ("unsupported API 9999 version 0", "the unknown API key"),
        ("unsupported API 3 version 99", "the unsupported version"),
        ("refused: max_connections", "the refused connections"),
    ]
    for needle, what in checks:
        ok(needle in log, "the broker logged %s (%r)" % (what, needle))
    ok(log.count("closed mid-request") >= 4, "each truncated frame is logged (%d)" % log.count("closed mid-request"))
    ok(stop(b) == 0, "SIGTERM: exit 0")
    finish()


main()
