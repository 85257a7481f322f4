//! The command line's arguments, checked: [`super::args`] is what clap
//! parsed (the raw flags); [`Command`] is what the commands run with.
//! Every bound is checked here, against [`crate::bounds`] and under the
//! flag's name, and every reference parsed, before a command opens a
//! ledger. (The rules a chain's parameters must follow are consensus
//! rules, checked when `init` builds them.)

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Parser;

use super::args::{self, BenchWhat, Cli};
use crate::api::{parse_position, BlockRef, MineRequest, TxRef};
use crate::bounds;
use crate::consensus::BlockHash;
use crate::node::{Config, Limits};

/// A command with checked arguments.
// Made once per process, from the command line: the size of the largest
// variant does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    Init(Init),
    Submit(args::SubmitArgs),
    Pending {
        from: u64,
        limit: usize,
    },
    Mine(MineRequest),
    Block(BlockRef),
    Chain(Chain),
    Tx {
        txid: TxRef,
        raw: bool,
    },
    Txs(Txs),
    Verify {
        expect_tip: Option<BlockHash>,
    },
    Migrate,
    Status,
    Export {
        output: Option<PathBuf>,
        from: u64,
    },
    Import {
        file: PathBuf,
        expect_tip: Option<BlockHash>,
    },
    Key(args::KeyWhat),
    Demo,
    /// A node: its address is loopback unless `--allow-remote` was given.
    Node(Config),
    Bench(Bench),
    Peers(Peers),
    Watch,
    Open {
        no_browser: bool,
    },
    Salvage {
        to: std::path::PathBuf,
    },
    Completions(clap_complete::Shell),
    Man {
        dir: Option<std::path::PathBuf>,
    },
}

/// `peers`: what to ask the running node.
pub enum Peers {
    List,
    Add(crate::net::PeerAddr),
    Ban {
        peer: crate::net::PeerName,
        seconds: u64,
    },
    Unban(crate::net::PeerName),
}

/// `init`: a chain's parameters, but for the salt (drawn when it is made).
#[derive(Debug, Clone)]
pub struct Init {
    pub name: String,
    pub difficulty: u32,
    pub target_interval_ms: u64,
    pub retarget_window: u32,
    pub fixed_difficulty: bool,
    pub signatures: crate::consensus::params::SignaturePolicy,
    pub threads: Option<u16>,
    /// Mine the genesis block even if it is expected to take longer than
    /// [`crate::cli::commands::init::GENESIS_TIME_LIMIT`].
    pub force: bool,
}

impl Init {
    /// What `sledger init` runs with when given no flags.
    pub fn defaults() -> Init {
        let cli = Cli::try_parse_from(["sledger", "init"]).expect("init takes no required flag");
        match cli.command {
            args::Command::Init(a) => Init::new(a).expect("init's defaults are in bounds"),
            _ => unreachable!("parsed as init"),
        }
    }

    fn new(a: args::InitArgs) -> Result<Init> {
        let init = Init {
            target_interval_ms: bounds::block_interval_ms("--block-interval", a.block_interval)?,
            name: a.name,
            difficulty: a.difficulty,
            retarget_window: a.retarget_window,
            fixed_difficulty: a.fixed_difficulty,
            signatures: match a.signatures {
                args::SignaturesArg::Optional => {
                    crate::consensus::params::SignaturePolicy::Optional
                }
                args::SignaturesArg::Required => {
                    crate::consensus::params::SignaturePolicy::Required
                }
            },
            threads: a.threads,
            force: a.force,
        };
        // The consensus ranges (name, difficulty, window), with any salt:
        // refused here, before a ledger is touched, as bad usage.
        crate::cli::commands::init::params_with_salt(&init, [0; 16]).validate()?;
        Ok(init)
    }
}

/// `chain`: the tips, or a page of the active chain.
pub enum Chain {
    Tips,
    Page { from: Option<u64>, limit: usize },
}

/// `txs`: a page of an author's (or a key's) transactions.
pub struct Txs {
    /// The author, or the key as given (a key name or hex, resolved by
    /// the command against the keys directory).
    pub of: TxsOfArg,
    pub from: (u64, u32),
    pub limit: usize,
}

/// `bench` and its hidden references.
pub enum Bench {
    Mining {
        seconds: f64,
    },
    Store {
        sizes: Vec<u64>,
        dir: Option<PathBuf>,
        keep: bool,
    },
    RawScan {
        path: PathBuf,
        cache_bytes: u64,
    },
    RawGet {
        path: PathBuf,
        key: Vec<u8>,
    },
}

