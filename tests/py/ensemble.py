"""Three-member ZooKeeper ensembles for the Python suite.

Each member is Apache ZooKeeper 3.8 (QuorumPeerMain) or zookeeperd, runs
from its own temp dir (zoo.cfg, data/myid, server.log) on free 127.0.0.1
ports, and can be SIGKILLed and restarted on the same dataDir.  Roles come
from the `srvr` four-letter word ("Mode: leader" / "Mode: follower"); every
wait polls with a deadline of DEADLINE seconds.

Also here: reading a whole (sub)tree with Stats from one member, diffing
such trees, and a TCP relay that can go silent (for session expiry).
"""

import contextlib
import re
import select
import shutil
import signal
import socket
import tempfile
import threading
import time
from pathlib import Path

from conftest import ZkServer, env_flag, four_letter, free_port

QUORUM_MAIN = "org.apache.zookeeper.server.quorum.QuorumPeerMain"

# The one deadline of the ensemble tests: elections, members catching up,
# sessions moving or expiring.
DEADLINE = 60.0

# The mixes the ensemble tests run: all Apache (which shows what Apache
# does), all zookeeperd, and each kind as the minority.
KIND_SETS = [
    ("apache", "apache", "apache"),
    ("zookeeperd", "zookeeperd", "zookeeperd"),
    ("apache", "apache", "zookeeperd"),
    ("zookeeperd", "zookeeperd", "apache"),
]

NOT_SERVING = "not serving"
DOWN = "down"
_MODE_RE = re.compile(r"^Mode: (\S+)", re.M)
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")


def log_tail(member, n):
    """A member's last `n` log lines, without colours and without the
    lines Apache logs for every srvr poll."""
    try:
        text = member.log_path.read_text(errors="replace")
    except OSError:
        return "<no log>"
    lines = [_ANSI_RE.sub("", ln) for ln in text.splitlines() if "Processing srvr command" not in ln]
    return "\n".join(lines[-n:])


def ensemble_cfg(data_dir, client_port, servers):
    return {
        "tickTime": "500",
        "initLimit": "20",
        "syncLimit": "10",
        "dataDir": str(data_dir),
        "clientPort": str(client_port),
        "clientPortAddress": "127.0.0.1",
        "admin.enableServer": "false",
        "4lw.commands.whitelist": "*",
        **servers,
    }


class Member(ZkServer):
    """One ensemble member (sid 1..3)."""

    apache_main = QUORUM_MAIN

    def __init__(self, kind, sid, root):
        super().__init__(kind, tmp_root=root)
        self.sid = sid
        self.quorum_port = None
        self.election_port = None
        (self.data_dir / "myid").write_text("%d\n" % sid)

    def mode(self):
        """'leader', 'follower', 'standalone', ..., NOT_SERVING or DOWN."""
        if not self.alive():
            return DOWN
        try:
            r = four_letter(self.host, self.port, "srvr", timeout=1.0)
        except OSError:
            return DOWN
        m = _MODE_RE.search(r)
        if m:
            return m.group(1)
        if "not currently serving" in r:
            return NOT_SERVING
        return "unexpected srvr reply %r" % r[:80]

    def __repr__(self):
        return "member %d (%s%s, %s)" % (
            self.sid, self.kind, "" if self.impl == self.kind else " run as " + self.impl,
            self.hostport)


class EnsembleBroken(AssertionError):
    pass


def exit_status(proc):
    if proc is None:
        return "not running"
    rc = proc.returncode
    if rc is not None and rc < 0:
        return "killed by %s" % signal.Signals(-rc).name
    if rc is not None and rc > 128:
        with contextlib.suppress(ValueError):
            return "status %d, i.e. after %s" % (rc, signal.Signals(rc - 128).name)
    return "status %s" % rc


