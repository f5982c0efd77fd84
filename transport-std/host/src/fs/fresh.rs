//! Metadata that does not trust the kernel's caches, for the checks a
//! conditional write makes under its lock.
//!
//! On a local file system the kernel's view is the truth. On a network or
//! FUSE file system (NFS, GlusterFS) it is a cache: another host may have
//! replaced the file a moment ago while this host still reports the old
//! size, time or inode. `statx` with `AT_STATX_FORCE_SYNC` asks the file
//! server instead (NFS and FUSE honour it; local file systems ignore it at
//! no cost). The path lookup itself still goes through the kernel's name
//! cache, which only the mount's entry timeout governs: the README says
//! which mount settings several hosts need.

use std::io;
use std::os::fd::AsFd;
use std::time::{Duration, UNIX_EPOCH};

use pared_core::service::{FileKind, Meta};
use rustix::fs::{AtFlags, FileType, StatxFlags};

const WANTED: StatxFlags = StatxFlags::TYPE
    .union(StatxFlags::INO)
    .union(StatxFlags::SIZE)
    .union(StatxFlags::MTIME);

pub(super) fn meta_from(st: &rustix::fs::Statx) -> Meta {
    let kind = match FileType::from_raw_mode(u32::from(st.stx_mode)) {
        FileType::RegularFile => FileKind::File,
        FileType::Directory => FileKind::Dir,
        _ => FileKind::Other,
    };
    let modified = (st.stx_mtime.tv_sec >= 0)
        .then(|| UNIX_EPOCH + Duration::new(st.stx_mtime.tv_sec as u64, st.stx_mtime.tv_nsec));
    Meta {
        kind,
        len: st.stx_size,
        modified,
        id: st.stx_ino,
    }
}

/// The metadata of an open file, from the file server.
pub fn meta_of_fd(fd: impl AsFd) -> io::Result<Meta> {
    let st = rustix::fs::statx(
        fd,
        "",
        AtFlags::EMPTY_PATH | AtFlags::STATX_FORCE_SYNC,
        WANTED,
    )?;
    Ok(meta_from(&st))
}

/// The metadata of `name` in `dir` (a final symlink not followed), from
/// the file server; `Ok(None)` when nothing is there.
pub fn meta_at(dir: impl AsFd, name: &str) -> io::Result<Option<Meta>> {
    match rustix::fs::statx(
        dir,
        name,
        AtFlags::SYMLINK_NOFOLLOW | AtFlags::STATX_FORCE_SYNC,
        WANTED,
    ) {
        Ok(st) => Ok(Some(meta_from(&st))),
        Err(rustix::io::Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The kind of a network or FUSE file system, from its magic number.
fn shared_kind(magic: u64) -> Option<&'static str> {
    Some(match magic {
        0x6573_5546 => "FUSE (GlusterFS, sshfs, …)",
        0x6969 => "NFS",
        0xFF53_4D42 | 0xFE53_4D42 => "CIFS/SMB",
        0x00C3_6400 => "CephFS",
        _ => return None,
    })
}

/// Whether the file system `fd` is on is a network or FUSE one.
pub(super) fn is_shared(fd: impl AsFd) -> bool {
    rustix::fs::fstatfs(fd).is_ok_and(|st| {
        #[allow(clippy::useless_conversion, clippy::unnecessary_cast)]
        let magic = (st.f_type as i64 as u64) & 0xFFFF_FFFF;
        shared_kind(magic).is_some()
    })
}

impl super::Root {
    /// A warning for the start-up lines when the root is on a network or
    /// FUSE file system, where several hosts need cache settings pared
    /// cannot check (the README says which); `None` on a local one.
    pub fn shared_fs_warning(&self) -> Option<String> {
        let st = rustix::fs::fstatfs(&*self.fd).ok()?;
        #[allow(clippy::useless_conversion, clippy::unnecessary_cast)]
        let magic = (st.f_type as i64 as u64) & 0xFFFF_FFFF;
        let kind = shared_kind(magic)?;
        Some(format!(
            "the root is on {kind}: one pared host is safe; for several hosts on it, turn the \
             client's entry and attribute caches off (README: \"Several hosts on one shared \
             file system\")"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_fstat_on_a_local_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), b"12345").unwrap();
        let d = std::fs::File::open(dir.path()).unwrap();
        let f = std::fs::File::open(dir.path().join("f")).unwrap();
        let by_fd = meta_of_fd(&f).unwrap();
        let by_name = meta_at(&d, "f").unwrap().unwrap();
        assert_eq!(by_fd, by_name);
        assert_eq!(by_fd, super::super::meta_of(&f).unwrap());
        assert_eq!(by_fd.len, 5);
        assert!(meta_at(&d, "missing").unwrap().is_none());
    }

    #[test]
    fn network_file_systems_are_named() {
        assert!(shared_kind(0x6573_5546).is_some_and(|k| k.starts_with("FUSE")));
        assert_eq!(shared_kind(0x6969), Some("NFS"));
        assert_eq!(shared_kind(0xEF53), None, "ext4");
    }
}
