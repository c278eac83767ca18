//! The data tree: znodes, their stats and ACLs, the ephemeral index and the
//! session table. `apply` is a pure function of (tree, TxnEntry), so a log
//! replayed on any server yields the same tree.

pub mod digest;
pub mod ephemeral;
pub mod snapshot;
#[cfg(test)]
mod snapshot_tests;

use crate::error::ZkError;
use crate::jute::records::{event_type, Acl, Stat};
use crate::txn::{Txn, TxnEntry};
use ephemeral::NodeKind;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// Persisted stat; `Stat` adds dataLength and numChildren and converts
/// cversion to the client's counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatPersisted {
    pub czxid: i64,
    pub mzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    /// Counts child creations; the sequential suffix comes from it.
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    pub pzxid: i64,
}

impl StatPersisted {
    /// The jute record as snapshots store it (both Apache's and the old
    /// private format).
    pub fn encode(&self, w: &mut bytes::BytesMut) {
        use crate::jute::{write_int, write_long};
        write_long(w, self.czxid);
        write_long(w, self.mzxid);
        write_long(w, self.ctime);
        write_long(w, self.mtime);
        write_int(w, self.version);
        write_int(w, self.cversion);
        write_int(w, self.aversion);
        write_long(w, self.ephemeral_owner);
        write_long(w, self.pzxid);
    }

    pub fn decode(r: &mut crate::jute::Reader) -> Result<StatPersisted, crate::jute::DecodeError> {
        Ok(StatPersisted {
            czxid: r.read_long()?,
            mzxid: r.read_long()?,
            ctime: r.read_long()?,
            mtime: r.read_long()?,
            version: r.read_int()?,
            cversion: r.read_int()?,
            aversion: r.read_int()?,
            ephemeral_owner: r.read_long()?,
            pzxid: r.read_long()?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Node {
    pub data: Option<Box<[u8]>>,
    pub acl: Arc<[Acl]>,
    pub stat: StatPersisted,
    pub children: BTreeSet<Box<str>>,
}

impl Node {
    /// The client-visible Stat. As in ZooKeeper, cversion is reported as
    /// creations + deletions: stored*2 - current children.
    pub fn stat(&self) -> Stat {
        let n = self.children.len() as i32;
        Stat {
            czxid: self.stat.czxid,
            mzxid: self.stat.mzxid,
            ctime: self.stat.ctime,
            mtime: self.stat.mtime,
            version: self.stat.version,
            cversion: self.stat.cversion.wrapping_mul(2).wrapping_sub(n),
            aversion: self.stat.aversion,
            ephemeral_owner: ephemeral::client_owner(self.stat.ephemeral_owner),
            data_length: self.data.as_ref().map_or(0, |d| d.len() as i32),
            num_children: n,
            pzxid: self.stat.pzxid,
        }
    }

    pub fn kind(&self) -> NodeKind {
        ephemeral::kind(self.stat.ephemeral_owner)
    }
}

/// A watch trigger produced by a change: path, event type, and the ACL of
/// the node the event is about (events go only to readers of that node).
pub type Trigger = (String, i32, Arc<[Acl]>);

/// The result of applying one txn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    SessionCreated,
    SessionClosed,
    Created {
        path: String,
        stat: Stat,
    },
    Deleted,
    SetData {
        stat: Stat,
    },
    /// A reconfig: the new membership's text and /zookeeper/config's Stat.
    Reconfig {
        data: Vec<u8>,
        stat: Stat,
    },
    SetAcl {
        stat: Stat,
    },
    Checked,
    Multi(Vec<Result<Applied, ZkError>>),
    Error(i32),
}

pub const ZOOKEEPER_PATH: &str = "/zookeeper";
pub const QUOTA_PATH: &str = "/zookeeper/quota";
pub const CONFIG_PATH: &str = "/zookeeper/config";

pub struct DataTree {
    nodes: HashMap<String, Node>,
    ephemerals: HashMap<i64, BTreeSet<String>>,
    containers: BTreeSet<String>,
    ttls: BTreeSet<String>,
    /// Live sessions and their negotiated timeouts: replicated state.
    sessions: BTreeMap<i64, i32>,
    last_zxid: i64,
    acl_intern: HashMap<Vec<Acl>, Arc<[Acl]>>,
    approximate_data_size: i64,
    /// Apache's tree digest: the wrapping sum of every node's digest.
    digest: i64,
    digests: digest::DigestLog,
}

/// The root and the built-in /zookeeper nodes.
pub fn is_special_path(path: &str) -> bool {
    matches!(path, "/" | ZOOKEEPER_PATH | QUOTA_PATH | CONFIG_PATH)
}

pub fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => "/",
    }
}

pub fn name_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

impl Default for DataTree {
    fn default() -> Self {
        Self::new()
    }
}

impl DataTree {
    pub fn new() -> DataTree {
        let mut t = DataTree {
            nodes: HashMap::new(),
            ephemerals: HashMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            sessions: BTreeMap::new(),
            last_zxid: 0,
            acl_intern: HashMap::new(),
            approximate_data_size: 0,
            digest: 0,
            digests: Default::default(),
        };
        let open = t.intern_acl(Acl::open_unsafe());
        // Built-in nodes hold empty (not null) data.
        let mk = |children: &[&str], acl: Arc<[Acl]>, _: Option<Box<[u8]>>| Node {
            data: Some(Box::default()),
            acl,
            stat: StatPersisted::default(),
            children: children.iter().map(|c| Box::<str>::from(*c)).collect(),
        };
        t.nodes.insert("/".into(), mk(&["zookeeper"], open.clone(), None));
        t.nodes.insert(ZOOKEEPER_PATH.into(), mk(&["config", "quota"], open.clone(), None));
        t.nodes.insert(QUOTA_PATH.into(), mk(&[], open.clone(), None));
        let read = t.intern_acl(Acl::read_unsafe());
        let mut config = mk(&[], read, None);
        config.stat.aversion = -1;
        t.nodes.insert(CONFIG_PATH.into(), config);
        t.recompute_data_size();
        t.recompute_digest();
        t
    }

