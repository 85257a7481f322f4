//! The files sledger creates and writes: in the data directory (the node's
//! cookie, the import route's spool) each is created exclusively, never
//! through a planted file or symlink, owner-only whatever the umask; and
//! `export -o` writes where the user pointed it (symlinks followed,
//! devices and pipes written through, a file's mode kept, errors reported).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::kit::{Ledger, Node};

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// A 0644 file and a symlink planted where the node writes its cookie
/// before renaming it (under either name a node has used for it) are not
/// written through: the cookie is 0600 and the symlink's target untouched.
#[test]
fn a_planted_cookie_temp_file_or_symlink_is_not_followed() {
    let l = Ledger::new();
    let target = l.tmp.path().join("target");
    std::fs::write(&target, "precious").unwrap();
    let node = Node::start_after(&l, &[], |pid| {
        let file = l.dir.join("node.cookie.tmp");
        std::fs::write(&file, "planted").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::symlink(&target, l.dir.join(format!("node.cookie.{pid}.tmp"))).unwrap();
    });
    let cookie = l.dir.join("node.cookie");
    assert_eq!(mode(&cookie), 0o600, "the cookie's mode");
    assert!(std::fs::symlink_metadata(&cookie).unwrap().is_file());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
    drop(node);
}

/// The same planted names, the other way round: a symlink at the fixed
/// temp name and a 0644 file at the pid's.
#[test]
fn a_planted_cookie_symlink_under_the_fixed_name_is_not_followed() {
    let l = Ledger::new();
    let target = l.tmp.path().join("target");
    std::fs::write(&target, "precious").unwrap();
    let node = Node::start_after(&l, &[], |pid| {
        std::os::unix::fs::symlink(&target, l.dir.join("node.cookie.tmp")).unwrap();
        let file = l.dir.join(format!("node.cookie.{pid}.tmp"));
        std::fs::write(&file, "planted").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    });
    assert_eq!(mode(&l.dir.join("node.cookie")), 0o600, "the cookie's mode");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
    drop(node);
}

/// While an import is being received, its spool file in the data
/// directory is 0600 (the node runs under umask 022).
#[test]
fn the_import_spool_is_readable_by_its_owner_only() {
    let l = Ledger::new();
    let export = l.export();
    let node = Node::start(&l, &[]);
    let mut s = TcpStream::connect(&node.address).unwrap();
    write!(
        s,
        "POST /v1/import HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\
         Content-Type: application/x-ndjson\r\nContent-Length: {}\r\n\r\n",
        node.auth(),
        export.len() + 1000
    )
    .unwrap();
    s.write_all(export.as_bytes()).unwrap();
    s.flush().unwrap();
    let end = Instant::now() + Duration::from_secs(10);
    let spool = loop {
        let found = std::fs::read_dir(&l.dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with(".partial"));
        if let Some(p) = found {
            break p;
        }
        assert!(Instant::now() < end, "no spool file appeared");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(mode(&spool), 0o600, "{}", spool.display());
    drop(s);
    drop(node);
}

/// A ledger with three blocks (genesis and two mined).
fn three_blocks() -> Ledger {
    let l = Ledger::new();
    l.submit("alice", "one");
    l.mine(2);
    l
}

/// `export -o` through a symlink to /dev/full: the write fails, the exit
/// is non-zero with one line, "exported" is not said, the link stays.
#[test]
fn export_to_a_full_device_fails_and_says_so() {
    let l = three_blocks();
    let link = l.tmp.path().join("full");
    std::os::unix::fs::symlink("/dev/full", &link).unwrap();
    let line = l.fails(
        &["export", "-o", link.to_str().unwrap()],
        "cannot write the export",
    );
    assert!(!line.contains("exported"), "{line}");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
}

/// A symlink is followed: the link stays a link, its target gets the
/// export, and no temporary file is left beside either.
#[test]
fn export_follows_a_symlink() {
    let l = three_blocks();
    let dir = l.tmp.path().join("out");
    std::fs::create_dir(&dir).unwrap();
    let target = dir.join("real.jsonl");
    std::fs::write(&target, "old").unwrap();
    let link = l.tmp.path().join("link.jsonl");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    l.ok(&["export", "-o", link.to_str().unwrap()]);
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), l.export());
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
}

/// A named pipe is written through: its reader gets the export and the
/// pipe is still a pipe.
#[test]
fn export_writes_through_a_fifo() {
    let l = three_blocks();
    let fifo = l.tmp.path().join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut s = String::new();
            std::fs::File::open(&fifo)
                .unwrap()
                .read_to_string(&mut s)
                .unwrap();
            s
        })
    };
    l.ok(&["export", "-o", fifo.to_str().unwrap()]);
    let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    // Asserted before joining: a reader whose fifo was replaced never ends.
    assert!(kind.is_fifo(), "the fifo was replaced: {kind:?}");
    assert_eq!(reader.join().unwrap(), l.export());
}

/// An existing file keeps its mode (0640), and gets the export.
#[test]
fn export_keeps_an_existing_files_mode() {
    let l = three_blocks();
    let out = l.tmp.path().join("e.jsonl");
    std::fs::write(&out, "old").unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o640)).unwrap();
    l.ok(&["export", "-o", out.to_str().unwrap()]);
    assert_eq!(mode(&out), 0o640);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), l.export());
}

/// `-o -` and a symlink to /dev/stdout both write the export to standard
/// output.
#[test]
fn export_to_stdout() {
    let l = three_blocks();
    let expected = l.export();
    assert_eq!(l.ok(&["export", "-o", "-"]), expected);
    let link = l.tmp.path().join("stdout");
    std::os::unix::fs::symlink("/dev/stdout", &link).unwrap();
    assert_eq!(l.ok(&["export", "-o", link.to_str().unwrap()]), expected);
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
}
