"""kazoo's high-level recipes against zookeeperd (ZK_TARGET=apache runs them
against Apache ZooKeeper).  Every test asserts real outcomes: mutual
exclusion, a single leader, counts adding up, FIFO order, ...
"""

import threading
import time

import pytest
from kazoo.exceptions import LockTimeout
from kazoo.recipe.barrier import Barrier, DoubleBarrier
from kazoo.recipe.cache import TreeCache, TreeEvent
from kazoo.recipe.counter import Counter
from kazoo.recipe.election import Election
from kazoo.recipe.lock import Lock, ReadLock, Semaphore, WriteLock
from kazoo.recipe.party import Party, ShallowParty
from kazoo.recipe.queue import LockingQueue, Queue
from kazoo.recipe.watchers import ChildrenWatch, DataWatch

from conftest import wait_until


def run_threads(fns, timeout=60):
    errors = []

    def wrap(fn):
        def w():
            try:
                fn()
            except BaseException as e:  # noqa: BLE001
                errors.append(e)
        return w

    ts = [threading.Thread(target=wrap(f), daemon=True) for f in fns]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout)
    assert not any(t.is_alive() for t in ts), "threads did not finish"
    assert not errors, errors


# ------------------------------------------------------------------ locks
def test_lock_serializes_contenders(target_server, kazoo_factory, uniq):
    clients = [kazoo_factory(target_server) for _ in range(3)]
    inside = []
    max_inside = [0]
    order = []
    guard = threading.Lock()

    def contender(i, c):
        lock = Lock(c, uniq + "/lock", identifier="c%d" % i)
        for _ in range(5):
            with lock:
                with guard:
                    inside.append(i)
                    max_inside[0] = max(max_inside[0], len(inside))
                    order.append(i)
                # hold the lock across a server round trip so overlaps show
                c.set(uniq + "/lock", str(i).encode())
                with guard:
                    inside.remove(i)

    clients[0].ensure_path(uniq + "/lock")
    run_threads([lambda i=i, c=c: contender(i, c) for i, c in enumerate(clients)])
    assert max_inside[0] == 1, "two contenders held the lock at once"
    assert sorted(order) == [0] * 5 + [1] * 5 + [2] * 5
    assert clients[0].get_children(uniq + "/lock") == []


def test_lock_timeout_and_release_on_session_close(target_server, kazoo_factory, uniq):
    holder = kazoo_factory(target_server)
    waiter = kazoo_factory(target_server)
    l1 = Lock(holder, uniq, identifier="holder")
    assert l1.acquire(timeout=5)
    l2 = Lock(waiter, uniq, identifier="waiter")
    with pytest.raises(LockTimeout):
        l2.acquire(timeout=0.3)
    assert l2.contenders() == ["holder"]
    got = threading.Event()

    def wait_for_it():
        if l2.acquire(timeout=20):
            got.set()

    t = threading.Thread(target=wait_for_it, daemon=True)
    t.start()
    wait_until(lambda: len(Lock(holder, uniq).contenders()) == 2, 10, desc="waiter queued")
    assert not got.is_set()
    holder.stop()  # session closes -> its ephemeral lock node goes away
    assert got.wait(15), "lock not handed over after holder's session closed"
    assert l2.is_acquired
    l2.release()
    t.join(5)


def test_semaphore_and_rw_locks(target_server, kazoo_factory, uniq):
    clients = [kazoo_factory(target_server) for _ in range(4)]
    active, peak = [0], [0]
    g = threading.Lock()

    def user(c, i):
        sem = Semaphore(c, uniq + "/sem", identifier="u%d" % i, max_leases=2)
        for _ in range(3):
            with sem:
                with g:
                    active[0] += 1
                    peak[0] = max(peak[0], active[0])
                # stay inside until a second holder shows up (proves 2 are
                # allowed); bounded, so a 1-lease semaphore fails the assert
                deadline = time.monotonic() + 5
                while peak[0] < 2 and time.monotonic() < deadline:
                    c.sync("/")
                with g:
                    active[0] -= 1

    run_threads([lambda c=c, i=i: user(c, i) for i, c in enumerate(clients)])
    assert peak[0] == 2, "semaphore allowed %d concurrent holders (max 2)" % peak[0]

    r1 = ReadLock(clients[0], uniq + "/rw")
    r2 = ReadLock(clients[1], uniq + "/rw")
    w = WriteLock(clients[2], uniq + "/rw")
    assert r1.acquire(timeout=5) and r2.acquire(timeout=5), "readers must share"
    with pytest.raises(LockTimeout):
        w.acquire(timeout=0.3)
    r1.release()
    r2.release()
    assert w.acquire(timeout=5)
    r3 = ReadLock(clients[3], uniq + "/rw")
    with pytest.raises(LockTimeout):
        r3.acquire(timeout=0.3)
    w.release()
    assert r3.acquire(timeout=5)
    r3.release()


