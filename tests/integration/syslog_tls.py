#!/usr/bin/env python3
"""Syslog over TLS (RFC 5425) into the syslog input's tls:// listeners
(issue 10), with senders nobody here wrote: rsyslog's omfwd with its OpenSSL
stream driver (Debian's rsyslog-openssl) and `openssl s_client`.
Certificates are made by the test (tests/lib/certs.py, openssl req/x509).

Checks: rsyslog forwards octet-counted RFC 5424 over TLS, verifying our
certificate by name, and every message arrives parsed; s_client sends
frames that arrive; a plaintext sender on the TLS port is refused and the
failure is logged (once, rate-limited) with nothing ingested; a connection
that never starts its handshake is closed after 10 s; with client_auth
required, a client without a certificate and one with a certificate from
another CA are refused, one with a certificate from the configured CA gets
in; a renewed certificate written over the old files is served to new
connections without a restart; `--check` refuses a tls:// listener without
a certificate, at its position.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import agentlib  # noqa: E402
import certs  # noqa: E402
import testlib  # noqa: E402
from testlib import ok, diag  # noqa: E402

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
LOAD = testlib.bin_path("tests/tools/syslog_load")
d = testlib.tmpdir()
P_TLS, P_MTLS, R_IN = testlib.free_port(), testlib.free_port(), testlib.free_port()
OUT = os.path.join(d, "out.ndjson")

ca = certs.ca(d)
other_ca = certs.ca(d, "other-ca", "some other CA")
srv = certs.issue(d, ca, "server", "localhost")
cli = certs.issue(d, ca, "client", "client-1", server=False, sans=None)
bad_cli = certs.issue(d, other_ca, "bad-client", "intruder", server=False, sans=None)


def events():
    out = []
    try:
        with open(OUT, "rb") as f:
            for line in f:
                out.append(json.loads(line))
    except OSError:
        pass
    return out


def messages(pred):
    return [e for e in events() if pred(e.get("message", ""))]


def s_client(port, data, *extra, timeout=20):
    args = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-CAfile", ca[0], "-verify_return_error",
            "-servername", "localhost", "-no_ign_eof"] + list(extra)
    return subprocess.run(args, input=data, capture_output=True, timeout=timeout)


def frames(prefix, n):
    out = b""
    for i in range(1, n + 1):
        m = ("<134>1 2026-11-25T12:00:00Z host01 %s 77 - - %s %d" % (prefix, prefix, i)).encode()
        out += b"%d %s" % (len(m), m)
    return out


bad = agentlib.write(os.path.join(d, "bad.yaml"), "data_dir: %s/x\ninputs:\n  - type: syslog\n"
                     "    listen: [tls://127.0.0.1:6514]\n" % d)
r = testlib.run([testlib.bin_path("logship"), "--check", "-c", bad])
ok(r.returncode == 1 and ("%s:4:14: listen: tls://127.0.0.1:6514 needs tls.cert_file and tls.key_file" % bad)
   in r.stderr.decode(), "--check: a tls:// listener without a certificate, at its position (%s)"
   % r.stderr.decode().strip())

a = agentlib.Agent(d, """data_dir: {dir}/data
http: { listen: 127.0.0.1:{port} }
buffer: { batch_timeout: 20ms }
inputs:
  - type: syslog
    name: tls
    listen: tls://127.0.0.1:%(p1)d
    tls: { cert_file: %(crt)s, key_file: %(key)s }
  - type: syslog
    name: mtls
    listen: tls://127.0.0.1:%(p2)d
    tls: { cert_file: %(crt)s, key_file: %(key)s, ca_file: %(ca)s, client_auth: required, min_version: "1.3" }
outputs:
  - type: file
    path: %(out)s
""" % {"p1": P_TLS, "p2": P_MTLS, "crt": srv[0], "key": srv[1], "ca": ca[0], "out": OUT})
if not ok(a.start(), "agent starts with two tls:// syslog listeners"):
    testlib.finish()

# openssl s_client, octet-counted frames
r = s_client(P_TLS, frames("sclient", 50))
got = testlib.wait_for(lambda: len(messages(lambda m: m.startswith("sclient "))) >= 50, timeout=20)
ok(r.returncode == 0 and got, "openssl s_client: 50 octet-counted frames arrive over TLS (rc %d)" % r.returncode)
e = messages(lambda m: m == "sclient 7")
ok(e and e[0]["log"]["syslog"]["appname"] == "sclient" and e[0]["log"]["syslog"]["hostname"] == "host01",
   "the RFC 5424 fields are parsed from TLS frames")

# rsyslog with the OpenSSL stream driver, verifying our name
rconf = os.path.join(d, "rsyslog.conf")
os.mkdir(os.path.join(d, "rs"))
with open(rconf, "w") as f:
    f.write("""global(workDirectory="%(d)s/rs" maxMessageSize="64k"
       DefaultNetstreamDriverCAFile="%(ca)s")
