//! Prometheus metrics (prometheus-client, OpenMetrics text) served over a
//! small HTTP endpoint on `metrics.port`. Counters are bumped on the
//! request path; partition and group gauges are computed at scrape time
//! from live state so they cannot drift.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::broker::Broker;
use crate::error::BrokerError;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TopicLabels {
    pub topic: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ApiLabels {
    pub api: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GroupPartitionLabels {
    pub group: String,
    pub topic: String,
    pub partition: String,
}

type HistogramFamily = Family<ApiLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 100 µs .. ~6.5 s
    Histogram::new(exponential_buckets(0.0001, 2.0, 17))
}

pub struct Metrics {
    registry: Registry,
    pub bytes_in: Family<TopicLabels, Counter>,
    pub messages_in: Family<TopicLabels, Counter>,
    pub bytes_out: Family<TopicLabels, Counter>,
    pub messages_out: Family<TopicLabels, Counter>,
    pub requests: Family<ApiLabels, Counter>,
    pub request_latency: HistogramFamily,
    under_replicated: Gauge,
    group_lag: Family<GroupPartitionLabels, Gauge>,
    group_offset: Family<GroupPartitionLabels, Gauge>,
    fetch_sessions: Gauge,
    fetch_session_partitions: Gauge,
    fetch_session_evictions: Counter,
    incremental_fetches: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let bytes_in = Family::<TopicLabels, Counter>::default();
        let messages_in = Family::<TopicLabels, Counter>::default();
        let bytes_out = Family::<TopicLabels, Counter>::default();
        let messages_out = Family::<TopicLabels, Counter>::default();
        let requests = Family::<ApiLabels, Counter>::default();
        let request_latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        let under_replicated = Gauge::default();
        let group_lag = Family::<GroupPartitionLabels, Gauge>::default();
        let group_offset = Family::<GroupPartitionLabels, Gauge>::default();
        let fetch_sessions = Gauge::default();
        let fetch_session_partitions = Gauge::default();
        let fetch_session_evictions = Counter::default();
        let incremental_fetches = Counter::default();
        // Names follow Kafka's BrokerTopicMetrics / RequestMetrics and
        // kafka_exporter's consumer-group metrics.
        registry.register("kafka_topic_bytes_in", "Bytes appended by producers", bytes_in.clone());
        registry.register("kafka_topic_messages_in", "Records appended by producers", messages_in.clone());
        registry.register("kafka_topic_bytes_out", "Bytes returned to consumers", bytes_out.clone());
        registry.register("kafka_topic_messages_out", "Records returned to consumers", messages_out.clone());
        registry.register("kafka_requests", "Requests handled, per API key", requests.clone());
        registry.register(
            "kafka_request_duration_seconds",
            "Request handling time (decode to response), per API key",
            request_latency.clone(),
        );
        registry.register(
            "kafka_under_replicated_partitions",
            "Partitions led here whose ISR is smaller than their replica set",
            under_replicated.clone(),
        );
        registry.register("kafka_consumergroup_lag", "High watermark minus committed offset", group_lag.clone());
        registry.register("kafka_consumergroup_current_offset", "Committed offset", group_offset.clone());
        // Kafka's FetchSessionCache metrics (NumIncrementalFetchSessions,
        // NumIncrementalFetchPartitionsCached, evictions), plus a count of
        // incremental fetches served.
        registry.register("kafka_fetch_sessions", "Incremental fetch sessions cached", fetch_sessions.clone());
        registry.register(
            "kafka_fetch_session_partitions",
            "Partitions cached across fetch sessions",
            fetch_session_partitions.clone(),
        );
        registry.register(
            "kafka_fetch_session_evictions",
            "Fetch sessions evicted to make room",
            fetch_session_evictions.clone(),
        );
        registry.register(
            "kafka_incremental_fetches",
            "Fetch requests served on an existing fetch session",
            incremental_fetches.clone(),
        );
        Metrics {
            registry,
            bytes_in,
            messages_in,
            bytes_out,
            messages_out,
            requests,
            request_latency,
            under_replicated,
            group_lag,
            group_offset,
            fetch_sessions,
            fetch_session_partitions,
            fetch_session_evictions,
            incremental_fetches,
        }
    }

    pub fn record_in(&self, topic: &str, bytes: usize, messages: u64) {
        let l = TopicLabels { topic: topic.to_string() };
        self.bytes_in.get_or_create(&l).inc_by(bytes as u64);
        self.messages_in.get_or_create(&l).inc_by(messages);
    }

    pub fn record_out(&self, topic: &str, bytes: usize, messages: u64) {
        let l = TopicLabels { topic: topic.to_string() };
        self.bytes_out.get_or_create(&l).inc_by(bytes as u64);
        self.messages_out.get_or_create(&l).inc_by(messages);
    }

    pub fn record_request(&self, api: &str, elapsed: Duration) {
        let l = ApiLabels { api: api.to_string() };
        self.requests.get_or_create(&l).inc();
        self.request_latency.get_or_create(&l).observe(elapsed.as_secs_f64());
    }

    /// Recompute the scrape-time gauges and encode everything.
    pub fn render(&self, broker: &Broker) -> String {
        let parts: Vec<_> = broker.partitions.read().map(|m| m.values().cloned().collect()).unwrap_or_default();
        let under = parts.iter().filter(|p| p.is_under_replicated()).count();
        self.under_replicated.set(under as i64);

        self.group_lag.clear();
        self.group_offset.clear();
        for (group, _, _) in broker.groups.offsets.groups() {
            for (topic, partition, committed) in broker.groups.offsets.all(&group) {
                let Some(p) = broker.partition(&topic, partition) else { continue };
                let l = GroupPartitionLabels { group: group.clone(), topic, partition: partition.to_string() };
                self.group_offset.get_or_create(&l).set(committed.offset);
                self.group_lag.get_or_create(&l).set((p.high_watermark() - committed.offset).max(0));
            }
        }
        let s = broker.fetch_sessions.stats();
        self.fetch_sessions.set(s.sessions as i64);
        self.fetch_session_partitions.set(s.partitions as i64);
        // The cache keeps the running totals; the counters catch up.
        self.fetch_session_evictions.inc_by(s.evictions.saturating_sub(self.fetch_session_evictions.get()));
        self.incremental_fetches.inc_by(s.incremental_fetches.saturating_sub(self.incremental_fetches.get()));
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::warn!(error = %e, "cannot encode metrics");
        }
        out
    }
}

