//! `kafkad <server.properties|.toml> [--override key=value]...`
//!
//! Without a file, configuration comes from KAFKA_* variables alone (the
//! Confluent image convention).

use std::path::PathBuf;

/// Keeps wire-declared array sizes from aborting the broker (see alloc).
#[global_allocator]
static ALLOC: kafkad::alloc::GuardedAlloc = kafkad::alloc::GuardedAlloc;

fn usage() -> ! {
    eprintln!("usage: kafkad [server.properties|server.toml] [--override key=value]...");
    std::process::exit(2);
}

fn main() {
    shared::logging::init();
    let mut file: Option<PathBuf> = None;
    let mut overrides = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--override" => {
                let Some(kv) = args.next() else { usage() };
                let Some((k, v)) = kv.split_once('=') else {
                    eprintln!("kafkad: --override expects key=value, got {kv:?}");
                    std::process::exit(2);
                };
                overrides.push((k.trim().to_string(), v.trim().to_string()));
            }
            "-h" | "--help" => usage(),
            "--version" => {
                println!("kafkad {}", env!("CARGO_PKG_VERSION"));
                return;
            }
            s if s.starts_with('-') => usage(),
            s if file.is_none() => file = Some(PathBuf::from(s)),
            _ => usage(),
        }
    }
    let cfg = kafkad::config::load(file.as_deref(), std::env::vars(), &overrides)
        .and_then(|m| kafkad::config::BrokerConfig::from_map(&m));
    let cfg = match cfg {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kafkad: {e}");
            std::process::exit(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kafkad: cannot start runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = rt.block_on(async move {
        let (shutdown, _) = shared::shutdown::Shutdown::new();
        let s = shutdown.clone();
        tokio::spawn(async move {
            shared::shutdown::os_signal().await;
            s.trigger();
        });
        match kafkad::run(cfg, shutdown).await {
            Ok(()) => 0,
            Err(e) => {
                tracing::error!(error = %e, "kafkad failed");
                eprintln!("kafkad: {e}");
                1
            }
        }
    });
    std::process::exit(code);
}
