"""Recording and normalising scripted sessions for differential tests.

A Transcript records (label, outcome) steps.  Values are normalised so two
servers with different histories/clocks produce identical transcripts:

* zxids (czxid/mzxid/pzxid) become ``Z<rank>`` – the rank among all distinct
  zxids seen in this transcript (so equalities and ordering are kept, gaps
  and absolute values are not);
* ctime/mtime become a check string ('ok' when ctime is close to wall clock
  and mtime >= ctime);
* ephemeralOwner becomes the name of the session that owns the node
  ('A', 'B', ...), 0 for persistent nodes;
* exceptions become their class name; WatchedEvents become tuples.
"""

import time
import threading

from kazoo.protocol.states import ZnodeStat, WatchedEvent
from kazoo.security import ACL, Id


def exc_label(e):
    """Exception class name; raw-protocol errors carry their error code name."""
    name = getattr(e, "name", None)
    if isinstance(name, str) and type(e).__name__ == "ZkError":
        return "ZkError:" + name
    return type(e).__name__


class Zxid:
    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v

    def __repr__(self):
        return "Zxid(%d)" % self.v


class Transcript:
    def __init__(self, sessions=None):
        self.steps = []
        self.sessions = {}  # session id -> name
        self.t0 = time.time()
        self.failed_checks = []
        self.events = []  # global watch event order
        self.lock = threading.Lock()
        for name, sid in (sessions or {}).items():
            self.add_session(name, sid)

    def add_session(self, name, sid):
        self.sessions[sid] = name

    # -- normalisation of single values ------------------------------------
    def _time_ok(self, ms):
        now = time.time()
        return (self.t0 - 30) * 1000 <= ms <= (now + 30) * 1000

    def norm_stat(self, st):
        if isinstance(st, ZnodeStat):
            d = st._asdict()
            # kazoo names: czxid mzxid ctime mtime version cversion aversion
            # ephemeralOwner dataLength numChildren pzxid
        else:
            d = dict(st)
        eo = d["ephemeralOwner"]
        ct, mt = d["ctime"], d["mtime"]
        if ct == 0 and mt == 0:
            times = "zero"  # e.g. /zookeeper, /zookeeper/quota
        elif ct == 0:
            times = "ctime=0,mtime=" + ("ok" if self._time_ok(mt) else "BAD")
        elif self._time_ok(ct) and self._time_ok(mt) and mt >= ct:
            times = "ok"
        else:
            times = "BAD(ctime=%s,mtime=%s)" % ("ok" if self._time_ok(ct) else "out-of-range",
                                                "ok" if self._time_ok(mt) else "out-of-range")
            if self._time_ok(ct) and self._time_ok(mt):
                times = "BAD(mtime<ctime)"
        return dict(
            czxid=Zxid(d["czxid"]), mzxid=Zxid(d["mzxid"]), pzxid=Zxid(d["pzxid"]),
            times=times,
            version=d["version"], cversion=d["cversion"], aversion=d["aversion"],
            ephemeralOwner=0 if eo == 0 else self.sessions.get(eo, "session?%s" % ("nonzero")),
            dataLength=d["dataLength"], numChildren=d["numChildren"],
        )

    def norm(self, v):
        if isinstance(v, ZnodeStat):
            return self.norm_stat(v)
        if isinstance(v, dict) and "czxid" in v and "ephemeralOwner" in v:
            return self.norm_stat(v)
        if isinstance(v, WatchedEvent):
            return ("event", v.type, v.state, v.path)
        if isinstance(v, ACL):
            return ("acl", v.perms, v.id.scheme, v.id.id)
        if isinstance(v, Id):
            return ("id", v.scheme, v.id)
        if isinstance(v, BaseException):
            return ("exc", exc_label(v))
        if isinstance(v, bytes):
            return v if len(v) <= 64 else ("bytes", len(v), v[:16], v[-16:])
        if isinstance(v, tuple):
            return tuple(self.norm(x) for x in v)
        if isinstance(v, list):
            return [self.norm(x) for x in v]
        if isinstance(v, dict):
            return {k: self.norm(x) for k, x in v.items()}
        return v

    # -- recording -----------------------------------------------------
    def do(self, label, fn, *args, **kw):
        """Run fn, record its normalised result or exception class name;
        returns the raw result (or the exception instance)."""
        try:
            res = fn(*args, **kw)
        except Exception as e:  # noqa: BLE001 - recorded
            self.steps.append((label, "raise", exc_label(e)))
            return e
        self.steps.append((label, "ok", self.norm(res)))
        return res

    def note(self, label, value):
        self.steps.append((label, "note", self.norm(value)))
        return value

    def check(self, label, cond, detail=""):
        """Absolute expectation (independent of the other server)."""
        self.steps.append((label, "check", bool(cond)))
        if not cond:
            self.failed_checks.append("%s %s" % (label, detail))

    def watcher(self, name):
        """A kazoo watch callback that records events in arrival order."""
        def w(event):
            with self.lock:
                self.events.append((name, event.type, event.state, event.path))
        w.__name__ = "watch_" + name
        return w

    def take_events(self, label):
        with self.lock:
            evs, self.events = self.events, []
        self.steps.append((label, "events", evs))
        return evs

    # -- final form -------------------------------------------------------
    def result(self):
        zx = set()

        def collect(v):
            if isinstance(v, Zxid):
                zx.add(v.v)
            elif isinstance(v, (list, tuple)):
                for x in v:
                    collect(x)
            elif isinstance(v, dict):
                for x in v.values():
                    collect(x)
        collect(self.steps)
        rank = {z: i + 1 for i, z in enumerate(sorted(zx))}

        def conv(v):
            if isinstance(v, Zxid):
                return "Z%d" % rank[v.v]
            if isinstance(v, list):
                return [conv(x) for x in v]
            if isinstance(v, tuple):
                return tuple(conv(x) for x in v)
            if isinstance(v, dict):
                return {k: conv(x) for k, x in v.items()}
            return v
        return [conv(s) for s in self.steps]

    def lines(self, base=None):
        """One line per step, for readable diffs (base path shown as <b>)."""
        out = []
        for label, kind, val in self.result():
            line = "%-40s %-6s %r" % (label, kind, val)
            if base:
                line = line.replace(base, "<b>")
            out.append(line)
        return "\n".join(out)
