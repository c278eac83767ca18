//! The core's part in an ensemble: which role it plays (looking, leading,
//! following) and what each role holds. The protocol decisions are the
//! `quorum` state machines'; the core carries out their actions against
//! the tree, the log and the client connections (`leading`, `following`,
//! `ensemble`), and the sockets are `quorum_io`'s.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::jute::request::Request;
use crate::ops::ReplyKind;
use crate::quorum::leader::Leader;
use crate::quorum::learner::{Action as LearnerAction, Learner};
use crate::quorum::packet::QuorumPacket;
use crate::quorum::{ServerState, Sid};
use crate::tree::DataTree;
use crate::watch::ConnId;

/// Bytes queued to one quorum-port peer's writer task.
pub type PeerTx = mpsc::UnboundedSender<Bytes>;

/// Events from the election and the quorum port, stamped with the role
/// generation they belong to: anything from an older role is dropped.
pub enum QuorumEvent {
    Elected {
        gen: u64,
        leader: Sid,
        state: ServerState,
    },
    LearnerConnected {
        gen: u64,
        conn: u64,
        tx: PeerTx,
        remote: SocketAddr,
    },
    FromLearner {
        gen: u64,
        conn: u64,
        qp: QuorumPacket,
    },
    LearnerGone {
        gen: u64,
        conn: u64,
        reason: String,
    },
    LeaderConnected {
        gen: u64,
        tx: PeerTx,
    },
    FromLeader {
        gen: u64,
        qp: QuorumPacket,
    },
    /// The database that followed a SNAP, decoded by the reader task.
    Snapshot {
        gen: u64,
        tree: Box<DataTree>,
    },
    LeaderGone {
        gen: u64,
        reason: String,
    },
}

impl QuorumEvent {
    pub fn gen(&self) -> u64 {
        match self {
            QuorumEvent::Elected { gen, .. }
            | QuorumEvent::LearnerConnected { gen, .. }
            | QuorumEvent::FromLearner { gen, .. }
            | QuorumEvent::LearnerGone { gen, .. }
            | QuorumEvent::LeaderConnected { gen, .. }
            | QuorumEvent::FromLeader { gen, .. }
            | QuorumEvent::Snapshot { gen, .. }
            | QuorumEvent::LeaderGone { gen, .. } => *gen,
        }
    }
}

/// A request held back while a leader's writes are held.
pub enum HeldRequest {
    Client(super::CoreMsg),
    Learner { conn: u64, request: crate::quorum::packet::ForwardedRequest, auth: Vec<crate::jute::records::Id> },
}

/// What the server is doing in its ensemble.
pub enum Role {
    /// No ensemble: the core commits on its own.
    Standalone,
    /// Electing a leader; clients are turned away.
    Looking,
    Leading(Box<Leading>),
    Following(Box<Following>),
}

pub struct Leading {
    pub leader: Leader,
    pub learners: HashMap<u64, PeerTx>,
    /// Everything up to here has committed (quorum acked, ours durable).
    pub committed: i64,
    /// Learners' SYNCs waiting for a commit: (zxid, learner).
    pub syncs: VecDeque<(i64, u64)>,
    pub listener: tokio::task::JoinHandle<()>,
}

impl Drop for Leading {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// A client request a follower sent to the leader, awaiting its commit
/// (or, for a sync, the leader's SYNC).
pub enum Forwarded {
    /// `error`: the reply if the leader's txn failed, in place of its
    /// error (a local session's ephemeral create, as Apache's learner
    /// answers it).
    Write {
        xid: i32,
        kind: ReplyKind,
        received: Instant,
        error: Option<crate::error::ZkError>,
    },
    Sync {
        xid: i32,
        path: String,
        received: Instant,
    },
}

/// A client request held back behind its connection's forwarded ones, so
/// replies keep request order.
pub struct Waiting {
    pub xid: i32,
    pub opcode: i32,
    pub req: Request,
    pub body: Bytes,
    pub received: Instant,
    /// See `Forwarded::Write`.
    pub error: Option<crate::error::ZkError>,
}

#[derive(Default)]
pub struct ConnQueue {
    pub forwarded: VecDeque<Forwarded>,
    pub waiting: VecDeque<Waiting>,
}

/// A client's connect waiting on the leader: a new session's
/// createSession commit, or the leader's REVALIDATE answer.
pub struct PendingConnect {
    pub conn: ConnId,
    pub timeout: i32,
    pub read_only: Option<bool>,
}

pub struct Following {
    pub leader_sid: Sid,
    /// Learning as an observer: no vote, commits arrive as INFORM.
    pub observer: bool,
    pub learner: Learner,
    pub tx: Option<PeerTx>,
    pub serving: bool,
    /// Logged and not yet committed, in zxid order.
    pub pending: VecDeque<(i64, Vec<u8>)>,
    /// Must be durable before the deferred actions run (acks follow logs).
    pub barrier: i64,
    pub deferred: VecDeque<(i64, LearnerAction)>,
    /// Set by ReadSnapshot: the next event is the leader's database.
    pub awaiting_snapshot: bool,
    pub queues: HashMap<ConnId, ConnQueue>,
    /// Connections with a forwarded sync, in the order sent.
    pub syncs: VecDeque<ConnId>,
    pub connects: HashMap<i64, PendingConnect>,
    pub revalidations: HashMap<i64, PendingConnect>,
    /// Sessions our clients touched since the last PING, with timeouts.
    pub touched: HashMap<i64, i32>,
    pub reader: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Following {
    fn drop(&mut self) {
        if let Some(r) = self.reader.take() {
            r.abort();
        }
    }
}

/// The ensemble context that outlives roles.
pub struct Quorum {
    pub sid: Sid,
    /// Our server line says `:observer`.
    pub observer: bool,
    pub gen: u64,
    pub accepted_epoch: i64,
    pub current_epoch: i64,
    /// Our logged txns (newest last, at most `COMMIT_LOG_COUNT`), for a
    /// leader's DIFF syncs.
    pub history: VecDeque<(i64, Vec<u8>)>,
    /// The election task and what stops it (it keeps answering peers
    /// after deciding, until stopped).
    pub election: Option<(tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>)>,
    /// The epoch the decided vote reports (see `peer::start_with`).
    pub vote_epoch: tokio::sync::watch::Sender<Option<i64>>,
    /// Where the quorum port listens when we lead.
    pub quorum_addr: SocketAddr,
    /// Each member's quorum address (resolved from `membership`).
    pub peers: HashMap<Sid, SocketAddr>,
    /// The committed membership.
    pub membership: crate::quorum::membership::Membership,
    /// A newer membership proposed and not yet committed (Apache's
    /// lastSeenQuorumVerifier, when it differs).
    pub last_seen: Option<crate::quorum::membership::Membership>,
    pub looking_since: Instant,
    /// Looking for longer than the grace period with readonlymode.enabled:
    /// serving read-only clients (Apache's ReadOnlyZooKeeperServer).
    pub read_only: bool,
}

impl Quorum {
    pub fn voters(&self) -> std::collections::BTreeSet<Sid> {
        self.membership.voters()
    }

    /// NEWLEADER's data and /zookeeper/config's: our QuorumVerifier as
    /// Apache prints it.
    pub fn verifier(&self) -> Vec<u8> {
        self.membership.verifier().into_bytes()
    }

    pub fn remember(&mut self, zxid: i64, txn: Vec<u8>) {
        self.history.push_back((zxid, txn));
        while self.history.len() > crate::quorum::leader::COMMIT_LOG_COUNT {
            self.history.pop_front();
        }
    }
}
