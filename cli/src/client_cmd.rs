//! The `client` subcommand: flags → a pared-core `Session` and a job, run
//! on the chosen runtime; failures become one line and an exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use pared_core::fetch::{Session, Target};
use pared_core::methods::Methods;
use pared_core::{ClientOptions, Method};
use pared_host::client::{ClientError, Job};
use pared_host::tls::ClientTrust;

pub use pared_core::fetch::EXIT_USAGE;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes: 0 success (2xx or 304); 1 local file error; 2 usage error; \
3 network or protocol error (lookup, connect, timeout, truncated or malformed response); \
4 HTTP 4xx; 5 HTTP 5xx; 6 other status (a redirect not followed, too many redirects, \
a redirect loop or to another scheme); 7 HTTP 412 Precondition Failed (--if-match, --create-only: \
nothing was changed); 8 the body did not match the server's Repr-Digest or Content-Digest \
(nothing saved); 9 TLS failed (certificate not trusted, expired or for another name; \
the handshake)."
)]
pub struct ClientArgs {
    /// `HOST PORT [METHOD] PATH`, or `[METHOD] URL` with an http:// or
    /// https:// URL. HOST is a name, an IPv4 address or an IPv6 literal;
    /// port 443, -k or --cacert means https; METHOD is GET, HEAD, PUT, DELETE, OPTIONS,
    /// or a WebDAV method: MKCOL (make a folder), COPY and MOVE (with
    /// --to), PROPFIND (list a folder as a table), PROPPATCH, LOCK,
    /// UNLOCK (any case; GET when left out); PATH is the path on the server
    /// (`index.html` and `/index.html` are the same), and for PUT also the
    /// local file to upload unless --upload-from is given. `PUT LOCAL URL`
    /// uploads LOCAL (a folder with -r) to URL, as `curl -T LOCAL URL`.
    #[arg(
        value_name = "HOST PORT [METHOD] PATH | [METHOD] URL | PUT LOCAL URL",
        num_args = 1..=4,
        required = true
    )]
    words: Vec<String>,
    /// Write the body to FILE (complete, or not at all) instead of stdout;
    /// only a 2xx body is ever written there. `-o -` is stdout; `-o DIR/`
    /// (or an existing directory) saves under the remote file name there;
    /// with HEAD the head goes to FILE.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Save under the remote file name (the URL's last segment), in the
    /// working directory, atomically like -o.
    #[arg(short = 'O', long = "remote-name", conflicts_with = "output")]
    remote_name: bool,
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
    /// Seconds allowed for connecting and for each wait on the server
    /// [default: 30].
    #[arg(long, value_name = "SECS", value_parser = crate::parse_secs)]
    pub timeout: Option<f64>,
    /// Extra request header, e.g. -H 'Accept: text/html' (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// Resume an interrupted -o download: a failed one keeps its partial
    /// file, and the next run asks only for the rest (Range + If-Range;
    /// a changed remote file starts over). With PUT: take up the
    /// resumable upload an earlier run of the same file left.
    #[arg(short = 'C', long = "continue")]
    resume: bool,
    /// PUT: send the file as a resumable upload in parts of this size
    /// (e.g. 8M, under a proxy's cap on request bodies). Files over 8 MiB
    /// go in 8 MiB parts anyway when the server takes resumable uploads.
    #[arg(long, value_name = "SIZE", value_parser = crate::parse_size)]
    part_size: Option<u64>,
    /// PUT in parts: how many times in a row a part cut by the network is
    /// resumed (waiting 1, 2, 4, 8, 16 s) before the upload stops.
    #[arg(long, value_name = "N", default_value_t = pared_core::fetch::resumable_put::MAX_RETRIES)]
    retries: u32,
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
    /// Trust only the CA certificates in this PEM file for https (instead
    /// of the bundled Mozilla roots).
    #[arg(long, value_name = "FILE")]
    cacert: Option<PathBuf>,
    /// https without verifying the server's certificate (a warning says
    /// so): encrypted, but not authenticated.
    #[arg(short = 'k', long)]
    insecure: bool,
    /// https trusting exactly the certificate with this SHA-256
    /// fingerprint, the one `pared server --tls-self-signed` prints
    /// (AB:CD:…; colons optional): verified, unlike -k, without a CA.
    #[arg(long, value_name = "SHA256", conflicts_with = "insecure")]
    pin: Option<String>,
    /// Send Basic credentials (never to another host or port after a
    /// redirect; a warning when they would cross the network unencrypted).
    /// USER alone asks for the password on the terminal, as curl does.
    #[arg(short = 'u', long = "user", value_name = "USER[:PASSWORD]")]
    user: Option<String>,
    /// PUT only if the remote file does not exist yet (If-None-Match: *).
    /// An existing file exits 7 and is left as it was.
    #[arg(long)]
    create_only: bool,
    /// COPY or MOVE: the path on the same server to copy or move to (sent
    /// as Destination). An existing destination is replaced.
    #[arg(long, value_name = "DEST")]
    to: Option<String>,
    /// With PUT: a local folder and everything in it (--upload-from DIR,
    /// or PATH) into the remote folder PATH: folders are made with MKCOL
    /// (one that exists is kept), files uploaded one by one; symlinks and
    /// dot-files are left out. With GET: the remote folder PATH (a pared
    /// server's, read from its JSON listing) mirrored into -o DIR (else a
    /// folder of its name here): files whose size and time already match
    /// are skipped, each download is atomic and resumed next time if cut.
    /// A summary line goes to stderr.
    #[arg(short = 'r', long)]
    recursive: bool,
    /// With GET -r: downloads at a time.
    #[arg(short = 'j', long = "jobs", value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    jobs: u16,
}

