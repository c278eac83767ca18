"""Rolling migration of a live three-member ensemble between Apache
ZooKeeper 3.8 and zookeeperd, one member at a time, on the members' own
dataDirs (version-2 logs and snapshots, acceptedEpoch, currentEpoch, myid)
and zoo.cfg, the way an operator would do it: followers first, the leader
last; each member is stopped (SIGTERM, SIGKILL after STOP_DEADLINE) and the
other implementation started in its place, which must rejoin, catch up and
serve before the next member is replaced.

While that happens a writer keeps creating sequential znodes through a
client that knows all three members, and a long-lived session (timeout
SESSION_TIMEOUT, also connected to all three) holds ephemerals.  At the
end every acknowledged create is on every member, the members' trees
(data, Stat, ACLs) are identical and the data written before the migration
is unchanged, and the long-lived session is the same session, still owns
its ephemerals, can still write, and its ephemerals go when it closes.
Last, the dataDirs are fit to be taken over again (a rollback):
dataDir/version-2/acceptedEpoch and currentEpoch, where Apache's
QuorumPeer keeps them (its snapDir), hold the epoch the ensemble runs in.

snapCount is low (SNAP_COUNT) so that before the first switch every
member has written several snapshots and rolled its log: the replacement
starts from snapshot + log files written by the other implementation.

Member logs (both implementations, one file per member, each start marked
"===== start #n: <command>"): ZK_KEEP_LOGS=1 keeps
/tmp/zk-ensemble-*/zk-*/server.log.
"""

import collections
import re
import threading
import time

import pytest
from kazoo.client import KazooState
from kazoo.exceptions import KazooException
from kazoo.security import make_acl, make_digest_acl

from conftest import diff_self, four_letter, make_kazoo, require_zookeeperd, unique, wait_until
from ensemble import DEADLINE, Ensemble, diff_trees, exit_status, read_tree
from test_ensemble import assert_same_trees, fast_retry

# each test takes well under 90 s on two cores; the timeout only stops a hang
pytestmark = pytest.mark.timeout(300)

SNAP_COUNT = 100
SESSION_TIMEOUT = 30.0
STOP_DEADLINE = 15.0  # SIGTERM, then SIGKILL
WRITE_INTERVAL = 0.02  # rate limit of the steady writer
ACKS_PER_PHASE = 5  # acknowledged writes required after each step

USER, PASSWORD = "alice", "alice-secret"
AUTH = [("digest", "%s:%s" % (USER, PASSWORD))]

_ZXID_RE = re.compile(r"^Zxid: (0x[0-9a-fA-F]+)", re.M)


@pytest.fixture
def ensembles():
    """ensembles(kinds) -> a new Ensemble (not launched) with a low snapCount
    and long session timeouts allowed; all are closed at teardown.  Request
    it before kazoo_factory so that clients are stopped first."""
    made = []

    def make(kinds):
        if "zookeeperd" in kinds:
            require_zookeeperd()
        ens = Ensemble(kinds)
        made.append(ens)
        for m in ens.members:
            m.cfg["snapCount"] = str(SNAP_COUNT)
            m.cfg["maxSessionTimeout"] = str(int(2 * SESSION_TIMEOUT * 1000))
        return ens

    yield make
    for ens in made:
        ens.close()


def set_kind(member, kind):
    """The implementation the member's next launch() runs."""
    member.kind = kind
    member.impl = "apache" if (kind == "apache" or diff_self()) else "zookeeperd"


def srvr_zxid(member):
    """The Zxid a member reports in `srvr`, or None (down, not serving)."""
    if not member.alive():
        return None
    try:
        r = four_letter(member.host, member.port, "srvr", timeout=1.0)
    except OSError:
        return None
    m = _ZXID_RE.search(r)
    return int(m.group(1), 16) if m else None


def version2_files(member):
    d = member.data_dir / "version-2"
    snaps = sorted(p.name for p in d.glob("snapshot.*"))
    logs = sorted(p.name for p in d.glob("log.*"))
    return snaps, logs


def rolled(member):
    """At least two snapshots of a non-empty epoch and two log files."""
    snaps, logs = version2_files(member)
    taken = [s for s in snaps if int(s.split(".", 1)[1], 16) & 0xFFFFFFFF]
    return len(taken) >= 2 and len(logs) >= 2


