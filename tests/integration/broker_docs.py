"""docs/broker.md against the code: the configuration table between the
config-table markers is exactly what `logship-broker --doc-config` prints
(so the reference cannot drift from broker/config.c), and the supported-API
table names every API key and version range of broker/handlers.c. Regenerate
the table by pasting `build/logship-broker --doc-config` between the markers.
"""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from testlib import *  # noqa: F401,F403


def main():
    doc = open(os.path.join(ROOT, "docs", "broker.md")).read()
    m = re.search(r"<!-- config-table:.*?-->\n(.*?)<!-- config-table: end -->", doc, re.S)
    ok(m is not None, "docs/broker.md has the config-table markers")
    r = run([bin_path("logship-broker"), "--doc-config"])
    ok(r.returncode == 0, "logship-broker --doc-config exits 0")
    gen = r.stdout.decode()
    if not ok(m is not None and m.group(1) == gen, "docs/broker.md's configuration table is what --doc-config prints"):
        have = m.group(1).splitlines() if m else []
        for line in gen.splitlines():
            if line not in have:
                diag("missing or changed: " + line)
    src = open(os.path.join(ROOT, "broker", "handlers.c")).read()
    names = {}  # KAPI_* constants, from the enum and #defines of broker/*.h and common/kafka_codec.h
    bdir = os.path.join(ROOT, "broker")
    headers = [os.path.join(bdir, f) for f in sorted(os.listdir(bdir)) if f.endswith(".h")]
    for h in headers + [os.path.join(ROOT, "common", "kafka_codec.h")]:
        text = open(h).read()
        for k, v in re.findall(r"(KAPI_\w+)\s*=\s*(\d+)", text) + re.findall(r"#define\s+(KAPI_\w+)\s+(\d+)", text):
            names[k] = int(v)
    table = src[src.index("static const struct api_range apis[]"):]
    table = table[:table.index("};")]
    apis = [(names.get(k, k), int(lo), int(hi))
            for k, lo, hi in re.findall(r"\{\s*(\w+),\s*(\d+),\s*(\d+)\s*\}", table)]
    ok(len(apis) >= 16, "handlers.c's apis table read (%d APIs)" % len(apis))
    missing = [a for a in apis if not re.search(r"\(%s\) \| %d–%d \|" % (a[0], a[1], a[2]), doc)]
    ok(not missing, "docs/broker.md lists every API with its versions as handlers.c does (missing: %s)" % missing)
    r = run([bin_path("logship-broker"), "-c", os.path.join(ROOT, "conf.d", "broker.yaml"), "--check"])
    ok(r.returncode == 0, "the shipped conf.d/broker.yaml passes --check")
    finish()


main()
