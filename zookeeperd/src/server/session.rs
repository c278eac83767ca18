//! Session liveness: when each session expires and which connection holds
//! it. Not replicated; the replicated part (id -> timeout) is in the tree.

use crate::watch::ConnId;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Java's `Random(seed).nextBytes(16)` with seed `sessionId ^ 0xB3415C00`:
/// ZooKeeper derives session passwords this way, so any server (and a
/// restarted one) can check a password without storing it.
pub fn password(session_id: i64) -> Vec<u8> {
    const MULT: i64 = 0x5DEECE66D;
    const MASK: i64 = (1 << 48) - 1;
    let mut seed = ((session_id ^ 0xB341_5C00) ^ MULT) & MASK;
    let mut next_int = || {
        seed = (seed.wrapping_mul(MULT).wrapping_add(0xB)) & MASK;
        (seed >> 16) as i32
    };
    let mut out = Vec::with_capacity(16);
    while out.len() < 16 {
        let mut rnd = next_int();
        for _ in 0..4.min(16 - out.len()) {
            out.push(rnd as u8);
            rnd >>= 8;
        }
    }
    out
}

/// First session id: the server id in the top byte, time below.
pub fn initial_session_id(server_id: u64, now_ms: i64) -> i64 {
    let t = ((now_ms as u64) << 24) >> 8;
    (t | (server_id << 56)) as i64
}

#[derive(Debug)]
pub struct SessionState {
    pub timeout: Duration,
    pub expires_at: Instant,
    pub conn: Option<ConnId>,
    /// Expiry or close has been logged; ignore further requests.
    pub closing: bool,
    /// A local session (localSessionsEnabled): known to this server only,
    /// opened and closed without a txn, expired here.
    pub local: bool,
}

#[derive(Default)]
pub struct SessionTracker {
    sessions: HashMap<i64, SessionState>,
}

impl SessionTracker {
    pub fn add(&mut self, id: i64, timeout_ms: i32, conn: Option<ConnId>, now: Instant) {
        let timeout = Duration::from_millis(timeout_ms.max(0) as u64);
        self.sessions
            .insert(id, SessionState { timeout, expires_at: now + timeout, conn, closing: false, local: false });
    }

    pub fn add_local(&mut self, id: i64, timeout_ms: i32, conn: Option<ConnId>, now: Instant) {
        self.add(id, timeout_ms, conn, now);
        if let Some(s) = self.sessions.get_mut(&id) {
            s.local = true;
        }
    }

    pub fn is_local(&self, id: i64) -> bool {
        self.sessions.get(&id).is_some_and(|s| s.local)
    }

    /// Sessions held here (global, local).
    pub fn counts(&self) -> (usize, usize) {
        let local = self.sessions.values().filter(|s| s.local).count();
        (self.sessions.len() - local, local)
    }

    pub fn get(&self, id: i64) -> Option<&SessionState> {
        self.sessions.get(&id)
    }

    pub fn get_mut(&mut self, id: i64) -> Option<&mut SessionState> {
        self.sessions.get_mut(&id)
    }

    pub fn touch(&mut self, id: i64, now: Instant) {
        if let Some(s) = self.sessions.get_mut(&id) {
            if !s.closing {
                s.expires_at = now + s.timeout;
            }
        }
    }

    pub fn remove(&mut self, id: i64) -> Option<SessionState> {
        self.sessions.remove(&id)
    }

    /// Sessions past their deadline, marked closing so they expire once:
    /// the global ones or (`local`) the local ones.
    pub fn take_expired(&mut self, now: Instant, local: bool) -> Vec<i64> {
        let mut out: Vec<i64> = self
            .sessions
            .iter_mut()
            .filter(|(_, s)| !s.closing && s.expires_at <= now && s.local == local)
            .map(|(id, s)| {
                s.closing = true;
                *id
            })
            .collect();
        out.sort();
        out
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&i64, &SessionState)> {
        self.sessions.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_java_random() {
        // From Java: new Random(0x0123456789abcdefL ^ 0xB3415C00L).nextBytes(new byte[16])
        let want: [u8; 16] = [247, 205, 27, 139, 63, 148, 108, 71, 116, 37, 212, 27, 227, 246, 103, 198];
        assert_eq!(password(0x0123_4567_89ab_cdef), want);
        assert_ne!(password(42), password(43));
    }
}
