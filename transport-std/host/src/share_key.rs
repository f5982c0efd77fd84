//! The share key on disk: 32 random bytes as hex in `share.key` under the
//! state directory, readable by its owner alone. `pared share` makes it
//! (and `--rotate` replaces it); the server reads it when a request
//! carries a link, and again whenever the file changed.

use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use pared_core::share::ShareKey;

/// The key file's name in the state directory.
pub const FILE_NAME: &str = "share.key";

/// The state directory when none is given: systemd's `$STATE_DIRECTORY`
/// (from `StateDirectory=`), else `$XDG_STATE_HOME/pared`, else
/// `~/.local/state/pared`.
pub fn default_state_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("STATE_DIRECTORY") {
        // systemd may pass several, separated by `:`; the first is ours.
        let first = d.to_string_lossy().split(':').next()?.to_owned();
        return Some(PathBuf::from(first));
    }
    if let Some(d) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d).join("pared"));
    }
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    Some(PathBuf::from(home).join(".local/state/pared"))
}

/// Reads the key in `dir`, making one (0600, in a 0700 folder) when
/// there is none yet.
pub fn load_or_create(dir: &Path) -> io::Result<ShareKey> {
    let path = dir.join(FILE_NAME);
    match std::fs::read_to_string(&path) {
        Ok(text) => ShareKey::from_hex(&text).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is not a share key (64 hex digits)", path.display()),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => rotate(dir),
        Err(e) => Err(e),
    }
}

/// Writes a new random key in `dir`, replacing the old one atomically:
/// every link made with the old key stops working at once.
pub fn rotate(dir: &Path) -> io::Result<ShareKey> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let mut bytes = [0u8; 32];
    let mut filled = 0;
    while filled < bytes.len() {
        filled +=
            rustix::rand::getrandom(&mut bytes[filled..], rustix::rand::GetRandomFlags::empty())?;
    }
    let key = ShareKey::new(bytes);
    let tmp = dir.join(format!(".{FILE_NAME}.{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    let written = f
        .write_all(key.to_hex().as_bytes())
        .and_then(|()| f.sync_all())
        .and_then(|()| std::fs::rename(&tmp, dir.join(FILE_NAME)));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map(|()| key)
}

/// The share key as the server reads it: one stat of the file per
/// request that carries a link, a read when the file changed.
#[derive(Debug, Default)]
pub struct ShareKeyFile {
    path: Option<PathBuf>,
    cached: Mutex<Option<(FileStamp, Option<ShareKey>)>>,
}

/// What identifies one version of the key file.
type FileStamp = (u64, i64, i64, u64);

impl ShareKeyFile {
    /// The key kept in `path` (`None`: share links are off).
    pub fn new(path: Option<PathBuf>) -> ShareKeyFile {
        ShareKeyFile {
            path,
            cached: Mutex::new(None),
        }
    }

    /// The key now. A missing or unreadable file means no link is valid.
    pub fn current(&self) -> Option<ShareKey> {
        use std::os::unix::fs::MetadataExt;
        let path = self.path.as_ref()?;
        let meta = std::fs::metadata(path).ok()?;
        let stamp = (meta.ino(), meta.mtime(), meta.mtime_nsec(), meta.len());
        let mut cached = self.cached.lock().ok()?;
        if let Some((s, key)) = cached.as_ref() {
            if *s == stamp {
                return key.clone();
            }
        }
        let key = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| ShareKey::from_hex(&t));
        *cached = Some((stamp, key.clone()));
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotated_key_is_private_and_replaces_the_old() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("pared-key-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = load_or_create(&dir).unwrap();
        assert_eq!(load_or_create(&dir).unwrap(), first);
        let mode = std::fs::metadata(dir.join(FILE_NAME))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let reader = ShareKeyFile::new(Some(dir.join(FILE_NAME)));
        assert_eq!(reader.current(), Some(first.clone()));
        let second = rotate(&dir).unwrap();
        assert_ne!(first, second);
        assert_eq!(reader.current(), Some(second));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
