//! The node's config file: `sledger.toml` in the data directory (or
//! `--config FILE`), holding what `sledger node` is usually started with.
//! [`resolve`] merges it under the command line, value by value: a flag
//! given wins, then the file, then the default; [`Setting`] says which,
//! for `sledger config show`. Only the `[node]` table exists; an unknown
//! key is an error naming the file, so a typo is not silently ignored.
//!
//! ```toml
//! [node]
//! port = 8337
//! mine = true
//! threads = 2
//! empty_blocks_every = "10m"
//! listen = ["0.0.0.0:8338"]
//! peers = ["192.0.2.7:8338"]
//! log_level = "info"
//! log_format = "json"
//! log_file = "node.log"        # relative to the file's directory
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;
use serde_json::{json, Value};

use super::args::NodeArgs;
use crate::logging::LogFormat;

/// The file's name in the data directory.
pub const FILE_NAME: &str = "sledger.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    node: NodeFile,
}

/// The `[node]` table: each key as the flag of `sledger node` of that
/// name (`peers` for `--peer`, `allow_peers` for `--allow-peer`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeFile {
    port: Option<u16>,
    bind: Option<std::net::IpAddr>,
    allow_remote: Option<bool>,
    mine: Option<bool>,
    threads: Option<u16>,
    continuous: Option<bool>,
    empty_blocks_every: Option<String>,
    read_timeout: Option<f64>,
    max_import_bytes: Option<u64>,
    listen: Option<Vec<String>>,
    peers: Option<Vec<String>>,
    allow_peers: Option<Vec<String>>,
    allow_peers_file: Option<PathBuf>,
    log_level: Option<String>,
    log_format: Option<LogFormat>,
    log_file: Option<PathBuf>,
    sync_window: Option<u32>,
}

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Default,
    File,
    Flag,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Default => "default",
            Source::File => "file",
            Source::Flag => "flag",
        }
    }
}

/// One setting as `config show` prints it.
#[derive(Debug, Clone)]
pub struct Setting {
    pub name: &'static str,
    /// `null` when unset (its default is decided at run time, e.g. every core).
    pub value: Value,
    pub source: Source,
}

/// The node's arguments once the file is merged under the flags.
pub struct Resolved {
    pub args: NodeArgs,
    /// The file read, if there was one.
    pub file: Option<PathBuf>,
    pub settings: Vec<Setting>,
}

/// Reads the config file (`given`, else `sledger.toml` in `data_dir` if
/// it exists) and merges it under `flags`.
pub fn resolve(flags: NodeArgs, given: Option<&Path>, data_dir: &Path) -> Result<Resolved> {
    let (file, text) = match given {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the config file {}", path.display()))?;
            (Some(path.to_path_buf()), Some(text))
        }
        None => {
            let path = data_dir.join(FILE_NAME);
            match std::fs::read_to_string(&path) {
                Ok(text) => (Some(path), Some(text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => (None, None),
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("cannot read the config file {}", path.display()))
                }
            }
        }
    };
    let parsed: FileConfig = match (&file, &text) {
        (Some(path), Some(text)) => toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            let at = line.map_or(String::new(), |l| format!(", line {l}"));
            anyhow::anyhow!(
                "the config file {}{at} is not valid: {}",
                path.display(),
                e.message().trim()
            )
        })?,
        _ => FileConfig::default(),
    };
    let base = file
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    Ok(merge(flags, parsed.node, &base, file))
}

/// A path from the file, relative to the file's directory.
fn under(base: &Path, p: PathBuf) -> PathBuf {
    if p.is_absolute() {
        p
    } else {
        base.join(p)
    }
}

