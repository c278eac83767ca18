"""Linearizability checker for a compare-and-set register (one znode).

The register's state is (data, version).  Operations:

  read                       -> (data, version)
  cas(expected_version, new) -> "ok"           the state had `expected_version`
                                               and is now (new, expected + 1)
                                ("ok", v)      the same, with the version the
                                               server reported (must be expected+1)
                                "bad_version"  the state's version was not
                                               `expected_version`; no change
                                "unknown"      connection loss / timeout: the op
                                               may have taken effect at any time
                                               after its call, or never

A history is linearizable when every completed operation can be given a
point between its call and its return such that the operations, applied in
the order of their points, are legal for the register (reads see the current
state, cas succeeds exactly when the version matches).  An unknown operation
has its return at +infinity and may take effect (a cas whose version
matches) or not; not taking effect is the same as leaving it out.

The search is the Wing-Gong algorithm with Lowe's memoization, as in
Porcupine: the calls and returns form one doubly linked list in time order;
walking it, a call whose operation is legal in the current state is
linearized (its call and return are lifted out of the list, the state
advances) and the walk restarts from the list head; reaching a return means
that operation found no point, so the last linearization is undone
(backtracking).  A configuration (set of linearized operations, state) that
was already explored is never explored again.  The set is kept exactly: m,
the lowest completed operation not yet linearized (all before it are) and
the bits of the linearized completed operations above m.  Which unknown
operations took effect need not be part of it: versions only grow, so an
unknown cas can take effect only while the version equals its expected
one; every unknown cas that took effect has an expected version below the
current one, and every one that did not and still could has one at or
above it, so (completed set, state) alone decides what can follow.

Record histories with `History` (times from time.monotonic_ns()), check
them with `check(history.ops(), initial_state)`.
"""

import threading
import time
from dataclasses import dataclass, field

OK = "ok"
BAD_VERSION = "bad_version"
UNKNOWN = "unknown"

READ = "read"
CAS = "cas"


@dataclass
class Op:
    client: object
    kind: str  # READ or CAS
    arg: object  # READ: None; CAS: (expected_version, new_data)
    call: int  # time.monotonic_ns() before the request was sent
    ret: object = None  # monotonic_ns after the reply; None: unknown (+inf)
    out: object = None  # READ: (data, version); CAS: OK, (OK, v), BAD_VERSION, UNKNOWN
    meta: dict = field(default_factory=dict)  # diagnostics (e.g. the member)

    def describe(self, t0=0):
        def ms(t):
            return "inf" if t is None else "%.1fms" % ((t - t0) / 1e6)
        if self.kind == READ:
            what = "read() -> %r" % (self.out,)
        else:
            what = "cas(expected_version=%d, %r) -> %r" % (self.arg[0], self.arg[1], self.out)
        extra = (" " + " ".join("%s=%s" % kv for kv in sorted(self.meta.items()))) if self.meta else ""
        return "client %s: %s [%s .. %s]%s" % (self.client, what, ms(self.call), ms(self.ret), extra)


class History:
    """Thread-safe recorder.  invoke() stamps the call; then exactly one of
    ok()/unknown()/discard().  Operations still pending when ops() is called
    count as unknown (cas) or are dropped (reads: they change nothing)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._ops = []

    def invoke(self, client, kind, arg=None, **meta):
        op = Op(client, kind, arg, time.monotonic_ns(), meta=dict(meta))
        op.out = UNKNOWN  # until a reply arrives
        with self._lock:
            self._ops.append(op)
        return op

    def ok(self, op, out, **meta):
        """A reply: the operation's outcome is `out`."""
        op.ret = time.monotonic_ns()
        op.out = out
        op.meta.update(meta)

    def unknown(self, op, **meta):
        """No reply (connection loss, timeout, session expired)."""
        op.ret = None
        op.out = UNKNOWN
        op.meta.update(meta)

    def discard(self, op):
        """A failed read: it changed nothing and returned nothing."""
        assert op.kind == READ, op
        with self._lock:
            self._ops.remove(op)

    def ops(self):
        with self._lock:
            ops = list(self._ops)
        out = []
        for op in ops:
            if op.out is UNKNOWN or op.out == UNKNOWN:
                if op.kind == READ:
                    continue
                op.ret = None
            out.append(op)
        return out

    def __len__(self):
        with self._lock:
            return len(self._ops)


class CheckTimeout(Exception):
    pass


@dataclass
class Result:
    ok: bool
    ops: int  # operations checked
    completed: int  # of which completed (not unknown)
    steps: int
    seconds: float
    info: str = ""  # why not linearizable

    def __bool__(self):
        return self.ok


def _step(state, op, unknown):
    """The register model: the next state, or None when op is illegal in
    `state`.  An unknown cas is only offered as taking effect."""
    data, version = state
    if op.kind == READ:
        return state if op.out == state else None
    expected, new = op.arg
    if unknown:
        return (new, expected + 1) if version == expected else None
    out = op.out
    if out == BAD_VERSION:
        return state if version != expected else None
    if out == OK:
        return (new, expected + 1) if version == expected else None
    if isinstance(out, tuple) and len(out) == 2 and out[0] == OK:
        if version != expected or out[1] != expected + 1:
            return None
        return (new, expected + 1)
    raise ValueError("unexpected cas outcome %r" % (out,))


