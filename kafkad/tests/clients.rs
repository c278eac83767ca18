//! kafkad driven by confluent-kafka (Python, librdkafka 2.x), plus crash
//! recovery and ZooKeeper-side topic creation.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{kcat, py_script, wait_for, Kafkad};

#[test]
fn confluent_kafka_codecs_idempotence_admin_and_groups() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let k = Kafkad::start(tmp.path(), "");
    let out = Command::new("timeout")
        .args(["300", "python3"])
        .arg(py_script("confluent_roundtrip.py"))
        .arg(k.bootstrap())
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ALL OK"),
        "stdout:\n{stdout}\nstderr:\n{}\nbroker log tail:\n{}",
        String::from_utf8_lossy(&out.stderr),
        k.log().lines().rev().take(30).collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn kill9_keeps_every_acknowledged_record() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut k = Kafkad::start(tmp.path(), "num.partitions=2\nlog.segment.bytes=20000");
    let mut producer = Command::new("python3")
        .arg(py_script("ack_producer.py"))
        .arg(k.bootstrap())
        .arg("crash")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3");
    let stdout = producer.stdout.take().expect("stdout");
    let mut acked: BTreeMap<(i32, i64), String> = BTreeMap::new();
    let mut lines = BufReader::new(stdout).lines();
    // Kill the broker mid-stream, once plenty of records are acknowledged.
    while acked.len() < 3000 {
        let Some(Ok(line)) = lines.next() else { panic!("producer ended early") };
        let parts: Vec<&str> = line.split_whitespace().collect();
        if let ["ACK", p, o, v] = parts[..] {
            acked.insert((p.parse().expect("p"), o.parse().expect("o")), v.to_string());
        }
    }
    k.kill9();
    let _ = producer.kill();
    // Acks already printed before the kill count as acknowledged too.
    for line in lines.map_while(Result::ok) {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if let ["ACK", p, o, v] = parts[..] {
            acked.insert((p.parse().expect("p"), o.parse().expect("o")), v.to_string());
        }
    }
    let _ = producer.wait();
    k.restart();
    assert!(k.log().contains("recovering logs"), "recovery ran after kill -9");
    for part in 0..2 {
        let want: Vec<(&i64, &String)> =
            acked.iter().filter(|((p, _), _)| *p == part).map(|((_, o), v)| (o, v)).collect();
        let out = wait_for("consume after restart", Duration::from_secs(30), || {
            let o = kcat(
                &[
                    "-b",
                    &k.bootstrap(),
                    "-C",
                    "-t",
                    "crash",
                    "-p",
                    &part.to_string(),
                    "-o",
                    "beginning",
                    "-e",
                    "-f",
                    "%o %s\n",
                ],
                None,
            );
            o.status.success().then_some(o)
        });
        let got: Vec<(i64, String)> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once(' ').map(|(o, v)| (o.parse().expect("offset"), v.to_string())))
            .collect();
        for (i, (o, _)) in got.iter().enumerate() {
            assert_eq!(*o, i as i64, "offsets contiguous from 0 in partition {part}");
        }
        let have: BTreeMap<i64, String> = got.into_iter().collect();
        for (o, v) in want {
            assert_eq!(have.get(o), Some(v), "acknowledged record {part}/{o} readable");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_written_into_zookeeper_under_chroot_goes_live() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut map = shared::ConfigMap::new();
    map.set("dataDir", tmp.path().join("zk").display().to_string());
    map.set("clientPort", "0");
    map.set("clientPortAddress", "127.0.0.1");
    map.set("admin.enableServer", "false");
    let zk = zookeeperd::start(zookeeperd::ZkConfig::from_map(&map).expect("zk config")).await.expect("zookeeperd");
    let connect = format!("{}/kafka1", zk.client_addr);
    let dir = tmp.path().join("broker");
    let extra = format!("zookeeper.connect={connect}");
    let k = tokio::task::spawn_blocking(move || Kafkad::start(&dir, &extra)).await.expect("start");

    // What `kafka-topics --zookeeper ... --create` (Kafka 2.x) writes.
    let client = zookeeper_client::Client::connect(&zk.client_addr.to_string()).await.expect("zk client");
    let opts = zookeeper_client::CreateMode::Persistent.with_acls(zookeeper_client::Acls::anyone_all());
    client.create("/kafka1/config/topics/zt", br#"{"version":1,"config":{}}"#, &opts).await.expect("config");
    client
        .create("/kafka1/brokers/topics/zt", br#"{"version":1,"partitions":{"0":[1],"1":[1]}}"#, &opts)
        .await
        .expect("topic");
    let b = k.bootstrap();
    tokio::task::spawn_blocking(move || {
        wait_for("topic zt online", Duration::from_secs(20), || {
            let o = kcat(&["-b", &b, "-L", "-t", "zt"], None);
            let t = String::from_utf8_lossy(&o.stdout).to_string();
            (t.contains("partition 0, leader 1") && t.contains("partition 1, leader 1")).then_some(())
        });
        let out = kcat(&["-b", &b, "-P", "-t", "zt", "-p", "1"], Some(b"from-zk\n"));
        assert!(out.status.success());
        let out = kcat(&["-b", &b, "-C", "-t", "zt", "-p", "1", "-o", "beginning", "-e"], None);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "from-zk\n");
    })
    .await
    .expect("kcat");
    // The controller filled in Kafka's layout.
    let (state, _) = client.get_data("/kafka1/brokers/topics/zt/partitions/0/state").await.expect("state");
    let v: serde_json::Value = serde_json::from_slice(&state).expect("json");
    assert_eq!(v["leader"], 1);
    assert_eq!(v["isr"], serde_json::json!([1]));
    let (topic, _) = client.get_data("/kafka1/brokers/topics/zt").await.expect("topic");
    let v: serde_json::Value = serde_json::from_slice(&topic).expect("json");
    assert_eq!(v["version"], 3);
    assert_eq!(v["topic_id"].as_str().map(str::len), Some(22));
    // An old tool rewrites the topic without its id (Kafka 2.x --alter
    // --partitions): the topic keeps its id and its data, and grows.
    let id = v["topic_id"].clone();
    client
        .set_data("/kafka1/brokers/topics/zt", br#"{"version":1,"partitions":{"0":[1],"1":[1],"2":[1]}}"#, None)
        .await
        .expect("rewrite");
    let b = k.bootstrap();
    tokio::task::spawn_blocking(move || {
        wait_for("partition 2 online", Duration::from_secs(20), || {
            let o = kcat(&["-b", &b, "-L", "-t", "zt"], None);
            String::from_utf8_lossy(&o.stdout).contains("partition 2, leader 1").then_some(())
        });
        let out = kcat(&["-b", &b, "-C", "-t", "zt", "-p", "1", "-o", "beginning", "-e"], None);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "from-zk\n", "the old records survive");
    })
    .await
    .expect("kcat");
    let (topic, _) = client.get_data("/kafka1/brokers/topics/zt").await.expect("topic");
    let v: serde_json::Value = serde_json::from_slice(&topic).expect("json");
    assert_eq!(v["topic_id"], id, "the controller restamps the id the topic had");
    let (ctl, _) = client.get_data("/kafka1/controller").await.expect("controller");
    let v: serde_json::Value = serde_json::from_slice(&ctl).expect("json");
    assert_eq!(v["brokerid"], 1);
    let (ep, _) = client.get_data("/kafka1/controller_epoch").await.expect("epoch");
    assert_eq!(ep, b"1");
    let (reg, _) = client.get_data("/kafka1/brokers/ids/1").await.expect("registration");
    let v: serde_json::Value = serde_json::from_slice(&reg).expect("json");
    assert_eq!(v["version"], 5);
    assert_eq!(v["endpoints"][0], format!("PLAINTEXT://127.0.0.1:{}", k.port));
    let (cid, _) = client.get_data("/kafka1/cluster/id").await.expect("cluster id");
    let v: serde_json::Value = serde_json::from_slice(&cid).expect("json");
    assert_eq!(v["version"], "1");
    drop(k);
    let _ = zk.stop().await;
}
