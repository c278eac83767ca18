"""Minimal, synchronous ZooKeeper wire-protocol (jute) client for tests.

This deliberately talks the raw protocol so tests can observe exactly what a
server puts on the wire (error codes, watch events, connect responses) and can
send malformed input.  It is single-threaded: every call sends one request
and reads frames until the matching reply arrives; watch notifications
(xid -1) seen on the way are appended to ``self.events``.

Frame:            int32 length, payload
ConnectRequest:   int protocolVersion, long lastZxidSeen, int timeOut,
                  long sessionId, buffer passwd, bool readOnly
ConnectResponse:  int protocolVersion, int timeOut, long sessionId,
                  buffer passwd, bool readOnly
RequestHeader:    int xid, int type
ReplyHeader:      int xid, long zxid, int err
WatcherEvent:     int type, int state, ustring path
"""

import socket
import struct
import time

# ---------------------------------------------------------------- opcodes
OP = dict(
    notification=0, create=1, delete=2, exists=3, getData=4, setData=5,
    getACL=6, setACL=7, getChildren=8, sync=9, ping=11, getChildren2=12,
    check=13, multi=14, create2=15, reconfig=16, checkWatches=17,
    removeWatches=18, createContainer=19, deleteContainer=20, createTTL=21,
    multiRead=22, auth=100, setWatches=101, sasl=102, getEphemerals=103,
    getAllChildrenNumber=104, setWatches2=105, addWatch=106, whoAmI=107,
    createSession=-10, closeSession=-11, error=-1,
)

# ---------------------------------------------------------------- errors
ERR = {
    0: "OK", -1: "SystemError", -2: "RuntimeInconsistency",
    -3: "DataInconsistency", -4: "ConnectionLoss", -5: "MarshallingError",
    -6: "Unimplemented", -7: "OperationTimeout", -8: "BadArguments",
    -13: "NewConfigNoQuorum", -14: "ReconfigInProgress",
    -15: "UnknownSession", -100: "APIError", -101: "NoNode", -102: "NoAuth",
    -103: "BadVersion", -108: "NoChildrenForEphemerals", -110: "NodeExists",
    -111: "NotEmpty", -112: "SessionExpired", -113: "InvalidCallback",
    -114: "InvalidACL", -115: "AuthFailed", -118: "SessionMoved",
    -119: "NotReadOnly", -120: "EphemeralOnLocalSession", -121: "NoWatcher",
    -122: "RequestTimeout", -123: "ReconfigDisabled",
    -124: "SessionClosedRequireSasl", -125: "QuotaExceeded",
    -127: "Throttled",
}

EVENT_TYPES = {
    -1: "None", 1: "NodeCreated", 2: "NodeDeleted", 3: "NodeDataChanged",
    4: "NodeChildrenChanged", 5: "DataWatchRemoved", 6: "ChildWatchRemoved",
    7: "PersistentWatchRemoved",
}
STATES = {
    -1: "Unknown", 0: "Disconnected", 1: "NoSyncConnected", 3: "SyncConnected",
    4: "AuthFailed", 5: "ConnectedReadOnly", 6: "SaslAuthenticated",
    -112: "Expired", 7: "Closed",
}

# create flags (CreateMode)
PERSISTENT = 0
EPHEMERAL = 1
PERSISTENT_SEQUENTIAL = 2
EPHEMERAL_SEQUENTIAL = 3
CONTAINER = 4
PERSISTENT_WITH_TTL = 5
PERSISTENT_SEQUENTIAL_WITH_TTL = 6

# ACL perms
READ, WRITE, CREATE, DELETE, ADMIN = 1, 2, 4, 8, 16
ALL = 31
OPEN_ACL = [(ALL, "world", "anyone")]

WATCH_XID = -1
PING_XID = -2
AUTH_XID = -4
SET_WATCHES_XID = -8


# ---------------------------------------------------------------- encoding
def i32(v):
    return struct.pack(">i", v)


def i64(v):
    return struct.pack(">q", v)


def boolean(v):
    return b"\x01" if v else b"\x00"


def buf(b):
    if b is None:
        return i32(-1)
    return i32(len(b)) + b


def ustr(s):
    if s is None:
        return i32(-1)
    return buf(s.encode("utf-8"))


