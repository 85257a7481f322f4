//! The block explorer the node serves: refused without a session, a
//! one-time login link, anti-CSRF tokens and same-origin forms, a strict
//! Content-Security-Policy; and, in headless Chromium, every page, search
//! by each kind of key, a block appearing without a reload, a submitted
//! entry going from pending to mined, mining started and stopped, and a
//! hostile entry shown inert. Screenshots of each page are written to
//! `target/explorer-screenshots/` (and checked not blank).
//!
//! The browser test needs Debian's `chromium` and `chromium-driver`
//! (`.ci/run` installs them); without them it says so and passes, unless
//! `SLEDGER_BROWSER=1`, which makes their absence a failure.

use std::time::Duration;

use serde_json::json;

use crate::kit::browser::{self, Browser};
use crate::kit::{Ledger, Node};

const HOSTILE_AUTHOR: &str = "mallory<script>window.pwned=1</script>";
const HOSTILE_DATA: &str = "<img src=x onerror=\"window.pwned=2\"> \u{202e}txt.exe <b>bold?</b>";

fn login_url(l: &Ledger) -> String {
    l.ok(&["open", "--no-browser"]).trim().to_owned()
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new().redirects(0).build()
}

/// The status of a request (an error status is an answer too).
fn status_of(r: Result<ureq::Response, ureq::Error>) -> (u16, Option<ureq::Response>) {
    match r {
        Ok(r) => (r.status(), Some(r)),
        Err(ureq::Error::Status(s, r)) => (s, Some(r)),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn the_explorer_needs_a_session_a_csrf_token_and_this_origin() {
    let l = Ledger::new();
    l.submit("alice", "<b>html</b>");
    l.mine(1);
    let node = Node::start(&l, &[]);
    let base = format!("http://{}", node.address);
    let a = agent();
    // No session: every page and action is refused.
    for path in ["/", "/chain", "/block/1", "/pending", "/events"] {
        let (code, r) = status_of(a.get(&format!("{base}{path}")).call());
        assert_eq!(code, 401, "{path}");
        assert!(r.unwrap().into_string().unwrap().contains("sledger open"));
    }
    let (code, _) = status_of(
        a.post(&format!("{base}/mining/start"))
            .send_form(&[("csrf", "x")]),
    );
    assert_eq!(code, 401);
    // A login link works once, and sets an HttpOnly, SameSite=Strict cookie.
    let url = login_url(&l);
    let (code, r) = status_of(a.get(&url).call());
    assert_eq!(code, 303);
    let r = r.unwrap();
    let cookie = r.header("set-cookie").unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert_eq!(
        status_of(a.get(&url).call()).0,
        403,
        "a used link is refused"
    );
    let session = cookie.split(';').next().unwrap().to_owned();
    // With the session: pages, each with the policy, and no inline script.
    let (code, r) = status_of(a.get(&format!("{base}/")).set("Cookie", &session).call());
    assert_eq!(code, 200);
    let r = r.unwrap();
    let csp = r.header("content-security-policy").unwrap().to_owned();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    let html = r.into_string().unwrap();
    for tag in html
        .match_indices("<script")
        .map(|(i, _)| &html[i..html[i..].find('>').unwrap() + i])
    {
        assert!(
            tag.contains("src=\"/static/"),
            "only scripts of this node: {tag}"
        );
    }
    let csrf = html.split("name=\"csrf\" value=\"").nth(1).unwrap()[..64].to_owned();
    // A state change without the token, or from another site, is refused.
    let post = |origin: &str, token: &str| {
        status_of(
            a.post(&format!("{base}/mining/start"))
                .set("Cookie", &session)
                .set("Origin", origin)
                .send_form(&[("csrf", token)]),
        )
        .0
    };
    assert_eq!(post(&base, "0"), 403, "a wrong token");
    assert_eq!(post("http://evil.example", &csrf), 403, "a cross-site form");
    assert_eq!(node.get("/v1/mining").1["active"], false, "nothing started");
    assert_eq!(post(&base, &csrf), 303);
    assert_eq!(node.get("/v1/mining").1["active"], true);
    // An entry's bytes download as an attachment, never as a page.
    let id = l.json(&["block", "1"])["transactions"][0]["txid"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, r) = status_of(
        a.get(&format!("{base}/tx/{id}/data"))
            .set("Cookie", &session)
            .call(),
    );
    assert_eq!(code, 200);
    let r = r.unwrap();
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert!(r
        .header("content-disposition")
        .unwrap()
        .starts_with("attachment"));
    assert_eq!(r.into_string().unwrap(), "<b>html</b>");
}

fn shoot(b: &Browser, name: &str) {
    let png = b.screenshot();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/explorer-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), &png).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name}: a PNG");
    // A blank 1280x900 page compresses to a few KB; text and tables do not.
    assert!(png.len() > 12_000, "{name}: {} bytes, blank?", png.len());
}

