//! The command line: parse arguments ([`args`]) and check them
//! ([`checked`]), open the ledger, run one command ([`commands`]), print its result ([`output`]), and turn any error
//! into one line on stderr and a non-zero exit.
//!
//! Exit codes: 0 success, 1 the command failed (bad input, a rejected
//! block, a failed verification, a ledger problem), 2 bad usage (clap's
//! refusals, and every argument [`checked`] refuses before a ledger is
//! touched: a value out of its bounds, a malformed id or position), 130
//! stopped by Ctrl-C or SIGTERM before it finished ([`Interrupted`]).

pub mod args;
pub mod checked;
pub mod commands;
pub mod config;
pub mod output;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;

use crate::api::local::LocalLedger;
use crate::api::Ledger;
use crate::node::client::RemoteLedger;
use crate::node::cookie::Cookie;
use crate::signal::{StopRequest, StopSignals, FORCED_EXIT};
use crate::store::{OpenOptions, Store, StoreError};
use args::Cli;
use checked::Command;

/// Default initial difficulty: 2^26 hashes, about a second per block on one
/// core with SHA extensions (`sledger bench` measures ~69 million a second
/// per core on the reference machine; see BENCHMARKS.md).
pub const DEFAULT_DIFFICULTY: u32 = 26;

/// The exit code of a command stopped by Ctrl-C or SIGTERM before it
/// finished (128 + SIGINT, as shells report it).
pub const INTERRUPTED_EXIT: u8 = 130;

/// A command stopped by Ctrl-C or SIGTERM: the message says how far it
/// got, and the exit code is [`INTERRUPTED_EXIT`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Interrupted(pub String);

/// Raised by Ctrl-C or SIGTERM; long commands poll it.
pub static STOP: AtomicBool = AtomicBool::new(false);

/// The first panic of this process: message and location.
static PANIC: std::sync::Mutex<Option<(String, String)>> = std::sync::Mutex::new(None);

/// Entry point of the `sledger` binary.
pub fn main() -> ExitCode {
    // Panics are caught below and reported as one line; the hook only
    // records the first one (a miner thread's, before the scope re-raises it).
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info.location().map_or("?".into(), |l| l.to_string());
        if let Ok(mut p) = PANIC.lock() {
            p.get_or_insert((msg, at));
        }
    }));
    // Known before parsing, so that clap's own refusals follow --json too.
    let json = std::env::args_os().skip(1).any(|a| a == "--json");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() && json => {
            let first = e.to_string();
            let first = first.lines().next().unwrap_or("bad usage");
            let message = first.strip_prefix("error: ").unwrap_or(first);
            report(true, "usage", message);
            return ExitCode::from(2);
        }
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(cli))) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            let code = error_code(&e);
            let line = one_line(&e);
            if code == "interrupted" && !json {
                // How far it got, as a note rather than an error.
                eprintln!("{}", output::escape_text(&line));
            } else {
                report(json, code, &line);
            }
            ExitCode::from(match code {
                "usage" => 2,
                "interrupted" => INTERRUPTED_EXIT,
                _ => 1,
            })
        }
        Err(_) => {
            let (msg, at) = PANIC
                .lock()
                .ok()
                .and_then(|p| p.clone())
                .unwrap_or_default();
            let line = panic_line(&msg, &at);
            let code = if line.contains("damaged") {
                "corrupt"
            } else {
                "internal"
            };
            report(json, code, &line);
            ExitCode::from(1)
        }
    }
}

/// An error on stderr: `sledger: MESSAGE` (escaped), or with `--json` one
/// JSON object, `{"error": MESSAGE, "code": CODE}`, as the node answers.
fn report(json: bool, code: &str, message: &str) {
    if json {
        let v = serde_json::json!({ "error": message, "code": code });
        eprintln!("{v}");
    } else {
        eprintln!("sledger: {}", output::escape_text(message));
    }
}

/// The stable code of a command's error (README.md, "Output"): the first
/// cause in its chain that has one, else `failed`.
pub fn error_code(e: &anyhow::Error) -> &'static str {
    for cause in e.chain() {
        if cause.downcast_ref::<checked::UsageError>().is_some() {
            return "usage";
        }
        if cause.downcast_ref::<Interrupted>().is_some() {
            return "interrupted";
        }
        if let Some(f) = cause.downcast_ref::<Failed>() {
            return f.code;
        }
        if let Some(a) = cause.downcast_ref::<crate::api::ApiError>() {
            return a.code();
        }
        if let Some(s) = cause.downcast_ref::<StoreError>() {
            return s.code();
        }
        if cause.downcast_ref::<crate::consensus::TxError>().is_some() {
            return "bad_request";
        }
    }
    "failed"
}

