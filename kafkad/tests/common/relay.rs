//! A TCP relay on 127.0.0.1 that stands in for the network between a
//! client and its server, so a test can cut one client's link without
//! touching the others. It runs on a thread of its own, so both blocking
//! and async tests can use it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

pub struct Relay {
    pub port: u16,
    cut: Arc<AtomicBool>,
    linked: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
}

impl Relay {
    /// Relay 127.0.0.1:<port> to `target`.
    pub fn start(target: SocketAddr) -> Relay {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind relay");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let port = std_listener.local_addr().expect("addr").port();
        let cut = Arc::new(AtomicBool::new(false));
        let linked = Arc::new(AtomicU64::new(0));
        let refused = Arc::new(AtomicU64::new(0));
        let (c, n, r) = (cut.clone(), linked.clone(), refused.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("relay runtime");
            rt.block_on(async move {
                let l = TcpListener::from_std(std_listener).expect("tokio listener");
                loop {
                    let Ok((inbound, _)) = l.accept().await else { return };
                    if c.load(Ordering::SeqCst) {
                        r.fetch_add(1, Ordering::SeqCst);
                        continue; // dropped: the client sees its connection closed at once
                    }
                    tokio::spawn(pump(inbound, target, c.clone(), n.clone()));
                }
            });
        });
        Relay { port, cut, linked, refused }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// While cut, every relayed connection is closed and new ones are
    /// refused, as when a link goes down and a firewall resets its flows.
    pub fn set_cut(&self, cut: bool) {
        self.cut.store(cut, Ordering::SeqCst);
    }

    /// How many connections have reached the server so far (a client that
    /// reconnected adds one).
    pub fn links(&self) -> u64 {
        self.linked.load(Ordering::SeqCst)
    }

    /// How many connection attempts were refused while cut.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::SeqCst)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.set_cut(true);
    }
}

async fn pump(mut inbound: TcpStream, target: SocketAddr, cut: Arc<AtomicBool>, linked: Arc<AtomicU64>) {
    let Ok(mut outbound) = TcpStream::connect(target).await else { return };
    linked.fetch_add(1, Ordering::SeqCst);
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
        _ = async {
            while !cut.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        } => {}
    }
}
