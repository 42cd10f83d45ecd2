#!/usr/bin/env python3
"""The agent's status endpoint over HTTPS (http.tls, issue 10), with curl as
the client and certificates made by the test (tests/lib/certs.py).

Checks: curl verifies the server certificate against the test CA and reads
/health, /ready and /metrics; plain HTTP on the HTTPS port gets nothing;
with client_auth required, curl without a client certificate is refused and
with one from the CA gets in; a renewed certificate written over the files
is served to the next connection; `--check` refuses a tls block with a
certificate and no key, at its position.
"""
import os
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import agentlib  # noqa: E402
import certs  # noqa: E402
import testlib  # noqa: E402
from testlib import ok  # noqa: E402

d = testlib.tmpdir()
ca = certs.ca(d)
srv = certs.issue(d, ca, "server", "localhost")
cli = certs.issue(d, ca, "client", "prometheus", server=False, sans=None)


def curl(port, path, *extra):
    r = subprocess.run(["curl", "-sS", "--max-time", "10", "--cacert", ca[0]] + list(extra) +
                       ["https://localhost:%d%s" % (port, path)], capture_output=True, timeout=20)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


bad = agentlib.write(os.path.join(d, "bad.yaml"), "data_dir: %s/x\nhttp:\n  listen: 127.0.0.1:1\n"
                     "  tls: { cert_file: %s }\ninputs: [{type: stdin}]\noutputs: [{type: stdout}]\n" % (d, srv[0]))
r = testlib.run([testlib.bin_path("logship"), "--check", "-c", bad])
ok(r.returncode == 1 and ("%s:4:8: http.tls needs both cert_file and key_file" % bad) in r.stderr.decode(),
   "--check: http.tls without key_file, at its position (%s)" % r.stderr.decode().strip())

a = agentlib.Agent(d, """data_dir: {dir}/data
http:
  listen: 127.0.0.1:{port}
  tls: { cert_file: %s, key_file: %s }
inputs: [{type: generate, count: 10, rate: 0}]
outputs: [{type: file, path: {dir}/out.ndjson}]
""" % srv)
ok(a.start(), "agent starts with an HTTPS status endpoint")
rc, out, err = curl(a.port, "/health")
ok(rc == 0 and out == "ok\n", "curl verifies the certificate and reads /health over HTTPS (%s)" % err.strip())
rc, out, _ = curl(a.port, "/metrics")
ok(rc == 0 and "logship_ring_bytes" in out, "/metrics over HTTPS")
try:
    urllib.request.urlopen("http://127.0.0.1:%d/health" % a.port, timeout=5).read()
    plain = True
except Exception:
    plain = False
ok(not plain, "plain HTTP on the HTTPS port gets no answer")
renewed = certs.issue(d, ca, "renewed", "localhost")
os.replace(renewed[1], srv[1])
os.replace(renewed[0], srv[0])
r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % a.port, "-CAfile", ca[0],
                    "-servername", "localhost"], input=b"", capture_output=True, timeout=20)
got = subprocess.run(["openssl", "x509", "-noout", "-serial"], input=r.stdout, capture_output=True).stdout
want = subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", srv[0]], capture_output=True).stdout
ok(got and got == want, "a renewed certificate is served to the next connection (%s)" % got.decode().strip())
a.stop()

b = agentlib.Agent(d, """data_dir: {dir}/data2
http:
  listen: 127.0.0.1:{port}
  tls: { cert_file: %s, key_file: %s, ca_file: %s, client_auth: required }
inputs: [{type: generate, count: 10, rate: 0}]
outputs: [{type: file, path: {dir}/out2.ndjson}]
""" % (srv[0], srv[1], ca[0]), name="mtls")
ok(b.start(), "agent starts with client_auth: required on its status endpoint")
rc, out, err = curl(b.port, "/health")
ok(rc != 0 and out == "", "curl without a client certificate is refused (%s)" % err.strip()[:100])
rc, out, err = curl(b.port, "/ready", "--cert", cli[0], "--key", cli[1])
ok(rc == 0 and out.startswith("ready"), "curl with the CA's client certificate gets in (%s)" % err.strip())
b.stop()
testlib.finish()
