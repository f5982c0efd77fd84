//! The `client` subcommand: flags → a pared-core `Session` and a job, run
//! on the chosen runtime; failures become one line and an exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use pared_core::fetch::{Session, Target};
use pared_core::{ClientOptions, Method};
use pared_std::client::{ClientError, Job};

pub use pared_core::fetch::EXIT_USAGE;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes: 0 success (2xx or 304); 1 local file error; 2 usage error; \
3 network or protocol error (lookup, connect, timeout, truncated or malformed response); \
4 HTTP 4xx; 5 HTTP 5xx; 6 other status (a redirect not followed, too many redirects, \
a redirect loop or to https); 7 HTTP 412 Precondition Failed (--if-match, --create-only: \
nothing was changed); 8 the body did not match the server's Repr-Digest or Content-Digest \
(nothing saved)."
)]
pub struct ClientArgs {
    /// Server host name, IPv4 address or IPv6 literal.
    host: String,
    /// Server port.
    port: u16,
    /// GET, HEAD, PUT or DELETE (any case); given alone, it is the PATH of a GET.
    #[arg(value_name = "METHOD")]
    method: String,
    /// Path on the server (`index.html` and `/index.html` are the same); for
    /// PUT also the local file to upload unless --upload-from is given.
    #[arg(value_name = "PATH")]
    path: Option<String>,
    /// Write the body to FILE (complete, or not at all) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Upload this local file (PUT) instead of PATH.
    #[arg(long, value_name = "FILE")]
    upload_from: Option<PathBuf>,
    /// Show the response head on stderr.
    #[arg(short = 'i', long = "include")]
    include: bool,
    /// Show the request and response heads on stderr.
    #[arg(short, long)]
    verbose: bool,
    /// Follow http redirects (at most 10; loops are detected).
    #[arg(short = 'L', long = "location")]
    location: bool,
    /// Seconds allowed for connecting and for each wait on the server.
    #[arg(long, value_name = "SECS", value_parser = crate::parse_secs)]
    pub timeout: Option<f64>,
    /// Extra request header, e.g. -H 'Accept: text/html' (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// Resume an interrupted -o download: a failed one keeps its partial
    /// file, and the next run asks only for the rest (Range + If-Range;
    /// a changed remote file starts over).
    #[arg(short = 'C', long = "continue", requires = "output")]
    resume: bool,
    /// PUT: send the upload's sha-256 as Content-Digest, so the server
    /// stores it only if it arrives intact.
    #[arg(long)]
    digest: bool,
    /// PUT or DELETE only if the remote file still has this ETag
    /// (If-Match; `*` means "if it exists"). A mismatch exits 7.
    #[arg(long, value_name = "ETAG")]
    if_match: Option<String>,
    /// Refuse a body larger than SIZE bytes (K, M, G suffixes); exits 3
    /// and saves nothing.
    #[arg(long, value_name = "SIZE", value_parser = crate::parse_size)]
    max_filesize: Option<u64>,
    /// Give up after SECS for the whole command, redirects included
    /// (exits 3). Default: none.
    #[arg(long, value_name = "SECS", value_parser = crate::parse_secs)]
    max_time: Option<f64>,
    /// Send Basic credentials (never to another host or port after a
    /// redirect; a warning when they would cross the network unencrypted).
    #[arg(short = 'u', long = "user", value_name = "USER:PASSWORD")]
    user: Option<String>,
    /// PUT only if the remote file does not exist yet (If-None-Match: *).
    /// An existing file exits 7 and is left as it was.
    #[arg(long)]
    create_only: bool,
}

fn method(s: &str) -> Result<Method, String> {
    match Method::from_token(&s.to_ascii_uppercase()) {
        m @ (Method::Get | Method::Head | Method::Put | Method::Delete) => Ok(m),
        _ => Err(format!(
            "unsupported method {s:?} (use GET, HEAD, PUT or DELETE)"
        )),
    }
}

fn usage(msg: String) -> ExitCode {
    eprintln!("pared: {msg}");
    ExitCode::from(EXIT_USAGE)
}

/// Runs the client command on std (or smol) and maps the result to an exit code.
pub fn run(smol: bool, args: &ClientArgs, mut opts: ClientOptions) -> ExitCode {
    // `client HOST PORT PATH` is a GET, as in curl and wget.
    let (method, path) = match &args.path {
        Some(path) => match method(&args.method) {
            Ok(m) => (m, path.as_str()),
            Err(e) => return usage(e),
        },
        None => (Method::Get, args.method.as_str()),
    };
    let mut headers = Vec::new();
    for h in &args.headers {
        match h.split_once(':') {
            Some((n, v)) => headers.push((n.trim().to_owned(), v.trim().to_owned())),
            None => return usage(format!("header {h:?} is not NAME: VALUE")),
        }
    }
    if let Some(t) = args.timeout.and_then(crate::secs) {
        opts.connect_timeout = Some(t);
    }
    opts.follow_redirects = args.location;
    opts.max_filesize = args.max_filesize;
    opts.max_time = args.max_time.and_then(crate::secs);
    let job = Job {
        upload: (method == Method::Put).then(|| {
            args.upload_from
                .clone()
                .unwrap_or_else(|| PathBuf::from(path))
        }),
        output: args.output.clone(),
        show_response_head: args.include,
        verbose: args.verbose,
        resume: args.resume,
        max_filesize: args.max_filesize,
    };
    let result = (|| -> Result<u8, ClientError> {
        let upload_len = job.open_upload()?.map(|(_, len)| len);
        let target = Target::new(&args.host, args.port, path)?;
        let mut session = Session::new(
            method,
            target,
            headers,
            upload_len,
            opts.follow_redirects,
            opts.max_redirects,
        )?;
        if let Some(creds) = &args.user {
            session.basic_auth(creds)?;
            if let Some(w) = session.cleartext_credentials_warning() {
                eprintln!("pared: {w}");
            }
        }
        if let Some(etag) = &args.if_match {
            session.if_match(etag)?;
        }
        if args.create_only {
            session.create_only()?;
        }
        if args.digest {
            if let Some(d) = job.upload_digest()? {
                session.content_digest(&d)?;
            }
        }
        if let Some(resume) = job.resume_point() {
            session.resume(resume);
        }
        if smol {
            pared_smol::client::run(session, &job, &opts)
        } else {
            pared_std::client::run(session, &job, &opts)
        }
    })();
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("pared: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
