//! The keys a person signs entries with, kept outside any ledger: a
//! [`KeyRing`] is a directory (the platform's config directory by default,
//! `--keys-dir` or `SLEDGER_KEYS_DIR` otherwise) holding `NAME.secret`
//! (one's own keys: 64 hex digits of the Ed25519 secret key) and
//! `NAME.public` (64 hex digits of a public key, one's own or imported from
//! someone else). A node never reads this directory: entries are signed by
//! the client before they are sent.
//!
//! A secret key file is created exclusive and no-follow with mode 0600 in a
//! directory of mode 0700; reading one refuses a symlink, a file another
//! user owns, a file others could read or write, and a directory others
//! could plant files in.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::consensus::signature::{self, PublicKey};
use crate::fsx::{self, Mode};

/// Longest key name, in bytes.
pub const MAX_KEY_NAME: usize = 64;

/// Why a key could not be made, found or read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "key name \"{0}\" is not 1 to 64 letters, digits, '.', '_' or '-' (not starting with '.' or '-')"
    )]
    BadName(String),
    #[error("there is already a key named \"{name}\" in {dir}")]
    Exists { name: String, dir: PathBuf },
    #[error("no key named \"{name}\" in {dir} (sledger key list shows them)")]
    NotFound { name: String, dir: PathBuf },
    #[error(
        "\"{name}\" is someone else's public key: there is no secret key to sign with in {dir}"
    )]
    NoSecret { name: String, dir: PathBuf },
    #[error("{path} is not safe for a secret key: {why}")]
    Unsafe { path: PathBuf, why: String },
    #[error("{path}: {why}")]
    Malformed { path: PathBuf, why: String },
    #[error(
        "no keys directory: give --keys-dir or set SLEDGER_KEYS_DIR (no config directory is known)"
    )]
    NoDir,
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// One key of the ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub name: String,
    pub public: PublicKey,
    /// Whether the ring holds its secret key (one's own key).
    pub secret: bool,
}

/// The directory of keys.
#[derive(Debug, Clone)]
pub struct KeyRing {
    dir: PathBuf,
}

/// Checks a key name: it becomes a file name, so only a plain set.
pub fn check_name(name: &str) -> Result<(), KeyError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_KEY_NAME
        && !name.starts_with(['.', '-'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(KeyError::BadName(name.chars().take(80).collect()))
    }
}

impl KeyRing {
    /// The ring in `dir` (or the default one: `<config dir>/sledger/keys`).
    pub fn open(dir: Option<&Path>) -> Result<KeyRing, KeyError> {
        let dir = match dir {
            Some(d) => d.to_path_buf(),
            None => dirs::config_dir()
                .ok_or(KeyError::NoDir)?
                .join("sledger")
                .join("keys"),
        };
        Ok(KeyRing { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str, kind: &str) -> PathBuf {
        self.dir.join(format!("{name}.{kind}"))
    }

    /// Creates the directory (0700) if it is missing, and checks that no
    /// other user can write into it.
    fn ensure_dir(&self) -> Result<(), KeyError> {
        if let Some(parent) = self.dir.parent() {
            fs::create_dir_all(parent)?;
        }
        match DirBuilder::new().mode(0o700).create(&self.dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e.into()),
        }
        self.check_dir()
    }

    /// The directory is a real directory of ours that others cannot write.
    fn check_dir(&self) -> Result<(), KeyError> {
        let m = fs::symlink_metadata(&self.dir)?;
        let unsafe_ = |why: String| KeyError::Unsafe {
            path: self.dir.clone(),
            why,
        };
        if !m.is_dir() {
            return Err(unsafe_(
                "it is not a directory (a symlink is refused)".into(),
            ));
        }
        if m.uid() != euid() {
            return Err(unsafe_(format!(
                "it belongs to user {}, not to you",
                m.uid()
            )));
        }
        if m.mode() & 0o022 != 0 {
            return Err(unsafe_(format!(
                "others can write into it (mode {:o}); chmod 700 it",
                m.mode() & 0o777
            )));
        }
        Ok(())
    }

    /// A new key pair named `name`, from the system's randomness.
    pub fn create(&self, name: &str) -> Result<PublicKey, KeyError> {
        let mut secret = [0u8; 32];
        getrandom::getrandom(&mut secret).map_err(|e| io::Error::other(e.to_string()))?;
        self.create_from(name, &secret)
    }

    /// A new key pair named `name` from a given secret key.
    pub fn create_from(&self, name: &str, secret: &[u8; 32]) -> Result<PublicKey, KeyError> {
        check_name(name)?;
        self.ensure_dir()?;
        let public = signature::public_key(secret);
        let (sec_path, pub_path) = (self.path(name, "secret"), self.path(name, "public"));
        if exists(&sec_path) || exists(&pub_path) {
            return Err(KeyError::Exists {
                name: name.into(),
                dir: self.dir.clone(),
            });
        }
        write_new(&sec_path, &hex::encode(secret))?;
        if let Err(e) = write_new(&pub_path, &public.to_hex()) {
            let _ = fs::remove_file(&sec_path);
            return Err(e);
        }
        Ok(public)
    }

    /// Records someone else's public key under `name`.
    pub fn import_public(&self, name: &str, key: &PublicKey) -> Result<(), KeyError> {
        check_name(name)?;
        self.ensure_dir()?;
        let pub_path = self.path(name, "public");
        if exists(&pub_path) || exists(&self.path(name, "secret")) {
            return Err(KeyError::Exists {
                name: name.into(),
                dir: self.dir.clone(),
            });
        }
        write_new(&pub_path, &key.to_hex())
    }

    /// The public key named `name`.
    pub fn public(&self, name: &str) -> Result<KeyInfo, KeyError> {
        check_name(name)?;
        let pub_path = self.path(name, "public");
        if !exists(&pub_path) {
            return Err(KeyError::NotFound {
                name: name.into(),
                dir: self.dir.clone(),
            });
        }
        let text = read_small(&pub_path, false)?;
        let public = text.trim().parse().map_err(|e| KeyError::Malformed {
            path: pub_path.clone(),
            why: format!("{e}"),
        })?;
        Ok(KeyInfo {
            name: name.into(),
            public,
            secret: exists(&self.path(name, "secret")),
        })
    }

    /// The secret key named `name`, checked against its public key.
    pub fn secret(&self, name: &str) -> Result<([u8; 32], PublicKey), KeyError> {
        let info = self.public(name)?;
        let sec_path = self.path(name, "secret");
        if !info.secret {
            return Err(KeyError::NoSecret {
                name: name.into(),
                dir: self.dir.clone(),
            });
        }
        self.check_dir()?;
        let text = read_small(&sec_path, true)?;
        let malformed = |why: &str| KeyError::Malformed {
            path: sec_path.clone(),
            why: why.into(),
        };
        let mut secret = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut secret)
            .map_err(|_| malformed("not 64 hex digits"))?;
        if signature::public_key(&secret) != info.public {
            return Err(malformed("it does not belong to the public key beside it"));
        }
        Ok((secret, info.public))
    }

