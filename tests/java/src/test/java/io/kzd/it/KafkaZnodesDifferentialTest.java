package io.kzd.it;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import io.kzd.it.support.Env;
import io.kzd.it.support.KafkaCluster;
import io.kzd.it.support.KafkaTool;
import io.kzd.it.support.ZkEnsemble;

/**
 * The state Kafka keeps outside its wire protocol, compared between Apache Kafka 3.9 and kafkad.
 *
 * <p>Part 1, the znodes: one scenario (a topic with a config, a topic config and broker configs altered, partitions
 * added, records produced, a second topic created and deleted) run on an Apache Kafka 3.9 broker and on a kafkad
 * broker side by side, each on a zookeeperd of its own; then each ZooKeeper tree is read whole with the ZooKeeper
 * client and compared: the tree's shape, every znode's bytes, the JSON structure of every JSON znode, and the
 * Stat shape (ephemeral or not, data/child/ACL versions, number of children) and ACLs. Only what legitimately
 * differs between two brokers is normalised: the broker's port, timestamps, the cluster id, topic ids, and the
 * session/zxid values of the Stat (never compared).
 *
 * <p>Every difference is collected and reported at once (each test prints them and fails with all of them).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class KafkaZnodesDifferentialTest extends ClustersToClose {
    static final Duration WAIT = Duration.ofSeconds(30);
    static final long GET_S = 30;
    static final Duration TOOL_DEADLINE = Duration.ofSeconds(90);

    static final String BROKER_PROPS = KafkaCluster.sideBySideProps(1);


    // ============================================================================================ part 1: znodes

    /** One znode as read back: its data (null when the znode holds none), Stat, ACL and sorted children. */
    record Znode(String path, byte[] data, Stat stat, List<ACL> acl, List<String> children) {
        boolean ephemeral() {
            return stat.getEphemeralOwner() != 0;
        }
    }

    /** One broker of part 1: its cluster, the outcome of each scenario step, and its ZooKeeper tree. */
    static final class Side {
        final String name;
        final KafkaCluster cluster;
        final List<String> steps = new ArrayList<>();
        /** Normalised path (ephemeral sequence numbers replaced) -> znode. */
        final Map<String, Znode> tree = new TreeMap<>();
        String clusterId;
        /** topic id -> topic name, from /brokers/topics/*. */
        final Map<String, String> topicIds = new TreeMap<>();

        Side(String name, KafkaCluster cluster) {
            this.name = name;
            this.cluster = cluster;
        }

        int port() {
            return cluster.port(1);
        }

        /** The raw-text normalisation: port, cluster id, topic ids, timestamps (their quoting kept). */
        String normalise(String text) {
            String t = text;
            if (clusterId != null && !clusterId.isEmpty()) {
                t = t.replace(clusterId, "<cluster-id>");
            }
            for (Map.Entry<String, String> e : topicIds.entrySet()) {
                t = t.replace(e.getKey(), "<topic-id:" + e.getValue() + ">");
            }
            t = t.replaceAll("(?<![0-9])" + port() + "(?![0-9])", "<port>");
            t = t.replaceAll("(\"timestamp\"\\s*:\\s*)(\"?)-?\\d+(\"?)", "$1$2<ts>$3");
            return t;
        }

        /** The JSON normalisation: the same replacements, keeping each value's JSON type visible. */
        JsonNode normalise(String field, JsonNode n) {
            if (n.isObject()) {
                ObjectNode o = JSON.createObjectNode();
                n.fields().forEachRemaining(e -> o.set(e.getKey(), normalise(e.getKey(), e.getValue())));
                return o;
            }
            if (n.isArray()) {
                ArrayNode a = JSON.createArrayNode();
                n.forEach(e -> a.add(normalise(field, e)));
                return a;
            }
            if ("timestamp".equals(field) && (n.isTextual() || n.isNumber())) {
                return TextNode.valueOf(n.isTextual() ? "<ts>" : "<ts as a JSON number>");
            }
            if (n.isIntegralNumber() && n.asLong() == port()) {
                return TextNode.valueOf("<port as a JSON number>");
            }
            if (n.isTextual()) {
                return TextNode.valueOf(normalise(n.asText()));
            }
            return n;
        }
    }

    Side apacheZk;
    Side kafkadZk;
    Throwable scenarioFailure;
    boolean scenarioRan;

    /** Runs part 1's scenario on both brokers once (the first part-1 test), reads both trees, closes both. */
    synchronized void scenarioOnce() {
        if (!scenarioRan) {
            scenarioRan = true;
            KafkaCluster apache = null;
            KafkaCluster kafkad = null;
            try {
                KafkaCluster.SideBySide both = KafkaCluster.startSideBySide(BROKER_PROPS);
                apache = both.apache();
                kafkad = both.kafkad();
                open.add(apache);
                open.add(kafkad);
                Side a = new Side("apache", apache);
                Side k = new Side("kafkad", kafkad);
                CompletableFuture<Void> fa = CompletableFuture.runAsync(() -> scenario(a), pool);
                CompletableFuture<Void> fk = CompletableFuture.runAsync(() -> scenario(k), pool);
                fa.join();
                fk.join();
                apacheZk = a;
                kafkadZk = k;
                printTree(a);
                printTree(k);
            } catch (Throwable t) {
                scenarioFailure = t;
                System.out.println("===== part 1 scenario failed: " + t);
                t.printStackTrace(System.out);
                for (KafkaCluster c : new KafkaCluster[] {apache, kafkad}) {
                    if (c != null) {
                        System.out.println(c.logs());
                    }
                }
            } finally {
                close(apache);
                close(kafkad);
            }
        }
        if (scenarioFailure != null) {
            throw new AssertionError("part 1's scenario did not run: " + scenarioFailure, scenarioFailure);
        }
    }

    interface Body {
        void run() throws Exception;
    }

    /** One scenario step: its outcome ("ok" or the failure) goes into the side's step list; the scenario goes on. */
    static void step(Side s, String what, Body body) {
        try {
            body.run();
            s.steps.add(what + ": ok");
        } catch (Throwable t) {
            Throwable c = t;
            while ((c instanceof ExecutionException || c instanceof java.util.concurrent.CompletionException)
                    && c.getCause() != null) {
                c = c.getCause();
            }
            String m = String.valueOf(c.getMessage()).lines().findFirst().orElse("");
            s.steps.add(what + ": FAILED: " + c.getClass().getSimpleName() + ": " + m);
        }
    }

    void scenario(Side s) {
        try (Admin admin = s.cluster.admin(); Zk zk = new Zk(s.cluster.zk().connect())) {
            step(s, "CreateTopics t (3 partitions, RF 1, retention.ms=1000)", () -> {
                admin.createTopics(List.of(new NewTopic("t", 3, (short) 1).configs(Map.of("retention.ms", "1000"))))
                        .all().get(GET_S, TimeUnit.SECONDS);
                awaitPartitions(admin, zk, "t", 3);
            });
            ConfigResource topicT = new ConfigResource(ConfigResource.Type.TOPIC, "t");
            step(s, "IncrementalAlterConfigs topic t: SET max.message.bytes=100000", () -> {
                alter(admin, topicT, "max.message.bytes", "100000");
                awaitConfig(admin, topicT, "max.message.bytes", "100000");
            });
            ConfigResource broker1 = new ConfigResource(ConfigResource.Type.BROKER, "1");
            step(s, "IncrementalAlterConfigs broker 1: SET log.retention.ms=86400000", () -> {
                alter(admin, broker1, "log.retention.ms", "86400000");
                awaitConfig(admin, broker1, "log.retention.ms", "86400000");
            });
            step(s, "IncrementalAlterConfigs broker default (<default>): SET log.retention.bytes=1073741824", () -> {
                alter(admin, new ConfigResource(ConfigResource.Type.BROKER, ""), "log.retention.bytes", "1073741824");
                awaitConfig(admin, broker1, "log.retention.bytes", "1073741824");
            });
            step(s, "CreatePartitions t to 4", () -> {
                admin.createPartitions(Map.of("t", NewPartitions.increaseTo(4))).all().get(GET_S, TimeUnit.SECONDS);
                awaitPartitions(admin, zk, "t", 4);
            });
            step(s, "Produce 8 records to t (2 a partition, acks=all, idempotent)", () -> {
                Properties p = new Properties();
                p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, s.cluster.bootstrap());
                p.put(ProducerConfig.ACKS_CONFIG, "all");
                p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
                p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
                p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
                try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
                    for (int part = 0; part < 4; part++) {
                        for (int i = 0; i < 2; i++) {
                            RecordMetadata md = producer.send(new ProducerRecord<>("t", part, "k" + part + i,
                                    "v" + part + i)).get(GET_S, TimeUnit.SECONDS);
                            if (md.offset() != i) {
                                throw new AssertionError("t-" + part + " record " + i + " at offset " + md.offset());
                            }
                        }
                    }
                }
            });
            step(s, "CreateTopics t2 (1 partition, RF 1)", () -> {
                admin.createTopics(List.of(new NewTopic("t2", 1, (short) 1))).all().get(GET_S, TimeUnit.SECONDS);
                awaitPartitions(admin, zk, "t2", 1);
            });
            step(s, "DeleteTopics t2, until it is gone from the metadata and ZooKeeper", () -> {
                admin.deleteTopics(List.of("t2")).all().get(GET_S, TimeUnit.SECONDS);
                Env.waitUntil("t2 to be gone", WAIT, () -> {
                    try {
                        return !admin.listTopics().names().get(5, TimeUnit.SECONDS).contains("t2")
                                && !zk.exists("/brokers/topics/t2") && !zk.exists("/config/topics/t2")
                                && zk.children("/admin/delete_topics").isEmpty();
                    } catch (Exception e) {
                        return false;
                    }
                }, () -> "/brokers/topics: " + zk.childrenOrNull("/brokers/topics") + ", /admin/delete_topics: "
                        + zk.childrenOrNull("/admin/delete_topics"));
            });
            // the tree, whole
            zk.walk("/", s.tree);
            Znode id = s.tree.get("/cluster/id");
            if (id != null && id.data() != null) {
                s.clusterId = JSON.readTree(id.data()).path("id").asText();
            }
            for (Znode z : s.tree.values()) {
                if (z.path().matches("/brokers/topics/[^/]+") && z.data() != null) {
                    try {
                        JsonNode t = JSON.readTree(z.data());
                        if (t.path("topic_id").isTextual()) {
                            s.topicIds.put(t.path("topic_id").asText(), z.path().substring("/brokers/topics/".length()));
                        }
                    } catch (IOException e) {
                        // not JSON: the byte comparison shows it
                    }
                }
            }
        } catch (Exception e) {
            throw new IllegalStateException(s.name + ": " + e, e);
        }
    }

    static void alter(Admin admin, ConfigResource r, String name, String value) throws Exception {
        admin.incrementalAlterConfigs(Map.of(r, List.of(new AlterConfigOp(new ConfigEntry(name, value),
                AlterConfigOp.OpType.SET)))).all().get(GET_S, TimeUnit.SECONDS);
    }

    static void awaitConfig(Admin admin, ConfigResource r, String name, String value) {
        Env.waitUntil(r + " to describe " + name + "=" + value, WAIT, () -> {
            try {
                Config c = admin.describeConfigs(List.of(r)).all().get(5, TimeUnit.SECONDS).get(r);
                ConfigEntry e = c.get(name);
                return e != null && value.equals(e.value());
            } catch (Exception e) {
                return false;
            }
        }, null);
    }

    static void awaitPartitions(Admin admin, Zk zk, String topic, int n) {
        Env.waitUntil(topic + " to have " + n + " partitions with leaders and state znodes", WAIT, () -> {
            try {
                TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get(5, TimeUnit.SECONDS)
                        .get(topic);
                if (d.partitions().size() != n) {
                    return false;
                }
                for (TopicPartitionInfo p : d.partitions()) {
                    if (p.leader() == null || p.leader().isEmpty()
                            || !zk.exists("/brokers/topics/" + topic + "/partitions/" + p.partition() + "/state")) {
                        return false;
                    }
                }
                return true;
            } catch (Exception e) {
                return false;
            }
        }, null);
    }

    /** The test's own ZooKeeper session. */
    static final class Zk implements AutoCloseable {
        final ZooKeeper zk;

        Zk(String connect) throws Exception {
            zk = ZkEnsemble.session(connect, 30000);
        }

        boolean exists(String path) throws KeeperException, InterruptedException {
            return zk.exists(path, false) != null;
        }

        List<String> children(String path) throws KeeperException, InterruptedException {
            List<String> c = new ArrayList<>(zk.getChildren(path, false));
            c.sort(null);
            return c;
        }

        String childrenOrNull(String path) {
            try {
                return String.valueOf(children(path));
            } catch (Exception e) {
                return String.valueOf(e);
            }
        }

        /** Every znode under (and with) {@code path}, keyed by path with ephemeral sequence numbers replaced. */
        void walk(String path, Map<String, Znode> out) throws KeeperException, InterruptedException {
            Stat stat = new Stat();
            byte[] data;
            List<ACL> acl;
            List<String> kids;
            try {
                data = zk.getData(path, false, stat);
                acl = zk.getACL(path, new Stat());
                kids = children(path);
            } catch (KeeperException.NoNodeException e) {
                return; // gone while walking
            }
            String key = path;
            if (stat.getEphemeralOwner() != 0) {
                key = path.replaceAll("\\d{10}$", "<seq>");
            }
            out.put(key, new Znode(path, data, stat, acl, kids));
            for (String k : kids) {
                walk(path.equals("/") ? "/" + k : path + "/" + k, out);
            }
        }

        @Override
        public void close() throws InterruptedException {
            zk.close();
        }
    }

    static String text(byte[] data) {
        if (data == null) {
            return "(null: no data)";
        }
        if (data.length == 0) {
            return "(empty: 0 bytes)";
        }
        return new String(data, StandardCharsets.UTF_8);
    }

    static String statShape(Znode z) {
        Stat s = z.stat();
        return (z.ephemeral() ? "ephemeral" : "persistent") + " dataVersion=" + s.getVersion() + " cversion="
                + s.getCversion() + " aclVersion=" + s.getAversion() + " numChildren=" + s.getNumChildren()
                + " acl=" + z.acl().stream().map(a -> a.getId().getScheme() + ":" + a.getId().getId() + ":perms="
                        + a.getPerms()).collect(Collectors.toList());
    }

    void printTree(Side s) {
        StringBuilder sb = new StringBuilder("===== part 1: " + s.name + "'s ZooKeeper tree (raw, then normalised)\n");
        sb.append("steps:\n");
        s.steps.forEach(l -> sb.append("  ").append(l).append('\n'));
        for (Map.Entry<String, Znode> e : s.tree.entrySet()) {
            Znode z = e.getValue();
            sb.append(e.getKey()).append("  [").append(statShape(z)).append("]\n");
            if (z.data() != null && z.data().length > 0) {
                sb.append("    raw:  ").append(text(z.data())).append('\n');
                sb.append("    norm: ").append(s.normalise(text(z.data()))).append('\n');
            }
        }
        System.out.println(sb);
    }

    /** Print the differences and fail with all of them. */
    static void report(String what, List<String> diffs) {
        if (diffs.isEmpty()) {
            System.out.println("===== " + what + ": no difference");
            return;
        }
        String all = diffs.size() + " difference(s):\n" + String.join("\n", diffs);
        System.out.println("===== " + what + ": " + all);
        fail(what + ": " + all);
    }

    @Test
    @Order(1)
    void scenarioStepsSucceedAlikeOnBoth() {
        scenarioOnce();
        List<String> diffs = new ArrayList<>();
        int n = Math.max(apacheZk.steps.size(), kafkadZk.steps.size());
        for (int i = 0; i < n; i++) {
            String a = i < apacheZk.steps.size() ? apacheZk.steps.get(i) : "(none)";
            String k = i < kafkadZk.steps.size() ? kafkadZk.steps.get(i) : "(none)";
            if (!a.equals(k)) {
                diffs.add("step " + (i + 1) + ":\n  apache: " + a + "\n  kafkad: " + k);
            } else if (!a.endsWith(": ok")) {
                diffs.add("step " + (i + 1) + " failed on both: " + a);
            }
        }
        report("part 1 scenario steps", diffs);
    }

    /** The paths Kafka writes that the brief names: each must be there on Apache's side (the scenario's check). */
    static final List<String> NAMED = List.of("/brokers/ids/1", "/brokers/topics/t", "/brokers/topics/t/partitions/0/state",
            "/brokers/topics/t/partitions/3/state", "/config/topics/t", "/config/brokers/1", "/config/brokers/<default>",
            "/config/changes", "/controller", "/controller_epoch", "/cluster/id", "/feature", "/admin/delete_topics",
            "/brokers/seqid", "/isr_change_notification", "/latest_producer_id_block", "/log_dir_event_notification");

    @Test
    @Order(2)
    void zookeeperTreeShape() {
        scenarioOnce();
        List<String> diffs = new ArrayList<>();
        for (String p : NAMED) {
            if (!apacheZk.tree.containsKey(p)) {
                diffs.add(p + ": not written by Apache Kafka in this scenario (the test's expectation is wrong)");
            }
        }
        Set<String> all = new TreeSet<>(apacheZk.tree.keySet());
        all.addAll(kafkadZk.tree.keySet());
        for (String p : all) {
            Znode a = apacheZk.tree.get(p);
            Znode k = kafkadZk.tree.get(p);
            if (a == null) {
                diffs.add(p + ": only in kafkad's tree [" + statShape(k) + "] data: "
                        + kafkadZk.normalise(text(k.data())));
            } else if (k == null) {
                diffs.add(p + ": missing from kafkad's tree; Apache's [" + statShape(a) + "] data: "
                        + apacheZk.normalise(text(a.data())));
            }
        }
        report("part 1 ZooKeeper tree shape (paths)", diffs);
    }

    @Test
    @Order(3)
    void znodeBytesAfterNormalising() {
        scenarioOnce();
        List<String> diffs = new ArrayList<>();
        for (Map.Entry<String, Znode> e : apacheZk.tree.entrySet()) {
            Znode k = kafkadZk.tree.get(e.getKey());
            if (k == null) {
                continue; // reported by zookeeperTreeShape
            }
            String a = apacheZk.normalise(text(e.getValue().data()));
            String b = kafkadZk.normalise(text(k.data()));
            if (!a.equals(b)) {
                diffs.add(e.getKey() + ":\n  apache raw: " + text(e.getValue().data()) + "\n  kafkad raw: "
                        + text(k.data()) + "\n  apache normalised: " + a + "\n  kafkad normalised: " + b);
            }
        }
        report("part 1 znode bytes (normalised)", diffs);
    }

    @Test
    @Order(4)
    void znodeJsonStructure() {
        scenarioOnce();
        List<String> diffs = new ArrayList<>();
        for (Map.Entry<String, Znode> e : apacheZk.tree.entrySet()) {
            Znode k = kafkadZk.tree.get(e.getKey());
            byte[] ad = e.getValue().data();
            if (k == null || ad == null || ad.length == 0) {
                continue;
            }
            JsonNode a;
            try {
                a = JSON.readTree(ad);
            } catch (IOException ex) {
                continue; // not JSON on Apache's side: the byte comparison covers it
            }
            if (a == null || a.isMissingNode()) {
                continue;
            }
            JsonNode b;
            try {
                b = k.data() == null ? null : JSON.readTree(k.data());
            } catch (IOException ex) {
                b = null;
            }
            if (b == null || b.isMissingNode()) {
                diffs.add(e.getKey() + ": Apache's is JSON, kafkad's is not: " + text(k.data()));
                continue;
            }
            compareJson(e.getKey(), "", apacheZk.normalise(null, a), kafkadZk.normalise(null, b), diffs);
        }
        report("part 1 znode JSON structure", diffs);
    }

    static String type(JsonNode n) {
        return n.getNodeType().toString().toLowerCase() + (n.isNumber() ? "(" + n.numberType() + ")" : "");
    }

    static void compareJson(String path, String where, JsonNode a, JsonNode k, List<String> out) {
        String at = path + " " + (where.isEmpty() ? "(top)" : where);
        if (a.getNodeType() != k.getNodeType()) {
            out.add(at + ": apache has a " + type(a) + " " + a + ", kafkad a " + type(k) + " " + k);
            return;
        }
        if (a.isObject()) {
            List<String> af = new ArrayList<>();
            a.fieldNames().forEachRemaining(af::add);
            List<String> kf = new ArrayList<>();
            k.fieldNames().forEachRemaining(kf::add);
            for (String f : af) {
                if (!kf.contains(f)) {
                    out.add(at + ": field \"" + f + "\" missing from kafkad's (apache: " + a.get(f) + ")");
                }
            }
            for (String f : kf) {
                if (!af.contains(f)) {
                    out.add(at + ": field \"" + f + "\" only in kafkad's (" + k.get(f) + ")");
                }
            }
            List<String> aCommon = af.stream().filter(kf::contains).collect(Collectors.toList());
            List<String> kCommon = kf.stream().filter(af::contains).collect(Collectors.toList());
            if (!aCommon.equals(kCommon)) {
                out.add(at + ": field order differs: apache " + af + ", kafkad " + kf);
            }
            for (String f : aCommon) {
                compareJson(path, where + "." + f, a.get(f), k.get(f), out);
            }
        } else if (a.isArray()) {
            if (a.size() != k.size()) {
                out.add(at + ": apache's array has " + a.size() + " elements " + a + ", kafkad's " + k.size() + " "
                        + k);
                return;
            }
            for (int i = 0; i < a.size(); i++) {
                compareJson(path, where + "[" + i + "]", a.get(i), k.get(i), out);
            }
        } else if (!a.equals(k)) {
            out.add(at + ": apache " + a + ", kafkad " + k);
        }
    }

    @Test
    @Order(5)
    void znodeStatShape() {
        scenarioOnce();
        List<String> diffs = new ArrayList<>();
        for (Map.Entry<String, Znode> e : apacheZk.tree.entrySet()) {
            Znode k = kafkadZk.tree.get(e.getKey());
            if (k == null) {
                continue;
            }
            String a = statShape(e.getValue());
            String b = statShape(k);
            if (!a.equals(b)) {
                diffs.add(e.getKey() + ":\n  apache: " + a + "\n  kafkad: " + b);
            }
            if (!e.getValue().children().isEmpty() && !k.children().isEmpty()
                    && !e.getValue().children().equals(k.children())) {
                diffs.add(e.getKey() + " children:\n  apache: " + e.getValue().children() + "\n  kafkad: "
                        + k.children());
            }
        }
        report("part 1 znode Stat shape and ACLs", diffs);
    }

}
