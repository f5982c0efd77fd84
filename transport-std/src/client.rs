//! The blocking client, and the pieces every client runtime shares: the
//! job (what to show, where the body goes), its typed errors, the output
//! sink and the progress line.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pared_core::client::{Connection, Event};
use pared_core::digest::{self, Digest, Hasher};
use pared_core::fetch::{self, BodyUse, Resume, Session, Verdict};
use pared_core::{ClientOptions, Method, ProtocolError, ResponseHead, UsageError};
use pared_core::methods::{Methods, Shown};

use crate::buf::RecvBuf;
use crate::tls::{handshake, ClientTrust, Tls, TlsFailure, Wire};

/// Why a client command failed; each maps to one exit code and one line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The host name did not resolve.
    #[error("cannot resolve {host}: {source}")]
    Resolve {
        /// The name.
        host: String,
        /// What the resolver said.
        source: io::Error,
    },
    /// No address of the host accepted a connection.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The address tried last.
        addr: String,
        /// Why.
        source: io::Error,
    },
    /// Connecting or reading took longer than the timeout.
    #[error("timed out {during}")]
    Timeout {
        /// What was going on.
        during: &'static str,
    },
    /// The connection failed while sending or receiving.
    #[error("connection to {url} failed: {source}")]
    Network {
        /// The URL of the exchange.
        url: String,
        /// Why.
        source: io::Error,
    },
    /// The server broke the protocol (or closed too early).
    #[error("bad response from {url}: {source}")]
    Protocol {
        /// The URL of the exchange.
        url: String,
        /// What was wrong.
        source: ProtocolError,
    },
    /// The request could not be built or a redirect not followed.
    #[error(transparent)]
    Fetch(#[from] fetch::FetchError),
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Local {
        /// The file.
        path: String,
        /// Why.
        source: io::Error,
    },
    /// Binary output refused on a terminal.
    #[error("binary output not shown on a terminal; use -o FILE (or redirect stdout)")]
    BinaryToTerminal,
    /// The body does not match the digest the server sent with it.
    #[error(
        "{field} mismatch: the body received is not what the server described (nothing saved)"
    )]
    DigestMismatch {
        /// `Repr-Digest` or `Content-Digest`.
        field: &'static str,
    },
    /// The body is larger than `--max-filesize`.
    #[error("the body is larger than --max-filesize ({max} bytes); nothing saved")]
    TooLarge {
        /// The limit.
        max: u64,
    },
    /// The whole command took longer than `--max-time`.
    #[error("gave up after --max-time ({secs} s)")]
    MaxTime {
        /// The limit in seconds.
        secs: f64,
    },
    /// TLS failed: a certificate that does not verify, or the handshake.
    #[error("{host}: {reason}")]
    Tls {
        /// The server.
        host: String,
        /// Why, in one line.
        reason: String,
    },
    /// A bug: pared-core refused how it was called.
    #[error("internal error: {0}")]
    Usage(#[from] UsageError),
}

impl ClientError {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::Resolve { .. }
            | ClientError::Connect { .. }
            | ClientError::Timeout { .. }
            | ClientError::Network { .. }
            | ClientError::Protocol { .. }
            | ClientError::TooLarge { .. }
            | ClientError::MaxTime { .. } => fetch::EXIT_NETWORK,
            ClientError::Fetch(e) => e.exit_code(),
            ClientError::Local { .. } | ClientError::BinaryToTerminal => fetch::EXIT_LOCAL,
            ClientError::DigestMismatch { .. } => fetch::EXIT_DIGEST,
            ClientError::Tls { .. } => fetch::EXIT_TLS,
            ClientError::Usage(_) => fetch::EXIT_NETWORK,
        }
    }
}

/// What the user asked for besides the request itself.
#[derive(Debug, Clone)]
pub struct Job {
    /// The local file streamed as the PUT body.
    pub upload: Option<PathBuf>,
    /// Write the body here instead of stdout (atomically).
    pub output: Option<PathBuf>,
    /// `-i`: the response head to stderr.
    pub show_response_head: bool,
    /// `-v`: both heads to stderr.
    pub verbose: bool,
    /// `-C`: keep a failed `-o` download's partial file and resume it.
    pub resume: bool,
    /// `--max-filesize`: refuse a longer body.
    pub max_filesize: Option<u64>,
    /// How https servers are verified (`--cacert`, `-k`).
    pub trust: ClientTrust,
}