module(load="imtcp")
input(type="imtcp" port="%(rin)d" address="127.0.0.1")
action(type="omfwd" target="127.0.0.1" port="%(p)d" protocol="tcp"
       StreamDriver="ossl" StreamDriverMode="1" StreamDriverAuthMode="x509/name"
       StreamDriverPermittedPeers="localhost"
       TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format"
       action.resumeRetryCount="-1" action.resumeInterval="1"
       queue.type="LinkedList" queue.size="100000")
""" % {"d": d, "ca": ca[0], "rin": R_IN, "p": P_TLS})
r = testlib.run([RSYSLOGD, "-N1", "-f", rconf])
ok(r.returncode == 0, "rsyslogd -N1 accepts the omfwd-over-TLS config")
if r.returncode != 0:
    diag(r.stderr.decode()[-1500:])
rs = testlib.start([RSYSLOGD, "-n", "-f", rconf, "-i", os.path.join(d, "rsyslog.pid")],
                   log=os.path.join(d, "rsyslog.log"))
ok(testlib.wait_port(R_IN, timeout=15, proc=rs), "rsyslogd runs with imtcp in and omfwd/ossl out")
N = 5000
r = testlib.run([LOAD, "--tcp", "127.0.0.1:%d" % R_IN, "--lf", "--rfc3164", "--count", str(N)], timeout=60)


def seqs():
    s = set()
    for e in messages(lambda m: "seq=" in m):
        m = e["message"]
        i = m.find("seq=")
        s.add(int(m[i + 4:i + 14]))
    return s


testlib.wait_for(lambda: len(seqs()) >= N, timeout=60)
ok(seqs() == set(range(1, N + 1)), "rsyslog omfwd over TLS (ossl driver, x509/name): all %d arrive (%d)"
   % (N, len(seqs())))

# a plaintext sender on the TLS port
with socket.create_connection(("127.0.0.1", P_TLS), timeout=10) as s:
    s.sendall(b"<13>plaintext on a tls port\n")
    try:
        closed = s.recv(4096) is not None  # an alert or EOF: the server ends it
    except OSError:
        closed = True
ok(closed and testlib.wait_for(lambda: "TLS with 127.0.0.1" in a.log_text(), timeout=10),
   "a plaintext sender is refused and the failed handshake is logged")
ok(not messages(lambda m: "plaintext" in m), "nothing of the plaintext sender is ingested")

# a client that never starts its handshake (slowloris) is closed after 10 s
s = socket.create_connection(("127.0.0.1", P_TLS), timeout=20)
t0 = time.time()
try:
    eof = s.recv(1) == b""
except OSError:
    eof = True
s.close()
ok(eof and time.time() - t0 < 19, "a connection without a handshake is closed by the handshake timeout")

# mutual TLS
r = s_client(P_MTLS, frames("nocert", 1))
time.sleep(1)
ok(not messages(lambda m: m.startswith("nocert")), "client_auth required: no client certificate, nothing gets in")
r = s_client(P_MTLS, frames("badca", 1), "-cert", bad_cli[0], "-key", bad_cli[1])
time.sleep(1)
ok(not messages(lambda m: m.startswith("badca")), "client_auth required: a certificate of another CA is refused")
ok("certificate" in a.log_text().lower(), "the refusal names the certificate problem in the log")
r = s_client(P_MTLS, frames("goodcert", 3), "-cert", cli[0], "-key", cli[1])
ok(testlib.wait_for(lambda: len(messages(lambda m: m.startswith("goodcert"))) == 3, timeout=20),
   "client_auth required: the CA's client certificate gets in (TLS 1.3)")
r = s_client(P_MTLS, b"", "-cert", cli[0], "-key", cli[1], "-tls1_2")
ok(r.returncode != 0 or b"alert protocol version" in r.stderr + r.stdout, "min_version 1.3 refuses TLS 1.2")

# a renewed certificate, written over the old files: new connections get it
renewed = certs.issue(d, ca, "renewed", "localhost")
os.replace(renewed[1], srv[1])
os.replace(renewed[0], srv[0])
r = s_client(P_TLS, frames("renewed", 1))
ser_new = subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", srv[0]], capture_output=True).stdout.strip()
out = subprocess.run(["openssl", "x509", "-noout", "-serial"], input=r.stdout, capture_output=True).stdout.strip()
ok(r.returncode == 0 and out == ser_new, "a renewed certificate is served to new connections (%s)" % out.decode())
ok(testlib.wait_for(lambda: messages(lambda m: m.startswith("renewed")), timeout=20), "and its frames arrive")
ok(a.alive(), "agent still up")
testlib.stop(rs)
a.stop()
testlib.finish()