impl Command {
    /// Checks the arguments of a parsed command.
    pub fn check(c: args::Command) -> Result<Command> {
        use args::Command as Raw;
        Ok(match c {
            Raw::Init(a) => Command::Init(Init::new(a)?),
            Raw::Submit(a) => Command::Submit(a),
            Raw::Pending(a) => Command::Pending {
                from: a.from,
                limit: bounds::page(a.limit)?,
            },
            Raw::Mine(a) => Command::Mine(mine(a)?),
            Raw::Block { block } => Command::Block(block.parse()?),
            Raw::Chain(a) if a.tips => Command::Chain(Chain::Tips),
            Raw::Chain(a) => Command::Chain(Chain::Page {
                from: a.from,
                limit: bounds::page(a.limit)?,
            }),
            Raw::Tx { txid, raw } => Command::Tx {
                txid: txid.parse()?,
                raw,
            },
            Raw::Txs(a) => Command::Txs(Txs {
                from: a.from.as_deref().map_or(Ok((0, 0)), parse_position)?,
                limit: bounds::page(a.limit)?,
                of: match (a.author, a.key) {
                    (Some(author), _) => TxsOfArg::Author(author),
                    (None, Some(key)) => TxsOfArg::Key(key),
                    (None, None) => bail!("give --author or --key"),
                },
            }),
            Raw::Verify(a) => Command::Verify {
                expect_tip: expect_tip(a.expect_tip)?,
            },
            Raw::Migrate => Command::Migrate,
            Raw::Status => Command::Status,
            Raw::Export { output, from } => Command::Export { output, from },
            Raw::Import {
                file,
                expect_tip: e,
            } => Command::Import {
                file,
                expect_tip: expect_tip(e)?,
            },
            Raw::Key(a) => Command::Key(a.what),
            Raw::Demo => Command::Demo,
            Raw::Node(a) => Command::Node(node(a)?),
            Raw::Config(_) => bail!("`config` runs before the commands are checked"),
            Raw::Bench(a) => Command::Bench(bench(a)?),
            Raw::Peers(a) => Command::Peers(peers(a)?),
            Raw::Watch => Command::Watch,
            Raw::Open { no_browser } => Command::Open { no_browser },
            Raw::Salvage { to } => Command::Salvage { to },
            Raw::Completions { shell } => Command::Completions(shell),
            Raw::Man { dir } => Command::Man { dir },
        })
    }
}

/// An argument refused by the checks here, before any ledger is opened:
/// bad usage, exit code 2 (as clap's own refusals).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// What `txs` lists: an author's entries, or those a key signed.
pub enum TxsOfArg {
    Author(String),
    Key(String),
}

/// `--expect-tip`: a whole block hash (a prefix could be ground out).
fn expect_tip(a: Option<String>) -> Result<Option<BlockHash>> {
    a.map(|h| {
        h.parse::<BlockHash>().map_err(|_| {
            anyhow::anyhow!("--expect-tip \"{h}\" is not a block hash (64 hex digits)")
        })
    })
    .transpose()
}

fn mine(a: args::MineArgs) -> Result<MineRequest> {
    if a.blocks == Some(0) {
        bail!("--blocks 0 would mine nothing: give 1 or more, or omit it to mine until stopped");
    }
    let req = MineRequest {
        blocks: a.blocks,
        threads: a.threads,
        checkpoint_every: Some(
            bounds::CHECKPOINT_EVERY.check("--checkpoint-every", a.checkpoint_every)?,
        ),
        continuous: a.continuous,
        empty_blocks_every: empty_blocks_every(a.empty_blocks_every.as_deref(), a.continuous)?,
        backend: a.backend,
    };
    if let (Some(b), None) = (&req.backend, req.miner_backend()) {
        let runs: Vec<&str> = crate::mining::Backend::available()
            .iter()
            .map(|b| b.key())
            .collect();
        bail!(
            "--backend {b} is not one this CPU runs (it runs: {})",
            runs.join(", ")
        );
    }
    Ok(req)
}

/// `--empty-blocks-every`: a duration (`10m`, `1h 30m`, `500ms`) or a
/// number of seconds, within [`bounds::EMPTY_BLOCKS_EVERY`].
fn empty_blocks_every(given: Option<&str>, continuous: bool) -> Result<Option<f64>> {
    let Some(text) = given else { return Ok(None) };
    if continuous {
        bail!("--continuous and --empty-blocks-every exclude each other: --continuous seals empty blocks without pause");
    }
    let seconds = match text.trim().parse::<f64>() {
        Ok(s) => s,
        Err(_) => humantime::parse_duration(text.trim())
            .map_err(|e| {
                anyhow::anyhow!(
                    "--empty-blocks-every \"{text}\" is not a duration ({e}); e.g. 10m, 1h, 30s"
                )
            })?
            .as_secs_f64(),
    };
    Ok(Some(
        bounds::EMPTY_BLOCKS_EVERY.check("--empty-blocks-every", seconds)?,
    ))
}