impl Job {
    /// Opens the upload file and returns it with its length.
    pub fn open_upload(&self) -> Result<Option<(File, u64)>, ClientError> {
        let Some(path) = &self.upload else {
            return Ok(None);
        };
        let local = |source| ClientError::Local {
            path: path.display().to_string(),
            source,
        };
        let file = File::open(path).map_err(|e| ClientError::Local {
            path: format!(
                "{} (the local file to upload; --upload-from FILE picks another)",
                path.display()
            ),
            source: e,
        })?;
        let meta = file.metadata().map_err(local)?;
        if !meta.is_file() {
            return Err(local(io::Error::other("not a regular file")));
        }
        Ok(Some((file, meta.len())))
    }

    /// The TLS configuration for https exchanges (`-k` warns once).
    pub fn tls_config(&self) -> Result<std::sync::Arc<rustls::ClientConfig>, ClientError> {
        static WARNED: std::sync::Once = std::sync::Once::new();
        if self.trust.insecure {
            WARNED.call_once(|| {
                eprintln!(
                    "pared: warning: -k: the server's certificate is not verified (encrypted, \
                     but anyone on the path could pose as the server)"
                );
            });
        }
        crate::tls::client_config(&self.trust).map_err(|f| ClientError::Tls {
            host: "TLS".into(),
            reason: f.0,
        })
    }

    /// The partial download `-C` would continue: its length and the
    /// validator of the version it came from. `None` when there is none,
    /// or it has no validator (then the download starts over).
    pub fn resume_point(&self) -> Option<Resume> {
        let path = self.output.as_ref().filter(|_| self.resume)?;
        let part = partial_path(path)?;
        let len = std::fs::metadata(&part).ok()?.len();
        let file = File::open(&part).ok()?;
        let validator = read_validator(&file)?;
        Some(Resume {
            offset: len,
            validator,
        })
    }

