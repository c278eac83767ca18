//! kafkad driven by kafka-python (a producer and a two-member group that
//! hands partitions over when a member leaves) and by kafkajs (npm).

mod common;

use std::path::Path;
use std::process::Command;

use common::{run_py, Kafkad};

#[test]
fn kafka_python_group_rebalance_hands_over_without_loss_or_duplicates() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let k = Kafkad::start(tmp.path(), "num.partitions=4");
    let out = run_py(&k, "kafka_python_group.py", &["kp", "kp-group"]);
    assert!(out.contains("HANDOVER"), "{out}");
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
