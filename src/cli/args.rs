//! Every command-line argument, in one place (clap derive): the raw flags
//! as parsed. [`super::checked`] turns them into what the commands run
//! with; the bounds are [`crate::bounds`]'.

use std::path::PathBuf;

use clap::builder::RangedI64ValueParser;
use clap::{Args, Parser, Subcommand};

use crate::bounds;

/// `--threads`: a count outside [`bounds::THREADS`] is bad usage (clap's
/// message, exit code 2).
fn threads_arg() -> RangedI64ValueParser<u16> {
    clap::value_parser!(u16).range(i64::from(bounds::THREADS.min)..=i64::from(bounds::THREADS.max))
}

/// The heading of the options every command takes.
const GLOBAL: &str = "Global options";

const EXAMPLES: &str = "\
Examples:
  sledger demo                          a ledger, entries, blocks and a check, in seconds
  sledger init --name mylog             a new ledger (mines its genesis block)
  sledger submit -a alice \"paid bob\"    an entry, pending until mined
  sledger mine                          seal the pending entries into blocks
  sledger node --mine &                 own the ledger, mine as entries arrive
  sledger watch                         follow the node: blocks, tips, entries
  sledger block tip                     the newest block (or a height, hash, hash prefix)
  sledger --json status                 machine-readable output

Exit codes: 0 success, 1 failure, 2 bad usage, 130 interrupted (Ctrl-C, SIGTERM).
More: README.md, `sledger COMMAND --help`, `sledger man`.";

/// A persistent proof-of-work ledger on sled.
#[derive(Debug, Parser)]
#[command(name = "sledger", version, about, long_about = None, propagate_version = true, after_help = EXAMPLES)]
pub struct Cli {
    /// Directory holding the ledger [default: the platform's data directory, e.g. ~/.local/share/sledger]
    #[arg(long, global = true, env = "SLEDGER_DATA_DIR", value_name = "DIR", help_heading = GLOBAL)]
    pub data_dir: Option<PathBuf>,

    /// Print machine-readable JSON instead of text (errors too: one JSON object on stderr)
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub json: bool,

    /// Refuse to open a ledger with an older schema instead of upgrading it
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub no_upgrade: bool,

    /// Use the node at URL (http://HOST:PORT, e.g. through an ssh tunnel) instead of the data directory's ledger; needs --cookie
    #[arg(long, global = true, env = "SLEDGER_NODE", value_name = "URL", help_heading = GLOBAL)]
    pub node: Option<String>,

    /// The cookie file of the node given with --node: its node.cookie, copied here owner-only (it holds the token)
    #[arg(long, global = true, env = "SLEDGER_COOKIE", value_name = "FILE", help_heading = GLOBAL)]
    pub cookie: Option<PathBuf>,

    /// The node's config file [default: sledger.toml in the data directory, if there is one]
    #[arg(long, global = true, env = "SLEDGER_CONFIG", value_name = "FILE", help_heading = GLOBAL)]
    pub config: Option<PathBuf>,

