//! The election port's connections, as Apache's QuorumCnxManager keeps them:
//! at most one connection per peer, kept by the side with the larger sid
//! (`notification::connection_decision`); each begins with an initial
//! message, then both directions carry framed notifications.
//!
//! Only the newest message for a peer is waiting to go out, and it is sent
//! again on every new connection to that peer (Apache's queue of one and
//! `lastMessageSent`): an election needs the peer to hear our latest vote,
//! not the history. A `watch` channel per peer is exactly that.
//!
//! A server outside our membership (one about to be added by a reconfig)
//! may connect too: it gets a slot, so the election can answer it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::notification::{
    connection_decision, decode_frame, encode_frame, ConnectionDecision, ElectionAddr, InitialMessage, Notification,
    PROTOCOL_VERSION_V1,
};
use super::Sid;

/// How long a dial or an initial message may take (Apache's cnxTimeout).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A notification and the peer whose connection it came on.
pub type Inbound = (Sid, Notification);

/// A live connection: its number (to tell a stale one from the current)
/// and its reader and writer tasks.
type Live = (u64, Vec<JoinHandle<()>>);

struct Shared {
    my_sid: Sid,
    my_addr: SocketAddr,
    peers: Mutex<HashMap<Sid, SocketAddr>>,
    /// The newest frame for each peer.
    outbox: Mutex<HashMap<Sid, watch::Sender<Option<Vec<u8>>>>>,
    live: Mutex<HashMap<Sid, Live>>,
    next_conn: Mutex<u64>,
    inbound: mpsc::UnboundedSender<Inbound>,
}

/// The election's connections. Dropping it closes every one.
pub struct ElectionCnx {
    shared: Arc<Shared>,
    listener: JoinHandle<()>,
}

impl Drop for ElectionCnx {
    fn drop(&mut self) {
        self.listener.abort();
        if let Ok(mut live) = self.shared.live.lock() {
            for (_, (_, tasks)) in live.drain() {
                tasks.iter().for_each(JoinHandle::abort);
            }
        }
    }
}

impl ElectionCnx {
    /// Listen on `listen` (our election address) and reach `peers` (sid ->
    /// election address, ourselves excluded) at their election ports.
    /// Received notifications go to `inbound`.
    pub async fn start(
        my_sid: Sid,
        listen: SocketAddr,
        peers: HashMap<Sid, SocketAddr>,
        inbound: mpsc::UnboundedSender<Inbound>,
    ) -> std::io::Result<ElectionCnx> {
        let listener = TcpListener::bind(listen).await?;
        let my_addr = listener.local_addr()?;
        let outbox = peers.keys().map(|sid| (*sid, watch::channel(None).0)).collect();
        let shared = Arc::new(Shared {
            my_sid,
            my_addr,
            peers: Mutex::new(peers),
            outbox: Mutex::new(outbox),
            live: Mutex::new(HashMap::new()),
            next_conn: Mutex::new(0),
            inbound,
        });
        let s = shared.clone();
        let listener = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(accepted(s.clone(), sock));
            }
        });
        Ok(ElectionCnx { shared, listener })
    }

    /// Close the listener and every connection, and wait until they are
    /// gone (the port is free again when this returns).
    pub async fn close(mut self) {
        self.listener.abort();
        let _ = (&mut self.listener).await;
        let tasks: Vec<JoinHandle<()>> = match self.shared.live.lock() {
            Ok(mut live) => live.drain().flat_map(|(_, (_, t))| t).collect(),
            Err(_) => Vec::new(),
        };
        for mut t in tasks {
            t.abort();
            let _ = (&mut t).await;
        }
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.shared.my_addr
    }

    /// Queue `n` for `to`, replacing anything not yet sent, and connect if
    /// there is no connection (as Apache's toSend / connectOne).
    pub fn send(&self, to: Sid, n: &Notification) {
        let frame = Some(encode_frame(&n.encode()));
        let known = match self.shared.outbox.lock() {
            Ok(outbox) => outbox.get(&to).map(|slot| slot.send_replace(frame)).is_some(),
            Err(_) => false,
        };
        if !known {
            return tracing::debug!(to, "notification for an unknown server dropped");
        }
        if !self.shared.is_connected(to) {
            tokio::spawn(dial(self.shared.clone(), to));
        }
    }
}

impl Shared {
    fn is_connected(&self, sid: Sid) -> bool {
        self.live.lock().map(|l| l.get(&sid).is_some_and(|(_, t)| t.iter().all(|h| !h.is_finished()))).unwrap_or(false)
    }

    /// A server outside our configuration connected: remember where it
    /// listens (from its initial message) and give it a slot. False if it
    /// is unknown and names no usable address.
    fn learn(&self, sid: Sid, addresses: &[ElectionAddr]) -> bool {
        let Ok(mut outbox) = self.outbox.lock() else { return false };
        if outbox.contains_key(&sid) {
            return true;
        }
        let Some(addr) = addresses.iter().find_map(|a| super::peer::resolve(&a.host, a.port).ok()) else {
            return false;
        };
        tracing::info!(sid, %addr, "election connection from a server outside the configuration");
        if let Ok(mut peers) = self.peers.lock() {
            peers.insert(sid, addr);
        }
        outbox.insert(sid, watch::channel(None).0);
        true
    }

