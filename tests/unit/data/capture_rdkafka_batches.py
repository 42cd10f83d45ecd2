#!/usr/bin/env python3
"""Captures RecordBatch v2 bytes exactly as librdkafka writes them, for
tests/unit/test_batch.c (our decoder must read what real Kafka clients write).

How: kcat (librdkafka) produces the records of rdkafka_input.txt, with two
headers, to librdkafka's own in-process mock cluster (test.mock.num.brokers=1),
under strace, which prints every byte kcat sends. The Produce request's record
set is cut out of the stream and saved as rdkafka_batch_<codec>.bin.

Run by hand when the fixtures need remaking (needs kcat and strace):
    python3 tests/unit/data/capture_rdkafka_batches.py
"""
import os
import re
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def sent_bytes(trace):
    """Concatenated bytes written per (pid, fd), in order."""
    streams = {}
    for line in open(trace, encoding="ascii", errors="replace"):
        m = re.match(r"(\d+)\s+sendmsg\((\d+),", line)
        if not m:
            continue
        key = (m.group(1), m.group(2))
        for s in re.findall(r'iov_base="((?:\\x[0-9a-f]{2})*)"', line):
            streams.setdefault(key, bytearray()).extend(bytes.fromhex(s.replace("\\x", "")))
    return streams


def produce_record_sets(stream):
    """Yields the record set of every Produce request (api key 0) in stream.
    Only client streams count: they open with an ApiVersions request (18);
    the mock broker's replies (same process) do not."""
    if len(stream) < 6 or struct.unpack_from(">h", stream, 4)[0] != 18:
        return
    pos = 0
    while pos + 4 <= len(stream):
        (size,) = struct.unpack_from(">i", stream, pos)
        frame = stream[pos + 4:pos + 4 + size]
        pos += 4 + size
        if len(frame) < 8:
            continue
        api_key, version = struct.unpack_from(">hh", frame, 0)
        if api_key != 0 or version >= 9:   # Produce, non-flexible versions
            continue
        p = 8
        (cid_len,) = struct.unpack_from(">h", frame, p)
        p += 2 + max(cid_len, 0)
        if version >= 3:                     # transactional_id
            (tl,) = struct.unpack_from(">h", frame, p)
            p += 2 + max(tl, 0)
        p += 2 + 4                           # acks, timeout
        (ntopics,) = struct.unpack_from(">i", frame, p)
        p += 4
        for _ in range(ntopics):
            (tn,) = struct.unpack_from(">h", frame, p)
            p += 2 + tn
            (nparts,) = struct.unpack_from(">i", frame, p)
            p += 4
            for _ in range(nparts):
                p += 4                       # partition
                (rl,) = struct.unpack_from(">i", frame, p)
                p += 4
                yield bytes(frame[p:p + rl])
                p += rl


def capture(codec):
    trace = os.path.join("/tmp", "rdkafka-capture-%s.strace" % codec)
    subprocess.run(["strace", "-f", "-qq", "-e", "trace=sendmsg", "-xx", "-s", "1000000", "-o", trace,
                    "kcat", "-P", "-b", "127.0.0.1:9", "-X", "test.mock.num.brokers=1", "-X", "linger.ms=200",
                    "-t", "golden", "-p", "0", "-K:", "-H", "h1=v1", "-H", "h2=v2", "-z", codec],
                   stdin=open(os.path.join(HERE, "rdkafka_input.txt"), "rb"), check=True, timeout=60)
    sets = [rs for st in sent_bytes(trace).values() for rs in produce_record_sets(st)]
    os.unlink(trace)
    if len(sets) != 1:
        sys.exit("expected one Produce record set for %s, found %d" % (codec, len(sets)))
    out = os.path.join(HERE, "rdkafka_batch_%s.bin" % codec)
    open(out, "wb").write(sets[0])
    print("%s: %d bytes" % (out, len(sets[0])))


if __name__ == "__main__":
    for codec in ("none", "gzip", "zstd"):
        capture(codec)
