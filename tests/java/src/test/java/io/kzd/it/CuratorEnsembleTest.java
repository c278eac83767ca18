package io.kzd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.atomic.AtomicValue;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicLong;
import org.apache.curator.framework.recipes.atomic.PromotedToLock;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.recipes.cache.PathChildrenCache;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.shared.SharedCount;
import org.apache.curator.framework.recipes.shared.SharedCountListener;
import org.apache.curator.framework.recipes.shared.SharedCountReader;
import org.apache.curator.framework.recipes.shared.VersionedValue;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.retry.RetryNTimes;
import org.apache.zookeeper.CreateMode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import io.kzd.it.support.EnsembleTestBase;
import io.kzd.it.support.Env;
import io.kzd.it.support.ZkEnsemble;

/** Apache Curator 5 recipes (with the ZooKeeper 3.8 client) against a three-member zookeeperd ensemble. */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class CuratorEnsembleTest extends EnsembleTestBase {
    static final int SESSION_TIMEOUT_MS = 15000;
    static final Duration T = Duration.ofSeconds(60);

    final List<CuratorFramework> clients = new CopyOnWriteArrayList<>();

    @AfterEach
    void closeClients() {
        for (CuratorFramework c : clients) {
            c.close();
        }
        clients.clear();
    }

    CuratorFramework client() throws InterruptedException {
        CuratorFramework c = CuratorFrameworkFactory.builder()
                .connectString(ens.connect())
                .sessionTimeoutMs(SESSION_TIMEOUT_MS)
                .connectionTimeoutMs(5000)
                .retryPolicy(new ExponentialBackoffRetry(100, 10, 1000))
                .build();
        clients.add(c);
        c.start();
        assertTrue(c.blockUntilConnected(30, TimeUnit.SECONDS), "curator client connected to " + ens.connect());
        return c;
    }

    /** Bring the client's member up to date with the leader (reads are only sequentially consistent). */
    static void sync(CuratorFramework c, String path) throws Exception {
        java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
        c.sync().inBackground((cl, event) -> done.countDown()).forPath(path);
        assertTrue(done.await(30, TimeUnit.SECONDS), "sync of " + path);
    }

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String s(byte[] b) {
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }

    @Test
    @Order(1)
    void interProcessMutexExcludesAcrossClients() throws Exception {
        int n = 4;
        int rounds = 15;
        CuratorFramework setup = client();
        setup.create().creatingParentsIfNeeded().forPath("/locks/counter", b("0"));
        List<CuratorFramework> cs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            cs.add(client());
        }
        AtomicInteger holders = new AtomicInteger();
        AtomicInteger maxHolders = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            List<Future<Integer>> fs = new ArrayList<>();
            for (CuratorFramework c : cs) {
                fs.add(pool.submit(() -> {
                    InterProcessMutex m = new InterProcessMutex(c, "/locks/mutex");
                    for (int r = 0; r < rounds; r++) {
                        assertTrue(m.acquire(30, TimeUnit.SECONDS), "lock acquired within 30 s");
                        try {
                            maxHolders.accumulateAndGet(holders.incrementAndGet(), Math::max);
                            // An unversioned read-modify-write: exact only under mutual exclusion
                            // and when each holder reads what the previous holder wrote.
                            long v = Long.parseLong(s(c.getData().forPath("/locks/counter")));
                            c.setData().forPath("/locks/counter", b(Long.toString(v + 1)));
                            holders.decrementAndGet();
                        } finally {
                            m.release();
                        }
                    }
                    return rounds;
                }));
            }
            for (Future<Integer> f : fs) {
                f.get(120, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals(1, maxHolders.get(), "at most one holder at a time");
        sync(setup, "/locks/counter");
        assertEquals(Integer.toString(n * rounds), s(setup.getData().forPath("/locks/counter")));
        Env.waitUntil("the lock's children to be gone", T, () -> {
            try {
                return setup.getChildren().forPath("/locks/mutex").isEmpty();
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        }, null);
    }

    @Test
    @Order(2)
    void distributedAtomicLongIncrementsSumExactly() throws Exception {
        int threads = 4;
        int per = 25;
        CuratorFramework c1 = client();
        CuratorFramework c2 = client();
        Set<Long> posts = ConcurrentHashMap.newKeySet();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                CuratorFramework c = t % 2 == 0 ? c1 : c2;
                fs.add(pool.submit(() -> {
                    DistributedAtomicLong dal = new DistributedAtomicLong(c, "/dal/counter", new RetryNTimes(50, 5),
                            PromotedToLock.builder().lockPath("/dal/lock").timeout(30, TimeUnit.SECONDS)
                                    .retryPolicy(new RetryNTimes(50, 5)).build());
                    for (int i = 0; i < per; i++) {
                        AtomicValue<Long> v = dal.increment();
                        assertTrue(v.succeeded(), "increment succeeded");
                        assertEquals(v.preValue() + 1, v.postValue());
                        assertTrue(posts.add(v.postValue()), "post value " + v.postValue() + " seen twice");
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) {
                f.get(120, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        long total = (long) threads * per;
        Set<Long> expected = new HashSet<>();
        for (long i = 1; i <= total; i++) {
            expected.add(i);
        }
        assertEquals(expected, posts, "every increment produced a distinct next value");
        // c1's member may not have applied c2's last increment yet: sync, then read
        sync(c1, "/dal/counter");
        AtomicValue<Long> end = new DistributedAtomicLong(c1, "/dal/counter", new RetryNTimes(3, 10)).get();
        assertTrue(end.succeeded());
        assertEquals(total, end.postValue());
    }

    @Test
    @Order(3)
    void curatorCacheSeesCreatesChangesAndDeletes() throws Exception {
        CuratorFramework writer = client();
        CuratorFramework reader = client();
        writer.create().forPath("/cc", b("root"));
        List<String> events = new CopyOnWriteArrayList<>();
        java.util.concurrent.CountDownLatch initialized = new java.util.concurrent.CountDownLatch(1);
        try (CuratorCache cache = CuratorCache.build(reader, "/cc")) {
            cache.listenable().addListener(CuratorCacheListener.builder()
                    .forCreates(n -> events.add("create " + n.getPath() + "=" + s(n.getData())))
                    .forChanges((o, n) -> events.add("change " + n.getPath() + "=" + s(n.getData())))
                    .forDeletes(o -> events.add("delete " + o.getPath()))
                    .forInitialized(initialized::countDown)
                    .build());
            cache.start();
            assertTrue(initialized.await(30, TimeUnit.SECONDS), "cache initialized");
            // One change at a time, each awaited: the cache reads data after an event, so
            // changes in quick succession may show as one.
            awaitEvent(events, "create /cc=root");
            writer.create().forPath("/cc/a", b("1"));
            awaitEvent(events, "create /cc/a=1");
            writer.create().forPath("/cc/b", b("2"));
            awaitEvent(events, "create /cc/b=2");
            writer.create().forPath("/cc/a/x", b("3"));
            awaitEvent(events, "create /cc/a/x=3");
            writer.setData().forPath("/cc/a", b("10"));
            awaitEvent(events, "change /cc/a=10");
            writer.delete().forPath("/cc/b");
            awaitEvent(events, "delete /cc/b");
            writer.delete().forPath("/cc/a/x");
            awaitEvent(events, "delete /cc/a/x");
            List<String> expected = List.of("create /cc=root", "create /cc/a=1", "create /cc/b=2",
                    "create /cc/a/x=3", "change /cc/a=10", "delete /cc/b", "delete /cc/a/x");
            assertEquals(expected, events);
            assertEquals("10", s(cache.get("/cc/a").map(ChildData::getData).orElse(null)));
            assertFalse(cache.get("/cc/b").isPresent());
            assertEquals(2, cache.size(), "cache holds /cc and /cc/a");
        }
    }

    static void awaitEvent(List<String> events, String event) {
        Env.waitUntil("the event " + event, T, () -> events.contains(event), () -> "events so far: " + events);
    }

    @Test
    @Order(4)
    @SuppressWarnings("deprecation")
    void pathChildrenCacheSeesChildren() throws Exception {
        CuratorFramework writer = client();
        CuratorFramework reader = client();
        writer.create().forPath("/pcc", b(""));
        writer.create().forPath("/pcc/pre", b("p"));
        List<String> events = new CopyOnWriteArrayList<>();
        try (PathChildrenCache cache = new PathChildrenCache(reader, "/pcc", true)) {
            cache.getListenable().addListener((cl, e) -> {
                if (e.getData() != null) {
                    events.add(e.getType() + " " + e.getData().getPath() + "=" + s(e.getData().getData()));
                } else {
                    events.add(e.getType().toString());
                }
            });
            cache.start(PathChildrenCache.StartMode.BUILD_INITIAL_CACHE);
            assertEquals(List.of("/pcc/pre"),
                    cache.getCurrentData().stream().map(ChildData::getPath).collect(Collectors.toList()));
            // one change at a time, each awaited (see the CuratorCache test)
            writer.create().forPath("/pcc/a", b("1"));
            awaitEvent(events, "CHILD_ADDED /pcc/a=1");
            writer.create().withMode(CreateMode.EPHEMERAL).forPath("/pcc/e", b("2"));
            awaitEvent(events, "CHILD_ADDED /pcc/e=2");
            writer.setData().forPath("/pcc/a", b("11"));
            awaitEvent(events, "CHILD_UPDATED /pcc/a=11");
            writer.delete().forPath("/pcc/pre");
            awaitEvent(events, "CHILD_REMOVED /pcc/pre=p");
            writer.delete().forPath("/pcc/e");
            awaitEvent(events, "CHILD_REMOVED /pcc/e=2");
            assertEquals(List.of("CHILD_ADDED /pcc/a=1", "CHILD_ADDED /pcc/e=2",
                    "CHILD_UPDATED /pcc/a=11", "CHILD_REMOVED /pcc/pre=p", "CHILD_REMOVED /pcc/e=2"), events);
            assertEquals(List.of("/pcc/a"),
                    cache.getCurrentData().stream().map(ChildData::getPath).collect(Collectors.toList()));
        }
    }

    @Test
    @Order(5)
    void sharedCountAcrossClients() throws Exception {
        CuratorFramework c1 = client();
        CuratorFramework c2 = client();
        try (SharedCount a = new SharedCount(c1, "/shared/count", 0);
                SharedCount b = new SharedCount(c2, "/shared/count", 0)) {
            List<Integer> seenByB = new CopyOnWriteArrayList<>();
            b.addListener(new SharedCountListener() {
                @Override
                public void countHasChanged(SharedCountReader r, int newCount) {
                    seenByB.add(newCount);
                }

                @Override
                public void stateChanged(CuratorFramework client, ConnectionState newState) {}
            });
            a.start();
            b.start();
            VersionedValue<Integer> v0 = a.getVersionedValue();
            assertEquals(0, v0.getValue());
            assertTrue(a.trySetCount(v0, 5), "set with the current version");
            Env.waitUntil("b to see 5", T, () -> b.getCount() == 5 && seenByB.contains(5),
                    () -> "b has " + b.getCount() + ", listener saw " + seenByB);
            assertFalse(b.trySetCount(v0, 7), "set with a stale version fails");
            assertEquals(5, b.getCount(), "the failed set refreshed b's value");

            int threads = 2;
            int per = 20;
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            try {
                List<Future<?>> fs = new ArrayList<>();
                for (SharedCount sc : List.of(a, b)) {
                    fs.add(pool.submit(() -> {
                        for (int i = 0; i < per; i++) {
                            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                            while (true) {
                                VersionedValue<Integer> v = sc.getVersionedValue();
                                if (sc.trySetCount(v, v.getValue() + 1)) {
                                    break;
                                }
                                assertTrue(System.nanoTime() < deadline, "an increment got through within 60 s");
                            }
                        }
                        return null;
                    }));
                }
                for (Future<?> f : fs) {
                    f.get(120, TimeUnit.SECONDS);
                }
            } finally {
                pool.shutdownNow();
            }
            int expected = 5 + threads * per;
            Env.waitUntil("both counts at " + expected, T, () -> a.getCount() == expected && b.getCount() == expected,
                    () -> "a=" + a.getCount() + " b=" + b.getCount());
            byte[] raw = c1.getData().forPath("/shared/count");
            assertEquals(expected, java.nio.ByteBuffer.wrap(raw).getInt(), "the znode holds the count");
        }
    }

    // ------------------------------------------------------------------ leader latch and member kills

    private static final Pattern REMOTE = Pattern.compile("remoteserver:\\S*:(\\d+)");

    /** Index of the ensemble member the client's ZooKeeper connection goes to, or null. */
    Integer connectedMember(CuratorFramework c) {
        try {
            org.apache.zookeeper.ZooKeeper zk = c.getZookeeperClient().getZooKeeper();
            if (!zk.getState().isConnected()) {
                return null;
            }
            Matcher m = REMOTE.matcher(zk.toString());
            if (!m.find()) {
                return null;
            }
            int i = ens.memberOnPort(Integer.parseInt(m.group(1)));
            return i < 0 ? null : i;
        } catch (Exception e) {
            return null;
        }
    }

    /** Index of the one latch that leads, once every client is connected and every latch agrees. */
    Integer singleLeader(List<CuratorFramework> cs, List<LeaderLatch> latches) {
        for (CuratorFramework c : cs) {
            if (!c.getZookeeperClient().isConnected()) {
                return null;
            }
        }
        List<Integer> leading = new ArrayList<>();
        for (int i = 0; i < latches.size(); i++) {
            if (latches.get(i).hasLeadership()) {
                leading.add(i);
            }
        }
        if (leading.size() != 1) {
            return null;
        }
        String id = "c" + leading.get(0);
        try {
            for (LeaderLatch l : latches) {
                if (!id.equals(l.getLeader().getId()) || l.getParticipants().size() != latches.size()) {
                    return null;
                }
            }
        } catch (Exception e) {
            return null;
        }
        return leading.get(0);
    }

    @Test
    @Order(10)
    void leaderLatchElectsOneLeaderAndSurvivesKilledMembers() throws Exception {
        int n = 3;
        List<CuratorFramework> cs = new ArrayList<>();
        List<LeaderLatch> latches = new ArrayList<>();
        Map<Integer, List<ConnectionState>> states = new ConcurrentHashMap<>();
        for (int i = 0; i < n; i++) {
            CuratorFramework c = client();
            int idx = i;
            states.put(idx, new CopyOnWriteArrayList<>());
            c.getConnectionStateListenable().addListener((cl, st) -> states.get(idx).add(st));
            cs.add(c);
            latches.add(new LeaderLatch(c, "/latch", "c" + i));
        }
        try {
            for (LeaderLatch l : latches) {
                l.start();
            }
            int leader = Env.waitFor("exactly one latch leader, agreed by all", T,
                    () -> singleLeader(cs, latches), ens::logs);
            long[] sessions = new long[n];
            for (int i = 0; i < n; i++) {
                sessions[i] = cs.get(i).getZookeeperClient().getZooKeeper().getSessionId();
            }

            // 1. The member the leading client is connected to.
            int member = Env.waitFor("the leader's client's member", T, () -> connectedMember(cs.get(leader)));
            killAndAwaitLeader("member s" + (member + 1) + " (the latch leader's server, was "
                    + ens.mode(member) + ")", member, cs, latches, sessions, states);

            // 2. The ZooKeeper leader.
            int zkLeader = ens.waitQuorum();
            killAndAwaitLeader("member s" + (zkLeader + 1) + " (the ZooKeeper leader)", zkLeader, cs, latches,
                    sessions, states);
        } finally {
            for (LeaderLatch l : latches) {
                try {
                    l.close();
                } catch (Exception ignored) {
                    // closing
                }
            }
        }
    }

    void killAndAwaitLeader(String what, int member, List<CuratorFramework> cs, List<LeaderLatch> latches,
            long[] sessions, Map<Integer, List<ConnectionState>> states) {
        long t0 = System.nanoTime();
        ens.kill9(member);
        Integer after = Env.waitFor("one latch leader after killing " + what, T,
                () -> singleLeader(cs, latches), ens::logs);
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        System.out.println("latch leader c" + after + " " + ms + " ms after killing " + what);
        for (int i = 0; i < cs.size(); i++) {
            org.apache.zookeeper.ZooKeeper zk;
            try {
                zk = cs.get(i).getZookeeperClient().getZooKeeper();
            } catch (Exception e) {
                throw new AssertionError(e);
            }
            assertEquals(sessions[i], zk.getSessionId(), "client c" + i + " kept its session after killing " + what);
            assertFalse(states.get(i).contains(ConnectionState.LOST),
                    "client c" + i + " never lost its session: " + states.get(i));
            Integer on = connectedMember(cs.get(i));
            assertNotNull(on);
            assertTrue(on != member, "client c" + i + " is on a live member");
        }
        assertTrue(ms < SESSION_TIMEOUT_MS, "leader back within the session timeout (" + ms + " ms)");
        // Bring the member back for what follows.
        ens.restart(member);
        ens.waitQuorum();
    }
}