    /// Directory of signing keys (`sledger key`) [default: the platform's config directory, e.g. ~/.config/sledger/keys]
    #[arg(long, global = true, env = "SLEDGER_KEYS_DIR", value_name = "DIR", help_heading = GLOBAL)]
    pub keys_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new ledger: choose its parameters and mine its genesis block
    #[command(after_help = "Examples:
  sledger init --name mylog
  sledger init --difficulty 20 --block-interval 10 --signatures required
  sledger init --difficulty 8 --fixed-difficulty      a fast chain for tests")]
    Init(InitArgs),
    /// Record an entry as a pending transaction
    #[command(after_help = "Examples:
  sledger submit -a alice \"paid bob 5\"
  echo \"from a pipe\" | sledger submit -a bob
  sledger submit -a carol --file report.pdf
  sledger submit --sign alice \"only alice can write as alice\"")]
    Submit(SubmitArgs),
    /// List pending transactions, oldest first
    Pending(PageArgs),
    /// Mine blocks of pending transactions (until --blocks are mined, or Ctrl-C)
    #[command(after_help = "Examples:
  sledger mine                          every pending entry, then stop
  sledger mine -n 1 --threads 2
  sledger mine --continuous             empty blocks too, until Ctrl-C
  sledger mine --empty-blocks-every 10m an empty block when the tip is 10 min old")]
    Mine(MineArgs),
    /// Show a block by height, hash (or a unique prefix of one) or "tip"
    #[command(after_help = "Examples:
  sledger block 12
  sledger block tip
  sledger block 00a3f2                  the block whose hash starts so, if only one does
  sledger --json block tip")]
    Block {
        /// A height (e.g. 12; digits only are always a height), "tip", a block hash, or its first 4+ hex digits if no other stored block starts with them
        block: String,
    },
    /// List blocks of the chain, newest first
    Chain(ChainArgs),
    /// Show a transaction, pending or in a block
    #[command(after_help = "Examples:
  sledger tx 36e089bd                   by the first digits of its id, if unique
  sledger tx --raw 36e089bd > data.bin  the exact bytes")]
    Tx {
        /// Transaction id (64 hex digits), or its first 4+ digits if no other transaction starts with them
        txid: String,
        /// Write the entry's data bytes to standard output, exactly, and nothing else
        #[arg(long, conflicts_with = "json")]
        raw: bool,
    },
    /// List an author's (or a key's) transactions in chain order
    Txs(TxsArgs),
    /// Check every block and index of the ledger against every rule
    #[command(after_help = "Examples:
  sledger verify
  sledger verify --expect-tip 00a3f2...  and the chain still leads to a published tip")]
    Verify(VerifyArgs),
    /// Upgrade the ledger's schema to this sledger's version
    Migrate,
    /// Show the ledger's tip, counts and parameters
    Status,
    /// Write the chain as JSON lines, one block per line
    #[command(after_help = "Examples:
  sledger export -o chain.jsonl
  sledger export --from 1200 -o new.jsonl   an incremental backup
  sledger export | ssh host sledger import -")]
    Export {
        /// Write here instead of standard output ("-": standard output); symlinks are followed, devices and pipes written through, a file replaced atomically keeping its mode
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Start at this height (an incremental backup: `import` takes a file that starts inside its chain)
        #[arg(long, default_value_t = 0, value_name = "HEIGHT")]
        from: u64,
    },
    /// Add the blocks of an export, checking every one first (creates the ledger if there is none)
    #[command(after_help = "Examples:
  sledger --data-dir copy import chain.jsonl
  ssh host sledger export --from 1200 | sledger import -
  sledger import --expect-tip 00a3f2... chain.jsonl")]
    Import {
        /// An export file (JSON lines); "-" reads standard input
        file: PathBuf,
        /// Import only if the file's chain leads to this block (a hash published elsewhere, e.g. by `status`)
        #[arg(long, value_name = "HASH")]
        expect_tip: Option<String>,
    },
    /// Signing keys, kept outside any ledger: make, list, show, share, import others'
    Key(KeyArgs),
    /// Create the ledger if needed, record sample entries, mine, show and verify
    Demo,
    /// Run a node: own the ledger, serve its HTTP API on 127.0.0.1, optionally mine; other commands then go through it
    #[command(after_help = "Examples:
  sledger node --mine --threads 1
  sledger node --mine --empty-blocks-every 10m --log-format json --log-file node.log
  sledger node --listen 0.0.0.0:8338 --peer 192.0.2.7:8338
  (defaults come from sledger.toml in the data directory: sledger config show)")]
    Node(NodeArgs),
    /// Measure mining speed (default) or the store at scale, against references
    Bench(BenchArgs),
    /// The running node's peers: list them (default), add one, ban or unban one
    Peers(PeersArgs),
    /// The node's settings: what `sledger node` would start with (sledger.toml, then flags), and where each came from
    Config(ConfigArgs),
    /// Rebuild what a damaged ledger still holds into a new one, and say what could not be recovered
    #[command(
        after_help = "Examples:\n  sledger --data-dir damaged salvage --to rescued\n  sledger --data-dir rescued verify"
    )]
    Salvage {
        /// The new ledger's directory (must not exist, or be empty)
        #[arg(long, value_name = "NEW_DIR")]
        to: PathBuf,
    },
    /// Open the block explorer of the running node: print (and on a desktop, open) a one-time login URL
    #[command(after_help = "Examples:\n  sledger open\n  sledger open --no-browser")]
    Open {
        /// Print the URL only; do not start a browser
        #[arg(long)]
        no_browser: bool,
    },
    /// Follow the running node: blocks sealed, tip changes (reorganisations named), entries arriving, the miner starting and stopping
    #[command(
        after_help = "Examples:\n  sledger watch\n  sledger --json watch | jq -c 'select(.event == \"tip\")'"
    )]
    Watch,
    /// Print a shell completion script (e.g. `sledger completions bash > ~/.local/share/bash-completion/completions/sledger`)
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// Write man pages: sledger(1) to standard output, or one page per command into --dir
    Man {
        /// Write sledger.1 and sledger-COMMAND.1 here (created if missing)
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub what: ConfigWhat,
}

