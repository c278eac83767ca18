"""The C client's CLI `cli_mt` (Debian `zookeeper-bin`) against zookeeperd.

* interactive: commands written to stdin one at a time, each awaited by
  polling its output (no sleeps);
* batch (`-c cmd`, one process per command): output normalised and compared
  with Apache ZooKeeper's.
"""

import os
import re
import subprocess
import threading

import pytest

from conftest import CLI_MT, assert_same, unique, wait_until

pytestmark = pytest.mark.skipif(not os.path.exists(CLI_MT),
                                reason="cli_mt not installed (apt-get install zookeeper-bin)")


class Interactive:
    def __init__(self, server):
        self.p = subprocess.Popen([CLI_MT, "-h", server.hostport], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, bufsize=1)
        self.buf = ""
        self.lock = threading.Lock()
        self.t = threading.Thread(target=self._reader, daemon=True)
        self.t.start()

    def _reader(self):
        for line in self.p.stdout:
            with self.lock:
                self.buf += line

    def output(self):
        with self.lock:
            return self.buf

    def send(self, cmd, expect, timeout=10):
        """Send a command; wait until the text written since matches expect
        (a regex).  Returns that text."""
        start = len(self.output())
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        pat = re.compile(expect, re.M)
        wait_until(lambda: pat.search(self.output()[start:]), timeout,
                   desc="cli_mt output /%s/ after %r; got:\n%s" % (expect, cmd, self.output()[start:]))
        return self.output()[start:]

    def quit(self):
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.flush()
            self.p.wait(10)
        except Exception:  # noqa: BLE001
            self.p.kill()
            self.p.wait(5)


def test_cli_mt_interactive(target_server):
    b = "/" + unique("climt")
    cli = Interactive(target_server)
    try:
        wait_until(lambda: "CONNECTED_STATE" in cli.output(), 10, desc="cli_mt connected")
        out = cli.send("create %s" % b, r"^\[%s\]: rc = (-?\d+)" % re.escape(b))
        assert "[%s]: rc = 0" % b in out and "name = %s" % b in out, out
        out = cli.send("get %s" % b, r"^%s: rc = -?\d+\n(.*\n)*?\s*ephemeralOwner" % re.escape(b))
        assert "%s: rc = 0" % b in out and "value_len = 3" in out and "\nnew\n" in out, out
        out = cli.send("set %s hello" % b, r"^%s: rc = -?\d+" % re.escape(b))
        assert "%s: rc = 0" % b in out, out
        out = cli.send("get %s" % b, r"ephemeralOwner")
        assert "value_len = 5" in out and "\nhello\n" in out and "version=1" in out, out
        cli.send("create %s/c1" % b, r"^\[%s/c1\]: rc = 0" % re.escape(b))
        out = cli.send("create +s %s/s" % b, r"name = %s/s\d{10}" % re.escape(b))
        assert "name = %s/s0000000001" % b in out, out
        out = cli.send("create +e %s/e" % b, r"^\[%s/e\]: rc = -?\d+" % re.escape(b))
        assert "rc = 0" in out, out
        out = cli.send("ls %s" % b, r"^%s: rc = -?\d+(\n\t.*)*\ntime" % re.escape(b))
        kids = sorted(ln.strip() for ln in out.splitlines() if ln.startswith("\t"))
        assert kids == ["c1", "e", "s0000000001"], out
        # exists prints nothing on success, "Error <rc> for <path>" otherwise
        out = cli.send("exists %s/nope" % b, r"Error -?\d+ for %s/nope" % re.escape(b))
        assert "Error -101 for %s/nope" % b in out, out
        out = cli.send("delete %s" % b, r"^%s: rc = -?\d+" % re.escape(b))
        assert "rc = -111" in out, out  # ZNOTEMPTY
        out = cli.send("create %s/e/x" % b, r"^\[%s/e/x\]: rc = -?\d+" % re.escape(b))
        assert "rc = -108" in out, out  # ZNOCHILDRENFOREPHEMERALS
        out = cli.send("create %s/c1" % b, r"^\[%s/c1\]: rc = -?\d+" % re.escape(b))
        assert "rc = -110" in out, out  # ZNODEEXISTS
        out = cli.send("get %s/nope" % b, r"^%s/nope: rc = -?\d+" % re.escape(b))
        assert "rc = -101" in out, out
        for k in ("c1", "s0000000001"):
            out = cli.send("delete %s/%s" % (b, k), r"^%s/%s: rc = -?\d+" % (re.escape(b), k))
            assert "rc = 0" in out, out
        out = cli.send("sync %s" % b, r"^\[%s\]: rc = -?\d+" % re.escape(b))
        assert "rc = 0" in out, out
    finally:
        cli.quit()
    # the ephemeral went away with cli_mt's session
    r = subprocess.run([CLI_MT, "-h", target_server.hostport, "-c", "ls %s" % b],
                       capture_output=True, text=True, timeout=20)
    kids = [ln.strip() for ln in (r.stdout + r.stderr).splitlines() if ln.startswith("\t")]
    assert kids == [], r.stdout + r.stderr


