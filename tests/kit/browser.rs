//! Headless Chromium through chromedriver's WebDriver API (Debian's
//! `chromium` and `chromium-driver`), over plain HTTP with ureq: start a
//! session, go to a URL, find elements, read text, click, type, run a
//! script, take screenshots. The driver is started on an ephemeral
//! loopback port and stopped (with the browser) when dropped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Where Chromium and its driver are, if installed.
pub fn available() -> Option<(PathBuf, PathBuf)> {
    let chromium = PathBuf::from("/usr/bin/chromium");
    let driver = PathBuf::from("/usr/bin/chromedriver");
    (chromium.exists() && driver.exists()).then_some((chromium, driver))
}

pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Browser {
    pub fn start() -> Browser {
        let (chromium, driver_bin) = available().expect("chromium and chromedriver");
        let port = free_port();
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while ureq::get(&format!("{base}/status")).call().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        }}});
        let mut b = Browser {
            driver,
            base,
            session: String::new(),
            _profile: profile,
        };
        let v = b.call("POST", "/session", Some(caps));
        b.session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("a session: {v}"))
            .to_owned();
        b
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let r = match body {
            Some(b) => ureq::request(method, &url).send_json(b),
            None if method == "POST" => ureq::request(method, &url).send_json(json!({})),
            None => ureq::request(method, &url).call(),
        };
        let v: Value = match r {
            Ok(r) => r.into_json().expect("JSON"),
            Err(ureq::Error::Status(_, r)) => r.into_json().expect("JSON"),
            Err(e) => panic!("{method} {path}: {e}"),
        };
        if let Some(e) = v["value"].get("error") {
            panic!("{method} {path}: {e}: {}", v["value"]["message"]);
        }
        v
    }

    fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let s = format!("/session/{}{path}", self.session);
        self.call(method, &s, body)["value"].clone()
    }

    pub fn go(&self, url: &str) {
        self.session_call("POST", "/url", Some(json!({ "url": url })));
    }

    pub fn url(&self) -> String {
        self.session_call("GET", "/url", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The first element `css` matches, waiting up to 10 s for it.
    pub fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let path = format!("/session/{}/element", self.session);
            let r = ureq::post(&format!("{}{path}", self.base))
                .send_json(json!({"using": "css selector", "value": css}));
            if let Ok(r) = r {
                let v: Value = r.into_json().expect("JSON");
                if let Some(id) = v["value"][ELEMENT].as_str() {
                    return id.to_owned();
                }
            }
            assert!(
                Instant::now() < deadline,
                "no element {css} on {}",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The text of the first element `css` matches; found again if the
    /// page replaced it meanwhile (the live updates do).
    pub fn text(&self, css: &str) -> String {
        for _ in 0..50 {
            let e = self.find(css);
            let url = format!("{}/session/{}/element/{e}/text", self.base, self.session);
            if let Ok(r) = ureq::get(&url).call() {
                let v: Value = r.into_json().expect("JSON");
                return v["value"].as_str().unwrap_or_default().to_owned();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the element {css} kept going stale on {}", self.url());
    }

    pub fn click(&self, css: &str) {
        let e = self.find(css);
        self.session_call("POST", &format!("/element/{e}/click"), None);
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.session_call(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        );
    }

    /// Runs `script` (a function body) in the page and returns its value.
    pub fn script(&self, script: &str) -> Value {
        self.session_call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// A PNG of the viewport.
    pub fn screenshot(&self) -> Vec<u8> {
        use base64_decode as b64;
        let v = self.session_call("GET", "/screenshot", None);
        b64(v.as_str().expect("base64"))
    }

    /// Waits up to `within` until `ok` holds.
    pub fn until(&self, what: &str, within: Duration, mut ok: impl FnMut(&Browser) -> bool) {
        let deadline = Instant::now() + within;
        while !ok(self) {
            assert!(
                Instant::now() < deadline,
                "{what} within {within:?} on {}",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Standard base64 (the screenshot's encoding).
fn base64_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = ureq::delete(&format!("{}/session/{}", self.base, self.session)).call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
