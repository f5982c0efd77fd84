//! Where a response body goes: stdout or a download file written beside
//! its target and renamed into place only when complete (a `-C` partial
//! keeps its validator), checked against the digests the server sent.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use pared_core::digest::{self, Digest, Hasher};
use pared_core::fetch::{self, BodyUse};

use super::error::ClientError;
use super::job::{stdout_error, UPLOAD_CHUNK};
use super::progress::Progress;

/// Temporaries to remove if SIGINT or SIGTERM ends the command.
fn temporaries() -> &'static std::sync::Mutex<Vec<PathBuf>> {
    static TEMPS: std::sync::OnceLock<std::sync::Mutex<Vec<PathBuf>>> = std::sync::OnceLock::new();
    TEMPS.get_or_init(Default::default)
}

pub(crate) fn register_temporary(p: &Path) {
    if let Ok(mut t) = temporaries().lock() {
        t.push(p.to_owned());
    }
}

pub(crate) fn unregister_temporary(p: &Path) {
    if let Ok(mut t) = temporaries().lock() {
        t.retain(|x| x != p);
    }
}

/// On SIGINT or SIGTERM, removes the download temporaries in progress (a
/// `-C` partial is kept for the resume) and exits with 128 + the signal,
/// as a shell expects. Installed once per process by the client runs.
pub fn remove_temporaries_on_signal() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
            return;
        };
        let _ = std::thread::Builder::new()
            .name("pared-signals".into())
            .spawn(move || {
                if let Some(sig) = signals.forever().next() {
                    if let Ok(t) = temporaries().lock() {
                        for p in t.iter() {
                            let _ = std::fs::remove_file(p);
                        }
                    }
                    std::process::exit(128 + sig);
                }
            });
    });
}

/// Removes the download temporaries of `name` beside `path` that a
/// killed client left (`.NAME.pared-part-PID` whose PID is no running
/// pared), if they are this user's regular files; links are left alone.
fn remove_stale_temporaries(path: &Path, name: &std::ffi::OsStr) {
    use std::os::unix::fs::MetadataExt;
    let Some(name) = name.to_str() else {
        return;
    };
    let prefix = format!(".{name}.pared-part-");
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let me = rustix::process::geteuid().as_raw();
    for e in entries.flatten() {
        let file_name = e.file_name();
        let Some(pid) = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let ours = std::fs::symlink_metadata(e.path()).is_ok_and(|m| m.is_file() && m.uid() == me);
        if ours && pid != std::process::id() && !crate::fs::pared_alive(pid) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// `O_NOFOLLOW`, for opening a partial download.
fn libc_nofollow() -> i32 {
    rustix::fs::OFlags::NOFOLLOW.bits() as i32
}

/// The partial download at `tmp`, if it is one to trust: a regular file
/// (not a link: opened with `O_NOFOLLOW`), owned by this user and not
/// writable by group or others. `Ok(None)`: nothing there, or not ours.
pub(crate) fn open_trusted_partial(tmp: &Path) -> io::Result<Option<File>> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let file = match File::options()
        .read(true)
        .custom_flags(libc_nofollow())
        .open(tmp)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        // ELOOP: a symlink at the partial's name.
        Err(_) => return Ok(None),
    };
    let m = file.metadata()?;
    let ours =
        m.is_file() && m.uid() == rustix::process::geteuid().as_raw() && m.mode() & 0o022 == 0;
    Ok(ours.then_some(file))
}

/// The stable name of a resumable partial download: `.NAME.pared-part`.
pub fn partial_path(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(".pared-part");
    Some(path.with_file_name(tmp_name))
}

/// The extended attribute that keeps a partial download's validator.
const VALIDATOR_XATTR: &str = "user.pared.validator";

pub(crate) fn read_validator(file: &File) -> Option<String> {
    let mut buf = [0u8; 512];
    let n = rustix::fs::fgetxattr(file, VALIDATOR_XATTR, &mut buf[..]).ok()?;
    let v = std::str::from_utf8(buf.get(..n)?).ok()?;
    (!v.is_empty()).then(|| v.to_owned())
}

/// Digests a body must match, with their running hashes.
#[derive(Debug)]
pub struct Check {
    repr: Vec<Digest>,
    content: Vec<Digest>,
    repr_hash: Option<Hasher>,
    content_hash: Option<Hasher>,
}

impl Check {
    pub(crate) fn new(repr: Vec<Digest>, content: Vec<Digest>) -> Check {
        Check {
            repr_hash: (!repr.is_empty()).then(|| Hasher::for_checking(&repr)),
            content_hash: (!content.is_empty()).then(|| Hasher::for_checking(&content)),
            repr,
            content,
        }
    }

