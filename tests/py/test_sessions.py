"""Sessions: expiry, reconnect within the timeout, watch re-registration
after reconnect (SetWatches), restart durability (SIGTERM and kill -9).

Run against both implementations (Apache ZooKeeper is the control: these are
absolute assertions, not transcript diffs).  Servers use tickTime=200, so
minSessionTimeout=400 ms and maxSessionTimeout=4000 ms.
"""

import contextlib
import socket
import threading
import time

import pytest
from kazoo.client import KazooClient, KazooState
from kazoo.retry import KazooRetry

import zkproto
from conftest import KINDS, unique, wait_until

SESSION_CFG = {"tickTime": "200"}


@pytest.fixture(params=KINDS)
def sserver(request, server_pool):
    return server_pool.get(request.param, SESSION_CFG)


# ---------------------------------------------------------------- proxy
class Proxy:
    """TCP proxy on 127.0.0.1 that can cut all connections and refuse new
    ones, to make a real client lose its connection without touching the
    server."""

    def __init__(self, target_host, target_port):
        self.target = (target_host, target_port)
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.refusing = False
        self.conns = []
        self.lock = threading.Lock()
        self.closed = False
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def hostport(self):
        return "127.0.0.1:%d" % self.port

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            if self.refusing:
                c.close()
                continue
            try:
                u = socket.create_connection(self.target, timeout=5)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.conns += [c, u]
                self.accepted += 1
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                d = src.recv(65536)
                if not d:
                    break
                dst.sendall(d)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self):
        with self.lock:
            conns, self.conns = self.conns, []
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()

    def close(self):
        self.closed = True
        self.refusing = True
        with contextlib.suppress(OSError):
            self.lsock.close()
        self.cut()


def kazoo_via(hostport, timeout=4.0):
    c = KazooClient(hosts=hostport, timeout=timeout,
                    connection_retry=KazooRetry(max_tries=-1, delay=0.05, backoff=1.5,
                                                max_delay=0.5))
    states = []
    c.add_listener(lambda s: states.append(s))
    c.start(timeout=15)
    return c, states


# ---------------------------------------------------------------- expiry
def test_session_expiry_removes_ephemerals_and_fires_watches(sserver, kazoo_factory):
    """A raw client that stops heartbeating is expired after its negotiated
    timeout; its ephemerals are deleted and watchers get NodeDeleted."""
    b = "/" + unique("expiry")
    watcher = kazoo_factory(sserver)
    watcher.create(b)
    r = zkproto.RawClient(sserver.host, sserver.port, timeout_ms=400)
    assert r.negotiated_timeout == 400, r.connect_response
    r.create(b + "/eph", b"x", flags=zkproto.EPHEMERAL)
    r.create(b + "/eseq-", b"", flags=zkproto.EPHEMERAL_SEQUENTIAL)
    assert sorted(watcher.get_children(b)) == ["eph", "eseq-0000000001"]
    events = []
    ev = threading.Event()

    def w(e):
        events.append((e.type, e.path))
        ev.set()

    watcher.exists(b + "/eph", watch=w)
    t0 = time.monotonic()
    # the raw client now goes silent (no pings)
    assert ev.wait(15), "ephemeral of a silent session was not removed"
    elapsed = time.monotonic() - t0
    assert events == [("DELETED", b + "/eph")]
    assert elapsed >= 0.3, "session expired too early (%.2fs < timeout 0.4s)" % elapsed
    wait_until(lambda: watcher.get_children(b) == [], 10, desc="all ephemerals removed")
    # the server closes the expired session's connection
    st, _ = zkproto.wait_closed(r.sock, 10)
    assert st == "closed"
    r.drop()
    # re-attaching to an expired session is refused (timeOut 0 + close)
    r2 = zkproto.RawClient(sserver.host, sserver.port, connect=False)
    try:
        resp = r2.connect(4000, r.session_id, r.passwd)
        assert resp["timeOut"] == 0 and resp["sessionId"] == 0, resp
    except zkproto.ConnectionClosed:
        pass
    finally:
        r2.drop()


