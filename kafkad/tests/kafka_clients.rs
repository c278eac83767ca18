//! kafkad driven by kafka-python (a producer and a two-member group that
//! hands partitions over when a member leaves; a consumer on incremental
//! fetch sessions) and by kafkajs (npm).

mod common;

use std::path::Path;
use std::process::Command;

use common::{free_port, run_py, scrape, series, Kafkad};

#[test]
fn kafka_python_group_rebalance_hands_over_without_loss_or_duplicates() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let k = Kafkad::start(tmp.path(), "num.partitions=4");
    let out = run_py(&k, "kafka_python_group.py", &["kp", "kp-group"]);
    assert!(out.contains("HANDOVER"), "{out}");
}

#[test]
fn kafka_python_consumes_over_one_incremental_fetch_session() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let metrics = free_port();
    let k = Kafkad::start(tmp.path(), &format!("num.partitions=4\nmetrics.port={metrics}"));
    let out = run_py(&k, "kafka_python_fetch_sessions.py", &["kps"]);
    let line = out.lines().find(|l| l.starts_with("SESSION ")).unwrap_or_else(|| panic!("{out}"));
    let f: Vec<&str> = line.split_whitespace().collect();
    let id: i64 = f[1].parse().expect("session id");
    let incremental: f64 = f[3].parse().expect("count");
    assert!(id > 0, "{line}");
    // The broker saw them as incremental fetches on a cached session.
    let m = series(&scrape(metrics));
    assert!(m.get("kafka_incremental_fetches_total").copied().unwrap_or(0.0) >= incremental, "{m:?}");
    assert!(m.get("kafka_fetch_session_partitions").copied().unwrap_or(0.0) >= 4.0, "{m:?}");
}

#[test]
fn kafkajs_producer_and_consumer_group_round_trip() {
    let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    if !js.join("node_modules/kafkajs").exists() {
        let st = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund"])
            .current_dir(&js)
            .status()
            .expect("npm is installed");
        assert!(st.success(), "npm install kafkajs failed");
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let k = Kafkad::start(tmp.path(), "");
    let out = Command::new("timeout")
        .args(["180", "node"])
        .arg(js.join("roundtrip.js"))
        .args([k.bootstrap().as_str(), "js-topic", "js-group"])
        .current_dir(&js)
        .output()
        .expect("node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ALL OK"),
        "stdout:\n{stdout}\nstderr:\n{}\nbroker log tail:\n{}",
        String::from_utf8_lossy(&out.stderr),
        k.log().lines().rev().take(40).collect::<Vec<_>>().join("\n")
    );
}
