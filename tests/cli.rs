//! End-to-end tests of every command, driving the real binary on temporary
//! directories.

use crate::kit::Ledger;
use serde_json::Value;

#[test]
fn init_submit_mine_query_round_trip() {
    let l = Ledger::new();
    let st = l.json(&["status"]);
    assert_eq!(st["tip"]["height"], 0);
    assert_eq!(st["block_count"], 1);
    assert_eq!(st["params"]["initial_difficulty"], 6);
    assert_eq!(st["params"]["fixed_difficulty"], true);

    let a = l.submit("alice", "first entry");
    let b = l.submit("bob", "second entry");
    assert_eq!(a.len(), 64);
    let pending = l.json(&["pending"]);
    assert_eq!(pending["pending_count"], 2);
    assert_eq!(
        pending["transactions"][0]["txid"],
        a.as_str(),
        "arrival order kept"
    );
    assert_eq!(pending["transactions"][1]["author"], "bob");
    let tx = l.json(&["tx", &a]);
    assert_eq!(tx["status"], "pending");
    assert_eq!(tx["data"], "first entry");

    let mined: Vec<Value> = l
        .ok(&[
            "--json",
            "mine",
            "--continuous",
            "--blocks",
            "2",
            "--threads",
            "2",
        ])
        .lines()
        .map(|s| serde_json::from_str(s).unwrap())
        .collect();
    assert_eq!(mined.len(), 2);
    assert_eq!(mined[0]["height"], 1);
    assert_eq!(
        mined[0]["transaction_count"], 2,
        "pending entries go in the next block"
    );
    assert_eq!(mined[1]["transaction_count"], 0);
    assert!(mined[0]["hashes"].as_u64().unwrap() >= 1);

    assert_eq!(
        l.json(&["pending"])["pending_count"],
        0,
        "mined entries leave pending"
    );
    let tx = l.json(&["tx", &b]);
    assert_eq!(tx["status"], "confirmed");
    assert_eq!(tx["height"], 1);
    assert_eq!(tx["index"], 1);

    let by_height = l.json(&["block", "1"]);
    let hash = by_height["hash"].as_str().unwrap().to_string();
    assert!(
        hash.starts_with('0'),
        "difficulty 6 means a leading zero digit"
    );
    let by_hash = l.json(&["block", &hash]);
    assert_eq!(by_hash, by_height);
    assert_eq!(by_hash["transactions"][0]["txid"], a.as_str());
    assert_eq!(by_hash["active"], true);
    // Text output names the block and its entries.
    let text = l.ok(&["block", "1"]);
    assert!(
        text.contains(&hash) && text.contains("first entry"),
        "{text}"
    );

    let st = l.json(&["status"]);
    assert_eq!(st["tip"]["height"], 2);
    assert_eq!(st["transaction_count"], 3, "genesis carries one");
    assert_eq!(st["pending_count"], 0);
    let v = l.json(&["verify"]);
    assert_eq!(v["valid"], true);
    assert_eq!(v["block_count"], 3);
}

#[test]
fn submit_reads_argument_file_and_stdin() {
    let l = Ledger::new();
    let f = l.path("entry.bin");
    std::fs::write(&f, [0u8, 159, 146, 150, 255]).unwrap();
    let from_file = l.ok(&["submit", "-a", "f", "--file", f.to_str().unwrap()]);
    let out = l.run_stdin(&["submit", "-a", "s"], b"from stdin");
    assert!(out.status.success());
    let from_stdin = String::from_utf8(out.stdout).unwrap();
    let out = l.run_stdin(&["submit", "-a", "d", "-"], b"dash");
    assert!(out.status.success());
    let t = l.json(&["tx", from_file.trim()]);
    assert_eq!(t["data_hex"], "009f9296ff", "binary data is kept exactly");
    assert_eq!(l.json(&["tx", from_stdin.trim()])["data"], "from stdin");
    assert_eq!(l.json(&["pending"])["pending_count"], 3);
    let j = l.json(&["submit", "-a", "x", "y"]);
    assert_eq!(j["status"], "pending");
    assert_eq!(l.json(&["pending"])["pending_count"], 4);
}

