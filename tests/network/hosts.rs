//! Nodes on several hosts: each `sledger node` in a network namespace of
//! its own, joined by veth pairs to a bridge in one more namespace (so the
//! host's own network is never touched), talking over 10.213.0.0/24. A
//! partition is a link taken down and healed by bringing it up; packet
//! loss is an nftables rule dropping packets at random (the kernel may
//! have no netem).
//!
//! Root only, and only with `SLEDGER_NETNS=1`; otherwise the test prints
//! why it does nothing and passes. Only loopback and the namespaces the
//! test made are ever addressed. Every namespace is deleted and every node
//! stopped (by pid) when the test ends, panicking or not.
//!
//! `SLEDGER_NETNS=1 cargo test --test tests network::hosts -- --nocapture`

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::paced_ledger;
use crate::kit::{bin, Ledger};

/// Every wait of this test ends by then, or the test fails.
const LIMIT: Duration = Duration::from_secs(120);

/// Percent of the packets dropped in each direction on the lossy host.
const LOSS_PERCENT: u32 = 10;

/// Blocks a mines while b loses packets.
const LOSSY_BLOCKS: u64 = 50;

/// How long c stays cut off at least: past two of the 2-second status
/// rounds (so each side has asked the other and heard nothing), short of
/// the 20-second request timeout.
const CUT_OFF: Duration = Duration::from_secs(5);

/// Why the test cannot run here, if it cannot.
fn unable() -> Option<String> {
    if std::env::var("SLEDGER_NETNS").as_deref() != Ok("1") {
        return Some("SLEDGER_NETNS=1 is not set".into());
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1).map(str::to_owned));
    if euid.as_deref() != Some("0") {
        return Some(format!(
            "not root (euid {})",
            euid.as_deref().unwrap_or("unknown")
        ));
    }
    if run("ip", &["-V"]).is_err() {
        return Some("no `ip` (iproute2)".into());
    }
    if run("python3", &["-c", "import urllib.request"]).is_err() {
        return Some("no python3 (the HTTP client inside a namespace)".into());
    }
    None
}

