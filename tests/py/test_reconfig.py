"""Dynamic reconfiguration (the `reconfig` request, opcode 16) in ensembles
of Apache ZooKeeper 3.8, zookeeperd and both mixed; the all-Apache run of
every test shows what Apache does, the other mixes must do the same.

Members run with reconfigEnabled=true and a superDigest (zoo.cfg key
DigestAuthenticationProvider.superDigest: zookeeperd reads it, Apache
turns unknown zoo.cfg keys into zookeeper.* system properties); clients
that reconfig authenticate as the superuser (/zookeeper/config is
world:anyone:r).  What Apache does, and these tests assert:

* /zookeeper/config and the reconfig reply hold QuorumMaj.toString():
  `server.N=host:quorum:election:role;host:client` lines by sid, then
  `version=<hex>`, no trailing newline.  The version is the zxid of the
  reconfig (the stat's mzxid); the stat's version is -1.  With
  reconfigEnabled the first leader's NEWLEADER zxid (0x100000000 on a
  fresh ensemble) is the initial version.
* Each member writes the config to zoo.cfg.dynamic.<version hex> beside
  zoo.cfg (server lines sorted, no version line), keeps the older ones,
  backs the first zoo.cfg up as zoo.cfg.bak, and rewrites zoo.cfg without
  server.*, peerType, clientPort and clientPortAddress (the server line
  has the client address), ending in dynamicConfigFile=<that file>.
* A removed member is not shut down: it follows as a non-voting follower
  (a removed leader hands off to a remaining voter first, in a new epoch).
  Restarted on its rewritten files it exits with status 1 ("My id N not
  in the peer list").
"""

import contextlib
import os
import re
import subprocess

import pytest
from kazoo.exceptions import (BadArgumentsError, BadVersionError, ConnectionLoss,
                              NewConfigNoQuorumError, NoAuthError, ReconfigDisabledError, UnimplementedError)

from conftest import (SUPER_PASSWORD, SUPER_USER, ZKCLI, digest, four_letter, make_kazoo,
                      require_zookeeperd, unique, wait_until)
from ensemble import DEADLINE, KIND_SETS, Ensemble, read_tree
from test_ensemble import assert_same_trees

pytestmark = pytest.mark.timeout(300)

SUPER = [("digest", "%s:%s" % (SUPER_USER, SUPER_PASSWORD))]
INITIAL = "100000000"  # the first leader's NEWLEADER zxid: epoch 1, counter 0
CONFIG = "/zookeeper/config"


# ------------------------------------------------------------------ helpers
def reconfig_ensemble(kinds, enabled=True):
    """An Ensemble (not launched) whose members allow reconfig (or not) and
    know the superuser; `ens.original` keeps each member's first zoo.cfg."""
    if "zookeeperd" in kinds:
        require_zookeeperd()
    ens = Ensemble(kinds)
    for m in ens.members:
        m.cfg["DigestAuthenticationProvider.superDigest"] = digest(SUPER_USER, SUPER_PASSWORD)
        if enabled:
            m.cfg["reconfigEnabled"] = "true"
    ens.original = {m.sid: dict(m.cfg) for m in ens.members}
    return ens


@contextlib.contextmanager
def kz(member, auth=True):
    c = make_kazoo(member, auth_data=SUPER if auth else None)
    try:
        yield c
    finally:
        c.stop()
        c.close()


def server_line(m, role="participant"):
    return "server.%d=127.0.0.1:%d:%d:%s;127.0.0.1:%d" % (
        m.sid, m.quorum_port, m.election_port, role, m.port)


def config_string(members, version, roles=None):
    """QuorumMaj.toString(): server lines by sid, then version=<hex>."""
    roles = roles or {}
    return "".join(server_line(m, roles.get(m.sid, "participant")) + "\n"
                   for m in sorted(members, key=lambda m: m.sid)) + "version=" + version


def served_config(m):
    """(data, mzxid, version) of /zookeeper/config on member m, after a sync."""
    try:
        with kz(m, auth=False) as c:
            c.sync(CONFIG)
            data, stat = c.get(CONFIG)
            return data.decode(), stat.mzxid, stat.version
    except Exception as e:  # noqa: BLE001 - a member between roles
        return "error: %r" % e


