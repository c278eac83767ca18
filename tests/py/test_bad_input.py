"""Malformed wire input over raw sockets.  After every case the server must
still answer `ruok` with `imok`, a kazoo client must work, and data written
before must be intact.  The observable reaction (reply / connection closed /
connection left open) is compared with Apache ZooKeeper's.
"""

import socket
import struct
import threading

import pytest

import zkproto
from conftest import assert_same, four_letter, make_kazoo, unique, wait_until
from zkproto import boolean, buf, frame, i32, i64, ustr

# a dedicated server per implementation (a distinct cfg => not the shared one)
BAD_CFG = {"maxClientCnxns": "200", "tickTime": "2000"}
JUTE_MAXBUFFER = 0xFFFFF  # Apache default (1 MiB - 1)


@pytest.fixture(scope="module")
def bad_servers(server_pool):
    out = {}
    for kind in ("apache", "zookeeperd"):
        srv = server_pool.get(kind, BAD_CFG)
        k = make_kazoo(srv)
        try:
            k.create("/sentinel", b"precious", makepath=True)
        finally:
            k.stop()
            k.close()
        out[kind] = srv
    return out


def connect_payload(timeout_ms=10000, session_id=0, passwd=b"\x00" * 16):
    return frame(zkproto.connect_request(timeout_ms, session_id, passwd))


def observe(sock, window, connecting=False, until_frames=None):
    """Classify what the server does: the replies it sends (xid, err) -- or
    connect responses when no session was established -- and whether it
    then closes the connection within `window` seconds."""
    state, data = zkproto.wait_closed(sock, window, until_frames=until_frames)
    replies = []
    off = 0
    while off + 4 <= len(data):
        (n,) = struct.unpack_from(">i", data, off)
        body = data[off + 4: off + 4 + n]
        if len(body) < n:
            replies.append("partial-frame")
            break
        if connecting and len(body) >= 20:
            cr = zkproto.parse_connect_response(body)
            replies.append("connect-response(timeOut=%d,sessionId=%s)"
                           % (cr["timeOut"], "0" if cr["sessionId"] == 0 else "new"))
        elif len(body) >= 16:
            xid, _zxid, err = struct.unpack_from(">iqi", body, 0)
            replies.append("reply(xid=%d,err=%s)" % (xid, zkproto.ERR.get(err, err)))
        else:
            replies.append("frame(len=%d)" % n)
        off += 4 + n
    return {"replies": replies, "connection": state}


