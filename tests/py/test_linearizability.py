"""The compare-and-set register checker (linearizability.py) must accept
linearizable histories and reject the others: hand-made histories for each
kind of anomaly, random small histories cross-checked against brute force,
and a 10,000-operation history checked within seconds, then broken by one
stale read."""

import heapq
import itertools
import random
import time

import pytest

from linearizability import (BAD_VERSION, CAS, OK, READ, UNKNOWN, CheckTimeout, History, Op,
                             _step, check)

pytestmark = pytest.mark.timeout(120)

INIT = (b"", 0)


def rd(client, call, ret, data, version):
    return Op(client, READ, None, call, ret, (data, version))


def cas(client, call, ret, expected, new, out):
    """ret None: unknown (out must be UNKNOWN)."""
    assert (ret is None) == (out == UNKNOWN)
    return Op(client, CAS, (expected, new), call, ret, out)


def linearizable(ops, init=INIT):
    return bool(check(ops, init, timeout=30))


# ------------------------------------------------------------------ basics
def test_empty_and_single_ops():
    assert linearizable([])
    assert linearizable([rd(1, 0, 1, b"", 0)])
    assert not linearizable([rd(1, 0, 1, b"x", 0)])
    assert not linearizable([rd(1, 0, 1, b"", 1)])
    assert linearizable([cas(1, 0, 1, 0, b"a", OK)])
    assert linearizable([cas(1, 0, 1, 0, b"a", (OK, 1))])
    assert not linearizable([cas(1, 0, 1, 0, b"a", (OK, 2))]), \
        "an ok reporting a version other than expected+1"
    assert not linearizable([cas(1, 0, 1, 3, b"a", OK)])
    assert linearizable([cas(1, 0, 1, 3, b"a", BAD_VERSION)])
    assert linearizable([cas(1, 0, None, 0, b"a", UNKNOWN)])
    assert linearizable([cas(1, 0, None, 7, b"a", UNKNOWN)])
    assert linearizable([rd(1, 0, 1, b"q", 4)], init=(b"q", 4))


def test_sequential_write_then_read():
    h = [cas(1, 0, 10, 0, b"a", OK), rd(2, 20, 30, b"a", 1)]
    assert linearizable(h)


def test_stale_read_after_completed_write():
    h = [cas(1, 0, 10, 0, b"a", OK), rd(2, 20, 30, b"", 0)]
    r = check(h, INIT)
    assert not r
    assert "read() -> (b'', 0)" in r.info, r.info


def test_read_concurrent_with_write_sees_either():
    w = cas(1, 0, 30, 0, b"a", OK)
    assert linearizable([w, rd(2, 10, 20, b"", 0)])
    assert linearizable([w, rd(2, 10, 20, b"a", 1)])
    # but not the new value, then the old one
    assert not linearizable([w, rd(2, 5, 10, b"a", 1), rd(3, 15, 20, b"", 0)])


def test_two_oks_from_the_same_expected_version():
    # concurrent
    assert not linearizable([cas(1, 0, 10, 0, b"a", OK), cas(2, 1, 11, 0, b"b", OK)])
    # sequential
    assert not linearizable([cas(1, 0, 10, 0, b"a", OK), cas(2, 20, 30, 0, b"b", OK)])
    # one ok, one bad version: fine
    assert linearizable([cas(1, 0, 10, 0, b"a", OK), cas(2, 1, 11, 0, b"b", BAD_VERSION)])


def test_lost_ok_write():
    # "a" was acknowledged, yet "b" (from the same version) is what is there
    h = [cas(1, 0, 10, 0, b"a", OK), cas(2, 5, None, 0, b"b", UNKNOWN),
         rd(3, 20, 30, b"b", 1)]
    assert not linearizable(h)
    # the same with "a" unknown and "b" acknowledged is fine
    h = [cas(1, 0, None, 0, b"a", UNKNOWN), cas(2, 5, 10, 0, b"b", OK),
         rd(3, 20, 30, b"b", 1)]
    assert linearizable(h)
    # acknowledged, then a later cas from the old version succeeds
    h = [cas(1, 0, 10, 0, b"a", OK), cas(1, 20, 30, 1, b"b", OK),
         cas(2, 40, 50, 1, b"c", OK)]
    assert not linearizable(h)
    # acknowledged, then a bad version for the version it created
    h = [cas(1, 0, 10, 0, b"a", OK), cas(2, 20, 30, 1, b"b", BAD_VERSION)]
    assert not linearizable(h)


