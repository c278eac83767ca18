//! zookeeperd's leader election in one ensemble with Apache ZooKeeper 3.8
//! servers (Debian's package). Server 1 is zookeeperd's election
//! (`quorum::peer`, read from a zoo.cfg and myid as the seeds write them);
//! servers 2 and 3 are Apache's QuorumPeerMain. All three must agree on
//! the leader, from scratch and when zookeeperd joins a settled ensemble,
//! and Apache must accept everything we send (connections, initial
//! messages, notifications and their config bytes).

mod common;

use std::time::{Duration, Instant};

use common::ensemble::{logs, Ensemble, QuorumPeer};
use zookeeperd::quorum::peer::{self, ElectionSetup};
use zookeeperd::quorum::ServerState;
use zookeeperd::ZkConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zookeeperd_and_apache_servers_elect_one_leader() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ensemble = Ensemble::configure(tmp.path());

    // zookeeperd's server 1 starts alone: no quorum, so no decision.
    let ours = ZkConfig::load(&ensemble.cfgs[0]).expect("zoo.cfg loads");
    let setup = ElectionSetup::from_config(&ours, 0, 0).expect("election setup");
    assert_eq!((setup.my_sid, setup.voters.clone()), (1, vec![1, 2, 3]));
    let mut election = peer::start(setup.clone()).await.expect("election port");
    assert!(
        tokio::time::timeout(Duration::from_millis(1500), election.decided()).await.is_err(),
        "no decision without a quorum"
    );

    // Apache's servers 2 and 3 join; all three pick server 3 (equal
    // histories: the highest sid wins).
    let apache: Vec<QuorumPeer> = (2..=3).map(|sid| ensemble.start_apache(sid)).collect();
    let decided = tokio::time::timeout(Duration::from_secs(60), election.decided()).await;
    let (vote, state) = decided.ok().flatten().unwrap_or_else(|| panic!("no decision:\n{}", logs(&apache)));
    assert_eq!((vote.leader, state), (3, ServerState::Following), "{vote:?}");

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let modes = (apache[0].mode(), apache[1].mode());
        if modes == (Some("follower".into()), Some("leader".into())) {
            break;
        }
        assert!(Instant::now() < deadline, "Apache modes {modes:?}:\n{}", logs(&apache));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // zookeeperd's server restarts its election against the settled
    // ensemble: the others answer with their FOLLOWING/LEADING votes and
    // it follows the same leader.
    election.stop().await;
    let mut again = peer::start(setup).await.expect("election port again");
    let decided = tokio::time::timeout(Duration::from_secs(30), again.decided()).await;
    let (vote, state) = decided.ok().flatten().unwrap_or_else(|| panic!("no decision on rejoin:\n{}", logs(&apache)));
    assert_eq!((vote.leader, state), (3, ServerState::Following), "{vote:?}");

    // Apache parsed every notification's config bytes.
    for a in &apache {
        let log = a.log();
        // The log is the server's own (it shows the election's outcome)...
        assert!(log.contains("LEADING") || log.contains("FOLLOWING"), "{log}");
        // ...and it refused nothing we sent.
        assert!(!log.contains("Something went wrong while processing config"), "{log}");
        assert!(!log.contains("Exception while listening"), "{log}");
    }
}