# ------------------------------------------------------------------ election
def test_election_single_leader_and_reelection(target_server, kazoo_factory, uniq):
    n = 3
    clients = [kazoo_factory(target_server) for _ in range(n)]
    leaders = []  # in order of taking office
    current = []
    release = {i: threading.Event() for i in range(n)}
    g = threading.Lock()
    overlap = []

    def make_leader_fn(i):
        def lead():
            with g:
                if current:
                    overlap.append((current[:], i))
                current.append(i)
                leaders.append(i)
            release[i].wait(30)
            with g:
                current.remove(i)
        return lead

    elections = [Election(c, uniq, identifier="node%d" % i) for i, c in enumerate(clients)]
    run_errors = []

    def run(i, e):
        try:
            e.run(make_leader_fn(i))
        except Exception as ex:  # noqa: BLE001
            # the contender whose session we close cannot delete its node
            run_errors.append((i, type(ex).__name__))

    threads = [threading.Thread(target=run, args=(i, e), daemon=True)
               for i, e in enumerate(elections)]
    for t in threads:
        t.start()
    wait_until(lambda: len(elections[0].contenders()) == n, 10, desc="all contenders")
    wait_until(lambda: len(leaders) == 1, 10, desc="first leader")
    assert sorted(elections[0].contenders()) == ["node0", "node1", "node2"]
    first = leaders[0]
    assert elections[0].contenders()[0] == "node%d" % first
    # the leader steps down -> exactly one successor
    release[first].set()
    wait_until(lambda: len(leaders) == 2, 10, desc="re-election after leader left")
    second = leaders[1]
    assert second != first
    # the successor's session dies -> the last one takes over
    clients[second].stop()
    release[second].set()
    wait_until(lambda: len(leaders) == 3, 15, desc="re-election after leader session closed")
    third = leaders[2]
    assert len({first, second, third}) == 3
    release[third].set()
    for t in threads:
        t.join(10)
    # The only allowed overlap: the successor takes over while the leader
    # whose session was closed has not yet noticed (its thread is still
    # waiting on release[second]). Any other overlap is a real violation.
    bad = [o for o in overlap if o[0] != [second]]
    assert not bad, "two leaders at once: %r (second=%r)" % (overlap, second)
    assert all(i == second for i, _ in run_errors), run_errors


# ------------------------------------------------------------------ barriers
def test_barrier(target_server, kazoo_factory, uniq):
    c1, c2 = kazoo_factory(target_server), kazoo_factory(target_server)
    b1 = Barrier(c1, uniq + "/barrier")
    b2 = Barrier(c2, uniq + "/barrier")
    assert b2.wait(timeout=0.2) is True, "no barrier node => wait passes"
    b1.create()
    assert b2.wait(timeout=0.2) is False, "barrier up => wait times out"
    passed = threading.Event()
    t = threading.Thread(target=lambda: b2.wait(timeout=20) and passed.set(), daemon=True)
    t.start()
    wait_until(lambda: c1.exists(uniq + "/barrier"), 5)
    assert not passed.is_set()
    b1.remove()
    assert passed.wait(10), "waiter not released when barrier removed"


def test_double_barrier(target_server, kazoo_factory, uniq):
    n = 3
    clients = [kazoo_factory(target_server) for _ in range(n)]
    entered, left = [], []
    g = threading.Lock()

    def member(i, c):
        db = DoubleBarrier(c, uniq + "/db", n, identifier="m%d" % i)
        db.enter()
        with g:
            entered.append(i)
        db.leave()
        with g:
            left.append(i)

    ts = [threading.Thread(target=member, args=(i, c), daemon=True)
          for i, c in enumerate(clients[:2])]
    for t in ts:
        t.start()
    wait_until(lambda: clients[0].exists(uniq + "/db")
               and len(clients[0].get_children(uniq + "/db")) >= 2, 10,
               desc="two members waiting")
    assert entered == [], "entered before all %d members arrived" % n
    t3 = threading.Thread(target=member, args=(2, clients[2]), daemon=True)
    t3.start()
    for t in ts + [t3]:
        t.join(30)
    assert sorted(entered) == [0, 1, 2] and sorted(left) == [0, 1, 2]


