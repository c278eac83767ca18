//! zookeeper-shell HOST:PORT[/chroot] [command args]: the zkCli commands
//! Kafka's docs use (ls, get, stat, create, set, delete, deleteall).
//! Without a command, commands are read from stdin, one per line.

use std::io::BufRead;
use std::time::Duration;

use crate::error::{usage, Result, ToolError};
use crate::zk::Zk;

const HELP: &str = "USAGE: zookeeper-shell zookeeper_host:port[/path] [-zk-tls-config-file file] [args...]\n\
commands: ls [-s] path | get [-s] path | stat path | create [-e] [-s] path [data] | set path data | delete path | deleteall path";

pub async fn run(args: &[String]) -> Result<i32> {
    let Some(server) = args.first() else { return usage(HELP) };
    if server == "--help" || server == "-h" {
        println!("{HELP}");
        return Ok(0);
    }
    let zk = Zk::connect(server, Duration::from_secs(30)).await?;
    println!("Connecting to {server}");
    println!();
    println!("WATCHER::");
    println!();
    println!("WatchedEvent state:SyncConnected type:None path:null");
    let rest: Vec<String> = args[1..].iter().filter(|a| !a.starts_with("-zk-tls")).cloned().collect();
    if !rest.is_empty() {
        return command(&zk, &rest).await;
    }
    let mut code = 0;
    for line in std::io::stdin().lock().lines().map_while(|l| l.ok()) {
        let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        if words.is_empty() {
            continue;
        }
        if words[0] == "quit" {
            break;
        }
        if let Err(e) = command(&zk, &words).await {
            eprintln!("{e}");
            code = 1;
        }
    }
    Ok(code)
}

async fn command(zk: &Zk, w: &[String]) -> Result<i32> {
    let flags: Vec<&str> = w[1..].iter().filter(|a| a.starts_with('-')).map(String::as_str).collect();
    let args: Vec<&str> = w[1..].iter().filter(|a| !a.starts_with('-')).map(String::as_str).collect();
    let path = args.first().copied().unwrap_or("/");
    let no_node = || ToolError::ZooKeeper(format!("Node does not exist: {path}"));
    match w[0].as_str() {
        "ls" => {
            if !zk.exists(path).await? {
                return Err(no_node());
            }
            let kids = zk.children(path).await?;
            println!("[{}]", kids.join(", "));
        }
        "get" => {
            let (d, _) = zk.get(path).await?.ok_or_else(no_node)?;
            println!("{}", if d.is_empty() { "null".to_string() } else { String::from_utf8_lossy(&d).into_owned() });
        }
        "stat" => {
            let (_, s) = zk.get(path).await?.ok_or_else(no_node)?;
            println!("cZxid = 0x{:x}\nctime = {}\nmZxid = 0x{:x}\nmtime = {}\npZxid = 0x{:x}\ncversion = {}\ndataVersion = {}\naclVersion = {}\nephemeralOwner = 0x{:x}\ndataLength = {}\nnumChildren = {}",
                s.czxid, s.ctime, s.mzxid, s.mtime, s.pzxid, s.cversion, s.version, s.aversion, s.ephemeral_owner, s.data_length, s.num_children);
        }
        "create" => {
            let data = args.get(1).copied().unwrap_or("");
            if flags.contains(&"-e") || flags.contains(&"-s") {
                return Err(ToolError::Msg("create -e/-s is not supported by this shell".into()));
            }
            if !zk.create(path, data.as_bytes()).await? {
                return Err(ToolError::ZooKeeper(format!("Node already exists: {path}")));
            }
            println!("Created {path}");
        }
        "set" => {
            let data = args.get(1).copied().unwrap_or("");
            zk.client
                .set_data(path, data.as_bytes(), None)
                .await
                .map_err(|e| ToolError::ZooKeeper(format!("{path}: {e}")))?;
        }
        "delete" => zk.client.delete(path, None).await.map_err(|e| ToolError::ZooKeeper(format!("{path}: {e}")))?,
        "deleteall" | "rmr" => {
            let mut stack = vec![path.to_string()];
            let mut order = Vec::new();
            while let Some(p) = stack.pop() {
                for c in zk.children(&p).await? {
                    stack.push(if p == "/" { format!("/{c}") } else { format!("{p}/{c}") });
                }
                order.push(p);
            }
            for p in order.into_iter().rev() {
                zk.delete(&p).await?;
            }
        }
        other => return Err(ToolError::Usage(format!("Command not found: Command not found {other}"))),
    }
    Ok(0)
}
