//! Four-letter words, in ZooKeeper's output formats. Rendered by the core
//! (it owns the state they report).

use crate::server::core::Core;
use std::fmt::Write;

/// The version we report: 3.8-compatible, with our own build tag.
pub const VERSION: &str = concat!("3.8.4-zookeeperd-", env!("CARGO_PKG_VERSION"), ", built on 1970-01-01 00:00 UTC");

/// `asker` is the four-letter-word connection itself, listed (brief form)
/// by stat and cons as ZooKeeper does.
pub fn render(cmd: &str, asker: Option<std::net::SocketAddr>, core: &mut Core) -> String {
    let needs_serving = matches!(
        cmd,
        "srvr" | "stat" | "mntr" | "conf" | "cons" | "wchs" | "wchc" | "wchp" | "dump" | "crst" | "srst" | "hash"
    );
    if needs_serving && !core.serving() {
        return "This ZooKeeper instance is not currently serving requests\n".into();
    }
    match cmd {
        "srvr" => srvr(core, false, asker),
        "stat" => srvr(core, true, asker),
        "mntr" => mntr(core),
        "conf" => conf(core),
        "cons" => cons(core, asker),
        "envi" => envi(),
        "wchs" => wchs(core),
        "wchc" => wchc(core),
        "wchp" => wchp(core),
        "dump" => dump(core),
        // IsroCommand: "null" when not serving.
        "isro" if core.read_only() => "ro".into(),
        "isro" if !core.serving() => "null".into(),
        "isro" => "rw".into(),
        "crst" => {
            for c in core.conns.values_mut() {
                c.received = 0;
                c.sent = 0;
            }
            "Connection stats reset.\n".into()
        }
        "srst" => {
            core.stats.reset();
            "Server stats reset.\n".into()
        }
        "dirs" => dirs(core),
        // DigestCommand: the digest log, "<zxid in hex>: <digest>".
        "hash" => core.tree.digest_log().fold(String::new(), |mut s, (zxid, digest)| {
            let _ = writeln!(s, "{zxid:x}: {digest}");
            s
        }),
        "gtmk" => "0\n".into(),
        "stmk" => "0\n".into(),
        _ => String::new(),
    }
}

fn fmt_latency(v: f64) -> String {
    // ZooKeeper prints min/max as integers and avg with a fraction.
    format!("{v:.4}").trim_end_matches('0').trim_end_matches('.').to_string()
}

fn srvr(core: &Core, with_clients: bool, asker: Option<std::net::SocketAddr>) -> String {
    let mut s = String::new();
    let (min, avg, max) = core.stats.latency_ms();
    let _ = writeln!(s, "Zookeeper version: {VERSION}");
    if with_clients {
        let _ = writeln!(s, "Clients:");
        s.push_str(&cons_lines(core, false, asker));
        s.push('\n');
    }
    let _ = writeln!(s, "Latency min/avg/max: {}/{}/{}", min.round() as i64, fmt_avg(avg), max.round() as i64);
    let _ = writeln!(s, "Received: {}", core.stats.packets_received);
    let _ = writeln!(s, "Sent: {}", core.stats.packets_sent);
    let _ = writeln!(s, "Connections: {}", core.conns.len() + asker.is_some() as usize);
    let _ = writeln!(s, "Outstanding: {}", core.outstanding());
    let _ = writeln!(s, "Zxid: 0x{:x}", core.tree.last_zxid());
    let _ = writeln!(s, "Mode: {}", core.mode_name());
    let _ = writeln!(s, "Node count: {}", core.tree.node_count());
    s
}

