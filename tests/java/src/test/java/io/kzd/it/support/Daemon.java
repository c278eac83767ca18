package io.kzd.it.support;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** One daemon process, its output appended to a log file; killed only by its own pid. */
public final class Daemon {
    private final String name;
    private final List<String> command;
    private final Path log;
    private Process process;

    /** Every process started here, killed if the JVM exits (on a signal or a timeout) before its test closed it. */
    private static final java.util.Set<Process> RUNNING = java.util.concurrent.ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> RUNNING.forEach(Process::destroyForcibly)));
    }

    public Daemon(String name, List<String> command, Path log) {
        this.name = name;
        this.command = List.copyOf(command);
        this.log = log;
    }

    public String name() {
        return name;
    }

    /** The file the process's output is appended to (across restarts). */
    public Path log() {
        return log;
    }

    public synchronized void start() {
        if (alive()) {
            throw new IllegalStateException(name + " is already running");
        }
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().putIfAbsent("RUST_LOG", "info");
        pb.redirectErrorStream(true);
        pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        try {
            process = pb.start();
            RUNNING.add(process);
        } catch (IOException e) {
            throw new IllegalStateException("cannot start " + name + ": " + command, e);
        }
    }

    public synchronized boolean alive() {
        return process != null && process.isAlive();
    }

    /** Exit status if it exited on its own, else null. */
    public synchronized Integer exitedWith() {
        if (process == null || process.isAlive()) {
            return null;
        }
        return process.exitValue();
    }

    public synchronized long pid() {
        return process == null ? -1 : process.pid();
    }

    /** kill -9 (SIGKILL: Process.destroyForcibly on Unix) and reap. */
    public synchronized void kill9() {
        if (process == null) {
            return;
        }
        process.destroyForcibly();
        RUNNING.remove(process);
        try {
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException(name + " (pid " + process.pid() + ") survived SIGKILL");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        process = null;
    }

    /**
     * A clean stop: SIGTERM (Process.destroy on Unix), then wait up to {@code deadline} for the process to exit
     * on its own. Returns its exit status; if it is still running at the deadline it is killed with SIGKILL and
     * an AssertionError thrown (a broker that does not stop on SIGTERM is not stopped cleanly).
     */
    public synchronized int stop(java.time.Duration deadline) {
        if (process == null) {
            throw new IllegalStateException(name + " is not running");
        }
        Process p = process;
        p.destroy();
        try {
            if (!p.waitFor(deadline.toMillis(), TimeUnit.MILLISECONDS)) {
                kill9();
                throw new AssertionError(name + " (pid " + p.pid() + ") did not exit within "
                        + deadline.toSeconds() + "s of SIGTERM; killed with SIGKILL");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted stopping " + name, e);
        }
        RUNNING.remove(p);
        process = null;
        return p.exitValue();
    }

    /** The last {@code n} lines of the log. */
    public String tail(int n) {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            List<String> last = lines.subList(Math.max(0, lines.size() - n), lines.size());
            return "----- " + name + " (" + log + "), last " + last.size() + " lines:\n"
                    + String.join("\n", last).replaceAll("\u001b\\[[0-9;]*m", "");
        } catch (IOException e) {
            return "----- " + name + ": no log (" + e + ")";
        }
    }
}