#[derive(Debug, Subcommand)]
pub enum ConfigWhat {
    /// Print each node setting, its value and its source (default, the config file, or a flag given here as to `sledger node`)
    #[command(
        after_help = "Examples:\n  sledger config show\n  sledger config show --port 9000 --mine\n  sledger --json config show"
    )]
    Show(NodeArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Succeed only if the active chain holds this block (a tip published elsewhere: a chain re-mined after it fails)
    #[arg(long, value_name = "HASH")]
    pub expect_tip: Option<String>,
}

#[derive(Debug, Args)]
pub struct KeyArgs {
    #[command(subcommand)]
    pub what: KeyWhat,
}

#[derive(Debug, Subcommand)]
pub enum KeyWhat {
    /// Make a new key pair (the secret key never leaves the keys directory)
    New {
        /// A name for the key: letters, digits, '.', '_', '-'
        name: String,
    },
    /// List the keys: yours (with a secret key) and those imported
    List,
    /// Show a key's public key and fingerprint
    Show { name: String },
    /// Print a public key to give to others (64 hex digits)
    ExportPublic { name: String },
    /// Record someone else's public key under a name
    ImportPublic {
        name: String,
        /// The public key: 64 hex digits, or a file holding them ("-": standard input)
        key: String,
    },
}

#[derive(Debug, Args)]
pub struct PeersArgs {
    #[command(subcommand)]
    pub what: Option<PeersWhat>,
}

#[derive(Debug, Subcommand)]
pub enum PeersWhat {
    /// Dial a peer now, and redial it while it is gone
    Add {
        /// IP:PORT or a multiaddr, with or without /p2p/PEERID
        address: String,
    },
    /// Disconnect a peer and refuse it for a while (remembered across restarts)
    Ban {
        /// The peer's id (12D3KooW...)
        peer_id: String,
        /// How long, 1 to 31536000 seconds
        #[arg(long, default_value_t = bounds::DEFAULT_BAN_SECONDS)]
        seconds: u64,
    },
    /// Lift a ban
    Unban {
        /// The peer's id (12D3KooW...)
        peer_id: String,
    },
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: Option<BenchWhat>,
    /// Seconds per mining measurement
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
}

#[derive(Debug, Subcommand)]
pub enum BenchWhat {
    /// Ledgers of each size built, queried and verified, against raw sled
    Store {
        /// Ledger sizes in blocks, comma-separated
        #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000")]
        sizes: Vec<u64>,
        /// Where to build them [default: a new directory under the system temp dir]
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Keep the ledgers afterwards
        #[arg(long)]
        keep: bool,
    },
    /// Opens a plain sled database and reads every key and value once (the
    /// reference for a full walk's time and memory)
    #[command(hide = true)]
    RawScan {
        #[arg(long)]
        path: PathBuf,
        /// sled page cache size in bytes
        #[arg(long, default_value_t = crate::store::CACHE_BYTES)]
        cache_bytes: u64,
    },
    /// Opens a plain sled database and gets one key (the reference for one-shot queries)
    #[command(hide = true)]
    RawGet {
        #[arg(long)]
        path: PathBuf,
        /// Key as hex
        #[arg(long)]
        key: String,
    },
}

