"""Raw Kafka wire protocol for broker tests that must send what no client
library would (garbage, absurd counts) or look at bytes a library hides
(how big a Fetch response is). Python 3 stdlib only; non-flexible versions.

Only what the tests need: framing, a reader for responses, and a few
request encoders. Field layouts follow Kafka's message definitions.
"""
import socket
import struct


def frame(api, ver, corr, body=b"", client=b"wire-test"):
    """A request frame: size, api key, version, correlation id, client id, body."""
    msg = struct.pack(">hhih", api, ver, corr, len(client)) + client + body
    return struct.pack(">i", len(msg)) + msg


def string(s):
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">h", len(b)) + b


def array(items):
    return struct.pack(">i", len(items)) + b"".join(items)


def connect(port, host="127.0.0.1", timeout=5):
    s = socket.create_connection((host, port), timeout=timeout)
    s.settimeout(timeout)
    return s


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            return None
        buf += d
    return buf


def recv_frame(s):
    """One response frame without its size prefix, or None if the peer closed or timed out."""
    try:
        h = recv_exact(s, 4)
        if h is None:
            return None
        return recv_exact(s, struct.unpack(">i", h)[0])
    except (socket.timeout, ConnectionResetError):
        return None


def call(s, api, ver, corr, body):
    """Sends one request and returns a Reader past the response's correlation id (or None)."""
    s.sendall(frame(api, ver, corr, body))
    r = recv_frame(s)
    if r is None:
        return None
    rd = Reader(r)
    if rd.i32() != corr:
        raise ValueError("correlation id mismatch")
    return rd


class Reader:
    def __init__(self, b):
        self.b, self.p = b, 0

    def _take(self, fmt):
        v = struct.unpack_from(fmt, self.b, self.p)
        self.p += struct.calcsize(fmt)
        return v[0]

    def i8(self):
        return self._take(">b")

    def i16(self):
        return self._take(">h")

    def i32(self):
        return self._take(">i")

    def i64(self):
        return self._take(">q")

    def string(self):
        n = self.i16()
        if n < 0:
            return None
        v = self.b[self.p:self.p + n].decode()
        self.p += n
        return v

    def bytes(self):
        n = self.i32()
        if n < 0:
            return None
        v = self.b[self.p:self.p + n]
        self.p += n
        return v


# --- requests and responses the tests use ------------------------------------

def metadata_v4(topics, allow_create=True):
    """topics None: every topic (a null array)."""
    ts = struct.pack(">i", -1) if topics is None else array([string(t) for t in topics])
    return ts + struct.pack(">b", 1 if allow_create else 0)


def parse_metadata_v4(rd):
    """{topic: (error, partition count)} from a Metadata v4 response."""
    rd.i32()  # throttle
    for _ in range(rd.i32()):
        rd.i32(), rd.string(), rd.i32(), rd.string()
    rd.string(), rd.i32()  # cluster id, controller
    out = {}
    for _ in range(rd.i32()):
        err, name, _internal = rd.i16(), rd.string(), rd.i8()
        nparts = rd.i32()
        for _ in range(nparts):
            rd.i16(), rd.i32(), rd.i32()
            for _ in range(rd.i32()):
                rd.i32()
            for _ in range(rd.i32()):
                rd.i32()
        out[name] = (err, nparts)
    return out


def fetch_v4(topic, partition, offset, max_bytes, part_max_bytes, max_wait=0, min_bytes=1):
    part = struct.pack(">iqi", partition, offset, part_max_bytes)
    return struct.pack(">iiiib", -1, max_wait, min_bytes, max_bytes, 0) + array([string(topic) + array([part])])


def parse_fetch_v4(rd):
    """[(topic, partition, error, high_watermark, record bytes)] from a Fetch v4 response."""
    rd.i32()  # throttle
    out = []
    for _ in range(rd.i32()):
        name = rd.string()
        for _ in range(rd.i32()):
            p, err, hw = rd.i32(), rd.i16(), rd.i64()
            rd.i64()  # last stable offset
            n = rd.i32()  # aborted transactions
            for _ in range(max(n, 0)):
                rd.i64(), rd.i64()
            out.append((name, p, err, hw, rd.bytes() or b""))
    return out


def batches(records):
    """(base offset, batch length in bytes) of each whole batch in a record set."""
    out, pos = [], 0
    while pos + 12 <= len(records):
        base, blen = struct.unpack_from(">qi", records, pos)
        if pos + 12 + blen > len(records):
            break
        out.append((base, 12 + blen))
        pos += 12 + blen
    return out


def delete_topics_v1(topics, timeout_ms=5000):
    return array([string(t) for t in topics]) + struct.pack(">i", timeout_ms)


def parse_delete_topics_v1(rd):
    rd.i32()
    return {rd.string(): rd.i16() for _ in range(rd.i32())}
