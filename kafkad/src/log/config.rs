//! Per-log settings, built from a topic's effective config (topic keys,
//! string values) with Kafka's defaults behind them.

use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub segment_bytes: u64,
    /// segment.ms: roll the active segment once its first batch is older.
    pub segment_ms: i64,
    pub retention_ms: i64,
    pub retention_bytes: i64,
    pub index_interval_bytes: u64,
    /// cleanup.policy contains "delete": time/size retention applies.
    pub delete_enabled: bool,
    /// flush.messages: fsync when this many messages are unflushed.
    pub flush_messages: i64,
    /// flush.ms: fsync when the last flush is older than this.
    pub flush_ms: i64,
    /// cleanup.policy contains "compact": the log cleaner keeps the latest
    /// record per key.
    pub compact: bool,
    /// min.cleanable.dirty.ratio: clean once dirty / cleanable bytes exceeds it.
    pub min_cleanable_ratio: f64,
    /// min.compaction.lag.ms: records younger than this stay uncompacted.
    pub min_compaction_lag_ms: i64,
    /// max.compaction.lag.ms: dirty records older than this are cleaned
    /// whatever the ratio.
    pub max_compaction_lag_ms: i64,
    /// delete.retention.ms: how long a tombstone outlives its first clean.
    pub delete_retention_ms: i64,
    /// segment.index.bytes: the cleaner's cap on a merged segment's indexes.
    pub max_index_bytes: u64,
    /// message.timestamp.type=LogAppendTime: batches are stamped with the
    /// broker's time on append.
    pub log_append_time: bool,
}

impl Default for LogConfig {
    /// Kafka 3.x's topic defaults.
    fn default() -> LogConfig {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: 604_800_000,
            retention_ms: 604_800_000,
            retention_bytes: -1,
            index_interval_bytes: 4096,
            delete_enabled: true,
            flush_messages: i64::MAX,
            flush_ms: i64::MAX,
            compact: false,
            min_cleanable_ratio: 0.5,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
            delete_retention_ms: 86_400_000,
            max_index_bytes: 10_485_760,
            log_append_time: false,
        }
    }
}

/// Whether a cleanup.policy list names `policy`.
pub fn has_policy(list: &str, policy: &str) -> bool {
    list.split(',').any(|x| x.trim() == policy)
}

impl LogConfig {
    /// Build from an effective topic config (topic keys, string values).
    pub fn from_topic(c: &BTreeMap<String, String>, fallback: &LogConfig) -> LogConfig {
        let num = |k: &str| c.get(k).and_then(|v| v.trim().parse::<i64>().ok());
        let mut out = LogConfig {
            segment_bytes: num("segment.bytes").map(|v| v.max(14) as u64).unwrap_or(fallback.segment_bytes),
            segment_ms: num("segment.ms").map(|v| v.max(1)).unwrap_or(fallback.segment_ms),
            retention_ms: num("retention.ms").unwrap_or(fallback.retention_ms),
            retention_bytes: num("retention.bytes").unwrap_or(fallback.retention_bytes),
            index_interval_bytes: num("index.interval.bytes")
                .map(|v| v.max(0) as u64)
                .unwrap_or(fallback.index_interval_bytes),
            delete_enabled: c.get("cleanup.policy").map(|p| has_policy(p, "delete")).unwrap_or(fallback.delete_enabled),
            flush_messages: num("flush.messages").map(|v| v.max(1)).unwrap_or(fallback.flush_messages),
            flush_ms: num("flush.ms").map(|v| v.max(0)).unwrap_or(fallback.flush_ms),
            log_append_time: c
                .get("message.timestamp.type")
                .map(|v| v.trim() == "LogAppendTime")
                .unwrap_or(fallback.log_append_time),
            ..fallback.clone()
        };
        out.apply_cleaner_keys(c);
        out
    }

    /// The compaction keys alone (also how the broker's log.cleaner.*
    /// defaults reach logs opened before their topic config is known).
    pub fn apply_cleaner_keys(&mut self, c: &BTreeMap<String, String>) {
        let num = |k: &str| c.get(k).and_then(|v| v.trim().parse::<i64>().ok());
        if let Some(p) = c.get("cleanup.policy") {
            self.compact = has_policy(p, "compact");
        }
        if let Some(r) = c.get("min.cleanable.dirty.ratio").and_then(|v| v.trim().parse::<f64>().ok()) {
            self.min_cleanable_ratio = r;
        }
        if let Some(v) = num("min.compaction.lag.ms") {
            self.min_compaction_lag_ms = v.max(0);
        }
        if let Some(v) = num("max.compaction.lag.ms") {
            self.max_compaction_lag_ms = v.max(1);
        }
        if let Some(v) = num("delete.retention.ms") {
            self.delete_retention_ms = v.max(0);
        }
        if let Some(v) = num("segment.index.bytes") {
            self.max_index_bytes = v.max(4) as u64;
        }
    }
}
