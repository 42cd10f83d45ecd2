#!/usr/bin/env python3
"""The kafka output's `tls:` and `sasl:` blocks (issue 10), against
logship-broker on a SASL_SSL listener (SCRAM-SHA-256 users made with
`logship-broker --add-user`, certificates made by the test with openssl);
kcat reads back over SASL_SSL too.

Checks: generate -> ring -> kafka over SASL_SSL with SCRAM-SHA-256 and the
password in a file: every event arrives; PLAIN over TLS works too; a wrong
password: nothing is lost, the output's last error names the authentication
failure, and after a SIGHUP with the right password everything drains; a CA
that did not sign the broker's certificate: the failure names certificate
verification and the events wait in the ring; `--check` refuses sasl
without a username, tls.server_name (librdkafka cannot set it) and a
missing CA file, each at its position.
"""
import json
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import agentlib  # noqa: E402
import certs  # noqa: E402
import testlib  # noqa: E402
from testlib import ok, diag  # noqa: E402

d = testlib.tmpdir()
ca = certs.ca(d)
other = certs.ca(d, "other-ca", "nobody's CA")
srv = certs.issue(d, ca, "broker", "localhost")
users = os.path.join(d, "users")
for name, pw in (("shipper", "s3cret-shipper"), ("reader", "s3cret-reader")):
    r = testlib.run([testlib.bin_path("logship-broker"), "--add-user", name, "--users-file", users,
                     "--iterations", "4096"], input=(pw + "\n").encode())
    ok(r.returncode == 0, "logship-broker --add-user %s" % name)
pwfile = agentlib.write(os.path.join(d, "password"), "s3cret-shipper\n")
os.chmod(pwfile, 0o600)

port = testlib.free_port()
bconf = agentlib.write(os.path.join(d, "broker.yaml"), """data_dir: %s/bdata
listeners:
  - name: sasl_ssl
    address: 127.0.0.1
    port: %d
    advertised_host: localhost
    tls: { cert_file: %s, key_file: %s }
    sasl: { mechanisms: [PLAIN, SCRAM-SHA-256], users_file: %s }
""" % (d, port, srv[0], srv[1], users))
broker = testlib.start([testlib.bin_path("logship-broker"), "-c", bconf], log=os.path.join(d, "broker.log"))
ok(testlib.wait_port(port, proc=broker), "logship-broker runs a SASL_SSL listener")
BROKER = "localhost:%d" % port
KCAT = ["-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanism=SCRAM-SHA-256", "-X", "sasl.username=reader",
        "-X", "sasl.password=s3cret-reader", "-X", "ssl.ca.location=" + ca[0]]


def topic_seqs(topic):
    r = testlib.run(["kcat", "-q", "-C", "-b", BROKER, "-t", topic, "-o", "beginning", "-e"] + KCAT, timeout=60)
    return [json.loads(x)["event"]["sequence"] for x in r.stdout.decode().splitlines() if x.strip()]


AGENT = """data_dir: {dir}/%(name)s
http: { listen: 127.0.0.1:{port} }
inputs:
  - type: generate
    name: gen
    count: %(n)d
    rate: 0
outputs:
  - type: kafka
    name: central
    brokers: [%(broker)s]
    topic: %(topic)s
    retry_max: 500ms
    tls: { ca_file: %(ca)s }
    sasl: %(sasl)s
"""


def conf(name, topic, sasl, n=3000, cafile=ca[0]):
    return AGENT % {"name": name, "n": n, "broker": BROKER, "topic": topic, "ca": cafile, "sasl": sasl}


# --check: each error at the position of what it is about
def pos(text, line_has, col_of):
    """line:column of col_of on the first line holding line_has."""
    for i, line in enumerate(text.splitlines(), 1):
        if line_has in line:
            return "%d:%d" % (i, line.index(col_of) + 1)
    return "?"


server_name = conf("x", "t", "{ username: a, password: b }").replace(
    "{ ca_file: %s }" % ca[0], "{ ca_file: %s, server_name: x }" % ca[0])
