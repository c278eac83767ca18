//! zoo.cfg (or TOML) read as Apache ZooKeeper reads it. Keys ZooKeeper does
//! not know as config become `zookeeper.*` system properties there, so
//! `extendedTypesEnabled=true` and `zookeeper.extendedTypesEnabled=true`
//! mean the same here.

use shared::{ConfigError, ConfigMap};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumServer {
    pub id: u64,
    pub host: String,
    pub quorum_port: u16,
    pub election_port: u16,
    pub client_port: Option<u16>,
    /// The client address the line names (`;host:port`), if any.
    pub client_host: Option<String>,
    pub role: String,
}

#[derive(Debug, Clone)]
pub struct ZkConfig {
    pub tick_time: u32,
    pub init_limit: u32,
    pub sync_limit: u32,
    pub data_dir: PathBuf,
    pub data_log_dir: PathBuf,
    pub client_port: u16,
    pub client_port_address: Option<IpAddr>,
    pub max_client_cnxns: u32,
    pub min_session_timeout: u32,
    pub max_session_timeout: u32,
    pub snap_retain_count: usize,
    /// Hours; 0 disables autopurge.
    pub purge_interval: u32,
    /// Four-letter words allowed; `*` allows all.
    pub four_letter_whitelist: Vec<String>,
    pub jute_max_buffer: usize,
    pub admin_enabled: bool,
    pub admin_address: IpAddr,
    pub admin_port: u16,
    pub servers: BTreeMap<u64, QuorumServer>,
    /// Our own server line after a reconfig took us out of `servers`: we
    /// still elect (as a non-voter) from its addresses.
    pub own_line_removed: Option<QuorumServer>,
    /// `dynamicConfigFile`: where the server lines came from, if not zoo.cfg.
    pub dynamic_config_file: Option<PathBuf>,
    /// The membership's version: the hex suffix of the dynamic file's name
    /// (`zoo.cfg.dynamic.100000000`), else 0.
    pub config_version: i64,
    pub my_id: Option<u64>,
    pub snap_count: u64,
    /// `zookeeper.snapSizeLimitInKb` in bytes: a snapshot is also due once
    /// about this much log was written (0: only snapCount counts).
    pub snap_size_limit: u64,
    pub extended_types: bool,
    /// readonlymode.enabled: a member cut off from its quorum serves
    /// read-only clients.
    pub read_only_mode: bool,
    /// localSessionsEnabled: in an ensemble, sessions live only on the
    /// server that made them, with no txn, until an ephemeral needs them
    /// global (localSessionsUpgradingEnabled) or is refused.
    pub local_sessions: bool,
    /// standaloneEnabled (default true): with it off, even one server line
    /// makes an ensemble (of one), as Apache's QuorumPeerMain runs it.
    pub standalone_enabled: bool,
    /// reconfigEnabled: the reconfig request is served (leaders only).
    pub reconfig_enabled: bool,
    pub local_sessions_upgrading: bool,
    pub super_digest: Option<String>,
    pub force_sync: bool,
    /// Bytes the txn log grows by at a time (`preAllocSize`, given in KiB).
    pub pre_alloc_size: u64,
    pub container_check_interval: Duration,
    /// The file it came from, for `conf` and logs.
    pub source: Option<PathBuf>,
    /// Report to systemd (READY once serving, STATUS, watchdog): set by the
    /// zookeeperd binary, not when embedded in another process.
    pub systemd_notify: bool,
    /// Keys read but not understood (warned about at start).
    pub unknown_keys: Vec<String>,
}

/// Keys this server reads, with and without the `zookeeper.` prefix.
const KNOWN: &[&str] = &[
    "tickTime",
    "initLimit",
    "syncLimit",
    "dataDir",
    "dataLogDir",
    "clientPort",
    "clientPortAddress",
    "secureClientPort",
    "maxClientCnxns",
    "minSessionTimeout",
    "maxSessionTimeout",
    "autopurge.snapRetainCount",
    "autopurge.purgeInterval",
    "4lw.commands.whitelist",
    "jute.maxbuffer",
    "admin.enableServer",
    "admin.serverPort",
    "admin.serverAddress",
    "snapCount",
    "snapSizeLimitInKb",
    "extendedTypesEnabled",
    "readonlymode.enabled",
    "localSessionsEnabled",
    "localSessionsUpgradingEnabled",
    "DigestAuthenticationProvider.superDigest",
    "forceSync",
    "znode.container.checkIntervalMs",
    "standaloneEnabled",
    "reconfigEnabled",
    "globalOutstandingLimit",
    "preAllocSize",
    "electionAlg",
    "quorumListenOnAllIPs",
    "peerType",
    "syncEnabled",
    "metricsProvider.className",
    "metricsProvider.httpPort",
    "metricsProvider.exportJvmInfo",
    "admin.commandURL",
    "dynamicConfigFile",
    "4lw.commands",
];

