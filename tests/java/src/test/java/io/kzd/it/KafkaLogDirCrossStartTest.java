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
 * The log dirs across brokers (the on-disk half of the differential against Apache Kafka 3.9): one broker (kafkad, then Apache Kafka) writes a topic (records with keys,
 * headers, explicit timestamps, batches in every compression) and a consumer group's committed offsets, and stops
 * cleanly (SIGTERM), plus a topic of one-record batches that gets no index entry on append (its time indexes hold
 * only what the broker writes on a segment's roll or close); Apache Kafka's kafka-dump-log checks the segments it
 * left (index sanity, index verification, deep iteration, the offsets topic decoded), and the test checks that each
 * segment's time index ends with the segment's largest timestamp, as Kafka's LogSegment leaves it; then the other
 * broker starts with the same broker.id on the same log.dirs (meta.properties as the first one wrote it) and the
 * same ZooKeeper, and must serve every record, offset (ListOffsets earliest, latest, max timestamp) and committed
 * offset exactly as written, resume the group, and take more records. Last, the two writers' non-segment files
 * (checkpoints, markers, meta.properties) are compared.
 *
 * <p>Every difference is collected and reported at once (each test prints them and fails with all of them).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class KafkaLogDirCrossStartTest extends ClustersToClose {
    static final Duration WAIT = Duration.ofSeconds(30);
    static final long GET_S = 30;
    static final Duration TOOL_DEADLINE = Duration.ofSeconds(90);

    static final String BROKER_PROPS = KafkaCluster.sideBySideProps(1);


    // ============================================================================ part 2: log dirs, cross-start

    static final String TOPIC = "x";
    static final String GROUP = "g";
    static final TopicPartition P0 = new TopicPartition(TOPIC, 0);
    static final TopicPartition P1 = new TopicPartition(TOPIC, 1);
    static final List<TopicPartition> PARTS = List.of(P0, P1);
    /**
     * A topic of one-record batches whose index interval exceeds its segment size, so that no index entry is made
     * as records are appended: its time indexes hold only what a broker writes when a segment rolls or closes.
     */
    static final String TOPIC_Y = "y";
    static final TopicPartition PY = new TopicPartition(TOPIC_Y, 0);
    static final int Y_RECORDS = 40;
    static final String[] COMPRESSIONS = {"none", "gzip", "snappy", "lz4", "zstd"};
    /** Records a partition a compression type. */
    static final int PER_BATCH_RUN = 30;

    /** A record as written or read: everything a consumer sees, the leader epoch only when read. */
    record Rec(String topic, int partition, long offset, long timestamp, TimestampType timestampType, byte[] key, byte[] value,
            List<Header> headers, Optional<Integer> leaderEpoch) {
        String core() {
            return topic + "-" + partition + "@" + offset + " " + timestampType + "=" + timestamp + " key=" + show(key)
                    + " value=" + digest(value) + " headers=" + headers.stream()
                            .map(h -> h.key() + "=" + show(h.value())).collect(Collectors.toList());
        }

        String full() {
            return core() + " leaderEpoch=" + leaderEpoch.map(String::valueOf).orElse("none");
        }

        static Rec of(ConsumerRecord<byte[], byte[]> r) {
            List<Header> hs = new ArrayList<>();
            r.headers().forEach(hs::add);
            return new Rec(r.topic(), r.partition(), r.offset(), r.timestamp(), r.timestampType(), r.key(), r.value(), hs,
                    r.leaderEpoch());
        }
    }

    static String show(byte[] b) {
        if (b == null) {
            return "null";
        }
        boolean printable = true;
        for (byte x : b) {
            printable &= x >= 0x20 && x < 0x7f;
        }
        return printable ? "\"" + new String(b, StandardCharsets.US_ASCII) + "\"" : "0x" + HexFormat.of().formatHex(b);
    }

    static String digest(byte[] b) {
        if (b == null) {
            return "null";
        }
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(b);
            return "len=" + b.length + ",sha256=" + HexFormat.of().formatHex(d, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** What the writer left: the records sent, the records as the writer served them, and the group's offsets. */
    static final class Written {
        final List<Rec> sent = new ArrayList<>();
        List<Rec> served;
        Map<TopicPartition, OffsetAndMetadata> committed;
        Map<TopicPartition, OffsetAndMetadata> committedAsListed;
        String groupState;
        Map<String, String> offsets;
        Map<TopicPartition, Long> end;
        final List<Rec> sentY = new ArrayList<>();
        Map<String, String> offsetsY;
    }

    /** Each writer's log dir files other than segments, normalised ({@link #normalisedSmallFiles}). */
    final Map<String, Map<String, String>> logDirFiles = new TreeMap<>();

    @Test
    @Order(10)
    void kafkadWritesApacheKafkaReads() {
        crossStart(false);
    }

    @Test
    @Order(11)
    void apacheKafkaWritesKafkadReads() {
        crossStart(true);
    }

    void crossStart(boolean apacheWrites) {
        String writerName = apacheWrites ? "Apache Kafka" : "kafkad";
        String readerName = apacheWrites ? "kafkad" : "Apache Kafka";
        String what = writerName + " writes, stops cleanly, " + readerName + " serves its log dir";
        List<String> problems = new ArrayList<>();
        KafkaCluster writer = null;
        KafkaCluster reader = null;
        try {
            writer = apacheWrites ? KafkaCluster.startApacheKafka(ZkEnsemble.startStandalone(), 1, BROKER_PROPS)
                    : KafkaCluster.start(1, BROKER_PROPS);
            open.add(writer);
            Written w = write(writer, writerName, problems);

            // a clean stop, as SIGTERM makes one
            int exit = writer.stop(1);
            System.out.println("===== " + writerName + " exited with status " + exit + " on SIGTERM");
            if (exit != 0 && exit != 143) {
                problems.add(writerName + " exited with status " + exit + " on SIGTERM (not 0, nor 143 = SIGTERM)");
            }
            Path dir = writer.logDir(1);
            if (!Files.exists(dir.resolve(".kafka_cleanshutdown"))) {
                problems.add(writerName + " left no .kafka_cleanshutdown in " + dir + " after a clean stop: "
                        + listDir(dir));
            }
            try (KafkaZnodesDifferentialTest.Zk zk = new KafkaZnodesDifferentialTest.Zk(writer.zk().connect())) {
                // the broker closed its session before exiting: its ephemerals are gone at once
                for (String p : List.of("/brokers/ids/1", "/controller")) {
                    if (zk.exists(p)) {
                        problems.add(writerName + "'s " + p + " still exists after the broker exited (its ZooKeeper "
                                + "session was not closed)");
                    }
                }
            }
            String meta = read(dir.resolve("meta.properties"));
            System.out.println("===== meta.properties as " + writerName + " wrote it:\n" + meta);
            System.out.println("===== " + writerName + "'s log dir after its clean stop:\n" + listTree(dir));
            System.out.println("===== " + writerName + "'s small files:\n" + smallFiles(dir));
            logDirFiles.put(apacheWrites ? "apache" : "kafkad", normalisedSmallFiles(dir));
            timeIndexChecks(dir, writerName, problems);

            // (c) kafka-dump-log on what the writer left, before the reader touches it
            dumpLogChecks(dir, writerName, w, problems);

            // the other broker on the same broker.id, log.dirs and ZooKeeper
            try {
                reader = KafkaCluster.startOn(writer.zk(), 1, dir, !apacheWrites, BROKER_PROPS);
            } catch (Throwable t) {
                problems.add(readerName + " did not start on " + writerName + "'s log dir and ZooKeeper: " + t);
                throw new Aborted();
            }
            open.add(reader);
            readBack(reader, readerName, w, problems);
            String metaAfter = read(dir.resolve("meta.properties"));
            System.out.println("===== meta.properties after " + readerName + " started on it:\n" + metaAfter);
            readerLogChecks(reader, readerName, !apacheWrites, problems);
        } catch (Aborted a) {
            // recorded
        } catch (Throwable t) {
            problems.add("aborted: " + t);
            t.printStackTrace(System.out);
        } finally {
            if (!problems.isEmpty()) {
                for (KafkaCluster c : new KafkaCluster[] {writer, reader}) {
                    if (c != null) {
                        System.out.println(c == writer ? "===== writer (" + writerName + ") log, WARN and ERROR lines:"
                                : "===== reader (" + readerName + ") log, WARN and ERROR lines:");
                        System.out.println(String.join("\n", warnAndErrorLines(c.log(1))));
                        System.out.println(c.logs());
                    }
                }
            }
            close(reader);
            close(writer);
        }
        KafkaZnodesDifferentialTest.report(what, problems);
    }

    /**
     * The files each writer left in its log dir besides the segments (checkpoints, markers, meta.properties,
     * partition.metadata, leader-epoch-checkpoint), both writers having been through the same steps: names, and
     * text after normalising the cluster id, topic ids, meta.properties' comment lines, and the order of a
     * checkpoint's entries (Kafka writes them in hash-map order).
     */
    /**
     * kafkad's own addition, not a difference from Kafka's formats: the ZooKeeper session of its last run, so that
     * a restart right after a kill -9 can remove its stale registration at once instead of waiting for the old
     * session to expire (Apache Kafka waits). Apache Kafka ignores the file.
     */
    static final String KAFKAD_SESSION_FILE = "zookeeper-session";

    @Test
    @Order(12)
    void logDirFilesAlike() {
        Map<String, String> a = logDirFiles.get("apache");
        Map<String, String> k = logDirFiles.get("kafkad");
        if (a == null || k == null) {
            fail("a cross-start test did not get as far as its writer's clean stop: " + logDirFiles.keySet());
        }
        List<String> diffs = new ArrayList<>();
        Set<String> names = new TreeSet<>(a.keySet());
        names.addAll(k.keySet());
        for (String n : names) {
            if (n.equals(KAFKAD_SESSION_FILE) && !a.containsKey(n)) {
                continue;
            }
            if (!k.containsKey(n)) {
                diffs.add(n + ": Apache Kafka leaves it after a clean stop, kafkad does not. Apache's:\n" + a.get(n));
            } else if (!a.containsKey(n)) {
                diffs.add(n + ": kafkad leaves it after a clean stop, Apache Kafka does not. kafkad's:\n" + k.get(n));
            } else if (!a.get(n).equals(k.get(n))) {
                diffs.add(n + ":\n  apache: " + a.get(n).replace("\n", "\\n") + "\n  kafkad: "
                        + k.get(n).replace("\n", "\\n"));
            }
        }
        KafkaZnodesDifferentialTest.report("log dir files after a clean stop (Apache Kafka's vs kafkad's)", diffs);
    }

    static final Set<String> CHECKPOINTS = Set.of("recovery-point-offset-checkpoint", "replication-offset-checkpoint",
            "log-start-offset-checkpoint", "cleaner-offset-checkpoint");

    static Map<String, String> normalisedSmallFiles(Path dir) {
        Map<String, String> raw = new TreeMap<>();
        try (Stream<Path> s = Files.walk(dir)) {
            s.filter(Files::isRegularFile)
                    .filter(p -> !p.getFileName().toString().matches(".*\\.(log|index|timeindex|snapshot|txnindex)$"))
                    .forEach(p -> raw.put(dir.relativize(p).toString(), read(p)));
        } catch (IOException e) {
            raw.put("(cannot list)", e.toString());
        }
        Map<String, String> ids = new LinkedHashMap<>();
        Matcher cid = Pattern.compile("(?m)^cluster\\.id=(\\S+)").matcher(raw.getOrDefault("meta.properties", ""));
        if (cid.find()) {
            ids.put(cid.group(1), "<cluster-id>");
        }
        raw.forEach((name, text) -> {
            Matcher tid = Pattern.compile("(?m)^topic_id: (\\S+)").matcher(text);
            if (name.endsWith("partition.metadata") && tid.find()) {
                ids.put(tid.group(1), "<topic-id:" + name.substring(0, name.lastIndexOf('-')) + ">");
            }
        });
        Map<String, String> out = new TreeMap<>();
        raw.forEach((name, text) -> {
            String t = text;
            for (Map.Entry<String, String> e : ids.entrySet()) {
                t = t.replace(e.getKey(), e.getValue());
            }
            if (name.equals("meta.properties")) {
                t = t.replaceAll("(?m)^#.+$", "#<comment>");
            }
            if (CHECKPOINTS.contains(name)) {
                List<String> lines = new ArrayList<>(t.lines().collect(Collectors.toList()));
                if (lines.size() > 2) {
                    List<String> entries = new ArrayList<>(lines.subList(2, lines.size()));
                    entries.sort(null);
                    lines = new ArrayList<>(lines.subList(0, 2));
                    lines.addAll(entries);
                    t = String.join("\n", lines) + (text.endsWith("\n") ? "\n" : "");
                }
            }
            out.put(name, t);
        });
        return out;
    }

    /**
     * What Kafka's LogSegment leaves on a clean close (and on a roll): the time index's last entry is the segment's
     * largest timestamp, so that a restarted broker knows it (ListOffsets max-timestamp, time-based retention and
     * rolling read it from there). Checked for every non-empty segment of the topic by parsing the .log's batch
     * headers (magic 2) and the .timeindex's 12-byte entries.
     */
    static void timeIndexChecks(Path dir, String writerName, List<String> problems) throws IOException {
        List<String> info = new ArrayList<>();
        for (String pd : List.of(TOPIC + "-0", TOPIC + "-1", TOPIC_Y + "-0")) {
            for (Path log : files(dir, pd, ".log")) {
                String base = log.getFileName().toString().replace(".log", "");
                long baseOffset = Long.parseLong(base);
                java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(Files.readAllBytes(log));
                long maxTs = -1;
                long maxTsBatchLast = -1;
                long maxTsBatchBase = -1;
                int batches = 0;
                while (b.remaining() >= 61) {
                    int pos = b.position();
                    long bo = b.getLong(pos);
                    int len = b.getInt(pos + 8);
                    byte magic = b.get(pos + 16);
                    if (magic != 2 || len < 49 || pos + 12 + len > b.limit()) {
                        problems.add(writerName + "'s " + log + ": unexpected batch header at position " + pos);
                        break;
                    }
                    long last = bo + b.getInt(pos + 23);
                    long ts = b.getLong(pos + 35);
                    if (ts > maxTs) {
                        maxTs = ts;
                        maxTsBatchLast = last;
                        maxTsBatchBase = bo;
                    }
                    batches++;
                    b.position(pos + 12 + len);
                }
                if (batches == 0) {
                    continue;
                }
                Path ti = log.resolveSibling(base + ".timeindex");
                byte[] tib = Files.exists(ti) ? Files.readAllBytes(ti) : new byte[0];
                java.nio.ByteBuffer t = java.nio.ByteBuffer.wrap(tib);
                int n = tib.length / 12;
                while (n > 1 && t.getLong((n - 1) * 12) == 0 && t.getInt((n - 1) * 12 + 8) == 0) {
                    n--; // a preallocated, unused tail
                }
                String got = n == 0 ? "no entry" : "timestamp " + t.getLong((n - 1) * 12) + " offset "
                        + (baseOffset + t.getInt((n - 1) * 12 + 8));
                info.add(pd + "/" + base + ": " + batches + " batches, largest timestamp " + maxTs + " in batch "
                        + maxTsBatchBase + ".." + maxTsBatchLast + "; time index: " + n + " entries, last: " + got);
                if (n == 0 || t.getLong((n - 1) * 12) != maxTs
                        || baseOffset + t.getInt((n - 1) * 12 + 8) != maxTsBatchLast) {
                    problems.add(writerName + "'s " + pd + "/" + base + ".timeindex after a clean stop: last entry "
                            + got + "; Kafka's is the segment's largest timestamp " + maxTs
                            + " and the last offset of its batch, " + maxTsBatchLast);
                }
            }
        }
        System.out.println("===== " + writerName + "'s segments and time indexes:\n" + String.join("\n", info));
    }

    static final class Aborted extends RuntimeException {
        Aborted() {
            super("aborted", null, false, false);
        }
    }

    static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            return "(cannot read " + p + ": " + e + ")";
        }
    }

    static String listDir(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList()).toString();
        } catch (IOException e) {
            return "(cannot list: " + e + ")";
        }
    }

    /** The text of the checkpoint, marker and metadata files of a log dir (not the segments). */
    static String smallFiles(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).filter(p -> {
                String n = p.getFileName().toString();
                return !n.matches(".*\\.(log|index|timeindex|snapshot|txnindex)$");
            }).sorted().map(p -> "--- " + dir.relativize(p) + " (" + size(p) + " bytes)\n" + read(p))
                    .collect(Collectors.joining("\n"));
        } catch (IOException e) {
            return "(cannot list: " + e + ")";
        }
    }

    static long size(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            return -1;
        }
    }

    static String listTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).sorted().map(p -> {
                try {
                    return "  " + dir.relativize(p) + " " + Files.size(p) + " bytes";
                } catch (IOException e) {
                    return "  " + dir.relativize(p) + " ?";
                }
            }).collect(Collectors.joining("\n"));
        } catch (IOException e) {
            return "(cannot list: " + e + ")";
        }
    }

    static KafkaProducer<byte[], byte[]> producer(KafkaCluster c, String compression) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, c.bootstrap());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, compression);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 20);
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, 4096);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        return new KafkaProducer<>(p);
    }

    static KafkaConsumer<byte[], byte[]> consumer(KafkaCluster c, String group) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, c.bootstrap());
        if (group != null) {
            p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        }
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 10000);
        p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 1000);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        return new KafkaConsumer<>(p);
    }

    /**
     * Records in every compression type, {@code perRun} a partition a type, in batches of several: keys (some
     * null), values of 0..600 bytes (text and binary; some null), headers (none, one, several with a repeated key
     * and a null value), explicit CreateTime timestamps from {@code baseTs} on. Returns them with their offsets.
     */
    static List<Rec> produce(KafkaCluster c, String round, String[] compressions, int perRun, long baseTs, long seed)
            throws Exception {
        Random rnd = new Random(seed);
        List<Rec> sent = new ArrayList<>();
        long ts = baseTs;
        for (String compression : compressions) {
            try (KafkaProducer<byte[], byte[]> p = producer(c, compression)) {
                List<ProducerRecord<byte[], byte[]>> recs = new ArrayList<>();
                List<Future<RecordMetadata>> acks = new ArrayList<>();
                for (int i = 0; i < perRun; i++) {
                    for (int part = 0; part < 2; part++) {
                        int n = recs.size();
                        byte[] key = n % 13 == 7 ? null
                                : (round + "/" + compression + "/" + part + "/" + i).getBytes(StandardCharsets.UTF_8);
                        byte[] value;
                        if (n % 17 == 11) {
                            value = null;
                        } else if (n % 5 == 2) {
                            value = new byte[rnd.nextInt(600)];
                            rnd.nextBytes(value);
                        } else {
                            StringBuilder sb = new StringBuilder();
                            int len = rnd.nextInt(600);
                            for (int j = 0; j < len; j++) {
                                sb.append("abcdefgh ".charAt(rnd.nextInt(9)));
                            }
                            value = sb.toString().getBytes(StandardCharsets.UTF_8);
                        }
                        List<Header> hs = new ArrayList<>();
                        if (n % 3 == 1) {
                            hs.add(new RecordHeader("h", ("one-" + n).getBytes(StandardCharsets.UTF_8)));
                        } else if (n % 3 == 2) {
                            hs.add(new RecordHeader("trace", new byte[] {0, 1, 2, (byte) 0xff, (byte) n}));
                            hs.add(new RecordHeader("dup", "a".getBytes(StandardCharsets.UTF_8)));
                            hs.add(new RecordHeader("null-value", null));
                            hs.add(new RecordHeader("dup", "b".getBytes(StandardCharsets.UTF_8)));
                            hs.add(new RecordHeader("", new byte[0]));
                        }
                        ProducerRecord<byte[], byte[]> r = new ProducerRecord<>(TOPIC, part, ts++, key, value, hs);
                        recs.add(r);
                        acks.add(p.send(r));
                    }
                }
                p.flush();
                for (int i = 0; i < recs.size(); i++) {
                    ProducerRecord<byte[], byte[]> r = recs.get(i);
                    RecordMetadata md = acks.get(i).get(GET_S, TimeUnit.SECONDS);
                    sent.add(new Rec(r.topic(), r.partition(), md.offset(), r.timestamp(), TimestampType.CREATE_TIME, r.key(),
                            r.value(), List.of(r.headers().toArray()), Optional.empty()));
                }
            }
        }
        return sent;
    }

    /** Read [from, to) of the partitions of {@code from} without a group. */
    static List<Rec> readRange(KafkaCluster c, Map<TopicPartition, Long> from, Map<TopicPartition, Long> to) {
        List<Rec> got = new ArrayList<>();
        List<TopicPartition> parts = new ArrayList<>(from.keySet());
        try (KafkaConsumer<byte[], byte[]> cons = consumer(c, null)) {
            cons.assign(parts);
            for (TopicPartition tp : parts) {
                cons.seek(tp, from.get(tp));
            }
            Env.waitUntil("to read from " + from + " to " + to, Duration.ofSeconds(60), () -> {
                for (ConsumerRecord<byte[], byte[]> r : cons.poll(Duration.ofMillis(200))) {
                    TopicPartition tp = new TopicPartition(r.topic(), r.partition());
                    if (r.offset() < to.get(tp)) {
                        got.add(Rec.of(r));
                    }
                }
                for (TopicPartition tp : parts) {
                    if (cons.position(tp) < to.get(tp)) {
                        return false;
                    }
                }
                return true;
            }, () -> "read " + got.size() + " records\n" + c.logs());
        }
        got.sort((a, b) -> a.partition() != b.partition() ? Integer.compare(a.partition(), b.partition())
                : Long.compare(a.offset(), b.offset()));
        return got;
    }

    static List<Rec> sortedByPartitionAndOffset(List<Rec> l) {
        List<Rec> s = new ArrayList<>(l);
        s.sort((a, b) -> a.partition() != b.partition() ? Integer.compare(a.partition(), b.partition())
                : Long.compare(a.offset(), b.offset()));
        return s;
    }

    /** Compare two record lists (as {@code view} renders them); up to 20 differing lines reported. */
    static void compareRecords(String what, List<String> expected, List<String> actual, List<String> problems) {
        if (expected.equals(actual)) {
            return;
        }
        List<String> d = new ArrayList<>();
        int n = Math.max(expected.size(), actual.size());
        int shown = 0;
        int differing = 0;
        for (int i = 0; i < n; i++) {
            String e = i < expected.size() ? expected.get(i) : "(none)";
            String a = i < actual.size() ? actual.get(i) : "(none)";
            if (!e.equals(a)) {
                differing++;
                if (shown++ < 20) {
                    d.add("  #" + i + " expected: " + e + "\n  #" + i + " actual:   " + a);
                }
            }
        }
        problems.add(what + ": " + expected.size() + " records expected, " + actual.size() + " read, " + differing
                + " positions differ:\n" + String.join("\n", d));
    }

    static Map<String, String> listOffsets(Admin admin) throws Exception {
        return listOffsets(admin, PARTS);
    }

    static Map<String, String> listOffsets(Admin admin, List<TopicPartition> parts) throws Exception {
        Map<String, String> out = new TreeMap<>();
        for (Map.Entry<String, OffsetSpec> spec : Map.of("earliest", OffsetSpec.earliest(), "latest",
                OffsetSpec.latest(), "maxTimestamp", OffsetSpec.maxTimestamp()).entrySet()) {
            Map<TopicPartition, OffsetSpec> req = new LinkedHashMap<>();
            for (TopicPartition tp : parts) {
                req.put(tp, spec.getValue());
            }
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> r = admin.listOffsets(req).all()
                    .get(GET_S, TimeUnit.SECONDS);
            for (TopicPartition tp : parts) {
                ListOffsetsResult.ListOffsetsResultInfo i = r.get(tp);
                out.put(tp + " " + spec.getKey(), "offset=" + i.offset() + " timestamp=" + i.timestamp()
                        + " leaderEpoch=" + i.leaderEpoch().map(String::valueOf).orElse("none"));
            }
        }
        return out;
    }

    static Map<TopicPartition, Long> endOffsets(Map<String, String> offsets) {
        Map<TopicPartition, Long> m = new LinkedHashMap<>();
        for (TopicPartition tp : PARTS) {
            Matcher x = Pattern.compile("offset=(-?\\d+)").matcher(offsets.get(tp + " latest"));
            if (!x.find()) {
                throw new IllegalStateException(offsets.toString());
            }
            m.put(tp, Long.valueOf(x.group(1)));
        }
        return m;
    }

    /**
     * The records' CreateTime: ten minutes ago (whole seconds), well inside the default retention (older records
     * are due for deletion at once, and kafkad's first retention pass runs at start-up, Apache Kafka's after 30s).
     */
    static final long BASE_TS = System.currentTimeMillis() / 1000 * 1000 - 600_000;

    Written write(KafkaCluster c, String name, List<String> problems) throws Exception {
        Written w = new Written();
        try (Admin admin = c.admin()) {
            admin.createTopics(List.of(new NewTopic(TOPIC, 2, (short) 1).configs(Map.of(
                    // several segments, and index entries every few batches
                    "segment.bytes", "8192", "index.interval.bytes", "1024"))))
                    .all().get(GET_S, TimeUnit.SECONDS);
            c.waitForIsr(admin, TOPIC, 2, 1);
            w.sent.addAll(produce(c, "first", COMPRESSIONS, PER_BATCH_RUN, BASE_TS, 42));
            List<Rec> sent = sortedByPartitionAndOffset(w.sent);
            Map<TopicPartition, Long> zero = Map.of(P0, 0L, P1, 0L);
            Map<TopicPartition, Long> end = Map.of(P0, sent.stream().filter(r -> r.partition() == 0).count(),
                    P1, sent.stream().filter(r -> r.partition() == 1).count());
            for (Rec r : sent) {
                if (r.offset() >= end.get(new TopicPartition(TOPIC, r.partition()))) {
                    problems.add(name + " acknowledged " + r.core() + " beyond " + end);
                }
            }
            w.served = readRange(c, zero, end);
            compareRecords(name + " (the writer) serving what it was sent",
                    sent.stream().map(Rec::core).collect(Collectors.toList()),
                    w.served.stream().map(Rec::core).collect(Collectors.toList()), problems);

            // a consumer group: members join, read everything, commit offsets with metadata and leader epochs, leave
            try (KafkaConsumer<byte[], byte[]> cons = consumer(c, GROUP)) {
                cons.subscribe(List.of(TOPIC));
                List<Rec> got = new ArrayList<>();
                Env.waitUntil("group " + GROUP + " to read " + sent.size() + " records", Duration.ofSeconds(60), () -> {
                    cons.poll(Duration.ofMillis(200)).forEach(r -> got.add(Rec.of(r)));
                    return got.size() >= sent.size();
                }, () -> "read " + got.size() + "\n" + c.logs());
                Map<TopicPartition, OffsetAndMetadata> commit = new LinkedHashMap<>();
                long c0 = end.get(P0) / 2;
                long c1 = end.get(P1) - 3;
                commit.put(P0, new OffsetAndMetadata(c0, epochAt(w.served, 0, c0 - 1), "meta-0 \u00e9\u4e2d"));
                commit.put(P1, new OffsetAndMetadata(c1, epochAt(w.served, 1, c1 - 1), ""));
                cons.commitSync(commit, Duration.ofSeconds(GET_S));
                w.committed = commit;
            }
            w.committedAsListed = admin.listConsumerGroupOffsets(GROUP).partitionsToOffsetAndMetadata()
                    .get(GET_S, TimeUnit.SECONDS);
            if (!new TreeMap<>(byName(w.committed)).equals(new TreeMap<>(byName(w.committedAsListed)))) {
                problems.add(name + " (the writer) lists group " + GROUP + "'s offsets as " + w.committedAsListed
                        + ", committed " + w.committed);
            }
            w.groupState = Env.waitFor("group " + GROUP + " to be Empty after its member left", WAIT,
                    () -> groupState(admin).startsWith("Empty ") ? groupState(admin) : null, c::logs);
            w.offsets = listOffsets(admin);
            w.end = end;

            // topic y: one-record batches, no index entry made on append
            admin.createTopics(List.of(new NewTopic(TOPIC_Y, 1, (short) 1).configs(Map.of(
                    "segment.bytes", "8192", "index.interval.bytes", "1000000"))))
                    .all().get(GET_S, TimeUnit.SECONDS);
            c.waitForIsr(admin, TOPIC_Y, 1, 1);
            Properties yp = new Properties();
            yp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, c.bootstrap());
            yp.put(ProducerConfig.ACKS_CONFIG, "all");
            yp.put(ProducerConfig.LINGER_MS_CONFIG, 0);
            yp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
            yp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
            try (KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(yp)) {
                for (int i = 0; i < Y_RECORDS; i++) {
                    byte[] key = ("y" + i).getBytes(StandardCharsets.UTF_8);
                    byte[] value = ("y-value-" + i + "-" + "z".repeat(400)).getBytes(StandardCharsets.UTF_8);
                    ProducerRecord<byte[], byte[]> r = new ProducerRecord<>(TOPIC_Y, 0, BASE_TS + 100_000 + i, key,
                            value);
                    RecordMetadata md = p.send(r).get(GET_S, TimeUnit.SECONDS);
                    w.sentY.add(new Rec(TOPIC_Y, 0, md.offset(), r.timestamp(), TimestampType.CREATE_TIME, key, value,
                            List.of(), Optional.empty()));
                }
            }
            w.offsetsY = listOffsets(admin, List.of(PY));
            String wantMax = "offset=" + (Y_RECORDS - 1) + " timestamp=" + (BASE_TS + 100_000 + Y_RECORDS - 1);
            if (!w.offsetsY.get(PY + " maxTimestamp").startsWith(wantMax)) {
                problems.add(name + " (the writer) lists " + PY + "'s max timestamp as "
                        + w.offsetsY.get(PY + " maxTimestamp") + ", expected " + wantMax);
            }
            if (!endOffsets(w.offsets).equals(end)) {
                problems.add(name + " (the writer) lists offsets " + w.offsets + ", expected log end " + end);
            }
            System.out.println("===== " + name + " (the writer): offsets " + w.offsets + ", group " + w.groupState
                    + ", committed " + w.committedAsListed);
        }
        return w;
    }

    static Map<String, String> byName(Map<TopicPartition, OffsetAndMetadata> m) {
        Map<String, String> out = new TreeMap<>();
        m.forEach((tp, o) -> out.put(tp.toString(), o == null ? "null" : "offset=" + o.offset() + " leaderEpoch="
                + o.leaderEpoch().map(String::valueOf).orElse("none") + " metadata=\"" + o.metadata() + "\""));
        return out;
    }

    static Optional<Integer> epochAt(List<Rec> recs, int partition, long offset) {
        return recs.stream().filter(r -> r.partition() == partition && r.offset() == offset).findFirst()
                .flatMap(Rec::leaderEpoch);
    }

    static String groupState(Admin admin) {
        try {
            ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(GROUP)).describedGroups().get(GROUP)
                    .get(5, TimeUnit.SECONDS);
            return d.state() + " members=" + d.members().size() + " protocolType/partitionAssignor="
                    + d.partitionAssignor();
        } catch (Exception e) {
            return "error: " + e;
        }
    }

    void readBack(KafkaCluster c, String name, Written w, List<String> problems) throws Exception {
        try (Admin admin = c.admin()) {
            c.waitForIsr(admin, TOPIC, 2, 1);
            Map<String, String> offsets = Env.waitFor("ListOffsets on " + name, WAIT, () -> {
                try {
                    return listOffsets(admin);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }, c::logs);
            if (!offsets.equals(w.offsets)) {
                problems.add(name + " lists the offsets (earliest, latest, max timestamp) as\n  " + offsets
                        + "\n  the writer listed\n  " + w.offsets);
            }
            Map<String, String> offsetsY = listOffsets(admin, List.of(PY));
            if (!offsetsY.equals(w.offsetsY)) {
                problems.add(name + " lists " + PY + "'s offsets (earliest, latest, max timestamp) as\n  " + offsetsY
                        + "\n  the writer listed\n  " + w.offsetsY);
            }
            compareRecords(name + " serving " + PY + " as sent",
                    w.sentY.stream().map(Rec::core).collect(Collectors.toList()),
                    readRange(c, Map.of(PY, 0L), Map.of(PY, (long) Y_RECORDS)).stream().map(Rec::core)
                            .collect(Collectors.toList()), problems);

            // every record, exactly as the writer served it (leader epochs included)
            List<Rec> all = readRange(c, Map.of(P0, 0L, P1, 0L), w.end);
            compareRecords(name + " serving the writer's records (as the writer served them)",
                    w.served.stream().map(Rec::full).collect(Collectors.toList()),
                    all.stream().map(Rec::full).collect(Collectors.toList()), problems);

            // the group's committed offsets, as committed
            Map<TopicPartition, OffsetAndMetadata> listed = Env.waitFor("OffsetFetch of group " + GROUP + " on "
                    + name, WAIT, () -> {
                        try {
                            return admin.listConsumerGroupOffsets(GROUP).partitionsToOffsetAndMetadata()
                                    .get(5, TimeUnit.SECONDS);
                        } catch (Exception e) {
                            throw new IllegalStateException(e);
                        }
                    }, c::logs);
            if (!byName(listed).equals(byName(w.committed))) {
                problems.add(name + " lists group " + GROUP + "'s committed offsets as\n  " + byName(listed)
                        + "\n  committed on the writer:\n  " + byName(w.committed));
            }
            String state = groupState(admin);
            if (!state.equals(w.groupState)) {
                problems.add(name + " describes group " + GROUP + " as " + state + ", the writer as " + w.groupState);
            }

            // the group resumes from its committed offsets and reads exactly the rest
            Map<TopicPartition, Long> from = Map.of(P0, w.committed.get(P0).offset(), P1, w.committed.get(P1).offset());
            List<String> rest = w.served.stream().filter(r -> r.offset() >= from.get(new TopicPartition(TOPIC,
                    r.partition()))).map(Rec::full).collect(Collectors.toList());
            List<Rec> resumed = new ArrayList<>();
            try (KafkaConsumer<byte[], byte[]> cons = consumer(c, GROUP)) {
                cons.subscribe(List.of(TOPIC));
                try {
                    Env.waitUntil("group " + GROUP + " to resume on " + name + " and read " + rest.size()
                            + " records", Duration.ofSeconds(60), () -> {
                                cons.poll(Duration.ofMillis(200)).forEach(r -> resumed.add(Rec.of(r)));
                                return resumed.size() >= rest.size();
                            }, null);
                } catch (AssertionError e) {
                    problems.add("group " + GROUP + " on " + name + ": " + e.getMessage() + " (read "
                            + resumed.size() + ")");
                }
                // nothing more arrives
                cons.poll(Duration.ofMillis(300)).forEach(r -> resumed.add(Rec.of(r)));
                compareRecords("group " + GROUP + " resuming on " + name + " from " + from,
                        rest, sortedByPartitionAndOffset(resumed).stream().map(Rec::full).collect(Collectors.toList()),
                        problems);
                cons.commitSync(Duration.ofSeconds(GET_S));
            }
            Map<TopicPartition, OffsetAndMetadata> after = admin.listConsumerGroupOffsets(GROUP)
                    .partitionsToOffsetAndMetadata().get(GET_S, TimeUnit.SECONDS);
            Map<TopicPartition, Long> afterOffsets = new TreeMap<>((a, b) -> a.toString().compareTo(b.toString()));
            after.forEach((tp, o) -> afterOffsets.put(tp, o.offset()));
            Map<TopicPartition, Long> wantAfter = new TreeMap<>((a, b) -> a.toString().compareTo(b.toString()));
            wantAfter.putAll(w.end);
            if (!afterOffsets.equals(wantAfter)) {
                problems.add("group " + GROUP + " committed on " + name + " at the log end " + w.end + ", which lists "
                        + after);
            }

            // more records on top, at the next offsets
            List<Rec> more = sortedByPartitionAndOffset(produce(c, "second", new String[] {"lz4", "zstd", "none"}, 10,
                    BASE_TS + 300_000, 7));
            Map<TopicPartition, Long> next = new LinkedHashMap<>(w.end);
            for (Rec r : more) {
                TopicPartition tp = new TopicPartition(TOPIC, r.partition());
                long want = next.get(tp);
                if (r.offset() != want) {
                    problems.add(name + " appended " + r.core() + " at offset " + r.offset() + ", expected " + want);
                }
                next.put(tp, r.offset() + 1);
            }
            List<Rec> moreRead = readRange(c, w.end, next);
            compareRecords(name + " serving the records produced to it after the takeover",
                    more.stream().map(Rec::core).collect(Collectors.toList()),
                    moreRead.stream().map(Rec::core).collect(Collectors.toList()), problems);
            System.out.println("===== " + name + " (the reader): offsets " + offsets + ", group " + state
                    + ", committed " + byName(listed) + "; after producing more: " + listOffsets(admin));
        }
    }

    // ------------------------------------------------------------------------------- (c) kafka-dump-log checks

    static final String DUMP_LOG = "kafka.tools.DumpLogSegments";

    static List<Path> files(Path dir, String partitionDir, String... suffixes) throws IOException {
        Path d = dir.resolve(partitionDir);
        if (!Files.isDirectory(d)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(d)) {
            return s.filter(p -> {
                for (String x : suffixes) {
                    if (p.getFileName().toString().endsWith(x)) {
                        return true;
                    }
                }
                return false;
            }).sorted().collect(Collectors.toList());
        }
    }

    static String joined(List<Path> l) {
        return l.stream().map(Path::toString).collect(Collectors.joining(","));
    }

    void dumpLogChecks(Path dir, String writerName, Written w, List<String> problems) throws Exception {
        List<String> partDirs = List.of(TOPIC + "-0", TOPIC + "-1", TOPIC_Y + "-0", "__consumer_offsets-0");
        List<Path> indexes = new ArrayList<>();
        List<Path> everything = new ArrayList<>();
        for (String pd : partDirs) {
            if (!Files.isDirectory(dir.resolve(pd))) {
                problems.add(writerName + " left no " + pd + " in its log dir: " + listDir(dir));
                continue;
            }
            indexes.addAll(files(dir, pd, ".index", ".timeindex"));
            everything.addAll(files(dir, pd, ".log", ".index", ".timeindex", ".snapshot"));
        }
        List<Path> offsetsLogs = files(dir, "__consumer_offsets-0", ".log");
        String who = "kafka-dump-log on " + writerName + "'s ";
        var sanity = CompletableFuture.supplyAsync(() -> KafkaTool.run(TOOL_DEADLINE, "", DUMP_LOG,
                List.of("--index-sanity-check", "--deep-iteration", "--files", joined(everything))), pool);
        var verify = CompletableFuture.supplyAsync(() -> KafkaTool.run(TOOL_DEADLINE, "", DUMP_LOG,
                List.of("--verify-index-only", "--files", joined(indexes))), pool);
        var offsets = CompletableFuture.supplyAsync(() -> KafkaTool.run(TOOL_DEADLINE, "", DUMP_LOG,
                List.of("--offsets-decoder", "--files", joined(offsetsLogs))), pool);

        KafkaTool.Result s = sanity.join();
        System.out.println("===== " + who + "segments, --index-sanity-check --deep-iteration: exit " + s.exit()
                + "\n" + s.stdout() + s.stderr());
        toolProblems(who + "segments (--index-sanity-check --deep-iteration)", s, problems);
        // an index without entries is reported as empty instead (Apache Kafka leaves such files too)
        long passed = s.stdout().lines().filter(l -> l.endsWith(" passed sanity check.") || l.endsWith(" is empty."))
                .count();
        if (passed != indexes.size()) {
            problems.add(who + "indexes: " + passed + " of " + indexes.size() + " passed the sanity check");
        }
        for (Path log : everything) {
            if (log.toString().endsWith(".log") && !s.stdout().contains("Dumping " + log)) {
                problems.add(who + log + ": not dumped");
            }
        }
        Pattern bad = Pattern.compile("(?i)isvalid: false|invalid bytes|Non-consecutive offsets|Ignoring unknown file"
                + "|exception|error");
        s.stdout().lines().filter(l -> bad.matcher(l).find()).forEach(l -> problems.add(who + "segments: " + l));

        KafkaTool.Result v = verify.join();
        System.out.println("===== " + who + "indexes, --verify-index-only: exit " + v.exit() + "\n" + v.stdout()
                + v.stderr());
        toolProblems(who + "indexes (--verify-index-only)", v, problems);
        Pattern mismatch = Pattern.compile("(?i)mismatch|out of order|not found in the log|exception|error");
        v.stdout().lines().filter(l -> mismatch.matcher(l).find()).forEach(l -> problems.add(who + "indexes: " + l));

        KafkaTool.Result o = offsets.join();
        System.out.println("===== " + who + "__consumer_offsets, --offsets-decoder: exit " + o.exit() + "\n"
                + o.stdout() + o.stderr());
        toolProblems(who + "__consumer_offsets (--offsets-decoder)", o, problems);
        for (TopicPartition tp : PARTS) {
            String key = "\"group\":\"" + GROUP + "\",\"topic\":\"" + TOPIC + "\",\"partition\":" + tp.partition();
            String offset = "\"offset\":" + w.committed.get(tp).offset() + ",";
            if (o.stdout().lines().noneMatch(l -> l.contains(key) && l.contains(offset))) {
                problems.add(who + "__consumer_offsets: no offset commit " + key + " with " + offset);
            }
        }
        if (!o.stdout().contains("\"group\":\"" + GROUP + "\"}")
                || o.stdout().lines().noneMatch(l -> l.contains("\"protocolType\":\"consumer\""))) {
            problems.add(who + "__consumer_offsets: no group metadata record of group " + GROUP);
        }
        o.stdout().lines().filter(l -> l.toLowerCase().contains("unknown") || l.toLowerCase().contains("exception")
                || l.contains("Failed")).forEach(l -> problems.add(who + "__consumer_offsets: " + l));
    }

    static void toolProblems(String what, KafkaTool.Result r, List<String> problems) {
        if (r.timedOut()) {
            problems.add(what + ": killed after " + TOOL_DEADLINE.toSeconds() + "s");
        } else if (r.exit() != 0) {
            problems.add(what + ": exit status " + r.exit() + "\n" + r.stderr());
        }
        if (!r.stderr().isBlank()) {
            problems.add(what + ": stderr:\n" + r.stderr());
        }
    }

    // ------------------------------------------------------------------------------- the reader's log

    /**
     * WARN lines every start of the broker logs whatever the log dir holds: Apache Kafka's controller connecting
     * to its own broker before the listener is up (its first start on an empty dir logs them too), and kafkad's
     * note about a server property of the shared configuration it does not know.
     */
    static final Pattern BENIGN_WARN = Pattern.compile("WARN \\[Controller id=1, targetBrokerId=1\\] Connection to node 1 "
            + "\\(/127\\.0\\.0\\.1:\\d+\\) could not be established\\. Node may not be available\\. "
            + "\\(org\\.apache\\.kafka\\.clients\\.NetworkClient\\)$"
            + "|WARN \\[RequestSendThread controllerId=1\\] Controller 1's connection to broker 127\\.0\\.0\\.1:\\d+ "
            + "\\(id: 1 rack: null\\) was unsuccessful \\(kafka\\.controller\\.RequestSendThread\\)$"
            + "|WARN kafkad: unknown config key ignored key=background\\.threads$");

    static final Pattern APACHE_WARN = Pattern.compile("^\\[[^\\]]*\\] (WARN|ERROR) ");
    static final Pattern KAFKAD_WARN = Pattern.compile("^\\S+\\s+(WARN|ERROR) ");

    static List<String> warnAndErrorLines(Path log) {
        try {
            return Files.readAllLines(log, StandardCharsets.UTF_8).stream()
                    .map(l -> l.replaceAll("\u001b\\[[0-9;]*m", ""))
                    .filter(l -> APACHE_WARN.matcher(l).find() || KAFKAD_WARN.matcher(l).find())
                    .collect(Collectors.toList());
        } catch (IOException e) {
            return List.of("(cannot read " + log + ": " + e + ")");
        }
    }

    /**
     * The reader loaded the writer's logs as a clean shutdown's (Apache Kafka logs it), and logged no WARN or ERROR
     * line.
     */
    void readerLogChecks(KafkaCluster reader, String name, boolean apacheReads, List<String> problems) {
        List<String> lines;
        try {
            lines = Files.readAllLines(reader.log(1), StandardCharsets.UTF_8);
        } catch (IOException e) {
            problems.add("cannot read " + name + "'s log: " + e);
            return;
        }
        if (apacheReads) {
            List<String> loading = lines.stream().filter(l -> l.contains("clean shutdown file"))
                    .collect(Collectors.toList());
            System.out.println("===== Apache Kafka loading the log dir:\n" + String.join("\n", loading));
            if (loading.stream().noneMatch(l -> l.contains("since clean shutdown file was found"))) {
                problems.add("Apache Kafka did not find a clean shutdown of kafkad's log dir: "
                        + (loading.isEmpty() ? "(no line about it)" : String.join("\n", loading)));
            }
        }
        List<String> warns = warnAndErrorLines(reader.log(1));
        System.out.println("===== " + name + " (the reader): WARN and ERROR lines:\n" + String.join("\n", warns));
        for (String l : warns) {
            if (!BENIGN_WARN.matcher(l).find()) {
                problems.add(name + " (the reader) logged: " + l);
            }
        }
    }
}