def epoch_files(member):
    """acceptedEpoch and currentEpoch where Apache's QuorumPeer reads and
    writes them: its snapDir, dataDir/version-2."""
    out = {}
    for name in ("acceptedEpoch", "currentEpoch"):
        try:
            out[name] = int((member.data_dir / "version-2" / name).read_text().strip())
        except (OSError, ValueError) as e:
            out[name] = repr(e)
    return out


def read_acls(client, paths):
    """{path: sorted ACL tuples}, pipelined."""
    pending = [(p, client.get_acls_async(p)) for p in paths]
    return {p: sorted((a.perms, a.id.scheme, a.id.id) for a in r.get(timeout=DEADLINE)[0])
            for p, r in pending}


# ------------------------------------------------------------------ data
GROUPS, PER_GROUP = 10, 35  # 350 leaves under /static, 50 of them deleted
ACL_NODES, EPHEMERALS = 24, 12


def acl_variants():
    return [
        [make_digest_acl(USER, PASSWORD, all=True)],
        [make_digest_acl(USER, PASSWORD, all=True), make_acl("world", "anyone", read=True)],
        [make_acl("world", "anyone", read=True, write=True, create=True)],
        [make_acl("ip", "127.0.0.1", all=True), make_digest_acl(USER, PASSWORD, read=True)],
        [make_digest_acl(USER, PASSWORD, read=True, write=True, create=True, delete=True,
                         admin=True),
         make_digest_acl("bob", "bob-secret", read=True)],
    ]


