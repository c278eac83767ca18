"""Differential tests: the same scripted session runs against Apache ZooKeeper
3.8 and zookeeperd; the normalised transcripts must be identical.

Every scenario also makes a few absolute checks (t.check) so that it fails on
wrong behaviour even when both sides agree (e.g. under ZK_DIFF_SELF=1).
"""

import contextlib
import re

import pytest
from kazoo.exceptions import (
    BadVersionError, InvalidACLError, NoAuthError,
    NoChildrenForEphemeralsError, NodeExistsError, NoNodeError, NotEmptyError,
)
from kazoo.security import ACL, Id, make_digest_acl, make_acl

import kzext
import zkproto
from conftest import (
    SUPER_PASSWORD, SUPER_USER, assert_same, four_letter, make_kazoo,
    wait_until,
)
from transcript import Transcript


# ======================================================================
# harness
# ======================================================================
class Ctx:
    def __init__(self, server, base):
        self.server = server
        self.base = base
        self.t = Transcript()
        self.kazoos = []
        self.raws = []

    def client(self, name, **kw):
        c = make_kazoo(self.server, **kw)
        self.kazoos.append(c)
        self.t.add_session(name, c.client_id[0])
        return c

    def raw(self, name, **kw):
        r = zkproto.RawClient(self.server.host, self.server.port, **kw)
        self.raws.append(r)
        self.t.add_session(name, r.session_id)
        return r

    def close(self):
        for r in self.raws:
            r.close()
        for c in self.kazoos:
            with contextlib.suppress(Exception):
                c.stop()
            with contextlib.suppress(Exception):
                c.close()


SCENARIOS = {}


def scenario(fn):
    SCENARIOS[fn.__name__] = fn
    return fn


def run_on(server, name, base):
    ctx = Ctx(server, base)
    try:
        SCENARIOS[name](ctx)
    finally:
        ctx.close()
    return ctx.t


def stat_of(x):
    return x[1] if isinstance(x, tuple) else x


def exc_name(x):
    return type(x).__name__ if isinstance(x, BaseException) else None


# ======================================================================
# scenarios
# ======================================================================
@scenario
def create_modes(ctx):
    t, b = ctx.t, ctx.base
    a = ctx.client("A")
    bc = ctx.client("B")
    t.do("create base", a.create, b, b"root")
    r = t.do("create persistent+stat", a.create, b + "/p", b"data", include_data=True)
    st = r[1]
    t.check("persistent czxid==mzxid==pzxid", st.czxid == st.mzxid == st.pzxid)
    t.check("persistent version 0", st.version == 0 and st.dataLength == 4)
    t.check("dup -> NodeExists",
            isinstance(t.do("create dup", a.create, b + "/p", b"x"), NodeExistsError))
    t.check("no parent -> NoNode",
            isinstance(t.do("create no parent", a.create, b + "/missing/child"), NoNodeError))
    t.do("create makepath", a.create, b + "/m1/m2/m3", b"deep", makepath=True)
    t.do("get makepath leaf", a.get, b + "/m1/m2/m3")
    r = t.do("create ephemeral", a.create, b + "/e", b"eph", ephemeral=True, include_data=True)
    t.check("ephemeralOwner == session",
            r[1].ephemeralOwner == a.client_id[0])
    t.do("B sees ephemeral", bc.get, b + "/e")
    t.check("child of ephemeral -> NoChildrenForEphemerals",
            isinstance(t.do("create child of ephemeral", a.create, b + "/e/c"),
                       NoChildrenForEphemeralsError))
    t.do("ephemeral child of ephemeral", a.create, b + "/e/c2", ephemeral=True)
    s1 = t.do("seq 1", a.create, b + "/s-", b"1", sequence=True)
    s2 = t.do("seq 2", a.create, b + "/s-", b"2", sequence=True)
    t.check("seq format", re.fullmatch(re.escape(b) + r"/s-\d{10}", s1 or "") is not None
            and s1 < s2)
    t.do("seq no prefix (trailing slash)", a.create, b + "/m1/", b"", sequence=True)
    t.do("eph seq", a.create, b + "/es-", b"", ephemeral=True, sequence=True,
         include_data=True)
    t.do("seq under other parent", a.create, b + "/m1/m2/x", b"", sequence=True)
    r = t.do("container", kzext.create_container, a, b + "/cont", b"c")
    t.check("container created", isinstance(r, tuple) and r[0] == b + "/cont")
    t.do("container child", a.create, b + "/cont/kid", b"")
    r = t.do("ttl", kzext.create_ttl, a, b + "/ttl", b"t", ttl=600000)
    t.check("ttl created", isinstance(r, tuple) and r[0] == b + "/ttl",
            "got %r" % (r,))
    t.do("ttl seq", kzext.create_ttl, a, b + "/ttls-", b"", ttl=600000, sequence=True)
    t.do("ttl zero", kzext.create_ttl, a, b + "/ttl0", ttl=0)
    t.do("ttl negative", kzext.create_ttl, a, b + "/ttlneg", ttl=-5)
    t.do("ttl too large", kzext.create_ttl, a, b + "/ttlbig", ttl=1 << 41)
    t.do("ttl op with persistent flags", kzext.create_ttl, a, b + "/ttlf0", ttl=1000, flags=0)
    t.do("ttl op with ephemeral flags", kzext.create_ttl, a, b + "/ttlf1", ttl=1000, flags=1)
    t.do("ttl op with container flags", kzext.create_ttl, a, b + "/ttlf4", ttl=1000, flags=4)
    r = ctx.raw("R")
    t.do("create2 op with ttl flags", r.create, b + "/f5", b"", flags=5, op="create2")
    t.do("create op with ttl flags", r.create, b + "/f5b", b"", flags=5, op="create")
    t.do("create2 op with container flags", r.create, b + "/f4", b"", flags=4, op="create2")
    t.do("createContainer op with flags 0", r.create, b + "/f0", b"", flags=0, op="createContainer")
    t.do("create2 op with flags 7", r.create, b + "/f7", b"", flags=7, op="create2")
    t.do("create2 op with flags -1", r.create, b + "/fm1", b"", flags=-1, op="create2")
    t.do("container under ephemeral", kzext.create_container, a, b + "/e/cont")
    t.do("null data", a.create, b + "/nul", None)
    t.do("get null data", a.get, b + "/nul")
    t.do("empty data", a.create, b + "/empty", b"")
    t.do("get empty data", a.get, b + "/empty")
    t.do("binary data", a.create, b + "/bin", bytes(range(256)))
    t.do("get binary data", a.get, b + "/bin")
    t.do("big data 512KiB", a.create, b + "/big", b"x" * (512 * 1024))
    r = t.do("get big", a.get, b + "/big")
    t.check("big data roundtrip", isinstance(r, tuple) and len(r[0]) == 512 * 1024)
    t.do("unicode name", a.create, b + "/\u00e9t\u00e9-\u6f22", "v".encode())
    for child in ("p", "e", "cont", "ttl", "nul", "big"):
        t.do("exists " + child, a.exists, b + "/" + child)
    t.do("children of base", lambda: sorted(a.get_children(b)))
    t.do("children of m1", lambda: sorted(a.get_children(b + "/m1")))
    t.do("get base", a.get, b)


