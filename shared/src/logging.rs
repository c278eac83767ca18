//! tracing setup. `RUST_LOG` wins; otherwise `info`. Colours only on a
//! terminal (and never with NO_COLOR). Under systemd (JOURNAL_STREAM set:
//! stderr is the journal) each line starts with its syslog priority
//! (`<3>` error, `<4>` warning, `<6>` info, `<7>` debug) so
//! `journalctl -p warning` finds warnings, and carries no timestamp (the
//! journal has its own).

use std::io::IsTerminal;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

/// Install the global subscriber once; later calls are no-ops so tests and
/// embedded servers can share a process.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        let format = format().with_target(true).with_ansi(false).without_time();
        let _ = builder.event_format(Journal(format)).try_init();
    } else {
        let _ = builder.with_target(true).try_init();
    }
}

fn format() -> format::Format {
    format::Format::default()
}

/// `<priority>` in front of each event, as the journal reads stderr lines.
struct Journal<F>(F);

impl<S, N, F> FormatEvent<S, N> for Journal<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> std::fmt::Result {
        let priority = match *event.metadata().level() {
            Level::ERROR => 3,
            Level::WARN => 4,
            Level::INFO => 6,
            Level::DEBUG | Level::TRACE => 7,
        };
        write!(writer, "<{priority}>")?;
        self.0.format_event(ctx, writer, event)
    }
}
