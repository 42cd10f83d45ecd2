"""Shared helpers for logship's integration and crash tests (Python 3 stdlib only).

Conventions every script test follows (tests/run.sh counts them):
  - print "ok - what" or "not ok - what" per check (TAP style, one line each);
  - loopback only, free ports from the kernel, a private temp dir;
  - every process it starts is tracked and stopped by PID at exit, even on failure;
  - every wait is bounded.
"""
import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.environ.get("LOGSHIP_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("LOGSHIP_BUILD") or os.path.join(ROOT, "build")

_procs = []
_failed = 0
_tmpdirs = []


def bin_path(name):
    """Path of a built binary: 'logship', 'logship-broker', 'logshipctl', or 'tests/tools/x'."""
    return os.path.join(BUILD, name)


def tmpdir(prefix="logship-test-"):
    d = tempfile.mkdtemp(prefix=prefix)
    _tmpdirs.append(d)
    return d


_ports_given = set()


def free_port():
    """A TCP port that was free on 127.0.0.1 a moment ago, and not one this
    process was given before (the kernel may hand out the same ephemeral
    port to two binds in a row once the first is closed)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _ports_given:
            _ports_given.add(port)
            return port
    raise RuntimeError("free_port: no new free port in 100 tries")


def _stat_times(path):
    """User and system CPU seconds from a /proc .../stat file, and the name in it."""
    with open(path) as f:
        head, rest = f.read().rsplit(")", 1)
    parts = rest.split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(parts[11]) / tick, int(parts[12]) / tick, head.split("(", 1)[1]


def _stat_cpu(path):
    """User + system CPU seconds from a /proc .../stat file, and the name in it."""
    u, s, name = _stat_times(path)
    return u + s, name


def threads_times(pid):
    """[(name, user s, system s)] per thread in thread-id order; the main thread is 'main'."""
    out = []
    for tid in sorted(os.listdir("/proc/%d/task" % pid), key=int):
        try:
            u, s, name = _stat_times("/proc/%d/task/%s/stat" % (pid, tid))
        except OSError:
            continue
        out.append(("main" if int(tid) == pid else name, u, s))
    return out


def cpu_seconds(pid):
    """User + system CPU seconds of a live process, every thread."""
    return _stat_cpu("/proc/%d/stat" % pid)[0]


def threads_cpu(pid, group=None):
    """{thread name: CPU seconds}; the main thread is 'main'. group(name) may
    fold several threads into one entry (librdkafka's rdk:* ones, say)."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            cpu, name = _stat_cpu("/proc/%d/task/%s/stat" % (pid, tid))
        except OSError:
            continue
        name = "main" if int(tid) == pid else (group(name) if group else name)
        out[name] = out.get(name, 0) + cpu
    return out


def status_kb(pid, key):
    """A kB figure of /proc/PID/status (VmRSS, VmHWM, ...); 0 if absent."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def ok(cond, what):
    """Record one check; returns cond so tests can branch on it."""
    global _failed
    if cond:
        print("ok - %s" % what, flush=True)
    else:
        _failed += 1
        print("not ok - %s" % what, flush=True)
    return bool(cond)


def diag(msg):
    print("# %s" % msg, flush=True)


def start(argv, log=None, env=None, **kw):
    """Start a process we own; it is killed by PID at exit if still running."""
    out = open(log, "ab") if log else subprocess.DEVNULL
    e = dict(os.environ)
    if env:
        e.update(env)
    kw.setdefault("stdout", out)
    kw.setdefault("stderr", subprocess.STDOUT if log and kw["stdout"] is out else out)
    p = subprocess.Popen(argv, env=e, **kw)
    _procs.append(p)
    return p


def stop(p, sig=signal.SIGTERM, timeout=10):
    """Stop one process by PID: sig, then SIGKILL after timeout. Returns exit code."""
    if p.poll() is None:
        try:
            os.kill(p.pid, sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait(timeout=10)
    return p.returncode


def kill9(p):
    """SIGKILL by PID and reap."""
    return stop(p, signal.SIGKILL, timeout=10)


def wait_port(port, host="127.0.0.1", timeout=10.0, proc=None):
    """Wait until something accepts on host:port (and proc, if given, is alive)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def wait_for(fn, timeout=10.0, interval=0.05):
    """Poll fn() until it returns something truthy or timeout; returns the last value."""
    deadline = time.time() + timeout
    v = fn()
    while not v and time.time() < deadline:
        time.sleep(interval)
        v = fn()
    return v


def run(argv, timeout=60, input=None, env=None, check=False):
    """Run a command to completion with a time bound; returns CompletedProcess."""
    e = dict(os.environ)
    if env:
        e.update(env)
    return subprocess.run(argv, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout, env=e, check=check)


def _cleanup():
    for p in _procs:
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(timeout=5)
            except Exception:
                pass
    if not os.environ.get("LOGSHIP_KEEP_TMP"):
        for d in _tmpdirs:
            shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup)


def finish():
    """Exit non-zero if any check failed."""
    sys.exit(1 if _failed else 0)