@scenario
def get_set_delete_versions(ctx):
    t, b = ctx.t, ctx.base
    a = ctx.client("A")
    n = b + "/n"
    t.do("create base", a.create, b)
    t.do("create n", a.create, n, b"v0")
    t.do("get", a.get, n)
    st = t.do("set v0", a.set, n, b"v1", version=0)
    t.check("set bumps version", getattr(st, "version", None) == 1)
    t.check("stale set -> BadVersion",
            isinstance(t.do("set stale v0", a.set, n, b"nope", version=0), BadVersionError))
    t.do("set any", a.set, n, b"v2", version=-1)
    t.do("set v2 empty", a.set, n, b"", version=2)
    t.do("get after sets", a.get, n)
    t.do("set version -2", a.set, n, b"z", version=-2)
    t.do("set version 1000", a.set, n, b"z", version=1000)
    t.do("set big", a.set, n, b"y" * 100000)
    t.do("get big", a.get, n)
    t.do("set None", a.set, n, None)
    t.do("get after None", a.get, n)
    t.check("delete stale -> BadVersion",
            isinstance(t.do("delete stale", a.delete, n, version=1), BadVersionError))
    t.do("create child", a.create, n + "/c", b"")
    t.check("delete non-empty -> NotEmpty",
            isinstance(t.do("delete non-empty", a.delete, n), NotEmptyError))
    t.do("delete child v0", a.delete, n + "/c", version=0)
    st = a.exists(n)
    t.do("delete n exact version", a.delete, n, version=st.version)
    t.check("get deleted -> NoNode",
            isinstance(t.do("get deleted", a.get, n), NoNodeError))
    t.do("set deleted", a.set, n, b"x")
    t.do("delete deleted", a.delete, n)
    t.do("exists deleted", a.exists, n)
    t.do("get_children deleted", a.get_children, n)
    t.do("get_acls deleted", a.get_acls, n)
    t.do("set_acls deleted", a.set_acls, n, [make_acl("world", "anyone", all=True)])
    # recreate: versions restart, czxid new
    t.do("recreate", a.create, n, b"again", include_data=True)
    # recursive delete via kazoo (client-side walk)
    a.create(b + "/tree/a/b/c", makepath=True)
    a.create(b + "/tree/a/d")
    t.do("recursive delete", a.delete, b + "/tree", recursive=True)
    t.do("tree gone", a.exists, b + "/tree")
    t.do("delete root", a.delete, "/")
    t.do("delete /zookeeper", a.delete, "/zookeeper")
    zk_child = "/zookeeper/" + b.strip("/")
    t.do("create under /zookeeper", a.create, zk_child)
    t.do("delete under /zookeeper", a.delete, zk_child)
    t.do("set /zookeeper", a.set, "/zookeeper", b"")
    t.do("set /zookeeper/quota", a.set, "/zookeeper/quota", b"")
    t.do("delete /zookeeper/quota", a.delete, "/zookeeper/quota")
    t.do("delete /zookeeper/config", a.delete, "/zookeeper/config")


@scenario
def children_and_stats(ctx):
    t, b = ctx.t, ctx.base
    a = ctx.client("A")
    bb = ctx.client("B")
    p = b + "/par"
    t.do("create base", a.create, b)
    st0 = t.do("create par", a.create, p, b"", include_data=True)[1]
    t.check("fresh node cversion 0", st0.cversion == 0 and st0.numChildren == 0)
    for c in ("c1", "c2", "c3"):
        t.do("create " + c, a.create, p + "/" + c, c.encode())
    r = t.do("get_children include_data",
             lambda: (lambda ch, st: (sorted(ch), st))(*a.get_children(p, include_data=True)))
    st1 = r[1]
    t.check("cversion counts creates", st1.cversion == 3 and st1.numChildren == 3)
    t.check("pzxid = last child czxid", st1.pzxid == a.exists(p + "/c3").czxid)
    t.do("set c1", a.set, p + "/c1", b"new")
    st2 = t.do("parent after child set", a.exists, p)
    t.check("child data change leaves parent pzxid", st2.pzxid == st1.pzxid)
    t.do("delete c2", a.delete, p + "/c2")
    st3 = t.do("parent after delete", a.exists, p)
    t.check("delete bumps cversion and pzxid",
            st3.cversion == 4 and st3.numChildren == 2 and st3.pzxid > st1.pzxid)
    t.check("parent mzxid unchanged by children", st3.mzxid == st0.mzxid)
    t.do("ephemeral A", a.create, p + "/ea", b"", ephemeral=True)
    t.do("ephemeral B", bb.create, p + "/eb", b"", ephemeral=True)
    t.do("ephemeral B 2", bb.create, b + "/eb2", b"", ephemeral=True)
    t.do("get_children leaf", a.get_children, p + "/c1")
    t.do("get_children missing", a.get_children, p + "/nope")
    t.do("children sorted", lambda: sorted(a.get_children(p)))
    t.do("getAllChildrenNumber base", kzext.get_all_children_number, a, b)
    t.do("getAllChildrenNumber par", kzext.get_all_children_number, a, p)
    t.do("getAllChildrenNumber leaf", kzext.get_all_children_number, a, p + "/c1")
    t.do("getAllChildrenNumber missing", kzext.get_all_children_number, a, p + "/nope")
    t.do("getEphemerals A base", lambda: sorted(kzext.get_ephemerals(a, b)))
    t.do("getEphemerals B base", lambda: sorted(kzext.get_ephemerals(bb, b)))
    t.do("getEphemerals B par", lambda: sorted(kzext.get_ephemerals(bb, p)))
    t.do("getEphemerals B prefix string", lambda: sorted(kzext.get_ephemerals(bb, b + "/e")))
    r = kzext.get_ephemerals(bb, b)
    t.check("getEphemerals returns own ephemerals", sorted(r) == [b + "/eb2", p + "/eb"],
            repr(r))
    t.do("exists missing", a.exists, p + "/nope")
    t.do("stat of ephemeral B", a.exists, p + "/eb")
    bb.stop()
    t.do("after B closed: children", lambda: sorted(a.get_children(p)))
    t.do("after B closed: parent", a.exists, p)