/// A failure with its own code (one of [`crate::api::KNOWN_CODES`]): a
/// verification that failed, a pin not reached, nothing to mine, a store
/// held by another command.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failed {
    pub code: &'static str,
    pub message: String,
}

/// Fails with `code` and the formatted message.
#[macro_export]
macro_rules! fail {
    ($code:expr, $($arg:tt)*) => {
        return Err($crate::cli::Failed { code: $code, message: format!($($arg)*) }.into())
    };
}

/// What to say about a panic: sled panics on some damaged files, which is
/// the store's damage, not a bug in sledger.
pub fn panic_line(msg: &str, at: &str) -> String {
    let msg = msg.replace('\n', " ");
    if at.contains("/sled-") || at.contains("\\sled-") {
        format!("{}", StoreError::Corrupt(format!("sled: {msg}")))
    } else {
        format!("internal error: {msg} (at {at}); this is a bug in sledger, please report it")
    }
}

/// The error and its causes on one line, without repeats.
fn one_line(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ").replace('\n', " ")
}

/// Runs one parsed command.
pub fn run(cli: Cli) -> Result<()> {
    let ctx = Ctx {
        data_dir: match cli.data_dir {
            Some(d) => d,
            None => default_data_dir()?,
        },
        json: cli.json,
        no_upgrade: cli.no_upgrade,
        keys_dir: cli.keys_dir,
        config: cli.config,
        remote: remote_node(cli.node.as_deref(), cli.cookie.as_deref())
            .map_err(|e| anyhow::Error::new(checked::UsageError(one_line(&e))))?,
    };
    let usage = |e: anyhow::Error| anyhow::Error::new(checked::UsageError(one_line(&e)));
    // The node's settings: the config file under the flags.
    let raw = match cli.command {
        args::Command::Node(flags) => {
            let resolved =
                config::resolve(flags, ctx.config.as_deref(), &ctx.data_dir).map_err(usage)?;
            args::Command::Node(resolved.args)
        }
        args::Command::Config(args::ConfigArgs {
            what: args::ConfigWhat::Show(flags),
        }) => {
            let resolved =
                config::resolve(flags, ctx.config.as_deref(), &ctx.data_dir).map_err(usage)?;
            // What the node would refuse, `config show` refuses too.
            checked::node(resolved.args.clone()).map_err(usage)?;
            match ctx.json {
                true => output::print_json(&config::show_json(&resolved)),
                false => print!("{}", config::show_text(&resolved)),
            }
            return Ok(());
        }
        other => other,
    };
    let command = Command::check(raw).map_err(usage)?;
    match command {
        Command::Init(a) => commands::init::run(&ctx, &a),
        Command::Submit(a) => commands::submit::run(&ctx, &a),
        Command::Pending { from, limit } => commands::query::pending(&ctx, from, limit),
        Command::Mine(req) => commands::mine::run(&ctx, &req),
        Command::Block(r) => commands::query::block(&ctx, r),
        Command::Chain(a) => commands::query::chain(&ctx, &a),
        Command::Tx { txid, raw } => commands::query::tx(&ctx, &txid, raw),
        Command::Verify { expect_tip } => commands::verify::run(&ctx, expect_tip),
        Command::Txs(a) => commands::query::txs(&ctx, &a),
        Command::Migrate => commands::migrate::run(&ctx),
        Command::Status => commands::query::status(&ctx),
        Command::Export { output, from } => {
            commands::transfer::export(&ctx, output.as_deref(), from)
        }
        Command::Import { file, expect_tip } => commands::transfer::import(&ctx, &file, expect_tip),
        Command::Key(k) => commands::key::run(&ctx, k),
        Command::Demo => commands::demo::run(&ctx),
        Command::Bench(b) => commands::bench::run(&ctx, b),
        Command::Node(config) => commands::node::run(&ctx, config),
        Command::Peers(p) => commands::peers::run(&ctx, p),
        Command::Watch => commands::watch::run(&ctx),
        Command::Open { no_browser } => commands::watch::open(&ctx, no_browser),
        Command::Salvage { to } => commands::salvage::run(&ctx, &to),
        Command::Completions(shell) => commands::manual::completions(shell),
        Command::Man { dir } => commands::manual::man(dir.as_deref()),
    }
}

