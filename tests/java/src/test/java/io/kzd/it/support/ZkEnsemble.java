package io.kzd.it.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * zookeeperd members (sid = index + 1) on free 127.0.0.1 ports, each with its
 * own zoo.cfg, dataDir and myid in a temp dir. One member runs standalone;
 * three form an ensemble through server.N lines. Roles come from srvr's Mode.
 */
public final class ZkEnsemble implements AutoCloseable {
    /**
     * A test's own ZooKeeper client session on {@code connect}, returned once it is connected (within 30 s; else
     * it is closed and the test fails).
     */
    public static org.apache.zookeeper.ZooKeeper session(String connect, int sessionTimeoutMs) throws Exception {
        java.util.concurrent.CountDownLatch connected = new java.util.concurrent.CountDownLatch(1);
        org.apache.zookeeper.ZooKeeper zk = new org.apache.zookeeper.ZooKeeper(connect, sessionTimeoutMs, e -> {
            if (e.getState() == org.apache.zookeeper.Watcher.Event.KeeperState.SyncConnected) {
                connected.countDown();
            }
        });
        if (!connected.await(30, java.util.concurrent.TimeUnit.SECONDS)) {
            zk.close();
            throw new AssertionError("no ZooKeeper session on " + connect);
        }
        return zk;
    }

    public static final Duration QUORUM_DEADLINE = Duration.ofSeconds(60);
    private static final Pattern MODE = Pattern.compile("(?m)^Mode: (\\S+)");

    private final Path root;
    private final int[] clientPorts;
    private final Daemon[] members;

    /**
     * ZK_TARGET=apache runs Apache ZooKeeper (Debian's zookeeper package) instead, to check what
     * the tests expect against the reference server.
     */
    static final boolean APACHE = "apache".equals(System.getenv("ZK_TARGET"));

    private static List<String> apacheCommand(boolean quorum, Path cfg) {
        return List.of("java", "-Xmx256m", "-XX:+UseSerialGC", "-Dznode.container.checkIntervalMs=500",
                "-Dzookeeper.jmx.log4j.disable=true",
                "-cp", "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar",
                quorum ? "org.apache.zookeeper.server.quorum.QuorumPeerMain"
                        : "org.apache.zookeeper.server.ZooKeeperServerMain",
                cfg.toString());
    }

    private ZkEnsemble(int n) {
        root = Env.tempDir("kzd-zk-");
        clientPorts = new int[n];
        members = new Daemon[n];
        int[][] peer = new int[n][2];
        StringBuilder servers = new StringBuilder();
        for (int i = 0; i < n; i++) {
            clientPorts[i] = Env.freePort();
            if (n > 1) {
                peer[i][0] = Env.freePort();
                peer[i][1] = Env.freePort();
                servers.append(String.format("server.%d=127.0.0.1:%d:%d;127.0.0.1:%d%n",
                        i + 1, peer[i][0], peer[i][1], clientPorts[i]));
            }
        }
        Path bin = APACHE ? null : Env.zookeeperd();
        try {
            for (int i = 0; i < n; i++) {
                Path dir = root.resolve("s" + (i + 1));
                Path data = dir.resolve("data");
                Files.createDirectories(data);
                if (n > 1) {
                    Files.writeString(data.resolve("myid"), (i + 1) + "\n");
                }
                Path cfg = dir.resolve("zoo.cfg");
                Files.writeString(cfg, "tickTime=500\ninitLimit=20\nsyncLimit=10\n"
                        + "dataDir=" + data + "\n"
                        + "clientPort=" + clientPorts[i] + "\nclientPortAddress=127.0.0.1\n"
                        + "admin.enableServer=false\n4lw.commands.whitelist=*\nmaxClientCnxns=0\n"
                        + "znode.container.checkIntervalMs=500\n"
                        + servers);
                members[i] = new Daemon((APACHE ? "apache zookeeper s" : "zookeeperd s") + (i + 1),
                        APACHE ? apacheCommand(n > 1, cfg) : List.of(bin.toString(), cfg.toString()),
                        dir.resolve("server.log"));
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Three members; returns once one leads and two follow. */
    public static ZkEnsemble startEnsemble() {
        ZkEnsemble e = new ZkEnsemble(3);
        try {
            for (Daemon d : e.members) {
                d.start();
            }
            e.waitQuorum();
            return e;
        } catch (RuntimeException | Error t) {
            e.close();
            throw t;
        }
    }

    /** One standalone member, serving. */
    public static ZkEnsemble startStandalone() {
        ZkEnsemble e = new ZkEnsemble(1);
        try {
            e.members[0].start();
            Env.waitUntil("zookeeperd standalone to serve", QUORUM_DEADLINE,
                    () -> "standalone".equals(e.mode(0)), e::logs);
            return e;
        } catch (RuntimeException | Error t) {
            e.close();
            throw t;
        }
    }

    public int size() {
        return members.length;
    }

    public int clientPort(int i) {
        return clientPorts[i];
    }

    /** host:port of every member, for ZooKeeper connect strings. */
    public String connect() {
        List<String> hp = new ArrayList<>();
        for (int p : clientPorts) {
            hp.add("127.0.0.1:" + p);
        }
        return String.join(",", hp);
    }

    /** Index of the member whose client port is {@code port}, or -1. */
    public int memberOnPort(int port) {
        for (int i = 0; i < clientPorts.length; i++) {
            if (clientPorts[i] == port) {
                return i;
            }
        }
        return -1;
    }

    /** srvr's Mode of member i, or null when down or not serving. */
    public String mode(int i) {
        if (!members[i].alive()) {
            Integer st = members[i].exitedWith();
            if (st != null) {
                throw new AssertionError(members[i].name() + " exited with status " + st + "\n" + logs());
            }
            return null;
        }
        String r = Env.fourLetter(clientPorts[i], "srvr");
        if (r == null) {
            return null;
        }
        Matcher m = MODE.matcher(r);
        return m.find() ? m.group(1) : null;
    }

    /** The leader's index when the running members are one leader and the rest followers, else null. */
    public Integer leader() {
        Integer leader = null;
        for (int i = 0; i < members.length; i++) {
            if (!members[i].alive()) {
                mode(i); // fails when the member exited on its own
                continue;
            }
            String mode = mode(i);
            if ("leader".equals(mode)) {
                if (leader != null) {
                    return null;
                }
                leader = i;
            } else if (!"follower".equals(mode)) {
                return null;
            }
        }
        return leader;
    }

    public int waitQuorum() {
        return Env.waitFor("one zookeeperd leader and the other running members following", QUORUM_DEADLINE,
                this::leader, this::logs);
    }

    public void kill9(int i) {
        members[i].kill9();
    }

    /** Start member i again on its dataDir (after kill9). */
    public void restart(int i) {
        members[i].start();
    }

    public boolean alive(int i) {
        return members[i].alive();
    }

    public String logs() {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < members.length; i++) {
            sb.append("srvr of s").append(i + 1).append(": ")
                    .append(members[i].alive() ? String.valueOf(Env.fourLetter(clientPorts[i], "srvr")) : "down")
                    .append('\n');
        }
        return sb + java.util.Arrays.stream(members).map(d -> d.tail(40)).collect(Collectors.joining("\n"));
    }

    @Override
    public void close() {
        for (Daemon d : members) {
            if (d != null) {
                d.kill9();
            }
        }
        Env.removeTree(root);
    }
}