#[test]
fn the_explorer_in_headless_chromium() {
    if browser::available().is_none() {
        assert!(
            std::env::var_os("SLEDGER_BROWSER").is_none(),
            "SLEDGER_BROWSER is set but chromium or chromedriver is missing"
        );
        eprintln!("skipped: install chromium and chromium-driver to run the explorer in a browser");
        return;
    }
    let l = Ledger::with_init(&[
        "--name",
        "team-log",
        "--difficulty",
        "8",
        "--fixed-difficulty",
    ]);
    let alice = l.submit("alice", "hello from alice");
    l.mine(1);
    let hostile = l.submit(HOSTILE_AUTHOR, HOSTILE_DATA);
    l.mine(1);
    l.mine(3);
    let node = Node::start(&l, &[]);
    let b = Browser::start();
    b.go(&login_url(&l));
    // Overview.
    assert!(b.text("h1").contains("team-log"), "{}", b.text("h1"));
    b.find("svg.chart polyline");
    shoot(&b, "overview");
    // Chain, block, entry, author, pending, tips.
    b.click("nav a[href='/chain']");
    assert_eq!(b.text("h1"), "Chain");
    shoot(&b, "chain");
    b.go(&format!("http://{}/block/2", node.address));
    assert_eq!(b.text("h1"), "Block 2");
    shoot(&b, "block");
    b.go(&format!("http://{}/tx/{hostile}", node.address));
    let shown = b.text("main");
    assert!(
        shown.contains("<script>window.pwned=1</script>"),
        "shown as text: {shown}"
    );
    assert!(shown.contains("onerror"), "{shown}");
    assert!(
        shown.contains("\\u{202e}txt.exe"),
        "a bidi override is shown escaped: {shown}"
    );
    assert!(!shown.contains('\u{202e}'), "{shown}");
    assert_eq!(
        b.script("return window.pwned === undefined"),
        json!(true),
        "nothing ran"
    );
    shoot(&b, "entry");
    b.go(&format!("http://{}/author/alice", node.address));
    assert!(b.text("main").contains(&alice[..10]));
    b.go(&format!("http://{}/pending", node.address));
    assert_eq!(b.text("h1"), "Pending entries");
    b.go(&format!("http://{}/tips", node.address));
    assert!(b.text("main").contains("active"));
    // Search by height, block hash prefix, txid prefix and author.
    let hash = l.json(&["block", "3"])["hash"].as_str().unwrap().to_owned();
    for (q, want) in [
        ("4".to_owned(), "Block 4".to_owned()),
        (hash[..12].to_owned(), "Block 3".to_owned()),
        (alice[..12].to_owned(), "Entry".to_owned()),
        (
            "alice".to_owned(),
            "Entries by \u{201c}alice\u{201d}".to_owned(),
        ),
    ] {
        b.go(&format!("http://{}/", node.address));
        b.type_into("#q", &q);
        b.click("form[role=search] button");
        b.until(&format!("search {q}"), Duration::from_secs(10), |b| {
            b.text("h1") == want
        });
    }
    // A block mined elsewhere appears on the open chain page, no reload.
    b.go(&format!("http://{}/chain", node.address));
    b.until("live", Duration::from_secs(10), |b| {
        b.text("#live") == "live"
    });
    b.script("window.marker = 1; return 1");
    l.submit("bob", "arrives while the page is open");
    node.post("/v1/mining/start", json!({"blocks": 1, "threads": 1}));
    b.until("block 6 on the page", Duration::from_secs(30), |b| {
        b.text("main table").contains("\n6 ")
    });
    assert_eq!(
        b.script("return window.marker"),
        json!(1),
        "the page was not reloaded"
    );
    // Submit an entry in the page: pending, then mined once mining starts.
    b.go(&format!("http://{}/", node.address));
    b.type_into("#author", "carol");
    b.type_into("#data", "typed in the browser");
    b.click("form[action='/submit'] button");
    b.until("the entry page", Duration::from_secs(10), |b| {
        b.text("h1") == "Entry"
    });
    assert!(b.text("main").contains("pending"), "{}", b.text("main"));
    let entry_url = b.url();
    b.go(&format!("http://{}/", node.address));
    b.click("form[action='/mining/start'] button");
    b.until("mining", Duration::from_secs(10), |b| {
        b.text("main").contains("active (")
    });
    b.go(&entry_url);
    b.until("mined", Duration::from_secs(30), |b| {
        b.go(&entry_url);
        b.text("main").contains("confirmed")
    });
    b.go(&format!("http://{}/", node.address));
    b.click("form[action='/mining/stop'] button");
    b.until("stopped", Duration::from_secs(10), |b| {
        b.text("main").contains("stopped")
    });
    shoot(&b, "overview-after");
    assert_eq!(b.script("return window.pwned === undefined"), json!(true));
}

