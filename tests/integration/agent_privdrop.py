#!/usr/bin/env python3
"""`user:`: an agent started as root binds a privileged syslog port, opens
its ring, then becomes an ordinary user for good (issue 10). Needs root and
the user `nobody`.

Checks: the data_dir of an earlier root run is handed to the user (ring
segments, checkpoints), never through a symlink planted in it; every uid and
gid of the process is the user's afterwards and root cannot come back; the
syslog listener on a port below 1024 was bound before and still receives
(`logger`); the tail input reads a world-readable file but not a root-only
one (the permission error is logged); the ring keeps creating segments as
the user; a SIGHUP reload works as the user; `--check` names a user that
does not exist.
"""
import json
import os
import pwd
import random
import signal
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import agentlib  # noqa: E402
import testlib  # noqa: E402
from testlib import ok, diag  # noqa: E402


def privileged_port():
    """A free port below 1024, picked at random so that runs side by side do not race for one."""
    for port in random.sample(range(600, 1024), 424):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    return None


def ids(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Uid", "Gid", "Groups"):
                out[k] = [int(x) for x in v.split()]
    return out


def events(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                out.append(json.loads(line))
    except OSError:
        pass
    return out


def main():
    if os.geteuid() != 0:
        ok(True, "# SKIP needs root")
        return
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        ok(True, "# SKIP no user nobody")
        return
    d = testlib.tmpdir("logship-privdrop-")
    os.chmod(d, 0o755)
    logs, out = os.path.join(d, "logs"), os.path.join(d, "out")
    os.mkdir(logs, 0o755)
    os.mkdir(out, 0o755)
    os.chown(out, nobody.pw_uid, nobody.pw_gid)
    with open(os.path.join(logs, "app.log"), "w") as f:
        f.write("".join("app line %d\n" % i for i in range(1, 101)))
    os.chmod(os.path.join(logs, "app.log"), 0o644)
    with open(os.path.join(logs, "secret.log"), "w") as f:
        f.write("secret line\n")
    os.chmod(os.path.join(logs, "secret.log"), 0o600)
    port = privileged_port()
    if port is None:
        ok(False, "a free port below 1024")
        return
    outfile = os.path.join(out, "events.ndjson")
    config = """data_dir: {dir}/data
%(user)s
http: { listen: 127.0.0.1:{port} }
buffer: { segment_bytes: 64KiB, batch_max_bytes: 16KiB }
inputs:
  - type: tail
    name: logs
    paths: [%(logs)s/*.log]
    read_from_head: true
  - type: syslog
    name: sys
    listen: tcp://127.0.0.1:%(sport)d
  - type: generate
    name: %(gen)s
    count: 3000
    rate: 0
    size: 200
outputs:
  - type: file
    path: %(out)s
"""
    # A first run as root leaves a root-owned data_dir behind.
    agent = agentlib.Agent(d, config % {"user": "", "logs": logs, "sport": port, "out": outfile, "gen": "gen1"})
    if not ok(agent.start(), "agent runs as root first"):
        return
    testlib.wait_for(lambda: len(events(outfile)) >= 3100, timeout=30)
    agent.stop()
    data = os.path.join(d, "data")
    ok(os.stat(os.path.join(data, "ring")).st_uid == 0, "the first run's data_dir is root's")
    # A symlink planted in data_dir, pointing at a root file elsewhere.
    target = os.path.join(d, "precious")
    with open(target, "w") as f:
        f.write("root's\n")
    os.symlink(target, os.path.join(data, "planted"))
    os.unlink(outfile)

    before = set(os.listdir(os.path.join(data, "ring")))
    agent.set_config(config % {"user": "user: nobody", "logs": logs, "sport": port, "out": outfile,
                                "gen": "gen2"})
    ok(agent.start(), "agent starts as root with user: nobody")
    pid = agent.p.pid
    ok(testlib.wait_for(lambda: "running as nobody" in agent.log_text(), timeout=10),
       "it logs the switch to nobody with its groups")
    i = ids(pid)
    ok(i.get("Uid") == [nobody.pw_uid] * 4, "every uid (real, effective, saved, fs) is nobody's: %s" % i.get("Uid"))
    ok(i.get("Gid") == [nobody.pw_gid] * 4, "every gid is nobody's primary group: %s" % i.get("Gid"))
    ok(0 not in i.get("Groups", [0]), "no root group among the supplementary groups: %s" % i.get("Groups"))
    owners = {os.lstat(os.path.join(root, f)).st_uid
              for root, _, files in os.walk(data) for f in files if not os.path.islink(os.path.join(root, f))}
    ok(owners == {nobody.pw_uid}, "data_dir's files were handed to nobody (owners %s)" % owners)
    ok(os.stat(target).st_uid == 0, "the symlink planted in data_dir was not followed (its target is still root's)")

    r = testlib.run(["logger", "--tcp", "-n", "127.0.0.1", "-P", str(port), "-t", "priv", "over port %d" % port],
                    timeout=20)
    got = testlib.wait_for(lambda: [e for e in events(outfile) if "over port" in e.get("message", "")], timeout=20)
    ok(r.returncode == 0 and got, "the syslog listener on port %d (bound as root) receives after the switch" % port)
    # A root-only file that appears after the switch cannot be opened.
    fd = os.open(os.path.join(logs, "secret2.log"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, b"secret line 2\n")
    os.close(fd)
    ok(testlib.wait_for(lambda: "Permission denied" in agent.log_text() and "secret2.log" in agent.log_text(),
                        timeout=30), "tail: a root-only file is refused after the switch and the error is logged")
    ok(not [e for e in events(outfile) if e.get("message") == "secret line 2"], "nothing of it is read")
    testlib.wait_for(lambda: len([e for e in events(outfile) if "sequence" in e.get("event", {})]) >= 3000,
                     timeout=30)
    new = [f for f in os.listdir(os.path.join(data, "ring")) if f.endswith(".log") and f not in before]
    ok(new and all(os.stat(os.path.join(data, "ring", f)).st_uid == nobody.pw_uid for f in new),
       "the ring creates new segments as nobody (%s)" % new)
    agent.signal(signal.SIGHUP)
    ok(testlib.wait_for(lambda: agent.metric("logship_reloads_total") == 1 and
                        agent.metric("logship_reload_failures_total") == 0, timeout=20),
       "SIGHUP reloads as nobody")
    agent.stop()

    bad = agentlib.write(os.path.join(d, "bad.yaml"), "data_dir: %s/x\nuser: no-such-user-here\n"
                         "inputs: [{type: stdin}]\noutputs: [{type: stdout}]\n" % d)
    for args in (["--check", "-c", bad], ["-c", bad]):
        r = testlib.run([testlib.bin_path("logship")] + args, timeout=20)
        ok(r.returncode == 1 and ("%s:2:7: user: no user named 'no-such-user-here'" % bad).encode() in r.stderr,
           "%s: a user that does not exist is an error at its position (%s)"
           % (" ".join(args[:-1]), r.stderr.decode().strip()[-120:]))


main()
testlib.finish()
