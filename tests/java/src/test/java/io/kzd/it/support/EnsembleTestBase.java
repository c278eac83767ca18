package io.kzd.it.support;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * One three-member zookeeperd ensemble per test class, started before its
 * tests and stopped after them; a failed test dumps the members' logs.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class EnsembleTestBase {
    protected ZkEnsemble ens;

    @RegisterExtension
    final DumpLogsOnFailure dump = new DumpLogsOnFailure(() -> ens == null ? "" : ens.logs());

    @BeforeAll
    void startEnsemble() {
        ens = ZkEnsemble.startEnsemble();
    }

    @AfterAll
    void stopEnsemble() {
        if (ens != null) {
            ens.close();
        }
    }
}
