//! The node's config file: `sledger.toml` in the data directory (or
//! `--config FILE`) holds what a node is started with; flags override it;
//! `sledger config show` prints the result and each value's source.

use std::time::Duration;

use crate::kit::{eventually, Ledger, Node};

#[test]
fn the_node_starts_with_the_file_and_flags_override_it() {
    let l = Ledger::with_init(&["--difficulty", "8", "--fixed-difficulty"]);
    std::fs::write(
        l.dir.join("sledger.toml"),
        "[node]\nmine = true\ncontinuous = true\nthreads = 1\nport = 1\nlog_format = \"json\"\nlog_file = \"node.log\"\n",
    )
    .unwrap();
    // --port 0 (a flag, from the kit) overrides the file's port 1.
    let node = Node::start(&l, &[]);
    eventually(
        "the file's miner seals blocks",
        Duration::from_secs(20),
        || node.get("/v1/status").1["tip"]["height"].as_u64() >= Some(3),
    );
    let (_, m) = node.get("/v1/mining");
    assert_eq!(m["threads"], 1);
    drop(node);
    // The log went where the file says, relative to the file, as JSON.
    let log = std::fs::read_to_string(l.dir.join("node.log")).unwrap();
    let first: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert_eq!(first["level"], "INFO");
}

#[test]
fn config_show_names_each_values_source() {
    let l = Ledger::new();
    let shown = l.json(&["config", "show"]);
    assert_eq!(shown["file"], serde_json::Value::Null);
    assert_eq!(shown["settings"]["port"]["value"], 8337);
    assert_eq!(shown["settings"]["port"]["source"], "default");
    std::fs::write(
        l.dir.join("sledger.toml"),
        "[node]\nmine = true\nthreads = 2\npeers = [\"127.0.0.1:9\"]\n",
    )
    .unwrap();
    let shown = l.json(&["config", "show", "--threads", "1"]);
    let s = &shown["settings"];
    assert!(shown["file"].as_str().unwrap().ends_with("sledger.toml"));
    assert_eq!(
        (&s["mine"]["value"], &s["mine"]["source"]),
        (&true.into(), &"file".into())
    );
    assert_eq!(
        (&s["threads"]["value"], &s["threads"]["source"]),
        (&1.into(), &"flag".into())
    );
    assert_eq!(s["peers"]["value"][0], "127.0.0.1:9");
    assert_eq!(s["log_format"]["source"], "default");
    let text = l.ok(&["config", "show", "--threads", "1"]);
    let line = |name: &str| {
        text.lines()
            .find(|x| x.starts_with(name))
            .unwrap()
            .to_owned()
    };
    assert!(line("threads ").ends_with("--threads"), "{text}");
    assert!(line("mine ").ends_with("sledger.toml"), "{text}");
    assert!(line("port ").ends_with("default"), "{text}");
    // Another file, named with --config.
    let other = l.path("other.toml");
    std::fs::write(&other, "[node]\nport = 9999\n").unwrap();
    let shown = l.json(&["--config", other.to_str().unwrap(), "config", "show"]);
    assert_eq!(shown["settings"]["port"]["value"], 9999);
    assert_eq!(shown["settings"]["mine"]["source"], "default");
}

#[test]
fn a_bad_config_file_is_bad_usage_naming_the_line() {
    let l = Ledger::new();
    std::fs::write(l.dir.join("sledger.toml"), "[node]\nmine = true\nmin = 3\n").unwrap();
    let err = l.misused(&["config", "show"], "sledger.toml, line 3 is not valid");
    assert!(err.contains("unknown field `min`"), "{err}");
    l.misused(&["node", "--port", "0"], "line 3");
    std::fs::write(l.dir.join("sledger.toml"), "[node]\nthreads = 0\n").unwrap();
    l.misused(&["config", "show"], "threads must be between 1 and 256");
    std::fs::write(l.dir.join("sledger.toml"), "[node]\nbind = \"0.0.0.0\"\n").unwrap();
    l.misused(&["config", "show"], "--allow-remote");
    l.misused(
        &["--config", "/nonexistent/x.toml", "config", "show"],
        "cannot read the config file",
    );
    // Other commands do not read it.
    l.ok(&["status"]);
}