def test_bad_version_needs_another_version():
    assert not linearizable([cas(1, 0, 10, 0, b"a", BAD_VERSION)])
    # a concurrent write can explain it
    assert linearizable([cas(1, 0, 10, 0, b"a", BAD_VERSION), cas(2, 5, 15, 0, b"b", OK)])
    # ...but not one that completed before it began and left version 0 behind
    assert not linearizable([cas(2, 0, 5, 0, b"b", BAD_VERSION), cas(1, 10, 20, 0, b"a", BAD_VERSION)])


def test_unknown_op_that_happened():
    h = [cas(1, 0, None, 0, b"a", UNKNOWN), rd(2, 20, 30, b"a", 1)]
    assert linearizable(h)
    # long after, and after another client built on it
    h = [cas(1, 0, None, 0, b"a", UNKNOWN), cas(2, 100, 110, 1, b"b", OK),
         rd(3, 1000, 1010, b"b", 2)]
    assert linearizable(h)


def test_unknown_op_that_did_not_happen():
    h = [cas(1, 0, None, 0, b"a", UNKNOWN), rd(2, 20, 30, b"", 0)]
    assert linearizable(h)
    # not yet, then later (an unknown op may take effect any time after its call)
    h = [cas(1, 0, None, 0, b"a", UNKNOWN), rd(2, 20, 30, b"", 0), rd(2, 40, 50, b"a", 1)]
    assert linearizable(h)
    # another write won instead
    h = [cas(1, 0, None, 0, b"a", UNKNOWN), cas(2, 5, 10, 0, b"b", OK), rd(3, 20, 30, b"b", 1)]
    assert linearizable(h)


def test_unknown_op_cannot_be_undone_or_precede_its_call():
    # it happened, then it did not
    h = [cas(1, 0, None, 0, b"a", UNKNOWN), rd(2, 20, 30, b"a", 1), rd(2, 40, 50, b"", 0)]
    assert not linearizable(h)
    # seen before it was called
    h = [rd(2, 0, 10, b"a", 1), cas(1, 20, None, 0, b"a", UNKNOWN)]
    assert not linearizable(h)
    # it needs its expected version: version 5 never existed
    h = [cas(1, 0, None, 5, b"a", UNKNOWN), rd(2, 20, 30, b"a", 6)]
    assert not linearizable(h)
    # two unknown cas from version 0: at most one can take effect
    h = [cas(1, 0, None, 0, b"a", UNKNOWN), cas(2, 1, None, 0, b"b", UNKNOWN),
         rd(3, 20, 30, b"b", 1), rd(3, 40, 50, b"a", 1)]
    assert not linearizable(h)
    h = [cas(1, 0, None, 0, b"a", UNKNOWN), cas(2, 1, None, 1, b"b", UNKNOWN),
         rd(3, 20, 30, b"a", 1), rd(3, 40, 50, b"b", 2)]
    assert linearizable(h)


def test_value_never_written():
    h = [cas(1, 0, 10, 0, b"a", OK), rd(2, 20, 30, b"z", 1)]
    assert not linearizable(h)


def test_real_time_order_of_concurrent_reads_and_writes():
    a = cas(1, 0, 10, 0, b"a", OK)
    b = cas(2, 20, 30, 1, b"b", OK)
    assert linearizable([a, b, rd(3, 5, 25, b"b", 2)])  # overlaps b
    assert linearizable([a, b, rd(3, 5, 25, b"", 0)])   # overlaps a
    assert not linearizable([a, b, rd(3, 15, 25, b"", 0)])  # after a
    assert not linearizable([a, b, rd(3, 12, 18, b"b", 2)])  # before b


def test_backtracking_past_the_first_choice():
    # the walk first linearizes the write (earliest call); the read then
    # has no point, so the search must undo the write and put the read first
    h = [cas(1, 0, 100, 0, b"x", OK), rd(2, 10, 20, b"", 0), rd(3, 30, 40, b"x", 1)]
    r = check(h, INIT)
    assert r and r.steps > len(h) + 1, r
    # three writers racing from version 0..2; only one order works
    h = [cas(1, 0, 100, 1, b"b", OK), cas(2, 0, 100, 2, b"c", OK), cas(3, 0, 100, 0, b"a", OK),
         rd(4, 110, 120, b"c", 3)]
    assert linearizable(h)
    h[3] = rd(4, 110, 120, b"b", 2)
    assert not linearizable(h)