    /// Every key of the ring, by name.
    pub fn list(&self) -> Result<Vec<KeyInfo>, KeyError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut names = Vec::new();
        for entry in entries {
            let file = entry?.file_name();
            let Some(name) = file.to_str().and_then(|f| f.strip_suffix(".public")) else {
                continue;
            };
            if check_name(name).is_ok() {
                names.push(name.to_owned());
            }
        }
        names.sort();
        names.iter().map(|n| self.public(n)).collect()
    }

    /// The name of the ring's key `key`, if it holds it.
    pub fn name_of(&self, key: &PublicKey) -> Option<String> {
        self.list()
            .ok()?
            .into_iter()
            .find(|k| k.public == *key)
            .map(|k| k.name)
    }
}

/// This process's effective user id: the owner of `/proc/self`, which
/// needs no unsafe call (without procfs, no file passes as ours).
fn euid() -> u32 {
    fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid())
}

fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

/// Writes a new owner-only file holding `line` and a newline.
fn write_new(path: &Path, line: &str) -> Result<(), KeyError> {
    let mut f = fsx::create_new(path, Mode::Exactly(fsx::OWNER_ONLY))?;
    f.write_all(line.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    Ok(())
}

/// Reads a key file (at most 4 KiB) without following a symlink; a secret
/// one must be ours and closed to others.
fn read_small(path: &Path, secret: bool) -> Result<String, KeyError> {
    let file: File = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| KeyError::Unsafe {
            path: path.into(),
            why: format!("cannot open it without following links: {e}"),
        })?;
    let m = file.metadata()?;
    if secret && (m.uid() != euid() || m.mode() & 0o077 != 0) {
        return Err(KeyError::Unsafe {
            path: path.into(),
            why: format!(
                "it must be yours with mode 600 (it is user {}'s, mode {:o})",
                m.uid(),
                m.mode() & 0o777
            ),
        });
    }
    let mut text = String::new();
    file.take(4096)
        .read_to_string(&mut text)
        .map_err(|e| KeyError::Malformed {
            path: path.into(),
            why: e.to_string(),
        })?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn keys_round_trip_and_unsafe_files_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let ring = KeyRing::open(Some(&tmp.path().join("keys"))).unwrap();
        let public = ring.create("alice").unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(ring.dir()), 0o700);
        assert_eq!(mode(&ring.path("alice", "secret")), 0o600);
        let (secret, p) = ring.secret("alice").unwrap();
        assert_eq!(p, public);
        assert_eq!(signature::public_key(&secret), public);
        assert!(matches!(ring.create("alice"), Err(KeyError::Exists { .. })));
        assert!(matches!(ring.create("../x"), Err(KeyError::BadName(_))));
        ring.import_public("bob", &PublicKey([9; 32])).unwrap();
        assert!(matches!(ring.secret("bob"), Err(KeyError::NoSecret { .. })));
        let names: Vec<_> = ring.list().unwrap().into_iter().map(|k| k.name).collect();
        assert_eq!(names, ["alice", "bob"]);
        // A secret others can read is refused.
        let sec = ring.path("alice", "secret");
        fs::set_permissions(&sec, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(ring.secret("alice"), Err(KeyError::Unsafe { .. })));
        fs::set_permissions(&sec, fs::Permissions::from_mode(0o600)).unwrap();
        // A directory others can write into is refused.
        fs::set_permissions(ring.dir(), fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(ring.secret("alice"), Err(KeyError::Unsafe { .. })));
        fs::set_permissions(ring.dir(), fs::Permissions::from_mode(0o700)).unwrap();
        // A symlinked secret is refused.
        fs::remove_file(&sec).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("elsewhere"), &sec).unwrap();
        fs::write(tmp.path().join("elsewhere"), hex::encode(secret)).unwrap();
        assert!(matches!(ring.secret("alice"), Err(KeyError::Unsafe { .. })));
    }
}
