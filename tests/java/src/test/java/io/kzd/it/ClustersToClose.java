package io.kzd.it;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import com.fasterxml.jackson.databind.ObjectMapper;

import org.junit.jupiter.api.AfterAll;

import io.kzd.it.support.KafkaCluster;

/**
 * What the state differential tests share: the clusters a test class started and has not closed (closed by
 * {@code @AfterAll} if a test left one), a pool for side-by-side work, and one JSON mapper.
 */
abstract class ClustersToClose {
    static final ObjectMapper JSON = new ObjectMapper();

    final ExecutorService pool = Executors.newCachedThreadPool();

    final List<KafkaCluster> open = new ArrayList<>();

    @AfterAll
    void closeEverything() {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
        open.clear();
        pool.shutdownNow();
    }

    void close(KafkaCluster c) {
        if (c != null) {
            open.remove(c);
            c.close();
        }
    }
}
