package io.kzd.it.support;

import java.io.File;
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
import java.util.stream.Stream;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartitionInfo;

/**
 * Brokers 1..n on one ZooKeeper, each on a free 127.0.0.1 port with its own
 * log.dirs in a temp dir: kafkad on a standalone zookeeperd ({@link #start}),
 * or Apache Kafka's own broker as a JVM on a given zookeeperd
 * ({@link #startApacheKafka}).
 */
public final class KafkaCluster implements AutoCloseable {
    public static final Duration DEADLINE = Duration.ofSeconds(60);

    private final Path root;
    private final ZkEnsemble zk;
    /** Whether {@link #close} closes {@link #zk} too (not when the cluster took over another's ZooKeeper). */
    private final boolean ownsZk;
    /** The broker ids are firstId..firstId + n - 1. */
    private final int firstId;
    /** The log.dirs of a cluster that took over another broker's log dir ({@link #startOn}), else null. */
    private final Path logDirOverride;
    private final int[] ports;
    private final Daemon[] brokers;

    /** Makes broker {@code id}'s process from its directory and server.properties. */
    private interface Launcher {
        Daemon daemon(int id, Path dir, Path cfg) throws IOException;
    }

    private KafkaCluster(ZkEnsemble zk, int n, String extra, Launcher launcher) {
        this(zk, true, 1, n, null, extra, launcher);
    }