    /// Bytes held from before (a resumed download): the representation only.
    pub(crate) fn held(&mut self, data: &[u8]) {
        if let Some(h) = &mut self.repr_hash {
            h.update(data);
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        self.held(data);
        if let Some(h) = &mut self.content_hash {
            h.update(data);
        }
    }

    pub(crate) fn verify(self) -> Result<(), ClientError> {
        if let Some(h) = self.repr_hash {
            if !digest::matches(&self.repr, &h.finish()) {
                return Err(ClientError::DigestMismatch {
                    field: "Repr-Digest",
                });
            }
        }
        if let Some(h) = self.content_hash {
            if !digest::matches(&self.content, &h.finish()) {
                return Err(ClientError::DigestMismatch {
                    field: "Content-Digest",
                });
            }
        }
        Ok(())
    }
}

/// Where a response body goes, with its progress line and digest check.
#[derive(Debug)]
pub struct Sink {
    pub(crate) kind: SinkKind,
    pub(crate) progress: Progress,
    pub(crate) check: Check,
    /// A resumed download the server says is already whole.
    pub(crate) complete: bool,
    /// `--max-filesize`, and the bytes received so far.
    pub(crate) max: Option<u64>,
    pub(crate) received: u64,
}

#[derive(Debug)]
pub(crate) enum SinkKind {
    /// Standard output; `terminal` when it is one (every chunk is then
    /// checked for bytes a terminal would act on).
    Stdout { out: io::Stdout, terminal: bool },
    /// A file written atomically.
    File(Download),
    /// Nowhere: an error body with `-o`, or a 416 that completes a resume.
    Discard,
    /// Gathered (at most [`LISTING_MAX`] bytes), then printed as a table
    /// of a folder's members (a PROPFIND's 207).
    Listing(Vec<u8>),
    /// A failure's short plain-text explanation, gathered (at most
    /// [`EXPLANATION_MAX`] bytes) and shown on stderr after `line` (the
    /// status), in one line.
    Explain {
        /// `pared: server answered 403 Forbidden` and the like.
        line: String,
        /// The body so far.
        body: Vec<u8>,
    },
}

/// The longest error body shown as an explanation.
pub const EXPLANATION_MAX: usize = 512;

/// The failure line with the server's explanation, if its body has one
/// (its first line; a body that only repeats the status adds nothing).
pub fn explained(line: &str, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let first = text.lines().next().unwrap_or("").trim();
    // pared's own bodies start with the status ("403 Forbidden: why").
    let status = line.rsplit("answered ").next().unwrap_or("");
    let why = first
        .strip_prefix(status)
        .map(|rest| rest.trim_start_matches(':').trim())
        .unwrap_or(first);
    if why.is_empty() {
        line.to_owned()
    } else {
        format!("{line}: {}", fetch::escape_for_terminal(why))
    }
}

/// The largest 207 a client lists.
pub const LISTING_MAX: usize = 64 << 20;

impl Sink {
    /// Writes body bytes.
    pub fn write(&mut self, data: &[u8]) -> Result<(), ClientError> {
        if self.complete {
            return Ok(());
        }
        self.received += data.len() as u64;
        if let Some(max) = self.max.filter(|&m| self.received > m) {
            if let SinkKind::File(dl) = &mut self.kind {
                dl.discard();
            }
            return Err(ClientError::TooLarge { max });
        }
        self.check.update(data);
        match &mut self.kind {
            SinkKind::Stdout { out, terminal } => {
                if *terminal && fetch::looks_binary(data) {
                    let _ = out.flush();
                    return Err(ClientError::BinaryToTerminal);
                }
                out.write_all(data).map_err(stdout_error)?;
            }
            SinkKind::File(dl) => dl.write(data)?,
            SinkKind::Discard => {}
            SinkKind::Listing(buf) => {
                if buf.len() + data.len() > LISTING_MAX {
                    return Err(ClientError::Listing {
                        reason: "the answer is too large".into(),
                    });
                }
                buf.extend_from_slice(data);
            }
            SinkKind::Explain { body, .. } => {
                let room = EXPLANATION_MAX.saturating_sub(body.len());
                body.extend_from_slice(&data[..data.len().min(room)]);
            }
        }
        self.progress.add(data.len());
        Ok(())
    }

