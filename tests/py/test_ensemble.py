"""Three-member ensembles mixing Apache ZooKeeper 3.8 and zookeeperd must
behave as one ZooKeeper: one tree (data and Stat) on every member, leader
failover without losing acknowledged writes, sessions moving between
members, and sessions expiring everywhere.

Every test runs on each of the ensembles in KIND_SETS; the all-Apache one
validates the harness.  An ensemble is started once per kind set (module
scope) and shared by the tests, which use unique znode paths; each test
first waits for one leader and two followers, restarting any member an
earlier failed test left dead.  When that wait fails, later tests on the
same ensemble fail at once with its reason.  Member logs:
ZK_KEEP_LOGS=1 keeps /tmp/zk-ensemble-*/zk-*/server.log.
"""

import os
import subprocess
import threading
import time

import pytest
from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import KazooException, NodeExistsError
from kazoo.retry import KazooRetry
from kazoo.security import OPEN_ACL_UNSAFE

import zkproto
from conftest import ZKCLI, make_kazoo, require_zookeeperd, unique, wait_until
from ensemble import DEADLINE, Ensemble, Relay, diff_trees, read_tree

pytestmark = pytest.mark.timeout(300)

KIND_SETS = [
    ("apache", "apache", "apache"),
    ("zookeeperd", "zookeeperd", "zookeeperd"),
    ("zookeeperd", "zookeeperd", "apache"),
    ("apache", "apache", "zookeeperd"),
]


@pytest.fixture(scope="module", params=KIND_SETS, ids="-".join)
def ensemble(request):
    if "zookeeperd" in request.param:
        require_zookeeperd()
    ens = Ensemble(request.param)
    try:
        ens.launch()
        yield ens
    finally:
        ens.close()


def fast_retry():
    """Reconnect at once and keep trying (failovers take a few seconds)."""
    return KazooRetry(max_tries=-1, delay=0.05, backoff=1.5, max_delay=0.5)


def connected_port(client):
    """Client port of the member a kazoo client is connected to, or None
    (kazoo has no public accessor for its current server)."""
    try:
        return client._connection._socket.getpeername()[1]
    except (AttributeError, OSError, TypeError):
        return None


def assert_same_trees(trees, what):
    """trees: {member: read_tree()}; all must equal the first one."""
    (ref_m, ref), *rest = trees.items()
    for m, t in rest:
        d = diff_trees(repr(ref_m), ref, repr(m), t)
        assert not d, "%s differs between %r and %r:\n  %s" % (what, ref_m, m, "\n  ".join(d))


