package io.kzd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.TopicAuthorizationException;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.Test;

import io.kzd.it.support.Env;
import io.kzd.it.support.KafkaCluster;
import io.kzd.it.support.ZkEnsemble;

/**
 * Apache Kafka 3.9's own brokers (kafka.Kafka in ZooKeeper mode, three JVMs) on zookeeperd, standalone and as a
 * three-member ensemble: registration and controller election, topics, configs and ACLs in Kafka's znode layout
 * and seen by every broker through its watches, the controller killed and its broker back in every ISR, and on
 * the ensemble the ZooKeeper leader killed without a broker losing its session. At the end no broker may have
 * logged a ZooKeeper error: that would be zookeeperd answering as Apache ZooKeeper would not.
 */
class ApacheKafkaOnZookeeperdTest {
    static final Duration T = Duration.ofSeconds(60);
    static final long GET_S = 30;
    static final Set<Integer> ALL = Set.of(1, 2, 3);
    static final String TOPIC = "events";
    static final String GUARDED = "guarded";
    static final String GROUP = "events-g";

    static final String BROKER_PROPS = "offsets.topic.replication.factor=3\n"
            + "offsets.topic.num.partitions=3\n"
            + "min.insync.replicas=2\n"
            + "auto.create.topics.enable=false\n"
            + "authorizer.class.name=kafka.security.authorizer.AclAuthorizer\n"
            + "allow.everyone.if.no.acl.found=true\n"
            + "num.network.threads=2\n"
            + "num.io.threads=2\n"
            + "background.threads=2\n"
            // the default 128 MiB dedupe buffer would take half the broker's heap
            + "log.cleaner.dedupe.buffer.size=16777216\n";

    @Test
    void onStandaloneZookeeperd() throws Exception {
        try (KafkaCluster c = KafkaCluster.startApacheKafka(ZkEnsemble.startStandalone(), 3, BROKER_PROPS)) {
            dumpLogsOnFailure(c, () -> scenario(c, false));
        }
    }

    @Test
    void onThreeMemberZookeeperdEnsemble() throws Exception {
        try (KafkaCluster c = KafkaCluster.startApacheKafka(ZkEnsemble.startEnsemble(), 3, BROKER_PROPS)) {
            dumpLogsOnFailure(c, () -> scenario(c, true));
        }
    }

    interface Body {
        void run() throws Exception;
    }

    /** The logs go with the cluster's temp dir when it closes, so they are printed before. */
    static void dumpLogsOnFailure(KafkaCluster c, Body body) throws Exception {
        try {
            body.run();
        } catch (Exception | Error e) {
            System.out.println("===== failed: " + e + "\n" + c.logs());
            throw e;
        }
    }