fn fmt_avg(avg: f64) -> String {
    let s = fmt_latency(avg);
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

/// One line per connection: brief (stat) or full (cons).
fn cons_lines(core: &Core, full: bool, asker: Option<std::net::SocketAddr>) -> String {
    let mut s = String::new();
    if let Some(a) = asker {
        let _ = writeln!(s, " /{}:{}[0](queued=0,recved=1,sent=0)", a.ip(), a.port());
    }
    let mut ids: Vec<_> = core.conns.keys().copied().collect();
    ids.sort();
    for id in ids {
        let c = &core.conns[&id];
        if !full || c.session_id == 0 {
            let _ = writeln!(
                s,
                " /{}:{}[1](queued=0,recved={},sent={})",
                c.remote.ip(),
                c.remote.port(),
                c.received,
                c.sent
            );
            continue;
        }
        let _ = writeln!(
            s,
            " /{}:{}[1](queued=0,recved={},sent={},sid=0x{:x},lop=NA,est={},to={},lcxid=0x{:x},lzxid=0x{:x},lresp=0,llat=0,minlat=0,avglat=0,maxlat=0)",
            c.remote.ip(),
            c.remote.port(),
            c.received,
            c.sent,
            c.session_id,
            crate::server::core::now_ms() - c.established.elapsed().as_millis() as i64,
            c.timeout,
            c.last_cxid,
            core.tree.last_zxid(),
        );
    }
    s
}

fn cons(core: &Core, asker: Option<std::net::SocketAddr>) -> String {
    let mut s = cons_lines(core, true, asker);
    s.push('\n');
    s
}

/// mntr's keys in the order Apache ZooKeeper 3.8 prints them for a
/// standalone server (its metric registry's iteration order).
const MNTR_KEYS: &str = include_str!("mntr_keys.txt");

fn mntr(core: &Core) -> String {
    let (min, avg, max) = core.stats.latency_ms();
    let fds = std::fs::read_dir("/proc/self/fd").map(|d| d.count() as i64).unwrap_or(-1);
    let max_fds = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|x| x.starts_with("Max open files"))
                .and_then(|x| x.split_whitespace().nth(3).map(str::to_string))
        })
        .unwrap_or_else(|| "-1".into());
    let known: std::collections::HashMap<&str, String> = [
        ("zk_version", VERSION.to_string()),
        ("zk_server_state", core.mode_name().into()),
        ("zk_ephemerals_count", core.tree.ephemeral_count().to_string()),
        ("zk_num_alive_connections", core.conns.len().to_string()),
        ("zk_avg_latency", fmt_avg(avg)),
        ("zk_outstanding_requests", core.outstanding().to_string()),
        ("zk_znode_count", core.tree.node_count().to_string()),
        ("zk_global_sessions", core.sessions.counts().0.to_string()),
        ("zk_local_sessions", core.sessions.counts().1.to_string()),
        ("zk_packets_sent", core.stats.packets_sent.to_string()),
        ("zk_packets_received", core.stats.packets_received.to_string()),
        ("zk_watch_count", core.watches.watch_count().to_string()),
        ("zk_min_latency", (min.round() as i64).to_string()),
        ("zk_max_latency", (max.round() as i64).to_string()),
        ("zk_max_file_descriptor_count", max_fds),
        ("zk_approximate_data_size", core.tree.approximate_data_size().to_string()),
        ("zk_open_file_descriptor_count", fds.to_string()),
        ("zk_uptime", core.stats.started.elapsed().as_millis().to_string()),
        ("zk_connection_drop_probability", "0.0".into()),
        ("zk_last_client_response_size", "-1".into()),
        ("zk_max_client_response_size", "-1".into()),
        ("zk_min_client_response_size", "-1".into()),
        ("zk_cnt_fsynctime", core.stats.fsyncs.to_string()),
        ("zk_digest_mismatches_count", core.stats.digest_mismatches.to_string()),
    ]
    .into_iter()
    .collect();
    let mut s = String::new();
    for key in MNTR_KEYS.lines().filter(|k| !k.is_empty()) {
        let v = match known.get(key) {
            Some(v) => v.clone(),
            None if key.starts_with("zk_avg_") => "0.0".into(),
            None => "0".into(),
        };
        let _ = writeln!(s, "{key}\t{v}");
    }
    // A leader adds its learners, as Apache's LeaderZooKeeperServer does.
    if let Some((followers, synced, non_voting, observers)) = core.learner_counts() {
        let _ = writeln!(s, "zk_followers\t{followers}");
        let _ = writeln!(s, "zk_synced_followers\t{synced}");
        let _ = writeln!(s, "zk_synced_non_voting_followers\t{non_voting}");
        let _ = writeln!(s, "zk_synced_observers\t{observers}");
        let _ = writeln!(s, "zk_pending_syncs\t0");
    }
    if core.quorum.is_some() {
        let state = match core.mode_name() {
            "leader" => "leading - broadcast",
            "follower" => "following - broadcast",
            "observer" => "observing - broadcast",
            _ => "looking",
        };
        let _ = writeln!(s, "zk_peer_state\t{state}");
    }
    // Per-namespace read/write summaries come last, once a namespace is used.
    for (ns, (reads, writes)) in &core.stats.per_namespace {
        for (what, sum) in [("read", reads), ("write", writes)] {
            let avg = if sum.count == 0 { 0.0 } else { sum.total as f64 / sum.count as f64 };
            let _ = writeln!(s, "zk_avg_{ns}_{what}_per_namespace\t{}", fmt_avg(avg));
            let _ = writeln!(s, "zk_min_{ns}_{what}_per_namespace\t{}", if sum.count == 0 { 0 } else { sum.min });
            let _ = writeln!(s, "zk_max_{ns}_{what}_per_namespace\t{}", sum.max);
            let _ = writeln!(s, "zk_cnt_{ns}_{what}_per_namespace\t{}", sum.count);
            let _ = writeln!(s, "zk_sum_{ns}_{what}_per_namespace\t{}", sum.total);
        }
    }
    s
}

