package io.kzd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.LongDeserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.kzd.it.support.DumpLogsOnFailure;
import io.kzd.it.support.Env;
import io.kzd.it.support.KafkaCluster;

/** kafka-streams 3.9 WordCount (at_least_once) against three kafkad brokers on one zookeeperd. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class KafkaStreamsWordCountTest {
    static final Duration T = Duration.ofSeconds(90);
    static final String APP = "wc-app";
    static final String IN = "wc-in";
    static final String OUT = "wc-out";
    static final String STORE = "wc-counts";

    KafkaCluster cluster;

    @RegisterExtension
    final DumpLogsOnFailure dump = new DumpLogsOnFailure(() -> cluster == null ? "" : cluster.logs());

    @BeforeAll
    void startCluster() {
        cluster = KafkaCluster.startReplicated();
    }

    @AfterAll
    void stopCluster() {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void wordCountCountsEveryWordOnce() throws Exception {
        try (Admin admin = cluster.admin()) {
            admin.createTopics(List.of(new NewTopic(IN, 3, (short) 3), new NewTopic(OUT, 3, (short) 3))).all()
                    .get(30, TimeUnit.SECONDS);
            cluster.waitForIsr(admin, IN, 3);
            cluster.waitForIsr(admin, OUT, 3);

            // The text and what it should count to.
            String[] vocabulary = {"kafka", "zookeeper", "stream", "table", "broker", "topic", "offset", "group",
                "leader", "replica", "commit", "log"};
            Random rnd = new Random(11);
            List<String> lines = new ArrayList<>();
            Map<String, Long> expected = new TreeMap<>();
            for (int i = 0; i < 300; i++) {
                StringBuilder line = new StringBuilder();
                int words = 1 + rnd.nextInt(8);
                for (int w = 0; w < words; w++) {
                    String word = vocabulary[rnd.nextInt(vocabulary.length)];
                    expected.merge(word, 1L, Long::sum);
                    // mixed case and punctuation, split and lower-cased by the topology
                    line.append(w % 3 == 0 ? word.toUpperCase(Locale.ROOT) : word).append(w % 2 == 0 ? ", " : " ");
                }
                lines.add(line.toString());
            }

            Path state = Env.tempDir("kzd-streams-");
            Properties sp = new Properties();
            sp.put(StreamsConfig.APPLICATION_ID_CONFIG, APP);
            sp.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, cluster.bootstrap());
            sp.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.AT_LEAST_ONCE);
            sp.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
            sp.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
            sp.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 100);
            sp.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0); // every update goes downstream
            sp.put(StreamsConfig.STATE_DIR_CONFIG, state.toString());
            sp.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
            // purge consumed repartition records (DeleteRecords) at most every 100 ms
            sp.put(StreamsConfig.REPARTITION_PURGE_INTERVAL_MS_CONFIG, 100);

            StreamsBuilder b = new StreamsBuilder();
            b.<String, String>stream(IN)
                    .flatMapValues(v -> List.of(v.toLowerCase(Locale.ROOT).split("\\W+")))
                    .filter((k, w) -> !w.isEmpty())
                    .groupBy((k, w) -> w)
                    .count(Materialized.as(STORE))
                    .toStream()
                    .to(OUT, Produced.with(Serdes.String(), Serdes.Long()));

            AtomicReference<Throwable> streamError = new AtomicReference<>();
            KafkaStreams streams = new KafkaStreams(b.build(), sp);
            streams.setUncaughtExceptionHandler(e -> {
                streamError.compareAndSet(null, e);
                return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse
                        .SHUTDOWN_CLIENT;
            });
            try {
                streams.start();
                Env.waitUntil("the streams app to run", T, () -> {
                    if (streamError.get() != null) {
                        throw new AssertionError("stream thread died", streamError.get());
                    }
                    return streams.state() == KafkaStreams.State.RUNNING;
                }, () -> "state " + streams.state() + "\n" + cluster.logs());

                Properties pp = new Properties();
                pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, cluster.bootstrap());
                pp.put(ProducerConfig.ACKS_CONFIG, "all");
                pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
                pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
                try (KafkaProducer<String, String> p = new KafkaProducer<>(pp)) {
                    for (int i = 0; i < lines.size(); i++) {
                        p.send(new ProducerRecord<>(IN, "line" + i, lines.get(i))).get(30, TimeUnit.SECONDS);
                    }
                }

                // Read the counts topic until every word's latest count is the expected one.
                Map<String, Long> latest = new TreeMap<>();
                Properties cp = new Properties();
                cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, cluster.bootstrap());
                cp.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
                cp.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, LongDeserializer.class);
                try (KafkaConsumer<String, Long> c = new KafkaConsumer<>(cp)) {
                    List<TopicPartition> tps = List.of(new TopicPartition(OUT, 0), new TopicPartition(OUT, 1),
                            new TopicPartition(OUT, 2));
                    c.assign(tps);
                    c.seekToBeginning(tps);
                    Env.waitUntil("the counts to reach " + expected, T, () -> {
                        if (streamError.get() != null) {
                            throw new AssertionError("stream thread died", streamError.get());
                        }
                        for (ConsumerRecord<String, Long> r : c.poll(Duration.ofMillis(200))) {
                            Long prev = latest.put(r.key(), r.value());
                            Long want = expected.get(r.key());
                            assertTrue(want != null, "unexpected word " + r.key());
                            // cache off, no failures: each update is the previous count plus one
                            assertEquals(prev == null ? 1L : prev + 1, r.value(), "count of " + r.key());
                            assertTrue(r.value() <= want, "count of " + r.key() + " overshoots: " + r.value());
                        }
                        return latest.equals(expected);
                    }, () -> "latest counts " + latest + "\n" + cluster.logs());
                }

                // Streams purged what it consumed of the repartition topic (DeleteRecords); it did so
                // on commits while the lines came in one by one.
                String repartitionTopic = APP + "-" + STORE + "-repartition";
                Map<TopicPartition, OffsetSpec> earliest = new HashMap<>();
                for (int i = 0; i < 3; i++) {
                    earliest.put(new TopicPartition(repartitionTopic, i), OffsetSpec.earliest());
                }
                Env.waitUntil("the repartition topic's log start offsets to move", T, () -> {
                    try {
                        return admin.listOffsets(earliest).all().get(30, TimeUnit.SECONDS).values().stream()
                                .mapToLong(ListOffsetsResult.ListOffsetsResultInfo::offset).sum() > 0;
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                }, cluster::logs);

                // The state store holds the same counts.
                ReadOnlyKeyValueStore<String, Long> store = streams.store(
                        StoreQueryParameters.fromNameAndType(STORE, QueryableStoreTypes.keyValueStore()));
                Map<String, Long> inStore = new TreeMap<>();
                try (var it = store.all()) {
                    it.forEachRemaining(kv -> inStore.put(kv.key, kv.value));
                }
                assertEquals(expected, inStore);
            } finally {
                streams.close(Duration.ofSeconds(30));
                Env.removeTree(state);
            }

            // The internal topics Streams created with replication.factor -1 (the broker default).
            String changelog = APP + "-" + STORE + "-changelog";
            String repartition = APP + "-" + STORE + "-repartition";
            Map<String, TopicDescription> internal = admin.describeTopics(List.of(changelog, repartition))
                    .allTopicNames().get(30, TimeUnit.SECONDS);
            for (TopicDescription d : internal.values()) {
                assertEquals(3, d.partitions().size(), d.toString());
                assertEquals(3, d.partitions().get(0).replicas().size(), "replicas of " + d);
            }
            ConfigResource cl = new ConfigResource(ConfigResource.Type.TOPIC, changelog);
            Config clc = admin.describeConfigs(List.of(cl)).all().get(30, TimeUnit.SECONDS).get(cl);
            assertEquals("compact", clc.get("cleanup.policy").value());
            ConfigResource rp = new ConfigResource(ConfigResource.Type.TOPIC, repartition);
            Config rpc = admin.describeConfigs(List.of(rp)).all().get(30, TimeUnit.SECONDS).get(rp);
            assertEquals("delete", rpc.get("cleanup.policy").value());
            // the group committed its input offsets
            Map<TopicPartition, Long> committed = new HashMap<>();
            admin.listConsumerGroupOffsets(APP).partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS)
                    .forEach((tp, om) -> committed.put(tp, om.offset()));
            long inputCommitted = committed.entrySet().stream().filter(e -> e.getKey().topic().equals(IN))
                    .mapToLong(Map.Entry::getValue).sum();
            assertEquals(lines.size(), inputCommitted, "committed input offsets " + committed);
            assertTrue(Set.of(IN, repartition).containsAll(
                    committed.keySet().stream().map(TopicPartition::topic).collect(java.util.stream.Collectors.toSet())),
                    committed.toString());
        }
    }
}
