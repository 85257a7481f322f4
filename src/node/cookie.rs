//! The node's cookie: the file `node.cookie` in the data directory that
//! tells other `sledger` processes where the node listens and the token to
//! send, as Bitcoin Core's `.cookie` does. It is written when the node
//! listens, readable by its owner only, and removed on a clean exit; a
//! cookie left by a node that was killed is recognised as stale because
//! whoever finds it can open the store (the node held its lock).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fsx::{self, Mode};

/// File name of the cookie in the data directory.
pub const COOKIE_FILE: &str = "node.cookie";

/// File name the cookie is written to before it is renamed into place.
pub const TEMP_FILE: &str = "node.cookie.tmp";

/// What the cookie holds (one line of JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cookie {
    /// `IP:PORT` the node listens on.
    pub address: String,
    /// The bearer token every request must carry (64 hex digits).
    pub token: String,
    /// The node's process id.
    pub pid: u32,
}

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(COOKIE_FILE)
}

/// A fresh random token: 32 bytes from the operating system, as hex.
pub fn new_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(std::io::Error::other)?;
    Ok(hex::encode(bytes))
}

impl Cookie {
    /// The cookie in `data_dir`, if there is one. A file that is not a
    /// cookie reads as an error naming it.
    pub fn read(data_dir: &Path) -> std::io::Result<Option<Cookie>> {
        let p = path(data_dir);
        let text = match std::fs::read_to_string(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        serde_json::from_str(text.trim()).map(Some).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is not a node cookie: {e}", p.display()),
            )
        })
    }

    /// The cookie at `file` (a node's `node.cookie`, copied or reached
    /// through a mount), for a node at `address` (`--node`): its token is
    /// a secret, so a file other users can read or write is refused.
    pub fn read_file(file: &Path, address: String) -> std::io::Result<Cookie> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(file)?;
        if meta.mode() & 0o077 != 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "{} holds a node's token but other users can read or write it (mode {:o}); chmod 600 it",
                    file.display(),
                    meta.mode() & 0o777
                ),
            ));
        }
        let text = std::fs::read_to_string(file)?;
        let cookie: Cookie = serde_json::from_str(text.trim()).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is not a node cookie: {e}", file.display()),
            )
        })?;
        Ok(Cookie { address, ..cookie })
    }

    /// Writes the cookie readable and writable by the owner only: to
    /// `node.cookie.tmp`, created exclusively with mode 0600 (see
    /// [`crate::fsx`]), synced, then renamed. This process holds the
    /// store's lock, so a `node.cookie.tmp` already there was left by a
    /// node killed while writing it, or planted: it is removed first (a
    /// symlink is removed, never followed).
    pub fn write(&self, data_dir: &Path) -> std::io::Result<()> {
        let tmp = data_dir.join(TEMP_FILE);
        match std::fs::remove_file(&tmp) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let line = serde_json::to_string(self).map_err(std::io::Error::other)?;
        fsx::replace(&path(data_dir), &tmp, Mode::Exactly(fsx::OWNER_ONLY), |f| {
            writeln!(f, "{line}")
        })
    }

    /// Removes the cookie if it is still this one (a newer node may have
    /// replaced it).
    pub fn remove(&self, data_dir: &Path) {
        if let Ok(Some(c)) = Cookie::read(data_dir) {
            if c == *self {
                let _ = std::fs::remove_file(path(data_dir));
            }
        }
    }
}