@scenario
def acls(ctx):
    t, b = ctx.t, ctx.base
    a = ctx.client("A")
    o = ctx.client("B")
    t.do("A add_auth", a.add_auth, "digest", "u1:pw1")
    acl_u1 = make_digest_acl("u1", "pw1", all=True)
    t.do("create base", a.create, b)
    s = b + "/secret"
    t.do("create secret", a.create, s, b"s", acl=[acl_u1], include_data=True)
    t.check("other get -> NoAuth",
            isinstance(t.do("B get secret", o.get, s), NoAuthError))
    t.do("A get secret", a.get, s)
    t.do("B get_acls secret", o.get_acls, s)
    t.do("A get_acls secret", a.get_acls, s)
    t.do("B set secret", o.set, s, b"x")
    t.do("B create under secret", o.create, s + "/c")
    t.do("B exists secret", o.exists, s)
    t.do("B get_children secret", o.get_children, s)
    t.do("B set_acls secret", o.set_acls, s, [make_acl("world", "anyone", all=True)])
    r = t.do("A set_acls v0", a.set_acls, s,
             [acl_u1, make_acl("world", "anyone", read=True)], version=0)
    t.check("set_acls bumps aversion", getattr(r, "aversion", None) == 1)
    t.check("stale set_acls -> BadVersion",
            isinstance(t.do("A set_acls stale", a.set_acls, s, [acl_u1], version=0),
                       BadVersionError))
    t.do("B get secret (world read)", o.get, s)
    t.do("B set secret (no write)", o.set, s, b"x")
    t.check("bad digest id -> InvalidACL",
            isinstance(t.do("A create bad digest acl", a.create, b + "/bad1", b"",
                            acl=[ACL(31, Id("digest", "nocolon"))]), InvalidACLError))
    t.do("A create unknown scheme", a.create, b + "/bad2", b"",
         acl=[ACL(31, Id("bogus", "x"))])
    t.do("A create empty acl", a.create, b + "/bad3", b"", acl=[])
    t.do("A create auth acl", a.create, b + "/authacl", b"", acl=[ACL(31, Id("auth", ""))])
    t.do("get_acls auth acl", a.get_acls, b + "/authacl")
    t.do("B create auth acl (no creds)", o.create, b + "/authacl2", b"",
         acl=[ACL(31, Id("auth", ""))])
    t.do("A create ip acl", a.create, b + "/ip", b"i", acl=[ACL(31, Id("ip", "127.0.0.1"))])
    t.do("B get ip acl", o.get, b + "/ip")
    t.do("A create ip acl other", a.create, b + "/ip2", b"i", acl=[ACL(31, Id("ip", "10.1.2.3"))])
    t.do("B get ip acl other", o.get, b + "/ip2")
    t.do("A create ip cidr", a.create, b + "/ip3", b"i", acl=[ACL(31, Id("ip", "127.0.0.0/8"))])
    t.do("B get ip cidr", o.get, b + "/ip3")
    t.do("A create bad ip", a.create, b + "/ip4", b"i", acl=[ACL(31, Id("ip", "not-an-ip"))])
    t.do("A create world read-only", a.create, b + "/ro", b"r",
         acl=[make_acl("world", "anyone", read=True)])
    t.do("A set read-only", a.set, b + "/ro", b"x")
    t.do("A delete read-only (parent open)", a.delete, b + "/ro")
    t.do("A create no-delete parent", a.create, b + "/nd", b"",
         acl=[make_acl("world", "anyone", read=True, write=True, create=True, admin=True)])
    t.do("A create child of no-delete", a.create, b + "/nd/c", b"")
    t.do("A delete child of no-delete", a.delete, b + "/nd/c")
    t.do("A create perms 0", a.create, b + "/zero", b"", acl=[ACL(0, Id("world", "anyone"))])
    t.do("A get perms 0", a.get, b + "/zero")
    t.do("A exists perms 0", a.exists, b + "/zero")
    t.do("A get_acls perms 0", a.get_acls, b + "/zero")
    su = ctx.client("S")
    t.do("super add_auth", su.add_auth, "digest", "%s:%s" % (SUPER_USER, SUPER_PASSWORD))
    t.do("super get secret", su.get, s)
    t.do("super set secret", su.set, s, b"by-super")
    t.do("super get perms 0", su.get, b + "/zero")
    t.do("A whoami", lambda c: sorted(kzext.whoami(c)), a)
    t.do("B whoami", lambda c: sorted(kzext.whoami(c)), o)
    t.do("S whoami", lambda c: sorted(kzext.whoami(c)), su)
    t.do("A second digest identity", a.add_auth, "digest", "u2:pw2")
    t.do("A whoami after 2nd auth", lambda: sorted(kzext.whoami(a)))
    t.do("A create auth acl 2 ids", a.create, b + "/authacl3", b"", acl=[ACL(31, Id("auth", ""))])
    t.do("get_acls auth acl 2 ids", lambda: sorted(a.get_acls(b + "/authacl3")[0]))
    t.do("B delete secret (parent open)", o.delete, s)


