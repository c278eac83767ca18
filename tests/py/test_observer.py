"""Observers (`server.N=...:observer`, peerType=observer): they learn
every commit without voting and serve clients, in ensembles mixing Apache
ZooKeeper 3.8 and zookeeperd. Two voters and one observer: the observer
follows whichever voter leads, takes writes (forwarded to the leader) and
serves the same tree; with one voter down there is no quorum, and the
observer cannot make one."""

import pytest

from conftest import make_kazoo, require_zookeeperd, unique, wait_until
from ensemble import DEADLINE, KIND_SETS, Ensemble, read_tree
from test_ensemble import assert_same_trees

pytestmark = pytest.mark.timeout(300)


# (voter, voter, observer) from KIND_SETS: the observer is member 3.
@pytest.mark.parametrize("kinds", KIND_SETS, ids="-".join)
def test_an_observer_learns_serves_and_does_not_vote(kinds):
    if "zookeeperd" in kinds:
        require_zookeeperd()
    ens = Ensemble(kinds, observers={3})
    try:
        ens.launch()
        leader = ens.wait_quorum()
        observer = ens.members[2]
        assert leader is not observer
        assert "zk_peer_state\tobserving - broadcast" in four(observer, "mntr")
        base = unique("/obs")
        # Writes through the observer and through the voters.
        clients = [make_kazoo(m) for m in ens.members]
        try:
            clients[2].create(base, b"via-observer")
            for i, c in enumerate(clients):
                c.create(base + "/n", b"%d" % i, sequence=True)
            clients[0].set(base, b"changed")
            trees = {m.sid: read_tree(c, base) for m, c in zip(ens.members, clients)}
            assert_same_trees(trees, "observer and voters")
            assert trees[3][base][0] == b"changed"
        finally:
            for c in clients:
                c.stop()
                c.close()
        lmntr = four(leader, "mntr")
        assert "zk_synced_observers\t1" in lmntr, lmntr
        # One voter down: no quorum, the observer cannot make one.
        voter = next(m for m in ens.members[:2] if m is not leader)
        ens.kill9(leader)
        wait_until(lambda: "not currently serving" in four(voter, "srvr"), DEADLINE,
                   desc="the remaining voter to stop serving without a quorum")
        wait_until(lambda: "not currently serving" in four(observer, "srvr"), DEADLINE,
                   desc="the observer to stop serving without a leader")
        # The voter back: a leader again, and the observer observes it.
        ens.restart(leader)
        ens.wait_quorum()
    finally:
        ens.close()


def four(member, word):
    from conftest import four_letter
    try:
        return four_letter(member.host, member.port, word)
    except OSError as e:
        return "error: %s" % e
