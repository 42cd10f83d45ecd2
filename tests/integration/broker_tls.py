"""logship-broker's security on the Kafka listener, with real clients.

Certificates are made with tests/lib/certs.py (`openssl req` / `openssl
x509`: a CA, a server certificate for 127.0.0.1, a client certificate
CN=alice, and a second CA nobody trusts); users with `logship-broker --add-user` (password on
stdin). One broker, four listeners: plaintext, TLS, SASL_SSL (PLAIN and
SCRAM-SHA-256), and TLS with client certificates required; an ACL file.

Checks: `openssl s_client` completes a verified handshake; kcat and
librdkafka (tests/tools/rdk_client) produce and consume over SSL and over
SASL_SSL with PLAIN and with SCRAM-SHA-256, every message back; a wrong
password fails with SASL_AUTHENTICATION_FAILED's message; a client trusting
the wrong CA fails certificate verification; the mTLS listener refuses a
client without a certificate and serves one with (principal = its CN); an
ACL denies a topic (kcat sees "Topic authorization failed"), hides it from
Metadata, and denies a consumer group; a Metadata request before SASL
authentication closes the connection; the legacy SaslHandshake v0 framing
(bare tokens) works for PLAIN and SCRAM, spoken by this script; SIGHUP
reloads the certificate (s_client sees the new one), the users file and the
ACL file.
"""
import base64
import hashlib
import hmac
import os
import re
import signal
import socket
import ssl
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from testlib import *  # noqa: F401,F403
import certs  # noqa: E402

N = 500


def last(b, n=150):
    """The last line of a client's stderr, for a test line."""
    lines = b.decode(errors="replace").strip().splitlines()
    return lines[-1][-n:] if lines else ""


def add_user(users, name, pw):
    r = run([bin_path("logship-broker"), "--add-user", name, "--users-file", users, "--iterations", "4096"],
            input=(pw + "\n").encode())
    return r.returncode == 0


def kcat(args, input=None, timeout=60):
    return run(["kcat"] + args, input=input, timeout=timeout)


def produce_consume(props, broker, topic, what):
    msgs = "".join("%s-%d\n" % (topic, i) for i in range(N)).encode()
    r = kcat(["-P", "-b", broker, "-t", topic, "-X", "acks=all"] + props, input=msgs)
    ok(r.returncode == 0, "%s: kcat produces %d messages (%s)" % (what, N, last(r.stderr)))
    r = kcat(["-C", "-b", broker, "-t", topic, "-o", "beginning", "-e", "-q"] + props)
    got = r.stdout.decode().split("\n")[:-1]
    ok(r.returncode == 0 and got == ["%s-%d" % (topic, i) for i in range(N)],
       "%s: kcat consumes all %d back in order (%d read)" % (what, N, len(got)))


def rdk(props, broker, topic, what, n=200):
    x = []
    for p in props[1::2]:
        x += ["-X", p]
    r = run([bin_path("tests/tools/rdk_client"), "produce", broker, topic, str(n), "--timeout", "30"] + x,
            timeout=60)
    acks = r.stdout.decode().count("ack ")
    ok(r.returncode == 0 and acks == n, "%s: librdkafka produce, %d/%d delivered" % (what, acks, n))
    r = run([bin_path("tests/tools/rdk_client"), "consume", broker, topic, "0", "beginning", str(n),
             "--timeout", "30"] + x, timeout=60)
    msgs = r.stdout.decode().count("msg ")
    if not ok(r.returncode == 0 and msgs == n, "%s: librdkafka consume, %d/%d read" % (what, msgs, n)):
        diag("rdk_client consume: %s %s" % (r.stdout.decode()[-300:], r.stderr.decode()[-300:]))


# --- a tiny Kafka client for what no library does on purpose ----------------

def frame(api, ver, corr, body):
    hdr = struct.pack(">hhih", api, ver, corr, 6) + b"pytest"
    return struct.pack(">i", len(hdr) + len(body)) + hdr + body


def recv_frame(s):
    head = b""
    while len(head) < 4:
        c = s.recv(4 - len(head))
        if not c:
            return None
        head += c
    n = struct.unpack(">i", head)[0]
    buf = b""
    while len(buf) < n:
        c = s.recv(n - len(buf))
        if not c:
            return None
        buf += c
    return buf


