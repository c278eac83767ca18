package io.kzd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.kzd.it.clients4.Clients4Probe;
import io.kzd.it.support.DumpLogsOnFailure;
import io.kzd.it.support.KafkaCluster;
import io.kzd.it.support.KafkaTool;
import io.kzd.it.support.ZkEnsemble;

/**
 * The second client generation: kafka-clients 4.x (the copy the pom puts in the directory named by
 * kzd.kafka.clients4.lib) runs {@link Clients4Probe} - Admin, an idempotent producer with every codec, a group
 * consumer, a cooperative-sticky group of two - in a JVM of its own whose classpath is the test classes and the
 * 4.x jars only (the 3.9 jars of the test classpath left out). The probe runs against one Apache Kafka 3.9 broker
 * on zookeeperd (proving the expectations), one kafkad broker and three kafkad brokers with replication factor 3;
 * every run must pass every check, and the kafkad runs must print exactly the lines the Apache run printed.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class KafkaClients4Test {
    /** How long one probe run may take before its JVM is killed. */
    static final Duration PROBE_DEADLINE = Duration.ofSeconds(150);

    static final String BROKER_PROPS = KafkaCluster.sideBySideProps(3);


    Path lib;
    String clients4Jar;
    String classpath;
    KafkaCluster apacheCluster;
    KafkaCluster kafkadCluster;
    KafkaCluster replicated;
    KafkaTool.Result apacheRun;

    @RegisterExtension
    final DumpLogsOnFailure dump = new DumpLogsOnFailure(() -> Stream.of(apacheCluster, kafkadCluster, replicated)
            .filter(c -> c != null).map(KafkaCluster::logs).collect(Collectors.joining("\n")));

    @BeforeAll
    void start() throws IOException, URISyntaxException {
        String dir = System.getProperty("kzd.kafka.clients4.lib");
        if (dir == null || !Files.isDirectory(Path.of(dir))) {
            throw new IllegalStateException("kzd.kafka.clients4.lib is not set by Maven (run scripts/test-java.sh)");
        }
        lib = Path.of(dir);
        // the test classes (the probe) and the 4.x jars, nothing of the test classpath's kafka-clients 3.9
        Path testClasses = Path.of(Clients4Probe.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        List<String> cp = new ArrayList<>(List.of(testClasses.toString()));
        List<String> jars;
        try (Stream<Path> s = Files.list(lib)) {
            jars = s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".jar")).sorted().toList();
        }
        jars.forEach(j -> cp.add(lib.resolve(j).toString()));
        classpath = String.join(File.pathSeparator, cp);
        List<String> clients = jars.stream().filter(j -> j.startsWith("kafka-clients-")).toList();
        assertEquals(1, clients.size(), "one kafka-clients jar in " + lib + ": " + jars);
        clients4Jar = clients.get(0);

        KafkaCluster.SideBySide both = KafkaCluster.startSideBySide(BROKER_PROPS);
        apacheCluster = both.apache();
        kafkadCluster = both.kafkad();
    }

    @AfterAll
    void stop() {
        for (KafkaCluster c : new KafkaCluster[] {apacheCluster, kafkadCluster, replicated}) {
            if (c != null) {
                c.close();
            }
        }
    }

    @Test
    @Order(1)
    void probeClasspathHasKafkaClients4Only() {
        assertTrue(clients4Jar.startsWith("kafka-clients-4."), clients4Jar);
        String[] entries = classpath.split(File.pathSeparator);
        assertTrue(Files.isDirectory(Path.of(entries[0])), "the test classes first: " + classpath);
        for (String e : Arrays.asList(entries).subList(1, entries.length)) {
            Path p = Path.of(e);
            String name = p.getFileName().toString();
            assertEquals(lib, p.getParent(), "only the 4.x jars besides the test classes: " + classpath);
            assertFalse(name.startsWith("kafka") && !name.equals(clients4Jar), "another Kafka jar: " + classpath);
        }
    }

    @Test
    @Order(2)
    void apacheKafkaPassesEveryCheck() {
        apacheRun = probe("Apache Kafka 3.9, 1 broker", apacheCluster, 1);
        assertPassed("Apache Kafka 3.9, 1 broker", apacheRun);
    }

    @Test
    @Order(3)
    void kafkadPassesEveryCheckAsApacheKafka() {
        KafkaTool.Result r = probe("kafkad, 1 broker", kafkadCluster, 1);
        assertPassed("kafkad, 1 broker", r);
        assertSameLinesAsApache("kafkad, 1 broker", r);
    }

    @Test
    @Order(4)
    void kafkadReplicatedPassesEveryCheckAsApacheKafka() {
        replicated = KafkaCluster.startReplicated();
        KafkaTool.Result r = probe("kafkad, 3 brokers, replication factor 3", replicated, 3);
        assertPassed("kafkad, 3 brokers, replication factor 3", r);
        assertSameLinesAsApache("kafkad, 3 brokers, replication factor 3", r);
    }

    KafkaTool.Result probe(String what, KafkaCluster cluster, int rf) {
        long t0 = System.nanoTime();
        KafkaTool.Result r = KafkaTool.run(classpath, PROBE_DEADLINE, "", Clients4Probe.class.getName(),
                List.of(cluster.bootstrap(), String.valueOf(cluster.size()), String.valueOf(rf)));
        System.out.println("===== probe against " + what + " (" + (System.nanoTime() - t0) / 1_000_000 + " ms, exit "
                + r.exit() + ")\n" + r.stdout() + "----- stderr\n" + r.stderr());
        return r;
    }

    static List<String> lines(KafkaTool.Result r) {
        return r.stdout().lines().toList();
    }

    void assertPassed(String what, KafkaTool.Result r) {
        String report = what + ": the probe " + (r.timedOut() ? "timed out" : "exited " + r.exit()) + "\n"
                + r.stdout() + "----- stderr (tail)\n" + tail(r.stderr(), 150);
        List<String> lines = lines(r);
        assertTrue(lines.size() > 3, report);
        assertTrue(lines.get(0).startsWith("CLIENT-VERSION 4."), "not a 4.x client: " + report);
        assertEquals("CLIENT-JAR " + clients4Jar, lines.get(1), report);
        List<String> failed = lines.subList(2, lines.size()).stream()
                .filter(l -> !l.startsWith("OK ") && !l.equals("PASSED")).toList();
        if (!failed.isEmpty() || r.timedOut() || r.exit() != 0 || !lines.get(lines.size() - 1).equals("PASSED")) {
            fail(report);
        }
    }

    void assertSameLinesAsApache(String what, KafkaTool.Result r) {
        assertNotNull(apacheRun, "no Apache Kafka run to compare with");
        assertEquals(lines(apacheRun), lines(r), what + " printed other lines than Apache Kafka");
    }

    static String tail(String s, int n) {
        List<String> l = s.lines().toList();
        return String.join("\n", l.subList(Math.max(0, l.size() - n), l.size()));
    }
}