    /// The body is complete: check its digests, then flush, or move the
    /// file into place. A digest mismatch leaves no output file.
    pub fn finish(mut self) -> Result<(), ClientError> {
        self.progress.finish();
        if let Err(e) = self.check.verify() {
            if let SinkKind::File(dl) = &mut self.kind {
                dl.discard();
            }
            return Err(e);
        }
        match self.kind {
            SinkKind::Stdout { mut out, .. } => out.flush().map_err(stdout_error),
            SinkKind::File(dl) => dl.commit(),
            SinkKind::Discard => Ok(()),
            SinkKind::Listing(buf) => print_listing(&buf),
            SinkKind::Explain { line, body } => {
                eprintln!("{}", explained(&line, &body));
                Ok(())
            }
        }
    }
}

/// A download to a temporary file beside the target, renamed into place
/// only when the body is complete; dropped unfinished, it is removed.
///
/// When the target exists and is not a regular file (`/dev/null`, a fifo,
/// a terminal) it is written directly: renaming over a device would
/// replace it.
#[derive(Debug)]
pub struct Download {
    file: Option<File>,
    /// The temporary's path; empty when writing directly or once renamed.
    tmp: PathBuf,
    path: PathBuf,
    /// `-C`: keep the temporary when the download fails, to resume it.
    keep: bool,
    /// Without `-C`: the validator under which a download that is cut
    /// (not refused, not discarded) is kept as the resumable partial, so
    /// the same command with `-C` resumes it, as browsers and wget do.
    salvage: Option<String>,
}

impl Download {
    /// Creates the temporary file for `path`.
    pub fn create(path: &Path) -> Result<Download, ClientError> {
        let local = |source| ClientError::Local {
            path: path.display().to_string(),
            source,
        };
        if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
            let file = File::options().write(true).open(path).map_err(local)?;
            return Ok(Download {
                file: Some(file),
                tmp: PathBuf::new(),
                path: path.to_owned(),
                keep: false,
                salvage: None,
            });
        }
        let name = path
            .file_name()
            .ok_or_else(|| local(io::Error::other("not a file name")))?;
        remove_stale_temporaries(path, name);
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".pared-part-{}", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(local)?;
        register_temporary(&tmp);
        Ok(Download {
            file: Some(file),
            tmp,
            path: path.to_owned(),
            keep: false,
            salvage: None,
        })
    }

    /// The resumable partial for `path` (`-C`): appended to for
    /// [`BodyUse::Append`], kept as it is for [`BodyUse::Complete`], and
    /// started afresh otherwise. It survives a failed download.
    pub fn partial(path: &Path, body: BodyUse) -> Result<Download, ClientError> {
        let local = |source| ClientError::Local {
            path: path.display().to_string(),
            source,
        };
        if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
            return Download::create(path);
        }
        let tmp = partial_path(path).ok_or_else(|| local(io::Error::other("not a file name")))?;
        let mut options = File::options();
        match body {
            BodyUse::Append | BodyUse::Complete => options.append(true).read(true),
            _ => options.write(true).read(true).create(true).truncate(true),
        };
        let file = match body {
            // Append only to a partial of our own (checked again here: the
            // one the resume was planned on may have been swapped).
            BodyUse::Append | BodyUse::Complete => match open_trusted_partial(&tmp) {
                Ok(Some(_)) => {
                    options.custom_flags(libc_nofollow());
                    options.open(&tmp).map_err(local)?
                }
                _ => {
                    return Err(local(io::Error::other(
                        "the partial download changed under us",
                    )))
                }
            },
            // Starting over: whatever is at the partial's name (a planted
            // link, another user's file) is removed, and a new file made
            // that nobody else can have opened.
            _ => {
                let _ = std::fs::remove_file(&tmp);
                let mut fresh = File::options();
                fresh
                    .write(true)
                    .read(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(libc_nofollow());
                fresh.open(&tmp).map_err(local)?
            }
        };
        Ok(Download {
            file: Some(file),
            tmp,
            path: path.to_owned(),
            keep: true,
            salvage: None,
        })
    }

    /// Records the validator a later `-C` sends as If-Range (best effort:
    /// without extended attributes a later resume starts over).
    pub(crate) fn keep_validator(&self, validator: &str) {
        if let Some(f) = &self.file {
            let _ = rustix::fs::fsetxattr(
                f,
                VALIDATOR_XATTR,
                validator.as_bytes(),
                rustix::fs::XattrFlags::empty(),
            );
        }
    }