def kstr(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def tls_socket(port, ca):
    ctx = ssl.create_default_context(cafile=ca)
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def legacy_handshake(s, mech):
    s.sendall(frame(17, 0, 1, kstr(mech)))
    r = recv_frame(s)
    return r is not None and struct.unpack(">h", r[4:6])[0] == 0


def send_token(s, tok):
    s.sendall(struct.pack(">i", len(tok)) + tok)
    return recv_frame(s)


def legacy_scram(port, ca, user, pw):
    """SCRAM-SHA-256 in the pre-KIP-152 framing; returns (ok, server-final verified)."""
    s = tls_socket(port, ca)
    try:
        if not legacy_handshake(s, "SCRAM-SHA-256"):
            return False, False
        cnonce = base64.b64encode(os.urandom(18)).decode()
        bare = "n=%s,r=%s" % (user, cnonce)
        sf = send_token(s, ("n,," + bare).encode())
        if sf is None:
            return False, False
        attrs = dict(kv.split("=", 1) for kv in sf.decode().split(","))
        salted = hashlib.pbkdf2_hmac("sha256", pw.encode(), base64.b64decode(attrs["s"]), int(attrs["i"]))
        ck = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        sk = hashlib.sha256(ck).digest()
        wo = "c=biws,r=%s" % attrs["r"]
        am = ("%s,%s,%s" % (bare, sf.decode(), wo)).encode()
        sig = hmac.new(sk, am, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(ck, sig))
        final = send_token(s, ("%s,p=%s" % (wo, base64.b64encode(proof).decode())).encode())
        if final is None:
            return False, False
        skey = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        want = "v=" + base64.b64encode(hmac.new(skey, am, hashlib.sha256).digest()).decode()
        # Authenticated: a Metadata request is answered now.
        s.sendall(frame(3, 1, 7, struct.pack(">i", 0)))
        md = recv_frame(s)
        return md is not None and struct.unpack(">i", md[:4])[0] == 7, final.decode() == want
    except (OSError, KeyError, ValueError):
        return False, False
    finally:
        s.close()


def legacy_plain(port, ca, user, pw):
    s = tls_socket(port, ca)
    try:
        if not legacy_handshake(s, "PLAIN"):
            return None
        r = send_token(s, b"\0" + user.encode() + b"\0" + pw.encode())
        if r is None:
            return False
        s.sendall(frame(18, 0, 9, b""))
        return recv_frame(s) is not None
    except OSError:
        return False
    finally:
        s.close()


def closed_after(s, data):
    """Sends data; True if the broker closes the connection without an answer."""
    try:
        s.sendall(data)
        return recv_frame(s) is None
    except (OSError, ssl.SSLError):
        return True


def s_client(port, ca, extra=()):
    return run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-CAfile", ca, "-verify_return_error",
                "-servername", "localhost"] + list(extra), input=b"", timeout=30)


