//! Logs to stderr: human-readable lines, or with `log_format = "json"` one JSON object per
//! line for log shippers. `RUST_LOG` filters either (default `info`).

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the process's subscriber. JSON lines carry `timestamp`, `level`, `target`,
/// `message` and the event's fields at the top level, and `spans`: the spans the event is in
/// with their fields, so a command's `trace_id` is on every line it causes (dispatch
/// included: the dispatch span is a child of the command's).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).with_span_list(true).init(),
    }
}
