//! The queue of frames from the core to one connection.
//!
//! Unbounded in count, as Apache ZooKeeper's per-connection outgoing queue
//! is: a client that is slow to read (a paused process, a burst of watch
//! events) keeps its connection and its session, and gets every reply and
//! event in order once it reads again. Requests stop being read while the
//! socket does not take writes, so a client cannot pile up replies; what it
//! can pile up is watch events caused by others. The bytes queued are
//! counted, and past `MAX_QUEUED_BYTES` the client is taken for one that
//! will never read: its connection is closed, while its session lives on
//! until its timeout and a reconnect resumes it (Apache has no bound and
//! runs out of heap instead).

use super::Outbound;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, Notify};

/// Bytes one connection may have waiting before it is closed.
pub const MAX_QUEUED_BYTES: usize = 512 << 20;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("connection closed")]
    Closed,
    #[error("more than {MAX_QUEUED_BYTES} bytes queued")]
    Full,
}

pub fn channel() -> (OutboundTx, OutboundRx) {
    let (tx, rx) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let cut = Arc::new(Notify::new());
    (OutboundTx { tx, queued: queued.clone(), cut: cut.clone() }, OutboundRx { rx, queued, cut })
}

fn size(msg: &Outbound) -> usize {
    match msg {
        Outbound::Frame(f) => f.len(),
        Outbound::Close => 0,
    }
}

pub struct OutboundTx {
    tx: mpsc::UnboundedSender<Outbound>,
    queued: Arc<AtomicUsize>,
    cut: Arc<Notify>,
}

impl OutboundTx {
    pub fn send(&self, msg: Outbound) -> Result<(), SendError> {
        let n = size(&msg);
        if self.queued.load(Ordering::Relaxed) + n > MAX_QUEUED_BYTES {
            return Err(SendError::Full);
        }
        self.queued.fetch_add(n, Ordering::Relaxed);
        self.tx.send(msg).map_err(|_| SendError::Closed)
    }

    /// Bytes waiting for the connection to write them.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Close the connection now, dropping what is queued (the connection
    /// may be stuck writing to a client that reads nothing).
    pub fn cut(&self) {
        self.cut.notify_one();
    }
}

pub struct OutboundRx {
    rx: mpsc::UnboundedReceiver<Outbound>,
    queued: Arc<AtomicUsize>,
    cut: Arc<Notify>,
}

impl OutboundRx {
    fn taken(&self, msg: Option<Outbound>) -> Option<Outbound> {
        if let Some(m) = &msg {
            self.queued.fetch_sub(size(m), Ordering::Relaxed);
        }
        msg
    }

    pub async fn recv(&mut self) -> Option<Outbound> {
        let msg = self.rx.recv().await;
        self.taken(msg)
    }

    /// Notified once the core has cut this connection off.
    pub fn cut_signal(&self) -> Arc<Notify> {
        self.cut.clone()
    }

    pub fn try_recv(&mut self) -> Option<Outbound> {
        let msg = self.rx.try_recv().ok();
        self.taken(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn counts_bytes_and_refuses_past_the_cap() {
        let (tx, mut rx) = channel();
        let frame = Bytes::from(vec![0u8; 1 << 20]);
        for _ in 0..MAX_QUEUED_BYTES >> 20 {
            tx.send(Outbound::Frame(frame.clone())).expect("under the cap");
        }
        assert_eq!(tx.queued(), MAX_QUEUED_BYTES);
        assert_eq!(tx.send(Outbound::Frame(Bytes::from_static(b"x"))), Err(SendError::Full));
        assert!(matches!(rx.try_recv(), Some(Outbound::Frame(f)) if f.len() == 1 << 20));
        assert_eq!(tx.queued(), MAX_QUEUED_BYTES - (1 << 20));
        tx.send(Outbound::Frame(Bytes::from_static(b"x"))).expect("room again");
        drop(rx);
        assert_eq!(tx.send(Outbound::Close), Err(SendError::Closed));
    }
}
