"""The membership in a dynamic config file (zoo.cfg's dynamicConfigFile
naming zoo.cfg.dynamic.<version>), in ensembles of Apache ZooKeeper 3.8,
zookeeperd and both mixed: every member reads its server lines from that
file, /zookeeper/config and `conf` carry the file's version, and they
serve as one ensemble. A zoo.cfg that keeps server lines beside
dynamicConfigFile is refused by both, with the same exit status. And
standaloneEnabled=false: one server line is an ensemble of one."""

import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import free_port, make_kazoo, require_zookeeperd, unique, wait_until
from ensemble import DEADLINE, KIND_SETS, Ensemble, Member, ensemble_cfg
from test_observer import four

pytestmark = pytest.mark.timeout(300)

VERSION = "100000000"


def use_dynamic_file(m):
    """Move the member's server lines to zoo.cfg.dynamic.<VERSION>."""
    lines = {k: v for k, v in m.cfg.items() if k.startswith("server.")}
    for k in lines:
        del m.cfg[k]
    path = m.dir / ("zoo.cfg.dynamic." + VERSION)
    path.write_text("".join("%s=%s\n" % kv for kv in sorted(lines.items())))
    m.cfg["dynamicConfigFile"] = str(path)
    return lines


@pytest.mark.parametrize("kinds", KIND_SETS, ids="-".join)
def test_members_from_a_dynamic_config_file(kinds):
    if "zookeeperd" in kinds:
        require_zookeeperd()
    ens = Ensemble(kinds)
    try:
        lines = None
        for m in ens.members:
            lines = use_dynamic_file(m)
        ens.launch()
        ens.wait_quorum()
        # QuorumMaj.toString: each line with its role, then the version.
        want = "".join("%s=%s\n" % (k, v.replace(";", ":participant;", 1))
                       for k, v in sorted(lines.items())) + "version=" + VERSION
        base = unique("/dyn")
        for m in ens.members:
            c = make_kazoo(m)
            try:
                data, stat = c.get("/zookeeper/config")
                assert data.decode() == want, (m, data)
                assert (stat.mzxid, stat.version) == (int(VERSION, 16), -1), (m, stat)
                c.create("%s-%d" % (base, m.sid), b"x")
            finally:
                c.stop()
                c.close()
            conf = four(m, "conf")
            assert conf.rstrip("\n").endswith("version=" + VERSION), (m, conf)
        c = make_kazoo(ens.members[0])
        try:
            wait_until(lambda: all(c.exists("%s-%d" % (base, m.sid)) for m in ens.members), DEADLINE,
                       desc="every member's write")
        finally:
            c.stop()
            c.close()
    finally:
        ens.close()


@pytest.mark.parametrize("kind", ["apache", "zookeeperd"])
def test_server_lines_beside_a_dynamic_file_are_refused(kind):
    if kind == "zookeeperd":
        require_zookeeperd()
    ens = Ensemble((kind, kind, kind))
    m = ens.members[0]
    try:
        lines = use_dynamic_file(m)
        m.cfg.update(lines)  # and also in zoo.cfg: not allowed
        m.launch()
        try:
            rc = m.proc.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            pytest.fail("%s started with server lines in both files" % kind)
        log = m.log_tail(200)
        assert rc == 2, (rc, log)
        assert "must be in a separate dynamic config file" in log, log
    finally:
        ens.close()


@pytest.mark.parametrize("kind", ["apache", "zookeeperd"])
def test_standalone_disabled_makes_one_server_an_ensemble_of_one(kind):
    """standaloneEnabled=false with one server line: not standalone but the
    leader of a one-member ensemble, as Apache's QuorumPeerMain runs it
    (the starting point for growing an ensemble)."""
    if kind == "zookeeperd":
        require_zookeeperd()
    root = Path(tempfile.mkdtemp(prefix="zk-one-"))
    m = Member(kind, 1, root)
    try:
        q, e = free_port(), free_port()
        m.cfg = ensemble_cfg(m.data_dir, m.port,
                             {"server.1": "127.0.0.1:%d:%d;127.0.0.1:%d" % (q, e, m.port)})
        m.cfg["standaloneEnabled"] = "false"
        m.launch()
        wait_until(lambda: m.mode() == "leader", DEADLINE, desc="%s to lead its ensemble of one" % kind)
        c = make_kazoo(m)
        try:
            path = c.create(unique("/one"), b"x")
            assert c.get(path)[0] == b"x"
            data, stat = c.get("/zookeeper/config")
            assert data.decode() == "server.1=127.0.0.1:%d:%d:participant;127.0.0.1:%d\nversion=0" % (q, e, m.port)
            # A new epoch began: zxids are epoch 1's.
            assert stat.mzxid == 0 and c.exists(path).czxid >> 32 >= 1
        finally:
            c.stop()
            c.close()
        assert "zk_server_state\tleader" in four(m, "mntr")
    finally:
        m.kill9()
        m.cleanup()