fn conf(core: &Core) -> String {
    let c = &core.config;
    let mut s = String::new();
    let addr = c.client_port_address.map(|a| a.to_string()).unwrap_or_else(|| "0.0.0.0".into());
    let _ = writeln!(s, "clientPort={}", c.client_port);
    let _ = writeln!(s, "secureClientPort=-1");
    let _ = writeln!(s, "dataDir={}", c.data_dir.join("version-2").display());
    let _ = writeln!(s, "dataDirSize={}", dir_size(&c.data_dir.join("version-2")));
    let _ = writeln!(s, "dataLogDir={}", c.data_log_dir.join("version-2").display());
    let _ = writeln!(s, "dataLogSize={}", dir_size(&c.data_log_dir.join("version-2")));
    let _ = writeln!(s, "tickTime={}", c.tick_time);
    let _ = writeln!(s, "maxClientCnxns={}", c.max_client_cnxns);
    let _ = writeln!(s, "minSessionTimeout={}", c.min_session_timeout);
    let _ = writeln!(s, "maxSessionTimeout={}", c.max_session_timeout);
    let _ = writeln!(s, "clientPortListenBacklog=-1");
    let _ = addr;
    match &core.quorum {
        None => {
            let _ = writeln!(s, "serverId=0");
        }
        // QuorumZooKeeperServer.dumpConf: the quorum after the server's own.
        Some(q) => {
            let _ = writeln!(s, "serverId={}", q.sid);
            let _ = writeln!(s, "initLimit={}", c.init_limit);
            let _ = writeln!(s, "syncLimit={}", c.sync_limit);
            let _ = writeln!(s, "electionAlg=3");
            let me = c.my_id.and_then(|id| c.servers.get(&id));
            let _ = writeln!(s, "electionPort={}", me.map_or(0, |m| m.election_port));
            let _ = writeln!(s, "quorumPort={}", me.map_or(0, |m| m.quorum_port));
            let _ = writeln!(s, "peerType=0");
            let _ = writeln!(s, "membership: ");
            s.push_str(&String::from_utf8_lossy(&q.verifier()));
        }
    }
    s
}

fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

fn dirs(core: &Core) -> String {
    let c = &core.config;
    format!(
        "datadir_size: {}\nlogdir_size: {}\n",
        dir_size(&c.data_dir.join("version-2")),
        dir_size(&c.data_log_dir.join("version-2"))
    )
}

fn envi() -> String {
    let mut s = String::from("Environment:\n");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default();
    let cwd = std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_default();
    let user = std::env::var("USER").unwrap_or_default();
    let home = std::env::var("HOME").unwrap_or_default();
    let rows = [
        ("zookeeper.version", VERSION.to_string()),
        ("host.name", host),
        ("java.version", "n/a (zookeeperd)".into()),
        ("java.vendor", "n/a".into()),
        ("java.home", "n/a".into()),
        ("java.class.path", "n/a".into()),
        ("java.library.path", "n/a".into()),
        ("java.io.tmpdir", std::env::temp_dir().display().to_string()),
        ("java.compiler", "<NA>".into()),
        ("os.name", std::env::consts::OS.into()),
        ("os.arch", std::env::consts::ARCH.into()),
        (
            "os.version",
            std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|v| v.trim().to_string()).unwrap_or_default(),
        ),
        ("user.name", user),
        ("user.home", home),
        ("user.dir", cwd),
        ("os.memory.free", "0MB".into()),
        ("os.memory.max", "0MB".into()),
        ("os.memory.total", "0MB".into()),
    ];
    for (k, v) in rows {
        let _ = writeln!(s, "{k}={v}");
    }
    s
}

