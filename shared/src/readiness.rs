//! systemd Type=notify readiness. Outside systemd (no NOTIFY_SOCKET) these
//! are no-ops, so the same binary runs by hand, in tests and under systemd.

/// Tell systemd the service is serving.
pub fn notify_ready() {
    if let Err(e) = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]) {
        tracing::debug!(error = %e, "sd_notify READY failed");
    }
}

/// Tell systemd the service is stopping, so `systemctl status` says so.
pub fn notify_stopping() {
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
}

/// A one-line status shown by `systemctl status`.
pub fn notify_status(status: &str) {
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Status(status)]);
}

/// The watchdog interval systemd asks for (WatchdogSec=), if any: as
/// libsystemd's sd_watchdog_enabled, WATCHDOG_USEC, for this process when
/// WATCHDOG_PID names one. The caller pings at half of it from the loop
/// whose liveness it vouches for.
pub fn watchdog_interval() -> Option<std::time::Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    match std::env::var("WATCHDOG_PID").ok().map(|p| p.parse::<u32>()) {
        Some(Ok(pid)) if pid != std::process::id() => None,
        Some(Err(_)) => None,
        _ => (usec > 0).then(|| std::time::Duration::from_micros(usec)),
    }
}

/// "Still alive" for systemd's watchdog.
pub fn notify_watchdog() {
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
}
