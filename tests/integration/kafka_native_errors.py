#!/usr/bin/env python3
"""The native kafka engine's answers to partition errors, against a
stand-in broker (tests/lib/kafka_standin.py: it speaks ApiVersions,
Metadata v1 and Produce v3 and fails batches on cue, which a real Kafka
does only rarely and never on demand).

Checks:
  - INVALID_RECORD for a whole batch because of one record in it (Produce v3
    cannot say which): the engine sends records one per batch for a while,
    so that only the bad record is dead-lettered, with Kafka's reason, and
    every other arrives exactly once;
  - MESSAGE_TOO_LARGE for batches above the broker's limit: the engine
    makes that topic's batches smaller, nothing is rejected, all arrive once;
  - NOT_LEADER_OR_FOLLOWER: retried after the metadata is asked again
    (counted at the stand-in), all arrive;
  - acks 0: the stand-in answers nothing, every event is counted once
    written, and all arrive.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import agentlib  # noqa: E402
import kafka_standin  # noqa: E402
import testlib  # noqa: E402
from testlib import ok  # noqa: E402

N = 2000


def conf(port, name, extra=""):
    return """data_dir: {dir}/%s
http: { listen: 127.0.0.1:{port} }
buffer: { batch_timeout: 5ms }
inputs:
  - type: stdin
    name: app
outputs:
  - type: kafka
    brokers: [127.0.0.1:%d]
    topic: t
    retry_initial: 50ms
    retry_max: 200ms
%s""" % (name, port, extra)


def lines_file(d, poison_at=None):
    path = os.path.join(d, "lines.txt")
    with open(path, "w") as f:
        for i in range(1, N + 1):
            f.write("line %d%s %s\n" % (i, " POISON" if i == poison_at else "", "x" * 80))
    return path


def run(d, name, standin_kw, extra="", poison_at=None, want_rejects=0):
    port = testlib.free_port()
    si = kafka_standin.StandIn(port, **standin_kw)
    si.start()
    with open(lines_file(d, poison_at)) as src:
        a = agentlib.Agent(d, conf(port, name, extra), name, stdin=src)
        ok(a.start(), "%s: agent starts" % name)
        got = a.wait_metric("logship_output_events_total", N - want_rejects, timeout=60, output="kafka")
        rej = a.wait_metric("logship_output_rejected_total", want_rejects, timeout=10, output="kafka") \
            if want_rejects else (a.metric("logship_output_rejected_total", output="kafka") or 0)
        ok(got == N - want_rejects and rej == want_rejects,
           "%s: %s acknowledged, %s rejected (want %d, %d)" % (name, got, rej, N - want_rejects, want_rejects))
        dl = os.path.join(d, name, "deadletter", "kafka.ndjson")
        dead = [json.loads(x) for x in open(dl)] if os.path.exists(dl) else []
        a.stop()
    si.stop()
    nums = sorted(int(v.decode().split('"message":"line ')[1].split()[0]) for v in si.values)
    return si, nums, dead


def main():
    d = testlib.tmpdir()
    want_all = list(range(1, N + 1))

    si, nums, dead = run(d, "poison", {"poison": b"POISON"}, poison_at=777, want_rejects=1)
    ok(si.refused and set(si.refused) == {87}, "poison: the stand-in refused batches with INVALID_RECORD")
    ok(nums == [n for n in want_all if n != 777], "poison: every other record arrived exactly once (%d)" % len(nums))
    ok(len(dead) == 1 and "line 777 POISON" in json.dumps(dead[0]["event"]) and
       "INVALID_RECORD" in dead[0]["reason"], "poison: only the bad record is a dead letter, with Kafka's reason: %s"
       % (dead[0]["reason"] if dead else "none"))

    si, nums, dead = run(d, "large", {"max_batch": 20000})
    ok(si.refused and set(si.refused) == {10}, "large: the stand-in refused big batches (%d times)" % len(si.refused))
    ok(nums == want_all and not dead, "large: smaller batches, nothing rejected, every record once (%d)" % len(nums))

    si, nums, dead = run(d, "leader", {"not_leader": 3})
    ok(si.metadata_requests >= 2, "leader: metadata asked again after NOT_LEADER_OR_FOLLOWER (%d requests)"
       % si.metadata_requests)
    ok(nums == want_all and not dead, "leader: every record once after the retries (%d)" % len(nums))

    si, nums, dead = run(d, "acks0", {}, extra='    acks: "0"\n')
    ok(nums == want_all and not dead, "acks 0: every record once, none answered (%d)" % len(nums))
    testlib.finish()


main()
