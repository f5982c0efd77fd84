//! The blocking client, and the pieces every client runtime shares: the
//! job (what to show, where the body goes), its typed errors, the output
//! sink and the progress line.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pared_core::client::{Connection, Event};
use pared_core::fetch::{self, Session, Verdict};
use pared_core::{ClientOptions, Method, ProtocolError, ResponseHead, UsageError};

use crate::buf::RecvBuf;

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
            | ClientError::Protocol { .. } => fetch::EXIT_NETWORK,
            ClientError::Fetch(e) => e.exit_code(),
            ClientError::Local { .. } | ClientError::BinaryToTerminal => fetch::EXIT_LOCAL,
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
        let file = File::open(path).map_err(local)?;
        let meta = file.metadata().map_err(local)?;
        if !meta.is_file() {
            return Err(local(io::Error::other("not a regular file")));
        }
        Ok(Some((file, meta.len())))
    }

    /// Shows the request head as sent, for `-v`.
    pub fn show_request(&self, wire: &[u8]) {
        if self.verbose {
            prefixed("> ", wire);
        }
    }

    /// Shows the response head for `-i`/`-v`, and prints it to stdout for HEAD.
    pub fn show_response(&self, method: &Method, head: &ResponseHead) -> Result<(), ClientError> {
        let mut wire = Vec::new();
        pared_core::write_response(head, &mut wire)?;
        if self.verbose {
            prefixed("< ", &wire);
        } else if self.show_response_head {
            let _ = io::stderr().write_all(&wire);
        }
        if *method == Method::Head {
            io::stdout().write_all(&wire).map_err(stdout_error)?;
        } else if matches!(method, Method::Put | Method::Delete)
            && !self.verbose
            && !self.show_response_head
        {
            let line = format!("{} {}\n", head.status, head.reason);
            io::stdout()
                .write_all(line.as_bytes())
                .map_err(stdout_error)?;
        }
        Ok(())
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
            Verdict::Follow => Ok(None),
            Verdict::Deliver { exit } => {
                self.show_response(method, head)?;
                Ok(Some((exit, self.sink(head)?)))
            }
        }
    }

    /// The sink for the body of `head`.
    pub fn sink(&self, head: &ResponseHead) -> Result<Sink, ClientError> {
        let total = pared_core::body::content_length(&head.headers)
            .ok()
            .flatten();
        let progress = Progress::new(total);
        match &self.output {
            Some(path) => Ok(Sink::File {
                dl: Download::create(path)?,
                progress,
            }),
            None => Ok(Sink::Stdout {
                out: io::stdout(),
                checked: !io::stdout().is_terminal(),
                progress,
            }),
        }
    }
}

fn stdout_error(source: io::Error) -> ClientError {
    ClientError::Local {
        path: "stdout".into(),
        source,
    }
}

fn prefixed(prefix: &str, wire: &[u8]) {
    let text = String::from_utf8_lossy(wire);
    let mut err = io::stderr().lock();
    for line in text.split("\r\n") {
        let _ = writeln!(err, "{prefix}{line}");
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

/// Where a response body goes.
#[derive(Debug)]
pub enum Sink {
    /// Standard output; `checked` once the binary check was done (or
    /// stdout is not a terminal).
    Stdout {
        /// The handle.
        out: io::Stdout,
        /// True when no binary check is needed any more.
        checked: bool,
        /// The progress line.
        progress: Progress,
    },
    /// A file written atomically.
    File {
        /// The download in progress.
        dl: Download,
        /// The progress line.
        progress: Progress,
    },
}

impl Sink {
    /// Writes body bytes.
    pub fn write(&mut self, data: &[u8]) -> Result<(), ClientError> {
        match self {
            Sink::Stdout {
                out,
                checked,
                progress,
            } => {
                if !*checked {
                    if fetch::looks_binary(data) {
                        return Err(ClientError::BinaryToTerminal);
                    }
                    *checked = true;
                }
                out.write_all(data).map_err(stdout_error)?;
                progress.add(data.len());
            }
            Sink::File { dl, progress } => {
                dl.write(data)?;
                progress.add(data.len());
            }
        }
        Ok(())
    }

    /// The body is complete: flush, or move the file into place.
    pub fn finish(self) -> Result<(), ClientError> {
        match self {
            Sink::Stdout {
                mut out,
                mut progress,
                ..
            } => {
                progress.finish();
                out.flush().map_err(stdout_error)
            }
            Sink::File { dl, mut progress } => {
                progress.finish();
                dl.commit()
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
        Ok(Download {
            file: Some(file),
            tmp,
            path: path.to_owned(),
        })
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
        self.tmp = PathBuf::new();
        Ok(())
    }
}

impl Drop for Download {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            self.file = None;
            let _ = std::fs::remove_file(&self.tmp);
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

/// Runs a client command: exchanges, redirects followed as the session
/// decides; returns the exit code of the delivered response.
pub fn run(mut session: Session, job: &Job, opts: &ClientOptions) -> Result<u8, ClientError> {
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
        let mut stream = connect(&hop.target.host, hop.target.port, opts.connect_timeout)?;
        let _ = stream.set_nodelay(true);
        let mut conn = Connection::new(opts.connection);
        let mut out = Vec::new();
        conn.send_request(&hop.head, &mut out, Instant::now())?;
        job.show_request(&out);
        stream
            .set_write_timeout(opts.connection.read_timeout)
            .map_err(net)?;
        stream.write_all(&out).map_err(net)?;
        let mut write_failed = None;
        if hop.upload {
            if let Some((mut file, _)) = job.open_upload()? {
                write_failed = send_file(&mut stream, &mut file, &mut conn, job).err();
            }
        }
        let mut buf = RecvBuf::new(RECV_CAPACITY);
        // The request is out: read the response without blocking (see fill).
        stream.set_nonblocking(true).map_err(net)?;
        let head = loop {
            match conn.handle_input(buf.data(), Instant::now()) {
                Ok((used, Event::Head(head))) => {
                    buf.consume(used);
                    break head;
                }
                Ok((used, _)) => {
                    buf.consume(used);
                    fill(&mut stream, &mut buf, &mut conn).map_err(net)?;
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
                    fill(&mut stream, &mut buf, &mut conn).map_err(net)?;
                }
                Err(e) => return Err(timeout_or(e, proto)),
            }
        }
        sink.finish()?;
        return Ok(exit);
    }
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
    stream: &mut TcpStream,
    file: &mut File,
    conn: &mut Connection,
    job: &Job,
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
fn fill(stream: &mut TcpStream, buf: &mut RecvBuf, conn: &mut Connection) -> io::Result<()> {
    loop {
        match stream.read(buf.spare()) {
            Ok(0) => conn.handle_eof(),
            Ok(n) => buf.filled(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let Ok(left) = conn.time_left(Instant::now()) else {
                    return Ok(()); // sticky: the next handle_input reports it
                };
                let timeout = left.map(|d| rustix::event::Timespec {
                    tv_sec: d.as_secs() as i64,
                    tv_nsec: i64::from(d.subsec_nanos()),
                });
                let mut fds = [rustix::event::PollFd::new(
                    &*stream,
                    rustix::event::PollFlags::IN,
                )];
                match rustix::event::poll(&mut fds, timeout.as_ref()) {
                    Ok(0) => {
                        // The deadline passed: record it, handle_input reports it.
                        let _ = conn.handle_timeout(Instant::now());
                        return Ok(());
                    }
                    Ok(_) | Err(rustix::io::Errno::INTR) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) => return Err(e),
        }
        return Ok(());
    }
}
