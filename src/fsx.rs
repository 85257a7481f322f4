//! Files sledger creates. Every new file goes through [`create_new`]: an
//! exclusive, no-follow create (`O_CREAT|O_EXCL|O_NOFOLLOW`), so a file or
//! symlink already at the name makes it fail rather than be written
//! through or lend its mode, and the mode is exactly the one asked for
//! whatever the umask. [`replace`] is the write-beside-then-rename that
//! puts a finished file in place.

use std::fs::{File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Read and write for the owner only: every file in the data directory.
pub const OWNER_ONLY: u32 = 0o600;

/// The mode a new file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Exactly these permission bits, whatever the umask.
    Exactly(u32),
    /// 0666 less the umask, as a shell's `>` creates a file.
    Umasked,
}

/// Creates `path` for writing; it must not exist (a symlink there, even a
/// dangling one, counts as existing: the create fails with
/// `AlreadyExists`, or `ELOOP` on some systems).
pub fn create_new(path: &Path, mode: Mode) -> io::Result<File> {
    let initial = match mode {
        Mode::Exactly(_) => OWNER_ONLY,
        Mode::Umasked => 0o666,
    };
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(initial)
        .open(path)
        .map_err(|e| named(e, "cannot create", path))?;
    if let Mode::Exactly(bits) = mode {
        // fchmod on the open file: the umask may have taken bits away.
        if let Err(e) = file.set_permissions(Permissions::from_mode(bits)) {
            let _ = std::fs::remove_file(path);
            return Err(named(e, "cannot set the mode of", path));
        }
    }
    Ok(file)
}

/// Opens `path` for appending (a log), creating it owner-only if missing;
/// a symlink at the name makes it fail (`O_NOFOLLOW`), and so does
/// anything but a regular file.
pub fn open_append(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(OWNER_ONLY)
        .open(path)
        .map_err(|e| named(e, "cannot open", path))?;
    if !file.metadata()?.is_file() {
        return Err(named(
            io::Error::other("not a regular file"),
            "cannot append to",
            path,
        ));
    }
    Ok(file)
}

/// Writes a new version of `target`: `write` fills `temp` (created with
/// [`create_new`] and `mode`), which is synced to disk and renamed over
/// `target` only if all of that succeeded; otherwise `temp` is removed
/// and `target` left as it was.
pub fn replace<T, E: From<io::Error>>(
    target: &Path,
    temp: &Path,
    mode: Mode,
    write: impl FnOnce(&mut File) -> Result<T, E>,
) -> Result<T, E> {
    let mut file = create_new(temp, mode)?;
    let result = (|| {
        let value = write(&mut file)?;
        file.sync_all()
            .map_err(|e| named(e, "cannot write", temp))?;
        std::fs::rename(temp, target).map_err(|e| named(e, "cannot rename into place", target))?;
        Ok(value)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(temp);
    }
    result
}

/// A fresh temporary name beside `target`: `<name>.<8 random hex>.partial`.
pub fn temp_beside(target: &Path) -> io::Result<PathBuf> {
    let mut bytes = [0u8; 4];
    getrandom::getrandom(&mut bytes).map_err(io::Error::other)?;
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.partial", hex::encode(bytes)));
    Ok(target.with_file_name(name))
}

/// `e` with what was being done to which file, keeping its kind.
fn named(e: io::Error, doing: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{doing} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn mode_of(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn a_new_file_has_exactly_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        create_new(&p, Mode::Exactly(OWNER_ONLY)).unwrap();
        assert_eq!(mode_of(&p), 0o600);
        let q = dir.path().join("g");
        create_new(&q, Mode::Exactly(0o640)).unwrap();
        assert_eq!(mode_of(&q), 0o640);
    }

    #[test]
    fn a_planted_file_or_symlink_makes_the_create_fail() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "precious").unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "planted").unwrap();
        std::fs::set_permissions(&file, Permissions::from_mode(0o644)).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        for p in [&file, &link, &dangling] {
            let e = create_new(p, Mode::Exactly(OWNER_ONLY)).unwrap_err();
            assert!(e.to_string().contains("cannot create"), "{e}");
        }
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "planted");
        assert!(!dir.path().join("nowhere").exists());
    }

    #[test]
    fn replace_renames_only_a_complete_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t");
        std::fs::write(&target, "old").unwrap();
        let temp = temp_beside(&target).unwrap();
        let failed: io::Result<()> = replace(&target, &temp, Mode::Umasked, |f| {
            f.write_all(b"half")?;
            Err(io::Error::other("stopped"))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
        assert!(!temp.exists());
        replace(&target, &temp, Mode::Exactly(0o640), |f| {
            f.write_all(b"new")
        })
        .unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        assert_eq!(mode_of(&target), 0o640);
    }
}