def zkcli(member, *cmd):
    env = dict(os.environ)
    env.setdefault("CLIENT_JVMFLAGS", "-Xshare:auto -XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
    p = subprocess.run([ZKCLI, "-waitforconnection", "-server", member.hostport, *cmd],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=DEADLINE, env=env)
    return p.returncode, p.stdout


# ------------------------------------------------------------------ 1
def test_one_tree_on_every_member(ensemble, kazoo_factory):
    leader, followers = ensemble.ready()
    ms = ensemble.members
    cs = {m.sid: kazoo_factory(m) for m in ms}
    c1, c2, c3 = (cs[m.sid] for m in ms)
    b = "/" + unique("tree")

    # each kind of write, spread over the members
    c1.create(b, b"base")
    c2.create(b + "/p", b"persistent")
    seqs = [cs[m.sid].create(b + "/s-", b"seq via %d" % m.sid, sequence=True) for m in ms]
    assert seqs == ["%s/s-%010d" % (b, n) for n in (1, 2, 3)], \
        "sequential names are not numbered by the parent's cversion: %s" % seqs
    c3.create(b + "/e", b"ephemeral", ephemeral=True)
    es = c1.create(b + "/es-", b"", ephemeral=True, sequence=True)
    c2.create(b + "/p/deep/er", b"x" * 300, makepath=True)
    c3.set(b + "/p", b"v1")
    c1.set(b + "/p", b"v2", version=1)
    c2.set_acls(b + "/p", OPEN_ACL_UNSAFE, version=0)
    c3.create(b + "/gone")
    c1.delete(b + "/gone")
    c2.create(b + "/empty")

    # zkCli.sh: create through a follower, get through the other one once it
    # has caught up (sync)
    fa, fb = followers
    rc, out = zkcli(fa, "create", b + "/cli", "clidata")
    assert rc == 0 and ("Created " + b + "/cli") in out, \
        "zkCli create via %r: rc=%d\n%s" % (fa, rc, out)
    cs[fb.sid].sync(b)
    rc, out = zkcli(fb, "get", b + "/cli")
    assert rc == 0 and "clidata" in out.splitlines(), \
        "zkCli get via %r: rc=%d\n%s" % (fb, rc, out)

    trees = {m: read_tree(cs[m.sid], b) for m in ms}
    t = trees[ms[0]]
    # the writes took effect (so that equal trees mean something)
    assert sorted(t) == sorted([b, b + "/p", b + "/p/deep", b + "/p/deep/er", b + "/e", es,
                                b + "/empty", b + "/cli"] + seqs), sorted(t)
    data, st, _ = t[b + "/p"]
    assert (data, st["version"], st["aversion"], st["numChildren"]) == (b"v2", 2, 1, 1), t[b + "/p"]
    assert t[b + "/e"][1]["ephemeralOwner"] == c3.client_id[0]
    assert t[es][1]["ephemeralOwner"] == c1.client_id[0]
    assert t[b][1]["cversion"] == 10 and t[b][1]["numChildren"] == 8, t[b]
    assert t[b + "/p/deep/er"][1]["dataLength"] == 300
    assert_same_trees(trees, "the tree under %s" % b)


# ------------------------------------------------------------------ 2
MIN_ROUNDS = 2  # the second failover also replaces a leader elected by a failover
MAX_ROUNDS = 6
WRITE_INTERVAL = 0.02  # rate limit of the background writer


class Writer(threading.Thread):
    """Creates b/n-000000, n-000001, ... one at a time; a create that fails
    (failover) is retried under the same name until acknowledged."""

    def __init__(self, client, base):
        super().__init__(daemon=True)
        self.client, self.base = client, base
        self.acked = {}  # path -> data, acknowledged creates
        self.failures = 0
        self.last_error = None
        self.unexpected = None
        self.halt = threading.Event()

    def run(self):
        i, retrying = 0, False
        while not self.halt.is_set():
            path, data = "%s/n-%06d" % (self.base, i), b"w%d" % i
            try:
                self.client.create(path, data)
            except NodeExistsError:
                if not retrying:
                    self.unexpected = "%s existed before it was first created" % path
                    return
                # an earlier attempt was applied; its reply was lost
            except Exception as e:  # noqa: BLE001 - failover errors, retried
                if isinstance(e, KazooException) and self.halt.is_set():
                    return
                self.failures += 1
                self.last_error = e
                retrying = True
                self.halt.wait(0.05)  # back off before the retry
                continue
            self.acked[path] = data
            i, retrying = i + 1, False
            self.halt.wait(WRITE_INTERVAL)

    def wait_acks(self, n, when):
        start = len(self.acked)
        try:
            wait_until(lambda: len(self.acked) >= start + n or self.unexpected,
                       DEADLINE, 0.05, desc="%d writes acknowledged %s" % (n, when))
        except AssertionError as e:
            raise AssertionError("%s; writer: %d failures, last error %r"
                                 % (e, self.failures, self.last_error)) from None
        assert not self.unexpected, self.unexpected

    def stop(self):
        self.halt.set()
        self.join(DEADLINE)


def test_leader_killed_until_each_kind_led(ensemble, kazoo_factory):
    leader, _ = ensemble.ready()
    kinds = set(ensemble.kinds)
    b = "/" + unique("failover")
    wc = kazoo_factory(ensemble.hosts, timeout=10.0, connection_retry=fast_retry())
    wc.create(b)
    w = Writer(wc, b)
    w.start()
    led = [leader]
    done = False
    try:
        w.wait_acks(3, "before the first kill")
        rnd = 0
        while rnd < MIN_ROUNDS or not kinds <= {m.kind for m in led}:
            assert rnd < MAX_ROUNDS, \
                "after %d rounds not every kind has led: leaders in turn %s" % (rnd, led)
            rnd += 1
            old = leader
            ensemble.kill9(old)
            rest = [m for m in ensemble.members if m is not old]
            leader = ensemble.wait_quorum(rest)
            led.append(leader)
            w.wait_acks(3, "after %r took over from %r (round %d)" % (leader, old, rnd))
            ensemble.restart(old)
            now = ensemble.wait_quorum()
            assert now is leader, "restarting %r moved the leadership from %r to %r" \
                % (old, leader, now)
            w.wait_acks(3, "after %r rejoined (round %d)" % (old, rnd))
        done = True
    finally:
        if not done:
            wc.stop()  # fails a create blocked on a broken ensemble
        w.stop()
    assert not w.is_alive(), "writer still blocked in a create after %.0fs" % DEADLINE
    assert not w.unexpected, w.unexpected
    assert kinds <= {m.kind for m in led}, led

    readers = {m: kazoo_factory(m) for m in ensemble.members}
    trees = {m: read_tree(c, "/") for m, c in readers.items()}
    for m, t in trees.items():
        lost = [p for p in w.acked if p not in t]
        assert not lost, "%d of %d acknowledged creates missing on %r (leaders in turn %s), e.g. %s" \
            % (len(lost), len(w.acked), m, led, lost[:5])
        wrong = [p for p, d in w.acked.items() if t[p][0] != d]
        assert not wrong, "wrong data on %r: %s" % (m, [(p, t[p][0]) for p in wrong[:5]])
    assert_same_trees(trees, "the whole tree (without /zookeeper)")


# ------------------------------------------------------------------ 3
MOVING_SESSION_TIMEOUT = 8.0


def reattach(member, session_id, passwd, last_zxid, timeout_ms):
    """What a ZooKeeper client does after losing its server: connect to
    another member with the session's id, password and last seen zxid (a
    member still behind that zxid closes the connection: try again)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        r = None
        try:
            r = zkproto.RawClient(member.host, member.port, connect=False, last_zxid=last_zxid)
            r.connect(timeout_ms, session_id, passwd)
            return r
        except (zkproto.ConnectionClosed, OSError):
            if r is not None:
                r.drop()
            assert time.monotonic() < deadline, \
                "%r refused session 0x%x for %.0fs" % (member, session_id, DEADLINE)
            time.sleep(0.05)


def test_session_moves_between_members(ensemble, kazoo_factory):
    """Kill the member a session is connected to: the session carries on on
    another member.  kazoo moves by itself (same session, ephemerals kept);
    kazoo drops its watches on a disconnect instead of sending SetWatches,
    so a raw client re-attaches like the Java client does and re-sets its
    watches, which must fire for a later change made through a third member."""
    leader, followers = ensemble.ready()
    a = followers[0]
    others = [m for m in ensemble.members if m is not a]
    # the session moves from A to B: of another kind than A when there is one
    b_m = next((m for m in others if m.kind != a.kind), followers[1])
    c_m = next(m for m in others if m is not b_m)
    b = "/" + unique("moving")
    timeout_ms = int(MOVING_SESSION_TIMEOUT * 1000)

    mover = kazoo_factory(",".join(m.hostport for m in (a, b_m, c_m)),
                          timeout=MOVING_SESSION_TIMEOUT, randomize_hosts=False,
                          connection_retry=fast_retry())
    states = []
    mover.add_listener(states.append)
    assert connected_port(mover) == a.port, "kazoo did not connect to the first host %r" % a
    sid = mover.client_id[0]
    checker = kazoo_factory(c_m)
    mover.create(b, b"0")
    mover.create(b + "/eph", b"mine", ephemeral=True)
    raw = zkproto.RawClient(a.host, a.port, timeout_ms=timeout_ms)
    raw2 = None
    try:
        raw.sync(b)
        raw.get(b, watch=True)
        raw.exists(b + "/later", watch=True)
        raw.get_children(b, watch=True)

        t0 = time.monotonic()
        ensemble.kill9(a)
        raw.drop()
        moved_to = wait_until(
            lambda: mover.state == KazooState.CONNECTED
            and connected_port(mover) in (b_m.port, c_m.port) and connected_port(mover),
            DEADLINE, 0.02, desc="kazoo to reconnect to %r or %r" % (b_m, c_m))
        elapsed = time.monotonic() - t0
        assert KazooState.LOST not in states, "kazoo's session was lost: states %s" % states
        assert mover.client_id[0] == sid, \
            "kazoo got new session 0x%x instead of 0x%x" % (mover.client_id[0], sid)
        assert elapsed < MOVING_SESSION_TIMEOUT, \
            "kazoo's reconnect (to port %d) took %.1fs, more than the session timeout %.0fs" \
            % (moved_to, elapsed, MOVING_SESSION_TIMEOUT)

        raw2 = reattach(b_m, raw.session_id, raw.passwd, raw.last_zxid, timeout_ms)
        resp = raw2.connect_response
        assert resp["sessionId"] == raw.session_id and resp["timeOut"] == timeout_ms, \
            "re-attaching session 0x%x to %r: %s" % (raw.session_id, b_m, resp)
        raw2.set_watches(raw.last_zxid, data=[b], exist=[b + "/later"], child=[b])

        checker.sync(b)
        st = checker.exists(b + "/eph")
        assert st is not None and st.ephemeralOwner == sid, \
            "after the move %r shows %s/eph as %s (session 0x%x)" % (c_m, b, st, sid)
        assert raw2.poll_events(0) == [], "watches fired before any change"
        checker.set(b, b"1")
        checker.create(b + "/later")
        want = sorted([("NodeDataChanged", "SyncConnected", b),
                       ("NodeCreated", "SyncConnected", b + "/later"),
                       ("NodeChildrenChanged", "SyncConnected", b)])
        got = raw2.wait_events(3, DEADLINE)
        assert sorted(got) == want, \
            "watches set on %r, moved to %r, changes through %r: events %s" % (a, b_m, c_m, got)
        # the moved kazoo session still writes, as the same owner
        mover.create(b + "/eph2", b"", ephemeral=True)
        checker.sync(b)
        st2 = checker.exists(b + "/eph2")
        assert st2 is not None and st2.ephemeralOwner == sid, st2

        # A comes back as a follower and has the session's ephemerals
        ensemble.restart(a)
        ensemble.wait_quorum()
        ca = kazoo_factory(a)
        ca.sync(b)
        assert sorted(ca.get_children(b)) == ["eph", "eph2", "later"]
        assert ca.exists(b + "/eph").ephemeralOwner == sid
    finally:
        raw.drop()
        if raw2 is not None:
            raw2.close()


# ------------------------------------------------------------------ 4
EXPIRING_SESSION_TIMEOUT = 2.0


def holders(readers, path, parent):
    """sids of the members (of {member: client}) on which `path` exists
    after a sync."""
    out = []
    for m, c in readers.items():
        c.sync(parent)
        if c.exists(path) is not None:
            out.append(m.sid)
    return out


def wait_gone(readers, path, parent, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        left = holders(readers, path, parent)
        if not left:
            return
        assert time.monotonic() < deadline, \
            "%s %s still exists on members %s after %.1fs" % (what, path, left, timeout)
        time.sleep(0.05)


def test_expired_session_ephemerals_gone_everywhere(ensemble, kazoo_factory):
    leader, (f1, f2) = ensemble.ready()
    readers = {m: kazoo_factory(m) for m in ensemble.members}
    b = "/" + unique("expiry")
    readers[leader].create(b)
    closed_path, expired_path = b + "/closed", b + "/expired"

    closer = make_kazoo(f1)
    relay = Relay(f2.host, f2.port)
    silent = KazooClient(hosts=relay.hostport, timeout=EXPIRING_SESSION_TIMEOUT,
                         connection_retry=KazooRetry(max_tries=-1, delay=0.1, max_delay=0.5))
    try:
        closer.create(closed_path, b"c", ephemeral=True)
        silent.start(timeout=15)
        silent.create(expired_path, b"e", ephemeral=True)
        owners = {closed_path: closer.client_id[0], expired_path: silent.client_id[0]}
        for m, c in readers.items():
            c.sync(b)
            for p, owner in owners.items():
                st = c.exists(p)
                assert st is not None and st.ephemeralOwner == owner, \
                    "%s on %r: %s, expected owner 0x%x" % (p, m, st, owner)

        # closed session: its ephemeral goes with the closeSession
        closer.stop()
        wait_gone(readers, closed_path, b, DEADLINE, "the closed session's ephemeral")
        assert holders(readers, expired_path, b) == [1, 2, 3], \
            "the live session's ephemeral went away with the other session"

        # silent session: the server hears nothing more and must expire it
        relay.freeze()
        t0 = time.monotonic()
        wait_gone(readers, expired_path, b, 5 * EXPIRING_SESSION_TIMEOUT,
                  "the ephemeral of the silent session (timeout %.0fs)" % EXPIRING_SESSION_TIMEOUT)
        elapsed = time.monotonic() - t0
        assert elapsed >= EXPIRING_SESSION_TIMEOUT / 3, \
            "session expired %.2fs after going silent, its timeout is %.0fs" \
            % (elapsed, EXPIRING_SESSION_TIMEOUT)
        assert readers[leader].get_children(b) == []
    finally:
        for c in (closer, silent):
            c.stop()
            c.close()
        relay.close()


def conf_lines(member):
    from conftest import four_letter
    return four_letter(member.host, member.port, "conf").splitlines()


def test_conf_shows_the_quorum_as_apache_does(ensemble):
    """`conf` on every member: the server's own settings, then the quorum
    (QuorumZooKeeperServer.dumpConf), the same membership on every member
    whatever its kind."""
    ensemble.ready()
    confs = {m.sid: conf_lines(m) for m in ensemble.members}
    for m in ensemble.members:
        lines = confs[m.sid]
        keys = [l.split("=", 1)[0] for l in lines if "=" in l and not l.startswith("server.")]
        assert keys[:13] == [
            "clientPort", "secureClientPort", "dataDir", "dataDirSize", "dataLogDir", "dataLogSize",
            "tickTime", "maxClientCnxns", "minSessionTimeout", "maxSessionTimeout",
            "clientPortListenBacklog", "serverId", "initLimit",
        ], (m, lines)
        want = {
            "clientPort": str(m.port), "serverId": str(m.sid), "initLimit": "20", "syncLimit": "10",
            "electionAlg": "3", "electionPort": str(m.election_port), "quorumPort": str(m.quorum_port),
            "peerType": "0", "tickTime": "500",
        }
        got = dict(l.split("=", 1) for l in lines if "=" in l and not l.startswith(("server.", "version")))
        assert {k: got.get(k) for k in want} == want, (m, lines)
        assert "membership: " in lines, (m, lines)
    membership = {sid: lines[lines.index("membership: ") + 1:] for sid, lines in confs.items()}
    assert len({tuple(v) for v in membership.values()}) == 1, membership
    servers = [l for l in membership[1] if l.startswith("server.")]
    assert servers == [
        "server.%d=127.0.0.1:%d:%d:participant;127.0.0.1:%d" % (m.sid, m.quorum_port, m.election_port, m.port)
        for m in ensemble.members
    ], membership[1]