impl ZkConfig {
    pub fn load(path: &Path) -> Result<ZkConfig, ConfigError> {
        let map = ConfigMap::load(path)?;
        let mut cfg = ZkConfig::from_map(&map)?;
        cfg.source = Some(path.to_path_buf());
        Ok(cfg)
    }

    /// Look a key up as itself or as a `zookeeper.` system property.
    fn key<'a>(map: &'a ConfigMap, key: &str) -> Option<(&'a str, String)> {
        if let Some(v) = map.get(key) {
            return Some((v, key.to_string()));
        }
        let sys = format!("zookeeper.{key}");
        map.get(&sys).map(|v| (v, sys))
    }

    fn num<T: std::str::FromStr>(map: &ConfigMap, key: &str, default: T) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match Self::key(map, key) {
            None => Ok(default),
            Some((_, k)) => map.parse_or(&k, default),
        }
    }

    fn flag(map: &ConfigMap, key: &str, default: bool) -> Result<bool, ConfigError> {
        match Self::key(map, key) {
            None => Ok(default),
            Some((v, k)) => match v.trim() {
                "yes" => Ok(true),
                "no" => Ok(false),
                _ => map.bool_or(&k, default),
            },
        }
    }

    pub fn from_map(map: &ConfigMap) -> Result<ZkConfig, ConfigError> {
        let tick_time: u32 = Self::num(map, "tickTime", 3000)?;
        if tick_time == 0 {
            return Err(map.bad("tickTime", "must be greater than 0"));
        }
        let data_dir =
            PathBuf::from(Self::key(map, "dataDir").ok_or_else(|| ConfigError::Missing("dataDir".into()))?.0.trim());
        let data_log_dir =
            Self::key(map, "dataLogDir").map(|(v, _)| PathBuf::from(v.trim())).unwrap_or_else(|| data_dir.clone());
        let min: i64 = Self::num(map, "minSessionTimeout", -1)?;
        let max: i64 = Self::num(map, "maxSessionTimeout", -1)?;
        let min_session_timeout = if min < 0 { tick_time * 2 } else { min as u32 };
        let max_session_timeout = if max < 0 { tick_time * 20 } else { max as u32 };
        if min_session_timeout > max_session_timeout {
            return Err(map.bad("minSessionTimeout", "minSessionTimeout must not be larger than maxSessionTimeout"));
        }
        let client_port_address = match Self::key(map, "clientPortAddress") {
            None => None,
            Some((v, k)) => Some(v.trim().parse().map_err(|_| map.bad(&k, "not an IP address"))?),
        };
        let whitelist =
            Self::key(map, "4lw.commands.whitelist").map(|(v, _)| v.to_string()).unwrap_or_else(|| "srvr".into());
        let four_letter_whitelist =
            whitelist.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        let admin_address = match Self::key(map, "admin.serverAddress") {
            None => IpAddr::from([0, 0, 0, 0]),
            Some((v, k)) => v.trim().parse().map_err(|_| map.bad(&k, "not an IP address"))?,
        };
        let mut servers = BTreeMap::new();
        let mut unknown_keys = Vec::new();
        let dynamic_config_file = Self::key(map, "dynamicConfigFile").map(|(v, _)| PathBuf::from(v.trim()));
        let dynamic = match &dynamic_config_file {
            None => None,
            Some(path) => Some(dynamic_members(map, path)?),
        };
        let (members, config_version) = match &dynamic {
            Some((m, version)) => (m, *version),
            None => (map, 0),
        };
        for (k, v) in members.iter() {
            if let Some(id) = k.strip_prefix("server.") {
                let id: u64 = id.parse().map_err(|_| map.bad(k, "server id must be a number"))?;
                servers.insert(
                    id,
                    parse_server(id, v).ok_or_else(|| {
                        members.bad(k, "expected host:quorumPort:electionPort[:role][;[clientAddress:]clientPort]")
                    })?,
                );
                continue;
            }
            if dynamic.is_some() {
                // The dynamic file holds the membership only.
                if !k.starts_with("group") && !k.starts_with("weight") {
                    unknown_keys.push(k.to_string());
                }
                continue;
            }
            let bare = k.strip_prefix("zookeeper.").unwrap_or(k);
            if !KNOWN.contains(&bare) && !k.starts_with("group.") && !k.starts_with("weight.") {
                unknown_keys.push(k.to_string());
            }
        }
        let my_id: Option<u64> =
            std::fs::read_to_string(data_dir.join("myid")).ok().and_then(|s| s.trim().parse().ok());
        // Without clientPort, a member serves where its own server line
        // says (`;[host:]port`), as Apache's QuorumPeerConfig does.
        let mine = my_id.and_then(|id| servers.get(&id));
        let (client_port, client_port_address) = match (Self::key(map, "clientPort"), mine) {
            (None, Some(QuorumServer { client_port: Some(p), client_host, .. })) => {
                let host = client_host.as_deref().and_then(|h| h.parse().ok());
                (*p, client_port_address.or(host))
            }
            _ => (Self::num(map, "clientPort", 2181)?, client_port_address),
        };
        let container_ms: u64 = Self::num(map, "znode.container.checkIntervalMs", 60_000)?;
        Ok(ZkConfig {
            tick_time,
            init_limit: Self::num(map, "initLimit", 10)?,
            sync_limit: Self::num(map, "syncLimit", 5)?,
            data_dir,
            data_log_dir,
            client_port,
            client_port_address,
            max_client_cnxns: Self::num(map, "maxClientCnxns", 60)?,
            min_session_timeout,
            max_session_timeout,
            snap_retain_count: Self::num(map, "autopurge.snapRetainCount", 3)?,
            purge_interval: Self::num(map, "autopurge.purgeInterval", 0)?,
            four_letter_whitelist,
            jute_max_buffer: Self::num(map, "jute.maxbuffer", 0xfffff)?,
            admin_enabled: Self::flag(map, "admin.enableServer", true)?,
            admin_address,
            admin_port: Self::num(map, "admin.serverPort", 8080)?,
            servers,
            own_line_removed: None,
            dynamic_config_file,
            config_version,
            my_id,
            // Apache resets anything below 2 to 2.
            snap_count: Self::num::<u64>(map, "snapCount", 100_000)?.max(2),
            snap_size_limit: Self::num::<i64>(map, "snapSizeLimitInKb", 4_194_304)?.max(0) as u64 * 1024,
            extended_types: Self::flag(map, "extendedTypesEnabled", false)?,
            read_only_mode: match map.get("readonlymode.enabled") {
                Some(_) => map.bool_or("readonlymode.enabled", false)?,
                None => Self::flag(map, "readonlymode.enabled", false)?,
            },
            local_sessions: Self::flag(map, "localSessionsEnabled", false)?,
            standalone_enabled: Self::flag(map, "standaloneEnabled", true)?,
            reconfig_enabled: Self::flag(map, "reconfigEnabled", false)?,
            local_sessions_upgrading: Self::flag(map, "localSessionsUpgradingEnabled", false)?,
            super_digest: Self::key(map, "DigestAuthenticationProvider.superDigest").map(|(v, _)| v.trim().to_string()),
            force_sync: Self::flag(map, "forceSync", true)?,
            pre_alloc_size: Self::num::<u64>(map, "preAllocSize", 65536)?.saturating_mul(1024),
            container_check_interval: Duration::from_millis(container_ms.max(1)),
            source: None,
            systemd_notify: false,
            unknown_keys,
        })
    }

    /// Whether a four-letter word may run.
    /// Whether a four-letter word may run; `srvr` always may.
    pub fn four_letter_allowed(&self, cmd: &str) -> bool {
        cmd == "srvr" || self.four_letter_whitelist.iter().any(|w| w == "*" || w == cmd)
    }
}

