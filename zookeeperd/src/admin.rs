//! The AdminServer's HTTP face on admin.serverPort: `/commands/<name>`
//! answers JSON, `/metrics` answers Prometheus text with the mntr figures.
//! GET only, one request per connection: enough for curl and scrapers.

use crate::config::ZkConfig;
use crate::error::ServerError;
use crate::server::core::Core;
use crate::server::CoreMsg;
use serde_json::{json, Value};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

/// Command names (and the four-letter aliases they answer to).
const COMMANDS: &[(&str, &str)] = &[
    ("ruok", "ruok"),
    ("server_stats", "srvr"),
    ("stats", "stat"),
    ("monitor", "mntr"),
    ("configuration", "conf"),
    ("connections", "cons"),
    ("environment", "envi"),
    ("watch_summary", "wchs"),
    ("watches", "wchc"),
    ("watches_by_path", "wchp"),
    ("dump", "dump"),
    ("is_read_only", "isro"),
    ("connection_stat_reset", "crst"),
    ("stat_reset", "srst"),
    ("dirs", "dirs"),
    ("hash", "hash"),
];

pub async fn start(
    config: &ZkConfig,
    core: mpsc::Sender<CoreMsg>,
    mut shutdown: shared::shutdown::ShutdownSignal,
) -> Result<SocketAddr, ServerError> {
    let addr = SocketAddr::new(config.admin_address, config.admin_port);
    let listener =
        TcpListener::bind(addr).await.map_err(|source| ServerError::Bind { addr: addr.to_string(), source })?;
    let local = listener.local_addr().map_err(|e| ServerError::io("admin socket", e))?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                r = listener.accept() => {
                    if let Ok((s, _)) = r {
                        tokio::spawn(serve(s, core.clone()));
                    }
                }
                _ = shutdown.recv() => return,
            }
        }
    });
    Ok(local)
}

async fn serve(mut s: TcpStream, core: mpsc::Sender<CoreMsg>) {
    let mut buf = vec![0u8; 8192];
    let mut n = 0;
    // Read the request head (bounded).
    while n < buf.len() {
        match s.read(&mut buf[n..]).await {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
        if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let head = String::from_utf8_lossy(&buf[..n]);
    let path = head.split_whitespace().nth(1).unwrap_or("/").split('?').next().unwrap_or("/").to_string();
    let (status, ctype, body) = if path == "/metrics" {
        match ask(&core, "mntr").await {
            Some(Value::String(text)) => ("200 OK", "text/plain; version=0.0.4", prometheus(&text)),
            _ => ("503 Service Unavailable", "text/plain", String::new()),
        }
    } else if path == "/commands" || path == "/commands/" {
        let names: Vec<String> = COMMANDS.iter().map(|(n, _)| format!("/commands/{n}")).collect();
        ("200 OK", "application/json", serde_json::to_string_pretty(&names).unwrap_or_default())
    } else if let Some(name) = path.strip_prefix("/commands/") {
        match ask(&core, name).await {
            Some(v) => ("200 OK", "application/json", serde_json::to_string_pretty(&v).unwrap_or_default()),
            None => (
                "404 Not Found",
                "application/json",
                json!({"command": name, "error": "Unknown command: ".to_string() + name}).to_string(),
            ),
        }
    } else {
        ("404 Not Found", "text/plain", "not found\n".to_string())
    };
    let resp = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = s.write_all(resp.as_bytes()).await;
    let _ = s.shutdown().await;
}

async fn ask(core: &mpsc::Sender<CoreMsg>, cmd: &str) -> Option<Value> {
    let (reply, rx) = oneshot::channel();
    core.send(CoreMsg::Admin { cmd: cmd.to_string(), reply }).await.ok()?;
    rx.await.ok().flatten()
}

/// Answer one admin command from the core's state.
pub fn command_json(name: &str, core: &mut Core) -> Option<Value> {
    if name == "mntr" {
        return Some(Value::String(crate::fourlw::render("mntr", None, core)));
    }
    let word = COMMANDS.iter().find(|(n, w)| *n == name || *w == name).map(|(_, w)| *w)?;
    let canonical = COMMANDS.iter().find(|(_, w)| *w == word).map(|(n, _)| *n).unwrap_or(name);
    let text = crate::fourlw::render(word, None, core);
    let mut obj = serde_json::Map::new();
    match word {
        "ruok" => {}
        // Apache's DigestCommand: the ZxidDigest beans.
        "hash" => {
            let digests: Vec<Value> = core
                .tree
                .digest_log()
                .map(|(zxid, digest)| json!({"zxid": zxid, "digestVersion": crate::tree::digest::VERSION, "digest": digest}))
                .collect();
            obj.insert("digests".into(), Value::Array(digests));
        }
        "mntr" | "conf" | "envi" => {
            for line in text.lines() {
                let (k, v) = line.split_once('\t').or_else(|| line.split_once('=')).unwrap_or((line, ""));
                if !k.is_empty() && k != "Environment:" {
                    obj.insert(k.trim_start_matches("zk_").to_string(), parse_value(v));
                }
            }
        }
        _ => {
            obj.insert("output".into(), Value::String(text));
        }
    }
    obj.insert("command".into(), Value::String(canonical.to_string()));
    obj.insert("error".into(), Value::Null);
    Some(Value::Object(obj))
}

fn parse_value(v: &str) -> Value {
    if let Ok(i) = v.parse::<i64>() {
        return json!(i);
    }
    if let Ok(f) = v.parse::<f64>() {
        return json!(f);
    }
    Value::String(v.to_string())
}

/// mntr lines as Prometheus gauges (`zk_x\tN` -> `x N`).
fn prometheus(mntr: &str) -> String {
    let mut out = String::new();
    for line in mntr.lines() {
        let Some((k, v)) = line.split_once('\t') else {
            continue;
        };
        if v.parse::<f64>().is_err() {
            continue;
        }
        let name = k.trim_start_matches("zk_");
        out.push_str(&format!("# TYPE {name} gauge\n{name} {v}\n"));
    }
    out
}
