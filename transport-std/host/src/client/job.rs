//! The job: what the user asked for besides the request itself (what to
//! show, where the body goes, the upload, the TLS trust), and how a
//! response is delivered to it. Shared by every client runtime.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use pared_core::digest::{Digest, Hasher};
use pared_core::fetch::{self, BodyUse, Resume, Session, Verdict};
use pared_core::methods::{Methods, Shown};
use pared_core::{Method, ResponseHead};

use super::error::ClientError;
use super::output::{
    open_trusted_partial, partial_path, read_validator, Check, Download, Sink, SinkKind,
    EXPLANATION_MAX,
};
use super::progress::Progress;
use crate::tls::ClientTrust;

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
    /// Print neither the outcome nor a failure line (one request of many,
    /// as in `PUT -r`, whose runner reports); the status is kept in
    /// [`Job::status`].
    pub quiet: bool,
    /// The status of the delivered response, once there is one.
    pub status: std::cell::Cell<Option<u16>>,
    /// The head of the delivered response, once there is one (the steps
    /// of a resumable upload read its fields).
    pub head: std::cell::RefCell<Option<ResponseHead>>,
    /// Send only these bytes of the upload file: `(start, length)` (a
    /// part of a resumable upload).
    pub upload_range: Option<(u64, u64)>,
    /// The progress line counts this part as `(done before it, whole)`.
    pub progress_of: Option<(u64, u64)>,
}

/// The bytes of the upload file a request sends.
pub type UploadBody = io::Take<File>;

impl Job {
    /// Opens the upload file (positioned at its range, if any) and
    /// returns it with the length to send.
    pub fn open_upload(&self) -> Result<Option<(UploadBody, u64)>, ClientError> {
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
        let (start, len) = self.upload_range.unwrap_or((0, meta.len()));
        let mut file = file;
        if start > 0 {
            use std::io::Seek;
            file.seek(io::SeekFrom::Start(start)).map_err(local)?;
        }
        let len = len.min(meta.len().saturating_sub(start));
        Ok(Some((file.take(len), len)))
    }

    /// The progress line for sending `len` bytes of the upload.
    pub fn progress(&self, len: u64) -> super::Progress {
        match self.progress_of {
            Some((done, whole)) => super::Progress::starting_at(done, whole),
            None => super::Progress::new(Some(len)),
        }
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
            source: f,
        })
    }

    /// The partial download `-C` would continue: its length and the
    /// validator of the version it came from. `None` when there is none,
    /// or it has no validator (then the download starts over).
    pub fn resume_point(&self) -> Option<Resume> {
        let path = self.output.as_ref().filter(|_| self.resume)?;
        let part = partial_path(path)?;
        // Only a partial of our own is continued: never through a link,
        // never one another user owns or may write.
        let file = open_trusted_partial(&part).ok()??;
        let len = file.metadata().ok()?.len();
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
        if shown == Shown::Head && !self.quiet {
            match self.output_file() {
                // HEAD -o FILE: the head goes into FILE (atomically).
                Some(path) => {
                    let mut dl = Download::create(path)?;
                    dl.write(&wire)?;
                    dl.commit()?;
                }
                None => io::stdout().write_all(&wire).map_err(stdout_error)?,
            }
        } else if shown == Shown::Outcome
            && !self.quiet
            && (200..300).contains(&head.status.as_u16())
        {
            // The outcome, once: -i and -v add heads on stderr only; a
            // failure says so on stderr alone (see `sink`).
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
                self.status.set(Some(head.status.as_u16()));
                *self.head.borrow_mut() = Some(head.clone());
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
        let mut failure_line = None;
        if body == BodyUse::Error && !self.quiet {
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
            if let Some(path) = self.output_file().filter(|p| p.exists()) {
                line.push_str(&format!("; {} left as it was", path.display()));
            }
            failure_line = Some(line);
        }
        let shown = Methods::standard().shown_as(method);
        let short_text = total.is_some_and(|n| n <= EXPLANATION_MAX as u64)
            && head
                .headers
                .get_str("content-type")
                .is_some_and(|t| t.trim_start().starts_with("text/plain"));
        // A PUT, DELETE or WebDAV failure (no body shown) with a short
        // plain-text body: its first line explains the status, on stderr.
        if let Some(line) = failure_line.take() {
            if shown != Shown::Body && shown != Shown::Head && short_text {
                return Ok(Sink {
                    kind: SinkKind::Explain {
                        line,
                        body: Vec::new(),
                    },
                    progress,
                    check,
                    complete: false,
                    max: None,
                    received: 0,
                });
            }
            eprintln!("{line}");
        }
        let output = self.output_file();
        let kind = match (output, body) {
            // A PUT or DELETE prints its outcome (the status line), not
            // the body; a HEAD has none.
            _ if Methods::standard().shown_as(method) == Shown::Listing
                && body != BodyUse::Error =>
            {
                SinkKind::Listing(Vec::new())
            }
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
            (Some(path), _) => {
                let mut dl = Download::create(path)?;
                if let Some(v) = fetch::resume_validator(head) {
                    dl.salvage_as(&v);
                }
                SinkKind::File(dl)
            }
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

pub(crate) fn stdout_error(source: io::Error) -> ClientError {
    ClientError::Local {
        path: "stdout".into(),
        source,
    }
}

/// Writes a head to stderr with `prefix` on each line, its closing empty
/// line once.
pub(crate) fn prefixed(prefix: &str, wire: &[u8]) {
    let text = String::from_utf8_lossy(wire);
    let text = text.strip_suffix("\r\n").unwrap_or(&text);
    let mut err = io::stderr().lock();
    for line in text.split("\r\n") {
        let _ = writeln!(err, "{}", format!("{prefix}{line}").trim_end());
    }
}

/// Chunk size for reading an upload file.
pub const UPLOAD_CHUNK: usize = 256 * 1024;

/// Receive buffer for responses.
pub const RECV_CAPACITY: usize = 256 * 1024;
