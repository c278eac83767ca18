"""zkCli.sh (the Java CLI from the Debian `zookeeper` package) against Apache
ZooKeeper and zookeeperd; normalised output and exit codes must match.

Most commands run in one interactive zkCli process fed through stdin (the
JVM start is the slow part); a few run one-per-process to compare exit
codes.
"""

import os
import re
import subprocess

import pytest

from conftest import ZKCLI, assert_same

pytestmark = pytest.mark.skipif(not os.path.exists(ZKCLI), reason="zkCli.sh not installed "
                                "(apt-get install zookeeper)")

ZXID_RE = re.compile(r"^(cZxid|mZxid|pZxid) = (0x[0-9a-fA-F]+)$")
TIME_RE = re.compile(r"^(ctime|mtime) = (.*)$")
OWNER_RE = re.compile(r"^ephemeralOwner = (0x[0-9a-fA-F]+)$")
LIST_RE = re.compile(r"^\[(.*)\]$")


def run_zkcli(server, args=None, stdin=None, timeout=90):
    cmd = [ZKCLI, "-server", server.hostport] + (args or [])
    env = dict(os.environ)
    env.setdefault("CLIENT_JVMFLAGS", "-Xshare:auto -XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
    p = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=timeout, env=env)
    return p.returncode, p.stdout.replace(server.hostport, "<server>")


def normalise(text):
    """-> (main_lines, watcher_events).  Drops SLF4J noise; zxids become
    ranks, times become <time>, non-zero ephemeral owners <session>; path
    listings / [..] lists are sorted (child order is unspecified)."""
    lines = [ln for ln in text.splitlines() if not ln.startswith("SLF4J:")]
    events, main = [], []
    for ln in lines:
        if ln.startswith("WatchedEvent "):
            events.append(ln)
        elif ln in ("WATCHER::", ""):
            continue
        else:
            main.append(ln)
    zx = sorted({int(m.group(2), 16) for ln in main for m in [ZXID_RE.match(ln)] if m})
    rank = {z: i + 1 for i, z in enumerate(zx)}
    out = []
    for ln in main:
        m = ZXID_RE.match(ln)
        if m:
            ln = "%s = Z%d" % (m.group(1), rank[int(m.group(2), 16)])
        elif TIME_RE.match(ln):
            ln = TIME_RE.sub(r"\1 = <time>", ln)
        elif OWNER_RE.match(ln):
            ln = "ephemeralOwner = " + ("0x0" if int(OWNER_RE.match(ln).group(1), 16) == 0
                                        else "<session>")
        elif LIST_RE.match(ln):
            items = [x for x in LIST_RE.match(ln).group(1).split(", ") if x]
            ln = "[" + ", ".join(sorted(items)) + "]"
        out.append(ln)
    # sort runs of bare path lines (ls -R output)
    res, run = [], []
    for ln in out + [None]:
        if ln is not None and ln.startswith(("/", "<b>")) and " " not in ln:
            run.append(ln)
            continue
        res.extend(sorted(run))
        run = []
        if ln is not None:
            res.append(ln)
    return res, events


def script_for(b):
    return "\n".join([
        "create %s data" % b,
        "create %s/p pdata" % b,
        "create -e %s/e edata" % b,
        "create -s %s/s- sdata" % b,
        "create -s %s/s- sdata" % b,
        "create -s -e %s/es- x" % b,
        "create -c %s/c cdata" % b,
        "create %s/c/kid k" % b,
        "create -t 600000 %s/t tdata" % b,
        "create -t 0 %s/t0 tdata" % b,
        "create %s/p dup" % b,
        "create %s/missing/child" % b,
        "create %s/e/child" % b,
        "create %s/noval" % b,
        "ls %s" % b,
        "ls -s %s" % b,
        "ls -R %s" % b,
        "ls %s/missing" % b,
        "get %s/p" % b,
        "get -s %s/p" % b,
        "get %s/noval" % b,
        "set %s/p newdata" % b,
        "set -s %s/p newer" % b,
        "set -v 0 %s/p x" % b,
        "set -v 2 %s/p versioned" % b,
        "get -s %s/p" % b,
        "stat %s/p" % b,
        "stat %s/e" % b,
        "stat %s/missing" % b,
        "getAcl %s/p" % b,
        "setAcl %s/p world:anyone:r" % b,
        "getAcl -s %s/p" % b,
        "set %s/p denied" % b,
        "setAcl -v 0 %s/e world:anyone:cdrwa" % b,
        "setAcl %s/e digest:bad" % b,
        "addauth digest user1:pw1",
        "create %s/secret s auth::cdrwa" % b,
        "getAcl %s/secret" % b,
        "create %s/ipacl i ip:127.0.0.1:cdrwa" % b,
        "getAcl %s/ipacl" % b,
        "get %s/ipacl" % b,
        "whoami",
        "getEphemerals %s" % b,
        "getEphemerals %s/missing" % b,
        "getAllChildrenNumber %s" % b,
        "getAllChildrenNumber %s/missing" % b,
        "sync %s" % b,
        "addWatch %s/w" % b,
        "create %s/w" % b,
        "create %s/w/x" % b,
        "set %s/w/x d" % b,
        "delete %s/w/x" % b,
        "addWatch -m PERSISTENT %s/pw" % b,
        "create %s/pw" % b,
        "create %s/pw/x" % b,
        "set %s/pw/x d" % b,
        "delete %s/pw/x" % b,
        "delete %s" % b,
        "deleteall %s/c" % b,
        "delete -v 5 %s/p" % b,
        "delete %s/p" % b,
        "ls %s" % b,
        "get %s/missing" % b,
        "delete %s/missing" % b,
        "getAcl %s/missing" % b,
        "create bad-path x",
        "get bad-path",
        "create %s/" % b,
        "ls %s" % b,
        "quit",
    ]) + "\n"


