//! The node's network identity: an ed25519 key in `node.key` in the data
//! directory, created on first start (owner-only, exclusive, no-follow)
//! and read on every later one. Its public half is the node's peer id.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use libp2p::identity::Keypair;

use super::NetError;
use crate::fsx;

/// Name of the key file inside the data directory.
pub const KEY_FILE: &str = "node.key";

/// Largest key file read (a protobuf-encoded ed25519 key is 68 bytes).
const MAX_KEY_BYTES: u64 = 1024;

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEY_FILE)
}

/// The key in `data_dir`, created if there is none yet.
pub fn load_or_create(data_dir: &Path) -> Result<Keypair, NetError> {
    let path = path(data_dir);
    let io = |source| NetError::Key {
        path: path.clone(),
        source,
    };
    match std::fs::symlink_metadata(&path) {
        Ok(_) => read(&path).map_err(io),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = Keypair::generate_ed25519();
            let bytes = key
                .to_protobuf_encoding()
                .map_err(|e| io(std::io::Error::other(e)))?;
            let mut f = fsx::create_new(&path, fsx::Mode::Exactly(fsx::OWNER_ONLY)).map_err(io)?;
            f.write_all(&bytes)
                .and_then(|()| f.sync_all())
                .map_err(io)?;
            Ok(key)
        }
        Err(e) => Err(io(e)),
    }
}

fn read(path: &Path) -> std::io::Result<Keypair> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    let mut bytes = Vec::new();
    f.take(MAX_KEY_BYTES).read_to_end(&mut bytes)?;
    Keypair::from_protobuf_encoding(&bytes)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_key_is_created_owner_only_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        let mode = std::fs::metadata(path(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load_or_create(dir.path()).unwrap();
        assert_eq!(first.public().to_peer_id(), again.public().to_peer_id());
        std::fs::write(path(dir.path()), b"junk").unwrap();
        assert!(matches!(
            load_or_create(dir.path()),
            Err(NetError::Key { .. })
        ));
    }
}
