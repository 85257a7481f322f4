//! Help a person can find: `--help` with examples and the global options
//! under their own heading, shell completions and man pages generated from
//! the same argument definitions.

use std::process::Command;

use crate::kit::Ledger;

#[test]
fn help_shows_examples_and_the_global_options_apart() {
    let l = Ledger::empty();
    let top = l.ok(&["--help"]);
    assert!(top.contains("Global options:\n"), "{top}");
    assert!(top.contains("Examples:\n"), "{top}");
    assert!(top.contains("130 interrupted"), "{top}");
    for sub in [
        "init", "submit", "mine", "block", "tx", "export", "import", "node", "verify",
    ] {
        let help = l.ok(&[sub, "--help"]);
        assert!(help.contains("Examples:\n"), "{sub}: {help}");
        assert!(help.contains(&format!("sledger {sub}")), "{sub}: {help}");
        // A command's own options come first, the global ones after them.
        let own = help.find("Options:\n").expect("own options");
        let global = help.find("Global options:\n").expect("global options");
        assert!(own < global, "{sub}: {help}");
        assert!(help[global..].contains("--data-dir"), "{sub}");
        assert!(!help[own..global].contains("--data-dir"), "{sub}");
    }
}

#[test]
fn completions_for_each_shell_name_every_command() {
    let l = Ledger::empty();
    for (shell, marker) in [
        ("bash", "_sledger()"),
        ("zsh", "#compdef sledger"),
        ("fish", "complete -c sledger"),
    ] {
        let script = l.ok(&["completions", shell]);
        assert!(script.contains(marker), "{shell}");
        for sub in ["init", "mine", "watch", "salvage", "completions"] {
            assert!(script.contains(sub), "{shell} completes {sub}");
        }
    }
    // The bash script parses.
    let path = l.path("sledger.bash");
    std::fs::write(&path, l.ok(&["completions", "bash"])).unwrap();
    let ok = Command::new("bash").arg("-n").arg(&path).status().unwrap();
    assert!(ok.success());
    let out = l.run(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value 'tcsh'"));
}

#[test]
fn man_pages_cover_every_command() {
    let l = Ledger::empty();
    let page = l.ok(&["man"]);
    assert!(page.contains(".TH sledger 1"), "{page}");
    let dir = l.path("man");
    l.ok(&["man", "--dir", dir.to_str().unwrap()]);
    for name in [
        "sledger",
        "sledger-mine",
        "sledger-key-new",
        "sledger-watch",
        "sledger-salvage",
    ] {
        let text = std::fs::read_to_string(dir.join(format!("{name}.1")))
            .unwrap_or_else(|e| panic!("{name}.1: {e}"));
        assert!(text.contains(&format!(".TH {name} 1")), "{name}: {text}");
    }
    assert!(!dir.join("sledger-help.1").exists());
}
