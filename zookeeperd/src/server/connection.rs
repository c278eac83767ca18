//! One client connection: four-letter-word detection, the connect
//! handshake, then framed requests in and frames from the core out.
//! A bad length or malformed frame closes this connection only.

use super::{CoreMsg, Outbound};
use crate::config::ZkConfig;
use crate::jute::records::ConnectRequest;
use crate::jute::request::decode_request;
use crate::jute::DecodeError;
use crate::watch::ConnId;
use bytes::{Buf, BytesMut};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

/// Four-letter words ZooKeeper 3.8 knows.
pub const FOUR_LETTER_WORDS: &[&str] = &[
    "ruok", "stat", "srvr", "conf", "cons", "crst", "dump", "envi", "gtmk", "stmk", "srst", "wchs", "wchc", "wchp",
    "mntr", "isro", "hash", "dirs",
];

pub async fn serve(
    conn: ConnId,
    socket: TcpStream,
    remote: SocketAddr,
    config: Arc<ZkConfig>,
    core: mpsc::Sender<CoreMsg>,
    shutdown: shared::shutdown::ShutdownSignal,
) {
    let span = tracing::info_span!("conn", id = conn, peer = %remote);
    async move {
        match run(conn, socket, remote, &config, &core, shutdown).await {
            Ok(()) => tracing::debug!("connection closed"),
            Err(reason) => tracing::info!(%reason, "connection closed"),
        }
        let _ = core.send(CoreMsg::Disconnected { conn }).await;
    }
    .instrument(span)
    .await
}

/// Why a connection ended early.
#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("frame length {0} out of range")]
    BadLength(i64),
    #[error("malformed frame: {0}")]
    Decode(#[from] DecodeError),
    #[error("server shutting down")]
    Shutdown,
    #[error("cut off: the client read nothing while too much was queued for it")]
    Cut,
}

/// Read until one whole frame is buffered; returns its payload.
async fn read_frame(socket: &mut TcpStream, buf: &mut BytesMut, max: usize) -> Result<Option<BytesMut>, ConnError> {
    loop {
        if let Some(f) = take_frame(buf, max)? {
            return Ok(Some(f));
        }
        if socket.read_buf(buf).await? == 0 {
            return Ok(None);
        }
    }
}

/// Split one frame off the buffer if it is complete. The length is checked
/// before anything is reserved for it.
fn take_frame(buf: &mut BytesMut, max: usize) -> Result<Option<BytesMut>, ConnError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if len < 0 || len as usize > max {
        return Err(ConnError::BadLength(len as i64));
    }
    let len = len as usize;
    if buf.len() < 4 + len {
        buf.reserve(4 + len - buf.len());
        return Ok(None);
    }
    buf.advance(4);
    Ok(Some(buf.split_to(len)))
}

async fn run(
    conn: ConnId,
    mut socket: TcpStream,
    remote: SocketAddr,
    config: &ZkConfig,
    core: &mpsc::Sender<CoreMsg>,
    mut shutdown: shared::shutdown::ShutdownSignal,
) -> Result<(), ConnError> {
    let mut buf = BytesMut::with_capacity(4096);
    while buf.len() < 4 {
        if socket.read_buf(&mut buf).await? == 0 {
            return Ok(());
        }
    }
    if let Ok(word) = std::str::from_utf8(&buf[..4]) {
        if FOUR_LETTER_WORDS.contains(&word) {
            let text = four_letter(word, remote, config, core).await;
            socket.write_all(text.as_bytes()).await?;
            socket.shutdown().await?;
            return Ok(());
        }
    }
    let Some(first) = read_frame(&mut socket, &mut buf, config.jute_max_buffer).await? else {
        return Ok(());
    };
    let req = ConnectRequest::decode(&first)?;
    let (tx, mut rx) = super::outbound::channel();
    let cut = rx.cut_signal();
    core.send(CoreMsg::Connect { conn, remote, tx, req }).await.map_err(|_| ConnError::Shutdown)?;
    let mut out = BytesMut::with_capacity(8192);
    loop {
        // Frames already buffered go to the core before reading more.
        while let Some(frame) = take_frame(&mut buf, config.jute_max_buffer)? {
            let received = Instant::now();
            let (header, body) = decode_request(&frame)?;
            let raw = frame.freeze().slice(8..);
            let msg = match body {
                Ok(req) => CoreMsg::Request { conn, xid: header.xid, opcode: header.opcode, req, body: raw, received },
                Err(DecodeError::UnknownOpcode(_)) => CoreMsg::Unimplemented { conn, xid: header.xid },
                Err(e) => return Err(e.into()),
            };
            core.send(msg).await.map_err(|_| ConnError::Shutdown)?;
        }
        tokio::select! {
            n = socket.read_buf(&mut buf) => {
                if n? == 0 {
                    return Ok(());
                }
            }
            msg = rx.recv() => {
                let mut close = false;
                let mut next = msg;
                // Write everything queued in one go.
                loop {
                    match next {
                        Some(Outbound::Frame(f)) => out.extend_from_slice(&f),
                        Some(Outbound::Close) | None => {
                            close = true;
                            break;
                        }
                    }
                    if out.len() > 256 * 1024 {
                        break;
                    }
                    match rx.try_recv() {
                        Some(m) => next = Some(m),
                        None => break,
                    }
                }
                if !out.is_empty() {
                    tokio::select! {
                        r = socket.write_all(&out) => r?,
                        _ = cut.notified() => return Err(ConnError::Cut),
                    }
                    out.clear();
                }
                if close {
                    let _ = socket.shutdown().await;
                    return Ok(());
                }
            }
            _ = cut.notified() => return Err(ConnError::Cut),
            _ = shutdown.recv() => return Err(ConnError::Shutdown),
        }
    }
}

async fn four_letter(word: &str, remote: SocketAddr, config: &ZkConfig, core: &mpsc::Sender<CoreMsg>) -> String {
    if !config.four_letter_allowed(word) {
        return format!("{word} is not executed because it is not in the whitelist.\n");
    }
    if word == "ruok" {
        return "imok".into();
    }
    let (reply, rx) = oneshot::channel();
    if core.send(CoreMsg::FourLetter { cmd: word.to_string(), remote: Some(remote), reply }).await.is_err() {
        return String::new();
    }
    rx.await.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_length_checked_before_reserving() {
        let mut b = BytesMut::from(&[0x7f, 0xff, 0xff, 0xff][..]);
        assert!(matches!(take_frame(&mut b, 0xfffff), Err(ConnError::BadLength(_))));
        let mut b = BytesMut::from(&[0xff, 0xff, 0xff, 0xff][..]);
        assert!(matches!(take_frame(&mut b, 0xfffff), Err(ConnError::BadLength(-1))));
        let mut b = BytesMut::from(&[0, 0, 0, 2, 1][..]);
        assert!(take_frame(&mut b, 0xfffff).unwrap().is_none());
        b.extend_from_slice(&[2]);
        assert_eq!(&take_frame(&mut b, 0xfffff).unwrap().unwrap()[..], &[1, 2]);
    }
}