    pub fn intern_acl(&mut self, acl: Vec<Acl>) -> Arc<[Acl]> {
        if let Some(a) = self.acl_intern.get(&acl) {
            return a.clone();
        }
        let a: Arc<[Acl]> = acl.clone().into();
        // Forget lists nobody uses any more before the table grows.
        if self.acl_intern.len() > 1024 {
            self.acl_intern.retain(|_, v| Arc::strong_count(v) > 1);
        }
        self.acl_intern.insert(acl, a.clone());
        a
    }

    /// Look a node up. "" is the root too: ZooKeeper's node map holds the
    /// root under both "" and "/", and reads of "" see it.
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(if path.is_empty() { "/" } else { path })
    }

    pub fn contains(&self, path: &str) -> bool {
        self.nodes.contains_key(path)
    }

    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    pub fn set_last_zxid(&mut self, zxid: i64) {
        self.last_zxid = zxid;
    }

    /// ZooKeeper's count includes the root twice ("" and "/").
    pub fn node_count(&self) -> usize {
        self.nodes.len() + 1
    }

    /// /zookeeper/config's data: the ensemble's membership, set outside
    /// any txn as Apache's initConfigInZKDatabase does (version -1, mzxid
    /// the config's version).
    pub fn set_config(&mut self, data: &[u8], config_version: i64, now_ms: i64) {
        if let Some(n) = self.nodes.get_mut(CONFIG_PATH) {
            n.data = Some(data.to_vec().into_boxed_slice());
            n.stat.version = -1;
            n.stat.mzxid = config_version;
            n.stat.mtime = now_ms;
        }
        self.recompute_data_size();
    }

    pub fn approximate_data_size(&self) -> i64 {
        self.approximate_data_size
    }

    pub fn sessions(&self) -> &BTreeMap<i64, i32> {
        &self.sessions
    }

    pub fn ephemerals_of(&self, session: i64) -> Option<&BTreeSet<String>> {
        self.ephemerals.get(&session)
    }

    pub fn ephemerals(&self) -> &HashMap<i64, BTreeSet<String>> {
        &self.ephemerals
    }

    pub fn ephemeral_count(&self) -> usize {
        self.ephemerals.values().map(|s| s.len()).sum()
    }