#[test]
fn chain_lists_newest_first_with_pages() {
    let l = Ledger::new();
    l.mine(5);
    let page = l.json(&["chain", "--limit", "2"]);
    let heights: Vec<u64> = page["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["height"].as_u64().unwrap())
        .collect();
    assert_eq!(heights, vec![5, 4]);
    assert_eq!(page["next_from"], 3);
    let page = l.json(&["chain", "--from", "1", "--limit", "5"]);
    let heights: Vec<u64> = page["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["height"].as_u64().unwrap())
        .collect();
    assert_eq!(heights, vec![1, 0]);
    assert_eq!(page["next_from"], Value::Null);
    // Each block links to the one below it.
    let all = l.json(&["chain", "--limit", "100"]);
    let blocks = all["blocks"].as_array().unwrap();
    for w in blocks.windows(2) {
        assert_eq!(w[0]["prev_hash"], w[1]["hash"]);
    }
    let out = l.run(&["chain", "--limit", "2"]);
    let (text, hint) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(hint.trim(), "(more: --from 3)", "the hint on stderr");
    assert!(!text.contains("--from"), "{text}");
    assert!(text.starts_with("  HEIGHT  HASH"), "column headers: {text}");
    assert_eq!(text.lines().count(), 3, "headers and two rows: {text}");
}

#[test]
fn pending_pages_in_arrival_order() {
    let l = Ledger::new();
    let ids: Vec<String> = (0..5)
        .map(|i| l.submit("p", &format!("entry {i}")))
        .collect();
    let p = l.json(&["pending", "--limit", "2"]);
    assert_eq!(p["transactions"][0]["txid"], ids[0].as_str());
    let next = p["next_from"].as_u64().unwrap();
    let p = l.json(&["pending", "--from", &next.to_string(), "--limit", "10"]);
    let got: Vec<&str> = p["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["txid"].as_str().unwrap())
        .collect();
    assert_eq!(got, ids[2..].iter().map(String::as_str).collect::<Vec<_>>());
}

#[test]
fn export_import_reproduces_the_chain() {
    let l = Ledger::new();
    l.submit("a", "one");
    l.mine(2);
    l.submit("b", "two");
    l.mine(1);
    let export = l.export();
    assert_eq!(export.lines().count(), 4);
    let file = l.path("chain.jsonl");
    std::fs::write(&file, &export).unwrap();

    let copy = Ledger::empty();
    let j = copy.json(&["import", file.to_str().unwrap()]);
    assert_eq!(j["imported"], 4);
    assert_eq!(copy.export(), export, "the copy is byte-identical");
    assert_eq!(copy.json(&["verify"])["valid"], true);
    // Importing again adds nothing.
    let j = copy.json(&["import", file.to_str().unwrap()]);
    assert_eq!(j["imported"], 0);
    assert_eq!(j["already_present"], 4);

    // The original grows; importing its longer export extends the copy.
    l.mine(2);
    std::fs::write(&file, l.export()).unwrap();
    let j = copy.json(&["import", file.to_str().unwrap()]);
    assert_eq!(j["imported"], 2);
    assert_eq!(copy.export(), l.export());
}

#[test]
fn import_removes_imported_entries_from_pending() {
    let l = Ledger::new();
    let copy = Ledger::empty();
    let file = l.path("g.jsonl");
    std::fs::write(&file, l.export()).unwrap();
    copy.ok(&["import", file.to_str().unwrap()]);
    // An entry mined in the original leaves nothing behind in the copy.
    let id = l.submit("x", "shared");
    l.mine(1);
    std::fs::write(&file, l.export()).unwrap();
    copy.ok(&["import", file.to_str().unwrap()]);
    assert_eq!(copy.json(&["tx", &id])["status"], "confirmed");
    assert_eq!(copy.json(&["pending"])["pending_count"], 0);
    assert_eq!(copy.json(&["verify"])["valid"], true);
}

#[test]
fn demo_runs_end_to_end() {
    let l = Ledger::empty();
    let out = l.ok(&["demo"]);
    assert!(out.contains("verified: 4 blocks"), "{out}");
    let j = l.json(&["demo"]);
    assert_eq!(j["blocks"].as_array().unwrap().len(), 3);
    assert_eq!(
        j["verified"]["block_count"], 7,
        "the second demo reuses the ledger"
    );
    assert_eq!(l.json(&["verify"])["valid"], true);
}

#[test]
fn data_dir_from_environment() {
    let l = Ledger::new();
    let mut c = assert_cmd::Command::cargo_bin("sledger").unwrap();
    let out = c
        .env("SLEDGER_DATA_DIR", &l.dir)
        .args(["--json", "status"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["tip"]["height"], 0);
}

#[test]
fn every_command_speaks_json() {
    let l = Ledger::new();
    let id = l.submit("j", "json");
    for args in [
        vec!["status"],
        vec!["pending"],
        vec!["tx", id.as_str()],
        vec!["block", "0"],
        vec!["chain"],
        vec!["verify"],
    ] {
        let v = l.json(&args);
        assert!(v.is_object(), "{args:?}: {v}");
    }
    let out = l.ok(&[
        "--json",
        "mine",
        "--continuous",
        "-n",
        "1",
        "--threads",
        "1",
    ]);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["height"], 1);
    let f = l.path("e.jsonl");
    let v = l.json(&["export", "--output", f.to_str().unwrap()]);
    assert_eq!(v["block_count"], 2);
    let other = Ledger::empty();
    let v = other.json(&["import", f.to_str().unwrap()]);
    assert_eq!(v["imported"], 2);
    let v = Ledger::empty().json(&["init", "--difficulty", "4"]);
    assert_eq!(v["params"]["initial_difficulty"], 4);
}

#[test]
fn init_commits_parameters_and_is_unique() {
    let a = Ledger::with_init(&[
        "--name",
        "alpha",
        "--difficulty",
        "5",
        "--block-interval",
        "2.5",
        "--retarget-window",
        "7",
    ]);
    let b = Ledger::with_init(&[
        "--name",
        "alpha",
        "--difficulty",
        "5",
        "--block-interval",
        "2.5",
        "--retarget-window",
        "7",
    ]);
    let sa = a.json(&["status"]);
    assert_eq!(sa["name"], "alpha");
    assert_eq!(sa["params"]["target_interval_ms"], 2500);
    assert_eq!(sa["params"]["retarget_window"], 7);
    assert_ne!(
        sa["genesis"],
        b.json(&["status"])["genesis"],
        "same parameters, different genesis"
    );
    let g = a.json(&["block", "0"]);
    assert_eq!(g["transactions"][0]["author"], "genesis");
    assert_eq!(g["prev_hash"], "0".repeat(64));
}

#[test]
fn the_independent_python_checker_agrees() {
    if std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: python3 is not installed");
        return;
    }
    let l = Ledger::with_init(&[
        "--difficulty",
        "6",
        "--retarget-window",
        "3",
        "--block-interval",
        "0.01",
    ]);
    for i in 0..5 {
        l.submit("py", &format!("entry {i}"));
        if i % 2 == 0 {
            l.mine(2);
        }
    }
    let f = l.path("e.jsonl");
    std::fs::write(&f, l.export()).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/check_export.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(&f)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("ok: 7 blocks, 6 transactions"),
        "{stdout}"
    );
    // It must also refuse what import refuses.
    std::fs::write(&f, l.export().replacen("entry 3", "entry 4", 1)).unwrap();
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(&f)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line "), "{stderr}");
}

#[test]
fn import_checks_the_bodies_of_blocks_it_already_has() {
    let l = Ledger::new();
    l.submit("a", "kept");
    l.submit("b", "dropped");
    l.mine(1);
    let mut line: serde_json::Value =
        serde_json::from_str(l.export().lines().nth(1).unwrap()).unwrap();
    line["txs"].as_array_mut().unwrap().pop();
    let export = l.export();
    let mut lines: Vec<String> = export.lines().map(String::from).collect();
    lines[1] = line.to_string();
    let f = l.path("e.jsonl");
    std::fs::write(&f, lines.join("\n")).unwrap();
    l.fails(&["import", f.to_str().unwrap()], "line 2: Merkle root");
}

/// Under a permissive umask the ledger is still the owner's alone: the data
/// directory and the store inside it are created 0700.
#[test]
fn a_new_ledger_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let l = Ledger::empty();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 022 && exec '{}' --data-dir '{}' init --difficulty 4",
            crate::kit::bin().display(),
            l.dir.display()
        ))
        .output()
        .expect("run sh");
    assert!(out.status.success(), "{out:?}");
    for dir in [l.dir.clone(), l.dir.join("store")] {
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{} is {mode:o}", dir.display());
    }
}

