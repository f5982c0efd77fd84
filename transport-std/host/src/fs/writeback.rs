//! Write-back of an upload while it streams in, so the `fsync` that makes
//! it durable at the end finds little left to write.
//!
//! Every [`WINDOW`] bytes the kernel is asked to start writing the window
//! just completed (`sync_file_range(SYNC_FILE_RANGE_WRITE)`, which does
//! not wait), and the writer waits for the window before it to reach the
//! disk. The disk then works while the network delivers, at most two
//! windows are dirty or in flight per upload, and the final sync has at
//! most two windows to wait for. Durability still comes from the final
//! `fsync` alone: `sync_file_range` writes no metadata and promises
//! nothing; it only moves work earlier.
//!
//! Where the call is unsupported (another OS personality, a file system or
//! file type that refuses it), or fails in any way, write-back stops
//! quietly for that upload and everything is left to the final sync, as
//! before; a real I/O error is reported by that sync.
//!
//! This is the crate's one `unsafe` call: neither rustix nor std wraps
//! `sync_file_range`.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// Upload bytes per write-back request.
pub const WINDOW: u64 = 8 << 20;

/// The write-back state of one upload.
#[derive(Debug)]
pub struct WriteBack {
    /// Bytes whose write-back was started.
    started: u64,
    /// False once the file refused `sync_file_range`.
    supported: bool,
}

impl Default for WriteBack {
    fn default() -> WriteBack {
        WriteBack::new()
    }
}

impl WriteBack {
    /// Nothing started yet.
    pub fn new() -> WriteBack {
        WriteBack {
            started: 0,
            supported: true,
        }
    }

    /// True while write-back runs alongside the upload.
    pub fn is_supported(&self) -> bool {
        self.supported
    }

    /// Called after each write, with the bytes written so far: starts
    /// write-back of each completed window and waits for the one before.
    pub fn advance(&mut self, file: &File, written: u64) {
        if !self.supported || written < self.started + WINDOW {
            return;
        }
        let from = self.started;
        let len = written - from;
        let mut ok = sync_file_range(file, from, len, libc::SYNC_FILE_RANGE_WRITE).is_ok();
        if ok && from > 0 {
            let before = from.saturating_sub(WINDOW);
            let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
                | libc::SYNC_FILE_RANGE_WRITE
                | libc::SYNC_FILE_RANGE_WAIT_AFTER;
            ok = sync_file_range(file, before, from - before, flags).is_ok();
        }
        if ok {
            self.started = written;
        } else {
            self.supported = false;
        }
    }

    /// Starts write-back of whatever is not yet started (the last partial
    /// window), without waiting: called when the body is complete, so the
    /// disk works while the digest is finished.
    pub fn finish(&mut self, file: &File, written: u64) {
        if self.supported && written > self.started {
            let len = written - self.started;
            if sync_file_range(file, self.started, len, libc::SYNC_FILE_RANGE_WRITE).is_ok() {
                self.started = written;
            } else {
                self.supported = false;
            }
        }
    }
}

fn sync_file_range(file: &File, offset: u64, len: u64, flags: libc::c_uint) -> io::Result<()> {
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return Err(io::ErrorKind::InvalidInput.into());
    };
    // SAFETY: sync_file_range takes a descriptor and three integers and
    // touches no memory of ours; `file` keeps the descriptor open for the
    // duration of the call.
    let r = unsafe { libc::sync_file_range(file.as_raw_fd(), offset, len, flags) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, Write};

    #[test]
    fn windows_are_started_on_a_regular_file_and_data_is_intact() {
        let mut f = tempfile::tempfile().expect("temporary file");
        let mut wb = WriteBack::new();
        let chunk: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 253) as u8).collect();
        let mut written = 0u64;
        for _ in 0..20 {
            f.write_all(&chunk).expect("write");
            written += chunk.len() as u64;
            wb.advance(&f, written);
        }
        assert!(wb.is_supported());
        assert_eq!(wb.started, 2 * WINDOW, "two whole windows started");
        wb.finish(&f, written);
        assert_eq!(wb.started, written);
        f.rewind().expect("rewind");
        let mut back = Vec::new();
        f.read_to_end(&mut back).expect("read back");
        assert_eq!(back.len() as u64, written);
        assert!(back.chunks(chunk.len()).all(|c| c == chunk.as_slice()));
    }

    #[test]
    fn an_unsupported_file_turns_write_back_off() {
        // A character device: sync_file_range refuses it (ESPIPE).
        let null = File::options()
            .write(true)
            .open("/dev/null")
            .expect("/dev/null");
        let mut wb = WriteBack::new();
        wb.advance(&null, WINDOW);
        assert!(!wb.is_supported());
        // And stays off without calling again.
        wb.advance(&null, 4 * WINDOW);
        wb.finish(&null, 5 * WINDOW);
        assert_eq!(wb.started, 0);
    }
}