/// A method from the command line: any method in core's table (GET,
/// HEAD, PUT, DELETE, OPTIONS), in any case.
fn method(s: &str) -> Result<Method, String> {
    let table = Methods::standard();
    match table.find_token(s) {
        Some(row) => Ok(Method::from_token(row.token)),
        None => Err(format!(
            "unsupported method {s:?} (use {})",
            table.allow(false)
        )),
    }
}

/// Where the body goes: -o FILE, -o DIR/ (the remote name inside), -O
/// (the remote name here), or stdout (`None`).
fn output_path(args: &ClientArgs, target: &Target) -> Result<Option<PathBuf>, String> {
    let remote = || {
        target.remote_file_name().ok_or_else(|| {
            format!(
                "no usable file name in {} for -O or -o DIR/; use -o FILE",
                target.url()
            )
        })
    };
    if args.remote_name {
        return Ok(Some(PathBuf::from(remote()?)));
    }
    match &args.output {
        Some(o) if o.as_os_str() != "-" && (o.to_string_lossy().ends_with('/') || o.is_dir()) => {
            Ok(Some(o.join(remote()?)))
        }
        other => Ok(other.clone()),
    }
}

/// In the `HOST PORT PATH` form, https when the port is 443 or when a TLS
/// option (`-k`, `--cacert`, `--pin`) says the server speaks it.
fn https_if_asked(t: Target, args: &ClientArgs) -> Target {
    let tls = t.tls || args.insecure || args.cacert.is_some() || args.pin.is_some();
    t.with_tls(tls)
}

fn usage(msg: String) -> ExitCode {
    eprintln!("pared: {msg}");
    ExitCode::from(EXIT_USAGE)
}