    fn initial_message(&self) -> Option<Vec<u8>> {
        let addr = ElectionAddr { host: self.my_addr.ip().to_string(), port: self.my_addr.port() };
        let msg =
            InitialMessage { protocol_version: Some(PROTOCOL_VERSION_V1), sid: self.my_sid, addresses: vec![addr] };
        msg.encode().ok()
    }

    /// Run `sock` as the connection to `sid`, replacing any older one.
    fn adopt(self: &Arc<Self>, sid: Sid, sock: TcpStream, early: Vec<u8>) {
        let Some(rx) = self.outbox.lock().ok().and_then(|o| o.get(&sid).map(watch::Sender::subscribe)) else {
            return;
        };
        let id = match self.next_conn.lock() {
            Ok(mut n) => {
                *n += 1;
                *n
            }
            Err(_) => return,
        };
        let (rd, wr) = sock.into_split();
        let reader = tokio::spawn(read_frames(self.clone(), sid, rd, early));
        let writer = tokio::spawn(write_frames(rx, wr));
        if let Ok(mut live) = self.live.lock() {
            if let Some((_, old)) = live.insert(sid, (id, vec![reader, writer])) {
                old.iter().for_each(JoinHandle::abort);
            }
        }
        tracing::debug!(sid, conn = id, "election connection up");
    }
}

/// We dial `sid`: initial message first; with the smaller sid we then
/// close and wait for the peer to dial us.
async fn dial(shared: Arc<Shared>, sid: Sid) {
    let Some(addr) = shared.peers.lock().ok().and_then(|p| p.get(&sid).copied()) else { return };
    let Some(hello) = shared.initial_message() else { return };
    let attempt = async {
        let mut sock = TcpStream::connect(addr).await?;
        sock.set_nodelay(true)?;
        sock.write_all(&hello).await?;
        Ok::<_, std::io::Error>(sock)
    };
    let sock = match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return tracing::debug!(sid, %addr, error = %e, "cannot reach election port"),
        Err(_) => return tracing::debug!(sid, %addr, "election connect timed out"),
    };
    match connection_decision(shared.my_sid, sid, true) {
        ConnectionDecision::Keep => shared.adopt(sid, sock, Vec::new()),
        // The peer has the larger sid: it read our sid and dials back.
        _ => drop(sock),
    }
}

/// A peer dialed us: read its initial message and apply the rule.
async fn accepted(shared: Arc<Shared>, mut sock: TcpStream) {
    let mut buf = Vec::with_capacity(64);
    let hello = async {
        loop {
            match InitialMessage::decode(&buf) {
                Ok((m, used)) => return Ok((m, used)),
                Err(super::notification::InitialMessageError::Incomplete { .. }) => {}
                Err(e) => return Err(e.to_string()),
            }
            let mut chunk = [0u8; 256];
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return Err("closed before its initial message".to_string()),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let (msg, used) = match tokio::time::timeout(CONNECT_TIMEOUT, hello).await {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return tracing::info!(error = %e, "election connection refused"),
        Err(_) => return tracing::info!("election connection sent no initial message in time"),
    };
    // The dialer sends its queued notification right behind the initial
    // message (Apache's SendWorker starts at once): keep those bytes.
    let early = buf.split_off(used);
    let sid = msg.sid;
    if !shared.learn(sid, &msg.addresses) {
        return tracing::warn!(sid, "election connection from an unknown server without an address");
    }
    match connection_decision(shared.my_sid, sid, false) {
        ConnectionDecision::Keep => shared.adopt(sid, sock, early),
        ConnectionDecision::DropAndConnectBack => {
            drop(sock);
            dial(shared, sid).await;
        }
        ConnectionDecision::Drop => {}
        ConnectionDecision::SameSid => tracing::warn!(sid, "a server connected with our own id; check myid"),
    }
}

async fn read_frames(shared: Arc<Shared>, sid: Sid, mut rd: tokio::net::tcp::OwnedReadHalf, early: Vec<u8>) {
    let mut buf = early;
    loop {
        loop {
            match decode_frame(&buf) {
                Ok(Some((payload, used))) => {
                    match Notification::decode(payload) {
                        Ok(n) => {
                            if shared.inbound.send((sid, n)).is_err() {
                                return;
                            }
                        }
                        // Apache logs a bad notification and reads on.
                        Err(e) => tracing::info!(sid, error = %e, "bad notification dropped"),
                    }
                    buf.drain(..used);
                }
                Ok(None) => break,
                Err(e) => return tracing::info!(sid, error = %e, "election connection closed"),
            }
        }
        let mut chunk = [0u8; 4096];
        match rd.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

async fn write_frames(mut slot: watch::Receiver<Option<Vec<u8>>>, mut wr: tokio::net::tcp::OwnedWriteHalf) {
    // A new connection first carries the last message (Apache's
    // lastMessageSent), then whatever is newest each time.
    let mut pending = slot.borrow_and_update().clone();
    loop {
        if let Some(frame) = pending.take() {
            if wr.write_all(&frame).await.is_err() {
                return;
            }
        }
        if slot.changed().await.is_err() {
            return;
        }
        pending = slot.borrow_and_update().clone();
    }
}
