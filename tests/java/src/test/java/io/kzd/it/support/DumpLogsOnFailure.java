package io.kzd.it.support;

import java.util.function.Supplier;

import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestWatcher;

/** Prints the daemons' log tails when a test fails (into the surefire report's output file). */
public final class DumpLogsOnFailure implements TestWatcher {
    private final Supplier<String> logs;

    public DumpLogsOnFailure(Supplier<String> logs) {
        this.logs = logs;
    }

    @Override
    public void testFailed(ExtensionContext context, Throwable cause) {
        try {
            System.out.println("===== " + context.getDisplayName() + " failed: " + cause + "\n" + logs.get());
        } catch (RuntimeException e) {
            System.out.println("===== no daemon logs: " + e);
        }
    }
}