def test_pings_keep_session_alive(sserver, kazoo_factory):
    b = "/" + unique("pings")
    k = kazoo_factory(sserver)
    k.create(b)
    r = zkproto.RawClient(sserver.host, sserver.port, timeout_ms=400)
    try:
        r.create(b + "/eph", b"", flags=zkproto.EPHEMERAL)
        deadline = time.monotonic() + 1.5  # ~4x the session timeout
        while time.monotonic() < deadline:
            hdr, _ = r.ping()
            assert hdr["xid"] == -2 and hdr["err"] == 0
            r.poll_events(0.1)
        assert k.exists(b + "/eph") is not None, "pinged session was expired"
    finally:
        r.close()
    wait_until(lambda: k.exists(b + "/eph") is None, 5, desc="ephemeral removed after close")


def test_reconnect_within_timeout_keeps_session(sserver, kazoo_factory):
    """Drop the TCP connection (no closeSession) and re-attach with
    sessionId+passwd on a new socket: same session, ephemerals intact."""
    b = "/" + unique("reattach")
    k = kazoo_factory(sserver)
    k.create(b)
    r = zkproto.RawClient(sserver.host, sserver.port, timeout_ms=4000)
    sid, pw = r.session_id, r.passwd
    r.create(b + "/eph", b"", flags=zkproto.EPHEMERAL)
    r.get(b + "/eph", watch=True)
    last = r.last_zxid
    r.drop()
    r2 = zkproto.RawClient(sserver.host, sserver.port, connect=False, last_zxid=last)
    try:
        resp = r2.connect(4000, sid, pw)
        assert resp["sessionId"] == sid and resp["timeOut"] == 4000, resp
        st = r2.exists(b + "/eph")
        assert st is not None and st["ephemeralOwner"] == sid
        # the session is usable on the new connection
        r2.create(b + "/eph2", b"", flags=zkproto.EPHEMERAL)
        assert sorted(k.get_children(b)) == ["eph", "eph2"]
    finally:
        r2.close()
    wait_until(lambda: k.get_children(b) == [], 5, desc="ephemerals removed after closeSession")


def test_client_with_stale_zxid_is_refused(sserver, kazoo_factory):
    """A client claiming to have seen a zxid newer than the server's is
    refused (Apache closes the connection without a session)."""
    r = zkproto.RawClient(sserver.host, sserver.port, connect=False,
                          last_zxid=0x7fff00000000)
    try:
        try:
            resp = r.connect(4000)
            st, _ = zkproto.wait_closed(r.sock, 5)
            assert st == "closed", "server accepted a client from the future: %r" % resp
        except zkproto.ConnectionClosed:
            pass
    finally:
        r.drop()


def test_kazoo_reconnect_keeps_session(sserver, kazoo_factory):
    """kazoo through a proxy: cut the connection while another client changes
    things; kazoo reconnects with the same session, its ephemeral survives,
    it sees the changes and new watches work.  (kazoo 2.x drops its watches
    on disconnect -- it fires them with type NONE -- and does not send
    SetWatches; that is covered with the raw client below.)"""
    b = "/" + unique("kreconnect")
    other = kazoo_factory(sserver)
    other.create(b)
    other.create(b + "/data", b"v0")
    proxy = Proxy(sserver.host, sserver.port)
    k, states = kazoo_via(proxy.hostport)
    try:
        sid = k.client_id[0]
        k.create(b + "/eph", b"", ephemeral=True)
        events = []
        k.get(b + "/data", watch=lambda e: events.append(("data", e.type, e.path)))
        proxy.refusing = True
        proxy.cut()
        wait_until(lambda: KazooState.SUSPENDED in states, 10, desc="kazoo SUSPENDED")
        other.set(b + "/data", b"v1")       # while disconnected
        other.create(b + "/later", b"")
        proxy.refusing = False
        wait_until(lambda: states and states[-1] == KazooState.CONNECTED and k.connected,
                   15, desc="kazoo reconnected")
        assert KazooState.LOST not in states, states
        assert k.client_id[0] == sid, "reconnect created a new session"
        assert k.exists(b + "/eph").ephemeralOwner == sid
        assert k.get(b + "/data")[0] == b"v1"
        assert sorted(k.get_children(b)) == ["data", "eph", "later"]
        wait_until(lambda: events, 10, desc="kazoo NONE event for dropped watch")
        assert events == [("data", "NONE", None)], events
        k.get(b + "/data", watch=lambda e: events.append(("data2", e.type, e.path)))
        other.set(b + "/data", b"v2")
        wait_until(lambda: len(events) >= 2, 10, desc="watch after reconnect")
        assert events[1] == ("data2", "CHANGED", b + "/data")
        assert proxy.accepted >= 2
    finally:
        with contextlib.suppress(Exception):
            k.stop()
            k.close()
        proxy.close()


