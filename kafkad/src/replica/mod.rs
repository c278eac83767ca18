//! Replication between brokers, as ZooKeeper-mode Kafka does it: followers
//! fetch from the leader (`fetcher`), the leader tracks their positions in
//! `partition::isr` and writes ISR changes to the partition's state znode
//! (`isr`). The controller elects leaders from the ISR when brokers die.

pub mod fetcher;
pub mod isr;

use std::sync::Arc;

use crate::broker::Broker;

pub fn spawn(broker: Arc<Broker>, shutdown: &shared::shutdown::Shutdown) {
    tokio::spawn(fetcher::manage(broker.clone(), shutdown.subscribe()));
    tokio::spawn(isr::shrink_loop(broker, shutdown.subscribe()));
}