def populate(admin, owner, base):
    """A few hundred znodes under base: /static (groups of leaves of varied
    sizes, updated and some deleted), /acl (several ACL schemes), /eph
    (ephemerals of the long-lived `owner` session).  Returns the ephemeral
    paths."""
    for sub in ("static", "acl", "eph", "w", "via"):
        admin.create(base + "/" + sub)
    pend = []
    for g in range(GROUPS):
        pend.append(admin.create_async("%s/static/g-%d" % (base, g), b"group %d" % g))
    for r in pend:
        r.get(timeout=DEADLINE)
    pend = []
    for g in range(GROUPS):
        for i in range(PER_GROUP):
            size = (0, 1, 17, 300, 4096, 20000)[(g + i) % 6]
            data = (b"%d.%d:" % (g, i) * (size // 4 + 1))[:size]
            pend.append(admin.create_async("%s/static/g-%d/n-%03d" % (base, g, i), data))
    for r in pend:
        r.get(timeout=DEADLINE)
    # versions > 0, then churn: cversion/pzxid of the parents move
    pend = [admin.set_async("%s/static/g-%d/n-%03d" % (base, g, i), b"v%d" % j)
            for g in range(GROUPS) for i in range(0, PER_GROUP, 3) for j in (1, 2)]
    pend += [admin.delete_async("%s/static/g-%d/n-%03d" % (base, g, i))
             for g in range(GROUPS) for i in range(1, PER_GROUP, 7)]
    for r in pend:
        r.get(timeout=DEADLINE)
    admin.create(base + "/static/deep/a/b/c/d", b"deep", makepath=True)

    variants = acl_variants()
    pend = [admin.create_async("%s/acl/a-%02d" % (base, i), b"acl %d" % i,
                               acl=variants[i % len(variants)]) for i in range(ACL_NODES)]
    for r in pend:
        r.get(timeout=DEADLINE)
    # setACL (needs ADMIN: not on variant 2) bumps aversion
    pend = [admin.set_acls_async("%s/acl/a-%02d" % (base, i), variants[(i + 1) % len(variants)])
            for i in range(0, ACL_NODES, 3) if i % len(variants) != 2]
    for r in pend:
        r.get(timeout=DEADLINE)

    ephs = []
    for i in range(EPHEMERALS):
        if i % 3 == 2:
            ephs.append(owner.create(base + "/eph/s-", b"eph seq %d" % i,
                                     ephemeral=True, sequence=True))
        else:
            ephs.append(owner.create(base + "/eph/e-%02d" % i, b"eph %d" % i, ephemeral=True))
    return ephs


class SeqWriter(threading.Thread):
    """Creates sequential znodes under `parent`, one at a time.  Each attempt
    carries unique data; a failed attempt (connection loss while members
    switch) may still have been applied, so it is retried as a new attempt
    and its data is remembered as 'unknown outcome'."""

    def __init__(self, client, parent):
        super().__init__(daemon=True)
        self.client, self.parent = client, parent
        self.acked = {}  # path -> data of acknowledged creates
        self.uncertain = set()  # data of failed attempts
        self.errors = collections.Counter()
        self.last_error = None
        self.halt = threading.Event()

    def run(self):
        attempt = 0
        while not self.halt.is_set():
            attempt += 1
            data = b"attempt-%d" % attempt
            try:
                path = self.client.create(self.parent + "/n-", data, sequence=True)
            except KazooException as e:
                if self.halt.is_set():
                    return
                self.uncertain.add(data)
                self.errors[type(e).__name__] += 1
                self.last_error = e
                self.halt.wait(0.05)
                continue
            self.acked[path] = data
            self.halt.wait(WRITE_INTERVAL)

    def last_acked(self):
        return max(self.acked) if self.acked else None

    def wait_acks(self, n, when):
        start = len(self.acked)
        try:
            wait_until(lambda: len(self.acked) >= start + n, DEADLINE, 0.05,
                       desc="%d writes acknowledged %s" % (n, when))
        except AssertionError as e:
            raise AssertionError("%s; writer errors %s, last %r"
                                 % (e, dict(self.errors), self.last_error)) from None

    def stop(self):
        self.halt.set()
        self.join(DEADLINE)
        assert not self.is_alive(), "writer still blocked in a create after %.0fs" % DEADLINE


# ------------------------------------------------------------------ steps
def stop_member(member):
    """SIGTERM, SIGKILL after STOP_DEADLINE; returns how it ended."""
    proc = member.proc
    t0 = time.monotonic()
    member.stop(STOP_DEADLINE)
    return "%s after %.1fs" % (exit_status(proc), time.monotonic() - t0)


def replace_member(ens, member, to_kind, writer, base, step):
    """Stop `member`, let the other two carry on, start `to_kind` on the
    same zoo.cfg / dataDir / myid, and wait until it follows (or leads),
    has caught up with the leader and serves a client.  Returns a line of
    timings and the name of the znode created through the new member."""
    t0 = time.monotonic()
    leader = ens.wait_quorum()
    role = "leader" if member is leader else "follower"
    before = repr(member)
    how = stop_member(member)
    rest = [m for m in ens.members if m is not member]
    interim = ens.wait_quorum(rest)
    if role == "follower":
        assert interim is leader, "stopping follower %s moved the leadership from %r to %r" \
            % (before, leader, interim)
    writer.wait_acks(ACKS_PER_PHASE, "with %s stopped (step %d)" % (before, step))
    t_down = time.monotonic()

    set_kind(member, to_kind)
    member.launch()
    leader = ens.wait_quorum()
    assert leader is interim, "%r joining moved the leadership from %r to %r" \
        % (member, interim, leader)
    target = wait_until(lambda: srvr_zxid(leader), DEADLINE, 0.05,
                        desc="leader %r to answer srvr with its Zxid" % leader)
    try:
        wait_until(lambda: (srvr_zxid(member) or -1) >= target, DEADLINE, 0.05,
                   desc="%r's srvr Zxid to reach the leader's 0x%x" % (member, target))
    except AssertionError as e:
        raise AssertionError("%s (member now at %s)\n%s"
                             % (e, hex(srvr_zxid(member) or 0), ens.logs())) from None
    t_joined = time.monotonic()

    # it serves: reads what was acknowledged through the others, and writes
    c = make_kazoo(member, auth_data=AUTH)
    try:
        last = writer.last_acked()
        c.sync(base)
        assert c.exists(last) is not None, \
            "%r does not have acknowledged %s after a sync" % (member, last)
        via = "step-%d-sid-%d" % (step, member.sid)
        c.create("%s/via/%s" % (base, via), member.impl.encode())
    finally:
        c.stop()
        c.close()
    writer.wait_acks(ACKS_PER_PHASE, "after %r joined (step %d)" % (member, step))
    return ("step %d: %s (%s) -> %s: stopped (%s), interim leader sid %d; "
            "down %.1fs, joined+caught up %.1fs after start, step total %.1fs"
            % (step, before, role, to_kind, how, interim.sid, t_down - t0,
               t_joined - t_down, time.monotonic() - t0)), via


def wait_gone_everywhere(readers, paths, parent):
    def left():
        out = []
        for m, c in readers.items():
            c.sync(parent)
            out += [(m.sid, p) for p in paths if c.exists(p) is not None]
        return out
    deadline = time.monotonic() + DEADLINE
    while True:
        rest = left()
        if not rest:
            return
        assert time.monotonic() < deadline, \
            "ephemerals of the closed session still there after %.0fs: %s" % (DEADLINE, rest[:6])
        time.sleep(0.05)


# ------------------------------------------------------------------ test
def rolling_migration(ensembles, kazoo_factory, from_kind, to_kind):
    t_start = time.monotonic()
    ens = ensembles((from_kind,) * 3)
    print("ensemble dir %s" % ens.root)
    ens.launch()
    ens.wait_quorum()
    t_formed = time.monotonic()

    base = "/" + unique("migration")
    admin = kazoo_factory(ens.hosts, auth_data=AUTH)
    admin.create(base)
    owner = kazoo_factory(ens.hosts, timeout=SESSION_TIMEOUT, connection_retry=fast_retry())
    owner_states = []
    owner.add_listener(owner_states.append)
    sid = owner.client_id[0]
    ephs = populate(admin, owner, base)

    wclient = kazoo_factory(ens.hosts, timeout=SESSION_TIMEOUT, connection_retry=fast_retry())
    writer = SeqWriter(wclient, base + "/w")
    writer.start()
    steps, vias = [], []
    try:
        writer.wait_acks(ACKS_PER_PHASE, "before the migration")
        # the replacements start from snapshots and rolled logs
        for m in ens.members:
            try:
                wait_until(lambda: rolled(m), DEADLINE, 0.1,
                           desc="%r to write snapshots and roll its log" % m)
            except AssertionError as e:
                raise AssertionError("%s (snapCount=%d): %s" % (e, SNAP_COUNT, version2_files(m))) \
                    from None
        pre_files = {m.sid: version2_files(m) for m in ens.members}
        # what was written before the migration, from the old implementation
        admin.sync(base)
        pre = read_tree(admin, base)
        pre = {p: v for p, v in pre.items()
               if p.startswith((base + "/static", base + "/acl", base + "/eph"))}
        pre_acls = read_acls(admin, sorted(pre))
        assert len(pre) > 300, len(pre)
        t_migrate = time.monotonic()

        for step in (1, 2, 3):
            leader = ens.wait_quorum()
            todo = [m for m in ens.members if m.kind != to_kind]
            member = next((m for m in todo if m is not leader), leader)
            line, via = replace_member(ens, member, to_kind, writer, base, step)
            print(line)
            steps.append(line)
            vias.append(via)
        t_migrated = time.monotonic()
    finally:
        writer.stop()
    assert [m.kind for m in ens.members] == [to_kind] * 3

    # ---- every member: the same tree, with everything acknowledged
    ens.wait_quorum()
    readers = {m: kazoo_factory(m, auth_data=AUTH) for m in ens.members}
    trees = {m: read_tree(c, "/") for m, c in readers.items()}
    for m, t in trees.items():
        lost = [p for p in writer.acked if p not in t]
        assert not lost, "%d of %d acknowledged creates missing on %r, e.g. %s\n%s" \
            % (len(lost), len(writer.acked), m, lost[:5], "\n".join(steps))
        wrong = [(p, d, t[p][0]) for p, d in writer.acked.items() if t[p][0] != d]
        assert not wrong, "acknowledged creates with other data on %r: %s" % (m, wrong[:5])
    assert_same_trees(trees, "the whole tree (without /zookeeper) after the migration")

    t = trees[ens.members[0]]
    wnodes = {p: v[0] for p, v in t.items() if p.startswith(base + "/w/")}
    twice = [d for d, n in collections.Counter(wnodes.values()).items() if n > 1]
    assert not twice, "one create attempt made several znodes: %s" % twice[:5]
    stray = [(p, d) for p, d in wnodes.items()
             if p not in writer.acked and d not in writer.uncertain]
    assert not stray, "znodes no create attempt can account for: %s" % stray[:5]
    assert t[base + "/via"][2] == sorted(vias), t[base + "/via"]

    # ---- the data written before the migration is unchanged (data, Stat, ACL)
    post = {p: v for p, v in t.items()
            if p.startswith((base + "/static", base + "/acl", base + "/eph"))}
    d = diff_trees("before the migration (%s)" % from_kind, pre,
                   "after it (%s)" % to_kind, post)
    assert not d, "the data written before the migration changed:\n  %s" % "\n  ".join(d)
    acls = {m: read_acls(c, sorted(t)) for m, c in readers.items()}
    for m, a in acls.items():
        changed = [(p, pre_acls[p], a[p]) for p in pre_acls if a[p] != pre_acls[p]]
        assert not changed, "ACLs changed by the migration on %r: %s" % (m, changed[:5])
        differ = [p for p in a if a[p] != acls[ens.members[0]][p]]
        assert not differ, "ACLs differ between %r and %r: %s" \
            % (ens.members[0], m, [(p, a[p], acls[ens.members[0]][p]) for p in differ[:5]])

    # ---- the long-lived session survived the migration
    assert KazooState.LOST not in owner_states, \
        "the long-lived session was lost: states %s" % owner_states
    wait_until(lambda: owner.state == KazooState.CONNECTED, DEADLINE, 0.05,
               desc="the long-lived client to be connected")
    assert owner.client_id[0] == sid, \
        "the long-lived client has session 0x%x instead of 0x%x" % (owner.client_id[0], sid)
    for m, tm in trees.items():
        bad = [(p, tm.get(p, (None, {}))[1].get("ephemeralOwner")) for p in ephs
               if p not in tm or tm[p][1]["ephemeralOwner"] != sid]
        assert not bad, "ephemerals of session 0x%x on %r: %s" % (sid, m, bad)
    later = owner.create(base + "/eph/after-migration", b"", ephemeral=True)
    for m, c in readers.items():
        c.sync(base)
        st = c.exists(later)
        assert st is not None and st.ephemeralOwner == sid, "%s on %r: %s" % (later, m, st)
    owner.stop()  # closeSession: its ephemerals go everywhere
    owner.close()
    wait_gone_everywhere(readers, ephs + [later], base)

    t_end = time.monotonic()
    print("ensemble formed %.1fs, setup %.1fs, migration %.1fs, checks %.1fs, total %.1fs; "
          "writer: %d acknowledged, %d failed attempts %s; long-lived session states %s; "
          "version-2 before the migration: %s"
          % (t_formed - t_start, t_migrate - t_formed, t_migrated - t_migrate,
             t_end - t_migrated, t_end - t_start, len(writer.acked),
             len(writer.uncertain), dict(writer.errors),
             [s for s in owner_states], {k: (len(s), len(lg)) for k, (s, lg) in pre_files.items()}))

    # ---- the dataDirs can be taken over again (by Apache: a rollback): the
    # epoch files hold the epoch the ensemble runs in
    leader = ens.wait_quorum()
    epoch = wait_until(lambda: srvr_zxid(leader), DEADLINE, 0.05,
                       desc="leader %r to answer srvr with its Zxid" % leader) >> 32
    files = {m: epoch_files(m) for m in ens.members}
    wrong = {m: f for m, f in files.items()
             if f != {"acceptedEpoch": epoch, "currentEpoch": epoch}}
    assert not wrong, \
        "dataDir/version-2/acceptedEpoch and currentEpoch (where Apache's QuorumPeer keeps " \
        "them) do not hold the ensemble's epoch %d (leader %r): %s; dataDir/ holds %s" % (
            epoch, leader, wrong,
            {m.sid: sorted(p.name for p in m.data_dir.iterdir() if p.is_file()) for m in wrong})


def test_apache_to_zookeeperd_rolling_migration(ensembles, kazoo_factory):
    rolling_migration(ensembles, kazoo_factory, "apache", "zookeeperd")


def test_zookeeperd_to_apache_rolling_migration(ensembles, kazoo_factory):
    rolling_migration(ensembles, kazoo_factory, "zookeeperd", "apache")