def test_set_watches_after_reconnect(sserver, kazoo_factory):
    """Raw client: set watches, drop the socket, others change the nodes,
    re-attach and send SetWatches(relativeZxid=last seen): the server fires
    the missed events at once and keeps the rest registered."""
    b = "/" + unique("setwatches")
    other = kazoo_factory(sserver)
    other.create(b)
    for n in ("changed", "deleted", "same", "kids"):
        other.create(b + "/" + n, b"v0")
    r = zkproto.RawClient(sserver.host, sserver.port, timeout_ms=4000)
    r.get(b + "/changed", True)
    r.get(b + "/deleted", True)
    r.get(b + "/same", True)
    r.exists(b + "/born", True)
    r.exists(b + "/unborn", True)
    r.get_children(b + "/kids", True)
    r.get_children(b, True)
    sid, pw, last = r.session_id, r.passwd, r.last_zxid
    assert last > 0
    r.drop()
    other.set(b + "/changed", b"v1")
    other.delete(b + "/deleted")
    other.create(b + "/born")
    other.create(b + "/kids/k1")
    r2 = zkproto.RawClient(sserver.host, sserver.port, connect=False, last_zxid=last)
    try:
        resp = r2.connect(4000, sid, pw)
        assert resp["sessionId"] == sid
        r2.set_watches(last,
                       data=[b + "/changed", b + "/deleted", b + "/same"],
                       exist=[b + "/born", b + "/unborn"],
                       child=[b + "/kids", b])
        r2.sync(b)
        got = sorted(r2.events)
        assert got == sorted([
            ("NodeDataChanged", "SyncConnected", b + "/changed"),
            ("NodeDeleted", "SyncConnected", b + "/deleted"),
            ("NodeCreated", "SyncConnected", b + "/born"),
            ("NodeChildrenChanged", "SyncConnected", b + "/kids"),
            ("NodeChildrenChanged", "SyncConnected", b),
        ]), got
        r2.events = []
        # the untriggered watches were re-registered
        other.set(b + "/same", b"v1")
        other.create(b + "/unborn")
        r2.sync(b)
        assert sorted(r2.events) == sorted([
            ("NodeDataChanged", "SyncConnected", b + "/same"),
            ("NodeCreated", "SyncConnected", b + "/unborn"),
        ]), r2.events
        # SetWatches2 with persistent watches
        r2.events = []
        r2.set_watches(r2.last_zxid, persistent=[b + "/same"], persistent_recursive=[b + "/kids"])
        other.set(b + "/same", b"v2")
        other.set(b + "/same", b"v3")
        other.create(b + "/kids/k2")
        r2.sync(b)
        assert r2.events == [
            ("NodeDataChanged", "SyncConnected", b + "/same"),
            ("NodeDataChanged", "SyncConnected", b + "/same"),
            ("NodeCreated", "SyncConnected", b + "/kids/k2"),
        ], r2.events
    finally:
        r2.close()


def test_kazoo_session_expires_while_partitioned(sserver, kazoo_factory):
    """kazoo cut off for longer than its session timeout: on reconnect it
    learns the session expired (LOST); its ephemeral is gone."""
    b = "/" + unique("kexpire")
    other = kazoo_factory(sserver)
    other.create(b)
    proxy = Proxy(sserver.host, sserver.port)
    k, states = kazoo_via(proxy.hostport, timeout=0.8)  # negotiated 800 ms
    try:
        k.create(b + "/eph", b"", ephemeral=True)
        gone = threading.Event()
        other.exists(b + "/eph", watch=lambda e: gone.set())
        proxy.refusing = True
        proxy.cut()
        assert gone.wait(15), "partitioned session never expired"
        proxy.refusing = False
        wait_until(lambda: KazooState.LOST in states, 15, desc="kazoo LOST after expiry")
        assert other.exists(b + "/eph") is None
    finally:
        with contextlib.suppress(Exception):
            k.stop()
            k.close()
        proxy.close()