/// The export escapes every control character (U+0000 to U+001F and U+007F
/// to U+009F) and writes other text raw; import reads the escapes back
/// (#13.7).
#[test]
fn the_export_escapes_every_control_character() {
    let l = Ledger::new();
    let text = "a\u{1}b\u{7f}c\u{80}d\u{85}e\u{9f}f\u{a0}g\u{2028}h\u{e9}";
    l.submit("esc", text);
    l.mine(1);
    let export = l.export();
    let line = export.lines().nth(1).expect("block 1");
    assert!(
        line.contains(r#""data":"a\u0001b\u007fc\u0080d\u0085e\u009ff"#),
        "{line}"
    );
    assert!(line.contains("f\u{a0}g\u{2028}h\u{e9}"), "{line}");
    assert!(
        !line.chars().any(char::is_control),
        "a raw control character: {line:?}"
    );
    let file = l.path("esc.jsonl");
    std::fs::write(&file, &export).unwrap();
    let copy = Ledger::empty();
    copy.ok(&["import", file.to_str().unwrap()]);
    assert_eq!(copy.export(), export);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/check_export.py");
    if let Ok(out) = std::process::Command::new("python3")
        .arg(script)
        .arg(&file)
        .output()
    {
        assert!(out.status.success(), "{:?}", out);
    }
}

/// `import -` reads the export from standard input (naming it so in its
/// messages), and `tx --raw` writes an entry's data bytes exactly.
#[test]
fn import_reads_standard_input_and_tx_raw_writes_exact_bytes() {
    let l = Ledger::new();
    let bytes: Vec<u8> = vec![0xff, 0, b'\n', 0x1b, b'[', b'2', b'J', 0x85];
    let f = l.path("blob");
    std::fs::write(&f, &bytes).unwrap();
    let txid = l.ok(&["submit", "-a", "bin", "--file", f.to_str().unwrap()]);
    let txid = txid.trim();
    l.mine(1);
    let out = l.run(&["tx", "--raw", txid]);
    assert!(out.status.success());
    assert_eq!(out.stdout, bytes, "the exact bytes, nothing else");
    let text = l.submit("txt", "plain text, no newline added");
    let out = l.run(&["tx", "--raw", &text]);
    assert_eq!(out.stdout, b"plain text, no newline added");

    let export = l.export();
    let copy = Ledger::empty();
    let out = copy.run_stdin(&["import", "-"], export.as_bytes());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(copy.export(), export);
    let bad = export.replacen("\"version\":1", "\"version\":2", 1);
    let out = Ledger::empty().run_stdin(&["import", "-"], bad.as_bytes());
    crate::kit::check_failure(&out, &["import", "-"], "standard input: line 1");
    // Nothing is left behind in the temporary directory.
    let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().to_string();
            n.starts_with("sledger-import.") && n.ends_with(".partial")
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// `export --from H` writes the chain from height H; `import` takes such a
/// file into a copy that holds the block it builds on (an incremental
/// backup), and refuses it, naming why, where that block is missing.
#[test]
fn an_export_from_a_height_is_an_incremental_backup() {
    let l = Ledger::new();
    l.submit("a", "one");
    l.mine(2);
    let copy = Ledger::empty();
    let full = l.path("full.jsonl");
    std::fs::write(&full, l.export()).unwrap();
    copy.ok(&["import", full.to_str().unwrap()]);
    l.submit("a", "two");
    l.mine(3);
    let tail = l.ok(&["export", "--from", "3"]);
    assert_eq!(tail.lines().count(), 3, "heights 3 to 5");
    assert_eq!(
        tail,
        l.export()
            .lines()
            .skip(3)
            .map(|x| format!("{x}\n"))
            .collect::<String>()
    );
    // From the copy's tip (2) or below: the copy catches up.
    let f = l.path("tail.jsonl");
    std::fs::write(&f, l.ok(&["export", "--from", "2"])).unwrap();
    copy.ok(&["import", f.to_str().unwrap()]);
    assert_eq!(copy.export(), l.export());
    // Above what a ledger holds, or into no ledger: refused, nothing made.
    let g = l.path("gap.jsonl");
    std::fs::write(
        &g,
        tail.lines()
            .skip(1)
            .map(|x| format!("{x}\n"))
            .collect::<String>(),
    )
    .unwrap();
    let behind = Ledger::empty();
    behind.ok(&["import", full.to_str().unwrap()]);
    behind.fails(
        &["import", g.to_str().unwrap()],
        "which this ledger does not hold",
    );
    let none = Ledger::empty();
    none.fails(
        &["import", f.to_str().unwrap()],
        "expected the block at height 0",
    );
    assert!(!none.dir.join("store").exists());
    l.fails(&["export", "--from", "9"], "no block at height 9");
}