@scenario
def transactions(ctx):
    t, b = ctx.t, ctx.base
    a = ctx.client("A")
    t.do("create base", a.create, b)
    t.do("create a", a.create, b + "/a", b"a")
    t.do("create b", a.create, b + "/b", b"b")

    def tx(label, build):
        txn = a.transaction()
        build(txn)
        return t.do(label, txn.commit)

    r = tx("tx ok", lambda x: (x.check(b + "/a", 0), x.create(b + "/c", b"c"),
                              x.set_data(b + "/a", b"a2"), x.delete(b + "/b"),
                              x.create(b + "/c/d", b"d")))
    t.check("tx ok results", isinstance(r, list) and r[0] is True and r[1] == b + "/c"
            and r[3] is True and r[4] == b + "/c/d", repr(r))
    t.do("state after ok", lambda: sorted(a.get_children(b)))
    t.do("a after ok", a.get, b + "/a")
    r = tx("tx fails mid", lambda x: (x.create(b + "/x", b""), x.set_data(b + "/a", b"z", 0),
                                      x.delete(b + "/c/d")))
    t.check("failed tx per-op errors",
            [exc_name(e) for e in r] == ["RolledBackError", "BadVersionError",
                                         "RuntimeInconsistency"], repr(r))
    t.do("x not created", a.exists, b + "/x")
    t.do("c/d not deleted", a.exists, b + "/c/d")
    tx("tx fails first", lambda x: (x.create(b + "/a", b""), x.create(b + "/y", b"")))
    tx("tx fails last", lambda x: (x.create(b + "/z", b""), x.delete(b + "/missing")))
    t.do("z not created", a.exists, b + "/z")
    tx("tx check missing", lambda x: (x.check(b + "/missing", 0),))
    tx("tx check wrong version", lambda x: (x.check(b + "/a", 7), x.create(b + "/q")))
    tx("tx ephemeral+sequence", lambda x: (x.create(b + "/eph", b"", ephemeral=True),
                                           x.create(b + "/seq-", b"", sequence=True),
                                           x.create(b + "/seq-", b"", sequence=True)))
    t.do("eph owner", a.exists, b + "/eph")
    tx("tx empty", lambda x: None)
    tx("tx create+delete same", lambda x: (x.create(b + "/tmp", b""), x.delete(b + "/tmp")))
    t.do("tmp absent", a.exists, b + "/tmp")
    tx("tx delete non-empty", lambda x: (x.delete(b + "/c"),))
    tx("tx child of ephemeral", lambda x: (x.create(b + "/eph/c", b""),))
    tx("tx bad version delete", lambda x: (x.delete(b + "/a", 99),))
    tx("tx set then check", lambda x: (x.set_data(b + "/a", b"a3"), x.check(b + "/a", 2)))
    tx("tx dup create", lambda x: (x.create(b + "/dup", b""), x.create(b + "/dup", b"")))
    t.do("dup absent", a.exists, b + "/dup")
    # watches fired by a multi
    w = t.watcher
    a.get(b + "/a", watch=w("data-a"))
    a.get_children(b, watch=w("children-base"))
    tx("tx fires watches", lambda x: (x.set_data(b + "/a", b"a4"), x.create(b + "/w", b"")))
    kzext.flush_watches(a)
    evs = t.take_events("events after tx")
    t.check("tx fired both watches", len(evs) == 2, repr(evs))
    a.get(b + "/a", watch=w("data-a2"))
    tx("failed tx fires nothing", lambda x: (x.set_data(b + "/a", b"a5"), x.check(b + "/a", 0)))
    kzext.flush_watches(a)
    evs = t.take_events("events after failed tx")
    t.check("failed tx fires no watch", evs == [], repr(evs))
    # multiRead (raw): per-op results, failures don't roll back
    r = ctx.raw("R")
    t.do("multiRead", r.multi, [zkproto.op_get_data(b + "/a"),
                                zkproto.op_get_children(b + "/c"),
                                zkproto.op_get_data(b + "/missing"),
                                zkproto.op_get_children(b + "/missing")], read=True)
    t.do("multi via raw ok", r.multi, [zkproto.op_create(b + "/r1"),
                                       zkproto.op_set(b + "/r1", b"x", 0),
                                       zkproto.op_check(b + "/r1", 1),
                                       zkproto.op_delete(b + "/r1", 1)])
    t.do("multi via raw fail", r.multi, [zkproto.op_create(b + "/r2"),
                                         zkproto.op_check(b + "/r2", 5)])
    t.do("multi mixing read op", r.multi, [zkproto.op_create(b + "/r3"),
                                           zkproto.op_get_data(b + "/a")])
    t.do("multiRead mixing write op", r.multi, [zkproto.op_get_data(b + "/a"),
                                               zkproto.op_create(b + "/r4")], read=True)
    t.do("r3/r4 absent", lambda: (a.exists(b + "/r3"), a.exists(b + "/r4")))
    t.do("raw connection usable after MarshallingError", lambda: r.exists(b) is not None)


@scenario
def watches_kazoo(ctx):
    t, b = ctx.t, ctx.base
    a = ctx.client("A")
    m = ctx.client("B")
    w = t.watcher
    n = b + "/n"
    t.do("create base", m.create, b)
    t.do("create n", m.create, n, b"1")

    def batch(label):
        kzext.flush_watches(a)
        # kazoo fans one server event out to several callbacks in set order;
        # sort within a batch (exact wire order is tested in watches_raw)
        with t.lock:
            t.events.sort()
        return t.take_events(label)

    a.get(n, watch=w("data-n"))
    a.get_children(b, watch=w("children-base"))
    a.exists(b + "/new", watch=w("exists-new"))
    a.exists(n, watch=w("exists-n"))
    t.do("B set n", m.set, n, b"2")
    evs = batch("after set")
    t.check("data + exists watch fired", len(evs) == 2, repr(evs))
    t.do("B set n again", m.set, n, b"3")
    t.check("watches are one-shot", batch("after 2nd set") == [])
    t.do("B create new", m.create, b + "/new")
    evs = batch("after create")
    t.check("exists->NodeCreated and child watch",
            sorted(e[1] for e in evs) == ["CHILD", "CREATED"], repr(evs))
    a.get_children(b, watch=w("children-base-2"))
    a.get(n, watch=w("data-n-2"))
    a.get_children(n, watch=w("children-n"))
    t.do("B create n/c", m.create, n + "/c")
    batch("after create n/c")
    t.do("B delete n/c", m.delete, n + "/c")
    batch("after delete n/c (child watch consumed)")
    t.do("B delete n", m.delete, n)
    evs = batch("after delete n")
    t.check("delete fires NodeDeleted + parent child watch",
            sorted(e[1] for e in evs) == ["CHILD", "DELETED"], repr(evs))
    # own changes fire own watches
    a.get(b + "/new", watch=w("self-data"))
    t.do("A set own", a.set, b + "/new", b"x")
    batch("after own set")
    # exists watch on missing node that is then created+deleted by others
    a.exists(b + "/gone", watch=w("exists-gone"))
    m.create(b + "/gone")
    m.delete(b + "/gone")
    batch("after create+delete gone")
    # ephemeral of another session disappears when it closes
    m.create(b + "/eph", b"", ephemeral=True)
    a.exists(b + "/eph", watch=w("exists-eph"))
    a.get_children(b, watch=w("children-base-3"))
    m.stop()
    wait_until(lambda: a.exists(b + "/eph") is None, 10, desc="ephemeral removal")
    evs = batch("after B session closed")
    t.check("session close deletes ephemeral and fires watches", len(evs) == 2, repr(evs))
    # watch on get of a node that is deleted and re-created
    a.create(b + "/r", b"")
    a.get(b + "/r", watch=w("data-r"))
    a.delete(b + "/r")
    a.create(b + "/r", b"")
    batch("after delete+recreate r")