# ------------------------------------------------------------------ counter
def test_counter_concurrent_increments(target_server, kazoo_factory, uniq):
    clients = [kazoo_factory(target_server) for _ in range(4)]
    per = 25

    def inc(c):
        ctr = Counter(c, uniq + "/ctr")
        for _ in range(per):
            ctr += 1

    run_threads([lambda c=c: inc(c) for c in clients])
    ctr = Counter(clients[0], uniq + "/ctr")
    assert ctr.value == 4 * per
    ctr -= 10
    assert ctr.value == 4 * per - 10
    fctr = Counter(clients[1], uniq + "/fctr", default=0.0)
    fctr += 2.5
    fctr += 0.25
    assert fctr.value == 2.75
    assert clients[2].get(uniq + "/ctr")[0] == str(4 * per - 10).encode()


# ------------------------------------------------------------------ queues
def test_queue_fifo_and_priority(target_server, kazoo_factory, uniq):
    c1, c2 = kazoo_factory(target_server), kazoo_factory(target_server)
    q = Queue(c1, uniq + "/q")
    for i in range(10):
        q.put(("item%d" % i).encode())
    q.put(b"urgent", priority=1)
    assert len(q) == 11
    q2 = Queue(c2, uniq + "/q")
    assert q2.get() == b"urgent"
    got = [q2.get() for _ in range(10)]
    assert got == [("item%d" % i).encode() for i in range(10)]
    assert q2.get() is None and len(q) == 0


def test_queue_concurrent_consumers_get_each_item_once(target_server, kazoo_factory, uniq):
    producer = kazoo_factory(target_server)
    consumers = [kazoo_factory(target_server) for _ in range(3)]
    q = Queue(producer, uniq + "/q")
    items = [("x%d" % i).encode() for i in range(60)]
    for it in items:
        q.put(it)
    got = []
    g = threading.Lock()

    def consume(c):
        cq = Queue(c, uniq + "/q")
        while True:
            v = cq.get()
            if v is None:
                return
            with g:
                got.append(v)

    run_threads([lambda c=c: consume(c) for c in consumers])
    assert sorted(got) == sorted(items), "items lost or duplicated"


def test_locking_queue(target_server, kazoo_factory, uniq):
    c1, c2, c3 = (kazoo_factory(target_server) for _ in range(3))
    q = LockingQueue(c1, uniq + "/lq")
    q.put(b"a")
    q.put(b"b", priority=50)
    q.put_all([b"c", b"d"], priority=100)
    assert len(q) == 4
    w1 = LockingQueue(c2, uniq + "/lq")
    w2 = LockingQueue(c3, uniq + "/lq")
    assert w1.get(timeout=5) == b"b"      # lowest priority value first
    assert w2.get(timeout=5) == b"a"      # b is locked by w1 => next
    assert w2.holds_lock()
    assert w2.release()                   # give a back without consuming
    assert w1.consume()                   # b consumed
    assert len(q) == 3
    assert w1.get(timeout=5) == b"a"
    assert w1.consume()
    assert [w1.get(timeout=5), w1.consume()] == [b"c", True]
    assert [w1.get(timeout=5), w1.consume()] == [b"d", True]
    assert len(q) == 0
    assert w1.get(timeout=0.2) is None
    # a blocked get wakes up when an item arrives
    res = []
    t = threading.Thread(target=lambda: res.append(w2.get(timeout=20)), daemon=True)
    t.start()
    q.put(b"late")
    t.join(20)
    assert res == [b"late"]
    assert w2.consume()


# ------------------------------------------------------------------ party
@pytest.mark.parametrize("cls", [Party, ShallowParty])
def test_party_membership(cls, target_server, kazoo_factory, uniq):
    clients = [kazoo_factory(target_server) for _ in range(3)]
    parties = [cls(c, uniq + "/party", identifier="member-%d" % i) for i, c in enumerate(clients)]
    for p in parties:
        p.join()
    assert len(parties[0]) == 3
    assert sorted(parties[0]) == ["member-0", "member-1", "member-2"]
    parties[1].leave()
    assert sorted(parties[2]) == ["member-0", "member-2"]
    clients[2].stop()  # ephemeral membership ends with the session
    wait_until(lambda: len(cls(clients[0], uniq + "/party")) == 1, 10, desc="member left")
    assert list(parties[0]) == ["member-0"]


