"""Test certificates made with the openssl command line (Python 3 stdlib
only): a CA, and server or client certificates it signs, each a PEM
certificate + key pair in a directory of the test's. EC P-256 keys keep it
fast. Nothing here is fetched; nothing outlives the test's temp dir."""
import os
import subprocess


def _run(args, cwd):
    subprocess.run(["openssl"] + args, cwd=cwd, check=True, capture_output=True, timeout=60)


def ca(d, name="ca", cn="logship test CA"):
    """A self-signed CA: returns (cert path, key path)."""
    key, crt = os.path.join(d, name + ".key"), os.path.join(d, name + ".pem")
    _run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
          "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=" + cn,
          "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], d)
    return crt, key


def self_signed(d, name, cn, sans):
    """A self-signed server certificate (no CA): returns (cert path, key path)."""
    key, crt = os.path.join(d, name + ".key"), os.path.join(d, name + ".pem")
    _run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
          "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=" + cn,
          "-addext", "subjectAltName=" + ",".join(sans)], d)
    return crt, key


def issue(d, ca_pair, name, cn, server=True, sans=("DNS:localhost", "IP:127.0.0.1")):
    """A certificate signed by ca_pair: returns (cert path, key path)."""
    key, csr, crt = (os.path.join(d, name + ext) for ext in (".key", ".csr", ".pem"))
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\n")
        f.write("extendedKeyUsage=%s\n" % ("serverAuth" if server else "clientAuth"))
        if sans:
            f.write("subjectAltName=%s\n" % ",".join(sans))
    _run(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
          "-keyout", key, "-out", csr, "-subj", "/CN=" + cn], d)
    _run(["x509", "-req", "-in", csr, "-CA", ca_pair[0], "-CAkey", ca_pair[1], "-CAcreateserial",
          "-out", crt, "-days", "2", "-extfile", ext], d)
    return crt, key
