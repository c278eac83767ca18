//! The quorum port's sockets (2888): a leader's listener and one reader
//! and one writer task per learner, or a follower's connection to its
//! leader. They only frame packets (and SNAP's database stream) and pass
//! them to the core as `QuorumEvent`s; every decision is the core's.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::role::{PeerTx, QuorumEvent};
use super::CoreMsg;
use crate::quorum::packet::{packet_len, PacketType, QuorumPacket};
use crate::quorum::snapstream::{self, StreamScan};

static NEXT_LEARNER: AtomicU64 = AtomicU64::new(1);

/// Apache's learner tries its leader at least five times, 100 ms apart
/// (leaderConnectDelayDuringRetryMs), for up to initLimit ticks.
const CONNECT_TRIES: u32 = 5;
const RETRY_DELAY: Duration = Duration::from_millis(100);

async fn to_core(core: &mpsc::Sender<CoreMsg>, ev: QuorumEvent) -> bool {
    core.send(CoreMsg::Quorum(ev)).await.is_ok()
}

/// Bind the quorum port (synchronously, so the caller knows at once) and
/// accept learners until aborted.
pub fn listen(
    addr: SocketAddr,
    gen: u64,
    max: usize,
    core: mpsc::Sender<CoreMsg>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let std = std::net::TcpListener::bind(addr)?;
    std.set_nonblocking(true)?;
    let listener = TcpListener::from_std(std)?;
    Ok(tokio::spawn(async move {
        loop {
            let Ok((sock, remote)) = listener.accept().await else { continue };
            let _ = sock.set_nodelay(true);
            let conn = NEXT_LEARNER.fetch_add(1, Ordering::Relaxed);
            let core = core.clone();
            tokio::spawn(async move {
                let (rd, wr) = sock.into_split();
                let tx = spawn_writer(wr);
                if !to_core(&core, QuorumEvent::LearnerConnected { gen, conn, tx, remote }).await {
                    return;
                }
                let reason = match read_packets(rd, max, |qp| QuorumEvent::FromLearner { gen, conn, qp }, &core).await {
                    Ok(()) => "connection closed".to_string(),
                    Err(e) => e,
                };
                to_core(&core, QuorumEvent::LearnerGone { gen, conn, reason }).await;
            });
        }
    }))
}

/// Dial the leader, then read its packets until the connection ends.
pub fn follow(
    addr: SocketAddr,
    gen: u64,
    max: usize,
    init_limit: Duration,
    core: mpsc::Sender<CoreMsg>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut sock = None;
        let give_up = tokio::time::Instant::now() + init_limit;
        let mut attempt = 0;
        while attempt < CONNECT_TRIES || tokio::time::Instant::now() < give_up {
            attempt += 1;
            match tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr)).await {
                Ok(Ok(s)) => {
                    sock = Some(s);
                    break;
                }
                Ok(Err(e)) => tracing::debug!(%addr, attempt, error = %e, "cannot reach the leader yet"),
                Err(_) => tracing::info!(%addr, attempt, "connecting to the leader timed out"),
            }
            tokio::time::sleep(RETRY_DELAY).await;
        }
        let Some(sock) = sock else {
            let reason = format!("leader at {addr} unreachable after {attempt} tries");
            to_core(&core, QuorumEvent::LeaderGone { gen, reason }).await;
            return;
        };
        let _ = sock.set_nodelay(true);
        let (rd, wr) = sock.into_split();
        if !to_core(&core, QuorumEvent::LeaderConnected { gen, tx: spawn_writer(wr) }).await {
            return;
        }
        let reason = match read_packets(rd, max, |qp| QuorumEvent::FromLeader { gen, qp }, &core).await {
            Ok(()) => "the leader closed the connection".to_string(),
            Err(e) => e,
        };
        to_core(&core, QuorumEvent::LeaderGone { gen, reason }).await;
    })
}

/// Writes what the core queues, coalescing what is already waiting.
fn spawn_writer(mut wr: OwnedWriteHalf) -> PeerTx {
    let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
    tokio::spawn(async move {
        let mut out = BytesMut::with_capacity(64 * 1024);
        while let Some(first) = rx.recv().await {
            out.extend_from_slice(&first);
            while out.len() < 1 << 20 {
                match rx.try_recv() {
                    Ok(more) => out.extend_from_slice(&more),
                    Err(_) => break,
                }
            }
            if wr.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
        let _ = wr.shutdown().await;
    });
    tx
}

/// Read packets and hand them to the core. After a SNAP packet the
/// leader's database follows as a stream, not a packet: it is read whole,
/// decoded here (off the core) and handed over as a `Snapshot`.
async fn read_packets(
    mut rd: OwnedReadHalf,
    max: usize,
    wrap: impl Fn(QuorumPacket) -> QuorumEvent,
    core: &mpsc::Sender<CoreMsg>,
) -> Result<(), String> {
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut snap: Option<(u64, i64, StreamScan)> = None;
    loop {
        loop {
            if let Some((gen, zxid, scan)) = &mut snap {
                let Some(len) = scan.scan(&buf).map_err(|e| format!("bad snapshot stream: {e}"))? else { break };
                let stream = buf.split_to(len);
                let (gen, zxid) = (*gen, *zxid);
                snap = None;
                let tree = tokio::task::spawn_blocking(move || snapstream::decode(&stream, zxid))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| format!("bad snapshot from the leader: {e}"))?;
                if !to_core(core, QuorumEvent::Snapshot { gen, tree: Box::new(tree) }).await {
                    return Ok(());
                }
                continue;
            }
            let Some(n) = packet_len(&buf, max).map_err(|e| format!("bad packet: {e}"))? else { break };
            let frame = buf.split_to(n);
            let (qp, _) = QuorumPacket::decode(&frame).map_err(|e| format!("bad packet: {e}"))?;
            let ev = wrap(qp);
            if let QuorumEvent::FromLeader { gen, qp } = &ev {
                if qp.kind == PacketType::Snap {
                    snap = Some((*gen, qp.zxid, StreamScan::new(max)));
                }
            }
            if !to_core(core, ev).await {
                return Ok(());
            }
        }
        buf.reserve(64 * 1024);
        match rd.read_buf(&mut buf).await {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
}
