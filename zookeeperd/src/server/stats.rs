//! Server counters shown by srvr/stat/mntr and /metrics.

use std::time::Instant;

#[derive(Debug)]
pub struct ServerStats {
    pub started: Instant,
    pub packets_received: u64,
    pub packets_sent: u64,
    pub latency_min_us: u64,
    pub latency_max_us: u64,
    pub latency_total_us: u64,
    pub latency_count: u64,
    pub outstanding: u64,
    pub fsyncs: u64,
    /// Txns whose leader digest differed from ours after applying them.
    pub digest_mismatches: u64,
    pub latency: hdrhistogram::Histogram<u64>,
    /// Top-level namespace -> (reads, writes), as mntr's *_per_namespace.
    pub per_namespace: std::collections::BTreeMap<String, (Summary, Summary)>,
}

/// count/min/max/sum of a value, as ZooKeeper's basic summaries.
#[derive(Debug, Default, Clone, Copy)]
pub struct Summary {
    pub count: u64,
    pub min: u64,
    pub max: u64,
    pub total: u64,
}

impl Summary {
    pub fn add(&mut self, v: u64) {
        self.min = if self.count == 0 { v } else { self.min.min(v) };
        self.max = self.max.max(v);
        self.count += 1;
        self.total += v;
    }
}

impl Default for ServerStats {
    fn default() -> Self {
        ServerStats {
            started: Instant::now(),
            packets_received: 0,
            packets_sent: 0,
            latency_min_us: u64::MAX,
            latency_max_us: 0,
            latency_total_us: 0,
            latency_count: 0,
            outstanding: 0,
            fsyncs: 0,
            digest_mismatches: 0,
            latency: hdrhistogram::Histogram::new_with_bounds(1, 60_000_000, 2).expect("histogram bounds"),
            per_namespace: Default::default(),
        }
    }
}

impl ServerStats {
    pub fn record_latency(&mut self, us: u64) {
        self.latency_min_us = self.latency_min_us.min(us);
        self.latency_max_us = self.latency_max_us.max(us);
        self.latency_total_us += us;
        self.latency_count += 1;
        let _ = self.latency.record(us.max(1));
    }

    /// (min, avg, max) in milliseconds, ZooKeeper's srvr style.
    pub fn latency_ms(&self) -> (f64, f64, f64) {
        if self.latency_count == 0 {
            return (0.0, 0.0, 0.0);
        }
        (
            self.latency_min_us as f64 / 1000.0,
            self.latency_total_us as f64 / self.latency_count as f64 / 1000.0,
            self.latency_max_us as f64 / 1000.0,
        )
    }

    /// Note a read or write of `bytes` under `path`'s first component.
    pub fn record_namespace(&mut self, path: &str, write: bool, bytes: u64) {
        let ns = path.trim_start_matches('/').split('/').next().unwrap_or("");
        if ns.is_empty() || self.per_namespace.len() > 1024 && !self.per_namespace.contains_key(ns) {
            return;
        }
        let e = self.per_namespace.entry(ns.to_string()).or_default();
        if write {
            e.1.add(bytes)
        } else {
            e.0.add(bytes)
        }
    }

    pub fn reset(&mut self) {
        let started = self.started;
        *self = ServerStats { started, ..Default::default() };
    }

    pub fn reset_latency(&mut self) {
        self.latency_min_us = u64::MAX;
        self.latency_max_us = 0;
        self.latency_total_us = 0;
        self.latency_count = 0;
        self.latency.reset();
    }
}
