package io.kzd.it.support;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.Comparator;
import java.util.HashSet;
import java.util.Set;
import java.util.function.Supplier;
import java.util.stream.Stream;

/** Binaries, free ports, deadline polls, temp dirs and four-letter words. */
public final class Env {
    private Env() {}

    private static final Set<Integer> HANDED_OUT = new HashSet<>();

    /** The daemon named by env var {@code var}, else {@code ../../target/debug/<name>}. */
    public static Path binary(String var, String name) {
        String v = System.getenv(var);
        Path p = (v == null || v.isBlank()) ? Paths.get("../../target/debug", name) : Paths.get(v);
        p = p.toAbsolutePath().normalize();
        if (!Files.isExecutable(p)) {
            throw new IllegalStateException(name + " binary not found at " + p + " (set " + var + ")");
        }
        return p;
    }

    public static Path zookeeperd() {
        return binary("ZOOKEEPERD_BIN", "zookeeperd");
    }

    public static Path kafkad() {
        return binary("KAFKAD_BIN", "kafkad");
    }

    /** A free 127.0.0.1 port not handed out before in this JVM. */
    public static synchronized int freePort() {
        for (int i = 0; i < 100; i++) {
            try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                int p = s.getLocalPort();
                if (HANDED_OUT.add(p)) {
                    return p;
                }
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }
        throw new IllegalStateException("no free port");
    }

    /**
     * Poll {@code probe} until it returns non-null, or fail after {@code timeout}
     * with {@code what} and the diagnostics. Exceptions from the probe count as
     * "not yet" (the last one is attached to the failure).
     */
    public static <T> T waitFor(String what, Duration timeout, Supplier<T> probe, Supplier<String> diagnostics) {
        long deadline = System.nanoTime() + timeout.toNanos();
        RuntimeException last = null;
        while (true) {
            try {
                T v = probe.get();
                if (v != null) {
                    return v;
                }
            } catch (AssertionError e) {
                throw e;
            } catch (RuntimeException e) {
                last = e;
            }
            if (System.nanoTime() > deadline) {
                AssertionError err = new AssertionError(
                        "timed out after " + timeout.toSeconds() + "s waiting for " + what
                                + (diagnostics == null ? "" : "\n" + diagnostics.get()));
                if (last != null) {
                    err.initCause(last);
                }
                throw err;
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted waiting for " + what, e);
            }
        }
    }

    public static <T> T waitFor(String what, Duration timeout, Supplier<T> probe) {
        return waitFor(what, timeout, probe, null);
    }

    /** Poll a condition; see {@link #waitFor(String, Duration, Supplier, Supplier)}. */
    public static void waitUntil(String what, Duration timeout, Supplier<Boolean> cond, Supplier<String> diagnostics) {
        waitFor(what, timeout, () -> Boolean.TRUE.equals(cond.get()) ? Boolean.TRUE : null, diagnostics);
    }

    /** Send a ZooKeeper four-letter word and read the whole reply; null when the port is closed. */
    public static String fourLetter(int port, String cmd) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
            s.setSoTimeout(2000);
            OutputStream out = s.getOutputStream();
            out.write(cmd.getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return null;
        }
    }

    /** Whether something accepts TCP connections on 127.0.0.1:port. */
    public static boolean listening(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    public static Path tempDir(String prefix) {
        try {
            return Files.createTempDirectory(prefix);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Remove a temp dir, unless KZD_KEEP_LOGS is set. */
    public static void removeTree(Path root) {
        if (root == null || System.getenv("KZD_KEEP_LOGS") != null) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // best effort
                }
            });
        } catch (IOException ignored) {
            // best effort
        }
    }
}
