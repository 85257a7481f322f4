//! docs/json/sledger.schema.json against real outputs: every command run
//! with `--json`, each document validated (strictly: no member the schema
//! does not name) against `#/$defs/command: NAME`, and errors against
//! `command: error`. The file must also be what docs/json/generate.py
//! makes from docs/openapi.json today.

use std::process::Command;

use serde_json::Value;

use crate::kit::{Ledger, Node, Validator};

fn document() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/json/sledger.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Checks `value` against the command's schema; panics naming every fault.
fn check(doc: &Value, command: &str, value: &Value) {
    let schema = doc["$defs"]
        .get(format!("command: {command}"))
        .unwrap_or_else(|| panic!("no schema for {command}"));
    let errors = Validator::strict(doc).errors(schema, value);
    assert!(errors.is_empty(), "{command}: {errors:#?}\n{value:#}");
}

fn run_json(l: &Ledger, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = l.ok(&all);
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

#[test]
fn the_schema_file_is_generated_from_the_openapi_document() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh.json");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/json/generate.py");
    let ok = Command::new("python3")
        .arg(script)
        .arg(&fresh)
        .status()
        .unwrap();
    assert!(ok.success());
    let fresh: Value = serde_json::from_str(&std::fs::read_to_string(&fresh).unwrap()).unwrap();
    assert_eq!(fresh, document(), "run python3 docs/json/generate.py");
}

#[test]
fn every_command_prints_what_its_schema_says() {
    let doc = document();
    let l = Ledger::empty();
    let init = run_json(&l, &["init", "--difficulty", "6", "--fixed-difficulty"]);
    check(&doc, "init", &init);
    let key = run_json(&l, &["key", "new", "alice"]);
    check(&doc, "key new", &key);
    check(&doc, "key show", &run_json(&l, &["key", "show", "alice"]));
    check(&doc, "key list", &run_json(&l, &["key", "list"]));
    let submitted = run_json(&l, &["submit", "--sign", "alice", "signed"]);
    check(&doc, "submit", &submitted);
    let txid = submitted["txid"].as_str().unwrap().to_owned();
    check(
        &doc,
        "submit",
        &run_json(&l, &["submit", "-a", "bob", "plain"]),
    );
    check(&doc, "pending", &run_json(&l, &["pending"]));
    let mined = l.ok(&["--json", "mine"]);
    for line in mined.lines() {
        check(&doc, "mine", &serde_json::from_str(line).unwrap());
    }
    check(&doc, "block", &run_json(&l, &["block", "tip"]));
    check(&doc, "block", &run_json(&l, &["block", "0"]));
    check(&doc, "chain", &run_json(&l, &["chain"]));
    check(&doc, "chain --tips", &run_json(&l, &["chain", "--tips"]));
    check(&doc, "tx", &run_json(&l, &["tx", &txid]));
    check(&doc, "txs", &run_json(&l, &["txs", "-a", "alice"]));
    check(&doc, "txs", &run_json(&l, &["txs", "--key", "alice"]));
    check(&doc, "verify", &run_json(&l, &["verify"]));
    check(&doc, "status", &run_json(&l, &["status"]));
    check(&doc, "migrate", &run_json(&l, &["migrate"]));
    check(&doc, "config show", &run_json(&l, &["config", "show"]));
    let file = l.path("x.jsonl");
    check(
        &doc,
        "export",
        &run_json(&l, &["export", "-o", file.to_str().unwrap()]),
    );
    let copy = Ledger::empty();
    check(
        &doc,
        "import",
        &run_json(&copy, &["import", file.to_str().unwrap()]),
    );
    check(
        &doc,
        "bench",
        &run_json(&l, &["bench", "--seconds", "0.05"]),
    );
    let demo = Ledger::empty();
    check(&doc, "demo", &run_json(&demo, &["demo"]));
    // Through a node: the same documents, and status with its node part.
    let node = Node::start(&l, &["--listen", "127.0.0.1:0"]);
    check(&doc, "status", &run_json(&l, &["status"]));
    check(&doc, "chain", &run_json(&l, &["chain"]));
    check(&doc, "peers", &run_json(&l, &["peers"]));
    check(&doc, "open", &run_json(&l, &["open", "--no-browser"]));
    drop(node);
}

#[test]
fn errors_with_json_are_one_object_with_a_code() {
    let doc = document();
    let l = Ledger::new();
    for (args, code, exit) in [
        (vec!["block", "99"], "not_found", 1),
        (vec!["block", "xyz"], "usage", 2),
        (vec!["mine", "-n", "0"], "usage", 2),
        (vec!["--frobnicate"], "usage", 2),
        (vec!["mine"], "nothing_pending", 1),
        (
            vec!["submit", "-a", "a", &"x".repeat(70_000)],
            "bad_request",
            1,
        ),
    ] {
        let mut all = vec!["--json"];
        all.extend_from_slice(&args);
        let out = l.run(&all);
        let args = &args[..1];
        assert_eq!(out.status.code(), Some(exit), "{args:?}: {out:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
        let v: Value =
            serde_json::from_str(&err).unwrap_or_else(|e| panic!("{args:?}: {e}: {err}"));
        check(&doc, "error", &v);
        assert_eq!(v["code"], code, "{args:?}: {v}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let nowhere = Ledger::empty();
    let out = nowhere.run(&["--json", "status"]);
    let v: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(v["code"], "no_ledger");
}