    /// Feeds the bytes already held to the representation digest check.
    pub(crate) fn prehash(&self, check: &mut Check) -> Result<(), ClientError> {
        let Some(f) = &self.file else { return Ok(()) };
        if check.repr_hash.is_none() {
            return Ok(());
        }
        use std::os::unix::fs::FileExt;
        let mut buf = vec![0u8; UPLOAD_CHUNK];
        let mut at = 0u64;
        loop {
            let n = f
                .read_at(&mut buf, at)
                .map_err(|source| ClientError::Local {
                    path: self.tmp.display().to_string(),
                    source,
                })?;
            if n == 0 {
                return Ok(());
            }
            check.held(&buf[..n]);
            at += n as u64;
        }
    }

    /// Keeps a download that is cut as the resumable partial under
    /// `validator` (a download without `-C` of a body that has one).
    pub(crate) fn salvage_as(&mut self, validator: &str) {
        self.salvage = Some(validator.to_owned());
    }

    /// Drops the download whatever `-C` says (its bytes are bad).
    fn discard(&mut self) {
        self.keep = false;
        self.salvage = None;
    }

    /// Moves a cut download to the resumable partial's name with its
    /// validator; false when there is nothing worth keeping.
    fn keep_as_partial(&mut self, validator: &str) -> bool {
        let Some(partial) = partial_path(&self.path) else {
            return false;
        };
        let held = std::fs::metadata(&self.tmp).map_or(0, |m| m.len());
        if held == 0 {
            return false;
        }
        if let Some(f) = self.file.take() {
            let _ = rustix::fs::fsetxattr(
                &f,
                VALIDATOR_XATTR,
                validator.as_bytes(),
                rustix::fs::XattrFlags::empty(),
            );
        }
        let _ = std::fs::remove_file(&partial);
        if std::fs::rename(&self.tmp, &partial).is_err() {
            return false;
        }
        unregister_temporary(&self.tmp);
        eprintln!(
            "pared: the transfer was cut after {held} bytes; kept as {} (the same command \
             with -C resumes it)",
            partial.display()
        );
        true
    }

    pub(crate) fn write(&mut self, data: &[u8]) -> Result<(), ClientError> {
        match &mut self.file {
            Some(f) => f.write_all(data).map_err(|source| ClientError::Local {
                path: self.path.display().to_string(),
                source,
            }),
            None => Ok(()),
        }
    }

    pub(crate) fn commit(mut self) -> Result<(), ClientError> {
        let local = |source| ClientError::Local {
            path: self.path.display().to_string(),
            source,
        };
        let file = self.file.take();
        if self.tmp.as_os_str().is_empty() {
            return Ok(()); // written directly to a device or fifo
        }
        if let Some(f) = file {
            f.sync_all().map_err(local)?;
        }
        std::fs::rename(&self.tmp, &self.path).map_err(local)?;
        unregister_temporary(&self.tmp);
        self.tmp = PathBuf::new();
        if self.keep {
            // The validator belonged to the partial; the file is whole now.
            let _ = rustix::fs::removexattr(&self.path, VALIDATOR_XATTR);
        }
        Ok(())
    }
}

impl Drop for Download {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() && !self.keep {
            if let Some(v) = self.salvage.take() {
                if self.keep_as_partial(&v) {
                    return;
                }
            }
            self.file = None;
            let _ = std::fs::remove_file(&self.tmp);
            unregister_temporary(&self.tmp);
        }
    }
}

/// Prints a folder's members (from a 207) as a table: kind, size, last
/// modified, name; server text escaped for the terminal.
fn print_listing(body: &[u8]) -> Result<(), ClientError> {
    use pared_core::dav::listing::members;
    let members = members(body).map_err(|e| ClientError::Listing {
        reason: e.to_string(),
    })?;
    let mut out = String::new();
    for (i, m) in members.iter().enumerate() {
        // The first member is the folder itself.
        let name = if i == 0 {
            ".".to_owned()
        } else {
            let trimmed = m.href.trim_end_matches('/');
            let base = trimmed.rsplit('/').next().unwrap_or(trimmed);
            if m.collection {
                format!("{base}/")
            } else {
                base.to_owned()
            }
        };
        let size = match (m.collection, m.length) {
            (true, _) => "-".to_owned(),
            (false, Some(n)) => n.to_string(),
            (false, None) => "?".to_owned(),
        };
        out.push_str(&format!(
            "{:<4} {:>12}  {:<29}  {}\n",
            if m.collection { "dir" } else { "file" },
            size,
            m.modified.as_deref().unwrap_or("-"),
            fetch::escape_for_terminal(&name)
        ));
    }
    io::stdout()
        .write_all(out.as_bytes())
        .map_err(super::job::stdout_error)
}
