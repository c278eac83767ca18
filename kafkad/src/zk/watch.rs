//! One persistent recursive watch (ZooKeeper 3.6+ AddWatch) on the root of
//! the broker's chroot. The metadata sync and the controller each wait on
//! one and re-read what they need after any change.
//!
//! Why not one-shot watches per znode, as Kafka sets them: a one-shot
//! watcher dropped before it fires makes zookeeper-client send
//! RemoveWatches for its path, and when another watch on that path (set by
//! the other loop, or by the next round) is still in flight, the server
//! removes that one too and its event is never delivered. A persistent
//! watch lives as long as the session, so nothing is ever removed.
//!
//! After a reconnect on the same session the client re-sends its watches
//! (SetWatches2), and the watch is also added afresh before the next read,
//! as Kafka's ZooKeeperClient re-registers on SyncConnected: a server that
//! lost the watch (a client crate that did not re-send it, see
//! patches/zookeeper-client) would otherwise leave the broker deaf.

use zookeeper_client::{AddWatchMode, Error as ZkErr, PersistentWatcher, SessionState, WatchedEvent};

use super::Zk;

#[derive(Default)]
pub struct TreeWatch {
    /// The watcher and the session it belongs to.
    armed: Option<(i64, PersistentWatcher)>,
    /// The connection was re-established since the watch was added.
    reconnected: bool,
}

impl TreeWatch {
    /// Make sure the watch exists on the current session. Call before
    /// reading, so that no change after the read goes unseen.
    pub async fn arm(&mut self, zk: &Zk) -> Result<(), ZkErr> {
        let client = zk.client();
        let session = client.session_id().0;
        if self.armed.as_ref().map(|(s, _)| *s) != Some(session) || self.reconnected {
            // The old watcher is dropped only once the new one is in place:
            // the client sends RemoveWatches only when a path has no
            // watcher of that kind left, so the server keeps the watch.
            let w = client.watch("/", AddWatchMode::PersistentRecursive).await?;
            self.armed = Some((session, w));
            self.reconnected = false;
        }
        Ok(())
    }

    /// Wait for a change anywhere below the root, then take every change
    /// already queued too (one re-read covers them all). A session event
    /// counts as a change: events may be lost across a reconnection, so the
    /// caller re-arms and re-reads. An
    /// expired or closed session disarms the watch and is an error.
    pub async fn changed(&mut self) -> Result<(), ZkErr> {
        let Some((_, w)) = self.armed.as_mut() else {
            return Err(ZkErr::ConnectionLoss);
        };
        let first = w.changed().await;
        self.check(&first)?;
        loop {
            let Some((_, w)) = self.armed.as_mut() else { return Ok(()) };
            match tokio::time::timeout(std::time::Duration::ZERO, w.changed()).await {
                Ok(ev) => self.check(&ev)?,
                Err(_) => return Ok(()),
            }
        }
    }

    fn check(&mut self, ev: &WatchedEvent) -> Result<(), ZkErr> {
        match ev.session_state {
            // The watcher panics if polled after a terminal event.
            SessionState::Expired => {
                self.armed = None;
                Err(ZkErr::SessionExpired)
            }
            SessionState::Closed | SessionState::AuthFailed => {
                self.armed = None;
                Err(ZkErr::ClientClosed)
            }
            SessionState::SyncConnected | SessionState::ConnectedReadOnly => {
                self.reconnected = true;
                Ok(())
            }
            _ => Ok(()),
        }
    }
}