@scenario
def watches_raw(ctx):
    """Exact wire-level notification order, incl. persistent watches."""
    t, b = ctx.t, ctx.base
    r = ctx.raw("R")
    m = ctx.client("B")
    n = b + "/n"
    t.do("create base", m.create, b)
    t.do("create n", m.create, n, b"1")

    def events(label):
        r.sync(b)  # reply comes after all notifications queued before it
        evs, r.events = r.events, []
        t.note(label, evs)
        return evs

    t.do("R get n watch", r.get, n, True)
    t.do("R exists n watch", r.exists, n, True)
    t.do("R children base watch", r.get_children, b, True)
    t.do("R exists x watch", r.exists, b + "/x", True)
    t.do("R children n watch", r.get_children2, n, True)
    m.create(n + "/c")
    evs = events("after create n/c")
    t.check("child event on n", evs == [("NodeChildrenChanged", "SyncConnected", n)], repr(evs))
    m.delete(n + "/c")
    t.check("consumed child watch", events("after delete n/c") == [])
    m.delete(n)
    evs = events("after delete n")
    t.check("NodeDeleted n then NodeChildrenChanged base",
            evs == [("NodeDeleted", "SyncConnected", n),
                    ("NodeChildrenChanged", "SyncConnected", b)], repr(evs))
    m.create(b + "/x", b"x")
    evs = events("after create x")
    t.check("exists watch fires NodeCreated",
            evs == [("NodeCreated", "SyncConnected", b + "/x")], repr(evs))
    # data + child + exists watch on the same node, then delete with a child
    m.create(b + "/y")
    m.create(b + "/y/z")
    r.get(b + "/y", True)
    r.get_children(b + "/y", True)
    r.get(b + "/y/z", True)
    r.get_children(b, True)
    m.delete(b + "/y/z")
    m.delete(b + "/y")
    events("after delete y/z and y")
    # persistent watch (mode 0) on a node that does not exist yet
    pw = b + "/pw"
    t.do("addWatch persistent", r.add_watch, pw, 0)
    m.create(pw, b"")
    m.set(pw, b"1")
    m.create(pw + "/c", b"")
    m.set(pw + "/c", b"2")
    m.delete(pw + "/c")
    m.delete(pw)
    m.create(pw, b"")
    evs = events("persistent watch events")
    t.check("persistent watch keeps firing", len(evs) == 6, repr(evs))
    t.do("checkWatches persistent any", r.check_watches, pw, 3)
    t.do("removeWatches persistent data", r.remove_watches, pw, 2)
    t.do("removeWatches persistent any", r.remove_watches, pw, 3)
    m.set(pw, b"after-remove")
    events("after removing persistent watch")
    t.do("removeWatches none left", r.remove_watches, pw, 3)
    t.do("checkWatches none", r.check_watches, pw, 1)
    # recursive persistent watch (mode 1)
    rw = b + "/rw"
    t.do("addWatch recursive", r.add_watch, rw, 1)
    m.create(rw, b"")
    m.create(rw + "/a", b"")
    m.create(rw + "/a/b", b"")
    m.set(rw + "/a/b", b"x")
    m.delete(rw + "/a/b")
    m.create(rw + "-sibling", b"")
    evs = events("recursive watch events")
    t.check("recursive watch: created x3, changed, deleted; no child events",
            [e[0] for e in evs] == ["NodeCreated", "NodeCreated", "NodeCreated",
                                     "NodeDataChanged", "NodeDeleted"], repr(evs))
    # one-shot watch and persistent watch on the same path
    r.get(rw + "/a", True)
    m.set(rw + "/a", b"1")
    events("one-shot + recursive on same node")
    t.do("addWatch bad mode", r.add_watch, b + "/q", 7)
    t.do("removeWatches data none", r.remove_watches, b + "/x", 2)
    r.get(b + "/x", True)
    t.do("removeWatches data", r.remove_watches, b + "/x", 2)
    t.do("removeWatches data again", r.remove_watches, b + "/x", 2)
    m.set(b + "/x", b"after")
    events("after removing data watch")
    r.get_children(b + "/x", True)
    t.do("removeWatches children via data type", r.remove_watches, b + "/x", 2)
    t.do("removeWatches children", r.remove_watches, b + "/x", 1)
    t.do("removeWatches missing node", r.remove_watches, b + "/nope", 3)


@scenario
def ephemerals_and_session_close(ctx):
    t, b = ctx.t, ctx.base
    w = ctx.raw("W")
    e = ctx.raw("E")
    t.do("create base", e.create, b)
    t.do("eph 1", e.create, b + "/e1", b"", flags=zkproto.EPHEMERAL)
    t.do("eph seq", e.create, b + "/es-", b"", flags=zkproto.EPHEMERAL_SEQUENTIAL)
    t.do("eph 2", e.create, b + "/e2", b"2", flags=zkproto.EPHEMERAL)
    t.do("persistent", e.create, b + "/p", b"")
    t.do("getEphemerals E /", lambda: sorted(x for x in e.get_ephemerals("/") if x.startswith(b)))
    t.do("getEphemerals W", w.get_ephemerals, b)
    for p in ("/e1", "/e2", "/p"):
        w.exists(b + p, True)
    w.get_children(b, True)
    t.do("E closeSession", lambda: e.call("closeSession", b"")[0]["err"])
    st, _ = zkproto.wait_closed(e.sock, 5)
    t.note("E socket after closeSession", st)
    w.sync(b)
    evs = sorted(w.events)
    w.events = []
    t.note("W events after E closed", evs)
    t.check("both ephemerals deleted + child event",
            evs == sorted([("NodeDeleted", "SyncConnected", b + "/e1"),
                           ("NodeDeleted", "SyncConnected", b + "/e2"),
                           ("NodeChildrenChanged", "SyncConnected", b)]), repr(evs))
    t.do("children after close", lambda: sorted(w.get_children(b)))
    t.do("parent stat after close", lambda: w.exists(b))
    # A second raw session: reuse of a closed session id must fail
    again = zkproto.RawClient(ctx.server.host, ctx.server.port, connect=False)
    try:
        resp = again.connect(10000, e.session_id, e.passwd)
        t.note("reconnect closed session: timeout/sessionId",
               (resp["timeOut"], resp["sessionId"] == 0))
        st, _ = zkproto.wait_closed(again.sock, 5)
        t.note("reconnect closed session: socket", st)
    except zkproto.ConnectionClosed:
        t.note("reconnect closed session", "closed without response")
    finally:
        again.drop()