/// What every command gets.
pub struct Ctx {
    pub data_dir: PathBuf,
    pub json: bool,
    pub no_upgrade: bool,
    /// `--keys-dir` (else the platform's config directory).
    pub keys_dir: Option<PathBuf>,
    /// `--config` (else `sledger.toml` in the data directory, if any).
    pub config: Option<PathBuf>,
    /// `--node URL --cookie FILE`: the node to use instead of the data
    /// directory's ledger (its address and the cookie file).
    pub remote: Option<(String, PathBuf)>,
}

impl Ctx {
    /// The signing keys.
    pub fn keys(&self) -> Result<crate::keys::KeyRing> {
        Ok(crate::keys::KeyRing::open(self.keys_dir.as_deref())?)
    }
}

impl Ctx {
    /// The ledger: through its node when one runs on the data directory,
    /// else opened here (upgrading an older schema, with a notice on stderr
    /// and progress on a terminal, unless `--no-upgrade` was given).
    pub fn ledger(&self) -> Result<Box<dyn Ledger>> {
        self.ledger_with_cache(None)
    }

    /// [`Ctx::ledger`], opened here with a chosen sled page cache size.
    pub fn ledger_with_cache(&self, cache_bytes: Option<u64>) -> Result<Box<dyn Ledger>> {
        self.find_ledger(cache_bytes, self.no_upgrade)?
            .ok_or_else(|| StoreError::NoLedger(self.data_dir.clone()).into())
    }

    /// [`Ctx::ledger`], upgraded whatever `--no-upgrade` says (`migrate`).
    pub fn ledger_upgraded(&self) -> Result<Box<dyn Ledger>> {
        self.find_ledger(None, false)?
            .ok_or_else(|| StoreError::NoLedger(self.data_dir.clone()).into())
    }

    /// The ledger if there is one; `None` when the directory holds none,
    /// or only what a creation that crashed before its commit left behind.
    pub fn ledger_if_any(&self) -> Result<Option<Box<dyn Ledger>>> {
        match self.find_ledger(None, self.no_upgrade) {
            Err(e) if matches!(e.downcast_ref(), Some(StoreError::NotALedger(_))) => Ok(None),
            other => other,
        }
    }

