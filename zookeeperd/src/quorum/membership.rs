//! The ensemble's membership as Apache's `QuorumMaj` holds it: server
//! lines and a version (the zxid of the reconfig that made it). Parsed
//! from and printed to Apache's text (`/zookeeper/config`, NEWLEADER,
//! notifications), changed by a reconfig request (incremental or a whole
//! new list), and written to the dynamic config files as Apache's
//! QuorumPeerConfig writes them. No I/O except `write_*`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::Sid;
use crate::config::{parse_server, QuorumServer};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub servers: BTreeMap<u64, QuorumServer>,
    pub version: i64,
}

/// Why a membership text or change is refused (the client's BadArguments).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadMembership(pub String);

fn bad(msg: impl Into<String>) -> BadMembership {
    BadMembership(msg.into())
}

impl Membership {
    /// `server.N=...` entries separated by newlines or commas, and an
    /// optional `version=<hex>` (absent: 0).
    pub fn parse(text: &str) -> Result<Membership, BadMembership> {
        let mut servers = BTreeMap::new();
        let mut version = 0;
        for entry in text.split(['\n', ',']).map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let (k, v) = entry.split_once('=').ok_or_else(|| bad(format!("not key=value: {entry}")))?;
            let (k, v) = (k.trim(), v.trim());
            if k == "version" {
                version = i64::from_str_radix(v, 16).map_err(|_| bad(format!("bad version {v}")))?;
            } else if let Some(id) = k.strip_prefix("server.") {
                let id: u64 = id.parse().map_err(|_| bad(format!("bad server id in {k}")))?;
                servers.insert(id, parse_server(id, v).ok_or_else(|| bad(format!("bad server line {entry}")))?);
            } else {
                // Hierarchical quorums (group, weight) are not supported.
                return Err(bad(format!("unsupported key {k}")));
            }
        }
        Ok(Membership { servers, version })
    }

    pub fn voters(&self) -> BTreeSet<Sid> {
        self.servers.iter().filter(|(_, q)| q.role != "observer").map(|(id, _)| *id as Sid).collect()
    }

    pub fn is_observer(&self, sid: Sid) -> bool {
        self.servers.get(&(sid as u64)).is_some_and(|q| q.role == "observer")
    }

    /// Apache's `QuorumMaj.toString()`.
    pub fn verifier(&self) -> String {
        super::peer::verifier_string(&self.servers, self.version)
    }

    /// An incremental change (PrepRequestProcessor's): `leaving` ids go,
    /// then each `joining` `server.N=host:q:e[:role];[addr:]client` is
    /// added or replaces its id. Every joiner names three ports.
    pub fn incremental(&self, joining: Option<&str>, leaving: Option<&str>) -> Result<Membership, BadMembership> {
        let mut servers = self.servers.clone();
        for id in leaving.into_iter().flat_map(|l| l.split(',')).map(str::trim).filter(|s| !s.is_empty()) {
            let id: u64 = id.parse().map_err(|_| bad(format!("bad server id {id}")))?;
            servers.remove(&id);
        }
        for joiner in joining.into_iter().flat_map(|j| j.split(',')).map(str::trim).filter(|s| !s.is_empty()) {
            let (k, v) = joiner.split_once('=').ok_or_else(|| bad("Wrong format of server string"))?;
            let id: u64 = k
                .rsplit_once('.')
                .map_or(k, |(_, id)| id)
                .trim()
                .parse()
                .map_err(|_| bad("Wrong format of server string"))?;
            let q = parse_server(id, v.trim()).ok_or_else(|| bad("Wrong format of server string"))?;
            if q.client_port.is_none() {
                return Err(bad("Wrong format of server string - each server should have 3 ports specified"));
            }
            let clash = servers.values().any(|o| {
                o.id != id
                    && o.host == q.host
                    && [o.quorum_port, o.election_port].iter().any(|p| [q.quorum_port, q.election_port].contains(p))
            });
            if clash {
                return Err(bad("Reconfiguration failed"));
            }
            servers.insert(id, q);
        }
        Ok(Membership { servers, version: self.version })
    }

    /// The lines of `zoo.cfg.dynamic.<version>`: sorted, no version, as
    /// Apache's writeDynamicConfig.
    fn dynamic_lines(&self, keep_version: bool) -> String {
        let text = self.verifier();
        let mut lines: Vec<&str> =
            text.lines().filter(|l| keep_version || !l.trim_start().starts_with("version")).collect();
        lines.sort_unstable();
        lines.join("\n")
    }

    /// Where the committed membership goes: `<zoo.cfg>.dynamic.<hex>`.
    pub fn dynamic_file(&self, static_file: &Path) -> PathBuf {
        let mut name = static_file.as_os_str().to_owned();
        name.push(format!(".dynamic.{:x}", self.version));
        PathBuf::from(name)
    }

    /// A membership proposed, not yet committed: `<zoo.cfg>.dynamic.next`
    /// (with its version), as setLastSeenQuorumVerifier writes it.
    pub fn write_next(&self, static_file: &Path) -> std::io::Result<()> {
        write_atomic(&next_file(static_file), &self.dynamic_lines(true))
    }

    /// The membership committed: its dynamic file written, zoo.cfg made to
    /// point at it without its own server lines (Apache's editStaticConfig;
    /// `erase_client`: our line names our client address, so clientPort
    /// and clientPortAddress leave zoo.cfg), and `.dynamic.next` removed.
    pub fn write_committed(&self, static_file: &Path, erase_client: bool) -> std::io::Result<PathBuf> {
        let dynamic = self.dynamic_file(static_file);
        write_atomic(&dynamic, &self.dynamic_lines(false))?;
        let canonical = std::fs::canonicalize(&dynamic)?;
        let text = std::fs::read_to_string(static_file)?;
        let map = shared::ConfigMap::from_properties(&text);
        // In key order (Apache's is a hash table's).
        let mut out = String::new();
        for (k, v) in map.iter() {
            let k = k.trim();
            let dropped =
                ["server.", "group", "weight", "dynamicConfigFile", "peerType"].iter().any(|p| k.starts_with(p))
                    || (erase_client && k.starts_with("clientPort"));
            if !dropped {
                out.push_str(&format!("{k}={}\n", v.trim()));
            }
        }
        out.push_str(&format!("dynamicConfigFile={}\n", canonical.display()));
        write_atomic(static_file, &out)?;
        let _ = std::fs::remove_file(next_file(static_file));
        Ok(canonical)
    }
}