/// The explorer's cost: server time per page against the JSON API's
/// answer for the same data, in one run, and the overview's weight.
/// `cargo test --release --test tests explorer::bench -- --ignored
/// --nocapture` (`SLEDGER_EXPLORER_BENCH_BLOCKS`, default 10000).
#[test]
#[ignore]
fn bench() {
    let blocks: u64 = std::env::var("SLEDGER_EXPLORER_BENCH_BLOCKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let l = Ledger::new();
    for i in 0..20 {
        l.submit("alice", &format!("entry {i}"));
    }
    l.ok(&[
        "mine",
        "--continuous",
        "-n",
        &blocks.to_string(),
        "--threads",
        "2",
    ]);
    let node = Node::start(&l, &[]);
    let a = agent();
    let (_, r) = status_of(a.get(&login_url(&l)).call());
    let session = r
        .unwrap()
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let base = format!("http://{}", node.address);
    let id = l.json(&["block", "1"])["transactions"][0]["txid"]
        .as_str()
        .unwrap()
        .to_owned();
    let mid = blocks / 2;
    let time = |path: &str, api: bool| {
        let mut took: Vec<f64> = (0..40)
            .map(|_| {
                let req = a.get(&format!("{base}{path}"));
                let req = match api {
                    true => req.set("Authorization", &node.auth()),
                    false => req.set("Cookie", &session),
                };
                let t = std::time::Instant::now();
                let body = req.call().unwrap().into_string().unwrap();
                assert!(!body.is_empty());
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        took.sort_by(f64::total_cmp);
        took[took.len() / 2]
    };
    let pairs = [
        (
            "overview",
            "/".to_owned(),
            vec!["/v1/status".to_owned(), "/v1/chain?limit=60".to_owned()],
        ),
        (
            "chain",
            "/chain".to_owned(),
            vec!["/v1/chain?limit=20".to_owned()],
        ),
        (
            "chain, deep page",
            format!("/chain?from={mid}"),
            vec![format!("/v1/chain?from={mid}&limit=20")],
        ),
        (
            "block",
            format!("/block/{mid}"),
            vec![format!("/v1/blocks/{mid}")],
        ),
        (
            "entry",
            format!("/tx/{id}"),
            vec![format!("/v1/transactions/{id}")],
        ),
        (
            "author",
            "/author/alice".to_owned(),
            vec!["/v1/transactions?author=alice&limit=20".to_owned()],
        ),
    ];
    println!("explorer at {blocks} blocks: median of 40 requests, page against the API's answers for the same data");
    for (name, page, api) in pairs {
        let p = time(&page, false);
        let j: f64 = api.iter().map(|q| time(q, true)).sum();
        println!(
            "  {name:<18} page {p:>7.3} ms   API {j:>7.3} ms   ratio {:.2}",
            p / j
        );
    }
    let weight = |path: &str| {
        a.get(&format!("{base}{path}"))
            .set("Cookie", &session)
            .call()
            .unwrap()
            .into_string()
            .unwrap()
            .len()
    };
    let (html, css, js) = (
        weight("/"),
        weight("/static/app.css"),
        weight("/static/app.js"),
    );
    println!(
        "  overview weight: {html} B HTML + {css} B CSS + {js} B JS = {} B",
        html + css + js
    );
}
