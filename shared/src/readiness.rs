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