for text, line_has, col_of, what in (
        (conf("x", "t", "{ mechanism: SCRAM-SHA-256, password: pw }"), "sasl:", "{", "sasl: username is needed"),
        (server_name, "tls:", "x }", "tls.server_name"),
        (conf("x", "t", "{ username: a, password: b }", cafile=os.path.join(d, "missing.pem")), "tls:", "/",
         "tls.ca_file")):
    text = text.replace("{dir}", d).replace("{port}", "1")
    bad = agentlib.write(os.path.join(d, "bad.yaml"), text)
    r = testlib.run([testlib.bin_path("logship"), "--check", "-c", bad])
    err = r.stderr.decode()
    ok(r.returncode == 1 and ("%s:%s: %s" % (bad, pos(text, line_has, col_of), what)) in err,
       "--check: %s, at its position (%s)" % (what, err.strip()))

# SCRAM-SHA-256 with the password in a file
a = agentlib.Agent(d, conf("a1", "scram", "{ mechanism: SCRAM-SHA-256, username: shipper, password_file: %s }"
                           % pwfile), "a1")
ok(a.start(), "agent starts: kafka output over SASL_SSL (SCRAM-SHA-256, password_file)")
done = a.wait_metric("logship_output_events_total", 3000, timeout=60, output="central")
seqs = topic_seqs("scram")
ok(done == 3000 and sorted(set(seqs)) == list(range(1, 3001)),
   "every event arrives over SASL_SSL/SCRAM (%s acknowledged, %d read back)" % (done, len(set(seqs))))
a.stop()

# PLAIN over TLS
a = agentlib.Agent(d, conf("a2", "plain", "{ mechanism: PLAIN, username: shipper, password: s3cret-shipper }"), "a2")
ok(a.start(), "agent starts: kafka output over SASL_SSL (PLAIN)")
done = a.wait_metric("logship_output_events_total", 3000, timeout=60, output="central")
ok(done == 3000 and sorted(set(topic_seqs("plain"))) == list(range(1, 3001)), "every event arrives with PLAIN")
a.stop()

# a wrong password: nothing lost, the error says why, a SIGHUP with the right one drains
a = agentlib.Agent(d, conf("a3", "wrongpw", "{ username: shipper, password: not-the-password }"), "a3")
ok(a.start(), "agent starts with a wrong password")


def last_error():
    st = a.status() or {}
    outs = [o for o in st.get("outputs", []) if o.get("name") == "central"]
    return (outs[0].get("last_error") or "") if outs else ""


ok(testlib.wait_for(lambda: "uthentication" in last_error() or "uthentication" in a.log_text(), timeout=30),
   "the output's error names the authentication failure (%s)" % last_error()[:120])
ok((a.metric("logship_output_events_total", output="central") or 0) == 0, "nothing is acknowledged meanwhile")
a.set_config(conf("a3", "wrongpw", "{ username: shipper, password: s3cret-shipper }"))
a.signal(signal.SIGHUP)
done = a.wait_metric("logship_output_events_total", 3000, timeout=60, output="central")
ok(done == 3000 and sorted(set(topic_seqs("wrongpw"))) == list(range(1, 3001)),
   "after a SIGHUP with the right password every event drains (%s)" % done)
a.stop()

# a CA that did not sign the broker's certificate; then the right CA written
# into the same file and a SIGHUP: the output is restarted and reads it
trust = os.path.join(d, "trust.pem")
with open(other[0], "rb") as src, open(trust, "wb") as dst:
    dst.write(src.read())
a = agentlib.Agent(d, conf("a4", "wrongca", "{ username: shipper, password: s3cret-shipper }", cafile=trust),
                   "a4")
ok(a.start(), "agent starts trusting the wrong CA")
ok(testlib.wait_for(lambda: "certificate verify failed" in a.log_text() + last_error(), timeout=30),
   "the failure names certificate verification")
ok((a.metric("logship_output_events_total", output="central") or 0) == 0 and
   (a.metric("logship_output_lag_events", output="central") or 0) > 0,
   "the events wait in the ring")
with open(ca[0], "rb") as src, open(trust + ".new", "wb") as dst:
    dst.write(src.read())
os.replace(trust + ".new", trust)
a.signal(signal.SIGHUP)
done = a.wait_metric("logship_output_events_total", 3000, timeout=60, output="central")
ok(done == 3000 and "1 restarted" in a.log_text(),
   "the right CA in the same file + SIGHUP: the output restarts, reads it, and everything drains (%s)" % done)
a.stop()
testlib.stop(broker)
testlib.finish()
