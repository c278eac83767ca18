//! Leader epochs across a kill -9 and restart of a leader's broker, counted
//! as Kafka's controller counts them: every leader change (another leader,
//! or none) is a new leader epoch. The broker comes back well within its
//! ZooKeeper session, so the controller sees it only re-registered (a
//! bounce, in Kafka's words), never gone.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{rpc, wait_for, Kafkad};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use system_tests::ZkServer;

const T: Duration = Duration::from_secs(60);

/// (leader, leader_epoch, isr) of one partition's state znode.
type State = (i32, i32, Vec<i32>);

/// Reads partition states from ZooKeeper and keeps every distinct state
/// each partition was seen in, in order.
struct StateLog {
    rt: tokio::runtime::Runtime,
    client: zookeeper_client::Client,
    seen: BTreeMap<(String, i32), Vec<State>>,
}

impl StateLog {
    fn connect(addr: &str) -> StateLog {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let client = rt.block_on(zookeeper_client::Client::connect(addr)).expect("zk client");
        StateLog { rt, client, seen: BTreeMap::new() }
    }

    fn state(&mut self, topic: &str, p: i32) -> Option<State> {
        let path = format!("/brokers/topics/{topic}/partitions/{p}/state");
        let (data, _) = self.rt.block_on(self.client.get_data(&path)).ok()?;
        let v: serde_json::Value = serde_json::from_slice(&data).expect("state json");
        let isr = v["isr"].as_array().expect("isr").iter().map(|b| b.as_i64().expect("id") as i32).collect();
        let s = (v["leader"].as_i64()? as i32, v["leader_epoch"].as_i64()? as i32, isr);
        let seen = self.seen.entry((topic.to_string(), p)).or_default();
        if seen.last() != Some(&s) {
            seen.push(s.clone());
        }
        Some(s)
    }

    /// Poll until `topic`-`p` is led by `leader` under an epoch other than
    /// `not_epoch`; on timeout, fail with every state seen.
    fn wait_led(&mut self, topic: &str, p: i32, leader: i32, not_epoch: i32) -> State {
        let deadline = std::time::Instant::now() + T;
        loop {
            if let Some(s) = self.state(topic, p).filter(|(l, e, _)| *l == leader && *e != not_epoch) {
                return s;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{topic}-{p} not led by {leader} under a new epoch; states seen: {:?}",
                self.history(topic, p)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn history(&self, topic: &str, p: i32) -> &[State] {
        self.seen.get(&(topic.to_string(), p)).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Epochs never go back, and a different leader always comes with a
    /// higher epoch.
    fn assert_epochs_fence_leaders(&self, topic: &str, p: i32) {
        let h = self.history(topic, p);
        for w in h.windows(2) {
            let ((l0, e0, _), (l1, e1, _)) = (&w[0], &w[1]);
            assert!(e1 >= e0, "{topic}-{p}: leader epoch went back: {h:?}");
            assert!(l0 == l1 || e1 > e0, "{topic}-{p}: leader changed within one epoch: {h:?}");
        }
    }
}

/// The leader epoch `port` reports for a partition in Metadata.
fn metadata_epoch(port: u16, topic: &str, p: i32) -> Option<(i32, i32)> {
    let mut t = MetadataRequestTopic::default();
    t.name = Some(TopicName(StrBytes::from_string(topic.to_string())));
    let mut req = MetadataRequest::default();
    req.topics = Some(vec![t]);
    let resp: MetadataResponse = rpc(port, 9, &req);
    let pm = resp.topics.first()?.partitions.iter().find(|x| x.partition_index == p)?;
    Some((pm.leader_id.0, pm.leader_epoch))
}

#[test]
fn a_restarted_leader_leads_again_only_under_a_new_leader_epoch() {
    let zk = ZkServer::start(&[]);
    let tmp = tempfile::tempdir().expect("tempdir");
    // A session far longer than a restart: the old registration is still
    // there when the broker comes back. A short rebalance interval brings
    // the preferred leader back soon after it is in sync again.
    let extra = "zookeeper.session.timeout.ms=30000\nleader.imbalance.check.interval.seconds=1";
    let mut brokers: Vec<Kafkad> =
        (0..3).map(|id| Kafkad::start_member(&tmp.path().join(format!("b{id}")), id, &zk.addr(), extra)).collect();
    let mut zkv = StateLog::connect(&zk.addr());
    common::create_topic(brokers[0].port, "trio", 1, 3, &[]);
    common::create_topic(brokers[0].port, "solo", 3, 1, &[]);

    let (b, trio_epoch) = wait_for("trio-0 led with the full ISR", T, || {
        zkv.state("trio", 0).filter(|(l, _, isr)| *l >= 0 && isr.len() == 3).map(|(l, e, _)| (l, e))
    });
    // One single-replica partition per broker; the one on `b` dies with it.
    let solo = wait_for("every solo partition led", T, || {
        let states: Vec<State> = (0..3).map_while(|p| zkv.state("solo", p)).collect();
        (states.len() == 3 && states.iter().all(|s| s.0 >= 0)).then_some(states)
    });
    let (sp, (_, solo_epoch, _)) =
        solo.into_iter().enumerate().find(|(_, s)| s.0 == b).expect("a solo partition on the trio leader");
    let sp = sp as i32;

    brokers[b as usize].kill9();
    brokers[b as usize].restart();

    // The lone replica: offline (leader -1, epoch + 1), then its broker
    // leads again (epoch + 2), as Kafka's OfflineReplica and
    // OfflinePartitionLeaderElection write them.
    let back = zkv.wait_led("solo", sp, b, solo_epoch);
    zkv.assert_epochs_fence_leaders("solo", sp);
    assert_eq!(back.1, solo_epoch + 2, "solo-{sp}: offline, then back: {:?}", zkv.history("solo", sp));
    let solo_back = back.1;

    // The replicated partition: a survivor leads (epoch + 1); the broker
    // catches up, rejoins the ISR and, preferred, leads again (epoch + 2).
    let back = zkv.wait_led("trio", 0, b, trio_epoch);
    zkv.assert_epochs_fence_leaders("trio", 0);
    assert_eq!(back.1, trio_epoch + 2, "trio-0: failover, then preferred again: {:?}", zkv.history("trio", 0));

    // Every broker serves the new epochs in Metadata.
    for k in &brokers {
        wait_for("metadata with the new leader epochs", T, || {
            (metadata_epoch(k.port, "solo", sp) == Some((b, solo_back))
                && metadata_epoch(k.port, "trio", 0) == Some((b, back.1)))
            .then_some(())
        });
    }
}