fn merge(flags: NodeArgs, f: NodeFile, base: &Path, file: Option<PathBuf>) -> Resolved {
    let mut settings = Vec::new();
    let mut one =
        |name: &'static str, flag: Option<Value>, from_file: Option<Value>, default: Value| {
            let (value, source) = match (flag, from_file) {
                (Some(v), _) => (v, Source::Flag),
                (None, Some(v)) => (v, Source::File),
                (None, None) => (default, Source::Default),
            };
            settings.push(Setting {
                name,
                value: value.clone(),
                source,
            });
            value
        };
    let switch = |given: bool| given.then_some(Value::Bool(true));
    let list = |given: &Vec<String>| (!given.is_empty()).then(|| json!(given));
    let limits = crate::node::Limits::default();
    let port = one(
        "port",
        flags.port.map(|v| json!(v)),
        f.port.map(|v| json!(v)),
        json!(crate::node::DEFAULT_PORT),
    );
    let bind = one(
        "bind",
        flags.bind.map(|v| json!(v)),
        f.bind.map(|v| json!(v)),
        json!("127.0.0.1"),
    );
    let allow_remote = one(
        "allow_remote",
        switch(flags.allow_remote),
        f.allow_remote.map(Value::Bool),
        json!(false),
    );
    let mine = one(
        "mine",
        switch(flags.mine),
        f.mine.map(Value::Bool),
        json!(false),
    );
    let threads = one(
        "threads",
        flags.threads.map(|v| json!(v)),
        f.threads.map(|v| json!(v)),
        Value::Null,
    );
    let continuous = one(
        "continuous",
        switch(flags.continuous),
        f.continuous.map(Value::Bool),
        json!(false),
    );
    let empty = one(
        "empty_blocks_every",
        flags.empty_blocks_every.map(Value::String),
        f.empty_blocks_every.map(Value::String),
        Value::Null,
    );
    let read_timeout = one(
        "read_timeout",
        flags.read_timeout.map(|v| json!(v)),
        f.read_timeout.map(|v| json!(v)),
        json!(limits.read_timeout.as_secs_f64()),
    );
    let import_bytes = one(
        "max_import_bytes",
        flags.max_import_bytes.map(|v| json!(v)),
        f.max_import_bytes.map(|v| json!(v)),
        json!(limits.import_bytes),
    );
    let listen = one(
        "listen",
        list(&flags.listen),
        f.listen.map(|v| json!(v)),
        json!([]),
    );
    let peers = one(
        "peers",
        list(&flags.peer),
        f.peers.map(|v| json!(v)),
        json!([]),
    );
    let allow = one(
        "allow_peers",
        list(&flags.allow_peer),
        f.allow_peers.map(|v| json!(v)),
        json!([]),
    );
    let allow_file = one(
        "allow_peers_file",
        flags.allow_peers_file.map(|p| json!(p)),
        f.allow_peers_file.map(|p| json!(under(base, p))),
        Value::Null,
    );
    let log_level = one(
        "log_level",
        flags.log_level.map(Value::String),
        f.log_level.map(Value::String),
        Value::Null,
    );
    let log_format = one(
        "log_format",
        flags.log_format.map(|v| json!(v.as_str())),
        f.log_format.map(|v| json!(v.as_str())),
        json!("text"),
    );
    let log_file = one(
        "log_file",
        flags.log_file.map(|p| json!(p)),
        f.log_file.map(|p| json!(under(base, p))),
        Value::Null,
    );
    let sync_window = one(
        "sync_window",
        flags.sync_window.map(|v| json!(v)),
        f.sync_window.map(|v| json!(v)),
        Value::Null,
    );
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let args = NodeArgs {
        port: port.as_u64().map(|v| v as u16),
        bind: bind.as_str().and_then(|s| s.parse().ok()),
        allow_remote: allow_remote == Value::Bool(true),
        mine: mine == Value::Bool(true),
        threads: threads.as_u64().map(|v| v as u16),
        continuous: continuous == Value::Bool(true),
        empty_blocks_every: empty.as_str().map(str::to_owned),
        read_timeout: read_timeout.as_f64(),
        max_import_bytes: import_bytes.as_u64(),
        listen: strings(&listen),
        peer: strings(&peers),
        allow_peer: strings(&allow),
        allow_peers_file: allow_file.as_str().map(PathBuf::from),
        log_level: log_level.as_str().map(str::to_owned),
        log_format: match log_format.as_str() {
            Some("json") => Some(LogFormat::Json),
            _ => Some(LogFormat::Text),
        },
        log_file: log_file.as_str().map(PathBuf::from),
        sync_window: sync_window.as_u64().map(|v| v as u32),
    };
    Resolved {
        args,
        file,
        settings,
    }
}

/// `config show` as text: the file, then one line per setting.
pub fn show_text(r: &Resolved) -> String {
    let mut out = match &r.file {
        Some(f) => format!("config file {}\n", f.display()),
        None => "config file none (no sledger.toml in the data directory)\n".to_owned(),
    };
    out += &format!("{:<20} {:<32} {}\n", "SETTING", "VALUE", "SOURCE");
    for s in &r.settings {
        let value = match &s.value {
            Value::Null => "(unset)".to_owned(),
            Value::String(v) => super::output::escape_text(v),
            other => super::output::escape_text(&other.to_string()),
        };
        let source = match (s.source, &r.file) {
            (Source::File, Some(f)) => f.display().to_string(),
            (Source::Flag, _) => format!("--{}", flag_name(s.name)),
            (other, _) => other.as_str().to_owned(),
        };
        out += &format!("{:<20} {:<32} {}\n", s.name, value, source);
    }
    out
}

/// `config show --json`: `{"file", "settings": {NAME: {"value", "source"}}}`.
pub fn show_json(r: &Resolved) -> Value {
    let settings: serde_json::Map<String, Value> = r
        .settings
        .iter()
        .map(|s| {
            (
                s.name.to_owned(),
                json!({"value": s.value, "source": s.source.as_str()}),
            )
        })
        .collect();
    json!({"file": r.file, "settings": settings})
}

/// The flag of `sledger node` that sets `name`.
fn flag_name(name: &str) -> String {
    match name {
        "peers" => "peer".into(),
        "allow_peers" => "allow-peer".into(),
        other => other.replace('_', "-"),
    }
}