    pub fn containers(&self) -> &BTreeSet<String> {
        &self.containers
    }

    pub fn ttls(&self) -> &BTreeSet<String> {
        &self.ttls
    }

    /// All paths, parents before children.
    pub fn sorted_paths(&self) -> Vec<&String> {
        let mut v: Vec<&String> = self.nodes.keys().collect();
        v.sort();
        v
    }

    /// Count of all descendants of `path` (not the node itself).
    pub fn descendant_count(&self, path: &str) -> i32 {
        let mut total = 0;
        let mut stack = vec![path.to_string()];
        while let Some(p) = stack.pop() {
            if let Some(n) = self.nodes.get(&p) {
                for c in &n.children {
                    total += 1;
                    stack.push(join(&p, c));
                }
            }
        }
        total
    }

    fn recompute_data_size(&mut self) {
        self.approximate_data_size =
            self.nodes.iter().map(|(p, n)| p.len() as i64 + n.data.as_ref().map_or(0, |d| d.len() as i64)).sum();
    }

    /// Apply one logged transaction. Deterministic: depends only on the
    /// tree and the entry. Watch triggers are appended to `triggers`.
    pub fn apply(&mut self, e: &TxnEntry, triggers: &mut Vec<Trigger>) -> Result<Applied, ZkError> {
        if e.zxid > self.last_zxid {
            self.last_zxid = e.zxid;
        }
        let applied = self.apply_txn(e, &e.txn, triggers);
        // Replaying a log over a fuzzy snapshot may meet a node already
        // there; its parent still takes the create's cversion and pzxid
        // (Apache's DataTree.processTxn, for CreateTxn records only).
        if let (Txn::Create { path, parent_cversion, ephemeral_owner, .. }, Err(ZkError::NodeExists)) =
            (&e.txn, &applied)
        {
            if matches!(ephemeral::kind(*ephemeral_owner), NodeKind::Persistent | NodeKind::Ephemeral(_)) {
                self.set_cversion_pzxid(parent_of(path), *parent_cversion, e.zxid);
            }
        }
        self.digests.record(e.zxid, self.digest);
        applied
    }

    /// `DataTree.setCversionPzxid`: -1 means one past the current.
    fn set_cversion_pzxid(&mut self, path: &str, cversion: i32, zxid: i64) {
        self.unhash(path);
        if let Some(n) = self.nodes.get_mut(path) {
            let cversion = if cversion == -1 { n.stat.cversion.wrapping_add(1) } else { cversion };
            if cversion > n.stat.cversion {
                n.stat.cversion = cversion;
                n.stat.pzxid = zxid;
            }
        }
        self.rehash(path);
    }