/// Bind the metrics port (before readiness is announced, like the
/// listeners, so a bad port fails the start).
pub async fn bind(port: u16) -> Result<TcpListener, BrokerError> {
    TcpListener::bind(("0.0.0.0", port)).await.map_err(|e| BrokerError::io(format!("bind metrics.port {port}"), e))
}

/// Serve `GET /metrics` until shutdown; anything else is a 404.
pub fn spawn_http(broker: Arc<Broker>, sock: TcpListener, shutdown: shared::shutdown::Shutdown) {
    let mut stop = shutdown.subscribe();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = tokio::select! {
                a = sock.accept() => match a {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "metrics accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                _ = stop.recv() => return,
            };
            let broker = broker.clone();
            tokio::spawn(async move {
                let mut buf = Vec::with_capacity(1024);
                let mut chunk = [0u8; 1024];
                // Headers only; a scrape has no body. Bounded so a slow or
                // hostile peer cannot hold memory or the task forever.
                let read = tokio::time::timeout(Duration::from_secs(10), async {
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return false,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    true
                })
                .await;
                if !matches!(read, Ok(true)) {
                    return;
                }
                let line = buf.split(|b| *b == b'\n').next().unwrap_or_default();
                let line = String::from_utf8_lossy(line);
                let mut it = line.split_whitespace();
                let (method, path) = (it.next().unwrap_or(""), it.next().unwrap_or(""));
                let (status, ctype, body) = if method == "GET" && (path == "/metrics" || path.starts_with("/metrics?"))
                {
                    let body = broker.metrics.render(&broker);
                    ("200 OK", "application/openmetrics-text; version=1.0.0; charset=utf-8", body)
                } else {
                    ("404 Not Found", "text/plain", "not found\n".to_string())
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(body.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
}