def test_equal_times_are_concurrent():
    # call at the same instant as the other's return: either order is fine
    assert linearizable([cas(1, 0, 10, 0, b"a", OK), rd(2, 10, 20, b"", 0)])


def test_history_recorder():
    h = History()
    r1 = h.invoke(1, READ)
    h.ok(r1, (b"", 0), member=1)
    c1 = h.invoke(2, CAS, (0, b"a"))
    h.ok(c1, OK)
    c2 = h.invoke(3, CAS, (0, b"b"))
    h.unknown(c2)
    c3 = h.invoke(4, CAS, (1, b"c"))  # still pending: unknown
    r2 = h.invoke(5, READ)  # still pending: dropped
    r3 = h.invoke(6, READ)
    h.discard(r3)
    ops = h.ops()
    assert [o.client for o in ops] == [1, 2, 3, 4]
    assert c2.ret is None and c3.ret is None and c3.out == UNKNOWN
    assert r1.call <= r1.ret <= c1.call <= c1.ret and r1.meta == {"member": 1}
    assert r2 not in ops
    assert check(ops, INIT)


def test_invalid_input_is_refused():
    with pytest.raises(ValueError):
        check([rd(1, 10, 5, b"", 0)], INIT)
    with pytest.raises(ValueError):
        check([Op(1, READ, None, 0, None, UNKNOWN)], INIT)
    with pytest.raises(ValueError):
        check([cas(1, 0, 1, 0, b"a", "weird")], INIT)


# ------------------------------------------------------------------ brute force
def brute_force(ops, init):
    """Every subset of the unknown ops, every order respecting real time."""
    completed = [o for o in ops if o.ret is not None]
    unknown = [o for o in ops if o.ret is None]
    for k in range(len(unknown) + 1):
        for subset in itertools.combinations(unknown, k):
            chosen = completed + list(subset)
            for perm in itertools.permutations(chosen):
                ok = True
                for i, a in enumerate(perm):
                    # a must not come after anything that returned before a's call
                    if any(b.ret is not None and b.ret < a.call for b in perm[i + 1:]):
                        ok = False
                        break
                if not ok:
                    continue
                state = init
                for o in perm:
                    state = _step(state, o, o.ret is None)
                    if state is None:
                        break
                if state is not None:
                    return True
    return False


def random_small_history(rng):
    n = rng.randint(1, 6)
    ops = []
    values = [(b"", 0)]
    for i in range(n):
        call = rng.randint(0, 40)
        ret = call + rng.randint(0, 25)
        if rng.random() < 0.4:
            data, version = rng.choice(values + [(b"v%d" % rng.randint(0, n), rng.randint(0, 3))])
            ops.append(rd(i, call, ret, data, version))
        else:
            expected = rng.randint(0, 3)
            new = b"v%d" % i
            values.append((new, expected + 1))
            out = rng.choice([OK, OK, BAD_VERSION, UNKNOWN])
            ops.append(cas(i, call, None if out == UNKNOWN else ret, expected, new, out))
    return ops


def test_agrees_with_brute_force_on_random_small_histories():
    rng = random.Random(1234)
    counts = {True: 0, False: 0}
    for _ in range(4000):
        h = random_small_history(rng)
        want = brute_force(h, INIT)
        got = bool(check(h, INIT))
        assert got == want, "checker says %s, brute force %s, for:\n%s" % (
            got, want, "\n".join(o.describe() for o in h))
        counts[want] += 1
    # both answers occur often, so agreement means something
    assert counts[True] > 500 and counts[False] > 500, counts


