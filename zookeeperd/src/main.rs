//! `zookeeperd <zoo.cfg|zoo.toml>`: run a standalone server.

use std::path::PathBuf;
use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!("usage: zookeeperd <zoo.cfg | config.toml>");
    eprintln!(
        "       zookeeperd   (configured by ZOOKEEPER_* variables, as Confluent's image: ZOOKEEPER_CLIENT_PORT, ...)"
    );
    ExitCode::from(2)
}

/// The container image's way: no file, ZOOKEEPER_* variables; the server id
/// goes to dataDir/myid as cp-zookeeper writes it.
fn from_env() -> Option<Result<zookeeperd::ZkConfig, String>> {
    let (map, id) = zookeeperd::config_env::from_vars(std::env::vars())?;
    Some((|| {
        if let Some(id) = id {
            let dir = std::path::Path::new(map.get("dataDir").unwrap_or(zookeeperd::config_env::DATA_DIR));
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            std::fs::write(dir.join("myid"), format!("{id}\n")).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        zookeeperd::ZkConfig::from_map(&map).map_err(|e| e.to_string())
    })())
}

/// `zookeeperd --purge dataLogDir [snapDir] -n count`: Apache's PurgeTxnLog
/// (what zkCleanup.sh runs): keep the newest `count` snapshots and the logs
/// they need.
fn purge(args: &[String]) -> ExitCode {
    let usage = || {
        eprintln!("usage: zookeeperd --purge dataLogDir [snapDir] -n count");
        eprintln!("\tdataLogDir -- path to the txn log directory");
        eprintln!("\tsnapDir -- path to the snapshot directory");
        eprintln!(
            "\tcount -- the number of old snaps/logs you want to keep, value should be greater than or equal to 3"
        );
        ExitCode::from(1)
    };
    let (dirs, count) = match args {
        [log, n, c] if n == "-n" => (vec![log.clone()], c),
        [log, snap, n, c] if n == "-n" => (vec![log.clone(), snap.clone()], c),
        _ => return usage(),
    };
    let Ok(count) = count.parse::<usize>() else { return usage() };
    if count < 3 {
        eprintln!("count should be greater than or equal to 3");
        return usage();
    }
    let log_dir = PathBuf::from(&dirs[0]).join("version-2");
    let snap_dir = PathBuf::from(dirs.get(1).unwrap_or(&dirs[0])).join("version-2");
    match zookeeperd::persist::purge(&snap_dir, &log_dir, count) {
        Ok(removed) => {
            for p in removed {
                println!("Removing file: {}", p.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("zookeeperd: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--purge") {
        return purge(&args[1..]);
    }
    let loaded = match args.as_slice() {
        [p] if p != "-h" && p != "--help" => {
            let path = PathBuf::from(p);
            zookeeperd::ZkConfig::load(&path).map_err(|e| e.to_string()).map(|mut c| {
                c.source = Some(path);
                c
            })
        }
        [] => match from_env() {
            Some(r) => r,
            None => return usage(),
        },
        _ => return usage(),
    };
    shared::logging::init();
    let mut config = match loaded {
        Ok(c) => c,
        Err(e) => {
            eprintln!("zookeeperd: {e}");
            return ExitCode::from(2);
        }
    };
    config.systemd_notify = true;
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("zookeeperd: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let running = match zookeeperd::start(config).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "cannot start");
                eprintln!("zookeeperd: {e}");
                return ExitCode::FAILURE;
            }
        };
        // READY=1 comes from the core once it serves (an ensemble member
        // after its quorum is in sync).
        let shutdown = running.shutdown.clone();
        tokio::spawn(async move {
            shared::shutdown::os_signal().await;
            tracing::info!("shutting down");
            shared::readiness::notify_stopping();
            shutdown.trigger();
        });
        match running.wait().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "fatal");
                ExitCode::FAILURE
            }
        }
    })
}