/// Runs `prog args`; its stdout, or what went wrong.
fn run(prog: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{prog}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{prog} {args:?}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// `ip args`, which must succeed.
fn ip(args: &[&str]) {
    run("ip", args).unwrap_or_else(|e| panic!("{e}"));
}

/// The namespaces this test made, deleted when dropped (which removes
/// their veths and the bridge with them).
struct Net {
    prefix: String,
    made: Vec<String>,
}

impl Net {
    fn new() -> Net {
        Net {
            prefix: format!("sl{}", std::process::id()),
            made: Vec::new(),
        }
    }

    fn name(&self, host: &str) -> String {
        format!("{}{host}", self.prefix)
    }

    /// Makes the namespace `<prefix><host>`, loopback up.
    fn add(&mut self, host: &str) -> Result<String, String> {
        let ns = self.name(host);
        run("ip", &["netns", "add", &ns])?;
        self.made.push(ns.clone());
        run("ip", &["-n", &ns, "link", "set", "lo", "up"])?;
        Ok(ns)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for ns in self.made.iter().rev() {
            if let Err(e) = run("ip", &["netns", "delete", ns]) {
                eprintln!("hosts: could not delete namespace {ns}: {e}");
            }
        }
    }
}

/// A one-request HTTP client for inside a namespace (Python's standard
/// library, run through `ip netns exec`): prints the status, then the body.
const HTTP_CLIENT: &str = r#"
import sys, urllib.request, urllib.error
method, url, auth, body = sys.argv[1:5]
data = body.encode() if body else None
req = urllib.request.Request(url, data=data, method=method, headers={"Authorization": auth, "Content-Type": "application/json"})
try:
    r = urllib.request.urlopen(req, timeout=30)
    code, text = r.status, r.read()
except urllib.error.HTTPError as e:
    code, text = e.code, e.read()
sys.stdout.write(str(code) + "\n" + text.decode())
"#;

/// A `sledger node` in a namespace, stopped (SIGTERM, then SIGKILL after
/// 20 s) when dropped.
struct HostNode {
    name: &'static str,
    ns: String,
    child: Option<Child>,
    /// The API's address, on the namespace's loopback.
    address: String,
    token: String,
    p2p: String,
    stderr: PathBuf,
}

impl HostNode {
    /// `ip netns exec NS sledger --data-dir D --json node --port 0
    /// --listen IP:0 --peer ...`, once it has printed its first line.
    fn start(
        name: &'static str,
        ns: &str,
        l: &Ledger,
        ip: &str,
        peers: &[&HostNode],
        extra: &[&str],
    ) -> HostNode {
        let stderr = l.tmp.path().join(format!("node-{name}.err"));
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns])
            .arg(bin())
            .arg("--data-dir")
            .arg(&l.dir)
            .args(["--json", "node", "--port", "0", "--listen"])
            .arg(format!("{ip}:0"));
        for p in peers {
            cmd.args(["--peer", &p.p2p]);
        }
        let mut child = cmd
            .args(extra)
            .env_remove("SLEDGER_DATA_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start ip netns exec sledger node");
        // `ip netns exec` execs the node: this pid is the node's.
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut first = String::new();
            let mut r = BufReader::new(out);
            let _ = r.read_line(&mut first);
            let _ = tx.send(first);
            // Keep reading so the node never blocks on a full pipe.
            std::io::copy(&mut r, &mut std::io::sink()).ok();
        });
        let mut n = HostNode {
            name,
            ns: ns.to_owned(),
            child: Some(child),
            address: String::new(),
            token: String::new(),
            p2p: String::new(),
            stderr,
        };
        let first = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        let started: Value = serde_json::from_str(first.trim()).unwrap_or_else(|e| {
            panic!(
                "node {name} did not start ({e}): {first} {}",
                std::fs::read_to_string(&n.stderr).unwrap_or_default()
            )
        });
        let cookie: Value = serde_json::from_str(
            &std::fs::read_to_string(l.dir.join("node.cookie")).expect("cookie written"),
        )
        .expect("cookie is JSON");
        n.address = started["address"].as_str().expect("address").to_owned();
        n.token = cookie["token"].as_str().expect("token").to_owned();
        let p2p = started["p2p"].as_array().expect("p2p addresses");
        assert_eq!(p2p.len(), 1, "{started}");
        n.p2p = p2p[0].as_str().expect("address").to_owned();
        assert!(
            n.p2p.starts_with(&format!("/ip4/{ip}/tcp/")),
            "{name} listens on its namespace's address: {}",
            n.p2p
        );
        n
    }

    /// Status and JSON body of a request to the node's API, made from
    /// inside its namespace.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("http://{}{path}", self.address);
        let auth = format!("Bearer {}", self.token);
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ns, "python3", "-c", HTTP_CLIENT])
            .args([method, url.as_str(), auth.as_str(), body.as_str()])
            .output()
            .expect("run the namespace's HTTP client");
        let text = String::from_utf8_lossy(&out.stdout);
        let (code, body) = text.split_once('\n').unwrap_or_else(|| {
            panic!(
                "{method} {url}: {text} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        let code: u16 = code.parse().expect("a status");
        let v = serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
        (code, v)
    }

    fn status(&self) -> Value {
        let (code, s) = self.call("GET", "/v1/status", None);
        assert_eq!(code, 200, "{s}");
        s
    }

    fn tip(&self) -> (u64, String) {
        let s = self.status();
        (
            s["tip"]["height"].as_u64().expect("height"),
            s["tip"]["hash"].as_str().expect("hash").to_owned(),
        )
    }

    fn peers(&self) -> u64 {
        self.status()["node"]["network"]["peer_count"]
            .as_u64()
            .expect("peers")
    }

    fn mine(&self, blocks: u64) {
        let (code, v) = self.call(
            "POST",
            "/v1/mining/start",
            Some(json!({"threads": 1, "blocks": blocks, "continuous": true})),
        );
        assert_eq!(code, 200, "{v}");
    }

    fn stop_mining(&self) {
        let (code, v) = self.call("POST", "/v1/mining/stop", Some(json!({})));
        assert_eq!(code, 200, "{v}");
    }

    /// SIGTERM, and the exit within 30 s: the node stops cleanly.
    fn stop(&mut self) {
        let mut c = self.child.take().expect("running");
        signal(c.id(), "TERM");
        let status = wait_until(&mut c, Duration::from_secs(30));
        assert!(
            status.is_some_and(|s| s.success()),
            "node {} did not stop cleanly ({status:?}): {}",
            self.name,
            std::fs::read_to_string(&self.stderr).unwrap_or_default()
        );
    }
}

impl Drop for HostNode {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            signal(c.id(), "TERM");
            if wait_until(&mut c, Duration::from_secs(20)).is_none() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

/// Sends `SIG<sig>` to `pid`; a process already gone is no error.
fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status();
}

fn wait_until(c: &mut Child, d: Duration) -> Option<std::process::ExitStatus> {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if let Ok(Some(s)) = c.try_wait() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Polls `done` every 100 ms until it holds, or panics after [`LIMIT`];
/// returns how long it took.
fn within(what: &str, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    super::eventually(what, LIMIT, &mut done);
    start.elapsed()
}

/// Random loss on `ns`'s eth0 (both directions) with nftables, if `nft`
/// is there: `Err` says why not.
fn add_loss(ns: &str) -> Result<(), String> {
    let nft = |args: &[&str]| {
        let mut all = vec!["netns", "exec", ns, "nft"];
        all.extend_from_slice(args);
        run("ip", &all)
    };
    nft(&["--version"]).map_err(|e| format!("no nft: {e}"))?;
    let drop = LOSS_PERCENT.to_string();
    nft(&["add", "table", "inet", "sledgerloss"])?;
    for (chain, hook, dir) in [("in", "input", "iifname"), ("out", "output", "oifname")] {
        nft(&[
            "add",
            "chain",
            "inet",
            "sledgerloss",
            chain,
            &format!("{{ type filter hook {hook} priority 0; policy accept; }}"),
        ])?;
        // Counted first, then dropped at random: the second counter says
        // how many went.
        nft(&[
            "add",
            "rule",
            "inet",
            "sledgerloss",
            chain,
            dir,
            "eth0",
            "counter",
        ])?;
        nft(&[
            "add",
            "rule",
            "inet",
            "sledgerloss",
            chain,
            dir,
            "eth0",
            "numgen",
            "random",
            "mod",
            "100",
            "<",
            &drop,
            "counter",
            "drop",
        ])?;
    }
    Ok(())
}

/// (packets seen, packets dropped) by the loss rules on `ns`.
fn loss_counts(ns: &str) -> (u64, u64) {
    let out = run(
        "ip",
        &[
            "netns",
            "exec",
            ns,
            "nft",
            "list",
            "table",
            "inet",
            "sledgerloss",
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (mut seen, mut dropped) = (0, 0);
    for line in out.lines() {
        let packets = line
            .split_whitespace()
            .skip_while(|w| *w != "packets")
            .nth(1)
            .and_then(|n| n.parse::<u64>().ok());
        match packets {
            Some(n) if line.contains("drop") => dropped += n,
            Some(n) => seen += n,
            None => {}
        }
    }
    (seen, dropped)
}

fn verify(l: &Ledger) -> Value {
    let v = l.json(&["verify"]);
    assert_eq!(v["valid"], true, "{v}");
    v
}

/// Three nodes in three namespaces: a mines, b and c dial it (c dials b
/// too); all three follow a's chain, also with packets lost at random on
/// b's link. Then c's link goes down: c mines 3 blocks alone while a mines
/// 8; b follows a and c keeps its own. The link comes back up: c
/// reorganises onto a's chain, the one with the most work, and every store
/// verifies.
#[test]
fn nodes_in_three_namespaces_partition_and_heal_onto_the_chain_with_the_most_work() {
    if let Some(why) = unable() {
        eprintln!("skipped network::hosts: {why}");
        return;
    }
    let began = Instant::now();
    let mut net = Net::new();
    // The first namespace tells whether namespaces can be made here.
    if let Err(e) = net.add("br") {
        eprintln!("skipped network::hosts: cannot create a network namespace: {e}");
        return;
    }
    let bridge = net.name("br");
    ip(&["-n", &bridge, "link", "add", "br0", "type", "bridge"]);
    ip(&["-n", &bridge, "link", "set", "br0", "up"]);
    let mut hosts = Vec::new();
    for (i, host) in ["a", "b", "c"].into_iter().enumerate() {
        let ns = net.add(host).unwrap_or_else(|e| panic!("{e}"));
        let port = format!("v{host}");
        // Made inside the bridge's namespace, the other end moved into the
        // host's: the root namespace never holds either.
        ip(&[
            "-n", &bridge, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns",
            &ns,
        ]);
        ip(&["-n", &bridge, "link", "set", &port, "master", "br0", "up"]);
        let addr = format!("10.213.0.{}", i + 1);
        ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{addr}/24"),
            "dev",
            "eth0",
        ]);
        ip(&["-n", &ns, "link", "set", "eth0", "up"]);
        hosts.push((ns, addr));
    }
    let set_up = began.elapsed();

    let la = paced_ledger();
    let (lb, lc) = (Ledger::copy_of(&la), Ledger::copy_of(&la));
    let a = HostNode::start(
        "a",
        &hosts[0].0,
        &la,
        &hosts[0].1,
        &[],
        &["--mine", "--continuous", "--threads", "1"],
    );
    let b = HostNode::start("b", &hosts[1].0, &lb, &hosts[1].1, &[&a], &[]);
    let c = HostNode::start("c", &hosts[2].0, &lc, &hosts[2].1, &[&a, &b], &[]);
    let nodes = [&a, &b, &c];

    // Across the bridge: everyone meets everyone and follows a's chain.
    let first = within("b and c have 5 of a's blocks", || {
        b.tip().0 >= 5 && c.tip().0 >= 5
    });
    a.stop_mining();
    within("each node has its two peers", || {
        nodes.iter().all(|n| n.peers() == 2)
    });
    let end = a.tip();
    within("all three share a's tip", || {
        nodes.iter().all(|n| n.tip() == end)
    });
    eprintln!(
        "hosts: namespaces set up in {:.2} s; b and c had 5 blocks {:.2} s after c started; all on a's tip at height {}",
        set_up.as_secs_f64(),
        first.as_secs_f64(),
        end.0
    );

    // Packets lost at random on b's link, from here to the end.
    let lossy = match add_loss(&hosts[1].0) {
        Ok(()) => {
            let base = end.0;
            a.mine(LOSSY_BLOCKS);
            let took = within("all three follow a's new blocks, b losing packets", || {
                let t = a.tip();
                t.0 == base + LOSSY_BLOCKS && b.tip() == t && c.tip() == t
            });
            let (seen, dropped) = loss_counts(&hosts[1].0);
            eprintln!(
                "hosts: with {LOSS_PERCENT}% loss each way on b's link, a's {LOSSY_BLOCKS} new blocks reached b and c in {:.2} s; b's link saw {seen} packets and dropped {dropped}",
                took.as_secs_f64()
            );
            assert!(seen > 0, "the loss rules saw b's traffic");
            true
        }
        Err(why) => {
            eprintln!("hosts: no packet loss part: {why}");
            false
        }
    };

    // The partition: c's port on the bridge goes down.
    let base = a.tip();
    assert_eq!(c.tip(), base);
    ip(&["-n", &bridge, "link", "set", "vc", "down"]);
    let cut = Instant::now();
    c.mine(3);
    a.mine(8);
    within("each side mined apart", || {
        let t = a.tip();
        t.0 == base.0 + 8 && b.tip() == t && c.tip().0 == base.0 + 3
    });
    let apart = c.tip();
    let heavy = a.tip();
    assert_ne!(heavy.1, apart.1, "c mined its own branch while cut off");
    assert_eq!(b.tip(), heavy, "b never saw c's branch");
    if let Some(rest) = CUT_OFF.checked_sub(cut.elapsed()) {
        std::thread::sleep(rest);
    }
    assert_eq!(c.tip(), apart, "nothing crossed the cut");
    assert_eq!(a.tip(), heavy, "nothing crossed the cut");
    ip(&["-n", &bridge, "link", "set", "vc", "up"]);
    let cut_for = cut.elapsed();
    let healed = within("c reorganises onto a's heavier chain", || {
        nodes.iter().all(|n| n.tip() == heavy)
    });
    eprintln!(
        "hosts: c was cut off for {:.2} s (c mined to height {}, a to {}); all three were on a's tip {:.2} s after the link came up",
        cut_for.as_secs_f64(),
        apart.0,
        heavy.0,
        healed.as_secs_f64()
    );

    let (mut a, mut b, mut c) = (a, b, c);
    for n in [&mut a, &mut b, &mut c] {
        n.stop();
    }
    for l in [&la, &lb, &lc] {
        let v = verify(l);
        assert_eq!(v["block_count"].as_u64(), Some(heavy.0 + 1), "{v}");
        assert_eq!(v["tip"]["hash"].as_str(), Some(heavy.1.as_str()), "{v}");
    }
    if lossy {
        let (seen, dropped) = loss_counts(&hosts[1].0);
        eprintln!("hosts: in all, b's link saw {seen} packets and dropped {dropped}");
    }
    eprintln!("hosts: done in {:.1} s", began.elapsed().as_secs_f64());
}
