"""Read-only mode (`readonlymode.enabled`): a member cut off from its
quorum serves clients that allow a read-only server (kazoo read_only=True),
answers isro with "ro" and srvr with "Mode: read-only", refuses other
clients and fails writes with NotReadOnly; once its quorum is back it is a
read-write member again. The cut-off member is each kind in turn, in
ensembles mixing Apache ZooKeeper 3.8 and zookeeperd.

The member left alone is zookeeperd here: Debian's Apache 3.8.x read-only
server answers kazoo 2.11's read-only connect with a 16-byte frame kazoo
cannot parse (the session never starts), so an Apache survivor cannot be
driven by this client."""

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NotReadOnlyCallError
from kazoo.protocol.states import KeeperState

from conftest import four_letter, require_zookeeperd, unique, wait_until
from ensemble import DEADLINE, Ensemble

pytestmark = pytest.mark.timeout(300)

# Member 3 is the one left alone.
KIND_SETS = [
    ("zookeeperd", "zookeeperd", "zookeeperd"),
    ("apache", "apache", "zookeeperd"),
]


def word(member, w):
    try:
        return four_letter(member.host, member.port, w)
    except OSError as e:
        return "error: %s" % e


@pytest.mark.parametrize("kinds", KIND_SETS, ids="-".join)
def test_a_partitioned_member_serves_read_only_clients(kinds):
    if "zookeeperd" in kinds:
        require_zookeeperd()
    ens = Ensemble(kinds)
    for m in ens.members:
        m.cfg["readonlymode.enabled"] = "true"
        m.jvm_props = ("readonlymode.enabled=true",)
    try:
        ens.launch()
        ens.wait_quorum()
        alone = ens.members[2]
        path = unique("/ro")
        rw = KazooClient(hosts=alone.hostport, timeout=10)
        rw.start(timeout=15)
        rw.create(path, b"before")
        rw.stop()
        rw.close()
        for m in ens.members[:2]:
            ens.kill9(m)
        wait_until(lambda: word(alone, "isro") == "ro", DEADLINE, desc="isro to answer ro on the member left alone")
        assert "Mode: read-only" in word(alone, "srvr"), word(alone, "srvr")

        ro = KazooClient(hosts=alone.hostport, timeout=10, read_only=True)
        ro.start(timeout=15)
        try:
            assert ro.client_state == KeeperState.CONNECTED_RO, ro.client_state
            assert ro.get(path)[0] == b"before"
            assert path.rsplit("/", 1)[1] in ro.get_children("/")
            with pytest.raises(NotReadOnlyCallError):
                ro.create(path + "/child", b"x")
            with pytest.raises(NotReadOnlyCallError):
                ro.set(path, b"after")
        finally:
            ro.stop()
            ro.close()
        # A client that cannot take a read-only server gets no session.
        plain = KazooClient(hosts=alone.hostport, timeout=4)
        with pytest.raises(Exception):
            plain.start(timeout=4)
        plain.stop()
        plain.close()

        for m in ens.members[:2]:
            ens.restart(m)
        ens.wait_quorum()
        wait_until(lambda: word(alone, "isro") == "rw", DEADLINE, desc="isro to answer rw again")
        back = KazooClient(hosts=alone.hostport, timeout=10)
        back.start(timeout=15)
        back.set(path, b"after")
        assert back.get(path)[0] == b"after"
        back.stop()
        back.close()
    finally:
        ens.close()
