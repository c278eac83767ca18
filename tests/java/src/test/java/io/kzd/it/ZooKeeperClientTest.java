package io.kzd.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import io.kzd.it.support.EnsembleTestBase;
import io.kzd.it.support.Env;
import io.kzd.it.support.ZkEnsemble;

/** The plain org.apache.zookeeper.ZooKeeper 3.8 client against a three-member zookeeperd ensemble. */
class ZooKeeperClientTest extends EnsembleTestBase {
    static final Duration T = Duration.ofSeconds(60);
    static final List<org.apache.zookeeper.data.ACL> OPEN = ZooDefs.Ids.OPEN_ACL_UNSAFE;

    final List<ZooKeeper> sessions = new CopyOnWriteArrayList<>();

    @AfterEach
    void closeSessions() throws InterruptedException {
        for (ZooKeeper zk : sessions) {
            zk.close();
        }
        sessions.clear();
    }

    /** A session on member i only (or on all members for i < 0). */
    ZooKeeper connect(int member) throws Exception {
        String hosts = member < 0 ? ens.connect() : "127.0.0.1:" + ens.clientPort(member);
        ZooKeeper zk = ZkEnsemble.session(hosts, 15000);
        sessions.add(zk);
        return zk;
    }

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void createGetSetDeleteWithVersions() throws Exception {
        ZooKeeper zk = connect(0);
        ZooKeeper other = connect(1);
        assertEquals("/v", zk.create("/v", b("a"), OPEN, CreateMode.PERSISTENT));
        assertThrows(KeeperException.NodeExistsException.class,
                () -> zk.create("/v", b("x"), OPEN, CreateMode.PERSISTENT));
        assertThrows(KeeperException.NoNodeException.class,
                () -> zk.create("/missing/child", b("x"), OPEN, CreateMode.PERSISTENT));

        Stat st = new Stat();
        assertArrayEquals(b("a"), zk.getData("/v", false, st));
        assertEquals(0, st.getVersion());
        assertEquals(1, st.getDataLength());
        assertEquals(st.getCzxid(), st.getMzxid());

        Stat s1 = zk.setData("/v", b("bb"), 0);
        assertEquals(1, s1.getVersion());
        assertTrue(s1.getMzxid() > st.getMzxid());
        KeeperException.BadVersionException bad = assertThrows(KeeperException.BadVersionException.class,
                () -> zk.setData("/v", b("c"), 0));
        assertEquals("/v", bad.getPath());
        assertEquals(2, zk.setData("/v", b("ccc"), -1).getVersion());

        // another member, after sync, sees the same node
        CountDownLatch synced = new CountDownLatch(1);
        other.sync("/v", (rc, path, ctx) -> synced.countDown(), null);
        assertTrue(synced.await(30, TimeUnit.SECONDS));
        Stat os = new Stat();
        assertArrayEquals(b("ccc"), other.getData("/v", false, os));
        assertEquals(2, os.getVersion());
        assertEquals(s1.getCzxid(), os.getCzxid());

        // sequential children count up, as the parent's cversion does
        String s0 = zk.create("/v/seq-", b(""), OPEN, CreateMode.PERSISTENT_SEQUENTIAL);
        String s2 = zk.create("/v/seq-", b(""), OPEN, CreateMode.PERSISTENT_SEQUENTIAL);
        assertEquals("/v/seq-0000000000", s0);
        assertEquals("/v/seq-0000000001", s2);
        Stat ps = zk.exists("/v", false);
        assertEquals(2, ps.getNumChildren());
        assertEquals(2, ps.getCversion());
        assertEquals(List.of("seq-0000000000", "seq-0000000001"),
                zk.getChildren("/v", false).stream().sorted().collect(Collectors.toList()));

        assertThrows(KeeperException.NotEmptyException.class, () -> zk.delete("/v", -1));
        zk.delete(s0, 0);
        zk.delete(s2, -1);
        assertThrows(KeeperException.BadVersionException.class, () -> zk.delete("/v", 1));
        zk.delete("/v", 2);
        assertNull(zk.exists("/v", false));
        assertThrows(KeeperException.NoNodeException.class, () -> zk.getData("/v", false, null));
    }

