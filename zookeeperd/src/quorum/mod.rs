//! Ensemble membership building blocks, compatible with Apache ZooKeeper 3.8
//! servers. Nothing here does I/O except `cnx` and `peer`:
//!
//! - [`notification`]: the election port's wire codec (initial message,
//!   frames, FLE notifications) and the "larger sid keeps the connection"
//!   rule.
//! - [`packet`]: the quorum port's codec (ZAB's `QuorumPacket` and the
//!   payloads of discovery, sync and broadcast).
//! - [`cnx`] and [`peer`]: the one place the election does I/O: the
//!   election port's connections, and the task that feeds the state
//!   machine from them and carries out its actions.
//! - [`leader`]: the leader's side of ZAB (discovery, per-learner sync,
//!   quorum commits in zxid order) as a state machine.
//! - [`learner`]: a follower's side of ZAB (register, sync, follow) as a
//!   state machine over the leader's packets.
//! - [`snapstream`]: the database a leader streams after SNAP.
//! - [`epoch`]: the acceptedEpoch and currentEpoch files.
//! - [`election`]: FastLeaderElection as a sans-io state machine: inputs are
//!   received notifications and timer firings with the current time passed
//!   in; outputs are [`election::Action`]s for a driver to carry out.

pub mod cnx;
pub mod election;
pub mod epoch;
pub mod leader;
pub mod learner;
pub mod membership;
pub mod notification;
pub mod packet;
pub mod peer;
pub mod snapstream;
mod sync_plan;

#[cfg(test)]
mod election_tests;
#[cfg(test)]
mod leader_tests;
#[cfg(test)]
mod learner_tests;
#[cfg(test)]
mod notification_tests;
#[cfg(test)]
mod packet_tests;
#[cfg(test)]
mod sim;
#[cfg(test)]
mod sim_tests;

/// A server id (`myid`). Java `long`; observers without an id get negative
/// ones from the connection manager, and a non-voter proposes `i64::MIN`.
pub type Sid = i64;

/// `QuorumPeer.ServerState`; the discriminant is the ordinal on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerState {
    Looking = 0,
    Following = 1,
    Leading = 2,
    Observing = 3,
}

impl ServerState {
    /// Map a wire ordinal back to a state; other values are unknown.
    pub fn from_i32(v: i32) -> Option<ServerState> {
        match v {
            0 => Some(ServerState::Looking),
            1 => Some(ServerState::Following),
            2 => Some(ServerState::Leading),
            3 => Some(ServerState::Observing),
            _ => None,
        }
    }
}

/// `QuorumPeer.LearnerType`: participants vote, observers only learn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LearnerType {
    Participant,
    Observer,
}
