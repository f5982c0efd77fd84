//! The sha-256 of a file version kept beside it, in an extended attribute
//! tagged with the version's ETag, so a stale digest is never served.

use std::fs::File;
use std::io::{self};

use super::meta_of;
use crate::digest_cache::DigestCache;
use pared_core::digest::{self, Algorithm, Digest, Hasher};
use pared_core::service::Meta;

/// The extended attribute that keeps a file's sha-256, tagged with the
/// ETag of the version it was computed for (so it is never served stale).
pub const DIGEST_XATTR: &str = "user.pared.repr-digest";

/// The digest kept for `file` if it was recorded for this `etag`.
pub(super) fn stored_digest(file: &File, etag: &str) -> Option<Digest> {
    let mut buf = [0u8; 256];
    let n = rustix::fs::fgetxattr(file, DIGEST_XATTR, &mut buf[..]).ok()?;
    let record = std::str::from_utf8(buf.get(..n)?).ok()?;
    digest::from_record(record, etag)
}

/// Keeps `digest` beside `file` for the version `etag`; best effort (a
/// file system without user extended attributes keeps nothing).
pub(super) fn keep_digest(file: &File, etag: &str, digest: &Digest) {
    let record = digest::record(etag, digest);
    let _ = rustix::fs::fsetxattr(
        file,
        DIGEST_XATTR,
        record.as_bytes(),
        rustix::fs::XattrFlags::empty(),
    );
}

/// Reads the whole of `file` (version `meta`) and returns its `alg`
/// digest; keeps the sha-256 (in the file's attribute and in `digests`)
/// for next time when the file did not change while it was read.
pub(super) fn compute_digest(
    file: &File,
    meta: &Meta,
    alg: Algorithm,
    digests: &DigestCache,
) -> io::Result<Digest> {
    use std::os::unix::fs::FileExt;
    let mut hasher = Hasher::new(alg == Algorithm::Sha512);
    let mut buf = vec![0u8; 256 * 1024];
    let mut at = 0u64;
    while at < meta.len {
        let want = usize::try_from(meta.len - at).map_or(buf.len(), |n| n.min(buf.len()));
        let n = file.read_at(&mut buf[..want], at)?;
        if n == 0 {
            return Err(io::Error::other("file shrank while hashing"));
        }
        hasher.update(&buf[..n]);
        at += n as u64;
    }
    let after = meta_of(file)?;
    if after.version() != meta.version() {
        return Err(io::Error::other("file changed while hashing"));
    }
    let all = hasher.finish();
    if let Some(sha256) = all.iter().find(|d| d.alg == Algorithm::Sha256) {
        keep_digest(file, &meta.etag(), sha256);
        digests.put(meta.version(), Some(sha256.clone()));
    }
    all.into_iter()
        .find(|d| d.alg == alg)
        .ok_or_else(|| io::Error::other("digest not computed"))
}