class Ensemble:
    """Three members of the given kinds ("apache" / "zookeeperd")."""

    def __init__(self, kinds, observers=()):
        """`observers`: sids whose server line ends in `:observer` (they
        learn without voting; their own zoo.cfg says peerType=observer)."""
        assert len(kinds) >= 3, kinds
        self.kinds = tuple(kinds)
        self.observers = set(observers)
        self.root = Path(tempfile.mkdtemp(prefix="zk-ensemble-"))
        self.members = [Member(k, i + 1, self.root) for i, k in enumerate(kinds)]
        # each member drew a client port from free_port(); make the nine
        # client, quorum and election ports distinct
        used = set()
        for m in self.members:
            if m.port in used:
                m.port = self._fresh_ports(used, 1)[0]
            used.add(m.port)
        for m in self.members:
            m.quorum_port, m.election_port = self._fresh_ports(used, 2)
        servers = {
            "server.%d" % m.sid: "127.0.0.1:%d:%d%s;127.0.0.1:%d"
            % (m.quorum_port, m.election_port, ":observer" if m.sid in self.observers else "", m.port)
            for m in self.members
        }
        for m in self.members:
            m.cfg = ensemble_cfg(m.data_dir, m.port, servers)
            if m.sid in self.observers:
                m.cfg["peerType"] = "observer"
        # set once a wait for a working quorum failed: later tests on the
        # same ensemble fail at once with this message
        self.broken = None

    @staticmethod
    def _fresh_ports(used, n):
        out = []
        while len(out) < n:
            p = free_port()
            if p not in used:
                used.add(p)
                out.append(p)
        return out

    @property
    def hosts(self):
        return ",".join(m.hostport for m in self.members)

    # -------------------------------------------------------------- processes
    def launch(self):
        for m in self.members:
            if not m.alive():
                m.launch()
        return self

    def kill9(self, member):
        member.kill9()

    def restart(self, member):
        """Start a member again on its dataDir (after kill9)."""
        assert not member.alive(), "%r is still running" % member
        member.launch()

    def close(self):
        for m in self.members:
            with contextlib.suppress(Exception):
                m.kill9()
        for m in self.members:
            with contextlib.suppress(Exception):
                m.cleanup()
        if not env_flag("ZK_KEEP_LOGS"):
            shutil.rmtree(self.root, ignore_errors=True)

    # -------------------------------------------------------------- roles
    def modes(self, members=None):
        return {m.sid: m.mode() for m in (members or self.members)}

    def logs(self, n=25):
        """The members' last log lines, without colours and without the
        lines Apache logs for every srvr poll."""
        return "\n".join("----- %r, last %d log lines:\n%s" % (m, n, log_tail(m, n)) for m in self.members)

    def _fail(self, msg):
        self.broken = msg
        raise EnsembleBroken("%s\n%s" % (msg, self.logs()))

    def wait_quorum(self, members=None, timeout=DEADLINE):
        """Wait until, among `members` (default: all), exactly one is leader
        and every other one a follower; returns the leader.  Fails at once
        when a member process exited or a member serves as standalone."""
        members = list(members or self.members)
        deadline = time.monotonic() + timeout
        history = []
        while True:
            for m in members:
                if not m.alive():
                    self._fail("%r exited (%s) while waiting for a quorum of %s"
                               % (m, exit_status(m.proc), [x.sid for x in members]))
            modes = self.modes(members)
            if not history or history[-1] != modes:
                history.append(modes)
            for m in members:
                if modes[m.sid] == "standalone":
                    self._fail("%r answers srvr with 'Mode: standalone': it does not run as "
                               "a member of the ensemble in its zoo.cfg (modes %s)" % (m, modes))
            leaders = [m for m in members if modes[m.sid] == "leader"]
            learner = lambda m: "observer" if m.sid in self.observers else "follower"  # noqa: E731
            if len(leaders) == 1 and all(modes[m.sid] == learner(m)
                                         for m in members if m is not leaders[0]):
                return leaders[0]
            if time.monotonic() >= deadline:
                self._fail("no single leader with the others following among members %s "
                           "after %.0fs; the last srvr modes seen, oldest first: %s"
                           % ([m.sid for m in members], timeout, history[-8:]))
            time.sleep(0.1)

    def ready(self):
        """At the start of a test: restart members a failed earlier test left
        dead, wait for one leader and two followers; returns
        (leader, [followers])."""
        if self.broken:
            raise EnsembleBroken("the ensemble %s never recovered from an earlier failure: %s"
                                 % ("-".join(self.kinds), self.broken))
        self.launch()
        leader = self.wait_quorum()
        return leader, [m for m in self.members if m is not leader]


