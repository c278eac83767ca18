//! What systemd hears from a zookeeperd service (Type=notify): READY=1 the
//! first time the server serves (an ensemble member once its quorum is in
//! sync), a STATUS= line naming its role, zxid and clients whenever they
//! change, and watchdog pings from the core's own tick, so a core that
//! stops turning gets the service restarted.

use std::time::{Duration, Instant};

use super::core::Core;
use super::role::Role;

#[derive(Default)]
pub struct Systemd {
    ready: bool,
    status: String,
    watchdog: Option<(Duration, Instant)>,
    checked_watchdog: bool,
}

impl Core {
    pub(crate) fn systemd_tick(&mut self) {
        if !self.config.systemd_notify {
            return;
        }
        let status = self.status_line();
        let serving = self.serving() && !self.read_only();
        let sd = &mut self.systemd;
        if !sd.checked_watchdog {
            sd.checked_watchdog = true;
            sd.watchdog = shared::readiness::watchdog_interval().map(|d| (d / 2, Instant::now()));
        }
        if let Some((every, last)) = &mut sd.watchdog {
            if last.elapsed() >= *every {
                *last = Instant::now();
                shared::readiness::notify_watchdog();
            }
        }
        if status != sd.status {
            shared::readiness::notify_status(&status);
            sd.status = status;
        }
        if serving && !sd.ready {
            sd.ready = true;
            shared::readiness::notify_ready();
        }
    }

    /// e.g. "following leader 2, zxid 0x300000012, 4 clients".
    fn status_line(&self) -> String {
        let zxid = self.tree.last_zxid();
        let clients = self.conns.len();
        match &self.role {
            Role::Standalone => format!("standalone, zxid {zxid:#x}, {clients} clients"),
            Role::Looking if self.read_only() => format!("read-only, looking for a leader, {clients} clients"),
            Role::Looking => "looking for a leader".to_string(),
            Role::Leading(l) if !l.leader.serving() => "leading; syncing followers".to_string(),
            Role::Leading(l) => format!(
                "leading, {} of {} followers synced, zxid {zxid:#x}, {clients} clients",
                l.leader.forwarding_count(),
                self.quorum.as_ref().map_or(0, |q| q.voters().len().saturating_sub(1))
            ),
            Role::Following(f) if !f.serving => format!("following leader {}; syncing", f.leader_sid),
            Role::Following(f) if f.observer => {
                format!("observing leader {}, zxid {zxid:#x}, {clients} clients", f.leader_sid)
            }
            Role::Following(f) => format!("following leader {}, zxid {zxid:#x}, {clients} clients", f.leader_sid),
        }
    }
}
