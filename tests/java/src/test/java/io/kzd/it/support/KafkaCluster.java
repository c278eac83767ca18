package io.kzd.it.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartitionInfo;

/**
 * kafkad brokers 1..n on one standalone zookeeperd, each on a free
 * 127.0.0.1 port with its own log.dirs in a temp dir.
 */
public final class KafkaCluster implements AutoCloseable {
    public static final Duration DEADLINE = Duration.ofSeconds(60);

    private final Path root;
    private final ZkEnsemble zk;
    private final int[] ports;
    private final Daemon[] brokers;

    private KafkaCluster(ZkEnsemble zk, int n, String extra) {
        this.zk = zk;
        root = Env.tempDir("kzd-kafka-");
        ports = new int[n];
        brokers = new Daemon[n];
        Path bin = Env.kafkad();
        try {
            for (int i = 0; i < n; i++) {
                int id = i + 1;
                ports[i] = Env.freePort();
                Path dir = root.resolve("b" + id);
                Files.createDirectories(dir);
                Path cfg = dir.resolve("server.properties");
                Files.writeString(cfg, "broker.id=" + id + "\n"
                        + "listeners=PLAINTEXT://127.0.0.1:" + ports[i] + "\n"
                        + "log.dirs=" + dir.resolve("logs") + "\n"
                        + "zookeeper.connect=" + zk.connect() + "\n"
                        + "zookeeper.session.timeout.ms=6000\n"
                        + "group.initial.rebalance.delay.ms=0\n"
                        + extra + "\n");
                brokers[i] = new Daemon("kafkad broker " + id, List.of(bin.toString(), cfg.toString()),
                        dir.resolve("kafkad.log"));
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** n brokers on a fresh standalone zookeeperd; returns once every broker is in the cluster metadata. */
    public static KafkaCluster start(int n, String extraProps) {
        ZkEnsemble zk = ZkEnsemble.startStandalone();
        KafkaCluster c;
        try {
            c = new KafkaCluster(zk, n, extraProps);
        } catch (RuntimeException e) {
            zk.close();
            throw e;
        }
        try {
            for (Daemon d : c.brokers) {
                d.start();
            }
            c.waitForBrokers(allIds(n));
            return c;
        } catch (RuntimeException | Error t) {
            c.close();
            throw t;
        }
    }

    private static Set<Integer> allIds(int n) {
        Set<Integer> s = new java.util.TreeSet<>();
        for (int i = 1; i <= n; i++) {
            s.add(i);
        }
        return s;
    }

    public int size() {
        return brokers.length;
    }

    public String bootstrap() {
        List<String> hp = new ArrayList<>();
        for (int p : ports) {
            hp.add("127.0.0.1:" + p);
        }
        return String.join(",", hp);
    }

    public int port(int brokerId) {
        return ports[brokerId - 1];
    }

    public boolean alive(int brokerId) {
        return brokers[brokerId - 1].alive();
    }

    public long pid(int brokerId) {
        return brokers[brokerId - 1].pid();
    }

    public void kill9(int brokerId) {
        brokers[brokerId - 1].kill9();
    }

    public void restart(int brokerId) {
        brokers[brokerId - 1].start();
    }

    public Admin admin() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap());
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 10000);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 20000);
        return Admin.create(p);
    }

    private void failIfExited() {
        for (Daemon d : brokers) {
            Integer st = d.exitedWith();
            if (st != null) {
                throw new AssertionError(d.name() + " exited with status " + st + "\n" + logs());
            }
        }
    }

    /** Wait until the cluster metadata lists exactly these broker ids. */
    public void waitForBrokers(Set<Integer> ids) {
        Env.waitUntil("brokers " + ids + " to listen", DEADLINE, () -> {
            failIfExited();
            for (int id : ids) {
                if (!Env.listening(ports[id - 1])) {
                    return false;
                }
            }
            return true;
        }, this::logs);
        try (Admin admin = admin()) {
            Env.waitUntil("the cluster metadata to list brokers " + ids, DEADLINE, () -> {
                failIfExited();
                try {
                    Collection<Node> nodes = admin.describeCluster(new DescribeClusterOptions().timeoutMs(2000))
                            .nodes().get(3, TimeUnit.SECONDS);
                    return nodes.stream().map(Node::id).collect(Collectors.toSet()).equals(ids);
                } catch (Exception e) {
                    return false;
                }
            }, this::logs);
        }
    }

    /** Wait until every partition of {@code topic} has a leader and {@code isr} in-sync replicas. */
    public TopicDescription waitForIsr(Admin admin, String topic, int isr) {
        return waitForIsr(admin, topic, -1, isr);
    }

    /**
     * Wait until the metadata (of whichever broker the admin client asks) shows {@code partitions}
     * partitions (any number when negative), each with a leader and {@code isr} in-sync replicas.
     */
    public TopicDescription waitForIsr(Admin admin, String topic, int partitions, int isr) {
        return Env.waitFor((partitions < 0 ? "every partition" : partitions + " partitions") + " of " + topic
                + " to have a leader and " + isr + " in-sync replicas", DEADLINE, () -> {
                    failIfExited();
                    try {
                        TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames()
                                .get(5, TimeUnit.SECONDS).get(topic);
                        if (partitions >= 0 && d.partitions().size() != partitions) {
                            return null;
                        }
                        for (TopicPartitionInfo p : d.partitions()) {
                            if (p.leader() == null || p.leader().isEmpty() || p.isr().size() != isr) {
                                return null;
                            }
                        }
                        return d;
                    } catch (Exception e) {
                        return null;
                    }
                }, this::logs);
    }

    public String logs() {
        return java.util.Arrays.stream(brokers).map(d -> d.tail(60)).collect(Collectors.joining("\n"))
                + "\n" + zk.logs();
    }

    @Override
    public void close() {
        for (Daemon d : brokers) {
            if (d != null) {
                d.kill9();
            }
        }
        zk.close();
        Env.removeTree(root);
    }
}