fn next_file(static_file: &Path) -> PathBuf {
    let mut name = static_file.as_os_str().to_owned();
    name.push(".dynamic.next");
    PathBuf::from(name)
}

/// Write to a temp file beside `path`, fsync, rename (Apache's
/// AtomicFileWritingIdiom).
fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const THREE: &str = "server.1=127.0.0.1:2001:3001:participant;127.0.0.1:4001\n\
                         server.2=127.0.0.1:2002:3002:participant;127.0.0.1:4002\n\
                         server.3=127.0.0.1:2003:3003:participant;127.0.0.1:4003\nversion=100000000";

    #[test]
    fn prints_what_it_parses() {
        let m = Membership::parse(THREE).unwrap();
        assert_eq!((m.servers.len(), m.version), (3, 0x1_0000_0000));
        assert_eq!(m.verifier(), THREE);
        assert_eq!(m.voters(), BTreeSet::from([1, 2, 3]));
    }

    #[test]
    fn incremental_removes_then_adds() {
        let m = Membership::parse(THREE).unwrap();
        let two = m.incremental(None, Some("3")).unwrap();
        assert_eq!(two.voters(), BTreeSet::from([1, 2]));
        let back = two.incremental(Some("server.3=127.0.0.1:2003:3003:observer;4003"), None).unwrap();
        assert!(back.is_observer(3));
        assert_eq!(back.voters(), BTreeSet::from([1, 2]));
        // A joiner needs its client port; ports may not clash.
        assert!(m.incremental(Some("server.4=127.0.0.1:2004:3004"), None).is_err());
        assert!(m.incremental(Some("server.4=127.0.0.1:2001:3004;4004"), None).is_err());
        assert!(m.incremental(Some("nonsense"), None).is_err());
    }

    #[test]
    fn new_members_may_be_comma_separated() {
        let m = Membership::parse(&THREE.replace('\n', ",")).unwrap();
        assert_eq!(m.servers.len(), 3);
        assert!(Membership::parse("group.1=1:2").is_err());
    }

    #[test]
    fn committed_files_as_apache_writes_them() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("zoo.cfg");
        std::fs::write(&cfg, "tickTime=500\nclientPort=4001\nserver.1=x:1:2\ndataDir=/d\n").unwrap();
        let mut m = Membership::parse(THREE).unwrap();
        m.version = 0x1_0000_0005;
        m.write_next(&cfg).unwrap();
        let next = dir.path().join("zoo.cfg.dynamic.next");
        assert!(std::fs::read_to_string(&next).unwrap().ends_with("version=100000005"));
        let dynamic = m.write_committed(&cfg, true).unwrap();
        assert!(dynamic.ends_with("zoo.cfg.dynamic.100000005"));
        let lines = std::fs::read_to_string(&dynamic).unwrap();
        assert_eq!(lines.lines().count(), 3);
        assert!(!lines.contains("version"));
        let text = std::fs::read_to_string(&cfg).unwrap();
        assert_eq!(text, format!("dataDir=/d\ntickTime=500\ndynamicConfigFile={}\n", dynamic.display()));
        assert!(!next.exists());
    }
}