@pytest.fixture(scope="module")
def zkcli_outputs(apache_server, zkd_server):
    # the same base path on both servers, unique per pytest session
    from conftest import unique
    b = "/" + unique("zkcli")
    out = {}
    for srv in (apache_server, zkd_server):
        rc, text = run_zkcli(srv, stdin=script_for(b))
        out[srv.kind] = (rc, text, b)
    return out


def test_zkcli_interactive_script_matches(zkcli_outputs):
    rc_a, text_a, b = zkcli_outputs["apache"]
    rc_z, text_z, _ = zkcli_outputs["zookeeperd"]
    main_a, ev_a = normalise(text_a.replace(b, "<b>"))
    main_z, ev_z = normalise(text_z.replace(b, "<b>"))
    # absolute expectations on Apache's side (guards the normalisation)
    assert "Created <b>/s-0000000002" in main_a, text_a
    assert "Node already exists: <b>/p" in main_a
    assert "Insufficient permission : <b>/p" in main_a
    assert "digest: user1" in main_a
    assert any(ln.startswith("WatchedEvent state:SyncConnected type:NodeCreated path:<b>/w")
               for ln in ev_a), ev_a
    assert_same("\n".join(main_a), "\n".join(main_z), "zkCli.sh interactive output")
    assert_same("\n".join(ev_a), "\n".join(ev_z), "zkCli.sh watcher events")
    assert rc_a == rc_z, "exit codes differ: apache %d, zookeeperd %d" % (rc_a, rc_z)


def test_zkcli_persistent_watch_events(zkcli_outputs):
    """addWatch (default PERSISTENT_RECURSIVE) and -m PERSISTENT fire the
    right events on zookeeperd."""
    _rc, text, b = zkcli_outputs["zookeeperd"]
    _main, ev = normalise(text.replace(b, "<b>"))
    want_recursive = [
        "WatchedEvent state:SyncConnected type:NodeCreated path:<b>/w",
        "WatchedEvent state:SyncConnected type:NodeCreated path:<b>/w/x",
        "WatchedEvent state:SyncConnected type:NodeDataChanged path:<b>/w/x",
        "WatchedEvent state:SyncConnected type:NodeDeleted path:<b>/w/x",
    ]
    want_persistent = [
        "WatchedEvent state:SyncConnected type:NodeCreated path:<b>/pw",
        "WatchedEvent state:SyncConnected type:NodeChildrenChanged path:<b>/pw",
        "WatchedEvent state:SyncConnected type:NodeChildrenChanged path:<b>/pw",
    ]
    got = [e for e in ev if "path:<b>/" in e]
    assert got == want_recursive + want_persistent, "\n".join(ev)


SINGLE_COMMANDS = [
    ["create", "{b}", "x"],
    ["create", "{b}", "again"],
    ["get", "-s", "{b}"],
    ["get", "{b}/missing"],
    ["set", "-v", "7", "{b}", "y"],
    ["create", "{b}/c"],
    ["delete", "{b}"],
    ["deleteall", "{b}"],
    ["bogus-command"],
]


def test_zkcli_single_command_exit_codes(apache_server, zkd_server):
    """`zkCli.sh -server H:P cmd args` runs one command; exit code and
    normalised output must match Apache."""
    from conftest import unique
    b = "/" + unique("zkcli1")
    results = {}
    for srv in (apache_server, zkd_server):
        rows = []
        for cmd in SINGLE_COMMANDS:
            args = [a.format(b=b) for a in cmd]
            rc, text = run_zkcli(srv, args)
            main, _ev = normalise(text.replace(b, "<b>"))
            rows.append("$ %s -> rc=%d\n  %s" % (" ".join(cmd), rc, "\n  ".join(main)))
        results[srv.kind] = "\n".join(rows)
    a = results["apache"]
    assert "$ get {b}/missing -> rc=1" in a, a
    assert "$ create {b} x -> rc=0" in a, a
    assert_same(a, results["zookeeperd"], "zkCli.sh single-command runs")