    @Test
    void multiIsAtomic() throws Exception {
        ZooKeeper zk = connect(-1);
        List<OpResult> rs = zk.multi(List.of(
                Op.create("/m", b("0"), OPEN, CreateMode.PERSISTENT),
                Op.create("/m/a", b("a"), OPEN, CreateMode.PERSISTENT),
                Op.setData("/m", b("1"), 0),
                Op.check("/m", 1)));
        assertEquals(4, rs.size());
        assertEquals("/m", ((OpResult.CreateResult) rs.get(0)).getPath());
        assertEquals("/m/a", ((OpResult.CreateResult) rs.get(1)).getPath());
        assertEquals(1, ((OpResult.SetDataResult) rs.get(2)).getStat().getVersion());
        assertInstanceOf(OpResult.CheckResult.class, rs.get(3));

        // a failing check aborts the whole transaction
        KeeperException e = assertThrows(KeeperException.class, () -> zk.multi(List.of(
                Op.create("/m/b", b("b"), OPEN, CreateMode.PERSISTENT),
                Op.check("/m", 99),
                Op.delete("/m/a", -1))));
        assertEquals(KeeperException.Code.BADVERSION, e.code());
        List<OpResult> results = e.getResults();
        assertNotNull(results);
        assertEquals(3, results.size());
        assertEquals(KeeperException.Code.OK.intValue(), ((OpResult.ErrorResult) results.get(0)).getErr());
        assertEquals(KeeperException.Code.BADVERSION.intValue(), ((OpResult.ErrorResult) results.get(1)).getErr());
        assertEquals(KeeperException.Code.RUNTIMEINCONSISTENCY.intValue(),
                ((OpResult.ErrorResult) results.get(2)).getErr());
        assertNull(zk.exists("/m/b", false));
        assertNotNull(zk.exists("/m/a", false));

        // the Transaction builder
        List<OpResult> tx = zk.transaction().delete("/m/a", 0).setData("/m", b("2"), 1).commit();
        assertInstanceOf(OpResult.DeleteResult.class, tx.get(0));
        assertEquals(2, ((OpResult.SetDataResult) tx.get(1)).getStat().getVersion());

        // read-only multi
        List<OpResult> reads = zk.multi(List.of(Op.getData("/m"), Op.getChildren("/m")));
        assertArrayEquals(b("2"), ((OpResult.GetDataResult) reads.get(0)).getData());
        assertEquals(List.of(), ((OpResult.GetChildrenResult) reads.get(1)).getChildren());
    }

