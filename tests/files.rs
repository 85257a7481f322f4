//! The files sledger creates and writes: in the data directory (the node's
//! cookie, the import route's spool) each is created exclusively, never
//! through a planted file or symlink, owner-only whatever the umask; and
//! `export -o` writes where the user pointed it (symlinks followed,
//! devices and pipes written through, a file's mode kept, errors reported).

use std::io::Write;
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
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