    /// The ledger, through its node or opened here. While another process
    /// holds the store: a node still starting is waited for (up to
    /// [`NODE_START_WAIT`], as bitcoin-cli's `-rpcwait`); any other holder
    /// is named, with its pid.
    fn find_ledger(
        &self,
        cache_bytes: Option<u64>,
        no_upgrade: bool,
    ) -> Result<Option<Box<dyn Ledger>>> {
        if let Some(remote) = self.remote_ledger()? {
            return Ok(Some(Box::new(remote)));
        }
        let deadline = Instant::now() + NODE_START_WAIT;
        let mut told = false;
        loop {
            let why = match self.find_ledger_once(cache_bytes, no_upgrade)? {
                Found::Ledger(l) => return Ok(l),
                Found::Held(why) => why,
            };
            let holder = crate::store::lock_holder(&self.data_dir);
            match holder.as_ref().and_then(|h| h.subcommand()) {
                Some("node") if Instant::now() < deadline => {
                    if !told && self.show_progress() {
                        let pid = holder.as_ref().map_or(0, |h| h.pid);
                        eprintln!("waiting for the node (pid {pid}) to start...");
                    }
                    told = true;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Some("node") => crate::fail!(
                    "locked",
                    "the node (pid {}) that holds the ledger at {} did not answer within {} s: {}",
                    holder.map_or(0, |h| h.pid),
                    self.data_dir.display(),
                    NODE_START_WAIT.as_secs(),
                    one_line(&why)
                ),
                Some(command) => crate::fail!(
                    "locked",
                    "the ledger at {} is in use by `sledger {command}` (pid {}); stop it and try again, or run a node (`sledger node --mine`) so that other commands can share the ledger while it mines",
                    self.data_dir.display(),
                    holder.as_ref().map_or(0, |h| h.pid)
                ),
                None => match &holder {
                    Some(h) => crate::fail!("locked", "{} (pid {})", one_line(&why), h.pid),
                    None => return Err(why),
                },
            }
        }
    }

    fn find_ledger_once(&self, cache_bytes: Option<u64>, no_upgrade: bool) -> Result<Found> {
        let (cookie, why) = match Cookie::read(&self.data_dir) {
            Ok(None) => {
                return match self.open_local(cache_bytes, no_upgrade) {
                    Ok(l) => Ok(Found::Ledger(l.map(|l| Box::new(l) as _))),
                    Err(e) if is_locked(&e) => Ok(Found::Held(e)),
                    Err(e) => Err(e),
                }
            }
            Ok(Some(cookie)) => match RemoteLedger::connect(cookie.clone()) {
                Ok(remote) => return Ok(Found::Ledger(Some(Box::new(remote)))),
                Err(e) => (Some(cookie), anyhow::Error::new(e)),
            },
            // Unreadable or garbled: stale too if the store opens here.
            Err(e) => (
                None,
                anyhow::anyhow!(
                    "cannot read the node cookie in {}: {e}",
                    self.data_dir.display()
                ),
            ),
        };
        // The node does not answer. If the store opens here, the node is
        // gone (it held the store's lock) and its cookie is stale.
        match self.open_local(cache_bytes, no_upgrade) {
            Ok(local) => {
                match cookie {
                    Some(c) => {
                        c.remove(&self.data_dir);
                        eprintln!(
                            "note: removed a stale node cookie (the node, pid {}, did not stop cleanly)",
                            c.pid
                        );
                    }
                    None => {
                        let _ = std::fs::remove_file(crate::node::cookie::path(&self.data_dir));
                        eprintln!("note: removed a damaged node cookie");
                    }
                }
                Ok(Found::Ledger(local.map(|l| Box::new(l) as _)))
            }
            Err(e) if is_locked(&e) => Ok(Found::Held(why)),
            Err(e) => Err(e),
        }
    }

    /// Opens the store in this process; `None` when there is no ledger
    /// (a directory holding something else is an error).
    fn open_local(
        &self,
        cache_bytes: Option<u64>,
        no_upgrade: bool,
    ) -> Result<Option<LocalLedger>> {
        let first_version = std::cell::Cell::new(None);
        let store = match self.open_store(cache_bytes, no_upgrade, &first_version) {
            Ok(s) => s,
            Err(StoreError::NoLedger(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let now = store.schema_version()?;
        Ok(Some(LocalLedger::new(
            store,
            first_version.get().unwrap_or(now),
        )))
    }

    /// Opens the store, reporting each schema step on stderr (with
    /// progress on a terminal); `first_version` gets the version the store
    /// had, if a step ran.
    fn open_store(
        &self,
        cache_bytes: Option<u64>,
        no_upgrade: bool,
        first_version: &std::cell::Cell<Option<u32>>,
    ) -> Result<Store, StoreError> {
        let bar: std::cell::RefCell<Option<indicatif::ProgressBar>> = std::cell::RefCell::new(None);
        let show = self.show_progress();
        let dir = self.data_dir.display().to_string();
        let on_migration = |e: crate::store::migrate::Event| {
            use crate::store::migrate::Event;
            match e {
                Event::Starting { from, to, what } => {
                    if first_version.get().is_none() {
                        first_version.set(Some(from));
                        // Once, before the first step: an upgrade is one-way.
                        eprintln!(
                            "note: the ledger at {dir} has schema version {from}, from an older sledger; it is upgraded now to version {}, after which older sledger versions cannot open it (--no-upgrade refuses instead; `sledger export` with the older version keeps a copy they can import)",
                            crate::store::schema::SCHEMA_VERSION
                        );
                    }
                    eprintln!(
                        "upgrading the ledger at {dir} from schema version {from} to {to}: {what}"
                    );
                    if show {
                        let b = indicatif::ProgressBar::new(0);
                        b.set_style(
                            indicatif::ProgressStyle::with_template(
                                "  {bar:40} {pos}/{len} blocks",
                            )
                            .expect("valid template"),
                        );
                        *bar.borrow_mut() = Some(b);
                    }
                }
                Event::Progress { done, total, .. } => {
                    if let Some(b) = bar.borrow().as_ref() {
                        b.set_length(total);
                        b.set_position(done);
                    }
                }
                Event::Finished { .. } => {
                    if let Some(b) = bar.borrow_mut().take() {
                        b.finish_and_clear();
                    }
                }
            }
        };
        let options = OpenOptions {
            no_upgrade,
            on_migration: Some(&on_migration),
            cache_bytes,
        };
        Store::open_with(&self.data_dir, options)
    }

    /// Refuses `--node` for a command that needs the store itself.
    pub fn refuse_remote(&self) -> Result<()> {
        match &self.remote {
            Some((address, _)) => bail!(
                "this command needs the store itself, on this machine; it cannot run through --node {address}"
            ),
            None => Ok(()),
        }
    }

    /// The node named by `--node`, connected, if one was.
    fn remote_ledger(&self) -> Result<Option<RemoteLedger>> {
        let Some((address, file)) = &self.remote else {
            return Ok(None);
        };
        let cookie = Cookie::read_file(file, address.clone())
            .with_context(|| format!("--cookie {}", file.display()))?;
        Ok(Some(RemoteLedger::connect(cookie)?))
    }

    /// Opens the store in this process, refusing while a node owns it
    /// (`node`, `init`, `demo`'s creation).
    pub fn open_here(&self) -> Result<Option<Store>> {
        self.refuse_remote()?;
        if let Some(remote) = self.running_node()? {
            bail!(
                "a node (at {}) owns the ledger at {}; this command needs the store itself: stop the node first",
                remote.address(),
                self.data_dir.display()
            );
        }
        match self.open_store(None, self.no_upgrade, &std::cell::Cell::new(None)) {
            Ok(s) => Ok(Some(s)),
            Err(StoreError::NoLedger(_) | StoreError::NotALedger(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The node running on the data directory, if one answers.
    pub fn running_node(&self) -> Result<Option<RemoteLedger>> {
        if self.remote.is_some() {
            return self.remote_ledger();
        }
        // An unreadable cookie names no node that answers.
        let cookie = Cookie::read(&self.data_dir).ok().flatten();
        Ok(cookie.and_then(|c| RemoteLedger::connect(c).ok()))
    }

    /// Whether to draw progress: only for people, on a terminal.
    pub fn show_progress(&self) -> bool {
        use std::io::IsTerminal;
        !self.json && std::io::stderr().is_terminal()
    }
}

/// `--node URL` and `--cookie FILE`, checked: the node's `HOST:PORT` and the
/// cookie file; each needs the other.
fn remote_node(
    url: Option<&str>,
    cookie: Option<&std::path::Path>,
) -> Result<Option<(String, PathBuf)>> {
    let Some(url) = url else {
        if cookie.is_some() {
            bail!("--cookie names the cookie of a node given with --node URL");
        }
        return Ok(None);
    };
    let rest = url.strip_prefix("http://").unwrap_or(url);
    if url.starts_with("https://") || rest.contains("://") {
        bail!("--node {url}: only plain http:// is spoken (use an ssh tunnel to reach a node elsewhere)");
    }
    let address = rest.trim_end_matches('/');
    if address.contains('/')
        || address.parse::<std::net::SocketAddr>().is_err()
            && !address
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
    {
        bail!("--node {url}: expected http://HOST:PORT, e.g. http://127.0.0.1:8337");
    }
    let cookie = cookie.map(PathBuf::from).ok_or_else(|| {
        anyhow::anyhow!(
            "--node {url} needs --cookie FILE: the node's node.cookie (it holds the token)"
        )
    })?;
    Ok(Some((address.to_owned(), cookie)))
}

/// How long a command waits for a node that holds the store but does not
/// answer yet (starting: upgrading the store, joining the network).
pub const NODE_START_WAIT: Duration = Duration::from_secs(30);

/// What [`Ctx::find_ledger_once`] found.
enum Found {
    /// The ledger (through its node, or opened here), or none.
    Ledger(Option<Box<dyn Ledger>>),
    /// Another process holds the store; the error says what was seen.
    Held(anyhow::Error),
}

fn is_locked(e: &anyhow::Error) -> bool {
    matches!(e.downcast_ref::<StoreError>(), Some(StoreError::Locked(_)))
}

fn default_data_dir() -> Result<PathBuf> {
    dirs::data_dir().map(|d| d.join("sledger")).context(
        "cannot tell the platform's data directory; pass --data-dir or set SLEDGER_DATA_DIR",
    )
}

/// Makes Ctrl-C and SIGTERM raise [`STOP`]; a repeat within the grace
/// period is the same stop, a later one exits at once ([`crate::signal`]).
pub fn stop_on_signal() {
    let mut signals = StopSignals::default();
    let _ = ctrlc::set_handler(move || match signals.receive(Instant::now()) {
        StopRequest::Stop => STOP.store(true, Ordering::SeqCst),
        StopRequest::Echo => {}
        StopRequest::Force => std::process::exit(FORCED_EXIT),
    });
}
