package io.kzd.it;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.ConsumerGroupState;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.config.ConfigResource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.kzd.it.support.DumpLogsOnFailure;
import io.kzd.it.support.Env;
import io.kzd.it.support.KafkaCluster;
import io.kzd.it.support.KafkaTool;
import io.kzd.it.support.ZkEnsemble;

/**
 * Apache Kafka 3.9's own command-line tools (the main classes the kafka-*.sh scripts of 3.9 run, each in a JVM
 * of its own) through one scenario against one Apache Kafka 3.9 broker on zookeeperd and against one kafkad
 * broker on zookeeperd, with the same server properties. Every step's exit status, stdout and stderr are
 * recorded in a transcript per broker after normalising only what legitimately differs between two brokers
 * (ports, log dir paths, topic ids, cluster ids, random console-consumer group names, log4j timestamps, and in
 * dumped segments the record timestamps, producer ids and the CRCs over them); each test method (one tool
 * family) then asserts that the two transcripts are equal and prints a unified diff when they are not. The
 * steps build on each other (t1's records, g1's offsets), and a step that fails on one broker is still recorded
 * and the scenario goes on.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class KafkaToolsDifferentialTest {
    /** How long one tool run may take before it is killed (and recorded as timed out). */
    static final Duration TOOL_DEADLINE = Duration.ofSeconds(90);
    /** How long a wait between steps (metadata, group state) polls the broker's Admin view. */
    static final Duration WAIT = Duration.ofSeconds(30);

    static final String BROKER_PROPS = KafkaCluster.sideBySideProps(3);

    static final String TOPICS = "org.apache.kafka.tools.TopicCommand";
    static final String CONFIGS = "kafka.admin.ConfigCommand";
    static final String PRODUCER = "kafka.tools.ConsoleProducer";
    static final String CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer";
    static final String GROUPS = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand";
    static final String GET_OFFSETS = "org.apache.kafka.tools.GetOffsetShell";
    static final String LOG_DIRS = "org.apache.kafka.tools.LogDirsCommand";
    static final String LEADER_ELECTION = "org.apache.kafka.tools.LeaderElectionCommand";
    static final String DELETE_RECORDS = "org.apache.kafka.tools.DeleteRecordsCommand";
    static final String DUMP_LOG = "kafka.tools.DumpLogSegments";

    /** The script of Kafka 3.9's bin/ that runs each main class, for the transcripts. */
    static final Map<String, String> SCRIPTS = Map.of(TOPICS, "kafka-topics.sh", CONFIGS, "kafka-configs.sh",
            PRODUCER, "kafka-console-producer.sh", CONSUMER, "kafka-console-consumer.sh",
            GROUPS, "kafka-consumer-groups.sh", GET_OFFSETS, "kafka-get-offsets.sh", LOG_DIRS, "kafka-log-dirs.sh",
            LEADER_ELECTION, "kafka-leader-election.sh", DELETE_RECORDS, "kafka-delete-records.sh",
            DUMP_LOG, "kafka-dump-log.sh");

    /** Placeholders in tool arguments, replaced per broker. */
    static final String BOOTSTRAP = "{bootstrap}";
    static final String LOGDIR = "{logdir}";
    static final String WORK = "{work}";

    static final String RECORDS = "k0:v0\nk1:v1\nk2:v2\nk3:v3\nk4:v4\nk5:v5\nk6:v6\nk7:v7\nk8:v8\nk9:v9\n";

    /** One broker under test: its cluster, Admin view, scratch dir and the transcript of the current test. */
    static final class Side {
        final String name;
        final KafkaCluster cluster;
        final Admin admin;
        final Path work;
        final String clusterId;
        final List<String> transcript = new ArrayList<>();

        Side(String name, KafkaCluster cluster) {
            this.name = name;
            this.cluster = cluster;
            this.admin = cluster.admin();
            this.work = Env.tempDir("kzd-tools-" + name + "-");
            try {
                this.clusterId = admin.describeCluster().clusterId().get(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                admin.close(Duration.ofSeconds(5));
                throw new IllegalStateException(name + ": no cluster id", e);
            }
        }

        String bootstrap() {
            return cluster.bootstrap();
        }

        Path logDir() {
            return cluster.logDir(1);
        }

        String arg(String a) {
            return a.replace(BOOTSTRAP, bootstrap()).replace(LOGDIR, logDir().toString())
                    .replace(WORK, work.toString());
        }

        void close() {
            admin.close(Duration.ofSeconds(5));
            Env.removeTree(work);
        }
    }

    /** Runs the two brokers' sides of a step at once: threads of its own, as both block for seconds. */
    final ExecutorService pool = Executors.newCachedThreadPool();

    KafkaCluster apacheCluster;
    KafkaCluster kafkadCluster;
    Side apache;
    Side kafkad;

    @RegisterExtension
    final DumpLogsOnFailure dump = new DumpLogsOnFailure(() -> (apacheCluster == null ? "" : apacheCluster.logs())
            + "\n" + (kafkadCluster == null ? "" : kafkadCluster.logs()));

    @BeforeAll
    void startBrokers() {
        KafkaCluster.SideBySide both = KafkaCluster.startSideBySide(BROKER_PROPS);
        apacheCluster = both.apache();
        kafkadCluster = both.kafkad();
        apache = new Side("apache", apacheCluster);
        kafkad = new Side("kafkad", kafkadCluster);
    }

    @AfterAll
    void stopBrokers() {
        for (Side s : new Side[] {apache, kafkad}) {
            if (s != null) {
                s.close();
            }
        }
        for (KafkaCluster c : new KafkaCluster[] {apacheCluster, kafkadCluster}) {
            if (c != null) {
                c.close();
            }
        }
        pool.shutdownNow();
    }

    // ------------------------------------------------------------------------------------------------ scenario

    @Test
    @Order(1)
    void topics() {
        run(TOPICS, "--bootstrap-server", BOOTSTRAP, "--create", "--topic", "t1", "--partitions", "3",
                "--replication-factor", "1");
        awaitLeaders("t1", 3);
        run(TOPICS, "--bootstrap-server", BOOTSTRAP, "--create", "--topic", "t1", "--partitions", "3",
                "--replication-factor", "1");
        // (TopicCommand itself checks --config values, before asking the broker)
        run(TOPICS, "--bootstrap-server", BOOTSTRAP, "--create", "--topic", "bad", "--partitions", "1",
                "--replication-factor", "1", "--config", "cleanup.policy=bogus");
        // the broker's checks: more replicas than brokers
        run(TOPICS, "--bootstrap-server", BOOTSTRAP, "--create", "--topic", "bad", "--partitions", "1",
                "--replication-factor", "3");
        run(TOPICS, "--bootstrap-server", BOOTSTRAP, "--list");
        run(TOPICS, "--bootstrap-server", BOOTSTRAP, "--describe", "--topic", "t1");
        run(TOPICS, "--bootstrap-server", BOOTSTRAP, "--alter", "--topic", "t1", "--partitions", "5");
        awaitLeaders("t1", 5);
        run(TOPICS, "--bootstrap-server", BOOTSTRAP, "--describe", "--topic", "t1");
        run(TOPICS, "--bootstrap-server", BOOTSTRAP, "--alter", "--topic", "t1", "--partitions", "2");
        run(TOPICS, "--bootstrap-server", BOOTSTRAP, "--describe", "--topic", "missing");
        run(TOPICS, "--bootstrap-server", BOOTSTRAP, "--create", "--topic", "t2", "--partitions", "1",
                "--replication-factor", "1", "--config", "retention.ms=1000");
        awaitLeaders("t2", 1);
        run(TOPICS, "--bootstrap-server", BOOTSTRAP, "--describe", "--topics-with-overrides");
        compare("kafka-topics");
    }

    @Test
    @Order(2)
    void configs() {
        List<String> t2 = List.of("--bootstrap-server", BOOTSTRAP, "--entity-type", "topics", "--entity-name", "t2");
        run(CONFIGS, plus(t2, "--describe"));
        run(CONFIGS, plus(t2, "--describe", "--all"));
        run(CONFIGS, plus(t2, "--alter", "--add-config", "retention.ms=2000,max.message.bytes=1000000"));
        awaitTopicConfig("t2", "max.message.bytes", "1000000");
        run(CONFIGS, plus(t2, "--describe"));
        run(CONFIGS, plus(t2, "--alter", "--delete-config", "max.message.bytes"));
        awaitTopicConfig("t2", "max.message.bytes", null);
        run(CONFIGS, plus(t2, "--describe"));
        run(CONFIGS, plus(t2, "--alter", "--add-config", "no.such.config=1"));
        run(CONFIGS, plus(t2, "--alter", "--add-config", "retention.ms=soon"));
        run(CONFIGS, plus(t2, "--alter", "--delete-config", "no.such.config"));
        run(CONFIGS, plus(t2, "--describe"));
        run(CONFIGS, "--bootstrap-server", BOOTSTRAP, "--entity-type", "topics", "--entity-name", "missing",
                "--describe");
        run(CONFIGS, "--bootstrap-server", BOOTSTRAP, "--entity-type", "brokers", "--entity-name", "1",
                "--describe");
        compare("kafka-configs");
    }

    @Test
    @Order(3)
    void consoleProducerAndConsumer() {
        runWithStdin(RECORDS, UnaryOperator.identity(), PRODUCER, "--bootstrap-server", BOOTSTRAP, "--topic", "t1",
                "--property", "parse.key=true", "--property", "key.separator=:");
        List<String> consume = List.of("--bootstrap-server", BOOTSTRAP, "--topic", "t1", "--from-beginning",
                "--max-messages", "10", "--timeout-ms", "30000", "--property", "print.key=true",
                "--property", "print.partition=true", "--property", "print.offset=true");
        // records of different partitions arrive in any order: compare them by partition, then offset
        run(KafkaToolsDifferentialTest::byPartitionAndOffset, CONSUMER, consume);
        run(KafkaToolsDifferentialTest::byPartitionAndOffset, CONSUMER, plus(consume, "--group", "g1"));
        awaitGroupState("g1", ConsumerGroupState.EMPTY);
        compare("kafka-console-producer, kafka-console-consumer");
    }

    @Test
    @Order(4)
    void consumerGroups() {
        List<String> g1 = List.of("--bootstrap-server", BOOTSTRAP, "--group", "g1");
        // --list prints the groups in the coordinator's (hash map) order, and one name is random
        run(KafkaToolsDifferentialTest::sorted, GROUPS, List.of("--bootstrap-server", BOOTSTRAP, "--list"));
        run(GROUPS, plus(g1, "--describe"));
        run(GROUPS, plus(g1, "--describe", "--members"));
        run(GROUPS, plus(g1, "--describe", "--state"));
        run(GROUPS, plus(g1, "--reset-offsets", "--to-earliest", "--topic", "t1", "--dry-run"));
        run(GROUPS, plus(g1, "--reset-offsets", "--to-earliest", "--topic", "t1", "--execute"));
        run(GROUPS, plus(g1, "--describe"));
        run(GROUPS, plus(g1, "--delete-offsets", "--topic", "t1:3"));
        run(GROUPS, plus(g1, "--describe"));
        run(GROUPS, "--bootstrap-server", BOOTSTRAP, "--describe", "--group", "missing");
        run(GROUPS, plus(g1, "--delete"));
        run(KafkaToolsDifferentialTest::sorted, GROUPS, List.of("--bootstrap-server", BOOTSTRAP, "--list"));
        compare("kafka-consumer-groups");
    }

    @Test
    @Order(5)
    void getOffsets() {
        run(GET_OFFSETS, "--bootstrap-server", BOOTSTRAP, "--topic", "t1");
        run(GET_OFFSETS, "--bootstrap-server", BOOTSTRAP, "--topic", "t1", "--time", "-2");
        run(GET_OFFSETS, "--bootstrap-server", BOOTSTRAP, "--topic", "t1", "--time", "-1");
        compare("kafka-get-offsets");
    }

    @Test
    @Order(6)
    void logDirs() {
        run(KafkaToolsDifferentialTest::logDirsJson, LOG_DIRS, List.of("--bootstrap-server", BOOTSTRAP,
                "--describe", "--topic-list", "t1"));
        compare("kafka-log-dirs");
    }

    @Test
    @Order(7)
    void leaderElection() {
        run(LEADER_ELECTION, "--bootstrap-server", BOOTSTRAP, "--election-type", "preferred",
                "--all-topic-partitions");
        run(LEADER_ELECTION, "--bootstrap-server", BOOTSTRAP, "--election-type", "preferred", "--topic", "t1",
                "--partition", "0");
        compare("kafka-leader-election");
    }

    @Test
    @Order(8)
    void deleteRecords() {
        writeWorkFile("delete.json", "{\"partitions\":[{\"topic\":\"t1\",\"partition\":0,\"offset\":1},"
                + "{\"topic\":\"t1\",\"partition\":1,\"offset\":-1}],\"version\":1}");
        writeWorkFile("delete-beyond-end.json",
                "{\"partitions\":[{\"topic\":\"t1\",\"partition\":2,\"offset\":1000}],\"version\":1}");
        run(DELETE_RECORDS, "--bootstrap-server", BOOTSTRAP, "--offset-json-file", WORK + "/delete.json");
        run(DELETE_RECORDS, "--bootstrap-server", BOOTSTRAP, "--offset-json-file",
                WORK + "/delete-beyond-end.json");
        run(GET_OFFSETS, "--bootstrap-server", BOOTSTRAP, "--topic", "t1", "--time", "-2");
        run(GET_OFFSETS, "--bootstrap-server", BOOTSTRAP, "--topic", "t1");
        compare("kafka-delete-records");
    }

    @Test
    @Order(9)
    void dumpLog() {
        String seg = LOGDIR + "/t1-0/00000000000000000000";
        run(KafkaToolsDifferentialTest::recordTimesAndProducers, DUMP_LOG,
                List.of("--files", seg + ".log," + seg + ".index," + seg + ".timeindex", "--print-data-log"));
        // the partition directory around the segment: its files, their sizes, and the small text files
        recordDir("t1-0");
        recordFile("t1-0/leader-epoch-checkpoint");
        recordFile("t1-0/partition.metadata");
        compare("kafka-dump-log");
    }

    @Test
    @Order(10)
    void deleteTopic() {
        run(TOPICS, "--bootstrap-server", BOOTSTRAP, "--delete", "--topic", "t2");
        awaitTopicGone("t2");
        run(TOPICS, "--bootstrap-server", BOOTSTRAP, "--list");
        run(TOPICS, "--bootstrap-server", BOOTSTRAP, "--describe", "--topic", "__consumer_offsets");
        run(TOPICS, "--bootstrap-server", BOOTSTRAP, "--delete", "--topic", "t2");
        compare("kafka-topics --delete");
    }

    // ------------------------------------------------------------------------------------------------ steps

    static List<String> plus(List<String> base, String... more) {
        List<String> l = new ArrayList<>(base);
        l.addAll(Arrays.asList(more));
        return l;
    }

    void writeWorkFile(String name, String text) {
        for (Side s : sides()) {
            try {
                Files.writeString(s.work.resolve(name), text);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    List<Side> sides() {
        if (apache == null || kafkad == null) {
            fail("the brokers did not start");
        }
        return List.of(apache, kafkad);
    }

    void run(String mainClass, String... args) {
        run(UnaryOperator.identity(), mainClass, Arrays.asList(args));
    }

    void run(String mainClass, List<String> args) {
        run(UnaryOperator.identity(), mainClass, args);
    }

    void run(UnaryOperator<List<String>> stdoutView, String mainClass, List<String> args) {
        runWithStdin("", stdoutView, mainClass, args.toArray(new String[0]));
    }

    /**
     * One tool run against each broker (both at once), recorded in each transcript as the command line (with
     * the placeholders), the exit status, the normalised stdout lines (seen through {@code stdoutView}) and the
     * normalised stderr lines.
     */
    void runWithStdin(String stdin, UnaryOperator<List<String>> stdoutView, String mainClass, String... args) {
        List<Side> sides = sides();
        String shown = "$ " + SCRIPTS.getOrDefault(mainClass, mainClass) + " " + String.join(" ", args)
                + (stdin.isEmpty() ? "" : " < (" + stdin.lines().count() + " lines)");
        List<CompletableFuture<KafkaTool.Result>> runs = sides.stream()
                .map(s -> CompletableFuture.supplyAsync(() -> KafkaTool.run(TOOL_DEADLINE, stdin, mainClass,
                        Arrays.stream(args).map(s::arg).collect(Collectors.toList())), pool))
                .collect(Collectors.toList());
        for (int i = 0; i < sides.size(); i++) {
            Side s = sides.get(i);
            KafkaTool.Result r = runs.get(i).join();
            s.transcript.add(shown);
            s.transcript.add(r.timedOut() ? "exit: killed after " + TOOL_DEADLINE.toSeconds() + "s"
                    : "exit: " + r.exit());
            for (String l : stdoutView.apply(normalise(s, r.stdout()))) {
                s.transcript.add("out| " + l);
            }
            for (String l : normalise(s, r.stderr())) {
                s.transcript.add("err| " + l);
            }
        }
    }

    /** What legitimately differs between the two brokers, replaced by a name. */
    static List<String> normalise(Side s, String text) {
        String t = text.replace(s.logDir().toString(), "<logdir>").replace(s.work.toString(), "<work>")
                .replace(s.clusterId, "<cluster-id>");
        t = t.replaceAll("127\\.0\\.0\\.1:\\d+", "<host:port>");
        t = t.replaceAll("(?m)^\\[\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d,\\d{3}\\]", "[<time>]");
        t = t.replaceAll("(TopicId|topic_id): [A-Za-z0-9_-]{22}\\b", "$1: <topic-id>");
        t = t.replaceAll("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<uuid>");
        t = t.replaceAll("console-consumer-\\d+", "console-consumer-<n>");
        return t.lines().collect(Collectors.toList());
    }

    static List<String> sorted(List<String> lines) {
        return lines.stream().sorted().collect(Collectors.toList());
    }

    static final Pattern CONSUMED = Pattern.compile("^Partition:(\\d+)\tOffset:(\\d+)\t.*");

    /** Console-consumer lines ordered by partition, then offset; other lines first, in their order. */
    static List<String> byPartitionAndOffset(List<String> lines) {
        Comparator<String> order = Comparator.comparingLong((String l) -> {
            Matcher m = CONSUMED.matcher(l);
            return m.matches() ? Long.parseLong(m.group(1)) : -1;
        }).thenComparingLong(l -> {
            Matcher m = CONSUMED.matcher(l);
            return m.matches() ? Long.parseLong(m.group(2)) : -1;
        });
        return lines.stream().sorted(order).collect(Collectors.toList());
    }

    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
            .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);

    /**
     * kafka-log-dirs' JSON line parsed and printed one field a line: each partition's size as "<size>" when
     * it is not 0 (segment sizes are compared by kafka-dump-log), partitions ordered by name.
     */
    static List<String> logDirsJson(List<String> lines) {
        List<String> out = new ArrayList<>();
        for (String l : lines) {
            if (!l.startsWith("{")) {
                out.add(l);
                continue;
            }
            try {
                JsonNode root = JSON.readTree(l);
                for (JsonNode broker : root.path("brokers")) {
                    for (JsonNode dir : broker.path("logDirs")) {
                        if (!(dir.path("partitions") instanceof ArrayNode parts)) {
                            continue;
                        }
                        List<JsonNode> sorted = new ArrayList<>();
                        parts.forEach(sorted::add);
                        sorted.sort(Comparator.comparing(p -> p.path("partition").asText()));
                        parts.removeAll();
                        for (JsonNode p : sorted) {
                            if (p instanceof ObjectNode o && o.path("size").isNumber()
                                    && o.path("size").asLong() != 0) {
                                o.set("size", TextNode.valueOf("<size>"));
                            }
                            parts.add(p);
                        }
                    }
                }
                // canonical key order: re-read as a tree of maps
                Object canonical = JSON.treeToValue(root, Object.class);
                out.addAll(JSON.writeValueAsString(canonical).lines().collect(Collectors.toList()));
            } catch (IOException e) {
                out.add("(not JSON: " + e.getMessage().lines().findFirst().orElse("") + ") " + l);
            }
        }
        return out;
    }

    /**
     * kafka-dump-log output with the record timestamps (CreateTime, time index entries), the producer ids the
     * brokers handed out, and the CRCs (computed over both) replaced by names.
     */
    static List<String> recordTimesAndProducers(List<String> lines) {
        return lines.stream()
                .map(l -> l.replaceAll("(CreateTime|timestamp): \\d{13}\\b", "$1: <ts>")
                        .replaceAll("producerId: \\d+", "producerId: <pid>")
                        .replaceAll("crc: \\d+", "crc: <crc>"))
                .collect(Collectors.toList());
    }

    /** The files of {@code rel} (in the broker's log dir), with their sizes, in the transcripts. */
    void recordDir(String rel) {
        for (Side s : sides()) {
            s.transcript.add("# files in " + LOGDIR + "/" + rel);
            try (Stream<Path> files = Files.list(s.logDir().resolve(rel))) {
                for (Path f : files.sorted().collect(Collectors.toList())) {
                    s.transcript.add("file| " + f.getFileName() + " " + Files.size(f) + " bytes");
                }
            } catch (IOException e) {
                s.transcript.add("file| cannot list: " + e);
            }
        }
    }

    /** The normalised text of {@code rel} (in the broker's log dir), in the transcripts. */
    void recordFile(String rel) {
        for (Side s : sides()) {
            s.transcript.add("# contents of " + LOGDIR + "/" + rel);
            try {
                String text = Files.readString(s.logDir().resolve(rel));
                for (String l : normalise(s, text)) {
                    s.transcript.add("file| " + l);
                }
                if (!text.isEmpty() && !text.endsWith("\n")) {
                    s.transcript.add("file| \\ No newline at end of file");
                }
            } catch (IOException e) {
                s.transcript.add("file| cannot read: " + e);
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ waits

    /**
     * Poll each broker's Admin view until {@code cond} holds (at most {@link #WAIT}), and record the outcome
     * in the transcripts: a broker that never gets there differs from one that does.
     */
    void await(String what, Predicate<Side> cond) {
        List<Side> sides = sides();
        List<CompletableFuture<Boolean>> waits = sides.stream().map(s -> CompletableFuture.supplyAsync(() -> {
            try {
                Env.waitUntil(what, WAIT, () -> cond.test(s), null);
                return true;
            } catch (AssertionError e) {
                return false;
            }
        }, pool)).collect(Collectors.toList());
        for (int i = 0; i < sides.size(); i++) {
            sides.get(i).transcript.add("# waited until " + what + ": "
                    + (waits.get(i).join() ? "yes" : "NO, not after " + WAIT.toSeconds() + "s"));
        }
    }

    void awaitLeaders(String topic, int partitions) {
        await(topic + " has " + partitions + " partitions, each with a leader", s -> {
            try {
                TopicDescription d = s.admin.describeTopics(List.of(topic)).allTopicNames().get(5, TimeUnit.SECONDS)
                        .get(topic);
                return d.partitions().size() == partitions && d.partitions().stream()
                        .map(TopicPartitionInfo::leader).allMatch(l -> l != null && !l.isEmpty());
            } catch (Exception e) {
                return false;
            }
        });
    }

    void awaitTopicConfig(String topic, String name, String value) {
        await(topic + "'s " + name + " is " + (value == null ? "not set" : value), s -> {
            try {
                ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, topic);
                Config c = s.admin.describeConfigs(List.of(r)).all().get(5, TimeUnit.SECONDS).get(r);
                ConfigEntry e = c.get(name);
                return value == null
                        ? e == null || e.source() != ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG
                        : e != null && value.equals(e.value());
            } catch (Exception e) {
                return false;
            }
        });
    }

    void awaitGroupState(String group, ConsumerGroupState state) {
        await("group " + group + " is " + state, s -> {
            try {
                ConsumerGroupDescription d = s.admin.describeConsumerGroups(List.of(group)).describedGroups()
                        .get(group).get(5, TimeUnit.SECONDS);
                return d.state() == state;
            } catch (Exception e) {
                return false;
            }
        });
    }

    void awaitTopicGone(String topic) {
        await(topic + " is gone from the topic list", s -> {
            try {
                return !s.admin.listTopics().names().get(5, TimeUnit.SECONDS).contains(topic);
            } catch (Exception e) {
                return false;
            }
        });
    }

    // ------------------------------------------------------------------------------------------------ compare

    /** Print both transcripts of this test, then assert they are equal, with a unified diff if not. */
    void compare(String what) {
        List<String> a = List.copyOf(apache.transcript);
        List<String> k = List.copyOf(kafkad.transcript);
        apache.transcript.clear();
        kafkad.transcript.clear();
        System.out.println("===== " + what + ": Apache Kafka 3.9 transcript\n" + String.join("\n", a));
        System.out.println("===== " + what + ": kafkad transcript\n" + String.join("\n", k));
        if (!a.equals(k)) {
            String diff = unifiedDiff(a, k, "apache", "kafkad", 3);
            System.out.println("===== " + what + ": diff\n" + diff);
            fail(what + ": Apache Kafka and kafkad differ\n" + diff);
        }
    }

    /** A unified diff (LCS-based, {@code context} lines around each change) of two line lists. */
    static String unifiedDiff(List<String> a, List<String> b, String nameA, String nameB, int context) {
        int n = a.size();
        int m = b.size();
        int[][] lcs = new int[n + 1][m + 1];
        for (int i = n - 1; i >= 0; i--) {
            for (int j = m - 1; j >= 0; j--) {
                lcs[i][j] = a.get(i).equals(b.get(j)) ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
            }
        }
        // the edit script: ' ', '-' or '+' with the line and its (0-based) positions in a and b
        record Edit(char op, String line, int i, int j) {}
        List<Edit> edits = new ArrayList<>();
        int i = 0;
        int j = 0;
        while (i < n || j < m) {
            if (i < n && j < m && a.get(i).equals(b.get(j))) {
                edits.add(new Edit(' ', a.get(i), i++, j++));
            } else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) {
                edits.add(new Edit('-', a.get(i), i++, j));
            } else {
                edits.add(new Edit('+', b.get(j), i, j++));
            }
        }
        StringBuilder sb = new StringBuilder("--- " + nameA + "\n+++ " + nameB + "\n");
        int e = 0;
        while (e < edits.size()) {
            if (edits.get(e).op() == ' ') {
                e++;
                continue;
            }
            int start = Math.max(0, e - context);
            int end = e;
            // extend the hunk while the next change is within 2 * context lines
            while (true) {
                int next = end;
                while (next < edits.size() && edits.get(next).op() != ' ') {
                    next++;
                }
                int gapEnd = next;
                while (gapEnd < edits.size() && edits.get(gapEnd).op() == ' ' && gapEnd - next < 2 * context) {
                    gapEnd++;
                }
                if (gapEnd < edits.size() && edits.get(gapEnd).op() != ' ') {
                    end = gapEnd;
                } else {
                    end = Math.min(edits.size(), next + context);
                    break;
                }
            }
            int aStart = edits.get(start).i();
            int bStart = edits.get(start).j();
            int aLen = 0;
            int bLen = 0;
            for (int x = start; x < end; x++) {
                char op = edits.get(x).op();
                aLen += op == '+' ? 0 : 1;
                bLen += op == '-' ? 0 : 1;
            }
            sb.append("@@ -").append(aStart + 1).append(',').append(aLen).append(" +").append(bStart + 1).append(',')
                    .append(bLen).append(" @@\n");
            for (int x = start; x < end; x++) {
                sb.append(edits.get(x).op()).append(edits.get(x).line()).append('\n');
            }
            e = end;
        }
        return sb.toString();
    }
}
