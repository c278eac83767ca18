//! zookeeperd configured from the environment, as Confluent's
//! cp-zookeeper image reads it, for the container image: no zoo.cfg, and
//! `ZOOKEEPER_CLIENT_PORT=2181`, `ZOOKEEPER_TICK_TIME=2000`,
//! `ZOOKEEPER_SERVER_ID=1`, `ZOOKEEPER_SERVERS=zk1:2888:3888;zk2:2888:3888`
//! and so on. `ZOOKEEPER_FOO_BAR` is the zoo.cfg key `fooBar`
//! (`ZOOKEEPER_AUTOPURGE_SNAP_RETAIN_COUNT` is `autopurge.snapRetainCount`,
//! `ZOOKEEPER_4LW_COMMANDS_WHITELIST` is `4lw.commands.whitelist`).

use shared::ConfigMap;

/// Where the image keeps its data (cp-zookeeper's paths).
pub const DATA_DIR: &str = "/var/lib/zookeeper/data";
pub const LOG_DIR: &str = "/var/lib/zookeeper/log";

/// The zoo.cfg the variables describe, and the server id (for `myid`).
/// `None` when `ZOOKEEPER_CLIENT_PORT` is not set: no environment config.
pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Option<(ConfigMap, Option<String>)> {
    let mut map = ConfigMap::new();
    map.set("dataDir", DATA_DIR);
    map.set("dataLogDir", LOG_DIR);
    let mut id = None;
    let mut client_port = false;
    for (name, value) in vars {
        let Some(rest) = name.strip_prefix("ZOOKEEPER_") else { continue };
        match rest {
            "SERVER_ID" => id = Some(value.trim().to_string()),
            "SERVERS" => {
                for (i, s) in value.split(';').map(str::trim).filter(|s| !s.is_empty()).enumerate() {
                    map.set(format!("server.{}", i + 1), s);
                }
            }
            // The image's own build variables, not configuration.
            "VERSION" | "HOME" => {}
            _ => {
                client_port |= rest == "CLIENT_PORT";
                map.set(key_of(rest), value);
            }
        }
    }
    client_port.then_some((map, id))
}

/// `TICK_TIME` -> `tickTime`; `AUTOPURGE_PURGE_INTERVAL` -> `autopurge.purgeInterval`.
fn key_of(rest: &str) -> String {
    // Dotted keys that camel case cannot spell.
    match rest {
        "4LW_COMMANDS_WHITELIST" => return "4lw.commands.whitelist".into(),
        "ADMIN_ENABLE_SERVER" => return "admin.enableServer".into(),
        "ADMIN_SERVER_PORT" => return "admin.serverPort".into(),
        _ => {}
    }
    let (prefix, rest) = match rest.strip_prefix("AUTOPURGE_") {
        Some(r) => ("autopurge.", r),
        None => ("", rest),
    };
    let mut out = String::from(prefix);
    for (i, word) in rest.split('_').filter(|w| !w.is_empty()).enumerate() {
        let w = word.to_ascii_lowercase();
        if i == 0 {
            out.push_str(&w);
        } else {
            let mut c = w.chars();
            if let Some(f) = c.next() {
                out.push(f.to_ascii_uppercase());
                out.push_str(c.as_str());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn confluent_variables_become_zoo_cfg_keys() {
        let (m, id) = from_vars(vars(&[
            ("ZOOKEEPER_CLIENT_PORT", "2181"),
            ("ZOOKEEPER_TICK_TIME", "2000"),
            ("ZOOKEEPER_SERVER_ID", "2"),
            ("ZOOKEEPER_SERVERS", "zk1:2888:3888;zk2:2888:3888;zk3:2888:3888"),
            ("ZOOKEEPER_AUTOPURGE_SNAP_RETAIN_COUNT", "3"),
            ("ZOOKEEPER_MAX_CLIENT_CNXNS", "0"),
            ("ZOOKEEPER_4LW_COMMANDS_WHITELIST", "*"),
            ("PATH", "/bin"),
        ]))
        .expect("client port set");
        assert_eq!(id.as_deref(), Some("2"));
        assert_eq!(m.get("clientPort"), Some("2181"));
        assert_eq!(m.get("tickTime"), Some("2000"));
        assert_eq!(m.get("server.2"), Some("zk2:2888:3888"));
        assert_eq!(m.get("autopurge.snapRetainCount"), Some("3"));
        assert_eq!(m.get("maxClientCnxns"), Some("0"));
        assert_eq!(m.get("4lw.commands.whitelist"), Some("*"));
        assert_eq!(m.get("dataDir"), Some(DATA_DIR));
        let cfg = crate::ZkConfig::from_map(&m).expect("a valid zoo.cfg");
        assert_eq!((cfg.client_port, cfg.tick_time, cfg.servers.len()), (2181, 2000, 3));
    }

    #[test]
    fn without_a_client_port_there_is_no_environment_config() {
        assert!(from_vars(vars(&[("ZOOKEEPER_TICK_TIME", "2000")])).is_none());
    }
}
