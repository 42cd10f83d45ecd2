"""Helpers for the agent's integration and crash tests (on top of testlib).

An Agent is one `build/logship` process we started, with its config in a temp
dir, its status endpoint on a free port, stderr in a log file; every wait is
bounded and it is stopped by PID.
"""
import collections
import json
import os
import signal
import urllib.request

import testlib


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


class Agent:
    def __init__(self, d, config, name="agent", stdin=None, env=None):
        self.dir = d
        self.port = testlib.free_port()
        self.conf = os.path.join(d, name + ".yaml")
        self.log = os.path.join(d, name + ".log")
        self.name = name
        self.stdin = stdin
        self.env = env
        self.p = None
        self.set_config(config)

    def set_config(self, config):
        """Writes the config; {port} and {dir} are filled in."""
        write(self.conf, config.replace("{port}", str(self.port)).replace("{dir}", self.dir))

    def start(self, wait=True):
        kw = {}
        if self.stdin is not None:
            kw["stdin"] = self.stdin
        self.p = testlib.start([testlib.bin_path("logship"), "-c", self.conf], log=self.log,
                               env=self.env, **kw)
        if wait and not testlib.wait_port(self.port, timeout=15, proc=self.p):
            testlib.diag("agent did not come up; log:\n" + self.log_text()[-3000:])
            return False
        return True

    def alive(self):
        return self.p is not None and self.p.poll() is None

    def signal(self, sig):
        os.kill(self.p.pid, sig)

    def stop(self, timeout=30):
        return testlib.stop(self.p, signal.SIGTERM, timeout=timeout)

    def kill9(self):
        return testlib.kill9(self.p)

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def get(self, path, timeout=5):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path), timeout=timeout) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except OSError:
            return None, ""

    def metrics(self):
        """{'name{labels}': value} from /metrics ({} if unreachable)."""
        code, text = self.get("/metrics")
        m = {}
        if code != 200:
            return m
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            k, _, v = line.rpartition(" ")
            try:
                m[k] = float(v)
            except ValueError:
                pass
        return m

    def metric(self, name, **labels):
        key = name
        if labels:
            key += "{" + ",".join('%s="%s"' % kv for kv in labels.items()) + "}"
        m = self.metrics()
        if key in m:
            return m[key]
        # labels in another order / with more labels (type=...)
        for k, v in m.items():
            if k.startswith(name + "{") and all('%s="%s"' % kv in k for kv in labels.items()):
                return v
        return None

    def status(self):
        code, text = self.get("/status")
        return json.loads(text) if code == 200 else None

    def wait_metric(self, name, want, timeout=60, **labels):
        """Waits until metric >= want; returns the last value."""
        return testlib.wait_for(lambda: (self.metric(name, **labels) or 0) >= want and
                                self.metric(name, **labels), timeout=timeout, interval=0.05) \
            or self.metric(name, **labels)


def sequences(paths):
    """Counter of event.sequence over NDJSON files; also returns (lines, bad lines)."""
    seen = collections.Counter()
    lines = bad = 0
    for path in paths:
        if not os.path.exists(path):
            continue
        with open(path, "rb") as f:
            for raw in f:
                lines += 1
                try:
                    ev = json.loads(raw)
                    seen[ev["event"]["sequence"]] += 1
                except (ValueError, KeyError, TypeError):
                    bad += 1
    return seen, lines, bad


def rotated(path, keep=50):
    """path and its rotated files path.1 .. path.keep that exist, oldest first."""
    files = [path + ".%d" % i for i in range(keep, 0, -1)] + [path]
    return [f for f in files if os.path.exists(f)]
