package io.kzd.it.clients4;

import java.io.PrintStream;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.security.CodeSource;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.ListOffsetsResult.ListOffsetsResultInfo;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * A client-generation probe: Admin, an idempotent KafkaProducer (every compression codec), a KafkaConsumer in a
 * group and a two-member cooperative-sticky group, through API that kafka-clients 3.9 and 4.x both have. It is
 * compiled with the test classes against 3.9 but run by {@code KafkaClients4Test} in a JVM of its own whose
 * classpath is the test classes and kafka-clients 4.x with its runtime dependencies only, so it must not touch
 * anything else of the test classpath (JUnit, the support classes). It prints the client version and the jar it
 * came from, then one line per check, {@code OK <check>} or {@code FAIL <check>: <exception>} (stack traces to
 * stderr), and exits 1 if any check failed. The lines name no broker-specific value, so the output against
 * Apache Kafka and against kafkad can be compared as a whole.
 *
 * <p>Usage: {@code Clients4Probe <bootstrap> <brokers> <replication factor>}
 */
public final class Clients4Probe {
    static final Duration DEADLINE = Duration.ofSeconds(60);
    static final long GET_S = 30;

    static final String CODECS_TOPIC = "probe-codecs";
    static final String COOP_TOPIC = "probe-coop";
    static final List<String> CODECS = List.of("none", "gzip", "snappy", "lz4", "zstd");
    static final int PER_CODEC = 10;
    static final int COOP_PARTITIONS = 4;
    static final String GROUP = "probe-group";
    static final String COOP_GROUP = "probe-coop-group";
    static final String COOPERATIVE_STICKY = "org.apache.kafka.clients.consumer.CooperativeStickyAssignor";

    final String bootstrap;
    final int brokers;
    final short rf;
    final PrintStream out = System.out;
    int failures;

    Admin admin;
    /** The create-time of the codecs topic's record at offset 0; record i has base + i seconds. */
    final long base = (System.currentTimeMillis() / 1000 - 3600) * 1000;
    final TopicPartition codecsTp = new TopicPartition(CODECS_TOPIC, 0);
    KafkaConsumer<String, String> groupConsumer;

    Clients4Probe(String bootstrap, int brokers, short rf) {
        this.bootstrap = bootstrap;
        this.brokers = brokers;
        this.rf = rf;
    }

    public static void main(String[] args) {
        if (args.length != 3) {
            System.err.println("usage: Clients4Probe <bootstrap> <brokers> <replication factor>");
            System.exit(2);
        }
        Clients4Probe p = new Clients4Probe(args[0], Integer.parseInt(args[1]), Short.parseShort(args[2]));
        int failures;
        try {
            failures = p.run();
        } catch (Throwable t) {
            t.printStackTrace();
            failures = 1;
        }
        System.out.flush();
        System.exit(failures == 0 ? 0 : 1);
    }

    interface Check {
        void run() throws Exception;
    }

    void check(String name, Check c) {
        try {
            c.run();
            out.println("OK " + name);
        } catch (Throwable t) {
            failures++;
            Throwable shown = t;
            while (shown instanceof ExecutionException && shown.getCause() != null) {
                shown = shown.getCause();
            }
            out.println("FAIL " + name + ": " + shown);
            System.err.println("FAIL " + name + ":");
            t.printStackTrace();
        }
        out.flush();
    }

    static void expect(boolean ok, String what) {
        if (!ok) {
            throw new IllegalStateException("expected " + what);
        }
    }

    static <T> void expectEq(T expected, T actual, String what) {
        if (expected == null ? actual != null : !expected.equals(actual)) {
            throw new IllegalStateException(what + ": expected " + expected + " but was " + actual);
        }
    }

    /** Poll {@code cond} every 50 ms until it holds; fail after {@link #DEADLINE} with {@code what}. */
    static void waitUntil(String what, Check cond) throws Exception {
        waitUntil(what, DEADLINE, cond);
    }