# ------------------------------------------------------------------ trees
def stat_dict(stat):
    return {f: getattr(stat, f) for f in (
        "czxid", "mzxid", "pzxid", "ctime", "mtime", "version", "cversion",
        "aversion", "ephemeralOwner", "dataLength", "numChildren")}


def read_tree(client, root="/", skip=("/zookeeper",), timeout=DEADLINE):
    """{path: (data, stat dict, sorted children)} for `root` and everything
    below it except the `skip` subtrees, after a sync of `root`.  Reads one
    level at a time with pipelined async requests.  Children are sorted:
    their order in a getChildren reply is unspecified."""
    client.sync(root)
    tree = {}
    level = [root]
    while level:
        pending = [(p, client.get_async(p), client.get_children_async(p)) for p in level]
        level = []
        for p, g, c in pending:
            data, stat = g.get(timeout=timeout)
            kids = sorted(c.get(timeout=timeout))
            tree[p] = (data, stat_dict(stat), kids)
            for k in kids:
                child = (p.rstrip("/") + "/" + k)
                if child not in skip:
                    level.append(child)
    return tree


def diff_trees(a_name, a, b_name, b, limit=15):
    """Human-readable differences between two read_tree() results."""
    out = []
    for p in sorted(set(a) | set(b)):
        if p not in b:
            out.append("%s: only on %s" % (p, a_name))
        elif p not in a:
            out.append("%s: only on %s" % (p, b_name))
        elif a[p] != b[p]:
            (da, sa, ka), (db, sb, kb) = a[p], b[p]
            parts = []
            if da != db:
                parts.append("data %r != %r" % (da, db))
            for f in sa:
                if sa[f] != sb[f]:
                    parts.append("%s %r != %r" % (f, sa[f], sb[f]))
            if ka != kb:
                parts.append("children %s != %s" % (ka, kb))
            out.append("%s: %s (%s vs %s)" % (p, "; ".join(parts), a_name, b_name))
    more = len(out) - limit
    return out[:limit] + (["... %d more" % more] if more > 0 else [])


# ------------------------------------------------------------------ relay
class Relay:
    """TCP relay on 127.0.0.1 to one server.  freeze() makes it go silent:
    it stops forwarding in both directions but keeps every connection open
    (the server hears nothing, not a close) and refuses new connections."""

    def __init__(self, target_host, target_port):
        self.target = (target_host, target_port)
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.port = self.lsock.getsockname()[1]
        self.frozen = threading.Event()
        self.lock = threading.Lock()
        self.socks = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def hostport(self):
        return "127.0.0.1:%d" % self.port

    def _accept(self):
        while not self.frozen.is_set():
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            if self.frozen.is_set():
                c.close()
                return
            try:
                u = socket.create_connection(self.target, timeout=5)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.socks += [c, u]
            threading.Thread(target=self._pump, args=(c, u), daemon=True).start()

    def _pump(self, a, b):
        peer = {a: b, b: a}
        reading = [a, b]
        try:
            while reading and not self.frozen.is_set():
                ready, _, _ = select.select(reading, [], [], 0.05)
                if self.frozen.is_set():
                    return  # silent from now on; the sockets stay open
                for s in ready:
                    d = s.recv(65536)
                    if d:
                        peer[s].sendall(d)
                    else:  # pass the half-close on
                        reading.remove(s)
                        with contextlib.suppress(OSError):
                            peer[s].shutdown(socket.SHUT_WR)
        except OSError:
            return

    def freeze(self):
        self.frozen.set()
        with contextlib.suppress(OSError):
            self.lsock.close()

    def close(self):
        self.freeze()
        with self.lock:
            socks, self.socks = self.socks, []
        for s in socks:
            with contextlib.suppress(OSError):
                s.close()