fn wchs(core: &Core) -> String {
    let (conns, paths, watches) = core.watches.data_summary();
    format!(
        "{conns} connections watching {paths} paths
Total watches:{watches}
"
    )
}

fn session_of(core: &Core, conn: u64) -> i64 {
    core.conns.get(&conn).map(|c| c.session_id).unwrap_or(0)
}

fn wchc(core: &Core) -> String {
    let mut s = String::new();
    for (conn, paths) in core.watches.by_connection() {
        let _ = writeln!(s, "0x{:x}", session_of(core, conn));
        for p in paths {
            let _ = writeln!(s, "\t{p}");
        }
    }
    s.push('\n');
    s
}

fn wchp(core: &Core) -> String {
    let mut s = String::new();
    for (path, conns) in core.watches.by_path() {
        let _ = writeln!(s, "{path}");
        for c in conns {
            let _ = writeln!(s, "\t0x{:x}", session_of(core, c));
        }
    }
    s.push('\n');
    s
}

/// Java's `Date.toString()` in UTC: `Tue Nov 24 01:55:40 UTC 2026`.
fn java_date(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + (month <= 2) as i64;
    const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MON: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
        WD[days.rem_euclid(7) as usize],
        MON[(month - 1) as usize],
        day,
        sod / 3600,
        sod % 3600 / 60,
        sod % 60,
        year
    )
}

/// Sessions grouped by expiry time rounded up to the next tick, as
/// ZooKeeper's expiry queue buckets them.
fn expiry_buckets(core: &Core) -> std::collections::BTreeMap<i64, Vec<(i64, Option<u64>)>> {
    let now = std::time::Instant::now();
    let now_ms = crate::server::core::now_ms();
    let tick = core.config.tick_time as i64;
    let mut buckets: std::collections::BTreeMap<i64, Vec<(i64, Option<u64>)>> = Default::default();
    for (id, st) in core.sessions.iter() {
        let left = st.expires_at.saturating_duration_since(now).as_millis() as i64;
        let at = ((now_ms + left) / tick + 1) * tick;
        buckets.entry(at).or_default().push((*id, st.conn));
    }
    for v in buckets.values_mut() {
        v.sort();
    }
    buckets
}

fn dump(core: &Core) -> String {
    let mut s = String::from("SessionTracker dump:\n");
    let buckets = expiry_buckets(core);
    let _ = writeln!(s, "Session Sets ({})/({}):", buckets.len(), core.sessions.len());
    for (at, ids) in &buckets {
        let _ = writeln!(s, "{} expire at {}:", ids.len(), java_date(*at));
        for (id, _) in ids {
            let _ = writeln!(s, "\t0x{id:x}");
        }
    }
    let _ = writeln!(s, "ephemeral nodes dump:");
    let mut eph: Vec<_> = core.tree.ephemerals().iter().collect();
    eph.sort();
    let _ = writeln!(s, "Sessions with Ephemerals ({}):", eph.len());
    for (id, paths) in eph {
        let _ = writeln!(s, "0x{id:x}:");
        for p in paths {
            let _ = writeln!(s, "\t{p}");
        }
    }
    let _ = writeln!(s, "Connections dump:");
    let conns: Vec<_> = buckets
        .iter()
        .map(|(at, ids)| {
            (
                at,
                ids.iter()
                    .filter_map(|(id, c)| c.and_then(|c| core.conns.get(&c)).map(|ci| (*id, ci.remote)))
                    .collect::<Vec<_>>(),
            )
        })
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let total: usize = conns.iter().map(|(_, v)| v.len()).sum();
    let _ = writeln!(s, "Connections Sets ({})/({}):", conns.len(), total);
    for (at, list) in conns {
        let _ = writeln!(s, "{} expire at {}:", list.len(), java_date(*at));
        for (id, remote) in list {
            let _ = writeln!(s, "\tip: /{}:{} sessionId: 0x{id:x}", remote.ip(), remote.port());
        }
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn java_date_format() {
        // 2026-11-24T01:55:40Z was a Tuesday.
        assert_eq!(super::java_date(1_795_485_340_000), "Tue Nov 24 01:55:40 UTC 2026");
        assert_eq!(super::java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
    }
}