def raw_socket(server):
    s = socket.create_connection((server.host, server.port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def connected_socket(server):
    s = raw_socket(server)
    s.sendall(connect_payload())
    resp = zkproto.parse_connect_response(zkproto.read_frame(s))
    assert resp["sessionId"] != 0
    return s


def send_quietly(s, data):
    try:
        s.sendall(data)
        return True
    except OSError:
        return False


def req(xid, op, body=b""):
    return frame(i32(xid) + i32(op) + body)


# each case: (name, needs_connect, payload-builder, window seconds)
CASES = {
    "oversize_frame_before_connect": (False, lambda: i32(0x7FFFFFFF) + b"\x00" * 64, 0.7),
    "oversize_frame_after_connect": (True, lambda: i32(JUTE_MAXBUFFER + 1024 * 1024) + b"\x00" * 64, 0.7),
    "negative_length_before_connect": (False, lambda: i32(-1) + b"\x00" * 16, 0.7),
    "negative_length_after_connect": (True, lambda: i32(-5) + b"\x00" * 16, 0.7),
    "zero_length_frame_after_connect": (True, lambda: i32(0), 0.7),
    "garbage_body_after_connect": (True, lambda: frame(b"\xde\xad\xbe"), 0.7),
    "garbage_header_after_connect": (True, lambda: frame(b"\x12\x34\x56" + b"\xff" * 40), 0.7),
    "unknown_opcode": (True, lambda: req(1, 9999, ustr("/sentinel")), 0.7),
    "opcode_zero_notification": (True, lambda: req(1, 0, b""), 0.7),
    "request_before_connect": (False, lambda: req(1, zkproto.OP["getData"],
                                                  ustr("/sentinel") + boolean(False)), 0.7),
    "garbage_connect": (False, lambda: frame(b"\xff" * 45), 0.7),
    "short_connect": (False, lambda: frame(b"\x00" * 7), 0.7),
    "connect_with_huge_passwd_length": (False, lambda: frame(
        i32(0) + i64(0) + i32(10000) + i64(0) + i32(0x7FFFFFFF) + b"\x00" * 16), 0.7),
    "huge_path_string_length": (True, lambda: req(1, zkproto.OP["getData"],
                                                   i32(0x7FFFFFF0) + b"/x" + boolean(False)), 0.7),
    "negative_path_string_length": (True, lambda: req(1, zkproto.OP["getData"],
                                                       i32(-7) + boolean(False)), 0.7),
    "truncated_request_body": (True, lambda: frame(i32(1) + i32(zkproto.OP["create"])
                                                   + ustr("/trunc") + i32(50) + b"abc"), 0.7),
    "bad_acl_vector_length": (True, lambda: req(1, zkproto.OP["create"],
                                                ustr("/bad-acl") + buf(b"") + i32(0x7FFFFFFF)
                                                + i32(0)), 0.7),
    "invalid_utf8_path": (True, lambda: req(1, zkproto.OP["create"],
                                            buf(b"/\xff\xfe") + buf(b"") + i32(1)
                                            + i32(31) + ustr("world") + ustr("anyone")
                                            + i32(0)), 0.7),
    "bad_create_mode": (True, lambda: req(1, zkproto.OP["create"],
                                          ustr("/badmode") + buf(b"") + i32(1) + i32(31)
                                          + ustr("world") + ustr("anyone") + i32(99)), 0.7),
    "second_connect_on_same_connection": (True, lambda: connect_payload(), 0.7),
    "ping_before_connect": (False, lambda: req(-2, zkproto.OP["ping"]), 0.7),
    "close_session_with_body_garbage": (True, lambda: req(1, -11, b"\x01\x02\x03"), 0.7),
}


def run_case(server, name):
    needs_connect, build, window = CASES[name]
    s = connected_socket(server) if needs_connect else raw_socket(server)
    try:
        sent = send_quietly(s, build())
        res = observe(s, window, connecting=not needs_connect)
        if not sent:
            res["note"] = "send failed"
        if res["connection"] == "open" and needs_connect:
            # still usable?  (ping must be answered)
            if send_quietly(s, req(-2, zkproto.OP["ping"])):
                more = observe(s, 2.0, until_frames=1)
                res["after_ping"] = more["replies"]
        return res
    finally:
        s.close()


def assert_healthy(server, tag):
    assert four_letter(server.host, server.port, "ruok") == "imok", \
        "%s: server not healthy after %s" % (server.kind, tag)
    k = make_kazoo(server)
    try:
        assert k.get("/sentinel")[0] == b"precious"
        p = "/" + unique("alive")
        k.create(p, b"ok")
        assert k.get(p)[0] == b"ok"
        k.delete(p)
    finally:
        k.stop()
        k.close()


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input(case, bad_servers):
    results = {}
    for kind in ("apache", "zookeeperd"):
        srv = bad_servers[kind]
        results[kind] = run_case(srv, case)
        assert srv.alive(), "%s server died on %s:\n%s" % (kind, case, srv.log_tail())
        assert_healthy(srv, case)
    assert_same(results["apache"], results["zookeeperd"], "reaction to %s" % case)


def test_oversize_create_is_rejected_and_limit_ok_is_accepted(bad_servers):
    """A create whose packet exceeds jute.maxbuffer closes the connection;
    a ~1,000,000-byte value (under the limit) is stored."""
    results = {}
    for kind in ("apache", "zookeeperd"):
        srv = bad_servers[kind]
        r = zkproto.RawClient(srv.host, srv.port)
        path = "/" + unique("big")
        out = {}
        try:
            r.create(path, b"a" * 1000000)
            out["1e6 bytes"] = len(r.get(path)[0])
            try:
                r.set(path, b"b" * (JUTE_MAXBUFFER + 4096))
                out["over limit"] = "accepted"
            except (zkproto.ConnectionClosed, ConnectionResetError, BrokenPipeError):
                out["over limit"] = "connection closed"
            except zkproto.ZkError as e:
                out["over limit"] = e.name
        finally:
            r.drop()
        k = make_kazoo(srv)
        try:
            out["value after"] = len(k.get(path)[0])
            k.delete(path)
        finally:
            k.stop()
            k.close()
        assert_healthy(srv, "oversize create")
        results[kind] = out
    assert results["apache"]["1e6 bytes"] == 1000000
    assert_same(results["apache"], results["zookeeperd"], "oversize request handling")


def test_stalled_partial_frame_does_not_block_others(bad_servers):
    """Half a frame on one connection must not stall other clients."""
    for kind in ("apache", "zookeeperd"):
        srv = bad_servers[kind]
        stalled = []
        try:
            s1 = raw_socket(srv)
            s1.sendall(i32(44) + b"\x00" * 10)  # partial connect request
            stalled.append(s1)
            s2 = connected_socket(srv)
            s2.sendall(i32(200) + i32(1) + i32(zkproto.OP["create"]) + ustr("/x"))
            stalled.append(s2)
            assert_healthy(srv, "partial frames")
        finally:
            for s in stalled:
                s.close()
        assert_healthy(srv, "closing partial frames")


def test_connection_churn(bad_servers):
    """Many connections opened and dropped (some mid-handshake) in a burst."""
    for kind in ("apache", "zookeeperd"):
        srv = bad_servers[kind]
        errors = []

        def churn(n):
            for i in range(n):
                try:
                    s = raw_socket(srv)
                    if i % 3 == 0:
                        s.sendall(connect_payload()[:10])
                    elif i % 3 == 1:
                        s.sendall(connect_payload())
                        zkproto.read_frame(s)
                    s.close()
                except OSError as e:
                    errors.append(e)

        ts = [threading.Thread(target=churn, args=(40,)) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        assert not errors, "%s: %s" % (kind, errors[:3])
        assert_healthy(srv, "connection churn")
        # the half-open/sessionless ones do not pile up forever in 'cons'
        wait_until(lambda: four_letter(srv.host, srv.port, "ruok") == "imok", 5)


def test_unknown_four_letter_word_and_binary_junk(bad_servers):
    """Unknown 4-letter words / arbitrary junk as first bytes don't hurt."""
    results = {}
    for kind in ("apache", "zookeeperd"):
        srv = bad_servers[kind]
        out = {}
        for label, data in (("xyzw", b"xyzw"), ("RUOK", b"RUOK"), ("ruo", b"ruo"),
                            ("http", b"GET / HTTP/1.0\r\n\r\n")):
            s = raw_socket(srv)
            try:
                send_quietly(s, data)
                out[label] = observe(s, 1.0, connecting=True)
            finally:
                s.close()
        results[kind] = out
        assert_healthy(srv, "junk")
    assert_same(results["apache"], results["zookeeperd"], "junk first bytes")
