//! Listeners and the accept loop. A semaphore caps open connections
//! (max.connections); a connection over the cap is closed at once.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::broker::Broker;
use crate::config::Listener;
use crate::connection;
use crate::error::BrokerError;

pub async fn bind(listeners: &[Listener]) -> Result<Vec<(Listener, TcpListener)>, BrokerError> {
    let mut out = Vec::new();
    for l in listeners {
        let host = if l.host.is_empty() { "0.0.0.0" } else { l.host.as_str() };
        let addr = format!("{host}:{}", l.port);
        let sock = TcpListener::bind(&addr)
            .await
            .map_err(|e| BrokerError::io(format!("bind listener {} on {addr}", l.name), e))?;
        out.push((l.clone(), sock));
    }
    Ok(out)
}

pub fn spawn_accept_loops(
    broker: Arc<Broker>,
    sockets: Vec<(Listener, TcpListener)>,
    shutdown: shared::shutdown::Shutdown,
) -> Vec<tokio::task::JoinHandle<()>> {
    let permits = Arc::new(Semaphore::new(broker.config.max_connections.max(1)));
    sockets
        .into_iter()
        .map(|(l, sock)| {
            let broker = broker.clone();
            let permits = permits.clone();
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                let mut stop = shutdown.subscribe();
                loop {
                    let accepted = tokio::select! {
                        a = sock.accept() => a,
                        _ = stop.recv() => return,
                    };
                    let (stream, peer) = match accepted {
                        Ok(x) => x,
                        Err(e) => {
                            // EMFILE and friends: back off instead of spinning.
                            tracing::warn!(listener = %l.name, error = %e, "accept failed");
                            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                            continue;
                        }
                    };
                    let Ok(permit) = permits.clone().try_acquire_owned() else {
                        tracing::warn!(%peer, "max.connections reached; closing new connection");
                        drop(stream);
                        continue;
                    };
                    let broker = broker.clone();
                    let name = l.name.clone();
                    let sig = shutdown.subscribe();
                    tokio::spawn(async move {
                        connection::serve(broker, stream, peer, name, sig).await;
                        drop(permit);
                    });
                }
            })
        })
        .collect()
}
