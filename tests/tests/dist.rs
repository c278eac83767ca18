//! The release tarball works as Kafka's does: unpack, start ZooKeeper and
//! the broker with the bin/ scripts and config/ files, then use the tools
//! (seed 004's quickstart). Packages the debug build to keep CI fast.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use system_tests::{binary, four_letter, free_port, wait_for};

fn sh(dir: &Path, line: &str, stdin: &str) -> std::process::Output {
    let mut c = Command::new("bash")
        .arg("-c")
        .arg(line)
        .current_dir(dir)
        .env_remove("KAFKA_TOOLS_BIN_DIR")
        .env_remove("CARGO_TARGET_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash");
    std::io::Write::write_all(c.stdin.as_mut().unwrap(), stdin.as_bytes()).unwrap();
    drop(c.stdin.take());
    c.wait_with_output().unwrap()
}

/// Kills the daemons started from one unpacked tarball, by their path.
struct Daemons(String);

impl Drop for Daemons {
    fn drop(&mut self) {
        let _ = Command::new("pkill").arg("-KILL").arg("-f").arg(&self.0).status();
    }
}

#[test]
fn tarball_quickstart() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let target = binary("zookeeperd").parent().unwrap().parent().unwrap().to_path_buf();
    let out = Command::new(repo.join("scripts/dist.sh"))
        .arg(tmp.path())
        .env("PROFILE", "debug")
        .env("SKIP_BUILD", "1")
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    assert!(out.status.success(), "dist.sh: {}", String::from_utf8_lossy(&out.stderr));
    let tgz = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(Command::new("tar").arg("-xzf").arg(&tgz).current_dir(tmp.path()).status().unwrap().success());
    let home =
        std::fs::read_dir(tmp.path()).unwrap().filter_map(|e| e.ok()).map(|e| e.path()).find(|p| p.is_dir()).unwrap();
    let _daemons = Daemons(home.display().to_string());
    for b in [
        "libexec/kafkad",
        "libexec/zookeeperd",
        "libexec/kafka-tools",
        "bin/kafka-topics.sh",
        "config/server.properties",
    ] {
        assert!(home.join(b).exists(), "{b} missing from the tarball");
    }
    // Point the quickstart configs at free ports and private dirs.
    let (zk, kafka) = (free_port(), free_port());
    let zcfg = std::fs::read_to_string(home.join("config/zookeeper.properties")).unwrap();
    let zcfg = zcfg
        .replace("dataDir=/tmp/zookeeper", &format!("dataDir={}/zk-data", home.display()))
        .replace("clientPort=2181", &format!("clientPort={zk}"));
    std::fs::write(home.join("config/zookeeper.properties"), zcfg).unwrap();
    let scfg = std::fs::read_to_string(home.join("config/server.properties")).unwrap();
    let scfg = scfg
        .replace("log.dirs=/tmp/kafka-logs", &format!("log.dirs={}/kafka-logs", home.display()))
        .replace("zookeeper.connect=localhost:2181", &format!("zookeeper.connect=localhost:{zk}"))
        + &format!("listeners=PLAINTEXT://localhost:{kafka}\n");
    std::fs::write(home.join("config/server.properties"), scfg).unwrap();

    let o = sh(&home, "bin/zookeeper-server-start.sh -daemon config/zookeeper.properties", "");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    wait_for("zookeeperd from the tarball", Duration::from_secs(20), || {
        four_letter(zk, "srvr").ok().filter(|r| r.contains("Mode: standalone"))
    });
    let o = sh(&home, "bin/kafka-server-start.sh -daemon config/server.properties", "");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bs = format!("localhost:{kafka}");
    let created = wait_for("kafka-topics --create", Duration::from_secs(30), || {
        let o = sh(&home, &format!("bin/kafka-topics.sh --create --partitions 1 --replication-factor 1 --topic quickstart-events --bootstrap-server {bs}"), "");
        o.status.success().then(|| String::from_utf8_lossy(&o.stdout).to_string())
    });
    assert_eq!(created.trim(), "Created topic quickstart-events.");
    let o = sh(
        &home,
        &format!("bin/kafka-console-producer.sh --topic quickstart-events --bootstrap-server {bs}"),
        "first event\nsecond event\n",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = sh(
        &home,
        &format!("bin/kafka-console-consumer.sh --topic quickstart-events --from-beginning --bootstrap-server {bs} --max-messages 2 --timeout-ms 20000"),
        "",
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), "first event\nsecond event\n");
    assert!(String::from_utf8_lossy(&o.stderr).contains("Processed a total of 2 messages"));
    // zkServer.sh status reads Mode: from srvr, as the real script does.
    let o = sh(&home, "bin/zkServer.sh status config/zookeeper.properties", "");
    assert!(String::from_utf8_lossy(&o.stdout).contains("Mode: standalone"), "{:?}", o);
}