def eventually(fn, want, desc, timeout=DEADLINE):
    """Poll fn() until it equals want; else fail showing the last value."""
    try:
        wait_until(lambda: fn() == want, timeout, 0.2, desc)
    except AssertionError:
        got = fn()
        assert got == want, "%s after %.0fs:\n got %r\nwant %r" % (desc, timeout, got, want)


def wait_served(members, config):
    version = int(config.rsplit("version=", 1)[1], 16)
    for m in members:
        eventually(lambda: served_config(m), (config, version, -1), "%r to serve the config" % m)


def conf_membership(m):
    """The membership part of the `conf` four-letter word."""
    text = four_letter(m.host, m.port, "conf")
    return text.split("membership: \n", 1)[-1].rstrip("\n")


def read_cfg(path):
    """A zoo.cfg as {key: value}, without blank and comment lines."""
    out = {}
    for ln in path.read_text().splitlines():
        ln = ln.strip()
        if ln and not ln.startswith("#"):
            k, v = ln.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def file_lines(path):
    try:
        return [ln for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    except OSError as e:
        return "error: %s" % e


def dyn_path(m, version):
    return m.dir / ("zoo.cfg.dynamic." + version)


def rewritten_cfg(ens, m, version):
    """zoo.cfg as Apache rewrites it: the first one without the dynamic
    keys (and without the client port, which m's server line has), then
    dynamicConfigFile naming the version's file."""
    cfg = {k: v for k, v in ens.original[m.sid].items()
           if not k.startswith("server.") and k not in ("peerType", "clientPort", "clientPortAddress")}
    cfg["dynamicConfigFile"] = str(dyn_path(m, version).resolve())
    return cfg


def config_files(m):
    return sorted(p.name for p in m.dir.glob("zoo.cfg*"))


def check_files(ens, m, config, versions):
    """m's zoo.cfg names the dynamic file of config's version, which holds
    config's server lines; zoo.cfg.bak is the first zoo.cfg; one dynamic
    file per version in `versions` (older ones are kept)."""
    version = config.rsplit("version=", 1)[1]
    want_names = sorted(["zoo.cfg", "zoo.cfg.bak"] + ["zoo.cfg.dynamic." + v for v in versions])
    eventually(lambda: config_files(m), want_names, "the config files of %r" % m)
    eventually(lambda: file_lines(dyn_path(m, version)), config.splitlines()[:-1],
               "%r's zoo.cfg.dynamic.%s" % (m, version))
    eventually(lambda: read_cfg(m.cfg_path), rewritten_cfg(ens, m, version), "%r's zoo.cfg" % m)
    assert read_cfg(m.dir / "zoo.cfg.bak") == ens.original[m.sid]


def relaunch(m):
    """Start m again on the zoo.cfg the server itself last wrote."""
    m.cfg = read_cfg(m.cfg_path)
    m.launch()


def write_via_each(members, base):
    paths = []
    for m in members:
        with kz(m, auth=False) as c:
            paths.append(c.create("%s-via-%d" % (base, m.sid), b"%d" % m.sid))
    return paths


def mntr(m, key):
    text = four_letter(m.host, m.port, "mntr")
    found = re.search(r"^%s\t(\S+)$" % re.escape(key), text, re.M)
    return found and found.group(1)


def start(ens):
    ens.launch()
    leader = ens.wait_quorum()
    return leader, [m for m in ens.members if m is not leader]


# ------------------------------------------------------------------ 1. refusals
@pytest.mark.parametrize("kinds", KIND_SETS, ids="-".join)
def test_reconfig_disabled_is_refused(kinds):
    """Without reconfigEnabled Apache answers ZRECONFIGDISABLED (-123),
    through the leader and a follower, superuser or not; /zookeeper/config
    keeps version 0 and no config file is written."""
    ens = reconfig_ensemble(kinds, enabled=False)
    try:
        leader, followers = start(ens)
        for m in (leader, followers[0]):
            for auth in (True, False):
                with kz(m, auth) as c:
                    with pytest.raises(ReconfigDisabledError):
                        c.reconfig(None, str(followers[1].sid), None)
        wait_served(ens.members, config_string(ens.members, "0"))
        for m in ens.members:
            assert config_files(m) == ["zoo.cfg"], (m, config_files(m))
    finally:
        ens.close()


@pytest.mark.parametrize("kinds", KIND_SETS, ids="-".join)
def test_refusals(kinds):
    """Apache's checks, in its order: a wrong from_config is BADVERSION
    even before the ACL check; a non-superuser gets NOAUTH; fewer than two
    voters left (one, none) or a malformed server line is BADARGUMENTS;
    a new config without a synced quorum is NEWCONFIGNOQUORUM.  Nothing
    changes: the config stays version 0x100000000, no new file."""
    ens = reconfig_ensemble(kinds)
    try:
        leader, (fa, fb) = start(ens)
        initial = config_string(ens.members, INITIAL)
        wait_served(ens.members, initial)
        bogus = "server.{0}=127.0.0.1:{0}1:{0}2;127.0.0.1:{0}3"  # never started
        for m in (fa, leader):
            with kz(m, auth=False) as c:
                with pytest.raises(BadVersionError):
                    c.reconfig(None, str(fb.sid), None, from_config=5)
                with pytest.raises(NoAuthError):
                    c.reconfig(None, str(fb.sid), None)
            with kz(m, auth=False) as c:
                c.add_auth("digest", "%s:wrong" % SUPER_USER)
                with pytest.raises(NoAuthError):
                    c.reconfig(None, str(fb.sid), None)
            with kz(m) as c:
                with pytest.raises(BadVersionError):
                    c.reconfig(None, str(fb.sid), None, from_config=int(INITIAL, 16) + 1)
                for leaving in ("%d,%d" % (fa.sid, fb.sid), "1,2,3"):
                    with pytest.raises(BadArgumentsError):
                        c.reconfig(None, leaving, None)
                with pytest.raises(BadArgumentsError):
                    c.reconfig(None, None, server_line(leader))
                with pytest.raises(BadArgumentsError):
                    c.reconfig(None, None, "garbage")
                with pytest.raises(BadArgumentsError):
                    c.reconfig("server.9=127.0.0.1:1", None, None)
                with pytest.raises(NewConfigNoQuorumError):
                    c.reconfig(bogus.format(8) + "," + bogus.format(9),
                               "%d,%d" % (fa.sid, fb.sid), None)
        wait_served(ens.members, initial)
        for m in ens.members:
            check_files(ens, m, initial, [INITIAL])
            assert conf_membership(m) == initial, m
    finally:
        ens.close()


@pytest.mark.parametrize("kind", ["apache", "zookeeperd"])
def test_standalone_refuses_reconfig(kind, server_pool):
    """A standalone server: with reconfigEnabled=true Apache answers
    ZUNIMPLEMENTED (-6) to anyone, without it ZRECONFIGDISABLED;
    /zookeeper/config stays empty (version 0)."""
    for enabled, error in ((True, UnimplementedError), (False, ReconfigDisabledError)):
        srv = server_pool.fresh(kind, {"reconfigEnabled": "true"} if enabled else {})
        try:
            for auth in (True, False):
                with kz(srv, auth) as c:
                    with pytest.raises(error):
                        c.reconfig(None, "2", None)
                    with pytest.raises(error):
                        c.reconfig(None, None, "server.1=127.0.0.1:1:2;127.0.0.1:3")
                    data, stat = c.get(CONFIG)
                    assert (data, stat.mzxid, stat.version) == (b"", 0, 0), (data, stat)
        finally:
            srv.cleanup()


# ------------------------------------------------------------------ 2 + 3. remove, add back
@pytest.mark.parametrize("kinds", KIND_SETS, ids="-".join)
def test_remove_a_follower_then_add_it_back(kinds):
    """Incremental remove of a follower: the reply is the new config
    (version = the reply stat's mzxid, stat version -1), which every member
    then serves, shows in `conf` and writes to zoo.cfg.dynamic.<version>
    (the removed one too: it stays as a non-voting follower).  Then the
    removed member, killed and restarted as a joiner (its first zoo.cfg,
    all three servers), adopts the current config, is added back with
    `joining`, catches up and votes: with the other follower down the
    leader still commits."""
    ens = reconfig_ensemble(kinds)
    try:
        leader, (stay, gone) = start(ens)
        rest = [leader, stay]
        base = unique("/rc")
        with kz(stay) as c:
            c.create(base + "-before", b"x")
            data, stat = c.reconfig(None, str(gone.sid), None)
        v1 = "%x" % stat.mzxid
        assert data.decode() == config_string(rest, v1), data
        assert int(v1, 16) >> 32 == 1 and int(v1, 16) > int(INITIAL, 16), v1
        assert (stat.version, stat.czxid, stat.aversion, stat.dataLength) == (-1, 0, -1, len(data)), stat
        cfg1 = config_string(rest, v1)
        wait_served(ens.members, cfg1)
        for m in ens.members:
            eventually(lambda: conf_membership(m), cfg1, "%r's conf" % m)
            check_files(ens, m, cfg1, [INITIAL, v1])
        assert gone.mode() == "follower"
        eventually(lambda: mntr(leader, "zk_synced_non_voting_followers"), "1", "one non-voting follower")
        paths = write_via_each(ens.members, base)
        trees = {}
        for m in ens.members:
            with kz(m, auth=False) as c:
                trees[m] = read_tree(c, "/")
        assert all(p in trees[leader] for p in paths + [base + "-before"])
        assert_same_trees(trees, "the tree after the remove")

        # out: killed; a write; back as a joiner with its first zoo.cfg
        gone.kill9()
        with kz(leader, auth=False) as c:
            c.create(base + "-while-out", b"y")
        gone.cfg = dict(ens.original[gone.sid])
        gone.launch()
        wait_until(lambda: gone.mode() == "follower", DEADLINE, 0.2, "the joiner to follow")
        wait_served([gone], cfg1)
        with kz(leader) as c:
            data, stat = c.reconfig(server_line(gone).replace(":participant", ""), None, None)
        v2 = "%x" % stat.mzxid
        cfg2 = config_string(ens.members, v2)
        assert data.decode() == cfg2 and stat.version == -1, (data, stat)
        wait_served(ens.members, cfg2)
        for m in ens.members:
            eventually(lambda: conf_membership(m), cfg2, "%r's conf" % m)
        eventually(lambda: file_lines(dyn_path(gone, v2)), cfg2.splitlines()[:-1], "the joiner's dynamic file")
        eventually(lambda: read_cfg(gone.cfg_path), rewritten_cfg(ens, gone, v2), "the joiner's zoo.cfg")
        eventually(lambda: mntr(leader, "zk_synced_non_voting_followers"), "0", "no non-voting follower")
        with kz(gone, auth=False) as c:
            c.sync("/")
            assert c.get(base + "-while-out")[0] == b"y"
        # it votes: the other follower down, the leader still commits
        stay.kill9()
        with kz(leader, auth=False) as c:
            c.create(base + "-voted", b"z")
        with kz(gone, auth=False) as c:
            c.sync("/")
            assert c.exists(base + "-voted")
    finally:
        ens.close()


# ------------------------------------------------------------------ 4. non-incremental
@pytest.mark.parametrize("kinds", KIND_SETS, ids="-".join)
def test_non_incremental_reorder_and_observer(kinds):
    """`new_members` with the same three servers in another order (and
    from_config = the current version) commits a new version of the same
    config; from_config = the old version is then BADVERSION.  One
    non-incremental reconfig turns a follower into an observer (srvr
    "Mode: observer"; its line says :observer) and an incremental one
    turns it back into a follower."""
    ens = reconfig_ensemble(kinds)
    try:
        leader, (fa, fb) = start(ens)
        m1, m2, m3 = ens.members
        with kz(fa) as c:
            data, stat = c.reconfig(None, None, ",".join(server_line(m) for m in (m3, m1, m2)),
                                    from_config=int(INITIAL, 16))
            v1 = "%x" % stat.mzxid
            assert data.decode() == config_string(ens.members, v1) and stat.version == -1, (data, stat)
            with pytest.raises(BadVersionError):
                c.reconfig(None, None, ",".join(server_line(m) for m in ens.members),
                           from_config=int(INITIAL, 16))
        wait_served(ens.members, config_string(ens.members, v1))
        for m in ens.members:
            check_files(ens, m, config_string(ens.members, v1), [INITIAL, v1])

        roles = {fb.sid: "observer"}
        with kz(leader) as c:
            data, stat = c.reconfig(None, None, ",".join(server_line(m, roles.get(m.sid, "participant"))
                                                         for m in (m2, m3, m1)))
        v2 = "%x" % stat.mzxid
        cfg2 = config_string(ens.members, v2, roles)
        assert data.decode() == cfg2, data
        wait_served(ens.members, cfg2)
        wait_until(lambda: fb.mode() == "observer", DEADLINE, 0.2, "%r to observe" % fb)
        assert ens.wait_quorum([leader, fa]) is leader
        for m in ens.members:
            check_files(ens, m, cfg2, [INITIAL, v1, v2])
        write_via_each(ens.members, unique("/nonincr"))

        with kz(fa) as c:
            data, stat = c.reconfig(server_line(fb), None, None)
        cfg3 = config_string(ens.members, "%x" % stat.mzxid)
        assert data.decode() == cfg3, data
        wait_served(ens.members, cfg3)
        assert ens.wait_quorum() is leader
    finally:
        ens.close()


# ------------------------------------------------------------------ 5. remove the leader
@pytest.mark.parametrize("kinds", KIND_SETS, ids="-".join)
def test_remove_the_leader(kinds):
    """Removing the leader (through a client of the leader: its reply
    usually comes before the leader steps down, a follower's client is
    dropped as the follower moves on): it hands off to one of the two
    remaining voters, which leads in a new epoch; acknowledged writes stay.
    The ex-leader stays up as a non-voting follower (it serves and
    forwards writes) but does not count: with the other voter down
    neither it nor the new leader serves."""
    ens = reconfig_ensemble(kinds)
    try:
        old, rest = start(ens)
        base = unique("/rl")
        with kz(old) as c:
            before = [c.create("%s-before-%d" % (base, i), b"%d" % i) for i in range(5)]
            epoch = c.exists(before[-1]).czxid >> 32
            try:
                data, stat = c.reconfig(None, str(old.sid), None)
            except ConnectionLoss:
                data = None  # the hand-off may close the connection first
        new = ens.wait_quorum(rest)
        if data is None:
            v1 = served_config(new)[0].rsplit("version=", 1)[1]
        else:
            v1 = "%x" % stat.mzxid
            assert data.decode() == config_string(rest, v1) and stat.version == -1, (data, stat)
        cfg1 = config_string(rest, v1)
        wait_until(lambda: old.mode() == "follower", DEADLINE, 0.2, "the ex-leader to follow")
        wait_served(ens.members, cfg1)
        for m in ens.members:
            eventually(lambda: conf_membership(m), cfg1, "%r's conf" % m)
            check_files(ens, m, cfg1, [INITIAL, v1])
        eventually(lambda: (mntr(new, "zk_synced_followers"), mntr(new, "zk_synced_non_voting_followers")),
                   ("2", "1"), "the new leader's followers")
        after = write_via_each(ens.members, base)
        with kz(old, auth=False) as c:
            c.sync("/")
            assert all(c.exists(p) for p in before + after)
            assert c.exists(after[-1]).czxid >> 32 > epoch
        # no quorum without the other voter, ex-leader or not
        other = next(m for m in rest if m is not new)
        other.kill9()
        for m in (new, old):
            wait_until(lambda: m.mode() == "not serving", DEADLINE, 0.2, "%r to stop serving" % m)
        relaunch(other)
        ens.wait_quorum(rest)
        wait_until(lambda: old.mode() == "follower", DEADLINE, 0.2, "the ex-leader to follow again")
    finally:
        ens.close()


# ------------------------------------------------------------------ 6. restart
@pytest.mark.parametrize("kinds", KIND_SETS, ids="-".join)
def test_restart_after_reconfig(kinds):
    """All members killed after a follower was removed and restarted on
    the zoo.cfg and dynamic file they wrote: the two in the config form a
    quorum with the same config version (no new file); the removed one
    exits with status 1, not being in its own config."""
    ens = reconfig_ensemble(kinds)
    try:
        leader, (stay, gone) = start(ens)
        rest = [leader, stay]
        with kz(stay) as c:
            _, stat = c.reconfig(None, str(gone.sid), None)
            path = c.create(unique("/rs"), b"kept")
        cfg1 = config_string(rest, "%x" % stat.mzxid)
        wait_served(ens.members, cfg1)
        files = {m.sid: (config_files(m), read_cfg(m.cfg_path)) for m in ens.members}
        for m in ens.members:
            m.kill9()
        for m in ens.members:
            relaunch(m)
        try:
            rc = gone.proc.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            pytest.fail("%r started though it is not in its config (%s)" % (gone, ens.modes()))
        assert rc == 1, (rc, gone.log_tail(30))
        assert "My id %d not in the peer list" % gone.sid in gone.log_tail(200)
        ens.wait_quorum(rest)
        wait_served(rest, cfg1)
        for m in ens.members:
            assert (config_files(m), read_cfg(m.cfg_path)) == files[m.sid], m
        for m in rest:
            with kz(m, auth=False) as c:
                assert c.get(path)[0] == b"kept"
                c.create(path + "-%d" % m.sid)
    finally:
        ens.close()


# ------------------------------------------------------------------ 7. zkCli.sh
_CLI_NOISE = re.compile(r"^(SLF4J:|Connecting to |Welcome to ZooKeeper!|JLine support|WATCHER::|WatchedEvent )")
_CONFIG_C = re.compile(r"^([0-9a-f]+) (\S+)$")


def cli_lines(text):
    """zkCli.sh output without its noise; the `config -c` host list sorted
    (zkCli orders it by a java.util.Properties walk)."""
    out = []
    for ln in text.splitlines():
        if not ln.strip() or _CLI_NOISE.match(ln):
            continue
        m = _CONFIG_C.match(ln)
        out.append("%s %s" % (m.group(1), ",".join(sorted(m.group(2).split(",")))) if m else ln)
    return out


@pytest.mark.skipif(not os.path.exists(ZKCLI), reason="zkCli.sh not installed")
@pytest.mark.parametrize("kinds", KIND_SETS, ids="-".join)
def test_zkcli_reconfig_and_config(kinds):
    """zkCli.sh on a follower: `config`, `reconfig -remove` refused without
    and with a wrong digest ("Insufficient permission : "), with a wrong
    -v ("version No is not valid : "), then committed after `addauth
    digest super:...` ("Committed new configuration:" and the config);
    `config -c` is "<version> <client host:ports>"; removing one more voter
    is "Arguments are not valid : "; `reconfig -add` puts the removed one
    back and `reconfig -members` lists all three again, each committed."""
    ens = reconfig_ensemble(kinds)
    try:
        leader, (via, gone) = start(ens)
        rest = [leader, via]
        script = "\n".join([
            "config",
            "reconfig -remove %d" % gone.sid,
            "addauth digest %s:wrong" % SUPER_USER,
            "reconfig -remove %d" % gone.sid,
            "addauth digest %s:%s" % (SUPER_USER, SUPER_PASSWORD),
            "reconfig -remove %d -v 5" % gone.sid,
            "reconfig -remove %d" % gone.sid,
            "config",
            "config -c",
            "reconfig -remove %d" % leader.sid,
            "reconfig -add %s" % server_line(gone),
            "reconfig -members %s" % ",".join(server_line(m) for m in reversed(ens.members)),
            "quit",
        ]) + "\n"
        env = dict(os.environ)
        env.setdefault("CLIENT_JVMFLAGS", "-Xshare:auto -XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        p = subprocess.run([ZKCLI, "-waitforconnection", "-server", via.hostport], input=script,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=DEADLINE, env=env)
        out = cli_lines(p.stdout)
        # The remove's version: the line closing its committed config.
        committed = out.index("Committed new configuration:") if "Committed new configuration:" in out else -1
        v1 = out[committed + len(rest) + 1].rsplit("version=", 1)[-1] if committed >= 0 else "none"
        cfg1 = config_string(rest, v1)
        want = (config_string(ens.members, INITIAL).splitlines()
                + ["Insufficient permission : "] * 2
                + ["version No is not valid : ", "Committed new configuration:"]
                + cfg1.splitlines() * 2
                + ["%s %s" % (v1, ",".join(sorted(m.hostport for m in rest))),
                   "Arguments are not valid : "])
        # -add and -members: each commits a newer version of all three.
        tail = [re.sub(r"^version=[0-9a-f]+$", "version=V", ln) for ln in out[len(want):]]
        every = config_string(ens.members, "V").splitlines()
        want_tail = (["Committed new configuration:"] + every) * 2
        assert (out[:len(want)], tail) == (want, want_tail), "zkCli.sh output (rc %d):\n%s" % (p.returncode, p.stdout)
        # zkCli.sh exits with its last command's status.
        assert p.returncode == 0, p.stdout
        v3 = out[-1].rsplit("version=", 1)[1]
        assert int(v3, 16) > int(v1, 16), (v1, v3)
        wait_served(ens.members, config_string(ens.members, v3))
    finally:
        ens.close()