def acl_vec(acls):
    out = i32(len(acls))
    for perms, scheme, ident in acls:
        out += i32(perms) + ustr(scheme) + ustr(ident)
    return out


def str_vec(items):
    return i32(len(items)) + b"".join(ustr(s) for s in items)


class Reader:
    def __init__(self, data, off=0):
        self.data = data
        self.off = off

    def _take(self, n):
        if self.off + n > len(self.data):
            raise ValueError("short read")
        b = self.data[self.off:self.off + n]
        self.off += n
        return b

    def i32(self):
        return struct.unpack(">i", self._take(4))[0]

    def i64(self):
        return struct.unpack(">q", self._take(8))[0]

    def boolean(self):
        return self._take(1) != b"\x00"

    def buf(self):
        n = self.i32()
        if n < 0:
            return None
        return self._take(n)

    def ustr(self):
        b = self.buf()
        return None if b is None else b.decode("utf-8")

    def str_vec(self):
        n = self.i32()
        if n < 0:
            return None
        return [self.ustr() for _ in range(n)]

    def acl_vec(self):
        n = self.i32()
        return [(self.i32(), self.ustr(), self.ustr()) for _ in range(n)]

    def stat(self):
        keys = ("czxid", "mzxid", "ctime", "mtime", "version", "cversion",
                "aversion", "ephemeralOwner", "dataLength", "numChildren",
                "pzxid")
        fmt = (self.i64, self.i64, self.i64, self.i64, self.i32, self.i32,
               self.i32, self.i64, self.i32, self.i32, self.i64)
        return {k: f() for k, f in zip(keys, fmt)}

    def remaining(self):
        return len(self.data) - self.off


class ZkError(Exception):
    def __init__(self, code, xid=None, zxid=None):
        self.code = code
        self.name = ERR.get(code, "Err%d" % code)
        self.xid = xid
        self.zxid = zxid
        super().__init__("%s (%d)" % (self.name, code))


class ConnectionClosed(Exception):
    pass


