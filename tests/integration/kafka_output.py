"""The agent's kafka output against two broker implementations: our
logship-broker, and librdkafka's built-in mock cluster (tests/tools/rdk_mock,
code nobody here wrote on the broker side). kcat reads back what arrived.

Both engines of the output are checked: the native producer (the default,
engine: auto on a plaintext cluster) and librdkafka (engine: librdkafka, and
whenever an rdkafka: property is set).

Checks: generate -> ring -> kafka delivers every sequence number exactly
once, keyed by the source, with the event time as the record timestamp, by
either engine; keyed and keyless records on multi-partition topics of the mock
cluster; an invalid topic name is dead-lettered with Kafka's reason; a
topic template from event fields; a dead broker: the ring holds the backlog,
the output retries, and everything drains once the broker is back; a bad
librdkafka property is a config error with its position; with many small
runs in flight at once (the output is asynchronous), events arrive in order
and exactly once while oversized events among them are dead-lettered.
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import agentlib  # noqa: E402
import testlib  # noqa: E402
from testlib import ok, diag  # noqa: E402


def kcat_read(broker, topic, timeout=60):
    r = testlib.run(["kcat", "-q", "-C", "-b", broker, "-t", topic, "-o", "beginning", "-e",
                     "-f", "%k\\t%T\\t%s\\n"], timeout=timeout)
    recs = []
    for line in r.stdout.decode(errors="replace").splitlines():
        k, ts, v = line.split("\t", 2)
        recs.append((k, int(ts), json.loads(v)))
    return recs


def seq_check(recs, n, what):
    seqs = [ev["event"]["sequence"] for _, _, ev in recs]
    missing = set(range(1, n + 1)) - set(seqs)
    ok(not missing, "%s: all %d sequence numbers arrived (missing %d)" % (what, n, len(missing)))
    return len(seqs) - len(set(seqs))


def start_broker(d, port, name="broker"):
    b = testlib.start([testlib.bin_path("logship-broker"), "--listen", "127.0.0.1:%d" % port,
                       "--data-dir", os.path.join(d, name)], log=os.path.join(d, name + ".log"))
    testlib.wait_port(port, proc=b)
    return b


AGENT = """data_dir: {dir}/%(name)s
http: { listen: 127.0.0.1:{port} }
buffer: { max_bytes: 64MiB, segment_bytes: 1MiB }
inputs:
  - type: generate
    name: gen
    count: %(count)d
    rate: %(rate)d
    size: 60
outputs:
  - type: kafka
    brokers: [%(brokers)s]
    topic: %(topic)s
    retry_max: 1s
