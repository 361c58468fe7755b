//! The proxy's log: `tracing` events on one stream, stdout, written by `tracing-subscriber` as
//! JSON lines (the default, for log collectors) or as text (for a terminal), each with its
//! time, level and event name (an `event` field); which events are written is a filter of
//! levels and targets (`info`, `gu1_kyc_proxy=debug,tower_http=warn`, ...).
//!
//! Nothing here can panic the process: a write to a closed stdout is dropped, not reported.
//! Tokens, the API key, gu1's messages and personal data are never in an event; paths are
//! logged as their route pattern (`/kyc/status`), never as sent.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line: `timestamp`, `level`, `event`, the event's fields.
    Json,
    /// Human-readable lines, coloured on a terminal.
    Text,
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "json" => Ok(Format::Json),
            "text" => Ok(Format::Text),
            _ => Err(format!("unknown log format {s:?}: json or text")),
        }
    }
}

/// Starts writing events to stdout in `format`, those that pass `filter` (`tracing`'s
/// `EnvFilter` syntax). Call once, before anything logs.
pub fn init(format: Format, filter: &str) -> Result<(), String> {
    let filter = EnvFilter::try_new(filter)
        .map_err(|e| format!("the log level filter {filter:?} is not valid: {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .log_internal_errors(false);
    let installed = match format {
        Format::Json => builder
            .with_target(false)
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        Format::Text => builder
            .with_ansi(std::io::stdout().is_terminal())
            .try_init(),
    };
    installed.map_err(|e| format!("could not start the log: {e}"))
}