    /// The sha-256 of the upload file, for `--digest`.
    pub fn upload_digest(&self) -> Result<Option<Digest>, ClientError> {
        let Some((mut file, _)) = self.open_upload()? else {
            return Ok(None);
        };
        let path = self.upload.as_ref().map(|p| p.display().to_string());
        let mut hasher = Hasher::new(false);
        let mut buf = vec![0u8; UPLOAD_CHUNK];
        loop {
            let n = file.read(&mut buf).map_err(|source| ClientError::Local {
                path: path.clone().unwrap_or_default(),
                source,
            })?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(hasher.finish().into_iter().next())
    }

    /// Shows the request head as sent, for `-v`.
    pub fn show_request(&self, wire: &[u8]) {
        if self.verbose {
            prefixed("> ", wire);
        }
    }

    /// Shows the response head for `-i`/`-v`, and prints it to stdout for HEAD.
    pub fn show_response(&self, method: &Method, head: &ResponseHead) -> Result<(), ClientError> {
        let mut raw = Vec::new();
        pared_core::write_response(head, &mut raw)?;
        // Server-supplied text never reaches the terminal raw.
        let wire = fetch::escape_for_terminal(&String::from_utf8_lossy(&raw))
            .replace("\\x0d\\x0a", "\r\n")
            .into_bytes();
        if self.verbose {
            prefixed("< ", &wire);
        } else if self.show_response_head {
            let _ = io::stderr().write_all(&wire);
        }
        let shown = Methods::standard().shown_as(method);
        if shown == Shown::Head {
            match self.output_file() {
                // HEAD -o FILE: the head goes into FILE (atomically).
                Some(path) => {
                    let mut dl = Download::create(path)?;
                    dl.write(&wire)?;
                    dl.commit()?;
                }
                None => io::stdout().write_all(&wire).map_err(stdout_error)?,
            }
        } else if shown == Shown::Outcome {
            // The outcome, once: -i and -v add heads on stderr only.
            let line = format!(
                "{} {}\n",
                head.status,
                fetch::escape_for_terminal(&head.reason)
            );
            io::stdout()
                .write_all(line.as_bytes())
                .map_err(stdout_error)?;
        }
        Ok(())
    }

    /// Shows a redirect's head on stderr for `-i`/`-v` (never on stdout).
    fn show_hop(&self, head: &ResponseHead) -> Result<(), ClientError> {
        if !(self.verbose || self.show_response_head) {
            return Ok(());
        }
        let mut raw = Vec::new();
        pared_core::write_response(head, &mut raw)?;
        let wire = fetch::escape_for_terminal(&String::from_utf8_lossy(&raw))
            .replace("\\x0d\\x0a", "\r\n")
            .into_bytes();
        if self.verbose {
            prefixed("< ", &wire);
        } else {
            let _ = io::stderr().write_all(&wire);
        }
        Ok(())
    }

    /// The -o file, unless it is `-` (stdout).
    fn output_file(&self) -> Option<&Path> {
        self.output.as_deref().filter(|p| p.as_os_str() != "-")
    }

    /// Decides what a response head means for the session: `None` when it
    /// is a redirect to follow (its body is dropped), else the head is
    /// shown and the exit code and the sink for its body are returned.
    pub fn deliver(
        &self,
        session: &mut Session,
        method: &Method,
        head: &ResponseHead,
    ) -> Result<Option<(u8, Sink)>, ClientError> {
        match session.on_response(head)? {
            // -i and -v show every hop, as curl does.
            Verdict::Follow => {
                self.show_hop(head)?;
                Ok(None)
            }
            Verdict::Deliver { exit, body } => {
                self.show_response(method, head)?;
                Ok(Some((exit, self.sink(method, head, body)?)))
            }
        }
    }

    /// The sink for the body of `head`: stdout, or the `-o` file — only
    /// for a success; an error body never replaces or touches it.
    pub fn sink(
        &self,
        method: &Method,
        head: &ResponseHead,
        body: BodyUse,
    ) -> Result<Sink, ClientError> {
        let total = pared_core::body::content_length(&head.headers)
            .ok()
            .flatten();
        if body != BodyUse::Error && fetch::declared_too_large(head, self.max_filesize) {
            return Err(ClientError::TooLarge {
                max: self.max_filesize.unwrap_or(0),
            });
        }
        let progress = Progress::new(total);
        let (repr, content) = fetch::body_digests(method, head, body);
        // body_digests checks only Fresh and Append bodies.
        let mut check = Check::new(repr, content);
        if body == BodyUse::Error {
            // Every failure says so on stderr, in one line.
            let mut line = format!(
                "pared: server answered {} {}",
                head.status,
                fetch::escape_for_terminal(&head.reason)
            );
            if head.status.is_redirection() {
                if let Some(loc) = head.headers.get_str("location") {
                    line.push_str(&format!(
                        ", to {} (use -L to follow)",
                        fetch::escape_for_terminal(loc)
                    ));
                }
            }
            if let Some(path) = self.output_file() {
                line.push_str(&format!("; {} left as it was", path.display()));
            }
            eprintln!("{line}");
        }
        let output = self.output_file();
        let kind = match (output, body) {
            // A PUT or DELETE prints its outcome (the status line), not
            // the body; a HEAD has none.
            _ if Methods::standard().shown_as(method) != Shown::Body => SinkKind::Discard,
            (Some(_), BodyUse::Error) => SinkKind::Discard,
            (Some(path), _) if self.resume => {
                let dl = Download::partial(path, body)?;
                if body == BodyUse::Append {
                    dl.prehash(&mut check)?;
                }
                if let Some(v) = fetch::resume_validator(head) {
                    dl.keep_validator(&v);
                }
                SinkKind::File(dl)
            }
            (Some(path), _) => SinkKind::File(Download::create(path)?),
            (None, BodyUse::Complete) => SinkKind::Discard,
            (None, _) => SinkKind::Stdout {
                out: io::stdout(),
                terminal: io::stdout().is_terminal(),
            },
        };
        Ok(Sink {
            kind,
            progress,
            check,
            complete: body == BodyUse::Complete,
            max: self.max_filesize.filter(|_| body != BodyUse::Error),
            received: 0,
        })
    }
}

/// Temporaries to remove if SIGINT or SIGTERM ends the command.
fn temporaries() -> &'static std::sync::Mutex<Vec<PathBuf>> {
    static TEMPS: std::sync::OnceLock<std::sync::Mutex<Vec<PathBuf>>> = std::sync::OnceLock::new();
    TEMPS.get_or_init(Default::default)
}

fn register_temporary(p: &Path) {
    if let Ok(mut t) = temporaries().lock() {
        t.push(p.to_owned());
    }
}