def main():
    d = tmpdir()
    ca = certs.ca(d, "ca", "ca")
    other = certs.ca(d, "other-ca", "other-ca")
    srv = certs.issue(d, ca, "server", "logship-broker")
    cli = certs.issue(d, ca, "client", "alice", server=False, sans=())
    ok(all(os.path.exists(p) for p in srv + cli), "openssl req/x509 made a CA, a server and a client certificate")

    users = os.path.join(d, "users")
    ok(add_user(users, "alice", "alice-secret") and add_user(users, "bob", "bob-secret"),
       "logship-broker --add-user writes alice and bob (password on stdin)")
    text = open(users).read()
    ok(re.search(r"^alice:scram-sha-256:4096:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}$", text, re.M)
       and "alice-secret" not in text and oct(os.stat(users).st_mode & 0o777) == "0o600",
       "the users file holds salted SCRAM keys, not passwords, mode 0600")
    r = run([bin_path("logship-broker"), "--add-user", "x:y", "--users-file", users], input=b"pw\n")
    ok(r.returncode == 2 and b"bad user name" in r.stderr, "--add-user refuses a name with ':'")

    acl = os.path.join(d, "acl")
    with open(acl, "w") as f:
        f.write("# test rules\n"
                "allow alice produce *\n"
                "allow alice consume *\n"
                "allow alice consume group:*\n"
                "allow alice admin *\n"
                "deny  alice produce secret-*\n"
                "deny  alice describe hidden\n"
                "allow bob   consume public\n"
                "allow ANONYMOUS produce public\n"
                "allow ANONYMOUS produce *-ssl\n"
                "allow ANONYMOUS consume *-ssl\n"
                "allow ANONYMOUS consume group:rdk_client\n"
                "allow ANONYMOUS consume public\n")

    ports = [free_port() for _ in range(4)]
    plain_p, ssl_p, sasl_p, mtls_p = ports
    cfg = os.path.join(d, "broker.yaml")
    tls = "    tls: { cert_file: %s, key_file: %s%s }\n"
    with open(cfg, "w") as f:
        f.write("data_dir: %s\nacl_file: %s\nlog_level: debug\nlisteners:\n" % (os.path.join(d, "data"), acl))
        f.write("  - { name: plain, address: 127.0.0.1, port: %d }\n" % plain_p)
        f.write("  - name: ssl\n    address: 127.0.0.1\n    port: %d\n" % ssl_p)
        f.write(tls % (srv[0], srv[1], ""))
        f.write("  - name: sasl_ssl\n    address: 127.0.0.1\n    port: %d\n" % sasl_p)
        f.write(tls % (srv[0], srv[1], ""))
        f.write("    sasl: { mechanisms: [PLAIN, SCRAM-SHA-256], users_file: %s }\n" % users)
        f.write("  - name: mtls\n    address: 127.0.0.1\n    port: %d\n" % mtls_p)
        f.write(tls % (srv[0], srv[1], ", ca_file: %s, client_auth: required, min_version: '1.3'" % ca[0]))
    r = run([bin_path("logship-broker"), "-c", cfg, "--check"])
    ok(r.returncode == 0 and b"SASL_SSL" in r.stdout and b"client_auth: required" in r.stdout,
       "--check accepts the listeners and prints them")

    log = os.path.join(d, "broker.log")
    b = start([bin_path("logship-broker"), "-c", cfg], log=log)
    ok(all(wait_port(p, proc=b) for p in ports), "the broker listens on all four listeners")

    def logged(s):
        return s in open(log).read()

    r = s_client(ssl_p, ca[0])
    out = r.stdout.decode()
    ok(r.returncode == 0 and "Verify return code: 0 (ok)" in out and "CN = logship-broker" in out,
       "openssl s_client: verified TLS handshake with the broker's certificate")

    ssl_props = ["-X", "security.protocol=ssl", "-X", "ssl.ca.location=%s" % ca[0]]
    produce_consume(ssl_props, "127.0.0.1:%d" % ssl_p, "over-ssl", "SSL (ANONYMOUS)")
    rdk(ssl_props, "127.0.0.1:%d" % ssl_p, "rdk-ssl", "SSL (ANONYMOUS)")

    def sasl(mech, user, pw):
        return ["-X", "security.protocol=sasl_ssl", "-X", "ssl.ca.location=%s" % ca[0], "-X",
                "sasl.mechanisms=%s" % mech, "-X", "sasl.username=%s" % user, "-X", "sasl.password=%s" % pw]

    sasl_b = "127.0.0.1:%d" % sasl_p
    produce_consume(sasl("PLAIN", "alice", "alice-secret"), sasl_b, "sasl-plain", "SASL_SSL PLAIN")
    produce_consume(sasl("SCRAM-SHA-256", "alice", "alice-secret"), sasl_b, "sasl-scram", "SASL_SSL SCRAM-SHA-256")
    rdk(sasl("SCRAM-SHA-256", "alice", "alice-secret"), sasl_b, "rdk-scram", "SASL_SSL SCRAM-SHA-256")
    ok(logged("authenticated as alice (SASL SCRAM-SHA-256)") and logged("authenticated as alice (SASL PLAIN)"),
       "the broker logged both authentications")

    for mech in ("PLAIN", "SCRAM-SHA-256"):
        r = kcat(["-L", "-b", sasl_b, "-m", "5"] + sasl(mech, "alice", "wrong"), timeout=30)
        err = r.stderr.decode()
        ok(r.returncode != 0 and "Authentication failed" in err and "invalid credentials" in err,
           "%s with a wrong password: kcat fails with the broker's message (%s)" % (mech, last(r.stderr)))
    r = kcat(["-L", "-b", sasl_b, "-m", "5"] + sasl("SCRAM-SHA-256", "mallory", "x"), timeout=30)
    ok(r.returncode != 0 and "Authentication failed" in r.stderr.decode(), "an unknown user fails the same way")
    ok(logged("wrong password for user alice") and logged("unknown user mallory"),
       "the broker logged why (wrong password, unknown user)")

    r = kcat(["-L", "-b", "127.0.0.1:%d" % ssl_p, "-m", "5", "-X", "security.protocol=ssl",
              "-X", "ssl.ca.location=%s" % other[0]], timeout=30)
    err = r.stderr.decode()
    ok(r.returncode != 0 and "certificate verify failed" in err,
       "a client trusting another CA fails verification (%s)" % last(r.stderr))
    r = s_client(ssl_p, other[0])
    ok(r.returncode != 0, "openssl s_client with the wrong CA fails")

    mtls_b = "127.0.0.1:%d" % mtls_p
    r = kcat(["-L", "-b", mtls_b, "-m", "5"] + ssl_props, timeout=30)
    ok(r.returncode != 0, "mTLS listener: a client without a certificate is refused (%s)"
       % last(r.stderr))
    ok(wait_for(lambda: logged("TLS handshake failed on listener mtls"), timeout=5),
       "the broker logged the failed handshake")
    mtls_props = ssl_props + ["-X", "ssl.certificate.location=%s" % cli[0], "-X", "ssl.key.location=%s" % cli[1]]
    produce_consume(mtls_props, mtls_b, "over-mtls", "mTLS (CN=alice)")
    ok(logged("principal alice"), "the client certificate's CN is the principal")

    # ACLs.
    alice = sasl("SCRAM-SHA-256", "alice", "alice-secret")
    r = kcat(["-P", "-b", sasl_b, "-t", "secret-plans", "-X", "acks=all"] + alice, input=b"nope\n", timeout=30)
    err = r.stderr.decode()
    ok(r.returncode != 0 and "Topic authorization failed" in err,
       "ACL: producing to secret-plans is denied (%s)" % last(r.stderr))
    ok(logged("alice may not produce topic secret-plans (ACL)"), "the broker logged the denial")
    run([bin_path("logshipctl"), "-b", "127.0.0.1:%d" % plain_p, "topics", "create", "hidden"])
    r = kcat(["-L", "-b", sasl_b] + alice, timeout=30)
    out = r.stdout.decode()
    ok(r.returncode == 0 and '"sasl-scram"' in out and '"hidden"' not in out,
       "ACL: Metadata for all topics hides the one alice may not describe")
    bob = sasl("PLAIN", "bob", "bob-secret")
    r = kcat(["-P", "-b", sasl_b, "-t", "sasl-plain"] + bob, input=b"x\n", timeout=30)
    ok(r.returncode != 0 and "authorization failed" in r.stderr.decode().lower(),
       "ACL: bob may not produce to sasl-plain")
    r = kcat(["-G", "bobs", "-b", sasl_b, "sasl-plain", "-e", "-q"] + bob, timeout=30)
    ok(r.returncode != 0 or "authorization" in r.stderr.decode().lower(),
       "ACL: bob's consumer group is denied (%s)" % last(r.stderr))
    # logshipctl takes the same properties (-X).
    ctl = [bin_path("logshipctl"), "-b", sasl_b]
    for i in range(1, len(alice), 2):
        ctl += ["-X", alice[i]]
    r = run(ctl + ["topics", "create", "ctl-made", "--partitions", "2"], timeout=60)
    ok(r.returncode == 0, "logshipctl -X security.protocol=sasl_ssl ... topics create as alice (%s)" % last(r.stderr))
    ctl_bob = [bin_path("logshipctl"), "-b", sasl_b]
    for i in range(1, len(bob), 2):
        ctl_bob += ["-X", bob[i]]
    r = run(ctl_bob + ["topics", "delete", "ctl-made"], timeout=60)
    ok(r.returncode != 0 and "authoriz" in (r.stdout + r.stderr).decode().lower(),
       "logshipctl as bob: topics delete is denied (%s)" % last(r.stderr + r.stdout))
    # Plaintext: ANONYMOUS, only `public`.
    plain_b = "127.0.0.1:%d" % plain_p
    r = kcat(["-P", "-b", plain_b, "-t", "public"], input=b"hello\n", timeout=30)
    ok(r.returncode == 0, "plaintext listener: ANONYMOUS may produce to public")
    r = kcat(["-P", "-b", plain_b, "-t", "sasl-plain"], input=b"x\n", timeout=30)
    ok(r.returncode != 0 and "authorization failed" in r.stderr.decode().lower(),
       "plaintext listener: ANONYMOUS may not produce to sasl-plain")

    # Before authentication only ApiVersions and SASL.
    s = tls_socket(sasl_p, ca[0])
    s.sendall(frame(18, 0, 1, b""))
    ok(recv_frame(s) is not None, "SASL listener: ApiVersions is answered before authentication")
    ok(closed_after(s, frame(3, 1, 2, struct.pack(">i", 0))),
       "SASL listener: Metadata before authentication closes the connection")
    s.close()
    ok(logged("API 3 before SASL authentication"), "the broker logged the early request")

    good, verified = legacy_scram(sasl_p, ca[0], "alice", "alice-secret")
    ok(good and verified, "SaslHandshake v0 + bare SCRAM tokens: authenticated, server signature verified")
    good, _ = legacy_scram(sasl_p, ca[0], "alice", "bad")
    ok(not good, "SaslHandshake v0 + SCRAM with a wrong password: connection closed")
    ok(legacy_plain(sasl_p, ca[0], "bob", "bob-secret") is True, "SaslHandshake v0 + bare PLAIN token works")
    ok(legacy_plain(sasl_p, ca[0], "bob", "nope") is False, "... and closes on a wrong password")

    # SIGHUP: new certificate, new user, new rules.
    srv2 = certs.issue(d, ca, "server2", "logship-broker-renewed")
    os.replace(srv2[0], srv[0])
    os.replace(srv2[1], srv[1])
    ok(add_user(users, "carol", "carol-secret"), "--add-user carol into the running broker's file")
    with open(acl, "a") as f:
        f.write("allow carol produce carols\n")
    os.kill(b.pid, signal.SIGHUP)
    ok(wait_for(lambda: logged("TLS certificates reloaded") and logged("SASL user(s) reloaded"), timeout=10),
       "SIGHUP: certificates and users reloaded")
    r = s_client(ssl_p, ca[0])
    ok(r.returncode == 0 and "CN = logship-broker-renewed" in r.stdout.decode(),
       "after SIGHUP new connections get the new certificate")
    r = kcat(["-P", "-b", sasl_b, "-t", "carols", "-X", "acks=all"] + sasl("SCRAM-SHA-256", "carol", "carol-secret"),
             input=b"c1\n", timeout=30)
    ok(r.returncode == 0, "after SIGHUP carol authenticates and may produce to carols (%s)"
       % last(r.stderr))
    with open(acl, "a") as f:
        f.write("allow carol fly away\n")
    os.kill(b.pid, signal.SIGHUP)
    ok(wait_for(lambda: logged("the old rules stay"), timeout=10), "a bad ACL file on SIGHUP keeps the old rules")
    ok(wait_for(lambda: re.search(r"%s:\d+: operation 'fly'" % re.escape(acl), open(log).read()), timeout=5),
       "... and the error names the file and line")

    ok(stop(b) == 0, "SIGTERM: exit 0")
    ok(re.search(r"SASL \d+ ok, \d+ failed", open(log).read()) is not None, "the counters are logged at stop")

    # Config errors name the place.
    bad = os.path.join(d, "bad.yaml")
    with open(bad, "w") as f:
        f.write("listeners:\n  - port: 1\n    tls: { cert_file: x }\n")
    r = run([bin_path("logship-broker"), "-c", bad, "--check"])
    ok(r.returncode == 2 and b"bad.yaml:3:" in r.stderr and b"key_file" in r.stderr,
       "a tls block without key_file is refused at its line (%s)" % r.stderr.decode().strip())
    with open(bad, "w") as f:
        f.write("listeners:\n  - port: 1\n    sasl: { mechanisms: [GSSAPI], users_file: u }\n")
    r = run([bin_path("logship-broker"), "-c", bad, "--check"])
    ok(r.returncode == 2 and b"GSSAPI" in r.stderr, "an unknown SASL mechanism is refused")
    finish()


main()
