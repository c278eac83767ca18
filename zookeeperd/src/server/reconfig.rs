//! The core's side of dynamic reconfiguration: what a reconfig request is
//! checked against while leading, the membership a proposed reconfig
//! names, and taking a committed one on (Apache's processReconfig): the
//! quorum's peers and voters, zoo.cfg and its dynamic file, and whether
//! our role or leader changed, which ends the role.

use std::collections::{BTreeSet, HashMap};

use super::core::Core;
use super::role::Role;
use crate::ops::reconfig::QuorumView;
use crate::quorum::membership::Membership;
use crate::quorum::Sid;
use crate::tree::CONFIG_PATH;

impl Core {
    /// The leader's view for a reconfig request; `None` elsewhere.
    pub(crate) fn reconfig_view(&self) -> Option<QuorumView> {
        let (Role::Leading(l), Some(q)) = (&self.role, self.quorum.as_ref()) else { return None };
        Some(QuorumView {
            committed: q.membership.clone(),
            last_seen: q.last_seen.clone().unwrap_or_else(|| q.membership.clone()),
            synced: l.leader.synced(),
            next_zxid: l.leader.next_zxid(),
        })
    }

    /// A reconfig txn is being proposed: its voters (for the leader's
    /// dual quorum), remembered as the last seen membership, and written
    /// to zoo.cfg.dynamic.next as Apache does.
    pub(crate) fn reconfig_proposed(&mut self, data: &[u8]) -> Option<BTreeSet<Sid>> {
        let m = Membership::parse(&String::from_utf8_lossy(data)).ok()?;
        let voters = m.voters();
        if let Some(src) = self.config.source.as_deref() {
            if let Err(e) = m.write_next(src) {
                tracing::error!(error = %e, "cannot write the next dynamic config file");
            }
        }
        if let Some(q) = self.quorum.as_mut() {
            q.last_seen = Some(m);
        }
        Some(voters)
    }

    /// The reconfig `zxid` committed (it is in the tree): take it on.
    /// Returns whether our role or leader changes.
    pub(crate) fn activate_committed(&mut self, zxid: i64, designated: Sid) -> bool {
        let data = self.tree.get(CONFIG_PATH).and_then(|n| n.data.clone()).unwrap_or_default();
        match Membership::parse(&String::from_utf8_lossy(&data)) {
            Ok(m) if m.version == zxid => self.activate(m, Some(designated)),
            Ok(m) => {
                tracing::error!(
                    zxid = format_args!("{zxid:#x}"),
                    version = m.version,
                    "activated config is not the reconfig's"
                );
                false
            }
            Err(e) => {
                tracing::error!(zxid = format_args!("{zxid:#x}"), error = %e, "committed config does not parse");
                false
            }
        }
    }

    /// A leader's membership from NEWLEADER, taken on if newer.
    pub(crate) fn activate_text(&mut self, data: &[u8]) -> bool {
        match Membership::parse(&String::from_utf8_lossy(data)) {
            Ok(m) => self.activate(m, None),
            Err(e) => {
                tracing::warn!(error = %e, "leader's config does not parse; kept ours");
                false
            }
        }
    }

    /// Make `m` our membership if it is newer (Apache's processReconfig,
    /// which does nothing without reconfigEnabled).
    fn activate(&mut self, m: Membership, designated: Option<Sid>) -> bool {
        if !self.config.reconfig_enabled {
            return false;
        }
        let leader = match &self.role {
            Role::Leading(_) => self.quorum.as_ref().map(|q| q.sid),
            Role::Following(f) => Some(f.leader_sid),
            _ => None,
        };
        let Some(q) = self.quorum.as_mut() else { return false };
        if m.version <= q.membership.version {
            return false;
        }
        tracing::info!(version = format_args!("{:x}", m.version), members = ?m.servers.keys().collect::<Vec<_>>(), "new membership");
        let old = std::mem::replace(&mut q.membership, m.clone());
        q.last_seen = None;
        let mut peers = HashMap::new();
        for (id, s) in &m.servers {
            match crate::quorum::peer::resolve(&s.host, s.quorum_port) {
                Ok(a) => {
                    peers.insert(*id as Sid, a);
                }
                Err(e) => tracing::warn!(sid = id, error = %e, "member's quorum address does not resolve"),
            }
        }
        if let Some(a) = peers.get(&q.sid) {
            q.quorum_addr = *a;
        }
        q.peers = peers;
        let was_observer = q.observer;
        q.observer = m.is_observer(q.sid);
        let me = q.sid as u64;
        // Ours alone from here (the 4lw and admin read the core's).
        let config = std::sync::Arc::make_mut(&mut self.config);
        // A server taken out keeps its own line to elect with (it
        // follows as a non-voter, as Apache's does).
        if !m.servers.contains_key(&me) {
            if let Some(line) = config.servers.get(&me).cloned() {
                config.own_line_removed = Some(line);
            }
        }
        let erase_client = m.servers.get(&me).is_some_and(|s| s.client_port.is_some());
        config.servers = m.servers.clone();
        config.config_version = m.version;
        if let Some(src) = config.source.clone() {
            match m.write_committed(&src, erase_client) {
                Ok(p) => config.dynamic_config_file = Some(p),
                Err(e) => tracing::error!(error = %e, file = %src.display(), "cannot write the new dynamic config"),
            }
        }
        if let Role::Leading(l) = &mut self.role {
            l.leader.set_verifier(m.verifier().into_bytes());
        }
        self.init_config_node();
        let role_change = was_observer != m.is_observer(me as Sid);
        let leader_change = match (designated, leader) {
            (Some(d), Some(l)) => d != l,
            (None, Some(l)) => {
                let addr = |mm: &Membership| mm.servers.get(&(l as u64)).map(|s| (s.host.clone(), s.quorum_port));
                !m.voters().contains(&l) || addr(&old) != addr(&m)
            }
            _ => false,
        };
        role_change || leader_change
    }
}