    private KafkaCluster(ZkEnsemble zk, boolean ownsZk, int firstId, int n, Path logDirOverride, String extra,
            Launcher launcher) {
        this.zk = zk;
        this.ownsZk = ownsZk;
        this.firstId = firstId;
        this.logDirOverride = logDirOverride;
        root = Env.tempDir("kzd-kafka-");
        ports = new int[n];
        brokers = new Daemon[n];
        try {
            for (int i = 0; i < n; i++) {
                int id = firstId + i;
                ports[i] = Env.freePort();
                Path dir = root.resolve("b" + id);
                Files.createDirectories(dir);
                Path cfg = dir.resolve("server.properties");
                Files.writeString(cfg, "broker.id=" + id + "\n"
                        + "listeners=PLAINTEXT://127.0.0.1:" + ports[i] + "\n"
                        + "log.dirs=" + logDir(id) + "\n"
                        + "zookeeper.connect=" + zk.connect() + "\n"
                        + "zookeeper.session.timeout.ms=6000\n"
                        + "group.initial.rebalance.delay.ms=0\n"
                        + extra + "\n");
                brokers[i] = launcher.daemon(id, dir, cfg);
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Three kafkad brokers where every topic, the offsets topic included, has three replicas. */
    public static KafkaCluster startReplicated() {
        return start(3, "num.partitions=3\ndefault.replication.factor=3\n"
                + "offsets.topic.replication.factor=3\noffsets.topic.num.partitions=6\n");
    }

    /** n kafkad brokers on a fresh standalone zookeeperd; returns once every broker is in the cluster metadata. */
    public static KafkaCluster start(int n, String extraProps) {
        return start(ZkEnsemble.startStandalone(), n, extraProps, KafkaCluster::kafkadBroker);
    }

    /**
     * n Apache Kafka brokers ({@code kafka.Kafka server.properties}, the kafka_2.13 artifact on the test
     * classpath) as JVMs of their own on {@code zk}, which the cluster closes with itself. Each logs at
     * INFO to its {@link #log}. Returns once every broker is in the cluster metadata.
     */
    public static KafkaCluster startApacheKafka(ZkEnsemble zk, int n, String extraProps) {
        return start(zk, n, extraProps, KafkaCluster::apacheBroker);
    }

    /**
     * The server properties of the differential tests, the same for an Apache Kafka broker and a kafkad broker
     * (kafkad ignores the thread counts and the cleaner buffer; the default 128 MiB dedupe buffer would take half
     * the Apache broker's heap).
     */
    public static String sideBySideProps(int offsetsPartitions) {
        return "num.partitions=1\n"
                + "offsets.topic.replication.factor=1\n"
                + "offsets.topic.num.partitions=" + offsetsPartitions + "\n"
                + "transaction.state.log.replication.factor=1\n"
                + "transaction.state.log.min.isr=1\n"
                + "auto.create.topics.enable=false\n"
                + "num.network.threads=2\n"
                + "num.io.threads=2\n"
                + "background.threads=2\n"
                + "log.cleaner.dedupe.buffer.size=16777216\n";
    }

    /** One Apache Kafka 3.9 broker and one kafkad broker, each on a zookeeperd of its own. */
    public record SideBySide(KafkaCluster apache, KafkaCluster kafkad) {
    }

    /**
     * Both brokers of a differential test, started at once (the Apache JVM takes a while); if either fails
     * to start, the other is closed and the failure thrown.
     */
    public static SideBySide startSideBySide(String props) {
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(2);
        try {
            var a = java.util.concurrent.CompletableFuture.supplyAsync(
                    () -> startApacheKafka(ZkEnsemble.startStandalone(), 1, props), pool);
            var k = java.util.concurrent.CompletableFuture.supplyAsync(() -> start(1, props), pool);
            KafkaCluster apache = null;
            KafkaCluster kafkad = null;
            RuntimeException err = null;
            try {
                apache = a.join();
            } catch (java.util.concurrent.CompletionException e) {
                err = e;
            }
            try {
                kafkad = k.join();
            } catch (java.util.concurrent.CompletionException e) {
                if (err == null) {
                    err = e;
                } else {
                    err.addSuppressed(e);
                }
            }
            if (err != null) {
                for (KafkaCluster c : new KafkaCluster[] {apache, kafkad}) {
                    if (c != null) {
                        c.close();
                    }
                }
                throw err;
            }
            return new SideBySide(apache, kafkad);
        } finally {
            pool.shutdown();
        }
    }

    /**
     * One broker, {@code brokerId}, over an existing log dir (another broker's, stopped: {@link #stop}) on an
     * existing ZooKeeper, both of which stay with their owner: {@link #close} kills only this broker and removes
     * only its own temp dir (its server.properties and log). Apache Kafka 3.9 ({@code apache}) or kafkad. The
     * broker gets a fresh port. Returns once the broker is in the cluster metadata.
     */
    public static KafkaCluster startOn(ZkEnsemble zk, int brokerId, Path logDir, boolean apache, String extraProps) {
        Launcher launcher = apache ? KafkaCluster::apacheBroker : KafkaCluster::kafkadBroker;
        KafkaCluster c = new KafkaCluster(zk, false, brokerId, 1, logDir, extraProps, launcher);
        try {
            for (Daemon d : c.brokers) {
                d.start();
            }
            c.waitForBrokers(Set.of(brokerId));
            return c;
        } catch (RuntimeException | Error t) {
            c.close();
            throw t;
        }
    }

    private static Daemon kafkadBroker(int id, Path dir, Path cfg) {
        return new Daemon("kafkad broker " + id, List.of(Env.kafkad().toString(), cfg.toString()),
                dir.resolve("kafkad.log"));
    }

    private static Daemon apacheBroker(int id, Path dir, Path cfg) throws IOException {
        Path log4j = dir.resolve("log4j.properties");
        Files.writeString(log4j, "log4j.rootLogger=INFO, stdout\n"
                + "log4j.appender.stdout=org.apache.log4j.ConsoleAppender\n"
                + "log4j.appender.stdout.Target=System.out\n"
                + "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout\n"
                + "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n");
        String java = ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        // C1 only and the serial collector: three brokers and the tests share two cores
        return new Daemon("Apache Kafka broker " + id, List.of(java, "-Xmx256m", "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true", "-Dlog4j.configuration=" + log4j.toUri(),
                "-Dkafka.logs.dir=" + dir, "-cp", apacheBrokerClasspath(), "kafka.Kafka", cfg.toString()),
                dir.resolve("kafka.log"));
    }

    /**
     * The test JVM's classpath with the logging Kafka ships (slf4j-reload4j, reload4j; copied by the pom into
     * the directory named by kzd.kafka.broker.lib) in place of slf4j-simple: Kafka's log4j.configuration is
     * then honoured. Kafka's command-line tools run on it too ({@link KafkaTool}).
     */
    public static String apacheBrokerClasspath() {
        String lib = System.getProperty("kzd.kafka.broker.lib");
        if (lib == null || !Files.isDirectory(Path.of(lib))) {
            throw new IllegalStateException("kzd.kafka.broker.lib is not set by Maven (run scripts/test-java.sh)");
        }
        List<String> cp = new ArrayList<>();
        String test = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        for (String e : test.split(File.pathSeparator)) {
            if (!e.isEmpty() && !Path.of(e).getFileName().toString().startsWith("slf4j-simple")) {
                cp.add(e);
            }
        }
        try (Stream<Path> jars = Files.list(Path.of(lib))) {
            jars.filter(p -> p.toString().endsWith(".jar")).sorted().forEach(p -> cp.add(p.toString()));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return String.join(File.pathSeparator, cp);
    }

    private static KafkaCluster start(ZkEnsemble zk, int n, String extraProps, Launcher launcher) {
        KafkaCluster c;
        try {
            c = new KafkaCluster(zk, n, extraProps, launcher);
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

    private int index(int brokerId) {
        int i = brokerId - firstId;
        if (i < 0 || i >= brokers.length) {
            throw new IllegalArgumentException("no broker " + brokerId + " in this cluster");
        }
        return i;
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
        return ports[index(brokerId)];
    }

    public boolean alive(int brokerId) {
        return brokers[index(brokerId)].alive();
    }

    public long pid(int brokerId) {
        return brokers[index(brokerId)].pid();
    }

    /** Broker {@code brokerId}'s log.dirs (its one log directory). */
    public Path logDir(int brokerId) {
        return logDirOverride != null ? logDirOverride : root.resolve("b" + brokerId).resolve("logs");
    }

    /** Broker {@code brokerId}'s output, every run of it. */
    public Path log(int brokerId) {
        return brokers[index(brokerId)].log();
    }

    public ZkEnsemble zk() {
        return zk;
    }

    public void kill9(int brokerId) {
        brokers[index(brokerId)].kill9();
    }

    /**
     * Stop broker {@code brokerId} cleanly: SIGTERM, then wait (at most {@link #DEADLINE}) for it to exit on its
     * own, as a controlled shutdown does. Returns its exit status; fails (after a SIGKILL) if it does not exit.
     */
    public int stop(int brokerId) {
        return brokers[index(brokerId)].stop(DEADLINE);
    }

    public void restart(int brokerId) {
        brokers[index(brokerId)].start();
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
                if (!Env.listening(ports[index(id)])) {
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
        if (ownsZk) {
            zk.close();
        }
        Env.removeTree(root);
    }
}
