//! The core's timer: the role's half-tick work, systemd, autopurge, and
//! (alone or leading) session expiry and container/TTL reaping.

use std::time::{Duration, Instant};

use super::core::{now_ms, Core};
use super::role::Role;
use super::Outbound;
use crate::jute::records::Id;
use crate::persist::LogCmd;
use crate::tree::ephemeral::NodeKind;
use crate::txn::Txn;

impl Core {
    pub(crate) fn on_tick(&mut self) {
        let now = Instant::now();
        self.role_tick();
        self.systemd_tick();
        // Only a server that commits on its own, or leads, expires
        // sessions and reaps containers; followers hear of it in commits.
        let commits = match &self.role {
            Role::Standalone => true,
            Role::Leading(l) => l.leader.serving() && !l.leader.snapshot_waiting(),
            _ => false,
        };
        let purge_every = Duration::from_secs(self.config.purge_interval as u64 * 3600);
        if self.config.purge_interval > 0 && now.duration_since(self.last_purge) >= purge_every {
            self.last_purge = now;
            let _ = self.log.send(LogCmd::Purge { retain: self.config.snap_retain_count });
        }
        // Local sessions expire where they live, without a txn.
        for id in self.sessions.take_expired(now, true) {
            tracing::info!(session = format_args!("0x{id:x}"), "expiring local session: timeout exceeded");
            if let Some(c) = self.sessions.remove(id).and_then(|s| s.conn) {
                self.send(c, Outbound::Close);
            }
        }
        if !commits {
            return;
        }
        for id in self.sessions.take_expired(now, false) {
            tracing::info!(session = format_args!("0x{id:x}"), "expiring session: timeout exceeded");
            let _ = self.commit(id, 0, Txn::CloseSession { paths: None });
            if let Some(s) = self.sessions.remove(id) {
                if let Some(c) = s.conn {
                    self.send(c, Outbound::Close);
                }
            }
        }
        if now.duration_since(self.last_container_check) >= self.config.container_check_interval {
            self.last_container_check = now;
            self.reap_containers();
        }
    }

    /// Delete empty containers that once had children, and TTL nodes with
    /// no children left unmodified for longer than their TTL.
    fn reap_containers(&mut self) {
        let now = now_ms();
        let mut doomed = Vec::new();
        for p in self.tree.containers().iter().chain(self.tree.ttls().iter()) {
            let Some(n) = self.tree.get(p) else { continue };
            if !n.children.is_empty() {
                continue;
            }
            let expired = match n.kind() {
                NodeKind::Container => n.stat.cversion > 0,
                NodeKind::Ttl(ttl) => now - n.stat.mtime > ttl,
                _ => false,
            };
            if expired {
                doomed.push(p.clone());
            }
        }
        let super_id = [Id::new("super", "")];
        for p in doomed {
            let txn = crate::ops::data::prepare_delete(&mut crate::ops::view::Direct(&self.tree), &super_id, &p, -1);
            if let Ok(txn) = txn {
                tracing::debug!(path = %p, "reaping container/TTL node");
                let _ = self.commit(0, 0, txn);
            }
        }
    }
}
