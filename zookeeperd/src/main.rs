//! `zookeeperd <zoo.cfg|zoo.toml>`: run a standalone server.

use std::path::PathBuf;
use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!("usage: zookeeperd <zoo.cfg | config.toml>");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = match args.as_slice() {
        [p] if p != "-h" && p != "--help" => PathBuf::from(p),
        _ => return usage(),
    };
    shared::logging::init();
    let mut config = match zookeeperd::ZkConfig::load(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("zookeeperd: {e}");
            return ExitCode::from(2);
        }
    };
    config.source = Some(path);
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
