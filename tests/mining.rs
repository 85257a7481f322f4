//! Mining through the binary: JSON reports, and Ctrl-C / SIGTERM stopping a
//! run cleanly with the ledger intact.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::kit::{bin, Ledger};

#[test]
fn mine_json_reports_each_block() {
    let l = Ledger::new();
    let out = l.ok(&[
        "--json",
        "mine",
        "--continuous",
        "--blocks",
        "3",
        "--threads",
        "2",
    ]);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|s| serde_json::from_str(s).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    for (i, v) in lines.iter().enumerate() {
        assert_eq!(v["height"], i as u64 + 1);
        assert!(v["hashes"].as_u64().unwrap() >= 1);
        assert!(v["seconds"].as_f64().unwrap() >= 0.0);
        assert!(v["hashes_per_second"].as_f64().unwrap() > 0.0);
        assert!(v["hash"].as_str().unwrap().starts_with('0'));
    }
    assert_eq!(l.json(&["verify"])["block_count"], 4);
}

#[test]
fn new_entries_reach_the_next_block() {
    let l = Ledger::new();
    l.mine(1);
    let id = l.submit("late", "arrived after block 1");
    l.mine(1);
    assert_eq!(l.json(&["tx", &id])["height"], 2);
}

fn stop_with(signal: &str) {
    stop_with_repeats(signal, 1)
}

/// Sends `signal` `times` times, about a millisecond apart (as `timeout`
/// does, to the process and then to its group), and checks the miner
/// stops cleanly. A stop takes a few milliseconds, so the repeats arrive
/// while it is under way.
fn stop_with_repeats(signal: &str, times: usize) {
    let l = Ledger::with_init(&["--difficulty", "14", "--fixed-difficulty"]);
    // Output goes to files: an unread pipe would fill and block the miner.
    let (out_path, err_path) = (l.path("out"), l.path("err"));
    let mut child = Command::new(bin())
        .arg("--data-dir")
        .arg(&l.dir)
        .args(["mine", "--continuous", "--threads", "2"])
        .stdout(Stdio::from(std::fs::File::create(&out_path).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&err_path).unwrap()))
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let sent = Instant::now();
    let pid = child.id();
    // One shell, so the repeats are not a process start apart.
    let script = vec![format!("kill {signal} {pid}"); times].join("; sleep 0.001; ");
    let status = Command::new("sh").args(["-c", &script]).status().unwrap();
    assert!(status.success());
    let deadline = sent + Duration::from_secs(5);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "mine did not stop after {signal}"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = sent.elapsed();
    let stdout = std::fs::read_to_string(&out_path).unwrap();
    let stderr = std::fs::read_to_string(&err_path).unwrap();
    // Stopped before it finished: 130, with the report of what was done.
    assert_eq!(exit.code(), Some(130), "{signal}: {exit:?} {stderr}");
    assert!(took < Duration::from_secs(1), "{signal} took {took:?}");
    assert!(stderr.contains("stopped after"), "{stderr}");
    let reported = stdout
        .lines()
        .filter(|l| l.starts_with("mined block"))
        .count() as u64;
    let v = l.json(&["verify"]);
    assert_eq!(v["valid"], true);
    assert_eq!(
        v["block_count"],
        reported + 1,
        "every reported block is on the chain, and only those"
    );
}

#[test]
fn ctrl_c_stops_mining_cleanly() {
    stop_with("-INT");
}

#[test]
fn sigterm_stops_mining_cleanly() {
    stop_with("-TERM");
}

/// `timeout` signals the process and its group: the echo within the grace
/// period is the same stop, not a second one that exits at once (130).
#[test]
fn a_repeated_sigterm_within_the_grace_period_is_one_stop() {
    stop_with_repeats("-TERM", 2);
}

/// Every backend mines valid blocks; one that does not exist is bad usage;
/// `bench` lists the backends this CPU runs, the scalar "soft" one always.
#[test]
fn every_backend_mines_valid_blocks_and_bench_lists_them() {
    let l = Ledger::new();
    for backend in ["soft", "sha2", "avx2", "sha-ni"] {
        let out = l.run(&[
            "mine",
            "--continuous",
            "-n",
            "2",
            "--threads",
            "1",
            "--backend",
            backend,
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        // A backend this CPU lacks is refused, naming those it runs.
        if !out.status.success() {
            assert_eq!(out.status.code(), Some(2), "{backend}: {err}");
            assert!(err.contains("is not one this CPU runs"), "{err}");
            assert!(
                !matches!(backend, "soft" | "sha2"),
                "{backend} runs everywhere"
            );
        }
    }
    assert_eq!(l.json(&["verify"])["valid"], true);
    l.misused(
        &["mine", "--backend", "gpu"],
        "--backend gpu is not one this CPU runs",
    );
    let bench = l.ok(&["bench", "--seconds", "0.05"]);
    assert!(bench.contains("soft, scalar from round 6"), "{bench}");
    let status = l.ok(&["status"]);
    assert!(status.contains("miner       "), "{status}");
}