/// Runs the client command on std (or smol) and maps the result to an exit code.
pub fn run(smol: bool, args: &ClientArgs, mut opts: ClientOptions) -> ExitCode {
    // `HOST PORT [METHOD] PATH` or `[METHOD] URL`; without METHOD a GET.
    let words: Vec<&str> = args.words.iter().map(String::as_str).collect();
    let mut local_arg: Option<PathBuf> = None;
    let parsed = match words[..] {
        [url] if url.contains("://") => Target::from_url(url).map(|t| (Method::Get, t, None)),
        [m, url] if url.contains("://") => match method(m) {
            Ok(m) => Target::from_url(url).map(|t| (m, t, None)),
            Err(e) => return usage(e),
        },
        // `PUT LOCAL URL`: the local file (or, with -r, folder) first, as
        // `curl -T LOCAL URL` does.
        [m, local, url] if url.contains("://") && !local.contains("://") => match method(m) {
            Ok(m) if m == Method::Put => {
                local_arg = Some(PathBuf::from(local));
                Target::from_url(url).map(|t| (m, t, None))
            }
            Ok(_) => return usage("only PUT takes a local path before the URL".into()),
            Err(e) => return usage(e),
        },
        [host, port, path] => match port.parse::<u16>() {
            Ok(port) => Target::new(host, port, path)
                .map(|t| (Method::Get, https_if_asked(t, args), Some(path))),
            Err(_) => return usage(format!("invalid port {port:?}")),
        },
        [host, port, m, path] => match (port.parse::<u16>(), method(m)) {
            (Ok(port), Ok(m)) => {
                Target::new(host, port, path).map(|t| (m, https_if_asked(t, args), Some(path)))
            }
            (Err(_), _) => return usage(format!("invalid port {port:?}")),
            (_, Err(e)) => return usage(e),
        },
        _ => {
            return usage(
                "expected HOST PORT [METHOD] PATH, or [METHOD] URL with http:// or https://".into(),
            )
        }
    };
    let (method, mut target, local_path) = match parsed {
        Ok(p) => p,
        Err(e) => return usage(e.to_string()),
    };
    // https only because -k, --cacert or --pin asked for it (HOST PORT form).
    let tls_by_option =
        !words.iter().any(|w| w.contains("://")) && target.tls && target.port != 443;
    // For PUT, the local file: --upload-from, PATH, or the URL's path.
    let url_path = target
        .path
        .split('?')
        .next()
        .unwrap_or("")
        .trim_start_matches('/')
        .to_owned();
    let path = local_path.unwrap_or(url_path.as_str());
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
        // PATH is the remote path; the local file is the same path relative
        // to the working directory (`PUT /docs/a.txt` uploads ./docs/a.txt).
        upload: Methods::standard().takes_upload(&method).then(|| {
            args.upload_from
                .clone()
                .or_else(|| local_arg.clone())
                .unwrap_or_else(|| PathBuf::from(path.trim_start_matches('/')))
        }),
        // GET -r takes -o as the destination folder (below).
        output: match output_path(args, &target) {
            _ if args.recursive && method == Method::Get => None,
            Ok(o) => o,
            Err(e) => return usage(e),
        },
        show_response_head: args.include,
        verbose: args.verbose,
        resume: args.resume,
        max_filesize: args.max_filesize,
        trust: ClientTrust {
            cacert: args.cacert.clone(),
            insecure: args.insecure,
            pin: args.pin.clone(),
        },
        quiet: false,
        status: Default::default(),
        head: Default::default(),
        upload_range: None,
        progress_of: None,
    };
    // `-u USER` without `:PASSWORD`: ask on the terminal, as curl does.
    let user = match args.user.as_deref() {
        Some(u) if !u.contains(':') => match pared_host::client::prompt::password_for(u) {
            Ok(pw) => Some(format!("{u}:{pw}")),
            Err(e) => {
                eprintln!("pared: {e}");
                return ExitCode::from(e.exit_code());
            }
        },
        other => other.map(str::to_owned),
    };
    // One request of a tree transfer (GET -r, PUT -r): a method, a decoded
    // remote path, a raw query and an upload length.
    let tree_request =
        |m: Method, remote: &str, query: &str, len: Option<u64>| -> Result<Session, ClientError> {
            let mut t = target.clone();
            t.path = pared_core::fetch::tree::remote_target(remote) + query;
            let mut s = Session::new(
                m,
                t,
                headers.clone(),
                len,
                opts.follow_redirects,
                opts.max_redirects,
            )?;
            if let Some(creds) = &user {
                s.basic_auth(creds)?;
            }
            Ok(s)
        };
    let run_one = |s: Session, j: &Job| {
        if smol {
            pared_smol::client::run(s, j, &opts)
        } else {
            pared_std::client::run(s, j, &opts)
        }
    };
    if args.recursive && method == Method::Get {
        let base = target.path.split('?').next().unwrap_or("/").to_owned();
        let decoded = pared_core::path::resolve_target(&base)
            .map(|p| {
                if p.is_root() {
                    "/".to_owned()
                } else {
                    format!("/{p}/")
                }
            })
            .unwrap_or(base);
        let out = match &args.output {
            Some(o) => o.clone(),
            None => PathBuf::from(
                decoded
                    .trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .filter(|n| !n.is_empty())
                    .unwrap_or("root"),
            ),
        };
        let make = |m: Method, remote: &str, query: &str| tree_request(m, remote, query, None);
        let mut tree_job = job.clone();
        tree_job.output = None;
        return match pared_host::client::mirror::download_tree(
            &decoded,
            &out,
            &tree_job,
            usize::from(args.jobs),
            &make,
            &run_one,
        ) {
            Ok(code) => ExitCode::from(code),
            Err(e) => {
                eprintln!("pared: {e}");
                ExitCode::from(e.exit_code())
            }
        };
    }
    if args.recursive {
        if method != Method::Put {
            return usage("-r goes with GET and PUT".into());
        }
        let local = args
            .upload_from
            .clone()
            .or_else(|| local_arg.clone())
            .unwrap_or_else(|| PathBuf::from(path.trim_start_matches('/')));
        let base = target.path.split('?').next().unwrap_or("/").to_owned();
        let make = |m: Method, remote: &str, len: Option<u64>| tree_request(m, remote, "", len);
        let decoded = pared_core::path::resolve_target(&base)
            .map(|p| format!("/{p}"))
            .unwrap_or(base);
        return match pared_host::client::tree::upload_tree(&local, &decoded, &job, &make, &run_one)
        {
            Ok(code) => ExitCode::from(code),
            Err(e) => {
                eprintln!("pared: {e}");
                ExitCode::from(e.exit_code())
            }
        };
    }
    // PUT to a folder's URL (ending in `/`) uploads under the local file's
    // name there, as `curl -T` does.
    if method == Method::Put {
        let (path, query) = match target.path.split_once('?') {
            Some((p, q)) => (p.to_owned(), format!("?{q}")),
            None => (target.path.clone(), String::new()),
        };
        let name = job
            .upload
            .as_deref()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str());
        if let (true, Some(name)) = (path.ends_with('/'), name) {
            let mut encoded = String::new();
            pared_core::path::encode_into(name, &mut encoded);
            target.path = format!("{path}{encoded}{query}");
        }
    }
    if args.resume && method != Method::Put && args.output.is_none() {
        return usage("-C resumes an -o download or a PUT".into());
    }
    if method == Method::Put {
        match resumable_put(
            args,
            &job,
            &target,
            &headers,
            user.as_ref(),
            &run_one,
            &opts,
        ) {
            Ok(Some(code)) => return ExitCode::from(code),
            Ok(None) => {}
            Err(e) => {
                eprintln!("pared: {e}");
                return ExitCode::from(e.exit_code());
            }
        }
    }
    let attempt = |target: Target| -> Result<u8, ClientError> {
        let upload_len = job.open_upload()?.map(|(_, len)| len);
        let token = method.as_str().to_owned();
        let mut session = Session::new(
            method.clone(),
            target,
            headers.clone(),
            upload_len,
            opts.follow_redirects,
            opts.max_redirects,
        )?;
        if let Some(creds) = &user {
            session.basic_auth(creds)?;
            if let Some(w) = session.cleartext_credentials_warning() {
                eprintln!("pared: {w}");
            }
        }
        match (token.as_str(), &args.to) {
            ("COPY" | "MOVE", Some(to)) => session.destination(to)?,
            ("COPY" | "MOVE", None) => {
                return Err(ClientError::Fetch(pared_core::fetch::FetchError::Invalid {
                    what: "arguments",
                    detail: format!("{token} needs --to DEST"),
                }))
            }
            (_, Some(_)) => {
                return Err(ClientError::Fetch(pared_core::fetch::FetchError::Invalid {
                    what: "arguments",
                    detail: "--to goes with COPY and MOVE".into(),
                }))
            }
            _ => {}
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
    };
    // A TLS option in the host-and-port form tries https first; a port
    // that turns out to speak plain http is asked again in http (its
    // answer may redirect to https, which the option then verifies).
    let result = match attempt(target.clone()) {
        Err(ClientError::Tls {
            source: pared_host::tls::TlsFailure::NotTls,
            ..
        }) if tls_by_option => attempt(target.with_tls(false)),
        r => r,
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("pared: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// A PUT as a resumable upload when it is worth it (a file over one part,
/// `--part-size`, or `-C`) and the server takes them; `None` when a plain
/// PUT should go instead.
fn resumable_put(
    args: &ClientArgs,
    job: &Job,
    target: &Target,
    headers: &[(String, String)],
    user: Option<&String>,
    run_one: pared_host::client::tree::RunSession<'_>,
    opts: &ClientOptions,
) -> Result<Option<u8>, ClientError> {
    use pared_core::fetch::resumable_put::DEFAULT_PART;
    let (Some(local), Some((_, size))) = (job.upload.as_deref(), job.open_upload()?) else {
        return Ok(None);
    };
    let part = args.part_size.unwrap_or(DEFAULT_PART);
    if size <= part && args.part_size.is_none() && !args.resume {
        return Ok(None);
    }
    let mut creating: Vec<(String, String)> = Vec::new();
    if args.create_only {
        creating.push(("If-None-Match".into(), "*".into()));
    }
    if let Some(etag) = &args.if_match {
        let quoted = if etag.starts_with('"') || etag.starts_with("W/") || etag == "*" {
            etag.clone()
        } else {
            format!("\"{etag}\"")
        };
        creating.push(("If-Match".into(), quoted));
    }
    if args.digest {
        if let Some(d) = job.upload_digest()? {
            creating.push(("Repr-Digest".into(), d.field_value()));
        }
    }
    let memory = pared_host::share_key::default_state_dir()
        .and_then(|d| pared_host::client::resumable_put::memory_file(&d, &target.url(), local));
    let make = |m: Method, path: &str, fields: Vec<(String, String)>, len: Option<u64>| {
        let mut t = target.clone();
        t.path = path.to_owned();
        let mut all = headers.to_vec();
        all.extend(fields);
        let mut s = Session::new(m, t, all, len, false, opts.max_redirects)?;
        if let Some(creds) = user {
            s.basic_auth(creds)?;
        }
        Ok(s)
    };
    pared_host::client::resumable_put::put(
        job,
        &target.path,
        part,
        memory.as_deref(),
        args.resume,
        args.retries,
        &creating,
        &make,
        run_one,
    )
}
