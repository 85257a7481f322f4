//! The node's log (through `tracing`): one line per thing it does (a block
//! sealed or received, a tip change, a reorganisation, an import, a peer
//! event, a checkpoint), as text or JSON, to stderr or a file. The level
//! comes from `--log-level` (or the config file), else `RUST_LOG`, else
//! `info`; `RUST_LOG`'s syntax works in both (`info,sledger::net=debug`).
//!
//! Only `sledger node` installs a subscriber: other commands report on
//! stdout and stderr themselves, so their output stays as documented.

use std::path::PathBuf;

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `2026-12-05T06:20:14.706123Z  INFO sealed block height=12 ...`
    #[default]
    Text,
    /// One JSON object a line: `timestamp`, `level`, `fields` (with
    /// `message`), `target`.
    Json,
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

/// Where and how the node logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogSettings {
    /// A `RUST_LOG`-style filter (`info`, `debug`, `warn,sledger=debug`);
    /// `None`: `RUST_LOG`, else `info`.
    pub level: Option<String>,
    pub format: LogFormat,
    /// Append here instead of writing to stderr.
    pub file: Option<PathBuf>,
}

/// Why logging could not start.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("--log-level \"{given}\" is not a level or filter (error, warn, info, debug, trace, or RUST_LOG's syntax): {reason}")]
    Level { given: String, reason: String },
    #[error("cannot open the log file: {0}")]
    File(std::io::Error),
}

/// The filter `settings` ask for.
pub fn filter(settings: &LogSettings) -> Result<EnvFilter, LogError> {
    let given = match &settings.level {
        Some(l) => l.clone(),
        None => std::env::var("RUST_LOG")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| "info".into()),
    };
    EnvFilter::builder()
        .parse(&given)
        .map_err(|e| LogError::Level {
            given,
            reason: e.to_string(),
        })
}

/// Installs the process's subscriber. Checked first ([`filter`]) so that a
/// bad level is a usage error before anything starts.
pub fn init(settings: &LogSettings) -> Result<(), LogError> {
    use std::io::IsTerminal;
    let filter = filter(settings)?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let installed = match (&settings.file, settings.format) {
        (Some(path), format) => {
            let file = crate::fsx::open_append(path).map_err(LogError::File)?;
            let writer = std::sync::Mutex::new(file);
            let b = builder.with_ansi(false).with_writer(writer);
            match format {
                LogFormat::Text => b.with_target(false).try_init(),
                LogFormat::Json => b.json().try_init(),
            }
        }
        (None, LogFormat::Text) => builder
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .try_init(),
        (None, LogFormat::Json) => builder
            .with_ansi(false)
            .with_writer(std::io::stderr)
            .json()
            .try_init(),
    };
    // Already installed (a test running two nodes in one process): keep it.
    let _ = installed;
    Ok(())
}
