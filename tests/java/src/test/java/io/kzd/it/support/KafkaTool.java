package io.kzd.it.support;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * One run of an Apache Kafka 3.9 command-line tool (the main class a kafka-*.sh script runs) in a JVM of its own,
 * on the Apache broker classpath ({@link KafkaCluster#apacheBrokerClasspath}) and with the logging of Kafka's
 * config/tools-log4j.properties (WARN and above to stderr), as kafka-run-class.sh runs it.
 */
public final class KafkaTool {
    private KafkaTool() {}

    /** Exit status ({@code null} when the deadline passed and the JVM was killed), stdout and stderr. */
    public record Result(Integer exit, String stdout, String stderr) {
        public boolean timedOut() {
            return exit == null;
        }
    }

    /** Tool JVMs still running, killed if this JVM exits (on a signal or a timeout) first. */
    private static final Set<Process> RUNNING = ConcurrentHashMap.newKeySet();
    private static Path dir;
    private static String classpath;

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> RUNNING.forEach(Process::destroyForcibly)));
    }

    /** The scratch dir with Kafka's tools-log4j.properties, made once per JVM (removed at exit). */
    private static synchronized Path dir() throws IOException {
        if (dir == null) {
            Path d = Env.tempDir("kzd-tool-");
            Files.writeString(d.resolve("tools-log4j.properties"), "log4j.rootLogger=WARN, stderr\n"
                    + "log4j.appender.stderr=org.apache.log4j.ConsoleAppender\n"
                    + "log4j.appender.stderr.layout=org.apache.log4j.PatternLayout\n"
                    + "log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
                    + "log4j.appender.stderr.Target=System.err\n");
            Runtime.getRuntime().addShutdownHook(new Thread(() -> Env.removeTree(d)));
            classpath = KafkaCluster.apacheBrokerClasspath();
            dir = d;
        }
        return dir;
    }

    /**
     * Run {@code mainClass args...} with {@code stdin} (may be empty) as its standard input; wait up to
     * {@code deadline}, then kill it (the result has no exit status).
     */
    public static Result run(Duration deadline, String stdin, String mainClass, List<String> args) {
        return run(null, deadline, stdin, mainClass, args);
    }

    /**
     * {@link #run(Duration, String, String, List)} on classpath {@code cp} instead of the Apache broker
     * classpath ({@code null}: that one), e.g. a program of the test classes on another kafka-clients.
     */
    public static Result run(String cp, Duration deadline, String stdin, String mainClass, List<String> args) {
        Path io = null;
        Process p = null;
        try {
            Path d = dir();
            io = Files.createTempDirectory(d, "run-");
            Path in = Files.writeString(io.resolve("stdin"), stdin == null ? "" : stdin);
            Path out = io.resolve("stdout");
            Path err = io.resolve("stderr");
            String java = ProcessHandle.current().info().command()
                    .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            List<String> cmd = new ArrayList<>(List.of(java, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
                    "-Xshare:auto", "-Djava.awt.headless=true",
                    "-Dlog4j.configuration=" + d.resolve("tools-log4j.properties").toUri(),
                    "-cp", cp == null ? classpath : cp, mainClass));
            cmd.addAll(args);
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectInput(in.toFile()).redirectOutput(out.toFile())
                    .redirectError(err.toFile());
            p = pb.start();
            RUNNING.add(p);
            Integer exit = null;
            if (p.waitFor(deadline.toMillis(), TimeUnit.MILLISECONDS)) {
                exit = p.exitValue();
            } else {
                p.destroyForcibly();
                p.waitFor(30, TimeUnit.SECONDS);
            }
            return new Result(exit, Files.readString(out, StandardCharsets.UTF_8),
                    Files.readString(err, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IllegalStateException("cannot run " + mainClass + " " + args, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted running " + mainClass, e);
        } finally {
            if (p != null) {
                p.destroyForcibly();
                RUNNING.remove(p);
            }
            Env.removeTree(io);
        }
    }
}