@scenario
def bad_paths(ctx):
    t, b = ctx.t, ctx.base
    r = ctx.raw("R")
    r.create(b)
    zk_child = "/zookeeper/" + b.strip("/")
    paths = ["", "a", "/a/", b + "/", "//", b + "//x", b + "/./x", b + "/../x",
             "/.", "/..", b + "/.", b + "/x\x00y", b + "/\x01", b + "/x\u007f",
             b + "/\ud7ff", b + "/\ufff5", zk_child, b + "/ok"]
    ops = {
        "create": lambda p: r.create(p, b"", op="create")[0],
        "create2": lambda p: r.create(p, b"")[0],
        "getData": lambda p: r.get(p)[0],
        "exists": lambda p: r.exists(p) is not None,
        "setData": lambda p: r.set(p, b"")["version"],
        # child counts only under <b> (root's children are global state)
        "getChildren": lambda p: len(r.get_children(p)) if p.startswith(b) else "list",
        "delete": lambda p: r.delete(p),
        "getACL": lambda p: len(r.get_acl(p)[0]),
        "sync": lambda p: r.sync(p),
        "seq-create": lambda p: r.create(p, b"", flags=zkproto.PERSISTENT_SEQUENTIAL, op="create")[0],
    }
    for p in paths:
        row = []
        for name, fn in ops.items():
            if name == "seq-create" and not p.startswith(b + "/"):
                # would create sequential nodes whose number depends on the
                # parent's (shared, global) cversion
                row.append("skipped")
                continue
            try:
                v = fn(p)
                row.append("ok:%r" % (v,))
            except zkproto.ZkError as e:
                row.append(e.name)
            except UnicodeEncodeError:
                row.append("client-unencodable")
        t.note("path %r" % p.replace(b, "<b>"), row)
    # kazoo-level: what a kazoo user sees
    k = ctx.client("K")
    for p in (b.strip("/") + "-noslash", b + "/", b + "//x", b + "/x\x00"):
        t.do("kazoo create %r" % p.replace(b, "<b>"), k.create, p, b"")
        t.do("kazoo get %r" % p.replace(b, "<b>"), k.get, p)
    for p in ("/" + b.strip("/") + "-noslash", zk_child):
        t.do("cleanup %r" % p.replace(b, "<b>"), k.delete, p, recursive=True)


@scenario
def auth_failures(ctx):
    t, b = ctx.t, ctx.base
    for label, scheme, cred in (("unknown scheme", "bogus", "x"),
                                ("digest without colon", "digest", "nocolon"),
                                ("empty digest", "digest", ""),
                                ("world scheme", "world", "anyone"),
                                ("ip scheme", "ip", "127.0.0.1")):
        r = zkproto.RawClient(ctx.server.host, ctx.server.port)
        try:
            try:
                r.auth(scheme, cred)
                t.note(label + ": auth", "ok")
            except zkproto.ZkError as e:
                t.note(label + ": auth", e.name)
            except zkproto.ConnectionClosed:
                t.note(label + ": auth", "closed without reply")
            st, _ = zkproto.wait_closed(r.sock, 0.5)
            t.note(label + ": socket after", st)
            if st == "open":
                try:
                    t.note(label + ": whoami after", sorted(r.whoami()))
                except Exception as e:  # noqa: BLE001
                    t.note(label + ": whoami after", type(e).__name__)
        finally:
            r.close()
    # a successful digest auth really authenticates
    r = zkproto.RawClient(ctx.server.host, ctx.server.port)
    try:
        r.auth("digest", "u9:p9")
        r.create(b, b"", acl=[(31, "auth", "")])
        t.note("auth acl stored", r.get_acl(b)[0])
        r2 = zkproto.RawClient(ctx.server.host, ctx.server.port)
        try:
            r2.get(b)
            t.note("unauthenticated get", "ok")
        except zkproto.ZkError as e:
            t.note("unauthenticated get", e.name)
        finally:
            r2.close()
        t.check("acl is digest of u9", r.get_acl(b)[0][0][1] == "digest")
    finally:
        r.close()


@scenario
def ttl_and_container_lifecycle(ctx):
    t, b = ctx.t, ctx.base
    k = ctx.client("K")
    r = ctx.raw("R")
    t.do("create base", k.create, b)
    t.do("container", kzext.create_container, k, b + "/cont")
    t.do("container child", k.create, b + "/cont/c")
    t.do("ttl with child", kzext.create_ttl, k, b + "/ttlp", b"", ttl=300)
    t.do("ttl child", k.create, b + "/ttlp/c")
    t.do("ttl leaf", kzext.create_ttl, k, b + "/ttl", b"", ttl=300)
    t.do("ttl seq", kzext.create_ttl, k, b + "/tseq-", b"", ttl=300, sequence=True)
    r.exists(b + "/cont", True)
    r.exists(b + "/ttl", True)
    r.exists(b + "/ttlp", True)
    t.do("delete container child", k.delete, b + "/cont/c")
    # wait (bounded) for the sweeper to delete the empty container and the
    # expired childless TTL nodes
    wait_until(lambda: k.exists(b + "/cont") is None and k.exists(b + "/ttl") is None,
               15, desc="container/TTL sweep")
    wait_until(lambda: k.get_children(b) == ["ttlp"] or sorted(k.get_children(b)) == ["ttlp"],
               15, desc="ttl sequential sweep")
    t.do("children after sweep", lambda: sorted(k.get_children(b)))
    t.do("ttl with child survives", lambda: k.exists(b + "/ttlp") is not None)
    r.sync(b)
    evs, r.events = sorted(r.events), []
    t.note("events after sweep", evs)
    t.check("NodeDeleted for container and ttl",
            evs == [("NodeDeleted", "SyncConnected", b + "/cont"),
                    ("NodeDeleted", "SyncConnected", b + "/ttl")], repr(evs))
    t.do("delete ttl child", k.delete, b + "/ttlp/c")
    wait_until(lambda: k.exists(b + "/ttlp") is None, 15, desc="ttl parent sweep")
    r.sync(b)
    t.note("events after ttl parent sweep", r.events)
    # container that never had children is not swept; a set on a TTL node
    # refreshes mtime (we only check it is still a TTL node afterwards)
    t.do("container never used", kzext.create_container, k, b + "/cont2")
    t.do("sequential container child", k.create, b + "/cont2/s-", b"", sequence=True)