/// `init --signatures`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SignaturesArg {
    /// Entries may be unsigned, except under a name bound to a key
    Optional,
    /// Every entry must be signed
    Required,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Chain name, committed in the genesis block
    #[arg(long, default_value = "sledger")]
    pub name: String,
    /// Initial difficulty: leading zero bits a block hash must have
    #[arg(long, default_value_t = crate::cli::DEFAULT_DIFFICULTY)]
    pub difficulty: u32,
    /// Target time between blocks, in seconds (fractions allowed)
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    pub block_interval: f64,
    /// Blocks between difficulty adjustments
    #[arg(long, default_value_t = 60, value_name = "BLOCKS")]
    pub retarget_window: u32,
    /// Keep the initial difficulty forever
    #[arg(long)]
    pub fixed_difficulty: bool,
    /// Whether every entry must be signed (`submit --sign`); committed in
    /// the genesis block. Under either, a name bound to a key by its first
    /// signed entry takes only entries signed by that key
    #[arg(long, value_enum, default_value_t = SignaturesArg::Optional)]
    pub signatures: SignaturesArg,
    /// Threads for mining the genesis block, 1 to 256 [default: all cores]
    #[arg(long, value_parser = threads_arg())]
    pub threads: Option<u16>,
    /// Mine the genesis block even when this machine is expected to need more than an hour for it
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// Who records the entry [default with --sign: the key's name]
    #[arg(long, short, required_unless_present = "sign")]
    pub author: Option<String>,
    /// Sign the entry with this key of yours (`sledger key new NAME`), here, before it is sent
    #[arg(long, value_name = "KEY")]
    pub sign: Option<String>,
    /// The entry's data; omit it (or give -) to read standard input
    #[arg(conflicts_with = "file")]
    pub data: Option<String>,
    /// Read the data from this file
    #[arg(long, short, value_name = "FILE")]
    pub file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PageArgs {
    /// Start at this arrival sequence number
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// At most this many
    #[arg(long, default_value_t = bounds::DEFAULT_PAGE)]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct TxsArgs {
    /// The author whose transactions to list
    #[arg(long, short, required_unless_present = "key", conflicts_with = "key")]
    pub author: Option<String>,
    /// List the entries signed by this key instead: a key name of yours or 64 hex digits
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// Start at this position, HEIGHT.INDEX (as printed in `next_from`)
    #[arg(long, value_name = "HEIGHT.INDEX")]
    pub from: Option<String>,
    /// At most this many
    #[arg(long, default_value_t = bounds::DEFAULT_PAGE)]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct ChainArgs {
    /// Start at this height and go down [default: the tip]
    #[arg(long)]
    pub from: Option<u64>,
    /// At most this many blocks
    #[arg(long, default_value_t = bounds::DEFAULT_PAGE)]
    pub limit: usize,
    /// List the chain tips (blocks without children) with their work instead
    #[arg(long)]
    pub tips: bool,
}