# ---------------------------------------------------------------- framing
def recv_exact(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise ConnectionClosed("connection closed by peer after %d/%d bytes"
                                   % (len(out), n))
        out += chunk
    return out


def read_frame(sock):
    hdr = recv_exact(sock, 4)
    (n,) = struct.unpack(">i", hdr)
    if n < 0 or n > 64 * 1024 * 1024:
        raise ValueError("bad frame length from server: %d" % n)
    return recv_exact(sock, n)


def frame(payload):
    return i32(len(payload)) + payload


def connect_request(timeout_ms=10000, session_id=0, passwd=b"\x00" * 16,
                    last_zxid=0, read_only=False, protocol_version=0):
    return (i32(protocol_version) + i64(last_zxid) + i32(timeout_ms)
            + i64(session_id) + buf(passwd) + boolean(read_only))


def parse_connect_response(data):
    r = Reader(data)
    resp = dict(protocolVersion=r.i32(), timeOut=r.i32(), sessionId=r.i64(),
                passwd=r.buf())
    resp["readOnly"] = r.boolean() if r.remaining() >= 1 else None
    return resp


def _complete_frames(data):
    n, off = 0, 0
    while off + 4 <= len(data):
        (ln,) = struct.unpack_from(">i", data, off)
        if ln < 0 or off + 4 + ln > len(data):
            break
        off += 4 + ln
        n += 1
    return n


def wait_closed(sock, timeout=5.0, until_frames=None):
    """Return 'closed' if the peer closes (EOF/RST) within timeout, 'open'
    otherwise.  Any bytes received meanwhile are returned too.  With
    until_frames, return ('open', data) as soon as that many complete frames
    arrived."""
    deadline = time.monotonic() + timeout
    got = b""
    while True:
        if until_frames is not None and _complete_frames(got) >= until_frames:
            return "open", got
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return "open", got
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return "open", got
        except (ConnectionResetError, BrokenPipeError):
            return "closed", got
        if not chunk:
            return "closed", got
        got += chunk


class RawClient:
    """One TCP connection + one session."""

    def __init__(self, host, port, timeout_ms=10000, session_id=0,
                 passwd=b"\x00" * 16, connect=True, sock_timeout=10.0,
                 read_only=False, last_zxid=0):
        self.host, self.port = host, port
        self.sock = socket.create_connection((host, port), timeout=sock_timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.xid = 0
        self.events = []
        self.last_zxid = last_zxid
        self.session_id = None
        self.passwd = None
        self.negotiated_timeout = None
        self.connect_response = None
        if connect:
            self.connect(timeout_ms, session_id, passwd, read_only)

    # -- session ------------------------------------------------------
    def connect(self, timeout_ms=10000, session_id=0, passwd=b"\x00" * 16,
                read_only=False):
        self.sock.sendall(frame(connect_request(timeout_ms, session_id, passwd,
                                                self.last_zxid, read_only)))
        resp = parse_connect_response(read_frame(self.sock))
        self.connect_response = resp
        self.session_id = resp["sessionId"]
        self.passwd = resp["passwd"]
        self.negotiated_timeout = resp["timeOut"]
        return resp

    def send_raw(self, data):
        self.sock.sendall(data)

    def next_xid(self):
        self.xid += 1
        return self.xid

    def call(self, op, body=b"", xid=None):
        """Send a request and return (reply_header_dict, Reader_for_body).
        Raises ZkError when err != 0."""
        if isinstance(op, str):
            op = OP[op]
        if xid is None:
            xid = self.next_xid()
        self.sock.sendall(frame(i32(xid) + i32(op) + body))
        while True:
            data = read_frame(self.sock)
            r = Reader(data)
            rxid, zxid, err = r.i32(), r.i64(), r.i32()
            if rxid == WATCH_XID:
                self.events.append((EVENT_TYPES.get(r.i32()), STATES.get(r.i32()),
                                    r.ustr()))
                continue
            if rxid == PING_XID and xid != PING_XID:
                continue
            if zxid > 0:
                self.last_zxid = max(self.last_zxid, zxid)
            if rxid != xid:
                raise AssertionError("xid mismatch: sent %d got %d (err %d)"
                                     % (xid, rxid, err))
            if err != 0:
                raise ZkError(err, rxid, zxid)
            return dict(xid=rxid, zxid=zxid, err=err), r

    def ping(self):
        return self.call("ping", b"", xid=PING_XID)

    def close(self):
        """closeSession then close socket (ignores errors)."""
        try:
            self.call("closeSession", b"")
        except Exception:
            pass
        self.drop()

    def drop(self):
        try:
            self.sock.close()
        except Exception:
            pass

    def poll_events(self, timeout=0.0):
        """Read frames for up to timeout seconds collecting watch events."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return self.events
            self.sock.settimeout(remaining)
            try:
                data = read_frame(self.sock)
            except socket.timeout:
                return self.events
            finally:
                self.sock.settimeout(10.0)
            r = Reader(data)
            rxid, _zxid, _err = r.i32(), r.i64(), r.i32()
            if rxid == WATCH_XID:
                self.events.append((EVENT_TYPES.get(r.i32()), STATES.get(r.i32()),
                                    r.ustr()))

    def wait_events(self, n, timeout=5.0):
        """Wait until at least n events have been collected (pinging so the
        connection stays alive)."""
        deadline = time.monotonic() + timeout
        while len(self.events) < n and time.monotonic() < deadline:
            self.ping()
            self.poll_events(0.05)
        return self.events

    # -- operations -----------------------------------------------------
    def auth(self, scheme, cred):
        body = i32(0) + ustr(scheme) + buf(cred.encode() if isinstance(cred, str) else cred)
        return self.call("auth", body, xid=AUTH_XID)

    def create(self, path, data=b"", acl=None, flags=0, ttl=None, op=None):
        acl = OPEN_ACL if acl is None else acl
        body = ustr(path) + buf(data) + acl_vec(acl) + i32(flags)
        if op is None:
            if ttl is not None:
                op = "createTTL"
            elif flags == CONTAINER:
                op = "createContainer"
            else:
                op = "create2"
        if op == "createTTL":
            body += i64(ttl if ttl is not None else 0)
        _h, r = self.call(op, body)
        path = r.ustr()
        stat = r.stat() if op != "create" else None
        return path, stat

    def delete(self, path, version=-1):
        self.call("delete", ustr(path) + i32(version))

    def exists(self, path, watch=False):
        try:
            _h, r = self.call("exists", ustr(path) + boolean(watch))
        except ZkError as e:
            if e.code == -101:
                return None
            raise
        return r.stat()

    def get(self, path, watch=False):
        _h, r = self.call("getData", ustr(path) + boolean(watch))
        return r.buf(), r.stat()

    def set(self, path, data, version=-1):
        _h, r = self.call("setData", ustr(path) + buf(data) + i32(version))
        return r.stat()

    def get_children(self, path, watch=False):
        _h, r = self.call("getChildren", ustr(path) + boolean(watch))
        return r.str_vec()

    def get_children2(self, path, watch=False):
        _h, r = self.call("getChildren2", ustr(path) + boolean(watch))
        return r.str_vec(), r.stat()

    def get_acl(self, path):
        _h, r = self.call("getACL", ustr(path))
        return r.acl_vec(), r.stat()

    def set_acl(self, path, acls, version=-1):
        _h, r = self.call("setACL", ustr(path) + acl_vec(acls) + i32(version))
        return r.stat()

    def sync(self, path):
        _h, r = self.call("sync", ustr(path))
        return r.ustr()

    def set_watches(self, relative_zxid, data=(), exist=(), child=(),
                    persistent=None, persistent_recursive=None):
        """SetWatches (101) or, when persistent lists are given, SetWatches2
        (105) -- what a client sends after reconnecting."""
        body = i64(relative_zxid) + str_vec(list(data)) + str_vec(list(exist)) + \
            str_vec(list(child))
        op = "setWatches"
        if persistent is not None or persistent_recursive is not None:
            op = "setWatches2"
            body += str_vec(list(persistent or [])) + str_vec(list(persistent_recursive or []))
        return self.call(op, body, xid=SET_WATCHES_XID)

    def add_watch(self, path, mode):
        self.call("addWatch", ustr(path) + i32(mode))

    def remove_watches(self, path, wtype):
        self.call("removeWatches", ustr(path) + i32(wtype))

    def check_watches(self, path, wtype):
        self.call("checkWatches", ustr(path) + i32(wtype))

    def get_ephemerals(self, prefix):
        _h, r = self.call("getEphemerals", ustr(prefix))
        return r.str_vec()

    def get_all_children_number(self, path):
        _h, r = self.call("getAllChildrenNumber", ustr(path))
        return r.i32()

    def whoami(self):
        _h, r = self.call("whoAmI", b"")
        n = r.i32()
        return [(r.ustr(), r.ustr()) for _ in range(n)]

    def multi(self, ops, read=False):
        """ops: list of (opname, body_bytes).  Returns list of
        (type_name, err_or_None, parsed) per op."""
        body = b""
        for name, b in ops:
            body += i32(OP[name]) + boolean(False) + i32(-1) + b
        body += i32(-1) + boolean(True) + i32(-1)
        _h, r = self.call("multiRead" if read else "multi", body)
        out = []
        inv = {v: k for k, v in OP.items()}
        while True:
            t, done, err = r.i32(), r.boolean(), r.i32()
            if done:
                break
            name = inv.get(t, str(t))
            if t == -1:
                out.append(("error", ERR.get(r.i32()), None))
            elif t in (OP["create"],):
                out.append((name, None, r.ustr()))
            elif t in (OP["create2"], OP["createTTL"], OP["createContainer"]):
                out.append((name, None, (r.ustr(), r.stat())))
            elif t == OP["setData"]:
                out.append((name, None, r.stat()))
            elif t == OP["getData"]:
                out.append((name, None, (r.buf(), r.stat())))
            elif t == OP["getChildren"]:
                out.append((name, None, r.str_vec()))
            else:
                out.append((name, None, None))
        return out


# helpers to build multi op bodies
def op_create(path, data=b"", acl=None, flags=0):
    return ("create", ustr(path) + buf(data) + acl_vec(OPEN_ACL if acl is None else acl) + i32(flags))


def op_delete(path, version=-1):
    return ("delete", ustr(path) + i32(version))


def op_set(path, data, version=-1):
    return ("setData", ustr(path) + buf(data) + i32(version))


def op_check(path, version):
    return ("check", ustr(path) + i32(version))


def op_get_data(path):
    return ("getData", ustr(path) + boolean(False))


def op_get_children(path):
    return ("getChildren", ustr(path) + boolean(False))