def check(ops, init, timeout=60.0, max_steps=None):
    """Is the history `ops` (Op list) linearizable from state `init`?
    Returns a Result (truthy when linearizable); raises CheckTimeout when
    the search exceeds `timeout` seconds or `max_steps` steps."""
    t_start = time.monotonic()
    init = tuple(init)
    for op in ops:
        if op.kind not in (READ, CAS):
            raise ValueError("unknown op kind %r" % (op.kind,))
        if op.ret is not None and op.ret < op.call:
            raise ValueError("op returns before its call: %s" % op.describe())
        if op.kind == READ and op.ret is None:
            raise ValueError("a read without a reply tells nothing; drop it: %s" % op.describe())
    completed = [op for op in ops if op.ret is not None]
    unknowns = [op for op in ops if op.ret is None]
    completed.sort(key=lambda o: o.call)
    # ids: completed ops 0..C-1 in call order (so linearized sets are
    # nearly prefixes), unknown ops 0..U-1 in their own bitset
    # events: (time, 0=call/1=return, op index into `all_ops`)
    all_ops = completed + unknowns
    n_completed = len(completed)
    events = []
    for i, op in enumerate(all_ops):
        events.append((op.call, 0, i))
        if op.ret is not None:
            events.append((op.ret, 1, i))
    # at equal times calls come first: such ops count as concurrent
    events.sort()
    n = len(events)
    # doubly linked list over event indices; node n is the head sentinel,
    # -1 ends the list
    HEAD = n
    nxt = [k + 1 for k in range(n)] + [0 if n else -1]
    if n:
        nxt[n - 1] = -1
    prv = [k - 1 for k in range(n)] + [-1]
    if n:
        prv[0] = HEAD
    ev_op = [e[2] for e in events]
    ev_is_call = [e[1] == 0 for e in events]
    ret_node = [-1] * len(all_ops)
    for k, e in enumerate(events):
        if e[1] == 1:
            ret_node[e[2]] = k

    def lift(k):
        # remove call node k and its return node (if any)
        p, q = prv[k], nxt[k]
        nxt[p] = q
        if q != -1:
            prv[q] = p
        r = ret_node[ev_op[k]]
        if r != -1:
            p, q = prv[r], nxt[r]
            nxt[p] = q
            if q != -1:
                prv[q] = p

    def unlift(k):
        # reinsert in the reverse order of lift()
        r = ret_node[ev_op[k]]
        if r != -1:
            p, q = prv[r], nxt[r]
            nxt[p] = r
            if q != -1:
                prv[q] = r
        p, q = prv[k], nxt[k]
        nxt[p] = k
        if q != -1:
            prv[q] = k

    state = init
    lin_c = 0  # bitset of linearized completed ops
    done_c = 0  # popcount of lin_c
    seen = set()
    stack = []
    steps = 0
    best = (-1, None, None)  # (done_c, op index that found no point, state)
    deadline = t_start + timeout
    entry = nxt[HEAD]
    while done_c < n_completed:
        steps += 1
        if not steps & 0xFFF:
            if time.monotonic() > deadline or (max_steps and steps > max_steps):
                raise CheckTimeout("linearizability search gave up after %d steps, %.1fs "
                                   "(%d ops, %d unknown)" % (steps, time.monotonic() - t_start,
                                                             len(all_ops), len(unknowns)))
        if entry != -1 and ev_is_call[entry]:
            i = ev_op[entry]
            is_unknown = i >= n_completed
            new_state = _step(state, all_ops[i], is_unknown)
            if new_state is not None:
                n_c = lin_c if is_unknown else lin_c | (1 << i)
                m = ((n_c + 1) & ~n_c).bit_length() - 1  # lowest clear bit
                key = (m, n_c >> m, new_state)
                if key not in seen:
                    seen.add(key)
                    stack.append((entry, state, lin_c, done_c))
                    state, lin_c = new_state, n_c
                    if not is_unknown:
                        done_c += 1
                    lift(entry)
                    entry = nxt[HEAD]
                    continue
            entry = nxt[entry]
        else:
            # a return: its op found no linearization point; backtrack
            if entry != -1 and done_c > best[0]:
                best = (done_c, ev_op[entry], state)
            if not stack:
                return Result(False, len(all_ops), n_completed, steps,
                              time.monotonic() - t_start,
                              _explain(all_ops, n_completed, best))
            entry, state, lin_c, done_c = stack.pop()
            unlift(entry)
            entry = nxt[entry]
    return Result(True, len(all_ops), n_completed, steps, time.monotonic() - t_start)


def _explain(all_ops, n_completed, best):
    done, i, state = best
    t0 = min((op.call for op in all_ops), default=0)
    if i is None:
        return "not linearizable"
    op = all_ops[i]
    lines = [
        "not linearizable: at best %d of %d completed operations were linearized; then "
        "no order lets this one take effect before its return:" % (done, n_completed),
        "  " + op.describe(t0),
        "the register's state in that best attempt: %r" % (state,),
        "operations overlapping it (times relative to the first call):",
    ]
    ov = [o for o in all_ops if o is not op and o.call <= op.ret
          and (o.ret is None or o.ret >= op.call)]
    ov.sort(key=lambda o: o.call)
    before = [o for o in all_ops if o.ret is not None and o.ret < op.call]
    before.sort(key=lambda o: o.ret)
    for o in ov[:25]:
        lines.append("  " + o.describe(t0))
    if len(ov) > 25:
        lines.append("  ... %d more" % (len(ov) - 25))
    lines.append("the last operations completed before its call:")
    for o in before[-8:]:
        lines.append("  " + o.describe(t0))
    return "\n".join(lines)
