"""A client that stops reading (a paused process, a slow consumer of its
watch events) keeps its connection and its session, as with Apache
ZooKeeper 3.8: the server holds what it owes the client and sends it once
the client reads again. Run on both servers and compared.
"""

import time

import zkproto
from conftest import assert_same, make_kazoo, unique

# More frames than fit in the kernel's loopback buffers and in zookeeperd's
# former per-connection queue (16384 frames, then the connection was cut).
EVENTS = 25000
# Long paths make each event frame about 4 KiB.
LEAF = "x" * 4000
PERSISTENT_RECURSIVE = 1


def slow_reader(server):
    base = "/" + unique("slow")
    node = base + "/" + LEAF
    writer = make_kazoo(server)
    writer.ensure_path(node)
    reader = zkproto.RawClient(server.host, server.port, timeout_ms=30000)
    session = reader.session_id
    reader.add_watch(base, PERSISTENT_RECURSIVE)

    # The reader reads nothing while the writer changes the node.
    started = time.monotonic()
    pending = [writer.set_async(node, b"%d" % i) for i in range(EVENTS)]
    for p in pending:
        p.get(timeout=120)
    paused = time.monotonic() - started
    assert paused < 25, "the writes took %.1fs, too near the reader's session timeout" % paused

    try:
        events = reader.wait_events(EVENTS, timeout=120)
        alive = reader.exists(node) is not None
    except (zkproto.ConnectionClosed, OSError):
        events, alive = reader.events, False
    outcome = {
        "events": len(events),
        "all data changes of the node": all(e == ("NodeDataChanged", "SyncConnected", node) for e in events),
        "same session still answers": alive and reader.session_id == session,
    }
    reader.close()
    writer.stop()
    writer.close()
    return outcome


def test_a_client_that_stops_reading_keeps_its_connection_and_session(server_pool):
    results = {kind: slow_reader(server_pool.fresh(kind, {})) for kind in ("apache", "zookeeperd")}
    assert results["apache"] == {
        "events": EVENTS,
        "all data changes of the node": True,
        "same session still answers": True,
    }, results["apache"]
    assert_same(results["apache"], results["zookeeperd"], "slow reader outcome")