    static void scenario(KafkaCluster c, boolean ensemble) throws Exception {
        try (Zk zk = new Zk(c.zk().connect()); Admin admin = c.admin();
                KafkaProducer<String, String> producer = producer(c)) {
            // 1. Registration and controller election.
            Env.waitUntil("brokers 1, 2, 3 in /brokers/ids and one of them in /controller", T,
                    () -> zk.brokerIds().equals(ALL) && ALL.contains(zk.controller()), () -> zk.state() + c.logs());
            for (int id : ALL) {
                String reg = zk.data("/brokers/ids/" + id);
                assertTrue(reg.contains("\"PLAINTEXT://127.0.0.1:" + c.port(id) + "\""), reg);
                assertNotEquals(0L, zk.owner("/brokers/ids/" + id), "/brokers/ids/" + id + " is ephemeral");
            }
            assertTrue(zk.data("/cluster/id").contains(
                    "\"" + admin.describeCluster().clusterId().get(GET_S, TimeUnit.SECONDS) + "\""),
                    "/cluster/id holds the id the brokers report");

            // 2. Topics, replicated three ways; records with acks=all read back by a group.
            admin.createTopics(List.of(new NewTopic(TOPIC, 3, (short) 3), new NewTopic(GUARDED, 1, (short) 3)))
                    .all().get(GET_S, TimeUnit.SECONDS);
            c.waitForIsr(admin, TOPIC, 3, 3);
            c.waitForIsr(admin, GUARDED, 1, 3);
            zk.waitIsrs(TOPIC, 3, ALL);
            roundTrip(c, producer, "first", 200);

            // 3. A topic config: /config/topics/<topic> and a change notification for the brokers.
            Set<String> changesBefore = new HashSet<>(zk.children("/config/changes"));
            ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, TOPIC);
            admin.incrementalAlterConfigs(Map.of(res, List.of(new AlterConfigOp(
                    new ConfigEntry("retention.ms", "3600000"), AlterConfigOp.OpType.SET))))
                    .all().get(GET_S, TimeUnit.SECONDS);
            Env.waitUntil("/config/topics/" + TOPIC + " to hold retention.ms", T,
                    () -> zk.data("/config/topics/" + TOPIC).contains("\"retention.ms\":\"3600000\""),
                    () -> zk.data("/config/topics/" + TOPIC));
            Env.waitUntil("a /config/changes notification for topics/" + TOPIC, T,
                    () -> zk.children("/config/changes").stream().filter(n -> !changesBefore.contains(n))
                            .anyMatch(n -> zk.data("/config/changes/" + n).contains("\"topics/" + TOPIC + "\"")),
                    () -> "/config/changes: " + zk.children("/config/changes"));
            assertEquals("3600000", admin.describeConfigs(List.of(res)).all().get(GET_S, TimeUnit.SECONDS).get(res)
                    .get("retention.ms").value());

            // 4. An ACL: /kafka-acl/Topic/<topic>, a notification in /kafka-acl-changes, and every broker's
            // authorizer, which learns it through its watch, then refuses User:ANONYMOUS (allowed before, while
            // the topic had no ACL at all).
            for (int id : ALL) {
                int port = c.port(id);
                Env.waitUntil("broker " + id + " to show " + GUARDED + " to anyone", T,
                        () -> partitionsSeenBy(port, GUARDED) == 1, c::logs);
            }
            Set<String> aclChangesBefore = new HashSet<>(zk.children("/kafka-acl-changes"));
            AclBinding alice = new AclBinding(new ResourcePattern(ResourceType.TOPIC, GUARDED, PatternType.LITERAL),
                    new AccessControlEntry("User:alice", "*", AclOperation.READ, AclPermissionType.ALLOW));
            admin.createAcls(List.of(alice)).all().get(GET_S, TimeUnit.SECONDS);
            Env.waitUntil("/kafka-acl/Topic/" + GUARDED + " to allow User:alice to read", T, () -> {
                String acls = zk.data("/kafka-acl/Topic/" + GUARDED);
                return acls.contains("\"principal\":\"User:alice\"") && acls.contains("\"operation\":\"Read\"")
                        && acls.contains("\"permissionType\":\"Allow\"");
            }, () -> String.valueOf(zk.dataOrNull("/kafka-acl/Topic/" + GUARDED)));
            Env.waitUntil("a /kafka-acl-changes notification for " + GUARDED, T,
                    () -> zk.children("/kafka-acl-changes").stream().filter(n -> !aclChangesBefore.contains(n))
                            .anyMatch(n -> zk.data("/kafka-acl-changes/" + n).endsWith(":" + GUARDED)),
                    () -> "/kafka-acl-changes: " + zk.children("/kafka-acl-changes"));
            for (int id : ALL) {
                int port = c.port(id);
                Env.waitUntil("broker " + id + "'s authorizer to refuse User:ANONYMOUS on " + GUARDED, T, () -> {
                    try {
                        partitionsSeenBy(port, GUARDED);
                        return false;
                    } catch (TopicAuthorizationException e) {
                        return true;
                    }
                }, c::logs);
            }
            assertEquals(Set.of(alice), new HashSet<>(admin.describeAcls(AclBindingFilter.ANY).values()
                    .get(GET_S, TimeUnit.SECONDS)));

            // 5. kill -9 the controller while records are in flight: its session expires, another broker takes
            // over, leaders move, acks=all goes on with two in-sync replicas; then it comes back into every ISR.
            int dead = zk.controller();
            Set<String> ledByDead = zk.partitionsLedBy(dead);
            long deadSession = zk.owner("/brokers/ids/" + dead);
            Set<Integer> rest = new TreeSet<>(ALL);
            rest.remove(dead);
            List<Sent> inFlight = send(producer, "in-flight", 200);
            c.kill9(dead);
            List<String> acked = await(inFlight);
            Env.waitUntil("/brokers/ids to drop broker " + dead + " and another broker to take /controller", T, () -> {
                Integer now = zk.controller();
                return zk.brokerIds().equals(rest) && now != null && now != dead;
            }, () -> zk.state() + c.logs());
            c.waitForIsr(admin, TOPIC, 3, 2);
            zk.waitIsrs(TOPIC, 3, rest);
            acked.addAll(await(send(producer, "while-down", 200)));
            consumeExactly(c, acked);

            c.restart(dead);
            Env.waitUntil("broker " + dead + " back in /brokers/ids", T, () -> zk.brokerIds().equals(ALL),
                    () -> zk.state() + c.logs());
            assertNotEquals(deadSession, zk.owner("/brokers/ids/" + dead), "registered with a new session");
            c.waitForIsr(admin, TOPIC, 3);
            c.waitForIsr(admin, "__consumer_offsets", 3);
            // User:ANONYMOUS may no longer describe the guarded topic: its state znode tells
            zk.waitIsrs(GUARDED, 1, ALL);
            roundTrip(c, producer, "rejoined", 200);

            if (ensemble) {
                zookeeperLeaderFailover(c, zk, producer);
            }

            // 6. Every ZooKeeper answer was one a broker expects from Apache ZooKeeper.
            List<String> bad = new ArrayList<>();
            for (int id : ALL) {
                for (String line : Files.readAllLines(c.log(id), StandardCharsets.UTF_8)) {
                    if (zookeeperTrouble(line) && !expectedAfterControllerLoss(line, ledByDead)) {
                        bad.add("broker " + id + ": " + line);
                    }
                }
            }
            assertTrue(bad.isEmpty(), () -> bad.size() + " ZooKeeper error lines in the brokers' logs:\n"
                    + String.join("\n", bad));
        }
    }

    /**
     * kill -9 the zookeeperd leader under the running brokers: the other two elect a new one, the brokers'
     * sessions move to them within the session timeout, so /brokers/ids and /controller keep their owners and
     * the cluster goes on serving; the killed member comes back as a follower with the same tree.
     */
    static void zookeeperLeaderFailover(KafkaCluster c, Zk zk, KafkaProducer<String, String> producer) throws Exception {
        ZkEnsemble ens = c.zk();
        Map<Integer, Long> sessions = zk.brokerSessions();
        long controllerSession = zk.owner("/controller");
        int leader = ens.waitQuorum();
        ens.kill9(leader);
        ens.waitQuorum();
        roundTrip(c, producer, "zk-leader-down", 200);
        Set<String> wanted = sessions.values().stream().map(Long::toHexString).collect(Collectors.toSet());
        Env.waitUntil("every broker's session " + wanted + " to be on a live zookeeperd member", T, () -> {
            Set<String> live = new HashSet<>();
            for (int i = 0; i < ens.size(); i++) {
                if (ens.alive(i)) {
                    String cons = Env.fourLetter(ens.clientPort(i), "cons");
                    Matcher m = SID.matcher(cons == null ? "" : cons);
                    while (m.find()) {
                        live.add(m.group(1));
                    }
                }
            }
            return live.containsAll(wanted);
        }, () -> zk.state() + c.logs());
        Map<Integer, Long> now = Env.waitFor("/brokers/ids to be readable", T, zk::brokerSessions);
        assertEquals(sessions, now, "the brokers kept their registrations (broker -> session)");
        assertEquals(controllerSession, zk.owner("/controller"), "the controller kept its session");

        ens.restart(leader);
        ens.waitQuorum();
        try (Zk back = new Zk("127.0.0.1:" + ens.clientPort(leader))) {
            Env.waitUntil("the restarted member to serve the brokers' registrations", T,
                    () -> back.brokerSessions().equals(sessions), () -> back.state() + ens.logs());
        }
        roundTrip(c, producer, "zk-member-back", 200);
    }

    static final Pattern SID = Pattern.compile("sid=0x([0-9a-f]+)");
    static final Pattern LEADER = Pattern.compile("\"leader\":(-?\\d+)");
    static final Pattern ISR = Pattern.compile("\"isr\":\\[([0-9,]*)\\]");
    static final Pattern ERROR_LINE = Pattern.compile("^\\[[^\\]]*\\] ERROR ");
    static final Pattern ZK_TROUBLE = Pattern.compile(
            "KeeperException|SessionExpiredException:|(?i:session (0x[0-9a-f]+ )?(has )?expired|expired session)");

    static final Pattern LEADERLESS_FOLLOWER = Pattern.compile("^\\[[^\\]]*\\] ERROR \\[Broker id=\\d+\\] Received "
            + "LeaderAndIsrRequest with correlation id \\d+ from controller \\d+ epoch \\d+ for partition (\\S+) "
            + "\\(last update controller epoch \\d+\\) but cannot become follower since the new leader -1 is "
            + "unavailable\\. \\(state\\.change\\.logger\\)$");

    /**
     * Kafka's own ERROR when a controller dies while leading partitions: its successor first takes the dead
     * replicas out of the ISRs (leaving those partitions leader -1, which the followers log) and only then elects
     * new leaders. Brokers on Apache ZooKeeper log the same (ZK_TARGET=apache), so it is expected for exactly the
     * partitions the killed controller led.
     */
    static boolean expectedAfterControllerLoss(String line, Set<String> ledByDead) {
        Matcher m = LEADERLESS_FOLLOWER.matcher(line);
        return m.find() && ledByDead.contains(m.group(1));
    }

    /** An ERROR line, a KeeperException, an expired session, or "Unexpected" from a ZooKeeper class. */
    static boolean zookeeperTrouble(String line) {
        return ERROR_LINE.matcher(line).find() || ZK_TROUBLE.matcher(line).find()
                || (line.contains("Unexpected") && (line.contains("org.apache.zookeeper")
                        || line.contains("kafka.zookeeper") || line.contains("kafka.zk.")));
    }


    static KafkaProducer<String, String> producer(KafkaCluster c) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, c.bootstrap());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        return new KafkaProducer<>(p);
    }

    static KafkaConsumer<String, String> consumer(String bootstrap, String group) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        if (group != null) {
            p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        }
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 10000);
        p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 1000);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
        return new KafkaConsumer<>(p);
    }

    /**
     * The partitions of {@code topic} in a Metadata answer of the broker on {@code port} alone: a fresh client
     * knows no other broker to ask. Throws TopicAuthorizationException when that broker refuses.
     */
    static int partitionsSeenBy(int port, String topic) {
        try (KafkaConsumer<String, String> c = consumer("127.0.0.1:" + port, null)) {
            return c.partitionsFor(topic, Duration.ofSeconds(10)).size();
        }
    }

    record Sent(String value, Future<RecordMetadata> ack) {}

    /** n records "tag-i" (the key too), sent without waiting for their acks. */
    static List<Sent> send(KafkaProducer<String, String> p, String tag, int n) {
        List<Sent> sent = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String v = tag + "-" + i;
            sent.add(new Sent(v, p.send(new ProducerRecord<>(TOPIC, v, v))));
        }
        return sent;
    }

    /** Every send acknowledged (acks=all); returns their values. */
    static List<String> await(List<Sent> sent) throws Exception {
        List<String> acked = new ArrayList<>();
        for (Sent s : sent) {
            RecordMetadata md = s.ack().get(90, TimeUnit.SECONDS);
            assertTrue(md.hasOffset(), s.value() + ": " + md);
            acked.add(s.value());
        }
        return acked;
    }

    /** n records produced with acks=all, then read back by the group. */
    static void roundTrip(KafkaCluster c, KafkaProducer<String, String> p, String tag, int n) throws Exception {
        consumeExactly(c, await(send(p, tag, n)));
    }

    /**
     * A fresh member of the group, starting from the offsets the last one committed, reads exactly
     * {@code expected} (no loss, no duplicate), and commits.
     */
    static void consumeExactly(KafkaCluster c, List<String> expected) {
        try (KafkaConsumer<String, String> cons = consumer(c.bootstrap(), GROUP)) {
            cons.subscribe(List.of(TOPIC));
            List<String> got = new ArrayList<>();
            Env.waitUntil("the group to read " + expected.size() + " records", T, () -> {
                for (ConsumerRecord<String, String> r : cons.poll(Duration.ofMillis(200))) {
                    assertEquals(r.key(), r.value());
                    got.add(r.value());
                }
                return got.size() >= expected.size();
            }, () -> "read " + got.size() + "\n" + c.logs());
            assertEquals(new TreeSet<>(expected), new TreeSet<>(got));
            assertEquals(expected.size(), got.size(), "no record read twice");
            cons.commitSync(Duration.ofSeconds(GET_S));
        }
    }

    /** The test's own ZooKeeper session, reading Kafka's znodes; failures are RuntimeExceptions ("not yet"). */
    static final class Zk implements AutoCloseable {
        static final Pattern BROKERID = Pattern.compile("\"brokerid\":(\\d+)");
        final ZooKeeper zk;

        Zk(String connect) throws Exception {
            zk = ZkEnsemble.session(connect, 30000);
        }

        String dataOrNull(String path) {
            try {
                return new String(zk.getData(path, false, null), StandardCharsets.UTF_8);
            } catch (KeeperException.NoNodeException e) {
                return null;
            } catch (KeeperException e) {
                throw new IllegalStateException(path + ": " + e, e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }

        String data(String path) {
            String d = dataOrNull(path);
            if (d == null) {
                throw new IllegalStateException(path + " does not exist");
            }
            return d;
        }

        List<String> children(String path) {
            try {
                List<String> c = new ArrayList<>(zk.getChildren(path, false));
                c.sort(null);
                return c;
            } catch (KeeperException e) {
                throw new IllegalStateException(path + ": " + e, e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }

        /** The session owning ephemeral {@code path}. */
        long owner(String path) {
            try {
                Stat s = zk.exists(path, false);
                if (s == null) {
                    throw new IllegalStateException(path + " does not exist");
                }
                return s.getEphemeralOwner();
            } catch (KeeperException e) {
                throw new IllegalStateException(path + ": " + e, e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }

        Set<Integer> brokerIds() {
            return children("/brokers/ids").stream().map(Integer::valueOf).collect(Collectors.toCollection(TreeSet::new));
        }

        /** broker id -> the session that registered it. */
        Map<Integer, Long> brokerSessions() {
            Map<Integer, Long> m = new TreeMap<>();
            for (int id : brokerIds()) {
                m.put(id, owner("/brokers/ids/" + id));
            }
            return m;
        }

        /** "topic-partition" of every partition whose state znode names {@code broker} as its leader. */
        Set<String> partitionsLedBy(int broker) {
            Set<String> led = new TreeSet<>();
            for (String topic : children("/brokers/topics")) {
                for (String p : children("/brokers/topics/" + topic + "/partitions")) {
                    String state = data("/brokers/topics/" + topic + "/partitions/" + p + "/state");
                    Matcher m = LEADER.matcher(state);
                    assertTrue(m.find(), state);
                    if (Integer.parseInt(m.group(1)) == broker) {
                        led.add(topic + "-" + p);
                    }
                }
            }
            return led;
        }

        /** The ISR in a partition's state znode. */
        Set<Integer> isr(String topic, int partition) {
            String state = data("/brokers/topics/" + topic + "/partitions/" + partition + "/state");
            Matcher m = ISR.matcher(state);
            assertTrue(m.find(), state);
            return m.group(1).isEmpty() ? Set.of()
                    : Arrays.stream(m.group(1).split(",")).map(Integer::valueOf).collect(Collectors.toSet());
        }

        /** Wait until partitions 0..n-1 of {@code topic} have state znodes with ISR {@code isr}. */
        void waitIsrs(String topic, int n, Set<Integer> isr) {
            Env.waitUntil("the state znodes of " + topic + "'s " + n + " partitions to show ISR " + isr, T, () -> {
                for (int p = 0; p < n; p++) {
                    if (!isr(topic, p).equals(isr)) {
                        return false;
                    }
                }
                return true;
            }, () -> {
                StringBuilder sb = new StringBuilder();
                for (int p = 0; p < n; p++) {
                    sb.append(p).append(": ").append(dataOrNull("/brokers/topics/" + topic + "/partitions/" + p
                            + "/state")).append('\n');
                }
                return sb.toString();
            });
        }

        /** /controller's brokerid, or null while there is none. */
        Integer controller() {
            String d = dataOrNull("/controller");
            if (d == null) {
                return null;
            }
            Matcher m = BROKERID.matcher(d);
            assertTrue(m.find(), "/controller: " + d);
            return Integer.valueOf(m.group(1));
        }

        String state() {
            try {
                return "/brokers/ids " + brokerIds() + ", /controller " + dataOrNull("/controller") + "\n";
            } catch (RuntimeException e) {
                return "ZooKeeper state unreadable: " + e + "\n";
            }
        }

        @Override
        public void close() throws InterruptedException {
            zk.close();
        }
    }
}