@scenario
def sync_and_misc(ctx):
    t, b = ctx.t, ctx.base
    k = ctx.client("K")
    t.do("create base", k.create, b)
    t.do("sync base", k.sync, b)
    t.do("sync missing", k.sync, b + "/missing")
    t.do("sync root", k.sync, "/")
    t.do("ruok via kazoo", k.command, b"ruok")
    t.do("zookeeper node has config+quota",
         lambda: {"config", "quota"} <= set(k.get_children("/zookeeper")))
    t.do("zookeeper/quota", lambda: k.exists("/zookeeper/quota") is not None)
    t.do("zookeeper/config", lambda: k.get("/zookeeper/config")[0])
    t.do("root exists", lambda: k.exists("/") is not None)
    t.do("get root data", lambda: k.get("/")[0])
    r = ctx.raw("R")
    t.do("R ping", lambda: (r.ping()[0]["xid"], r.ping()[0]["err"]))
    t.do("R getChildren2 base", r.get_children2, b)


@scenario
def connect_handshake(ctx):
    t = ctx.t
    host, port = ctx.server.host, ctx.server.port
    for label, kw in (("default 10s", dict(timeout_ms=10000)),
                      ("below min", dict(timeout_ms=100)),
                      ("above max", dict(timeout_ms=10 ** 7)),
                      ("zero", dict(timeout_ms=0)),
                      ("readOnly flag", dict(timeout_ms=10000, read_only=True))):
        r = zkproto.RawClient(host, port, **kw)
        try:
            resp = dict(r.connect_response)
            t.note(label, dict(protocolVersion=resp["protocolVersion"],
                               timeOut=resp["timeOut"],
                               sessionId_nonzero=resp["sessionId"] != 0,
                               passwd_len=len(resp["passwd"] or b""),
                               readOnly=resp["readOnly"]))
        finally:
            r.close()
    # re-attach to a live session on a second socket: same id, old socket closed
    r = zkproto.RawClient(host, port)
    try:
        r.create(ctx.base, b"", flags=zkproto.EPHEMERAL)
        r2 = zkproto.RawClient(host, port, connect=False)
        resp = r2.connect(10000, r.session_id, r.passwd)
        t.note("reattach same session", (resp["sessionId"] == r.session_id, resp["timeOut"]))
        st, _ = zkproto.wait_closed(r.sock, 5)
        t.note("old socket after reattach", st)
        t.do("ephemeral still there", lambda: r2.exists(ctx.base)["ephemeralOwner"] == r.session_id)
        r3 = zkproto.RawClient(host, port, connect=False)
        try:
            resp = r3.connect(10000, r.session_id, b"\x01" * 16)
            t.note("wrong password", (resp["timeOut"], resp["sessionId"] == 0,
                                      len(resp["passwd"] or b"")))
            st, _ = zkproto.wait_closed(r3.sock, 5)
            t.note("wrong password socket", st)
        except zkproto.ConnectionClosed:
            t.note("wrong password", "closed without response")
        finally:
            r3.drop()
        st, _ = zkproto.wait_closed(r2.sock, 0.5)
        t.note("live connection after wrong-password attempt on its session", st)
        r2.drop()
        r5 = zkproto.RawClient(host, port, connect=False)
        resp = r5.connect(10000, r.session_id, r.passwd)
        t.note("reattach after wrong password", (resp["sessionId"] == r.session_id, resp["timeOut"]))
        t.do("ephemeral survives wrong-password attempt",
             lambda: r5.exists(ctx.base)["ephemeralOwner"] == r.session_id)
        r5.close()
        t.do("ephemeral gone after closeSession", lambda: zkproto.RawClient(host, port).exists(ctx.base))
    finally:
        r.drop()
    # unknown session id
    r4 = zkproto.RawClient(host, port, connect=False)
    try:
        resp = r4.connect(10000, 0x7ead0000deadbeef, b"\x00" * 16)
        t.note("unknown session", (resp["timeOut"], resp["sessionId"] == 0))
        st, _ = zkproto.wait_closed(r4.sock, 5)
        t.note("unknown session socket", st)
    except zkproto.ConnectionClosed:
        t.note("unknown session", "closed without response")
    finally:
        r4.drop()


# ======================================================================
# the differential test over all scenarios
# ======================================================================
@pytest.mark.parametrize("name", sorted(SCENARIOS) if SCENARIOS else [])
def test_scenario(name, apache_server, zkd_server, uniq):
    ta = run_on(apache_server, name, uniq)
    assert not ta.failed_checks, (
        "Apache ZooKeeper violated the scenario's expectations (test bug?): %s\n%s"
        % (ta.failed_checks, ta.lines(uniq)))
    tz = run_on(zkd_server, name, uniq)
    assert_same(ta.lines(uniq), tz.lines(uniq), "scenario %s transcript" % name)
    assert not tz.failed_checks, tz.failed_checks



# ======================================================================
# four-letter words
# ======================================================================
FOUR_LETTER = ["ruok", "isro", "srvr", "stat", "mntr", "conf", "envi", "cons",
               "wchs", "wchc", "wchp", "dump"]


DATE_RE = re.compile(r"[A-Z][a-z]{2} [A-Z][a-z]{2} +\d+ \d\d:\d\d:\d\d [A-Z]+ \d{4}")


def _num(s):
    s = DATE_RE.sub("<date>", s)
    return re.sub(r"0x[0-9a-fA-F]+|\d+(?:\.\d+)?", "N", s)


