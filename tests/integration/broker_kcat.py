"""logship-broker against kcat (librdkafka): the clients nobody here wrote.

Checks: kcat -L lists the broker and topics; 100,000 numbered messages
produced with acks=all into a 4-partition topic read back by kcat -C, every
one, byte for byte, in order per partition; the same after a restart; gzip
and zstd producer batches round-trip; the shipped config and --check work.
"""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from testlib import *  # noqa: F401,F403

N = 100000


def start_broker(data, port, extra=()):
    p = start([bin_path("logship-broker"), "--listen", "127.0.0.1:%d" % port, "--data-dir", data] + list(extra),
              log=os.path.join(os.path.dirname(data), "broker.log"))
    if not wait_port(port, proc=p):
        diag("broker did not start: " + open(os.path.join(os.path.dirname(data), "broker.log")).read()[-2000:])
    return p


def kcat(args, input=None, timeout=120):
    return run(["kcat", "-q"] + args, input=input, timeout=timeout)


def read_all(broker, topic, fmt="%p %o %s\\n"):
    r = kcat(["-C", "-b", broker, "-t", topic, "-o", "beginning", "-e", "-f", fmt, "-X", "check.crcs=true"])
    return r


def check_numbers(out, n, what):
    """Every number 1..n exactly once; per partition offsets and numbers rise."""
    seen = {}
    last = {}
    ordered = True
    for line in out.decode().splitlines():
        p, o, v = line.split(" ", 2)
        p, o = int(p), int(o)
        num = int(v[len("msg-"):])
        seen[num] = seen.get(num, 0) + 1
        if p in last and (o <= last[p][0] or num <= last[p][1]):
            ordered = False
        last[p] = (o, num)
    missing = [i for i in range(1, n + 1) if i not in seen]
    dups = sum(c - 1 for c in seen.values())
    ok(not missing and dups == 0, "%s: all %d messages read back exactly once (missing %d, duplicates %d)"
       % (what, n, len(missing), dups))
    ok(ordered, "%s: offsets and numbers rise within every partition" % what)
    ok(len(last) == 4, "%s: the messages are spread over the 4 partitions (%d seen)" % (what, len(last)))


def main():
    d = tmpdir()
    data = os.path.join(d, "data")
    port = free_port()
    broker = "127.0.0.1:%d" % port
    b = start_broker(data, port)

    r = run([bin_path("logship-broker"), "-c", os.path.join(ROOT, "conf.d", "broker.yaml"), "--check"])
    ok(r.returncode == 0 and b"listen:" in r.stdout, "--check prints the shipped config's effective values")

    r = run([bin_path("logshipctl"), "-b", broker, "topics", "create", "numbers", "--partitions", "4"])
    ok(r.returncode == 0, "logshipctl topics create numbers --partitions 4: %s" % r.stderr.decode().strip())

    r = kcat(["-L", "-b", broker])
    out = r.stdout.decode()
    ok(r.returncode == 0 and ("broker 0 at 127.0.0.1:%d" % port) in out, "kcat -L lists the broker")
    ok('topic "numbers" with 4 partitions' in out, "kcat -L lists topic numbers with 4 partitions")

    # Keyed, so the partitioner spreads them by key hash (null keys would be
    # "sticky": librdkafka keeps them on one partition for a while).
    msgs = "".join("k%d:msg-%d\n" % (i, i) for i in range(1, N + 1)).encode()
    r = kcat(["-P", "-b", broker, "-t", "numbers", "-K", ":", "-X", "acks=all", "-X", "linger.ms=5"], input=msgs)
    ok(r.returncode == 0, "kcat -P of %d messages with acks=all: exit 0 (%s)" % (N, r.stderr.decode()[-300:]))
    r = read_all(broker, "numbers")
    ok(r.returncode == 0, "kcat -C -o beginning -e exits 0")
    check_numbers(r.stdout, N, "before restart")

    ok(stop(b) == 0, "SIGTERM: the broker exits 0")
    b = start_broker(data, port)
    r = read_all(broker, "numbers")
    check_numbers(r.stdout, N, "after restart")

    for codec in ("gzip", "zstd", "lz4", "snappy"):
        topic = "compressed-" + codec
        lines = "".join("%s line %d %s\n" % (codec, i, "x" * (i % 50)) for i in range(2000)).encode()
        r = kcat(["-P", "-b", broker, "-t", topic, "-z", codec, "-X", "acks=all"], input=lines)
        # The broker stores producer batches verbatim (only length, magic and
        # CRC are checked), so every codec the client speaks round-trips.
        ok(r.returncode == 0, "%s-compressed produce accepted" % codec)
        r = read_all(broker, topic, fmt="%s\\n")
        ok(r.stdout == lines, "%s-compressed batches round-trip byte for byte" % codec)

    ok(stop(b) == 0, "SIGTERM: the broker exits 0 again")
    log = open(os.path.join(d, "broker.log")).read()
    ok(re.search(r"INFO +broker: listening on 127\.0\.0\.1:%d" % port, log) is not None,
       "the broker logs greppable lines to stderr")
    finish()


main()
