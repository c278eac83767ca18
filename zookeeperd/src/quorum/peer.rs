//! Runs one server's leader election for real: the `Election` state machine
//! fed by the election port's connections (`cnx`) and one timer. This is
//! the only part of the election that does I/O; every decision is the
//! state machine's. After deciding it keeps answering servers that are
//! still looking, as Apache's WorkerReceiver does.

use std::collections::{BTreeMap, HashMap};
use std::net::{SocketAddr, ToSocketAddrs};

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::cnx::ElectionCnx;
use super::election::{Action, Election, ElectionConfig, Vote};
use super::{ServerState, Sid};
use crate::config::{QuorumServer, ZkConfig};

/// What one server's election needs to know.
#[derive(Debug, Clone)]
pub struct ElectionSetup {
    pub my_sid: Sid,
    /// Our election address (where peers dial us).
    pub listen: SocketAddr,
    /// Every other server's election address.
    pub peers: HashMap<Sid, SocketAddr>,
    pub voters: Vec<Sid>,
    /// Our `QuorumVerifier` as Apache prints it; sent in every notification.
    pub config_data: Vec<u8>,
    pub last_logged_zxid: i64,
    pub current_epoch: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("no myid: a server of an ensemble needs dataDir/myid")]
    NoMyId,
    #[error("myid {0} has no server.{0} line")]
    NotInConfig(u64),
    #[error("cannot resolve {0}")]
    Resolve(String),
}

pub(crate) fn resolve(host: &str, port: u16) -> Result<SocketAddr, SetupError> {
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| SetupError::Resolve(format!("{host}:{port}")))
}

/// Apache's `QuorumMaj.toString()`: one `server.N=host:quorum:election:role`
/// line per member (with `;clientHost:port` when the line gave one), then
/// `version=<hex>`. Peers parse it from every notification.
pub fn verifier_string(servers: &BTreeMap<u64, QuorumServer>, version: i64) -> String {
    let mut s = String::new();
    for (id, q) in servers {
        s.push_str(&format!("server.{id}={}:{}:{}:{}", q.host, q.quorum_port, q.election_port, q.role));
        if let Some(p) = q.client_port {
            s.push_str(&format!(";{}:{p}", q.client_host.as_deref().unwrap_or("0.0.0.0")));
        }
        s.push('\n');
    }
    s.push_str(&format!("version={version:x}"));
    s
}

impl ElectionSetup {
    /// From zoo.cfg's `server.N` lines and `myid`; binds the election port
    /// on our own line's host, as Apache does without quorumListenOnAllIPs.
    pub fn from_config(cfg: &ZkConfig, last_logged_zxid: i64, current_epoch: i64) -> Result<ElectionSetup, SetupError> {
        let me = cfg.my_id.ok_or(SetupError::NoMyId)?;
        let mine = cfg.servers.get(&me).or(cfg.own_line_removed.as_ref()).ok_or(SetupError::NotInConfig(me))?;
        let mut peers = HashMap::new();
        for (id, q) in &cfg.servers {
            if *id != me {
                peers.insert(*id as Sid, resolve(&q.host, q.election_port)?);
            }
        }
        Ok(ElectionSetup {
            my_sid: me as Sid,
            listen: resolve(&mine.host, mine.election_port)?,
            peers,
            voters: cfg.servers.iter().filter(|(_, q)| q.role != "observer").map(|(id, _)| *id as Sid).collect(),
            config_data: verifier_string(&cfg.servers, cfg.config_version).into_bytes(),
            last_logged_zxid,
            current_epoch,
        })
    }
}

/// A running election; `stop` ends it (dropping it does too, without
/// waiting for its port to be released).
pub struct RunningElection {
    decided: watch::Receiver<Option<(Vote, ServerState)>>,
    task: JoinHandle<()>,
    stop: Option<oneshot::Sender<()>>,
    pub local_addr: SocketAddr,
}

impl Drop for RunningElection {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RunningElection {
    /// Stop, and wait until the election port and connections are closed.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Wait for the decision: the leader's vote and our new state.
    pub async fn decided(&mut self) -> Option<(Vote, ServerState)> {
        let d = self.decided.wait_for(Option::is_some).await.ok()?;
        *d
    }
}

pub async fn start(setup: ElectionSetup) -> std::io::Result<RunningElection> {
    start_with(setup, watch::channel(None).1).await
}

/// As `start`, and the vote we answer with takes the epoch sent on
/// `vote_epoch` (Apache's updateElectionVote once a new epoch is in place,
/// so every member reports the same vote to servers still looking).
pub async fn start_with(
    setup: ElectionSetup,
    mut vote_epoch: watch::Receiver<Option<i64>>,
) -> std::io::Result<RunningElection> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let cnx = ElectionCnx::start(setup.my_sid, setup.listen, setup.peers.clone(), tx).await?;
    let local_addr = cnx.local_addr();
    let (decided_tx, decided) = watch::channel(None);
    let (stop, mut stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let t0 = Instant::now();
        let now = move || t0.elapsed().as_millis() as u64;
        let cfg = ElectionConfig::new(setup.my_sid, setup.voters.iter().copied(), setup.config_data.clone());
        let mut election = Election::new(cfg);
        let mut timer: Option<u64> = None;
        let actions = election.start_election(now(), setup.last_logged_zxid, setup.current_epoch);
        let run = |actions: Vec<Action>, timer: &mut Option<u64>| {
            for a in actions {
                match a {
                    Action::Send { to, notification } => cnx.send(to, &notification),
                    Action::SendToAll { notification } => {
                        for sid in setup.voters.iter().filter(|s| **s != setup.my_sid) {
                            cnx.send(*sid, &notification);
                        }
                    }
                    Action::SetTimer { at_ms } => *timer = Some(at_ms),
                    Action::Decided { vote, state } => {
                        tracing::info!(
                            leader = vote.leader,
                            zxid = format_args!("{:#x}", vote.zxid),
                            ?state,
                            "election decided"
                        );
                        decided_tx.send_replace(Some((vote, state)));
                    }
                }
            }
        };
        run(actions, &mut timer);
        loop {
            let deadline = timer.map(|at| t0 + std::time::Duration::from_millis(at));
            tokio::select! {
                _ = &mut stopped => break,
                Ok(()) = vote_epoch.changed() => {
                    if let Some(e) = *vote_epoch.borrow_and_update() {
                        election.update_election_vote(e);
                    }
                }
                msg = rx.recv() => match msg {
                    Some((from, n)) => run(election.on_notification(now(), from, n), &mut timer),
                    None => break,
                },
                _ = async { tokio::time::sleep_until(deadline.unwrap_or(t0)).await }, if deadline.is_some() => {
                    timer = None;
                    run(election.on_timer(now()), &mut timer);
                }
            }
        }
        cnx.close().await;
    });
    Ok(RunningElection { decided, task, stop: Some(stop), local_addr })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_string_is_apache_quorum_maj_to_string() {
        let server = |id, q, e, client| QuorumServer {
            id,
            host: "10.0.0.1".into(),
            quorum_port: q,
            election_port: e,
            client_port: client,
            client_host: None,
            role: "participant".into(),
        };
        let mut servers = BTreeMap::new();
        servers.insert(1, server(1, 2888, 3888, Some(2181)));
        servers.insert(2, server(2, 2889, 3889, None));
        assert_eq!(
            verifier_string(&servers, 0x1_0000_0000),
            "server.1=10.0.0.1:2888:3888:participant;0.0.0.0:2181\n\
             server.2=10.0.0.1:2889:3889:participant\n\
             version=100000000"
        );
    }
}