fn unregister_temporary(p: &Path) {
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

fn read_validator(file: &File) -> Option<String> {
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
    fn new(repr: Vec<Digest>, content: Vec<Digest>) -> Check {
        Check {
            repr_hash: (!repr.is_empty()).then(|| Hasher::for_checking(&repr)),
            content_hash: (!content.is_empty()).then(|| Hasher::for_checking(&content)),
            repr,
            content,
        }
    }

    /// Bytes held from before (a resumed download): the representation only.
    fn held(&mut self, data: &[u8]) {
        if let Some(h) = &mut self.repr_hash {
            h.update(data);
        }
    }

    fn update(&mut self, data: &[u8]) {
        self.held(data);
        if let Some(h) = &mut self.content_hash {
            h.update(data);
        }
    }

    fn verify(self) -> Result<(), ClientError> {
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

fn stdout_error(source: io::Error) -> ClientError {
    ClientError::Local {
        path: "stdout".into(),
        source,
    }
}

/// Writes a head to stderr with `prefix` on each line, its closing empty
/// line once.
fn prefixed(prefix: &str, wire: &[u8]) {
    let text = String::from_utf8_lossy(wire);
    let text = text.strip_suffix("\r\n").unwrap_or(&text);
    let mut err = io::stderr().lock();
    for line in text.split("\r\n") {
        let _ = writeln!(err, "{}", format!("{prefix}{line}").trim_end());
    }
}

/// A progress line on stderr for transfers over 1 MiB, only when stderr
/// is a terminal; at most five updates a second.
#[derive(Debug)]
pub struct Progress {
    on: bool,
    total: Option<u64>,
    done: u64,
    start: Instant,
    last: Option<Instant>,
}

impl Progress {
    /// A progress line for a body of `total` bytes, if known.
    pub fn new(total: Option<u64>) -> Progress {
        Progress {
            on: io::stderr().is_terminal(),
            total,
            done: 0,
            start: Instant::now(),
            last: None,
        }
    }

    /// Counts `n` more bytes.
    pub fn add(&mut self, n: usize) {
        self.done += n as u64;
        if !self.on || self.done < (1 << 20) || self.total.is_some_and(|t| t < (1 << 20)) {
            return;
        }
        let now = Instant::now();
        if self
            .last
            .is_some_and(|l| now - l < Duration::from_millis(200))
        {
            return;
        }
        self.last = Some(now);
        let line = fetch::progress_line(self.done, self.total, (now - self.start).as_secs_f64());
        let _ = write!(io::stderr(), "\r{line}\x1b[K");
    }

    /// Ends the line, if one was drawn.
    pub fn finish(&mut self) {
        if self.last.is_some() {
            self.last = None;
            let line =
                fetch::progress_line(self.done, self.total, self.start.elapsed().as_secs_f64());
            let _ = writeln!(io::stderr(), "\r{line}\x1b[K");
        }
    }
}

/// Where a response body goes, with its progress line and digest check.
#[derive(Debug)]
pub struct Sink {
    kind: SinkKind,
    progress: Progress,
    check: Check,
    /// A resumed download the server says is already whole.
    complete: bool,
    /// `--max-filesize`, and the bytes received so far.
    max: Option<u64>,
    received: u64,
}

#[derive(Debug)]
enum SinkKind {
    /// Standard output; `terminal` when it is one (every chunk is then
    /// checked for bytes a terminal would act on).
    Stdout { out: io::Stdout, terminal: bool },
    /// A file written atomically.
    File(Download),
    /// Nowhere: an error body with `-o`, or a 416 that completes a resume.
    Discard,
}

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
            });
        }
        let name = path
            .file_name()
            .ok_or_else(|| local(io::Error::other("not a file name")))?;
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
        let file = options.open(&tmp).map_err(local)?;
        Ok(Download {
            file: Some(file),
            tmp,
            path: path.to_owned(),
            keep: true,
        })
    }

    /// Records the validator a later `-C` sends as If-Range (best effort:
    /// without extended attributes a later resume starts over).
    fn keep_validator(&self, validator: &str) {
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
    fn prehash(&self, check: &mut Check) -> Result<(), ClientError> {
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

    /// Drops the download whatever `-C` says (its bytes are bad).
    fn discard(&mut self) {
        self.keep = false;
    }

    fn write(&mut self, data: &[u8]) -> Result<(), ClientError> {
        match &mut self.file {
            Some(f) => f.write_all(data).map_err(|source| ClientError::Local {
                path: self.path.display().to_string(),
                source,
            }),
            None => Ok(()),
        }
    }

    fn commit(mut self) -> Result<(), ClientError> {
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
            self.file = None;
            let _ = std::fs::remove_file(&self.tmp);
            unregister_temporary(&self.tmp);
        }
    }
}