/// The dynamic config file's members and version, as QuorumPeerConfig
/// reads them: zoo.cfg then may not hold server, group or weight lines,
/// the file no `version` key (the version is its name's hex suffix).
fn dynamic_members(map: &ConfigMap, path: &Path) -> Result<(ConfigMap, i64), ConfigError> {
    if let Some((k, _)) =
        map.iter().find(|(k, _)| k.starts_with("server.") || k.starts_with("group") || k.starts_with("weight"))
    {
        return Err(map.bad(k, format!("parameter: {k} must be in a separate dynamic config file")));
    }
    let members = ConfigMap::load(path)?;
    if members.get("version").is_some() {
        return Err(members.bad("version", "dynamic file shouldn't have version inside"));
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let version = name.rsplit_once('.').and_then(|(_, v)| i64::from_str_radix(v, 16).ok()).unwrap_or(0);
    Ok((members, version))
}

/// `host:2888:3888[:participant|observer][;[addr:]2181]`
pub(crate) fn parse_server(id: u64, v: &str) -> Option<QuorumServer> {
    let (addr, client) = match v.split_once(';') {
        Some((a, c)) => (a.trim(), Some(c.trim())),
        None => (v.trim(), None),
    };
    let parts: Vec<&str> = addr.split(':').collect();
    if parts.len() < 3 {
        return None;
    }
    let role = parts.get(3).map(|s| s.to_string()).unwrap_or_else(|| "participant".into());
    let (client_host, client_port) = match client {
        None => (None, None),
        Some(c) => match c.rsplit_once(':') {
            Some((h, p)) => (Some(h.trim_matches(['[', ']']).to_string()), Some(p.parse().ok()?)),
            None => (None, Some(c.parse().ok()?)),
        },
    };
    Some(QuorumServer {
        id,
        host: parts[0].to_string(),
        quorum_port: parts[1].parse().ok()?,
        election_port: parts[2].parse().ok()?,
        client_port,
        client_host,
        role,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_playbook_zoo_cfg_loads() {
        let m = ConfigMap::from_properties(
            "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/data/zk\nclientPort=2181\n\
             autopurge.snapRetainCount=3\nautopurge.purgeInterval=1\n\
             server.1=peter-zk01.foo.bar:2888:3888;2181\nserver.2=peter-zk02.foo.bar:2888:3888;2181\n\
             server.3=peter-zk03.foo.bar:2888:3888;2181\n",
        );
        let c = ZkConfig::from_map(&m).unwrap();
        assert_eq!(c.tick_time, 2000);
        assert_eq!(c.min_session_timeout, 4000);
        assert_eq!(c.max_session_timeout, 40000);
        assert_eq!(c.servers.len(), 3);
        assert_eq!(c.servers[&2].host, "peter-zk02.foo.bar");
        assert_eq!(c.servers[&2].client_port, Some(2181));
        assert_eq!(c.purge_interval, 1);
        assert!(c.unknown_keys.is_empty(), "{:?}", c.unknown_keys);
    }

    #[test]
    fn bad_value_names_key_and_system_property_form() {
        let m = ConfigMap::from_properties("dataDir=/x\ntickTime=fast\n");
        assert!(ZkConfig::from_map(&m).unwrap_err().to_string().contains("tickTime"));
        let m = ConfigMap::from_properties("dataDir=/x\nzookeeper.extendedTypesEnabled=true\nbogus=1\n");
        let c = ZkConfig::from_map(&m).unwrap();
        assert!(c.extended_types);
        assert_eq!(c.unknown_keys, vec!["bogus".to_string()]);
    }

    #[test]
    fn members_and_version_from_a_dynamic_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let dynamic = dir.path().join("zoo.cfg.dynamic.100000000");
        std::fs::write(&dynamic, "server.1=a:2888:3888:participant;2181\nserver.2=b:2888:3888;0.0.0.0:2181\n").unwrap();
        let base = format!("dataDir=/x\ndynamicConfigFile={}\n", dynamic.display());
        let c = ZkConfig::from_map(&ConfigMap::from_properties(&base)).unwrap();
        assert_eq!((c.servers.len(), c.config_version), (2, 0x1_0000_0000));
        assert_eq!(c.servers[&2].host, "b");
        assert_eq!(c.dynamic_config_file.as_deref(), Some(dynamic.as_path()));
        // Server lines belong in the dynamic file only.
        let both = format!("{base}server.3=c:2888:3888\n");
        let e = ZkConfig::from_map(&ConfigMap::from_properties(&both)).unwrap_err().to_string();
        assert!(e.contains("must be in a separate dynamic config file"), "{e}");
        // The version is the file name's, never a key inside it.
        std::fs::write(&dynamic, "server.1=a:2888:3888\nversion=5\n").unwrap();
        let e = ZkConfig::from_map(&ConfigMap::from_properties(&base)).unwrap_err().to_string();
        assert!(e.contains("shouldn't have version inside"), "{e}");
        // A name without a hex suffix is version 0.
        let plain = dir.path().join("members");
        std::fs::write(&plain, "server.1=a:2888:3888\n").unwrap();
        let c = ZkConfig::from_map(&ConfigMap::from_properties(&format!(
            "dataDir=/x\ndynamicConfigFile={}\n",
            plain.display()
        )))
        .unwrap();
        assert_eq!((c.servers.len(), c.config_version), (1, 0));
    }
}