# ----------------------------------------------------------------- batch
BATCH = [
    "create {b}", "create {b}", "create +e {b}/e", "create +s {b}/s", "create2 +s {b}/s",
    "create2 +c {b}/c", "create +t=600000 {b}/t", "create2 +e {b}/e2", "create2 {b}/p",
    "get {b}", "set {b} world", "get {b}", "ls {b}", "ls2 {b}", "sync {b}",
    "delete {b}", "delete {b}/t", "get {b}/missing", "ls {b}/missing",
    "set {b}/missing z", "delete {b}/missing", "create {b}/missing/x", "ls {b}",
    "config",
]

HEX_ZX = re.compile(r"^(\s*)(czxid|mzxid)=([0-9a-f]+)$")


def normalise(text, b):
    lines = []
    for ln in text.replace(b, "<b>").splitlines():
        if ln.startswith("time = ") or ln.startswith("Batch mode:"):
            continue
        ln = re.sub(r"session id: 0x[0-9a-f]+", "session id: <sid>", ln)
        ln = re.sub(r"^(\s*)(ctime|mtime)( ?= ?).*$", r"\1\2\3<time>", ln)
        m = re.match(r"^(\s*ephemeralOwner = )([0-9a-f]+)$", ln)
        if m:
            ln = m.group(1) + ("0" if int(m.group(2), 16) == 0 else "<session>")
        lines.append(ln)
    zx = sorted({int(m.group(3), 16) for ln in lines for m in [HEX_ZX.match(ln)] if m})
    rank = {z: i + 1 for i, z in enumerate(zx)}
    out, run = [], []
    for ln in lines + [None]:
        m = HEX_ZX.match(ln) if ln is not None else None
        if m:
            ln = "%s%s=Z%d" % (m.group(1), m.group(2), rank[int(m.group(3), 16)])
        # child listings: tab + bare name -> sort the run
        if ln is not None and re.fullmatch(r"\t[^\s=]+", ln):
            run.append(ln)
            continue
        out.extend(sorted(run))
        run = []
        if ln is not None:
            out.append(ln)
    return out


def run_batch(server, b):
    rows = []
    for tmpl in BATCH:
        cmd = tmpl.format(b=b)
        p = subprocess.run([CLI_MT, "-h", server.hostport, "-c", cmd], capture_output=True,
                           text=True, timeout=20)
        rows.append("$ %s -> rc=%d" % (tmpl, p.returncode))
        rows.extend("  " + ln for ln in normalise(p.stdout + p.stderr, b))
    return "\n".join(rows)


def test_cli_mt_batch_matches_apache(apache_server, zkd_server):
    b = "/" + unique("climtb")
    a = run_batch(apache_server, b)
    z = run_batch(zkd_server, b)
    assert "$ create {b} -> rc=0\n  Creating [<b>] node (mode: 0)" in a, a
    assert "[<b>]: rc = -110" in a, a
    assert_same(a, z, "cli_mt batch transcript")
    # absolute checks on zookeeperd's transcript
    assert "[<b>/c]: rc = 0" in z and "[<b>/t]: rc = 0" in z, z
    assert "<b>: rc = -111" in z, z  # delete non-empty
    assert "<b>/missing: rc = -101" in z, z
