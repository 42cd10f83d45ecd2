"""A stand-in Kafka broker for the native kafka engine's error paths: it
answers ApiVersions v0, Metadata v1 and Produce v3 the way Kafka's message
definitions lay them out, decodes the RecordBatch v2 of every Produce
request (uncompressed), and fails partitions on purpose, as a real cluster
does only rarely and never on cue:

  poison=b"..."      a batch holding a record whose value contains it gets
                     INVALID_RECORD (87) for the whole batch, as Kafka does
                     (Produce v3 cannot say which record);
  max_batch=N        a batch larger than N bytes gets MESSAGE_TOO_LARGE (10);
  not_leader=N       the first N partition results are NOT_LEADER_OR_FOLLOWER (6).

What it accepted is in .values (record values, in order), what it refused
in .refused (error code per refused batch), with .metadata_requests and
.produce_requests counted. Python 3 stdlib only; loopback only.
"""
import socket
import struct
import threading

import kafka_wire as kw


def varint(b, p):
    """A zigzag varint at b[p:]: (value, next position)."""
    shift = v = 0
    while True:
        c = b[p]
        p += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return (v >> 1) ^ -(v & 1), p


def batch_values(batch):
    """The record values of one uncompressed RecordBatch v2."""
    count = struct.unpack_from(">i", batch, 57)[0]
    attrs = struct.unpack_from(">h", batch, 21)[0]
    if attrs & 7:
        raise ValueError("compressed batch: the stand-in reads uncompressed ones only")
    p, out = 61, []
    for _ in range(count):
        ln, p = varint(batch, p)
        end = p + ln
        p += 1  # attributes
        _, p = varint(batch, p)  # timestamp delta
        _, p = varint(batch, p)  # offset delta
        kl, p = varint(batch, p)
        p += max(kl, 0)
        vl, p = varint(batch, p)
        out.append(batch[p:p + vl] if vl >= 0 else None)
        p = end
    return out


class Listener(threading.Thread):
    """A loopback TCP server that hands each connection to self.serve(c) in
    a thread of its own; stop() closes it. The stand-ins build on it."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.stopping, self.accepted, self.conns = port, False, 0, []
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.s.bind(("127.0.0.1", port))
        self.s.listen(16)
        self.s.settimeout(0.2)

    def run(self):
        while not self.stopping:
            try:
                c, _ = self.s.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            self.accepted += 1
            self.conns.append(c)
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def stop(self):
        self.stopping = True
        self.s.close()
        self.join(5)
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass

    def serve(self, c):
        raise NotImplementedError


class StandIn(Listener):
    def __init__(self, port, poison=None, max_batch=None, not_leader=0, partitions=1):
        super().__init__(port)
        self.poison, self.max_batch, self.not_leader = poison, max_batch, not_leader
        self.partitions = partitions
        self.values, self.refused = [], []
        self.metadata_requests = self.produce_requests = 0
        self.lock = threading.Lock()

    def serve(self, c):
        c.settimeout(30)
        try:
            while not self.stopping:
                req = kw.recv_frame(c)
                if req is None:
                    return
                rd = kw.Reader(req)
                api, ver, corr = rd.i16(), rd.i16(), rd.i32()
                rd.string()  # client id
                if api == 18:
                    body = struct.pack(">h", 0) + kw.array([struct.pack(">hhh", 0, 3, 3), struct.pack(">hhh", 3, 1, 1),
                                                            struct.pack(">hhh", 18, 0, 0)])
                elif api == 3 and ver == 1:
                    body = self.metadata(rd)
                elif api == 0 and ver == 3:
                    body = self.produce(rd)
                    if body is None:
                        continue  # acks=0: no answer
                else:
                    return  # not for this stand-in: close, as Kafka does for what it cannot parse
                msg = struct.pack(">i", corr) + body
                c.sendall(struct.pack(">i", len(msg)) + msg)
        except (OSError, ValueError, struct.error):
            pass
        finally:
            c.close()

    def metadata(self, rd):
        with self.lock:
            self.metadata_requests += 1
        topics = [rd.string() for _ in range(rd.i32())]
        brokers = kw.array([struct.pack(">i", 1) + kw.string("127.0.0.1") + struct.pack(">i", self.port) +
                            kw.string(None)])
        parts = kw.array([struct.pack(">hii", 0, p, 1) + kw.array([struct.pack(">i", 1)]) +
                          kw.array([struct.pack(">i", 1)]) for p in range(self.partitions)])
        ts = kw.array([struct.pack(">h", 0) + kw.string(t) + b"\0" + parts for t in topics])
        return brokers + struct.pack(">i", 1) + ts

    def produce(self, rd):
        rd.string()  # transactional id
        acks, _timeout = rd.i16(), rd.i32()
        out = []
        for _ in range(rd.i32()):
            name, res = rd.string(), []
            for _ in range(rd.i32()):
                part, batch = rd.i32(), rd.bytes()
                res.append(struct.pack(">i", part) + self.take(batch) + struct.pack(">q", -1))
            out.append(kw.string(name) + kw.array(res))
        with self.lock:
            self.produce_requests += 1
        if acks == 0:
            return None
        return kw.array(out) + struct.pack(">i", 0)

    def take(self, batch):
        """Error code and base offset for one partition's batch."""
        vals = batch_values(batch)
        with self.lock:
            err = 0
            if self.not_leader > 0:
                self.not_leader -= 1
                err = 6
            elif self.max_batch and len(batch) > self.max_batch:
                err = 10
            elif self.poison and any(v and self.poison in v for v in vals):
                err = 87
            if err:
                self.refused.append(err)
                return struct.pack(">hq", err, -1)
            base = len(self.values)
            self.values.extend(vals)
            return struct.pack(">hq", 0, base)