/// Chunk size for reading an upload file.
pub const UPLOAD_CHUNK: usize = 256 * 1024;

/// Receive buffer for responses.
pub const RECV_CAPACITY: usize = 256 * 1024;

fn connect(host: &str, port: u16, timeout: Option<Duration>) -> Result<TcpStream, ClientError> {
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|source| ClientError::Resolve {
            host: host.to_owned(),
            source,
        })?
        .collect();
    let mut last = None;
    for addr in &addrs {
        let r = match timeout {
            Some(t) => TcpStream::connect_timeout(addr, t),
            None => TcpStream::connect(addr),
        };
        match r {
            Ok(s) => return Ok(s),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                return Err(ClientError::Timeout {
                    during: "connecting",
                })
            }
            Err(e) => last = Some((addr.to_string(), e)),
        }
    }
    let (addr, source) = last.unwrap_or_else(|| (host.to_owned(), io::Error::other("no address")));
    Err(ClientError::Connect { addr, source })
}

/// The time left before `--max-time`, if set: an error once it passed.
pub fn time_left(
    deadline: Option<Instant>,
    opts: &ClientOptions,
) -> Result<Option<Duration>, ClientError> {
    match deadline {
        None => Ok(None),
        Some(d) => match d.checked_duration_since(Instant::now()) {
            Some(left) if !left.is_zero() => Ok(Some(left)),
            _ => Err(ClientError::MaxTime {
                secs: opts.max_time.map_or(0.0, |t| t.as_secs_f64()),
            }),
        },
    }
}

/// The shorter of two optional waits.
pub fn shorter(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Runs a client command: exchanges, redirects followed as the session
/// decides; returns the exit code of the delivered response.
pub fn run(mut session: Session, job: &Job, opts: &ClientOptions) -> Result<u8, ClientError> {
    remove_temporaries_on_signal();
    let deadline = opts.max_time.map(|t| Instant::now() + t);
    loop {
        let hop = session.hop();
        let url = hop.target.url();
        let net = |source| ClientError::Network {
            url: url.clone(),
            source,
        };
        let proto = |source| ClientError::Protocol {
            url: url.clone(),
            source,
        };
        let connect_wait = shorter(opts.connect_timeout, time_left(deadline, opts)?);
        let stream = connect(&hop.target.host, hop.target.port, connect_wait)?;
        let _ = stream.set_nodelay(true);
        let wait = shorter(opts.connection.read_timeout, time_left(deadline, opts)?);
        stream.set_write_timeout(wait).map_err(net)?;
        let mut stream = match hop.target.tls {
            false => Wire::Plain(stream),
            true => {
                stream.set_read_timeout(wait).map_err(net)?;
                let mut tls = Tls::client(job.tls_config()?, &hop.target.host)
                    .map_err(|f| tls_error(&hop.target, f))?;
                handshake(&stream, &mut tls, None).map_err(|e| wire_error(&hop.target, e, &net))?;
                Wire::Tls(stream, Box::new(tls))
            }
        };
        let mut conn = Connection::new(opts.connection);
        let mut out = Vec::new();
        conn.send_request(&hop.head, &mut out, Instant::now())?;
        job.show_request(&out);
        stream.write_all(&out).map_err(net)?;
        let mut write_failed = None;
        if hop.upload {
            if let Some((mut file, _)) = job.open_upload()? {
                write_failed = send_file(&mut stream, &mut file, &mut conn, job, || {
                    time_left(deadline, opts).map(|_| ())
                })
                .err();
            }
        }
        let mut buf = RecvBuf::new(RECV_CAPACITY);
        // The request is out: read the response without blocking (see fill).
        stream.socket().set_nonblocking(true).map_err(net)?;
        let head = loop {
            match conn.handle_input(buf.data(), Instant::now()) {
                Ok((used, Event::Head(head))) => {
                    buf.consume(used);
                    break head;
                }
                Ok((used, _)) => {
                    buf.consume(used);
                    let cap = time_left(deadline, opts)?;
                    fill(&mut stream, &mut buf, &mut conn, cap)
                        .map_err(|e| wire_error(&hop.target, e, &net))?;
                }
                Err(e) => return Err(response_failed(write_failed, e, &url)),
            }
        };
        let Some((exit, mut sink)) = job.deliver(&mut session, &hop.head.method, &head)? else {
            continue; // a redirect the session follows
        };
        loop {
            match conn.handle_input(buf.data(), Instant::now()) {
                Ok((used, Event::Body(data))) => {
                    sink.write(data)?;
                    buf.consume(used);
                }
                Ok((_, Event::End)) => break,
                Ok((used, _)) => {
                    buf.consume(used);
                    let cap = time_left(deadline, opts)?;
                    fill(&mut stream, &mut buf, &mut conn, cap)
                        .map_err(|e| wire_error(&hop.target, e, &net))?;
                }
                Err(e) => return Err(timeout_or(e, proto)),
            }
        }
        sink.finish()?;
        return Ok(exit);
    }
}

/// A TLS failure as the user sees it.
pub fn tls_error(target: &fetch::Target, f: TlsFailure) -> ClientError {
    ClientError::Tls {
        host: target.authority(),
        reason: f.0,
    }
}

/// An I/O error of an exchange: a TLS failure carried inside it, a
/// timeout, or a network error.
pub fn wire_error(
    target: &fetch::Target,
    e: io::Error,
    net: &impl Fn(io::Error) -> ClientError,
) -> ClientError {
    if let Some(f) = crate::tls::tls_failure(&e) {
        return tls_error(target, f);
    }
    if matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    ) {
        return ClientError::Timeout {
            during: "the TLS handshake",
        };
    }
    net(e)
}