    @Test
    void getEphemeralsListsOnlyTheSessionsOwn() throws Exception {
        ZooKeeper zk = connect(0);
        ZooKeeper other = connect(2);
        zk.create("/eph", b(""), OPEN, CreateMode.PERSISTENT);
        zk.create("/eph/b", b(""), OPEN, CreateMode.PERSISTENT);
        zk.create("/eph/a", b(""), OPEN, CreateMode.EPHEMERAL);
        zk.create("/eph/b/c", b(""), OPEN, CreateMode.EPHEMERAL);
        zk.create("/elsewhere", b(""), OPEN, CreateMode.EPHEMERAL);
        other.create("/eph/o", b(""), OPEN, CreateMode.EPHEMERAL);
        assertEquals(List.of("/eph/a", "/eph/b/c"), zk.getEphemerals("/eph").stream().sorted().collect(Collectors.toList()));
        assertEquals(List.of("/elsewhere", "/eph/a", "/eph/b/c"),
                zk.getEphemerals().stream().sorted().collect(Collectors.toList()));
        assertEquals(List.of("/eph/o"), other.getEphemerals("/"));
        assertEquals(zk.getSessionId(), zk.exists("/eph/a", false).getEphemeralOwner());

        zk.close();
        sessions.remove(zk);
        Env.waitUntil("the closed session's ephemerals to be gone, seen from another member", T, () -> {
            try {
                return other.exists("/eph/a", false) == null && other.exists("/eph/b/c", false) == null
                        && other.exists("/elsewhere", false) == null;
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        }, null);
        assertNotNull(other.exists("/eph/b", false));
        assertEquals(List.of("/eph/o"), other.getEphemerals());
    }

    @Test
    void persistentRecursiveWatchSeesTheSubtree() throws Exception {
        ZooKeeper writer = connect(0);
        // Separate sessions: one session's watches on one path share one server-side mode.
        ZooKeeper watcherSession = connect(1);
        ZooKeeper persistentSession = connect(2);
        BlockingQueue<WatchedEvent> rec = new LinkedBlockingQueue<>();
        BlockingQueue<WatchedEvent> pers = new LinkedBlockingQueue<>();
        Watcher recursive = rec::add;
        Watcher persistent = pers::add;
        watcherSession.addWatch("/w", recursive, AddWatchMode.PERSISTENT_RECURSIVE);
        persistentSession.addWatch("/w", persistent, AddWatchMode.PERSISTENT);

        writer.create("/w", b(""), OPEN, CreateMode.PERSISTENT);
        writer.create("/w/a", b(""), OPEN, CreateMode.PERSISTENT);
        writer.create("/w/a/b", b(""), OPEN, CreateMode.PERSISTENT);
        writer.setData("/w/a/b", b("x"), -1);
        writer.setData("/w", b("y"), -1);
        writer.delete("/w/a/b", -1);
        writer.delete("/w/a", -1);

        List<String> expectRec = List.of("NodeCreated /w", "NodeCreated /w/a", "NodeCreated /w/a/b",
                "NodeDataChanged /w/a/b", "NodeDataChanged /w", "NodeDeleted /w/a/b", "NodeDeleted /w/a");
        assertEquals(expectRec, take(rec, expectRec.size()), "recursive watch events, in order");
        List<String> expectPers = List.of("NodeCreated /w", "NodeChildrenChanged /w", "NodeDataChanged /w",
                "NodeChildrenChanged /w");
        assertEquals(expectPers, take(pers, expectPers.size()), "persistent watch events, in order");

        // Remove the recursive watch; a later change must not reach it. A one-shot
        // watch set afterwards marks the point by which any such event would have come.
        watcherSession.removeWatches("/w", recursive, Watcher.WatcherType.Any, false);
        assertEquals("PersistentWatchRemoved /w", take(rec, 1).get(0));
        CountDownLatch marker = new CountDownLatch(1);
        watcherSession.exists("/marker", e -> marker.countDown());
        writer.create("/w/c", b(""), OPEN, CreateMode.PERSISTENT);
        writer.create("/marker", b(""), OPEN, CreateMode.PERSISTENT);
        assertTrue(marker.await(30, TimeUnit.SECONDS), "marker event");
        assertEquals(List.of("NodeChildrenChanged /w"), take(pers, 1), "the persistent watch still fires");
        assertTrue(rec.isEmpty(), "no events after removal: " + rec);
    }

    @Test
    void ensembleConfigNodeListsTheMembers() throws Exception {
        ZooKeeper zk = connect(0);
        // /zookeeper/config: what `zkCli.sh config` prints and Curator's EnsembleTracker turns into its
        // connect string. Apache ZooKeeper 3.8 (static config, reconfig disabled) serves e.g.
        // "server.1=127.0.0.1:Q:E:participant;127.0.0.1:C\n...\nversion=0".
        String config = new String(zk.getConfig(false, null), StandardCharsets.UTF_8);
        for (int i = 0; i < 3; i++) {
            String line = "server." + (i + 1) + "=127.0.0.1:";
            String tail = ":participant;127.0.0.1:" + ens.clientPort(i);
            assertTrue(config.lines().anyMatch(l -> l.startsWith(line) && l.endsWith(tail)),
                    "config has server." + (i + 1) + ":\n" + config);
        }
        assertTrue(config.lines().anyMatch(l -> l.matches("version=[0-9a-f]+")), config);
        // and the ZooKeeper library parses it as a three-voter majority quorum
        java.util.Properties props = new java.util.Properties();
        props.load(new java.io.StringReader(config));
        assertEquals(3, new org.apache.zookeeper.server.quorum.flexible.QuorumMaj(props).getVotingMembers().size());
    }

    @Test
    void whoAmIContainersAndChildCounts() throws Exception {
        ZooKeeper zk = connect(0);
        List<org.apache.zookeeper.data.ClientInfo> who = zk.whoAmI();
        assertEquals(1, who.size(), who.toString());
        assertEquals("ip", who.get(0).getAuthScheme());
        assertEquals("127.0.0.1", who.get(0).getUser());

        zk.create("/cnt", b(""), OPEN, CreateMode.PERSISTENT);
        zk.create("/cnt/a", b(""), OPEN, CreateMode.PERSISTENT);
        zk.create("/cnt/a/b", b(""), OPEN, CreateMode.PERSISTENT);
        zk.create("/cnt/c", b(""), OPEN, CreateMode.EPHEMERAL);
        assertEquals(3, zk.getAllChildrenNumber("/cnt"));

        // a container goes away once its last child does
        zk.create("/box", b(""), OPEN, CreateMode.CONTAINER);
        zk.create("/box/item", b(""), OPEN, CreateMode.PERSISTENT);
        // clients see 0 as a container's ephemeralOwner (the server keeps its marker to itself)
        assertEquals(0, zk.exists("/box", false).getEphemeralOwner());
        zk.delete("/box/item", -1);
        Env.waitUntil("the empty container /box to be removed", T, () -> {
            try {
                return zk.exists("/box", false) == null;
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        }, ens::logs);
    }

    static List<String> take(BlockingQueue<WatchedEvent> q, int n) throws InterruptedException {
        List<String> out = new ArrayList<>();
        long deadline = System.nanoTime() + T.toNanos();
        while (out.size() < n) {
            WatchedEvent e = q.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            if (e == null) {
                throw new AssertionError("timed out: got only " + out + ", wanted " + n + " events");
            }
            if (e.getType() == Watcher.Event.EventType.None) {
                continue;
            }
            out.add(e.getType() + " " + e.getPath());
        }
        return out;
    }
}
