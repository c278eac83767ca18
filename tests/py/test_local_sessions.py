"""Local sessions (localSessionsEnabled, localSessionsUpgradingEnabled) in
ensembles of Apache ZooKeeper 3.8, zookeeperd and both mixed. A new
session lives on the server the client reached (its id carries that
server's id), with no txn: the leader does not count it. Its persistent
writes go through the leader like any other; an ephemeral create is
refused with EphemeralOnLocalSession, or, with upgrading on, first makes
the session global (the leader counts it then, and its close deletes the
ephemeral everywhere). Every kind set must show the same, which the
all-Apache set proves is Apache's behaviour."""

import pytest
from kazoo.exceptions import EphemeralOnLocalSessionError

from conftest import make_kazoo, require_zookeeperd, unique, wait_until
from ensemble import DEADLINE, KIND_SETS, Ensemble
from test_observer import four

pytestmark = pytest.mark.timeout(300)


def mntr(member, key):
    for line in four(member, "mntr").splitlines():
        k, _, v = line.partition("\t")
        if k == key:
            return int(v)
    return None


def sessions(member):
    return mntr(member, "zk_global_sessions"), mntr(member, "zk_local_sessions")


def settle(member, want, desc):
    wait_until(lambda: sessions(member) == want, DEADLINE,
               desc="%s: %r (global, local) sessions, seen %r" % (desc, want, sessions(member)))


def launch(kinds, upgrading):
    if "zookeeperd" in kinds:
        require_zookeeperd()
    ens = Ensemble(kinds)
    for m in ens.members:
        m.cfg["localSessionsEnabled"] = "true"
        m.cfg["localSessionsUpgradingEnabled"] = "true" if upgrading else "false"
    ens.launch()
    leader, followers = ens.ready()
    return ens, leader, followers


@pytest.mark.parametrize("kinds", KIND_SETS[:2] + KIND_SETS[3:], ids="-".join)
def test_local_sessions_write_but_hold_no_ephemerals(kinds):
    ens, leader, followers = launch(kinds, upgrading=False)
    try:
        base = unique("/local")
        reader = None
        for target in (followers[0], leader):
            c = make_kazoo(target)
            try:
                sid = c.client_id[0]
                assert sid >> 56 == target.sid, "session 0x%x made on member %d" % (sid, target.sid)
                settle(target, (0, 1), "the session is local on %r" % target)
                assert sessions(leader)[0] == 0, "the leader counts a global session: %r" % (sessions(leader),)
                c.ensure_path(base)
                c.create("%s/by-%d" % (base, target.sid), b"persistent")
                with pytest.raises(EphemeralOnLocalSessionError):
                    c.create("%s/eph-%d" % (base, target.sid), b"", ephemeral=True)
                with pytest.raises(EphemeralOnLocalSessionError):
                    c.create("%s/seq-%d-" % (base, target.sid), b"", ephemeral=True, sequence=True)
                # In a multi the op fails as the leader judged it: its own
                # local session, or a session it does not hold as global.
                t = c.transaction()
                t.create("%s/multi-%d" % (base, target.sid), b"")
                t.create("%s/multi-eph-%d" % (base, target.sid), b"", ephemeral=True)
                results = [type(r).__name__ for r in t.commit()]
                want = "EphemeralOnLocalSessionError" if target is leader else "SessionExpiredError"
                assert results == ["RolledBackError", want], results
            finally:
                c.stop()
                c.close()
            settle(target, (0, 0), "the local session gone from %r" % target)
        # The persistent writes reached every member; nothing else did.
        for m in ens.members:
            reader = make_kazoo(m)
            try:
                reader.sync(base)
                kids = sorted(reader.get_children(base))
                assert kids == ["by-%d" % followers[0].sid, "by-%d" % leader.sid], (m, kids)
            finally:
                reader.stop()
                reader.close()
    finally:
        ens.close()


@pytest.mark.parametrize("kinds", KIND_SETS, ids="-".join)
def test_an_ephemeral_upgrades_a_local_session(kinds):
    ens, leader, followers = launch(kinds, upgrading=True)
    try:
        base = unique("/upgrade")
        watcher = make_kazoo(ens.members[0])
        try:
            watcher.ensure_path(base)
            before = sessions(leader)
            for target in (followers[0], leader):
                c = make_kazoo(target)
                path = "%s/eph-%d" % (base, target.sid)
                try:
                    sid = c.client_id[0]
                    assert sid >> 56 == target.sid
                    c.create("%s/by-%d" % (base, target.sid), b"persistent")
                    assert sessions(leader)[0] == before[0], "a local session counted global before the upgrade"
                    c.create(path, b"mine", ephemeral=True)
                    # Global now: the leader counts it, the target no longer
                    # holds it as local.
                    wait_until(lambda: sessions(leader)[0] == before[0] + 1, DEADLINE,
                               desc="the leader to count the upgraded session, seen %r" % (sessions(leader),))
                    # (the watcher's session stays local on member 1)
                    watchers_here = 1 if target is ens.members[0] else 0
                    assert sessions(target)[1] == watchers_here, sessions(target)
                    for m in ens.members:
                        r = make_kazoo(m)
                        try:
                            r.sync(path)
                            _, stat = r.get(path)
                            assert stat.ephemeralOwner == sid, (m, hex(stat.ephemeralOwner), hex(sid))
                        finally:
                            r.stop()
                            r.close()
                    # The session still works where it is.
                    c.set(path, b"changed")
                finally:
                    c.stop()
                    c.close()
                # Its close is a txn: the ephemeral goes everywhere.
                wait_until(lambda: watcher.exists(path) is None, DEADLINE, desc="the ephemeral to go with its session")
                wait_until(lambda: sessions(leader)[0] == before[0], DEADLINE,
                           desc="the leader to drop the closed session, seen %r" % (sessions(leader),))
        finally:
            watcher.stop()
            watcher.close()
    finally:
        ens.close()