CONN_RE = re.compile(r"^\s*/[\d.:\[\]a-fA-F]+?:\d+\[\d+\]\((.*)\)\s*$")


def shape(cmd, text):
    """Reduce 4lw output to its shape: line keys in order, values dropped."""
    lines = text.split("\n")
    if cmd in ("ruok", "isro"):
        return [text]
    if cmd == "mntr":
        return [ln.split("\t")[0] for ln in lines if ln]
    if cmd in ("conf", "envi"):
        return [ln.split("=")[0] for ln in lines if ln]
    out = []
    for ln in lines:
        m = CONN_RE.match(ln)
        if m:
            keys = [kv.split("=")[0] for kv in m.group(1).split(",")]
            out.append("CONN(" + ",".join(keys) + ")")
            continue
        if cmd in ("srvr", "stat") and ":" in ln:
            out.append(ln.split(":")[0] + ":")
            continue
        out.append(_num(ln))
    if cmd in ("stat", "cons", "dump"):
        # connection lines and expiry buckets depend on timing and hash
        # order: keep the first occurrence of each shape, in order, with all
        # connection-line shapes (sorted) at the first connection line
        conns = sorted(set(ln for ln in out if ln.startswith("CONN(")))
        seen, uniq_lines = set(), []
        for ln in out:
            if ln.startswith("CONN("):
                ln = "CONNS " + " | ".join(conns)
            if ln not in seen:
                seen.add(ln)
                uniq_lines.append(ln)
        out = uniq_lines
    if cmd in ("wchc", "wchp"):
        # tab-indented members of a group come in hash-set order: sort them
        grouped, group = [], []
        for ln in out:
            if ln.startswith("\t"):
                group.append(ln)
                continue
            grouped.extend(sorted(group))
            group = []
            grouped.append(ln)
        grouped.extend(sorted(group))
        out = grouped
    return out


def _session_state(server, base):
    """Identical state on both servers: one session with an ephemeral node,
    two data watches, one exists watch and one child watch."""
    r = zkproto.RawClient(server.host, server.port)
    r.create(base, b"")
    r.create(base + "/eph", b"", flags=zkproto.EPHEMERAL)
    r.get(base, True)
    r.exists(base + "/nope", True)
    r.get_children(base, True)
    r2 = zkproto.RawClient(server.host, server.port)
    r2.get(base, True)
    return [r, r2]


def _watch_listing(cmd, text, sessions):
    """wchc / wchp with session ids replaced by names, groups sorted."""
    names = {"0x%x" % sid: n for n, sid in sessions.items()}
    groups, cur = [], None
    for ln in text.split("\n"):
        if not ln.strip():
            continue
        if not ln.startswith("\t"):
            cur = [names.get(ln.strip(), ln.strip() if cmd == "wchp" else "session?")]
            groups.append(cur)
        else:
            v = ln.strip()
            cur.append(names.get(v, v if cmd == "wchc" else "session?"))
    return sorted([g[0]] + sorted(g[1:]) for g in groups)


def test_four_letter_word_shapes(server_pool, uniq):
    """With 4lw.commands.whitelist=* every command answers, and the output
    has the same keys/line structure as Apache ZooKeeper's."""
    results = {}
    for kind in ("apache", "zookeeperd"):
        srv = server_pool.get(kind, {"maxClientCnxns": "60"})
        clients = _session_state(srv, uniq)
        try:
            sessions = {"S1": clients[0].session_id, "S2": clients[1].session_id}
            out = {}
            for cmd in FOUR_LETTER:
                text = four_letter(srv.host, srv.port, cmd)
                assert text, "%s: empty reply to %s" % (kind, cmd)
                if cmd in ("wchc", "wchp"):
                    # group order is hash order: compare the sorted listing
                    out[cmd + " listing"] = _watch_listing(cmd, text, sessions)
                else:
                    out[cmd] = shape(cmd, text)
                if cmd == "wchs":
                    out["wchs exact"] = text
                if cmd == "dump":
                    # ephemeral section is deterministic
                    sect = text.split("ephemeral nodes dump:")[1].split("Connections dump:")[0]
                    for n, sid in sessions.items():
                        sect = sect.replace("0x%x" % sid, n)
                    out["dump ephemerals"] = sect
            results[kind] = out
        finally:
            for c in clients:
                c.close()
    a = results["apache"]
    assert a["ruok"] == ["imok"] and a["isro"] == ["rw"]
    assert "zk_version" in a["mntr"] and "zk_znode_count" in a["mntr"]
    assert "wchs exact" in a and "Total watches:" in a["wchs exact"]
    for cmd in a:
        assert_same(a[cmd], results["zookeeperd"][cmd], "4lw %s shape" % cmd)


def test_four_letter_whitelist_denied(server_pool):
    """Default whitelist (no 4lw.commands.whitelist key): only srvr answers;
    everything else gets the 'not in the whitelist' message."""
    results = {}
    for kind in ("apache", "zookeeperd"):
        srv = server_pool.get(kind, {"4lw.commands.whitelist": None})
        out = {}
        for cmd in FOUR_LETTER + ["crst", "srst", "dirs", "gtmk", "hash", "stmk"]:
            text = four_letter(srv.host, srv.port, cmd)
            out[cmd] = text if "whitelist" in text else shape("srvr", text)
        # not a 4lw at all: treated as a (bogus) connect frame -> closed
        out["xyzw"] = four_letter(srv.host, srv.port, "xyzw")
        results[kind] = out
    a = results["apache"]
    assert a["ruok"] == "ruok is not executed because it is not in the whitelist.\n"
    assert "Mode:" in a["srvr"]
    assert_same(a, results["zookeeperd"], "4lw with default whitelist")


def test_four_letter_partial_whitelist(server_pool):
    """An explicit list enables exactly those commands."""
    results = {}
    for kind in ("apache", "zookeeperd"):
        srv = server_pool.get(kind, {"4lw.commands.whitelist": "ruok, mntr,conf"})
        results[kind] = {cmd: ("DENIED" if "not in the whitelist" in four_letter(srv.host, srv.port, cmd)
                               else "OK") for cmd in FOUR_LETTER}
    a = results["apache"]
    assert a["ruok"] == "OK" and a["mntr"] == "OK" and a["stat"] == "DENIED"
    assert_same(a, results["zookeeperd"], "4lw with partial whitelist")
