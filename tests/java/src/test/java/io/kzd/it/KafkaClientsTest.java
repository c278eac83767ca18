package io.kzd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.ConsumerGroupState;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicCollection;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.GroupNotEmptyException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicIdException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
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

/** kafka-clients 3.9 (Admin, KafkaProducer, KafkaConsumer) against three kafkad brokers on one zookeeperd. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class KafkaClientsTest {
    static final Duration T = Duration.ofSeconds(60);
    static final long GET_S = 30;

    KafkaCluster cluster;
    Admin admin;

    @RegisterExtension
    final DumpLogsOnFailure dump = new DumpLogsOnFailure(() -> cluster == null ? "" : cluster.logs());

    @BeforeAll
    void startCluster() {
        cluster = KafkaCluster.startReplicated();
        admin = cluster.admin();
    }

    @AfterAll
    void stopCluster() {
        if (admin != null) {
            admin.close(Duration.ofSeconds(5));
        }
        if (cluster != null) {
            cluster.close();
        }
    }

    KafkaProducer<String, String> producer(Map<String, Object> extra) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, cluster.bootstrap());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        p.putAll(extra);
        return new KafkaProducer<>(p);
    }

    KafkaConsumer<String, String> consumer(String group) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, cluster.bootstrap());
        if (group != null) {
            p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        }
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 100);
        p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 10000);
        p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 1000);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
        return new KafkaConsumer<>(p);
    }

    void createTopic(String name, int partitions, Map<String, String> configs) throws Exception {
        admin.createTopics(List.of(new NewTopic(name, partitions, (short) 3).configs(configs))).all()
                .get(GET_S, TimeUnit.SECONDS);
        cluster.waitForIsr(admin, name, 3);
    }

    static String configValue(Admin admin, ConfigResource r, String key) throws Exception {
        Config c = admin.describeConfigs(List.of(r)).all().get(GET_S, TimeUnit.SECONDS).get(r);
        ConfigEntry e = c.get(key);
        return e == null ? null : e.value() + " (" + e.source() + ")";
    }

    @Test
    @Order(1)
    @SuppressWarnings("deprecation")
    void adminManagesReplicatedTopicsAndConfigs() throws Exception {
        DescribeClusterResult dc = admin.describeCluster();
        Collection<Node> nodes = dc.nodes().get(GET_S, TimeUnit.SECONDS);
        assertEquals(Set.of(1, 2, 3), nodes.stream().map(Node::id).collect(Collectors.toSet()));
        for (Node n : nodes) {
            assertEquals("127.0.0.1", n.host());
            assertEquals(cluster.port(n.id()), n.port(), "node " + n);
        }
        Node controller = dc.controller().get(GET_S, TimeUnit.SECONDS);
        assertNotNull(controller);
        assertTrue(Set.of(1, 2, 3).contains(controller.id()), "controller " + controller);
        String clusterId = dc.clusterId().get(GET_S, TimeUnit.SECONDS);
        assertNotNull(clusterId);
        assertFalse(clusterId.isEmpty());

        createTopic("admin-t", 3, Map.of("retention.ms", "86400000"));
        TopicDescription d = admin.describeTopics(List.of("admin-t")).allTopicNames().get(GET_S, TimeUnit.SECONDS)
                .get("admin-t");
        assertFalse(d.isInternal());
        assertNotNull(d.topicId());
        assertEquals(3, d.partitions().size());
        for (TopicPartitionInfo p : d.partitions()) {
            assertEquals(Set.of(1, 2, 3), p.replicas().stream().map(Node::id).collect(Collectors.toSet()), p.toString());
            assertEquals(Set.of(1, 2, 3), p.isr().stream().map(Node::id).collect(Collectors.toSet()), p.toString());
            assertTrue(p.replicas().contains(p.leader()), p.toString());
        }
        ExecutionException dup = assertThrows(ExecutionException.class, () -> admin.createTopics(
                List.of(new NewTopic("admin-t", 3, (short) 3))).all().get(GET_S, TimeUnit.SECONDS));
        assertInstanceOf(TopicExistsException.class, dup.getCause());

        Set<String> names = admin.listTopics().names().get(GET_S, TimeUnit.SECONDS);
        assertTrue(names.contains("admin-t"), names.toString());

        ConfigResource topic = new ConfigResource(ConfigResource.Type.TOPIC, "admin-t");
        assertEquals("86400000 (DYNAMIC_TOPIC_CONFIG)", configValue(admin, topic, "retention.ms"));
        admin.incrementalAlterConfigs(Map.of(topic, List.of(
                new AlterConfigOp(new ConfigEntry("retention.ms", "3600000"), AlterConfigOp.OpType.SET))))
                .all().get(GET_S, TimeUnit.SECONDS);
        assertEquals("3600000 (DYNAMIC_TOPIC_CONFIG)", configValue(admin, topic, "retention.ms"));
        // the legacy (whole-set) AlterConfigs request
        admin.alterConfigs(Map.of(topic, new Config(List.of(new ConfigEntry("retention.ms", "7200000")))))
                .all().get(GET_S, TimeUnit.SECONDS);
        assertEquals("7200000 (DYNAMIC_TOPIC_CONFIG)", configValue(admin, topic, "retention.ms"));
        admin.incrementalAlterConfigs(Map.of(topic, List.of(
                new AlterConfigOp(new ConfigEntry("retention.ms", ""), AlterConfigOp.OpType.DELETE))))
                .all().get(GET_S, TimeUnit.SECONDS);
        assertEquals("604800000 (DEFAULT_CONFIG)", configValue(admin, topic, "retention.ms"));

        // a broker's configs
        ConfigResource broker = new ConfigResource(ConfigResource.Type.BROKER, "1");
        Config bc = admin.describeConfigs(List.of(broker)).all().get(GET_S, TimeUnit.SECONDS).get(broker);
        assertNotNull(bc.get("log.retention.hours"), "broker 1 describes log.retention.hours");

        // delete a topic
        createTopic("admin-gone", 1, Map.of());
        admin.deleteTopics(List.of("admin-gone")).all().get(GET_S, TimeUnit.SECONDS);
        Env.waitUntil("admin-gone to leave the topic list", T, () -> {
            try {
                return !admin.listTopics().names().get(GET_S, TimeUnit.SECONDS).contains("admin-gone");
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        }, cluster::logs);
    }

    @Test
    @Order(2)
    void describeTopicsByTopicId() throws Exception {
        createTopic("by-id-t", 2, Map.of());
        Uuid id = admin.describeTopics(List.of("by-id-t")).allTopicNames().get(GET_S, TimeUnit.SECONDS)
                .get("by-id-t").topicId();
        assertNotEquals(Uuid.ZERO_UUID, id);
        // Admin sends Metadata v12 with topics=[{topicId=id, name=null}]
        TopicDescription byId = admin.describeTopics(TopicCollection.ofTopicIds(List.of(id))).allTopicIds()
                .get(GET_S, TimeUnit.SECONDS).get(id);
        assertEquals("by-id-t", byId.name());
        assertEquals(id, byId.topicId());
        assertEquals(2, byId.partitions().size());
        // an unknown id is UNKNOWN_TOPIC_ID
        Uuid unknown = Uuid.randomUuid();
        ExecutionException e = assertThrows(ExecutionException.class, () -> admin.describeTopics(
                TopicCollection.ofTopicIds(List.of(unknown))).allTopicIds().get(GET_S, TimeUnit.SECONDS));
        assertInstanceOf(UnknownTopicIdException.class, e.getCause());
    }

    @Test
    @Order(3)
    void adminOffsetsPartitionsRecordsAndGroups() throws Exception {
        String topic = "ops-t";
        createTopic(topic, 2, Map.of());
        TopicPartition p0 = new TopicPartition(topic, 0);
        // ten records on partition 0 with timestamps 1000..10000
        try (KafkaProducer<String, String> p = producer(Map.of())) {
            for (int i = 1; i <= 10; i++) {
                p.send(new ProducerRecord<>(topic, 0, i * 1000L, "k" + i, "v" + i)).get(GET_S, TimeUnit.SECONDS);
            }
        }
        assertEquals(0L, offset(p0, OffsetSpec.earliest()).offset());
        assertEquals(10L, offset(p0, OffsetSpec.latest()).offset());
        ListOffsetsResult.ListOffsetsResultInfo max = offset(p0, OffsetSpec.maxTimestamp());
        assertEquals(9L, max.offset());
        assertEquals(10000L, max.timestamp());
        ListOffsetsResult.ListOffsetsResultInfo at = offset(p0, OffsetSpec.forTimestamp(4500L));
        assertEquals(4L, at.offset());
        assertEquals(5000L, at.timestamp());

        // DeleteRecords moves the log start offset
        assertEquals(3L, admin.deleteRecords(Map.of(p0, RecordsToDelete.beforeOffset(3L))).lowWatermarks().get(p0)
                .get(GET_S, TimeUnit.SECONDS).lowWatermark());
        assertEquals(3L, offset(p0, OffsetSpec.earliest()).offset());

        // CreatePartitions grows the topic; the new partitions get three replicas too. (Metadata
        // reaches the brokers one by one: the one asked next may not know the new ones yet.)
        admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(4))).all().get(GET_S, TimeUnit.SECONDS);
        cluster.waitForIsr(admin, topic, 4, 3);

        // a group's committed offsets, altered and read back, listed, described, deleted
        String group = "ops-g";
        admin.alterConsumerGroupOffsets(group, Map.of(p0, new OffsetAndMetadata(7L, "meta"))).all()
                .get(GET_S, TimeUnit.SECONDS);
        OffsetAndMetadata om = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata()
                .get(GET_S, TimeUnit.SECONDS).get(p0);
        assertEquals(7L, om.offset());
        assertEquals("meta", om.metadata());
        try (KafkaConsumer<String, String> c = consumer(group)) {
            c.subscribe(List.of(topic));
            List<ConsumerRecord<String, String>> got = new ArrayList<>();
            Env.waitUntil("the group member to resume at offset 7", T, () -> {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(100))) {
                    got.add(r);
                }
                return got.size() >= 3;
            }, cluster::logs);
            assertEquals(List.of("v8", "v9", "v10"), got.stream().map(ConsumerRecord::value)
                    .collect(Collectors.toList()));
            ConsumerGroupDescription gd = admin.describeConsumerGroups(List.of(group)).all()
                    .get(GET_S, TimeUnit.SECONDS).get(group);
            assertEquals(ConsumerGroupState.STABLE, gd.state());
            assertEquals(1, gd.members().size());
            assertEquals(Set.of(0, 1, 2, 3), gd.members().iterator().next().assignment().topicPartitions().stream()
                    .map(TopicPartition::partition).collect(Collectors.toSet()));
            assertTrue(admin.listConsumerGroups().all().get(GET_S, TimeUnit.SECONDS).stream()
                    .anyMatch(l -> l.groupId().equals(group)), "listed");
            ExecutionException nonEmpty = assertThrows(ExecutionException.class,
                    () -> admin.deleteConsumerGroups(List.of(group)).all().get(GET_S, TimeUnit.SECONDS));
            assertInstanceOf(GroupNotEmptyException.class, nonEmpty.getCause());
        }
        admin.deleteConsumerGroups(List.of(group)).all().get(GET_S, TimeUnit.SECONDS);
        assertTrue(admin.listConsumerGroups().all().get(GET_S, TimeUnit.SECONDS).stream()
                .noneMatch(l -> l.groupId().equals(group)), "deleted");
    }

    ListOffsetsResult.ListOffsetsResultInfo offset(TopicPartition tp, OffsetSpec spec) throws Exception {
        return admin.listOffsets(Map.of(tp, spec)).partitionResult(tp).get(GET_S, TimeUnit.SECONDS);
    }

    /** Send n records "v<i>" with key "k<i>"; returns each index's (partition, offset) from its ack. */
    static Map<Integer, TopicPartitionOffset> produceAll(KafkaProducer<String, String> p, String topic, int from,
            int to, Map<Integer, TopicPartitionOffset> acked, Map<Integer, Exception> failed) {
        for (int i = from; i < to; i++) {
            int idx = i;
            p.send(new ProducerRecord<>(topic, "k" + i, "v" + i), (md, ex) -> {
                if (ex != null) {
                    failed.put(idx, ex);
                } else {
                    acked.put(idx, new TopicPartitionOffset(md.partition(), md.offset()));
                }
            });
        }
        return acked;
    }

    record TopicPartitionOffset(int partition, long offset) {}

    static int index(ConsumerRecord<String, String> r) {
        assertEquals("k" + r.value().substring(1), r.key());
        return Integer.parseInt(r.value().substring(1));
    }

    @Test
    @Order(4)
    void consumerGroupSplitsCommitsAndResumesWithoutLossOrDuplicates() throws Exception {
        String topic = "group-t";
        String group = "g-resume";
        int partitions = 4;
        int n = 2000;
        createTopic(topic, partitions, Map.of());
        Set<TopicPartition> all = new HashSet<>();
        for (int i = 0; i < partitions; i++) {
            all.add(new TopicPartition(topic, i));
        }

        Map<Integer, Integer> seen = new HashMap<>(); // index -> times seen
        Map<TopicPartition, Long> committedByUs = new HashMap<>();
        try (KafkaConsumer<String, String> c1 = consumer(group); KafkaConsumer<String, String> c2 = consumer(group)) {
            List<KafkaConsumer<String, String>> cs = List.of(c1, c2);
            for (KafkaConsumer<String, String> c : cs) {
                c.subscribe(List.of(topic));
            }
            // 1. Both members get two of the four partitions.
            Env.waitUntil("the group to split " + all + " between two consumers", T, () -> {
                for (KafkaConsumer<String, String> c : cs) {
                    assertTrue(c.poll(Duration.ofMillis(100)).isEmpty(), "nothing produced yet");
                }
                Set<TopicPartition> a1 = c1.assignment();
                Set<TopicPartition> a2 = c2.assignment();
                Set<TopicPartition> union = new HashSet<>(a1);
                union.addAll(a2);
                return a1.size() == 2 && a2.size() == 2 && union.equals(all);
            }, () -> "c1 " + c1.assignment() + ", c2 " + c2.assignment() + "\n" + cluster.logs());

            // 2. Produce, every record acknowledged.
            Map<Integer, TopicPartitionOffset> acked = new ConcurrentHashMap<>();
            Map<Integer, Exception> failed = new ConcurrentHashMap<>();
            try (KafkaProducer<String, String> p = producer(Map.of())) {
                produceAll(p, topic, 0, n, acked, failed);
                p.flush();
            }
            assertEquals(Map.of(), failed);
            assertEquals(n, acked.size());

            // 3. Consume about half, committing each batch once it is processed.
            Env.waitUntil("the two consumers to process half the records", T, () -> {
                for (KafkaConsumer<String, String> c : cs) {
                    ConsumerRecords<String, String> batch = c.poll(Duration.ofMillis(100));
                    if (batch.isEmpty()) {
                        continue;
                    }
                    for (ConsumerRecord<String, String> r : batch) {
                        TopicPartition tp = new TopicPartition(r.topic(), r.partition());
                        assertTrue(c.assignment().contains(tp), "record of an assigned partition");
                        int i = index(r);
                        assertEquals(acked.get(i), new TopicPartitionOffset(r.partition(), r.offset()));
                        assertNull(seen.put(i, 1), "record " + i + " delivered twice");
                        committedByUs.merge(tp, r.offset() + 1, Math::max);
                    }
                    c.commitSync();
                }
                return seen.size() >= n / 2;
            }, () -> "processed " + seen.size() + "\n" + cluster.logs());
            assertTrue(seen.size() < n, "stopped part way (" + seen.size() + ")");
        }
        Map<TopicPartition, Long> committed = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata()
                .get(GET_S, TimeUnit.SECONDS).entrySet().stream()
                .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().offset()));
        for (TopicPartition tp : all) {
            assertEquals(committedByUs.getOrDefault(tp, 0L), committed.getOrDefault(tp, 0L),
                    "the group's committed offset of " + tp + " is its processed position: " + committed);
        }

        // 4. A restarted pair resumes at the committed offsets.
        Map<TopicPartition, Long> firstAfterRestart = new HashMap<>();
        try (KafkaConsumer<String, String> c3 = consumer(group); KafkaConsumer<String, String> c4 = consumer(group)) {
            List<KafkaConsumer<String, String>> cs = List.of(c3, c4);
            for (KafkaConsumer<String, String> c : cs) {
                c.subscribe(List.of(topic));
            }
            Env.waitUntil("the restarted consumers to process the rest", T, () -> {
                for (KafkaConsumer<String, String> c : cs) {
                    ConsumerRecords<String, String> batch = c.poll(Duration.ofMillis(100));
                    for (ConsumerRecord<String, String> r : batch) {
                        TopicPartition tp = new TopicPartition(r.topic(), r.partition());
                        firstAfterRestart.putIfAbsent(tp, r.offset());
                        int i = index(r);
                        assertNull(seen.put(i, 2), "record " + i + " delivered again after the restart");
                    }
                    if (!batch.isEmpty()) {
                        c.commitSync();
                    }
                }
                return seen.size() == n;
            }, () -> "processed " + seen.size() + "\n" + cluster.logs());
            Map<TopicPartition, Long> ends = c3.endOffsets(all);
            assertEquals(n, ends.values().stream().mapToLong(Long::longValue).sum());
            for (Map.Entry<TopicPartition, Long> e : firstAfterRestart.entrySet()) {
                assertEquals(committed.getOrDefault(e.getKey(), 0L), e.getValue(),
                        "resumed " + e.getKey() + " at its committed offset");
            }
            Map<TopicPartition, OffsetAndMetadata> fin = admin.listConsumerGroupOffsets(group)
                    .partitionsToOffsetAndMetadata().get(GET_S, TimeUnit.SECONDS);
            for (TopicPartition tp : all) {
                assertEquals(ends.get(tp), fin.get(tp) == null ? null : fin.get(tp).offset(), "final commit of " + tp);
            }
        }
    }

    @Test
    @Order(5)
    void brokerKilledMidProduceLosesNothingAcked() throws Exception {
        String topic = "kill-t";
        int n = 3000;
        int chunk = 100;
        createTopic(topic, 3, Map.of("min.insync.replicas", "2"));
        TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get(GET_S, TimeUnit.SECONDS)
                .get(topic);
        int victim = d.partitions().get(0).leader().id();

        Map<Integer, TopicPartitionOffset> acked = new ConcurrentHashMap<>();
        Map<Integer, Exception> failed = new ConcurrentHashMap<>();
        AtomicReference<Throwable> senderError = new AtomicReference<>();
        int killAt = n / 3; // the kill comes right after this record is handed to send(), before a flush
        CountDownLatch handedOver = new CountDownLatch(1);
        CountDownLatch killed = new CountDownLatch(1);
        Thread sender;
        try (KafkaProducer<String, String> p = producer(Map.of(
                ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 120000,
                ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10000,
                ProducerConfig.RETRY_BACKOFF_MS_CONFIG, 100,
                ProducerConfig.MAX_BLOCK_MS_CONFIG, 60000))) {
            sender = new Thread(() -> {
                try {
                    for (int from = 0; from < n; from += chunk) {
                        int to = Math.min(n, from + chunk);
                        produceAll(p, topic, from, to, acked, failed);
                        if (from < killAt && killAt <= to) {
                            handedOver.countDown();
                            if (!killed.await(60, TimeUnit.SECONDS)) {
                                throw new AssertionError("no kill");
                            }
                        }
                        p.flush();
                    }
                } catch (Throwable t) {
                    senderError.set(t);
                }
            }, "kill-t-sender");
            sender.start();
            assertTrue(handedOver.await(60, TimeUnit.SECONDS), "the sender reached record " + killAt);
            long t0 = System.nanoTime();
            cluster.kill9(victim);
            killed.countDown();
            int ackedAtKill = acked.size();
            System.out.println("killed broker " + victim + " (leader of " + topic + "-0) with " + ackedAtKill
                    + " acked");
            assertTrue(ackedAtKill < n, "still producing when the broker dies");
            sender.join(TimeUnit.SECONDS.toMillis(150));
            assertFalse(sender.isAlive(), "the sender finished within the delivery timeout");
            System.out.println("all sends completed " + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)
                    + " ms after the kill");
        }
        assertNull(senderError.get(), () -> "sender thread: " + senderError.get());
        assertEquals(Map.of(), failed.entrySet().stream().limit(5)
                .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().toString())), "failed sends");
        assertEquals(n, acked.size(), "every record acked");

        // The surviving brokers serve every acked record once, at its acked offset.
        Map<Integer, TopicPartitionOffset> read = new HashMap<>();
        try (KafkaConsumer<String, String> c = consumer(null)) {
            List<TopicPartition> tps = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                tps.add(new TopicPartition(topic, i));
            }
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> ends = c.endOffsets(tps, Duration.ofSeconds(30));
            Env.waitUntil("reading " + topic + " to its end offsets " + ends, T, () -> {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                    TopicPartitionOffset at = new TopicPartitionOffset(r.partition(), r.offset());
                    TopicPartitionOffset prev = read.put(index(r), at);
                    assertNull(prev, "record " + r.value() + " at " + at + " and at " + prev);
                }
                for (TopicPartition tp : tps) {
                    if (c.position(tp) < ends.get(tp)) {
                        return false;
                    }
                }
                return true;
            }, () -> "read " + read.size() + "\n" + cluster.logs());
            assertEquals(n, ends.values().stream().mapToLong(Long::longValue).sum(), "end offsets " + ends);
        }
        Set<Integer> missing = new TreeSet<>(acked.keySet());
        missing.removeAll(read.keySet());
        assertEquals(Set.of(), missing.stream().limit(20).collect(Collectors.toSet()), "acked but not read");
        for (Map.Entry<Integer, TopicPartitionOffset> e : acked.entrySet()) {
            assertEquals(e.getValue(), read.get(e.getKey()), "record " + e.getKey() + " read where it was acked");
        }

        // The killed broker comes back and catches up.
        cluster.restart(victim);
        cluster.waitForBrokers(Set.of(1, 2, 3));
        cluster.waitForIsr(admin, topic, 3);
    }
}
