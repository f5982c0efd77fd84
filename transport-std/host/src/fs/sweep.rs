//! The sweep of upload temporaries a crashed or killed pared left behind.
//!
//! A temporary is named `.pared-upload-SPACE-PID-…`: SPACE names the
//! process space its writer ran in (this boot of this machine, and its PID
//! namespace), so on a file system several hosts share, a PID is judged
//! only where it means something. A temporary of this space whose PID is
//! not a live pared is removed; one of another space (another host, a
//! container, an earlier boot) only once it has not been written for
//! [`STALE_AGE`]. Names of the older form `.pared-upload-PID-…` are judged
//! by PID alone. The sweep runs at start-up and every [`SWEEP_EVERY`].

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use super::Root;
use rustix::fs::{AtFlags, FileType, Mode, OFlags};

/// The prefix of every upload temporary's name; the writer's process
/// space and PID follow.
pub const UPLOAD_PREFIX: &str = ".pared-upload-";

/// A temporary of another process space is removed once it has not been
/// written for this long (an upload that sends nothing is cut after the
/// body timeout, 30 s by default, long before).
pub const STALE_AGE: Duration = Duration::from_secs(3600);

/// How often the sweep runs again after start-up.
pub const SWEEP_EVERY: Duration = Duration::from_secs(600);

/// This process's space: `h`, the first 8 hex digits of the kernel's boot
/// id, and the PID namespace's inode in hex. Two processes whose PIDs are
/// comparable share it; another machine, container or boot does not.
pub fn process_space() -> &'static str {
    static SPACE: OnceLock<String> = OnceLock::new();
    SPACE.get_or_init(|| {
        let boot: String = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .unwrap_or_default()
            .chars()
            .filter(char::is_ascii_hexdigit)
            .take(8)
            .collect();
        let ns = rustix::fs::stat("/proc/self/ns/pid").map_or(0, |st| st.st_ino);
        format!("h{boot:0>8}{ns:x}")
    })
}

/// Who wrote a temporary, from its name (after the prefix).
#[derive(Debug, PartialEq, Eq)]
enum Writer<'a> {
    /// A process of `space` with this PID.
    Spaced(&'a str, u32),
    /// The older form: a PID alone.
    Pid(u32),
}

fn writer(rest: &str) -> Option<Writer<'_>> {
    let mut parts = rest.split('-');
    let first = parts.next()?;
    if first.starts_with('h') {
        let pid = parts.next()?.parse().ok()?;
        return Some(Writer::Spaced(first, pid));
    }
    first.parse().ok().map(Writer::Pid)
}

/// True when the temporary `name` (in `dir`) is left over: its writer is
/// gone, or, of another process space, it has not changed for
/// [`STALE_AGE`].
fn is_stale(dir: &impl rustix::fd::AsFd, name: &[u8], rest: &str, now: SystemTime) -> bool {
    match writer(rest) {
        Some(Writer::Spaced(space, pid)) if space == process_space() => !pared_alive(pid),
        Some(Writer::Spaced(..)) => {
            let Ok(st) =
                rustix::fs::statat(dir, OsStr::from_bytes(name), AtFlags::SYMLINK_NOFOLLOW)
            else {
                return false;
            };
            let written = SystemTime::UNIX_EPOCH + Duration::from_secs(st.st_mtime.max(0) as u64);
            now.duration_since(written)
                .is_ok_and(|age| age >= STALE_AGE)
        }
        Some(Writer::Pid(pid)) => !pared_alive(pid),
        None => false,
    }
}

/// True when the process `pid` is alive and is a pared (so its upload
/// temporaries may still be in use).
pub fn pared_alive(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.starts_with(b"pared"))
}