# ------------------------------------------------------------------ large histories
def simulate(rng, n_ops, clients=5, p_unknown=0.01, p_read=0.5):
    """A linearizable history by construction: ops of `clients` clients
    (one in flight each) take effect at a random point between call and
    return; an unknown op takes effect (possibly much later) or never."""
    state = INIT
    ops = []
    t = 0
    q = []  # (time, seq, kind, client, op)
    seq = itertools.count()
    known = {c: 0 for c in range(clients)}  # last version each client saw
    counter = itertools.count()
    for c in range(clients):
        heapq.heappush(q, (rng.randint(0, 1000), next(seq), "call", c, None))
    issued = 0
    while q:
        t, _, what, c, op = heapq.heappop(q)
        if what == "call":
            if issued >= n_ops:
                continue
            issued += 1
            if rng.random() < p_read:
                op = Op(c, READ, None, t)
            else:
                exp = known[c] if rng.random() < 0.8 else max(0, known[c] + rng.randint(-2, 2))
                op = Op(c, CAS, (exp, b"c%d-%d" % (c, next(counter))), t)
            ops.append(op)
            if op.kind == CAS and rng.random() < p_unknown:
                op.out, op.ret = UNKNOWN, None
                if rng.random() < 0.5:  # it takes effect, maybe long after
                    heapq.heappush(q, (t + rng.randint(1, 200000), next(seq), "effect", c, op))
                # the client gives up on it and goes on
                heapq.heappush(q, (t + rng.randint(1000, 5000), next(seq), "call", c, None))
            else:
                heapq.heappush(q, (t + rng.randint(1, 800), next(seq), "lp", c, op))
        elif what == "effect":
            if state[1] == op.arg[0]:
                state = (op.arg[1], op.arg[0] + 1)
        elif what == "lp":
            if op.kind == READ:
                op.out = state
            elif state[1] == op.arg[0]:
                state = (op.arg[1], op.arg[0] + 1)
                op.out = (OK, state[1])
            else:
                op.out = BAD_VERSION
            heapq.heappush(q, (t + rng.randint(1, 800), next(seq), "ret", c, op))
        else:  # ret
            op.ret = t
            if op.kind == READ:
                known[c] = op.out[1]
            elif op.out != BAD_VERSION:
                known[c] = op.out[1]
            heapq.heappush(q, (t + rng.randint(0, 300), next(seq), "call", c, None))
    return ops


def test_ten_thousand_ops_in_seconds():
    rng = random.Random(99)
    h = simulate(rng, 12000)
    n_unknown = sum(o.ret is None for o in h)
    n_ok = sum(o.kind == CAS and o.out not in (BAD_VERSION, UNKNOWN) for o in h)
    assert len(h) == 12000 and n_unknown > 50 and n_ok > 1500, (n_unknown, n_ok)
    t0 = time.monotonic()
    r = check(h, INIT, timeout=60)
    elapsed = time.monotonic() - t0
    assert r, r.info
    assert elapsed < 10, "checking %d ops took %.1fs" % (len(h), elapsed)


def test_large_history_with_one_stale_read_fails():
    rng = random.Random(7)
    h = simulate(rng, 12000)
    assert check(h, INIT, timeout=60)
    # a read late in the history that returns the state of a version that
    # had been replaced by a write completed before the read's call
    oks = [o for o in h if o.kind == CAS and isinstance(o.out, tuple)]
    reads = [o for o in h if o.kind == READ and o.call > oks[len(oks) * 3 // 4].ret]
    victim = reads[len(reads) // 2]
    older = [o for o in oks if o.ret is not None and o.ret < victim.call
             and o.out[1] < victim.out[1] - 2]
    w = older[-1]
    victim.out = (w.arg[1], w.out[1])
    t0 = time.monotonic()
    r = check(h, INIT, timeout=60)
    assert not r
    assert time.monotonic() - t0 < 20
    assert victim.describe(min(o.call for o in h)) in r.info, r.info


def test_large_history_with_two_oks_from_one_version_fails():
    rng = random.Random(8)
    h = simulate(rng, 12000, p_unknown=0.0)
    # make a late bad_version cas an ok from a version that was taken
    bads = [o for o in h if o.kind == CAS and o.out == BAD_VERSION]
    victim = bads[len(bads) * 2 // 3]
    oks = [o for o in h if o.kind == CAS and isinstance(o.out, tuple)
           and o.ret < victim.call]
    victim.arg = (oks[-3].arg[0], victim.arg[1])
    victim.out = (OK, oks[-3].arg[0] + 1)
    assert not check(h, INIT, timeout=60)


def test_search_budget():
    rng = random.Random(5)
    h = simulate(rng, 3000)
    with pytest.raises(CheckTimeout):
        check(h, INIT, max_steps=4096)
