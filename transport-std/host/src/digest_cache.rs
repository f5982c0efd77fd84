//! The sha-256 of each file version, remembered in memory: a GET then
//! needs no extended-attribute read to know whether it can send
//! `Repr-Digest`, and the async runtime can answer it without a blocking
//! step.
//!
//! Entries are keyed by the file's version (file id, length,
//! modification time in nanoseconds), the same identity the ETag and the
//! `user.pared.repr-digest` record are tagged with, so a rewritten file
//! never finds a stale entry: it simply misses. "Nothing recorded" is
//! remembered too. The map is bounded: when full it is emptied and
//! refilled from the extended attributes as files are read again.

use std::collections::HashMap;
use std::sync::Mutex;

use pared_core::digest::Digest;
use pared_core::validators::FileVersion;

/// FileVersions remembered at most (about 100 bytes each).
const CAPACITY: usize = 4096;

/// What is known of one version's sha-256.
#[derive(Debug, Default)]
pub struct DigestCache {
    known: Mutex<HashMap<FileVersion, Option<Digest>>>,
}

impl DigestCache {
    /// An empty cache.
    pub fn new() -> DigestCache {
        DigestCache::default()
    }

    /// `Some(d)`: what is recorded for `version` (`d` is `None` when the
    /// file has no digest recorded); `None`: not known here, ask the file.
    pub fn get(&self, version: &FileVersion) -> Option<Option<Digest>> {
        self.known.lock().ok()?.get(version).cloned()
    }

    /// Remembers what the file records for `version`.
    pub fn put(&self, version: FileVersion, digest: Option<Digest>) {
        if let Ok(mut known) = self.known.lock() {
            if known.len() >= CAPACITY && !known.contains_key(&version) {
                known.clear();
            }
            known.insert(version, digest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pared_core::digest::Algorithm;

    fn version(ino: u64, mtime_ns: u128) -> FileVersion {
        FileVersion::new(ino, 10, mtime_ns)
    }

    #[test]
    fn a_new_version_misses_and_none_is_remembered() {
        let cache = DigestCache::new();
        let d = Digest {
            alg: Algorithm::Sha256,
            bytes: vec![7; 32],
        };
        cache.put(version(1, 5), Some(d.clone()));
        cache.put(version(2, 5), None);
        assert_eq!(cache.get(&version(1, 5)), Some(Some(d)));
        assert_eq!(cache.get(&version(2, 5)), Some(None));
        // The same file rewritten: another mtime, nothing known.
        assert_eq!(cache.get(&version(1, 6)), None);
    }

    #[test]
    fn stays_bounded() {
        let cache = DigestCache::new();
        for i in 0..(CAPACITY as u64 * 3) {
            cache.put(version(i, 1), None);
        }
        let held = cache.known.lock().map(|k| k.len()).unwrap_or(usize::MAX);
        assert!(held <= CAPACITY, "{held} entries held");
        assert_eq!(cache.get(&version(CAPACITY as u64 * 3 - 1, 1)), Some(None));
    }
}
