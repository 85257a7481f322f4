//! A `sledger node` on a ledger, listening on an ephemeral loopback port:
//! started, its address and token read from its first line and its cookie,
//! requests with the token, and stopped (SIGTERM) or killed (SIGKILL).

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{bin, Ledger};

/// A node process on a ledger, stopped (SIGTERM) when dropped.
pub struct Node {
    child: Option<Child>,
    pub address: String,
    pub token: String,
    /// The peer-to-peer addresses it listens on (with `/p2p/PEERID`), when
    /// started with `--listen`.
    pub p2p: Vec<String>,
    stderr_path: PathBuf,
}

impl Node {
    /// Starts `sledger --json node --port 0 <extra>` on `l` and waits until
    /// it listens (its first line); its stderr goes to a file in `l.tmp`.
    pub fn start(l: &Ledger, extra: &[&str]) -> Node {
        Self::start_after(l, extra, |_| {})
    }

    /// Like [`Node::start`], under umask 022, but `before` runs with the
    /// node's pid before the node itself starts: the process is spawned as
    /// `sh`, which waits for a line on its stdin and then `exec`s the node
    /// (keeping its pid). Lets a test plant files the node will meet.
    pub fn start_after(l: &Ledger, extra: &[&str], before: impl FnOnce(u32)) -> Node {
        let stderr_path = l.tmp.path().join(format!("node-{}.err", rand_suffix()));
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"umask 022 && read _ && exec "$0" "$@""#)
            .arg(bin())
            .arg("--data-dir")
            .arg(&l.dir)
            .args(["--json", "node", "--port", "0"])
            .args(extra)
            .env_remove("SLEDGER_DATA_DIR")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
            .spawn()
            .expect("start node");
        before(child.id());
        let mut go = child.stdin.take().expect("stdin");
        go.write_all(b"go\n").expect("let the node start");
        drop(go);
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("read the node's first line");
        let started: Value = serde_json::from_str(first.trim()).unwrap_or_else(|e| {
            panic!(
                "node did not start ({e}): {first} {}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            )
        });
        let cookie: Value = serde_json::from_str(
            &std::fs::read_to_string(l.dir.join("node.cookie")).expect("cookie written"),
        )
        .expect("cookie is JSON");
        assert_eq!(cookie["address"], started["address"]);
        Node {
            child: Some(child),
            address: started["address"].as_str().expect("address").to_owned(),
            token: cookie["token"].as_str().expect("token").to_owned(),
            p2p: started["p2p"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            stderr_path,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// The value of the `Authorization` header the node wants.
    pub fn auth(&self) -> String {
        format!("Bearer {}", self.token)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// A request with the token (60 s timeout).
    pub fn req(&self, method: &str, path: &str) -> ureq::Request {
        ureq::request(method, &self.url(path))
            .set("Authorization", &self.auth())
            .timeout(Duration::from_secs(60))
    }

    /// Status and JSON body of a request, whatever the status.
    pub fn call(&self, r: Result<ureq::Response, ureq::Error>) -> (u16, Value) {
        let resp = match r {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("transport error: {e}"),
        };
        let status = resp.status();
        let ctype = resp.content_type().to_owned();
        let body = resp.into_string().expect("body");
        assert_eq!(ctype, "application/json", "status {status}: {body}");
        (
            status,
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}")),
        )
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        self.call(self.req("GET", path).call())
    }

    pub fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(self.req("POST", path).send_json(body))
    }

    /// Sends `request` as raw bytes on a new connection and reads the
    /// answer until the node closes it (10 s at most).
    pub fn raw(&self, request: &str) -> String {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&self.address).expect("connect");
        s.write_all(request.as_bytes()).expect("write");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut buf = String::new();
        let _ = s.read_to_string(&mut buf);
        buf
    }

    /// Sends SIGTERM and waits for the exit; returns the exit status.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        signal(child.id(), "TERM");
        wait_for(&mut child, Duration::from_secs(30))
    }

    /// Sends SIGTERM twice, a millisecond apart (as `timeout` does, to the
    /// process and then to its group), and waits for the exit.
    pub fn stop_twice(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let pid = child.id();
        let script = format!("kill -TERM {pid}; sleep 0.001; kill -TERM {pid}");
        let sent = Command::new("sh").args(["-c", &script]).status();
        assert!(sent.expect("sh").success());
        wait_for(&mut child, Duration::from_secs(30))
    }

    /// Sends SIGKILL and reaps the process.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("running");
        signal(child.id(), "KILL");
        let _ = child.wait();
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            signal(c.id(), "TERM");
            if c.wait_timeout(Duration::from_secs(20)).is_none() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

fn rand_suffix() -> u64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    RandomState::new().build_hasher().finish()
}

/// Sends `SIG<sig>` to `pid` (through kill(1)); a process already gone is
/// no error.
fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status();
}

trait WaitTimeout {
    fn wait_timeout(&mut self, d: Duration) -> Option<ExitStatus>;
}

impl WaitTimeout for Child {
    fn wait_timeout(&mut self, d: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + d;
        while Instant::now() < end {
            if let Ok(Some(s)) = self.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

/// Waits up to `d` for `child` to exit; kills it and panics otherwise.
fn wait_for(child: &mut Child, d: Duration) -> ExitStatus {
    match child.wait_timeout(d) {
        Some(s) => s,
        None => {
            let _ = child.kill();
            panic!("the node did not exit within {d:?}");
        }
    }
}
