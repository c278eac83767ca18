//! tracing setup. `RUST_LOG` wins; otherwise `info`.

use tracing_subscriber::EnvFilter;

/// Install the global subscriber once; later calls are no-ops so tests and
/// embedded servers can share a process.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(true).with_writer(std::io::stderr).try_init();
}