# ------------------------------------------------------------------ watchers
def test_data_watch(target_server, kazoo_factory, uniq):
    c, m = kazoo_factory(target_server), kazoo_factory(target_server)
    seen = []
    g = threading.Lock()

    @DataWatch(c, uniq)
    def watcher(data, stat):
        with g:
            seen.append((data, stat.version if stat else None))

    wait_until(lambda: seen == [(None, None)], 5, desc="initial call for missing node")
    m.create(uniq, b"v0")
    wait_until(lambda: seen[-1:] == [(b"v0", 0)], 10, desc="DataWatch sees create")
    for i in range(1, 4):
        m.set(uniq, ("v%d" % i).encode())
        wait_until(lambda i=i: seen[-1] == (("v%d" % i).encode(), i), 10,
                   desc="DataWatch sees set %d" % i)
    m.delete(uniq)
    wait_until(lambda: seen[-1] == (None, None), 10, desc="DataWatch sees delete")
    versions = [v for _, v in seen if v is not None]
    assert versions == sorted(versions)


def test_children_watch(target_server, kazoo_factory, uniq):
    c, m = kazoo_factory(target_server), kazoo_factory(target_server)
    m.create(uniq)
    seen = []

    ChildrenWatch(c, uniq, func=lambda kids: seen.append(sorted(kids)))
    wait_until(lambda: seen and seen[-1] == [], 5)
    for name in ("a", "b", "c"):
        m.create(uniq + "/" + name)
    wait_until(lambda: seen[-1] == ["a", "b", "c"], 10, desc="ChildrenWatch sees creates")
    m.delete(uniq + "/b")
    wait_until(lambda: seen[-1] == ["a", "c"], 10, desc="ChildrenWatch sees delete")
    e = m.create(uniq + "/eph", ephemeral=True)
    wait_until(lambda: "eph" in seen[-1], 10)
    m.stop()
    wait_until(lambda: seen[-1] == ["a", "c"], 10, desc="ephemeral child gone with session")
    assert e == uniq + "/eph"


def test_tree_cache(target_server, kazoo_factory, uniq):
    c, m = kazoo_factory(target_server), kazoo_factory(target_server)
    m.create(uniq + "/a/b", b"ab", makepath=True)
    m.create(uniq + "/c", b"c")
    cache = TreeCache(c, uniq)
    events = []
    cache.listen(lambda ev: events.append(ev))
    cache.start()
    try:
        wait_until(lambda: any(e.event_type == TreeEvent.INITIALIZED for e in events), 10,
                   desc="TreeCache initialized")
        assert sorted(cache.get_children(uniq)) == ["a", "c"]
        assert cache.get_data(uniq + "/a/b").data == b"ab"
        m.create(uniq + "/a/new", b"n")
        m.set(uniq + "/c", b"c2")
        m.delete(uniq + "/a/b")
        wait_until(lambda: cache.get_data(uniq + "/a/new") is not None
                   and cache.get_data(uniq + "/c").data == b"c2"
                   and cache.get_data(uniq + "/a/b") is None, 10,
                   desc="TreeCache reflects changes")
        assert cache.get_data(uniq + "/c").stat.version == 1
        kinds = [(e.event_type, e.event_data.path if e.event_data else None) for e in events]
        assert (TreeEvent.NODE_ADDED, uniq + "/a/new") in kinds
        assert (TreeEvent.NODE_UPDATED, uniq + "/c") in kinds
        assert (TreeEvent.NODE_REMOVED, uniq + "/a/b") in kinds
        assert sorted(cache.get_children(uniq + "/a")) == ["new"]
    finally:
        cache.close()


# ------------------------------------------------------------------ transactions
def test_transaction_atomicity_under_contention(target_server, kazoo_factory, uniq):
    """Concurrent check-and-set transactions: each version is won by exactly
    one writer, so the final version equals the number of successes."""
    clients = [kazoo_factory(target_server) for _ in range(3)]
    clients[0].create(uniq, b"0")
    clients[0].create(uniq + "/log")
    wins = []
    g = threading.Lock()

    def writer(i, c):
        for _ in range(15):
            data, st = c.get(uniq)
            tx = c.transaction()
            tx.check(uniq, st.version)
            tx.set_data(uniq, str(int(data) + 1).encode())
            tx.create(uniq + "/log/e-", str(i).encode(), sequence=True)
            res = tx.commit()
            if not any(isinstance(r, Exception) for r in res):
                with g:
                    wins.append(i)
            else:
                assert type(res[0]).__name__ in ("BadVersionError", "RolledBackError"), res

    run_threads([lambda i=i, c=c: writer(i, c) for i, c in enumerate(clients)])
    data, st = clients[0].get(uniq)
    assert int(data) == len(wins) == st.version
    assert len(clients[0].get_children(uniq + "/log")) == len(wins)
    with clients[0].transaction() as tx:
        tx.delete(uniq + "/log/" + sorted(clients[0].get_children(uniq + "/log"))[0])
    assert len(clients[0].get_children(uniq + "/log")) == len(wins) - 1