    static void waitUntil(String what, Duration timeout, Check cond) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        Throwable last = null;
        while (true) {
            try {
                cond.run();
                return;
            } catch (Exception | AssertionError e) {
                last = e;
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("timed out waiting for " + what + ": " + last, last);
            }
            Thread.sleep(50);
        }
    }

    /** The version AppInfoParser reports (org.apache.kafka.common.utils in 3.x, ...utils.internals in newer 4.x). */
    static String[] clientVersion() throws Exception {
        for (String cls : List.of("org.apache.kafka.common.utils.AppInfoParser",
                "org.apache.kafka.common.utils.internals.AppInfoParser")) {
            Class<?> c;
            try {
                c = Class.forName(cls);
            } catch (ClassNotFoundException e) {
                continue;
            }
            Method m = c.getMethod("getVersion");
            CodeSource src = c.getProtectionDomain().getCodeSource();
            return new String[] {(String) m.invoke(null), cls, src == null ? "?" : src.getLocation().toString()};
        }
        throw new IllegalStateException("no AppInfoParser on the classpath");
    }

    int run() throws Exception {
        String[] v = clientVersion();
        String jar = v[2].substring(v[2].lastIndexOf('/') + 1);
        out.println("CLIENT-VERSION " + v[0]);
        out.println("CLIENT-JAR " + jar);
        System.err.println("AppInfoParser " + v[1] + " from " + v[2]);
        try {
            admin = admin();
            check("describe-cluster", this::describeCluster);
            check("create-topics", this::createTopics);
            check("describe-topics", this::describeTopics);
            for (int i = 0; i < CODECS.size(); i++) {
                int n = i;
                check("produce idempotent acks=all compression=" + CODECS.get(i), () -> produce(n));
            }
            check("list-offsets earliest/latest/timestamp/max-timestamp", this::listOffsets);
            check("consumer group subscribe/poll every codec", this::subscribeAndPoll);
            check("describe-consumer-groups one member", this::describeOneMember);
            check("consumer commitSync/committed", this::commitSync);
            check("consumer seek", this::seek);
            check("consumer offsetsForTimes", this::offsetsForTimes);
            check("consumer resumes from committed offset", this::resumeFromCommitted);
            check("describe-consumer-groups empty", this::describeEmpty);
            cooperative();
            check("delete-topics", this::deleteTopics);
            check("delete-topics drops the groups' committed offsets of the deleted topics",
                    this::deletedTopicsOffsetsGone);
        } finally {
            if (groupConsumer != null) {
                groupConsumer.close(Duration.ofSeconds(5));
            }
            if (admin != null) {
                admin.close(Duration.ofSeconds(5));
            }
        }
        out.println(failures == 0 ? "PASSED" : "FAILED " + failures);
        return failures;
    }

    Admin admin() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 10000);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30000);
        return Admin.create(p);
    }

    KafkaProducer<String, String> producer(String compression) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, compression);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 20);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30000);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10000);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        return new KafkaProducer<>(p);
    }

    KafkaConsumer<String, String> consumer(String group, String assignor) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 100);
        p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 10000);
        p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 500);
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10000);
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30000);
        if (assignor != null) {
            p.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, assignor);
        }
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        return new KafkaConsumer<>(p);
    }

    static String value(int offset) {
        String codec = offset < CODECS.size() * PER_CODEC ? CODECS.get(offset / PER_CODEC) : "none";
        // compressible, so every codec really shrinks the batch
        return "v" + offset + "-" + codec + "-" + "abcdefgh".repeat(32);
    }

    long timestamp(int offset) {
        return base + offset * 1000L;
    }

    // ---- Admin

    void describeCluster() throws Exception {
        Collection<Node> nodes = admin.describeCluster().nodes().get(GET_S, TimeUnit.SECONDS);
        expectEq(brokers, nodes.size(), "brokers in describeCluster");
        Node controller = admin.describeCluster().controller().get(GET_S, TimeUnit.SECONDS);
        expect(controller != null && !controller.isEmpty(), "a controller, got " + controller);
    }

    void createTopics() throws Exception {
        admin.createTopics(List.of(new NewTopic(CODECS_TOPIC, 1, rf), new NewTopic(COOP_TOPIC, COOP_PARTITIONS, rf)))
                .all().get(GET_S, TimeUnit.SECONDS);
        for (String t : List.of(CODECS_TOPIC, COOP_TOPIC)) {
            waitUntil(t + " to have a leader and " + rf + " in-sync replicas for every partition", () -> {
                TopicDescription d = admin.describeTopics(List.of(t)).allTopicNames().get(GET_S, TimeUnit.SECONDS)
                        .get(t);
                for (TopicPartitionInfo p : d.partitions()) {
                    expect(p.leader() != null && !p.leader().isEmpty() && p.isr().size() == rf,
                            "leader and isr in " + p);
                }
            });
        }
    }

    void describeTopics() throws Exception {
        Map<String, TopicDescription> all = admin.describeTopics(List.of(CODECS_TOPIC, COOP_TOPIC)).allTopicNames()
                .get(GET_S, TimeUnit.SECONDS);
        expectEq(Set.of(CODECS_TOPIC, COOP_TOPIC), all.keySet(), "described topics");
        Map<String, Integer> partitions = Map.of(CODECS_TOPIC, 1, COOP_TOPIC, COOP_PARTITIONS);
        for (TopicDescription d : all.values()) {
            expect(!d.isInternal(), d.name() + " not internal");
            expect(d.topicId() != null && !Uuid.ZERO_UUID.equals(d.topicId()), d.name() + " to have a topic id");
            expectEq(partitions.get(d.name()), d.partitions().size(), d.name() + " partitions");
            for (int i = 0; i < d.partitions().size(); i++) {
                TopicPartitionInfo p = d.partitions().get(i);
                expectEq(i, p.partition(), d.name() + " partition order");
                expectEq((int) rf, p.replicas().size(), d.name() + "-" + i + " replicas");
                expect(p.replicas().contains(p.leader()), d.name() + "-" + i + " leader among the replicas");
            }
        }
        Map<String, TopicDescription> again = admin.describeTopics(List.of(CODECS_TOPIC)).allTopicNames()
                .get(GET_S, TimeUnit.SECONDS);
        expectEq(all.get(CODECS_TOPIC).topicId(), again.get(CODECS_TOPIC).topicId(), "topic id, described twice");
    }

    // ---- KafkaProducer: idempotent, acks=all, one codec each

    void produce(int codec) throws Exception {
        try (KafkaProducer<String, String> producer = producer(CODECS.get(codec))) {
            List<Future<RecordMetadata>> sent = new ArrayList<>();
            for (int j = 0; j < PER_CODEC; j++) {
                int offset = codec * PER_CODEC + j;
                ProducerRecord<String, String> r = new ProducerRecord<>(CODECS_TOPIC, 0, timestamp(offset),
                        "k" + offset, value(offset));
                r.headers().add("codec", CODECS.get(codec).getBytes(StandardCharsets.UTF_8));
                sent.add(producer.send(r));
            }
            producer.flush();
            for (int j = 0; j < PER_CODEC; j++) {
                RecordMetadata m = sent.get(j).get(GET_S, TimeUnit.SECONDS);
                int offset = codec * PER_CODEC + j;
                expectEq(0, m.partition(), "partition");
                expectEq((long) offset, m.offset(), "offset of record " + j);
                expectEq(timestamp(offset), m.timestamp(), "timestamp of record " + j);
            }
        }
    }

    // ---- Admin listOffsets

    void listOffsets() throws Exception {
        long total = CODECS.size() * PER_CODEC;
        Map<String, OffsetSpec> specs = new java.util.LinkedHashMap<>();
        specs.put("earliest", OffsetSpec.earliest());
        specs.put("latest", OffsetSpec.latest());
        specs.put("timestamp", OffsetSpec.forTimestamp(timestamp(25) - 500));
        specs.put("max-timestamp", OffsetSpec.maxTimestamp());
        specs.put("after-last", OffsetSpec.forTimestamp(timestamp((int) total) + 60_000));
        List<String> got = new ArrayList<>();
        for (Map.Entry<String, OffsetSpec> e : specs.entrySet()) {
            ListOffsetsResultInfo info = admin.listOffsets(Map.of(codecsTp, e.getValue())).all()
                    .get(GET_S, TimeUnit.SECONDS).get(codecsTp);
            got.add(e.getKey() + "=" + info.offset()
                    + (e.getKey().contains("timestamp") ? "@" + (info.timestamp() - base) : ""));
        }
        expectEq(List.of("earliest=0", "latest=" + total, "timestamp=25@25000",
                "max-timestamp=" + (total - 1) + "@" + (total - 1) * 1000, "after-last=-1"), got, "listOffsets");
    }

    // ---- KafkaConsumer in a group

    List<ConsumerRecord<String, String>> pollRecords(KafkaConsumer<String, String> c, int n) throws Exception {
        List<ConsumerRecord<String, String>> got = new ArrayList<>();
        long deadline = System.nanoTime() + DEADLINE.toNanos();
        while (got.size() < n) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("timed out polling " + n + " records, got " + got.size()
                        + " (assignment " + c.assignment() + ")");
            }
            for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                got.add(r);
            }
        }
        return got;
    }

    void expectRecord(ConsumerRecord<String, String> r, long offset) {
        int o = (int) offset;
        expectEq(offset, r.offset(), "offset");
        expectEq("k" + o, r.key(), "key at " + o);
        expectEq(value(o), r.value(), "value at " + o);
        expectEq(timestamp(o), r.timestamp(), "timestamp at " + o);
        Header h = r.headers().lastHeader("codec");
        String codec = o < CODECS.size() * PER_CODEC ? CODECS.get(o / PER_CODEC) : "none";
        expect(h != null && codec.equals(new String(h.value(), StandardCharsets.UTF_8)), "header codec=" + codec
                + " at " + o);
    }

    void subscribeAndPoll() throws Exception {
        groupConsumer = consumer(GROUP, null);
        groupConsumer.subscribe(List.of(CODECS_TOPIC));
        int total = CODECS.size() * PER_CODEC;
        List<ConsumerRecord<String, String>> got = pollRecords(groupConsumer, total);
        expectEq(total, got.size(), "records");
        for (int i = 0; i < total; i++) {
            expectRecord(got.get(i), i);
        }
        expectEq(Set.of(codecsTp), groupConsumer.assignment(), "assignment");
    }

    static ConsumerGroupDescription describeGroup(Admin admin, String group) throws Exception {
        return admin.describeConsumerGroups(List.of(group)).all().get(GET_S, TimeUnit.SECONDS).get(group);
    }

    void describeOneMember() throws Exception {
        waitUntil(GROUP + " to be Stable with one member", () -> {
            ConsumerGroupDescription d = describeGroup(admin, GROUP);
            expectEq("Stable", d.state().toString(), "state");
            expectEq(1, d.members().size(), "members");
        });
        ConsumerGroupDescription d = describeGroup(admin, GROUP);
        expectEq(GROUP, d.groupId(), "group id");
        expect(!d.isSimpleConsumerGroup(), "not a simple group");
        expectEq("range", d.partitionAssignor(), "assignor");
        expect(d.coordinator() != null && !d.coordinator().isEmpty(), "a coordinator");
        MemberDescription m = d.members().iterator().next();
        expectEq(Set.of(codecsTp), m.assignment().topicPartitions(), "member assignment");
        expect(m.consumerId() != null && !m.consumerId().isEmpty(), "a member id");
    }

    void commitSync() throws Exception {
        long total = CODECS.size() * PER_CODEC;
        groupConsumer.commitSync(Map.of(codecsTp, new OffsetAndMetadata(total, "probe")));
        OffsetAndMetadata c = groupConsumer.committed(Set.of(codecsTp)).get(codecsTp);
        expect(c != null, "a committed offset");
        expectEq(total, c.offset(), "committed offset");
        expectEq("probe", c.metadata(), "committed metadata");
        expectEq(total, groupConsumer.position(codecsTp), "position");
        OffsetAndMetadata viaAdmin = admin.listConsumerGroupOffsets(GROUP).partitionsToOffsetAndMetadata()
                .get(GET_S, TimeUnit.SECONDS).get(codecsTp);
        expectEq(total, viaAdmin == null ? null : viaAdmin.offset(), "committed offset via Admin");
    }

    void seek() throws Exception {
        groupConsumer.seek(codecsTp, 20);
        expectEq(20L, groupConsumer.position(codecsTp), "position after seek");
        List<ConsumerRecord<String, String>> got = pollRecords(groupConsumer, 1);
        expectRecord(got.get(0), 20);
        groupConsumer.seek(codecsTp, 47);
        got = pollRecords(groupConsumer, 3);
        for (int i = 0; i < 3; i++) {
            expectRecord(got.get(i), 47 + i);
        }
    }

    void offsetsForTimes() throws Exception {
        Map<TopicPartition, OffsetAndTimestamp> at = groupConsumer.offsetsForTimes(Map.of(codecsTp,
                timestamp(25) - 500));
        OffsetAndTimestamp t = at.get(codecsTp);
        expect(t != null, "an offset for the timestamp of record 25");
        expectEq(25L, t.offset(), "offset for timestamp");
        expectEq(timestamp(25), t.timestamp(), "timestamp found");
        at = groupConsumer.offsetsForTimes(Map.of(codecsTp, base - 10_000));
        expectEq(0L, at.get(codecsTp) == null ? null : at.get(codecsTp).offset(), "offset for an early timestamp");
        at = groupConsumer.offsetsForTimes(Map.of(codecsTp, timestamp(CODECS.size() * PER_CODEC) + 60_000));
        expect(at.containsKey(codecsTp) && at.get(codecsTp) == null, "null for a timestamp after the last record, "
                + "got " + at);
    }

    void resumeFromCommitted() throws Exception {
        groupConsumer.close(Duration.ofSeconds(10));
        groupConsumer = null;
        int total = CODECS.size() * PER_CODEC;
        try (KafkaProducer<String, String> producer = producer("none")) {
            for (int i = total; i < total + 5; i++) {
                ProducerRecord<String, String> r = new ProducerRecord<>(CODECS_TOPIC, 0, timestamp(i), "k" + i,
                        value(i));
                r.headers().add("codec", "none".getBytes(StandardCharsets.UTF_8));
                RecordMetadata m = producer.send(r).get(GET_S, TimeUnit.SECONDS);
                expectEq((long) i, m.offset(), "offset of an appended record");
            }
        }
        try (KafkaConsumer<String, String> c = consumer(GROUP, null)) {
            c.subscribe(List.of(CODECS_TOPIC));
            List<ConsumerRecord<String, String>> got = pollRecords(c, 5);
            expectEq(5, got.size(), "records after the committed offset");
            for (int i = 0; i < 5; i++) {
                expectRecord(got.get(i), total + i);
            }
            c.commitSync();
            expectEq((long) total + 5, c.committed(Set.of(codecsTp)).get(codecsTp).offset(), "committed offset");
        }
    }

    void describeEmpty() throws Exception {
        waitUntil(GROUP + " to be Empty", () -> {
            ConsumerGroupDescription d = describeGroup(admin, GROUP);
            expectEq("Empty", d.state().toString(), "state");
            expectEq(0, d.members().size(), "members");
        });
    }

    // ---- a cooperative-sticky group of two members

    /** Every partition set handed to a rebalance listener, in order. */
    static final class Events implements ConsumerRebalanceListener {
        final List<String> log = new ArrayList<>();
        final Set<TopicPartition> revoked = new HashSet<>();
        final Set<TopicPartition> lost = new HashSet<>();

        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            log.add("revoked " + names(partitions));
            revoked.addAll(partitions);
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            log.add("assigned " + names(partitions));
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> partitions) {
            log.add("lost " + names(partitions));
            lost.addAll(partitions);
        }
    }

    static Set<Integer> names(Collection<TopicPartition> tps) {
        return tps.stream().map(TopicPartition::partition).collect(Collectors.toCollection(TreeSet::new));
    }

    void cooperative() {
        KafkaConsumer<String, String>[] members = newMembers();
        Events a = new Events();
        Events b = new Events();
        Set<TopicPartition> all = new HashSet<>();
        for (int i = 0; i < COOP_PARTITIONS; i++) {
            all.add(new TopicPartition(COOP_TOPIC, i));
        }
        try {
            check("cooperative-sticky first member gets every partition", () -> {
                members[0] = consumer(COOP_GROUP, COOPERATIVE_STICKY);
                members[0].subscribe(List.of(COOP_TOPIC), a);
                pollUntil("the first member to own every partition", () -> members[0].assignment().equals(all),
                        members[0]);
                expect(a.revoked.isEmpty(), "no revocation, got " + a.log);
            });
            check("cooperative-sticky second member joins: incremental rebalance 2+2", () -> {
                a.log.clear();
                members[1] = consumer(COOP_GROUP, COOPERATIVE_STICKY);
                members[1].subscribe(List.of(COOP_TOPIC), b);
                pollUntil("two members owning two partitions each", () -> {
                    Set<TopicPartition> pa = members[0].assignment();
                    Set<TopicPartition> pb = members[1].assignment();
                    Set<TopicPartition> union = new HashSet<>(pa);
                    union.addAll(pb);
                    return pa.size() == 2 && pb.size() == 2 && union.equals(all);
                }, members[0], members[1]);
                // cooperative: the first member gives up only what moves, never the partitions it keeps
                expectEq(2, a.revoked.size(), "partitions the first member revoked (" + a.log + ")");
                expect(members[1].assignment().containsAll(a.revoked), "revoked partitions moved to the second member"
                        + " (" + a.log + ", " + b.log + ")");
                expect(a.lost.isEmpty() && b.lost.isEmpty() && b.revoked.isEmpty(), "no partitions lost or revoked "
                        + "from the second member (" + a.log + ", " + b.log + ")");
            });
            check("cooperative-sticky describe-consumer-groups two members", () -> {
                waitUntil(COOP_GROUP + " to be Stable with two members", () -> {
                    ConsumerGroupDescription d = describeGroup(admin, COOP_GROUP);
                    expectEq("Stable", d.state().toString(), "state");
                    expectEq(2, d.members().size(), "members");
                });
                ConsumerGroupDescription d = describeGroup(admin, COOP_GROUP);
                expectEq("cooperative-sticky", d.partitionAssignor(), "assignor");
                Set<TopicPartition> described = new HashSet<>();
                for (MemberDescription m : d.members()) {
                    expectEq(2, m.assignment().topicPartitions().size(), "partitions of member " + m.consumerId());
                    described.addAll(m.assignment().topicPartitions());
                }
                expectEq(all, described, "described assignment");
            });
            check("cooperative-sticky second member leaves: first member takes every partition back", () -> {
                a.log.clear();
                a.revoked.clear();
                members[1].close(Duration.ofSeconds(10));
                members[1] = null;
                pollUntil("the remaining member to own every partition", () -> members[0].assignment().equals(all),
                        members[0]);
                expect(a.revoked.isEmpty() && a.lost.isEmpty(), "nothing revoked from the remaining member, got "
                        + a.log);
                waitUntil(COOP_GROUP + " to be Stable with one member", () -> {
                    ConsumerGroupDescription d = describeGroup(admin, COOP_GROUP);
                    expectEq("Stable", d.state().toString(), "state");
                    expectEq(1, d.members().size(), "members");
                });
            });
        } finally {
            for (KafkaConsumer<String, String> c : members) {
                if (c != null) {
                    c.close(Duration.ofSeconds(5));
                }
            }
        }
    }

    @SuppressWarnings("unchecked")
    static KafkaConsumer<String, String>[] newMembers() {
        return (KafkaConsumer<String, String>[]) new KafkaConsumer<?, ?>[2];
    }

    interface Cond {
        boolean holds();
    }

    /** Poll every consumer in turn (short polls, so a rebalance can complete on all of them) until {@code cond}. */
    @SafeVarargs
    static void pollUntil(String what, Cond cond, KafkaConsumer<String, String>... consumers) {
        long deadline = System.nanoTime() + DEADLINE.toNanos();
        while (true) {
            for (KafkaConsumer<String, String> c : consumers) {
                c.poll(Duration.ofMillis(100));
            }
            if (cond.holds()) {
                return;
            }
            if (System.nanoTime() > deadline) {
                List<String> seen = new ArrayList<>();
                for (KafkaConsumer<String, String> c : consumers) {
                    seen.add(names(c.assignment()).toString());
                }
                throw new IllegalStateException("timed out waiting for " + what + "; assignments " + seen);
            }
        }
    }

    // ---- Admin deleteTopics

    void deleteTopics() throws Exception {
        admin.deleteTopics(List.of(CODECS_TOPIC, COOP_TOPIC)).all().get(GET_S, TimeUnit.SECONDS);
        waitUntil("the deleted topics to leave listTopics", () -> {
            Set<String> names = admin.listTopics().names().get(GET_S, TimeUnit.SECONDS);
            expect(!names.contains(CODECS_TOPIC) && !names.contains(COOP_TOPIC), "no probe topic in " + names);
        });
        try {
            admin.describeTopics(List.of(CODECS_TOPIC)).allTopicNames().get(GET_S, TimeUnit.SECONDS);
            throw new IllegalStateException("describeTopics of a deleted topic succeeded");
        } catch (ExecutionException e) {
            expect(e.getCause() instanceof UnknownTopicOrPartitionException,
                    "UnknownTopicOrPartitionException, got " + e.getCause());
        }
    }

    /**
     * A broker deleting a partition drops every group's committed offset for it (Kafka's
     * GroupCoordinator.onPartitionsDeleted, on the StopReplica that deletes the replica): a topic created again
     * under the same name is then consumed from auto.offset.reset, not from the old topic's offsets.
     * {@link #GROUP} committed on the codecs topic only, so it has no offsets left.
     */
    void deletedTopicsOffsetsGone() throws Exception {
        waitUntil(GROUP + "'s offsets of the deleted topic to go", Duration.ofSeconds(15), () -> {
            Map<TopicPartition, OffsetAndMetadata> left = admin.listConsumerGroupOffsets(GROUP)
                    .partitionsToOffsetAndMetadata().get(GET_S, TimeUnit.SECONDS);
            expect(left.isEmpty(), "no committed offsets, got " + left + " (group "
                    + describeGroup(admin, GROUP).state() + ")");
        });
    }
}
