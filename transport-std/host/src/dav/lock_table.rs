//! The lock table every pared process serving a root shares: a dot-file
//! in the root (`.pared-locks`, never served), read and rewritten under an
//! exclusive `flock`, synced, so locks hold across processes and
//! restarts within their timeout.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use pared_core::dav::locks::{decode_table, encode_table, Lock};
use pared_core::service::FsFailure;
use rustix::fs::FlockOperation;

use crate::fs::{failure, Root};

/// The name of the lock table in the root.
pub const LOCK_TABLE: &str = ".pared-locks";

/// Seconds since the epoch.
pub fn unix_now(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Reads the table (expired locks dropped), lets `change` look at it and
/// change it, and writes it back when it changed; all under one lock.
pub fn with_table<R>(
    root: &Root,
    now: SystemTime,
    change: impl FnOnce(&mut Vec<Lock>) -> R,
) -> Result<R, FsFailure> {
    let mut file = root.open_state(LOCK_TABLE, true).map_err(|e| failure(&e))?;
    flock(&file, FlockOperation::LockExclusive)?;
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(|e| failure(&e))?;
    let mut table = decode_table(&text, unix_now(now));
    let before = table.clone();
    let r = change(&mut table);
    if table != before || text.lines().count() != table.len() {
        write_all(&mut file, &encode_table(&table))?;
    }
    Ok(r)
}

/// The current locks (expired ones dropped), read under a shared lock.
/// A root where no lock was ever taken has no table, and no locks.
pub fn read_table(root: &Root, now: SystemTime) -> Result<Vec<Lock>, FsFailure> {
    let mut file = match root.open_state(LOCK_TABLE, false) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(failure(&e)),
    };
    flock(&file, FlockOperation::LockShared)?;
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(|e| failure(&e))?;
    Ok(decode_table(&text, unix_now(now)))
}

fn flock(file: &File, op: FlockOperation) -> Result<(), FsFailure> {
    loop {
        match rustix::fs::flock(file, op) {
            Ok(()) => return Ok(()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(failure(&e.into())),
        }
    }
}

fn write_all(file: &mut File, text: &str) -> Result<(), FsFailure> {
    file.seek(SeekFrom::Start(0)).map_err(|e| failure(&e))?;
    file.set_len(0).map_err(|e| failure(&e))?;
    file.write_all(text.as_bytes()).map_err(|e| failure(&e))?;
    file.sync_data().map_err(|e| failure(&e))
}