/// The error for an exchange whose response failed: a failed upload's own
/// error when there was one (the server may have cut it off), else the
/// response's.
pub fn response_failed(
    write_failed: Option<ClientError>,
    e: ProtocolError,
    url: &str,
) -> ClientError {
    match write_failed {
        Some(ClientError::Network { source, .. }) => ClientError::Network {
            url: url.to_owned(),
            source,
        },
        Some(other) => other,
        None => timeout_or(e, |source| ClientError::Protocol {
            url: url.to_owned(),
            source,
        }),
    }
}

/// Maps core's timeout errors to [`ClientError::Timeout`].
pub fn timeout_or(
    e: ProtocolError,
    other: impl FnOnce(ProtocolError) -> ClientError,
) -> ClientError {
    match e {
        ProtocolError::HeadTimeout => ClientError::Timeout {
            during: "waiting for the response",
        },
        ProtocolError::BodyStalled => ClientError::Timeout {
            during: "reading the response body",
        },
        e => other(e),
    }
}

fn send_file(
    stream: &mut Wire,
    file: &mut File,
    conn: &mut Connection,
    job: &Job,
    in_time: impl Fn() -> Result<(), ClientError>,
) -> Result<(), ClientError> {
    let path = job
        .upload
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let mut chunk = vec![0u8; UPLOAD_CHUNK];
    let mut progress = Progress::new(file.metadata().ok().map(|m| m.len()));
    loop {
        let n = file.read(&mut chunk).map_err(|source| ClientError::Local {
            path: path.clone(),
            source,
        })?;
        if n == 0 {
            break;
        }
        in_time()?;
        conn.send_body(n, Instant::now())?;
        stream
            .write_all(&chunk[..n])
            .map_err(|source| ClientError::Network {
                url: String::new(),
                source,
            })?;
        progress.add(n);
    }
    progress.finish();
    conn.finish_request()?;
    Ok(())
}

/// One read bounded by core's deadline; a timeout becomes core's error.
///
/// The socket is non-blocking: a read that finds nothing waits in `poll`
/// for the time core says is left. (Blocking reads cost about twice the
/// system time on loopback downloads: the reader then does the TCP
/// receive processing itself.)
fn fill(
    stream: &mut Wire,
    buf: &mut RecvBuf,
    conn: &mut Connection,
    cap: Option<Duration>,
) -> io::Result<()> {
    loop {
        match stream.read(buf.spare()) {
            Ok(0) => conn.handle_eof(),
            Ok(n) => buf.filled(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let Ok(left) = conn.time_left(Instant::now()) else {
                    return Ok(()); // sticky: the next handle_input reports it
                };
                // --max-time bounds the wait too; the caller checks it.
                let left = shorter(left, cap);
                if !crate::wait::wait_for(stream.socket(), rustix::event::PollFlags::IN, left)? {
                    // Time ran out (or a signal came): a passed deadline is
                    // recorded, and handle_input reports it.
                    let _ = conn.handle_timeout(Instant::now());
                    return Ok(());
                }
                continue;
            }
            Err(e) => return Err(e),
        }
        return Ok(());
    }
}