pub fn node(a: args::NodeArgs) -> Result<Config> {
    let bind = a
        .bind
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    if !bind.is_loopback() && !a.allow_remote {
        bail!(
            "refusing to listen on {bind}: it is not a loopback address, so other machines could reach the ledger; pass --allow-remote if that is what you want"
        );
    }
    if !a.mine && (a.continuous || a.empty_blocks_every.is_some()) {
        bail!("--continuous and --empty-blocks-every pace the node's miner: give them with --mine");
    }
    // Flags are bounded by clap; the same values from sledger.toml are not.
    if let Some(t) = a.threads {
        bounds::THREADS.check("--threads", t)?;
    }
    if let Some(w) = a.sync_window {
        if !(64..=1_000_000).contains(&w) {
            bail!("--sync-window must be between 64 and 1000000 (got {w})");
        }
    }
    let defaults = Limits::default();
    let read_timeout = bounds::READ_TIMEOUT.check(
        "--read-timeout",
        a.read_timeout
            .unwrap_or(defaults.read_timeout.as_secs_f64()),
    )?;
    Ok(Config {
        listen: SocketAddr::new(bind, a.port.unwrap_or(crate::node::DEFAULT_PORT)),
        mine: match a.mine {
            true => Some(MineRequest {
                threads: a.threads,
                continuous: a.continuous,
                empty_blocks_every: empty_blocks_every(
                    a.empty_blocks_every.as_deref(),
                    a.continuous,
                )?,
                ..Default::default()
            }),
            false => None,
        },
        limits: Limits {
            import_bytes: a.max_import_bytes.unwrap_or(defaults.import_bytes),
            read_timeout: std::time::Duration::from_secs_f64(read_timeout),
            ..Default::default()
        },
        network: crate::net::Config {
            listen: addresses("--listen", &a.listen)?,
            peers: addresses("--peer", &a.peer)?,
            allow: allowed_peers(&a.allow_peer, a.allow_peers_file.as_deref())?,
            sync_window: a.sync_window.map(|w| w as usize),
        },
        log: {
            let log = crate::logging::LogSettings {
                level: a.log_level,
                format: a.log_format.unwrap_or_default(),
                file: a.log_file,
            };
            crate::logging::filter(&log)?;
            log
        },
    })
}

/// The allow list of `--allow-peer` and `--allow-peers-file`, if either
/// is given (`None`: any peer may connect).
fn allowed_peers(
    given: &[String],
    file: Option<&std::path::Path>,
) -> Result<Option<Vec<crate::net::PeerName>>> {
    let mut ids: Vec<(String, String)> = given
        .iter()
        .map(|p| ("--allow-peer".to_owned(), p.clone()))
        .collect();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("--allow-peers-file: cannot read {}", path.display()))?;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if !line.is_empty() && !line.starts_with('#') {
                ids.push((
                    format!("{} line {}", path.display(), n + 1),
                    line.to_owned(),
                ));
            }
        }
    }
    if given.is_empty() && file.is_none() {
        return Ok(None);
    }
    ids.iter()
        .map(|(at, p)| p.parse().map_err(|e| anyhow::anyhow!("{at}: {e}")))
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// Each of `given` as a peer address, or an error naming `flag`.
fn addresses(flag: &str, given: &[String]) -> Result<Vec<crate::net::PeerAddr>> {
    given
        .iter()
        .map(|a| a.parse().map_err(|e| anyhow::anyhow!("{flag}: {e}")))
        .collect()
}

fn peers(a: args::PeersArgs) -> Result<Peers> {
    use args::PeersWhat;
    Ok(match a.what {
        None => Peers::List,
        Some(PeersWhat::Add { address }) => Peers::Add(address.parse()?),
        Some(PeersWhat::Ban { peer_id, seconds }) => Peers::Ban {
            peer: peer_id.parse()?,
            seconds: bounds::BAN_SECONDS.check("--seconds", seconds)?,
        },
        Some(PeersWhat::Unban { peer_id }) => Peers::Unban(peer_id.parse()?),
    })
}

fn bench(a: args::BenchArgs) -> Result<Bench> {
    Ok(match a.what {
        None => Bench::Mining {
            seconds: bounds::BENCH_SECONDS.check("--seconds", a.seconds)?,
        },
        Some(BenchWhat::Store { sizes, dir, keep }) => {
            let name = "--sizes";
            if sizes.is_empty() {
                return Err(bounds::BENCH_SIZES.refuse(name).into());
            }
            for &n in &sizes {
                bounds::BENCH_SIZES.check(name, n)?;
            }
            Bench::Store { sizes, dir, keep }
        }
        Some(BenchWhat::RawScan { path, cache_bytes }) => Bench::RawScan { path, cache_bytes },
        Some(BenchWhat::RawGet { path, key }) => Bench::RawGet {
            path,
            key: hex::decode(key).context("--key must be hex")?,
        },
    })
}