%(extra)s"""


def agent_conf(**kw):
    return AGENT % dict({"extra": ""}, **kw)


def main():
    d = testlib.tmpdir()
    port = testlib.free_port()
    broker = "127.0.0.1:%d" % port
    b = start_broker(d, port)

    # --- logship-broker --------------------------------------------------------
    N = 20000
    a = agentlib.Agent(d, agent_conf(name="a1", count=N, rate=0, brokers=broker, topic="logs"), "a1")
    ok(a.start(), "agent starts with a kafka output")
    a.wait_metric("logship_output_events_total", N, timeout=120, output="kafka")
    recs = kcat_read(broker, "logs")
    dups = seq_check(recs, N, "logship-broker")
    ok(dups == 0, "no duplicates without failures (%d)" % dups)
    ok(all(k == "gen" for k, _, _ in recs), "the record key is the source (the input's name)")
    ev_ts = recs[0][2]["@timestamp"]
    ok(time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(recs[0][1] / 1000.0)) == ev_ts[:19],
       "the record timestamp is the event time (%s)" % ev_ts)
    ok("kafka engine: native" in a.log_text(), "engine: auto on a plaintext cluster is the native engine")
    ok(a.stop() == 0, "SIGTERM: exit 0")

    # --- the same through librdkafka -------------------------------------------
    a = agentlib.Agent(d, agent_conf(name="a1r", count=N, rate=0, brokers=broker, topic="logs-rdk",
                               extra="    engine: librdkafka\n"), "a1r")
    ok(a.start(), "agent starts with engine: librdkafka")
    a.wait_metric("logship_output_events_total", N, timeout=120, output="kafka")
    recs = kcat_read(broker, "logs-rdk")
    dups = seq_check(recs, N, "logship-broker through librdkafka")
    ok(dups == 0 and all(k == "gen" for k, _, _ in recs), "librdkafka: no duplicates, keyed by the source")
    ok("kafka engine: librdkafka" in a.log_text(), "the log says which engine runs")
    ok(a.stop() == 0, "SIGTERM: exit 0")

    # --- acks 0 and 1 with compression (native) -----------------------------------
    for acks, comp in (("0", "gzip"), ("1", "zstd")):
        topic = "acks%s-%s" % (acks, comp)
        a = agentlib.Agent(d, agent_conf(name="a" + topic, count=2000, rate=0, brokers=broker, topic=topic,
                                         extra='    acks: "%s"\n    compression: %s\n' % (acks, comp)), "a" + topic)
        ok(a.start(), "agent starts with acks %s, compression %s" % (acks, comp))
        a.wait_metric("logship_output_events_total", 2000, timeout=60, output="kafka")
        recs = kcat_read(broker, topic)
        dups = seq_check(recs, 2000, topic)
        ok(dups == 0, "%s: every event once" % topic)
        a.stop()

    # --- no key, several partitions, an invalid topic (native) -------------------
    a = agentlib.Agent(d, agent_conf(name="a1n", count=1000, rate=0, brokers=broker, topic="bad/${event.missing}"),
                       "a1n")
    ok(a.start(), "agent starts with a topic that expands to an invalid name")
    rej = a.wait_metric("logship_output_rejected_total", 1000, timeout=60, output="kafka")
    ok(rej == 1000, "records for an invalid topic are rejected for good (%s)" % rej)
    dl = os.path.join(d, "a1n", "deadletter", "kafka.ndjson")
    lines = [json.loads(l) for l in open(dl)] if os.path.exists(dl) else []
    ok(len(lines) == 1000 and "INVALID_TOPIC_EXCEPTION" in lines[0]["reason"],
       "each is a dead letter with Kafka's reason: %s" % (lines[0]["reason"] if lines else "none"))
    a.stop()

    # --- a topic template ------------------------------------------------------
    a = agentlib.Agent(d, agent_conf(name="a2", count=100, rate=0, brokers=broker,
                                       topic="seq-${event.missing}"), "a2")
    ok(a.start(), "agent starts with a topic template")
    a.wait_metric("logship_output_events_total", 100, timeout=60, output="kafka")
    ok(len(kcat_read(broker, "seq-unknown")) == 100, "a template's absent field expands to missing_field")
    a.stop()

    # --- the broker down, then back --------------------------------------------
    testlib.stop(b)
    M = 5000
    a = agentlib.Agent(d, agent_conf(name="a3", count=M, rate=0, brokers=broker, topic="outage"), "a3")
    ok(a.start(), "agent starts while the broker is down")
    ok(testlib.wait_for(lambda: (a.metric("logship_input_events_total", input="gen") or 0) >= M, timeout=60),
       "the input goes on: the ring takes the events while the broker is down")
    time.sleep(2)
    ok((a.metric("logship_output_events_total", output="kafka") or 0) == 0,
       "nothing counted as shipped while the broker is down")
    b = start_broker(d, port)
    got = a.wait_metric("logship_output_events_total", M, timeout=120, output="kafka")
    ok(got == M, "after the broker is back the backlog drains (%s of %d)" % (got, M))
    recs = kcat_read(broker, "outage")
    seq_check(recs, M, "after the outage")
    a.stop()

    # --- librdkafka's mock cluster ---------------------------------------------
    m = testlib.start([testlib.bin_path("tests/tools/rdk_mock"), "1", "mock", "3"], stdout=subprocess.PIPE,
                      stderr=subprocess.DEVNULL)
    line = m.stdout.readline().decode().split()
    boot = line[1] if len(line) == 2 else ""
    ok(boot, "the mock cluster listens (%s)" % boot)
    placed = {}
    for eng, key in (("native", ""), ("librdkafka", ""), ("native", "    key: event.sequence\n"),
                     ("librdkafka", "    key: event.sequence\n")):
        topic = "mock-%s%s" % (eng, "-keyed" if key else "")
        a = agentlib.Agent(d, agent_conf(name="a4" + topic, count=N, rate=0, brokers=boot, topic=topic,
                                   extra="    engine: %s\n%s" % (eng, key)), "a4" + topic)
        ok(a.start(), "agent starts against the mock cluster (%s)" % topic)
        got = a.wait_metric("logship_output_events_total", N, timeout=120, output="kafka")
        ok(got == N, "%s: all %d events acknowledged by the mock cluster" % (topic, N))
        recs = kcat_read(boot, topic)
        dups = seq_check(recs, N, "mock cluster, " + topic)
        ok(dups == 0, "%s: no duplicates (%d)" % (topic, dups))
        if key:
            out = testlib.run(["kcat", "-q", "-C", "-b", boot, "-t", topic, "-o", "beginning", "-e",
                               "-f", "%k %p\n"], timeout=60).stdout.decode().split("\n")
            placed[eng] = dict(l.split() for l in out if l.strip())
            ok(len(set(placed[eng].values())) > 1, "%s: keyed records spread over the partitions (%s)"
               % (topic, sorted(set(placed[eng].values()))))
        a.stop()
    ok(placed.get("native") and placed.get("native") == placed.get("librdkafka"),
       "both engines put every key in the same partition (librdkafka's consistent_random)")
    testlib.stop(m)

    # --- rejected for good: the dead-letter log ----------------------------------
    conf = """data_dir: {dir}/a5
http: { listen: 127.0.0.1:{port} }
buffer: { batch_max_bytes: 8MiB }
inputs:
  - type: generate
    name: big
    count: 3
    rate: 0
    size: 900000
