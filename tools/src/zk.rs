//! ZooKeeper access for the `--zookeeper` paths: Kafka's znode layout read
//! and written directly, as the ZooKeeper-mode tools of Kafka 2.x did.

use std::time::Duration;

use zookeeper_client as zk;

use crate::error::{Result, ToolError};

pub struct Zk {
    pub client: zk::Client,
}

/// Every session this process opened. A session is closed (CloseSession)
/// by the client's background task once the last handle to it is dropped;
/// `close_sessions` waits for that before the process exits, as Kafka's
/// tools close theirs, so no session lingers until its timeout.
static SESSIONS: std::sync::Mutex<Vec<zk::StateWatcher>> = std::sync::Mutex::new(Vec::new());

/// Wait (at most a few seconds in all) until every session this process
/// opened has ended. Call after the tool has dropped its clients.
pub async fn close_sessions() {
    let watchers = match SESSIONS.lock() {
        Ok(mut s) => std::mem::take(&mut *s),
        Err(p) => std::mem::take(&mut *p.into_inner()),
    };
    let all = async {
        for mut w in watchers {
            while !w.peek_state().is_terminated() {
                w.changed().await;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), all).await;
}

fn zerr(path: &str, e: zk::Error) -> ToolError {
    ToolError::ZooKeeper(format!("ZooKeeper error on {path}: {e}"))
}

impl Zk {
    /// `host[:port][,host[:port]][/chroot]`; the port defaults to 2181.
    pub async fn connect(connect: &str, timeout: Duration) -> Result<Zk> {
        let connector = zk::Client::connector()
            .with_session_timeout(Duration::from_secs(30))
            .with_connection_timeout(timeout)
            .with_fail_eagerly();
        let fut = connector.connect(connect);
        let client = tokio::time::timeout(timeout, fut)
            .await
            .map_err(|_| {
                ToolError::Timeout(format!("Timed out waiting for connection while in state: CONNECTING ({connect})"))
            })?
            .map_err(|e| ToolError::ZooKeeper(format!("Cannot connect to ZooKeeper at {connect}: {e}")))?;
        match SESSIONS.lock() {
            Ok(mut s) => s.push(client.state_watcher()),
            Err(p) => p.into_inner().push(client.state_watcher()),
        }
        Ok(Zk { client })
    }

    pub async fn get(&self, path: &str) -> Result<Option<(Vec<u8>, zk::Stat)>> {
        match self.client.get_data(path).await {
            Ok(v) => Ok(Some(v)),
            Err(zk::Error::NoNode) => Ok(None),
            Err(e) => Err(zerr(path, e)),
        }
    }

    pub async fn get_json(&self, path: &str) -> Result<Option<serde_json::Value>> {
        match self.get(path).await? {
            None => Ok(None),
            Some((d, _)) if d.is_empty() => Ok(Some(serde_json::Value::Null)),
            Some((d, _)) => serde_json::from_slice(&d)
                .map(Some)
                .map_err(|e| ToolError::ZooKeeper(format!("{path} holds invalid JSON: {e}"))),
        }
    }

    pub async fn exists(&self, path: &str) -> Result<bool> {
        self.client.check_stat(path).await.map(|s| s.is_some()).map_err(|e| zerr(path, e))
    }

    pub async fn children(&self, path: &str) -> Result<Vec<String>> {
        match self.client.list_children(path).await {
            Ok(mut v) => {
                v.sort();
                Ok(v)
            }
            Err(zk::Error::NoNode) => Ok(Vec::new()),
            Err(e) => Err(zerr(path, e)),
        }
    }

    /// Create a persistent node, parents first. `Ok(false)` if it existed.
    pub async fn create(&self, path: &str, data: &[u8]) -> Result<bool> {
        let opts = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
        if let Some((parent, _)) = path.rsplit_once('/') {
            if !parent.is_empty() {
                match self.client.mkdir(parent, &opts).await {
                    Ok(()) | Err(zk::Error::NodeExists) => {}
                    Err(e) => return Err(zerr(parent, e)),
                }
            }
        }
        match self.client.create(path, data, &opts).await {
            Ok(_) => Ok(true),
            Err(zk::Error::NodeExists) => Ok(false),
            Err(e) => Err(zerr(path, e)),
        }
    }

    pub async fn create_sequential(&self, prefix: &str, data: &[u8]) -> Result<()> {
        let opts = zk::CreateMode::PersistentSequential.with_acls(zk::Acls::anyone_all());
        self.client.create(prefix, data, &opts).await.map(|_| ()).map_err(|e| zerr(prefix, e))
    }

    /// Set data, creating the node if missing.
    pub async fn upsert(&self, path: &str, data: &[u8]) -> Result<()> {
        if !self.create(path, data).await? {
            self.client.set_data(path, data, None).await.map_err(|e| zerr(path, e))?;
        }
        Ok(())
    }

    pub async fn delete(&self, path: &str) -> Result<()> {
        match self.client.delete(path, None).await {
            Ok(()) | Err(zk::Error::NoNode) => Ok(()),
            Err(e) => Err(zerr(path, e)),
        }
    }

    /// Live broker ids from /brokers/ids.
    pub async fn broker_ids(&self) -> Result<Vec<i32>> {
        let mut ids: Vec<i32> = self.children("/brokers/ids").await?.iter().filter_map(|s| s.parse().ok()).collect();
        ids.sort();
        Ok(ids)
    }

    /// `{"version":1,"config":{..}}` of /config/<kind>/<name>.
    pub async fn entity_config(&self, kind: &str, name: &str) -> Result<serde_json::Map<String, serde_json::Value>> {
        let v = self.get_json(&format!("/config/{kind}/{name}")).await?;
        Ok(v.and_then(|v| v.get("config").and_then(|c| c.as_object().cloned())).unwrap_or_default())
    }

    /// Write an entity's config and notify the brokers, as AdminZkClient does.
    pub async fn set_entity_config(
        &self,
        kind: &str,
        name: &str,
        cfg: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<()> {
        let body = serde_json::json!({"version": 1, "config": cfg});
        self.upsert(&format!("/config/{kind}/{name}"), body.to_string().as_bytes()).await?;
        let note = serde_json::json!({"version": 2, "entity_path": format!("{kind}/{name}")});
        self.create("/config/changes", b"").await?;
        self.create_sequential("/config/changes/config_change_", note.to_string().as_bytes()).await
    }
}
