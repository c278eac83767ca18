//! Shutdown: SIGTERM or SIGINT flips a watch channel that every task can
//! await, as in mini-redis.

use tokio::sync::watch;

/// Sender half: call `trigger` to begin a clean shutdown.
#[derive(Clone)]
pub struct Shutdown {
    tx: watch::Sender<bool>,
}

/// Receiver half handed to each task.
#[derive(Clone)]
pub struct ShutdownSignal {
    rx: watch::Receiver<bool>,
}

impl Shutdown {
    pub fn new() -> (Shutdown, ShutdownSignal) {
        let (tx, rx) = watch::channel(false);
        (Shutdown { tx }, ShutdownSignal { rx })
    }

    pub fn trigger(&self) {
        let _ = self.tx.send(true);
    }

    pub fn subscribe(&self) -> ShutdownSignal {
        ShutdownSignal { rx: self.tx.subscribe() }
    }
}

impl ShutdownSignal {
    /// Resolves once shutdown has been triggered (or the sender is gone).
    pub async fn recv(&mut self) {
        let _ = self.rx.wait_for(|v| *v).await;
    }

    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }
}

/// Resolve on SIGTERM or SIGINT.
pub async fn os_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