    fn apply_txn(&mut self, e: &TxnEntry, txn: &Txn, triggers: &mut Vec<Trigger>) -> Result<Applied, ZkError> {
        match txn {
            Txn::CreateSession { timeout } => {
                self.sessions.insert(e.session_id, *timeout);
                Ok(Applied::SessionCreated)
            }
            Txn::CloseSession { paths } => {
                // Apache's killSession: the paths the txn names, then any
                // other ephemeral the session still has here.
                let mut local: BTreeSet<String> = self.ephemerals.get(&e.session_id).cloned().unwrap_or_default();
                for p in paths.iter().flatten() {
                    local.remove(p);
                    let _ = self.delete_node(p, e.zxid, triggers);
                }
                for p in local {
                    let _ = self.delete_node(&p, e.zxid, triggers);
                }
                self.sessions.remove(&e.session_id);
                Ok(Applied::SessionClosed)
            }
            Txn::Create { path, data, acl, ephemeral_owner, parent_cversion } => {
                let stat =
                    self.create_node(path, data.clone(), acl.clone(), *ephemeral_owner, *parent_cversion, e, triggers)?;
                Ok(Applied::Created { path: path.clone(), stat })
            }
            Txn::Delete { path } => {
                self.delete_node(path, e.zxid, triggers)?;
                Ok(Applied::Deleted)
            }
            Txn::Reconfig { data } => match self.set_data(CONFIG_PATH, Some(data.clone()), -1, e, triggers)? {
                Applied::SetData { stat } => Ok(Applied::Reconfig { data: data.clone(), stat }),
                other => Ok(other),
            },
            Txn::SetData { path, data, version } => self.set_data(path, data.clone(), *version, e, triggers),
            Txn::SetAcl { path, acl, version } => {
                let acl = self.intern_acl(acl.clone());
                self.unhash(path);
                let node = self.nodes.get_mut(path).ok_or(ZkError::NoNode)?;
                node.acl = acl;
                node.stat.aversion = *version;
                let stat = node.stat();
                self.rehash(path);
                Ok(Applied::SetAcl { stat })
            }
            Txn::Check { path, .. } => {
                if self.nodes.contains_key(path) {
                    Ok(Applied::Checked)
                } else {
                    Err(ZkError::NoNode)
                }
            }
            Txn::Multi(txns) => {
                let mut results = Vec::with_capacity(txns.len());
                for t in txns {
                    results.push(self.apply_txn(e, t, triggers));
                }
                Ok(Applied::Multi(results))
            }
            Txn::Error(code) => Ok(Applied::Error(*code)),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn create_node(
        &mut self,
        path: &str,
        data: Option<Vec<u8>>,
        acl: Vec<Acl>,
        owner: i64,
        parent_cversion: i32,
        e: &TxnEntry,
        triggers: &mut Vec<Trigger>,
    ) -> Result<Stat, ZkError> {
        let parent_path = parent_of(path).to_string();
        if !self.nodes.contains_key(&parent_path) {
            return Err(ZkError::NoNode);
        }
        let acl = self.intern_acl(acl);
        if let Some(existing) = self.nodes.get_mut(path) {
            // Apache's createNode gives a node met again on replay the
            // create's ACL (not part of the digest).
            existing.acl = acl;
            return Err(ZkError::NodeExists);
        }
        self.unhash(&parent_path);
        let parent = self.nodes.get_mut(&parent_path).ok_or(ZkError::NoNode)?;
        let parent_acl = parent.acl.clone();
        parent.children.insert(name_of(path).into());
        let parent_cversion =
            if parent_cversion == -1 { parent.stat.cversion.wrapping_add(1) } else { parent_cversion };
        // A replay over a fuzzy snapshot must not move them back.
        if parent_cversion > parent.stat.cversion {
            parent.stat.cversion = parent_cversion;
            parent.stat.pzxid = e.zxid;
        }
        self.rehash(&parent_path);
        let data_len = data.as_ref().map_or(0, |d| d.len() as i64);
        let node = Node {
            data: data.map(|d| d.into_boxed_slice()),
            acl: acl.clone(),
            stat: StatPersisted {
                czxid: e.zxid,
                mzxid: e.zxid,
                ctime: e.time,
                mtime: e.time,
                version: 0,
                cversion: 0,
                aversion: 0,
                ephemeral_owner: owner,
                pzxid: e.zxid,
            },
            children: BTreeSet::new(),
        };
        let stat = node.stat();
        match node.kind() {
            NodeKind::Ephemeral(s) => {
                self.ephemerals.entry(s).or_default().insert(path.to_string());
            }
            NodeKind::Container => {
                self.containers.insert(path.to_string());
            }
            NodeKind::Ttl(_) => {
                self.ttls.insert(path.to_string());
            }
            NodeKind::Persistent => {}
        }
        self.approximate_data_size += path.len() as i64 + data_len;
        self.digest = self.digest.wrapping_add(digest::node_digest(path, &node));
        self.nodes.insert(path.to_string(), node);
        triggers.push((path.to_string(), event_type::NODE_CREATED, acl));
        triggers.push((parent_path, event_type::NODE_CHILDREN_CHANGED, parent_acl));
        Ok(stat)
    }

    /// setData's change; `version` is the node's new version.
    fn set_data(
        &mut self,
        path: &str,
        data: Option<Vec<u8>>,
        version: i32,
        e: &TxnEntry,
        triggers: &mut Vec<Trigger>,
    ) -> Result<Applied, ZkError> {
        self.unhash(path);
        let node = self.nodes.get_mut(path).ok_or(ZkError::NoNode)?;
        let old = node.data.as_ref().map_or(0, |d| d.len() as i64);
        let new = data.as_ref().map_or(0, |d| d.len() as i64);
        node.data = data.map(Vec::into_boxed_slice);
        node.stat.version = version;
        node.stat.mzxid = e.zxid;
        node.stat.mtime = e.time;
        let stat = node.stat();
        let acl = node.acl.clone();
        self.approximate_data_size += new - old;
        self.rehash(path);
        triggers.push((path.to_string(), event_type::NODE_DATA_CHANGED, acl));
        Ok(Applied::SetData { stat })
    }

    fn delete_node(&mut self, path: &str, zxid: i64, triggers: &mut Vec<Trigger>) -> Result<(), ZkError> {
        if path == "/" {
            return Err(ZkError::BadArguments);
        }
        match self.nodes.get(path) {
            None => {
                // Replaying over a fuzzy snapshot: the node went before it
                // was written, its parent's record did not see it go
                // (Apache's deleteNode moves pzxid before looking).
                let parent_path = parent_of(path);
                self.unhash(parent_path);
                if let Some(parent) = self.nodes.get_mut(parent_path) {
                    if zxid > parent.stat.pzxid {
                        parent.stat.pzxid = zxid;
                    }
                }
                self.rehash(parent_path);
                return Err(ZkError::NoNode);
            }
            Some(n) if !n.children.is_empty() => return Err(ZkError::NotEmpty),
            Some(_) => {}
        }
        let node = self.nodes.remove(path).ok_or(ZkError::NoNode)?;
        self.approximate_data_size -= path.len() as i64 + node.data.as_ref().map_or(0, |d| d.len() as i64);
        self.digest = self.digest.wrapping_sub(digest::node_digest(path, &node));
        let parent_path = parent_of(path).to_string();
        let mut parent_acl = node.acl.clone();
        self.unhash(&parent_path);
        if let Some(parent) = self.nodes.get_mut(&parent_path) {
            parent_acl = parent.acl.clone();
            parent.children.remove(name_of(path));
            // A later create may already have moved pzxid further.
            if zxid > parent.stat.pzxid {
                parent.stat.pzxid = zxid;
            }
        }
        self.rehash(&parent_path);
        match node.kind() {
            NodeKind::Ephemeral(s) => {
                if let Some(set) = self.ephemerals.get_mut(&s) {
                    set.remove(path);
                    if set.is_empty() {
                        self.ephemerals.remove(&s);
                    }
                }
            }
            NodeKind::Container => {
                self.containers.remove(path);
            }
            NodeKind::Ttl(_) => {
                self.ttls.remove(path);
            }
            NodeKind::Persistent => {}
        }
        triggers.push((path.to_string(), event_type::NODE_DELETED, node.acl.clone()));
        triggers.push((parent_path, event_type::NODE_CHILDREN_CHANGED, parent_acl));
        Ok(())
    }

    /// Insert a node while loading a snapshot (parents come first).
    pub(crate) fn load_node(&mut self, path: String, node: Node) {
        match node.kind() {
            NodeKind::Ephemeral(s) => {
                self.ephemerals.entry(s).or_default().insert(path.clone());
            }
            NodeKind::Container => {
                self.containers.insert(path.clone());
            }
            NodeKind::Ttl(_) => {
                self.ttls.insert(path.clone());
            }
            NodeKind::Persistent => {}
        }
        self.nodes.insert(path, node);
    }

    pub(crate) fn load_session(&mut self, id: i64, timeout: i32) {
        self.sessions.insert(id, timeout);
    }

    pub(crate) fn clear_for_load(&mut self) {
        self.nodes.clear();
        self.ephemerals.clear();
        self.containers.clear();
        self.ttls.clear();
        self.sessions.clear();
    }

    pub(crate) fn finish_load(&mut self) {
        self.recompute_data_size();
        self.recompute_digest();
    }

    pub(crate) fn nodes(&self) -> &HashMap<String, Node> {
        &self.nodes
    }

    pub(crate) fn node_mut(&mut self, path: &str) -> Option<&mut Node> {
        self.nodes.get_mut(path)
    }
}

/// `parent` + "/" + `name`, without doubling the root slash.
pub fn join(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}