outputs:
  - type: kafka
    brokers: [%s]
    topic: big
    rdkafka: { message.max.bytes: 500000 }
""" % broker
    a = agentlib.Agent(d, conf, "a5")
    ok(a.start(), "agent starts with events larger than message.max.bytes")
    rej = a.wait_metric("logship_output_rejected_total", 3, timeout=60, output="kafka")
    ok(rej == 3, "the 3 oversized events are rejected for good, not retried forever (%s)" % rej)
    dl = os.path.join(d, "a5", "deadletter", "kafka.ndjson")
    lines = [json.loads(l) for l in open(dl)] if os.path.exists(dl) else []
    ok(len(lines) == 3 and all("MSG_SIZE_TOO_LARGE" in l["reason"] for l in lines)
       and sorted(l["event"]["event"]["sequence"] for l in lines) == [1, 2, 3]
       and all(l["source"] == "big" for l in lines),
       "each is in the dead-letter log with its reason, source and whole event")
    st = testlib.wait_for(lambda: (lambda s: s if s and s["outputs"][0]["lag_events"] == 0 else None)(a.status()),
                          timeout=10)
    ok(st is not None, "the cursor moved past the dead letters (no lag)")
    a.stop()

    # --- many small runs in flight, rejects among them ---------------------------
    conf = """data_dir: {dir}/a6
http: { listen: 127.0.0.1:{port} }
buffer: { batch_max_bytes: 8MiB, batch_timeout: 5ms }
inputs:
  - type: generate
    name: gen
    count: 20000
    rate: 0
    size: 60
  - type: generate
    name: big
    count: 3
    rate: 2
    size: 900000
outputs:
  - type: kafka
    brokers: [%s]
    topic: window
    read_bytes: 8KiB
    in_flight_bytes: 256KiB
    rdkafka: { message.max.bytes: 500000 }
""" % broker
    a = agentlib.Agent(d, conf, "a6")
    ok(a.start(), "agent starts with a small in_flight_bytes window")
    got = a.wait_metric("logship_output_events_total", 20000, timeout=120, output="kafka")
    rej = a.wait_metric("logship_output_rejected_total", 3, timeout=60, output="kafka")
    ok(got == 20000 and rej == 3, "20000 events acknowledged and 3 oversized ones rejected (%s, %s)" % (got, rej))
    recs = kcat_read(broker, "window")
    seqs = [ev["event"]["sequence"] for k, _, ev in recs if k == "gen"]
    ok(seqs == list(range(1, 20001)), "in order and exactly once with several runs in flight (%d records)"
       % len(seqs))
    dl = os.path.join(d, "a6", "deadletter", "kafka.ndjson")
    lines = [json.loads(l) for l in open(dl)] if os.path.exists(dl) else []
    ok(len(lines) == 3 and all(l["source"] == "big" for l in lines), "the 3 oversized events are dead letters")
    st = testlib.wait_for(lambda: (lambda s: s if s and s["outputs"][0]["lag_events"] == 0 else None)(a.status()),
                          timeout=10)
    ok(st is not None, "the cursor moved past everything (no lag)")
    ok(a.stop() == 0, "SIGTERM: exit 0")

    # --- a bad librdkafka property ---------------------------------------------
    conf = agentlib.write(os.path.join(d, "bad.yaml"),
                          "data_dir: %s/bad\noutputs:\n  - type: kafka\n    brokers: [%s]\n    topic: t\n"
                          "    rdkafka:\n      no.such.property: 1\n" % (d, broker))
    r = testlib.run([testlib.bin_path("logship"), "--check", "-c", conf])
    err = r.stderr.decode()
    ok(r.returncode != 0 and ("%s:7:7:" % conf) in err and "no.such.property" in err,
       "a bad librdkafka property is reported at its position: %s" % err.strip()[:200])
    conf = agentlib.write(os.path.join(d, "bad2.yaml"),
                          "data_dir: %s/bad\noutputs:\n  - type: kafka\n    brokers: [%s]\n    topic: t\n"
                          "    engine: native\n    compression: lz4\n" % (d, broker))
    r = testlib.run([testlib.bin_path("logship"), "--check", "-c", conf])
    err = r.stderr.decode()
    ok(r.returncode != 0 and ("%s:7:18:" % conf) in err and "engine: librdkafka" in err,
       "engine: native with lz4 is refused at the key: %s" % err.strip()[:200])
    conf = agentlib.write(os.path.join(d, "bad3.yaml"),
                          "data_dir: %s/bad\noutputs:\n  - type: kafka\n    brokers: [%s, nocolon]\n    topic: t\n"
                          % (d, broker))
    r = testlib.run([testlib.bin_path("logship"), "--check", "-c", conf])
    err = r.stderr.decode()
    ok(r.returncode != 0 and ("%s:4:" % conf) in err and "nocolon" in err,
       "a broker address without a port is refused: %s" % err.strip()[:200])
    testlib.stop(b)
    testlib.finish()


main()