#[derive(Debug, Args)]
pub struct MineArgs {
    /// Stop after this many blocks [default: run until Ctrl-C]
    #[arg(long, short = 'n')]
    pub blocks: Option<u64>,
    /// Mining threads, 1 to 256 [default: all cores]
    #[arg(long, value_parser = threads_arg())]
    pub threads: Option<u16>,
    /// Seconds between checkpoints of a long search
    #[arg(long, default_value_t = bounds::DEFAULT_CHECKPOINT_EVERY.as_secs_f64(), value_name = "SECONDS")]
    pub checkpoint_every: f64,
    /// Seal empty blocks one after another when nothing is pending (by default a miner with nothing to seal waits for entries)
    #[arg(long)]
    pub continuous: bool,
    /// Hashing backend: sha-ni, avx2, soft or sha2 [default: the fastest this CPU runs; `sledger bench` lists them]
    #[arg(long, value_name = "BACKEND")]
    pub backend: Option<String>,
    /// With nothing pending, seal an empty block once the tip is this old (e.g. 10m, 1h, 30s, or seconds), so that an idle chain still moves
    #[arg(long, value_name = "DURATION")]
    pub empty_blocks_every: Option<String>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct NodeArgs {
    /// Port to listen on (0: any free port; the cookie file and the first line of output say which) [default: 8337]
    #[arg(long)]
    pub port: Option<u16>,
    /// Address to listen on; anything but a loopback address needs --allow-remote [default: 127.0.0.1]
    #[arg(long, value_name = "IP")]
    pub bind: Option<std::net::IpAddr>,
    /// Allow a non-loopback --bind: other machines can then reach the API (plain HTTP; the token travels unencrypted)
    #[arg(long)]
    pub allow_remote: bool,
    /// Mine from the start (until stopped through the API or the node stops)
    #[arg(long)]
    pub mine: bool,
    /// Mining threads for --mine, 1 to 256 [default: all cores]
    #[arg(long, value_parser = threads_arg())]
    pub threads: Option<u16>,
    /// With --mine: seal empty blocks one after another when nothing is pending (by default a miner with nothing to seal waits for entries)
    #[arg(long)]
    pub continuous: bool,
    /// With --mine and nothing pending, seal an empty block once the tip is this old (e.g. 10m, 1h, 30s, or seconds), so that an idle chain still moves
    #[arg(long, value_name = "DURATION")]
    pub empty_blocks_every: Option<String>,
    /// Seconds a client has to send a request's head, and between chunks of its body [default: 10]
    #[arg(long, value_name = "SECONDS")]
    pub read_timeout: Option<f64>,
    /// Largest export the node imports, in bytes (spooled to disk first) [default: 4294967296]
    #[arg(long, value_name = "BYTES")]
    pub max_import_bytes: Option<u64>,
    /// Listen for peers on ADDR (IP:PORT or a multiaddr; repeatable). Networking is off unless --listen or --peer is given
    #[arg(long, value_name = "ADDR")]
    pub listen: Vec<String>,
    /// Connect to the peer at ADDR (IP:PORT or a multiaddr, with or without /p2p/PEERID; repeatable), and redial it while it is gone
    #[arg(long, value_name = "ADDR")]
    pub peer: Vec<String>,
    /// A permissioned ledger: connect only with the peer PEERID (repeatable); every other peer is refused
    #[arg(long, value_name = "PEERID")]
    pub allow_peer: Vec<String>,
    /// A permissioned ledger: the peers named in FILE (one peer id a line; blank lines and lines starting with # are skipped), with any --allow-peer
    #[arg(long, value_name = "FILE")]
    pub allow_peers_file: Option<std::path::PathBuf>,
    /// What the log shows: error, warn, info, debug, trace, or a RUST_LOG-style filter [default: RUST_LOG, else info]
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Log lines as text or JSON (one object a line)
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub log_format: Option<crate::logging::LogFormat>,
    /// Append the log to FILE (created owner-only) instead of writing it to stderr
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// Checked header hashes a sync keeps ahead of the stored chain, 64 to 1000000; a header chain longer than this without more work is followed without keeping it (docs/NETWORK.md) [default: 16384]
    #[arg(long, value_name = "HEADERS", value_parser = clap::value_parser!(u32).range(64..=1_000_000))]
    pub sync_window: Option<u32>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// The help texts say the bounds in words: keep them true.
    #[test]
    fn help_states_the_thread_bounds() {
        let said = format!("{} to {}", bounds::THREADS.min, bounds::THREADS.max);
        let cli = Cli::command();
        for sub in ["init", "mine", "node"] {
            let cmd = cli.find_subcommand(sub).expect("a command");
            let arg = cmd
                .get_arguments()
                .find(|a| a.get_id() == "threads")
                .expect("--threads");
            let help = arg.get_help().expect("help").to_string();
            assert!(help.contains(&said), "{sub} --threads: {help:?}");
        }
    }
}