# ---------------------------------------------------------------- restarts
@pytest.mark.parametrize("kind", KINDS)
def test_graceful_restart_keeps_data_and_sessions(kind, server_pool):
    """SIGTERM + restart on the same dataDir: data is there, and a client
    that reconnects within its session timeout keeps its session and
    ephemerals (sessions are part of the persisted state)."""
    srv = server_pool.fresh(kind, SESSION_CFG)
    b = "/" + unique("restart")
    r = zkproto.RawClient(srv.host, srv.port, timeout_ms=4000)
    r.create(b, b"persist")
    r.create(b + "/eph", b"", flags=zkproto.EPHEMERAL)
    sid, pw, last = r.session_id, r.passwd, r.last_zxid
    r.drop()
    srv.restart()
    r2 = zkproto.RawClient(srv.host, srv.port, connect=False, last_zxid=last)
    try:
        resp = r2.connect(4000, sid, pw)
        assert resp["sessionId"] == sid and resp["timeOut"] > 0, \
            "session not restored after restart: %r" % resp
        assert r2.get(b)[0] == b"persist"
        st = r2.exists(b + "/eph")
        assert st is not None and st["ephemeralOwner"] == sid
    finally:
        r2.close()
    srv.cleanup()


@pytest.mark.parametrize("kind", KINDS)
def test_kill9_under_write_load_keeps_acknowledged_writes(kind, server_pool):
    """kill -9 the server while clients write; after restart on the same
    dataDir every acknowledged create/set is present."""
    srv = server_pool.fresh(kind, SESSION_CFG)
    b = "/" + unique("kill9")
    setup = KazooClient(hosts=srv.hostport, timeout=4.0)
    setup.start(15)
    setup.create(b)
    setup.create(b + "/counter", b"0")
    setup.stop()
    setup.close()

    acked = {}
    acked_sets = []
    lock = threading.Lock()
    stop = threading.Event()
    errors = []

    def writer(wid):
        c = KazooClient(hosts=srv.hostport, timeout=4.0,
                        connection_retry=KazooRetry(max_tries=0))
        try:
            c.start(15)
        except Exception as e:  # noqa: BLE001
            errors.append(e)
            return
        i = 0
        try:
            while not stop.is_set() and i < 5000:
                data = ("w%d-%d" % (wid, i)).encode()
                try:
                    p = c.create_async(b + "/n-%d-" % wid, data, sequence=True).get(timeout=5)
                except Exception:  # noqa: BLE001 - ConnectionLoss, timeout, ...
                    break
                with lock:
                    acked[p] = data
                if i % 10 == 0:
                    try:
                        st = c.set_async(b + "/counter", data).get(timeout=5)
                    except Exception:  # noqa: BLE001
                        break
                    with lock:
                        acked_sets.append((st.version, data))
                i += 1
        finally:
            with contextlib.suppress(Exception):
                c.stop()
                c.close()

    threads = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(3)]
    for t in threads:
        t.start()
    wait_until(lambda: len(acked) >= 300 or errors, 60, desc="300 acknowledged writes")
    assert not errors, errors
    srv.kill9()
    stop.set()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads), "writer threads hung after kill -9"
    with lock:
        acked_copy = dict(acked)
        sets_copy = list(acked_sets)
    assert len(acked_copy) >= 300

    srv.start()
    c = KazooClient(hosts=srv.hostport, timeout=4.0)
    c.start(15)
    try:
        children = set(c.get_children(b))
        missing = [p for p in acked_copy if p.rsplit("/", 1)[1] not in children]
        assert not missing, "%d acknowledged creates lost after kill -9, e.g. %s" % (
            len(missing), missing[:5])
        wrong = [p for p, d in list(acked_copy.items())[:200] if c.get(p)[0] != d]
        assert not wrong, "data differs after restart: %s" % wrong[:5]
        data, st = c.get(b + "/counter")
        if sets_copy:
            top_version, _ = max(sets_copy)
            assert st.version >= top_version, (st.version, top_version)
        # zxids keep increasing after recovery
        max_czxid = max(c.exists(p).czxid for p in list(acked_copy)[-20:])
        _, new_st = c.create(b + "/after", b"", include_data=True)
        assert new_st.czxid > max_czxid
    finally:
        c.stop()
        c.close()
        srv.cleanup()