/// Removes the upload temporaries under the root that are left over (see
/// the module). Symlinks are not followed. Returns how many were removed.
pub fn remove_stale_uploads(root: &Root) -> usize {
    let now = SystemTime::now();
    let Ok(top) = rustix::fs::openat(
        &*root.fd,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return 0;
    };
    let mut removed = 0;
    let mut stack = vec![top];
    while let Some(dir) = stack.pop() {
        let Ok(listing) = rustix::fs::Dir::read_from(&dir) else {
            continue;
        };
        let mut subdirs = Vec::new();
        for item in listing.flatten() {
            let raw = item.file_name().to_bytes();
            if raw == b"." || raw == b".." {
                continue;
            }
            if let Some(rest) = raw.strip_prefix(UPLOAD_PREFIX.as_bytes()) {
                let stale = std::str::from_utf8(rest).is_ok_and(|r| is_stale(&dir, raw, r, now));
                if stale
                    && rustix::fs::unlinkat(&dir, OsStr::from_bytes(raw), AtFlags::empty()).is_ok()
                {
                    removed += 1;
                }
                continue;
            }
            // A resumable upload lives across requests and restarts: it
            // goes only once nothing was written to it for its lifetime.
            if raw.starts_with(pared_core::resumable::TEMP_PREFIX.as_bytes()) {
                let expired =
                    rustix::fs::statat(&dir, OsStr::from_bytes(raw), AtFlags::SYMLINK_NOFOLLOW)
                        .ok()
                        .and_then(|st| {
                            let modified = std::time::UNIX_EPOCH
                                + Duration::from_secs(u64::try_from(st.st_mtime).unwrap_or(0));
                            now.duration_since(modified).ok()
                        })
                        .is_some_and(|age| {
                            age >= Duration::from_secs(pared_core::resumable::MAX_AGE_SECS)
                        });
                if expired
                    && rustix::fs::unlinkat(&dir, OsStr::from_bytes(raw), AtFlags::empty()).is_ok()
                {
                    removed += 1;
                }
                continue;
            }
            if item.file_type() == FileType::Directory {
                subdirs.push(raw.to_vec());
            }
        }
        for name in subdirs {
            if let Ok(sub) = rustix::fs::openat(
                &dir,
                OsStr::from_bytes(&name),
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            ) {
                stack.push(sub);
            }
        }
    }
    removed
}

/// Runs [`remove_stale_uploads`] on a thread of its own (a large root takes
/// a while to walk), now and every [`SWEEP_EVERY`], and logs how many it
/// removed. The thread ends with the process.
pub fn sweep_stale_uploads(root: &Root) {
    let root = root.clone();
    let _ = std::thread::Builder::new()
        .name("pared-sweep".into())
        .spawn(move || loop {
            let n = remove_stale_uploads(&root);
            if n > 0 {
                eprintln!(
                    "pared: removed {n} stale upload temporar{} left by a writer that is gone",
                    if n == 1 { "y" } else { "ies" }
                );
            }
            std::thread::sleep(SWEEP_EVERY);
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_tell_the_writer() {
        assert_eq!(
            writer("h0123abcdf0000004-77-0-1a"),
            Some(Writer::Spaced("h0123abcdf0000004", 77))
        );
        assert_eq!(writer("77-0-1a"), Some(Writer::Pid(77)));
        assert_eq!(writer("hx"), None);
        assert_eq!(writer("zz-1"), None);
        let me = process_space();
        assert!(me.starts_with('h') && me.len() > 9, "{me}");
        assert_eq!(writer(&format!("{me}-5-0-0")), Some(Writer::Spaced(me, 5)));
    }

    #[test]
    fn only_what_is_left_over_goes() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path()).unwrap();
        let me = process_space();
        let alive = std::process::id();
        let name = |w: &str| format!("{UPLOAD_PREFIX}{w}-0-0");
        let dead = {
            let mut gone = std::process::Command::new("true").spawn().unwrap();
            let id = gone.id();
            gone.wait().unwrap();
            id
        };
        let files = [
            (name(&format!("{me}-{dead}")), true),
            // Another space's, written just now: its host judges it.
            (name(&format!("h00000000ffff-{alive}")), false),
            (name(&format!("{dead}")), true),
        ];
        for (f, _) in &files {
            std::fs::write(dir.path().join(f), b"x").unwrap();
        }
        // Another space's temporary, untouched for two hours.
        let old = name("h00000000eeee-1");
        let old_path = dir.path().join(&old);
        std::fs::write(&old_path, b"x").unwrap();
        let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
        std::fs::File::options()
            .write(true)
            .open(&old_path)
            .unwrap()
            .set_modified(two_hours_ago)
            .unwrap();
        assert_eq!(remove_stale_uploads(&root), 3);
        for (f, gone) in &files {
            assert_eq!(!dir.path().join(f).exists(), *gone, "{f}");
        }
        assert!(!old_path.exists());
    }
}
