//! `pared server`: its flags, how they become core's server options and
//! access settings, `--check-config`, the SIGHUP reload, and the start-up
//! lines; then a transport serves.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::ValueEnum;
use pared_core::auth::{AuthConfig, User};
use pared_core::rights::{Rule, Rules};
use pared_core::service::ServiceConfig;
use pared_core::{Limits, ServerOptions};

use crate::{config, parse_secs, parse_size, qr, secs, Runtime};

/// Runs `pared server` with `args` (under `--config`'s file when given),
/// on `runtime` unless the file names one and the command line did not.
pub(crate) fn run(runtime: Runtime, runtime_on_cli: bool, args: &ServerArgs) -> ExitCode {
    let reload_from = ReloadFrom {
        config: args.config.clone(),
        cli: config::server_argv(),
    };
    let started = match &args.config {
        Some(path) => config::merge(path, &reload_from.cli, runtime_on_cli).and_then(|m| {
            let runtime = m.runtime.unwrap_or(runtime);
            run_server(runtime, &m.args, reload_from)
        }),
        None => run_server(runtime, args, reload_from),
    };
    match started {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("pared: {msg}");
            ExitCode::from(1)
        }
    }
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum LogFormatArg {
    /// Common Log Format and the duration in seconds.
    Clf,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Timeouts of 0 mean none. SIGINT or SIGTERM stops accepting, lets \
requests in flight finish (--grace), removes unfinished uploads and exits 0. One access-log \
line per request goes to stderr (Common Log Format plus seconds taken)."
)]
pub(crate) struct ServerArgs {
    /// Port to listen on; 0 picks a free one and prints it.
    #[arg(default_value_t = 8080)]
    pub(crate) port: u16,
    /// Directory to serve.
    #[arg(long, default_value = ".")]
    pub(crate) root: PathBuf,
    /// Address or host name to bind, e.g. 127.0.0.1, ::1 or localhost
    /// [default: every interface, IPv6 and IPv4].
    #[arg(long, value_name = "ADDR")]
    pub(crate) bind: Option<String>,
    /// Refuse every write: PUT, DELETE and the WebDAV writes (405).
    #[arg(long)]
    pub(crate) read_only: bool,
    /// Serve HTML as a website of your own: served files get no sandbox
    /// (by default their scripts run in an opaque origin and cannot act
    /// as this site: no writes, no reading other files).
    #[arg(long)]
    pub(crate) website: bool,
    /// Largest upload accepted, e.g. 512K, 100M, 2G; larger gets 413 [default: no limit].
    #[arg(long, value_parser = parse_size)]
    pub(crate) max_upload: Option<u64>,
    /// Connections served at once (0: no limit). At the limit a waiting
    /// client takes the slot of the longest-idle keep-alive connection;
    /// with none idle, accepting pauses.
    #[arg(long, default_value_t = 512)]
    pub(crate) max_connections: usize,
    /// Connections one client (IPv4 address, IPv6 prefix) may hold at
    /// once; more get 503 (0: no limit).
    #[arg(long, default_value_t = 64)]
    pub(crate) max_per_client: usize,
    /// Leading bits of an IPv6 address that name one client, for
    /// --max-per-client (a /56 by default: a home's delegation, so one
    /// host cannot multiply itself over its own addresses).
    #[arg(long, default_value_t = pared_core::admission::DEFAULT_IPV6_PREFIX,
          value_parser = clap::value_parser!(u8).range(1..=128))]
    ipv6_client_prefix: u8,
    /// Requests one connection may carry before it is closed (0: no limit).
    #[arg(long, default_value_t = 1000)]
    pub(crate) max_requests: u32,
    /// Slowest a client may take a response, in bytes per second, measured
    /// over each --body-timeout window (0: only the no-progress rule).
    #[arg(long, default_value_t = 1024)]
    pub(crate) min_send_rate: u64,
    /// Seconds a client has to send a whole request head (slowloris bound).
    #[arg(long, default_value_t = 10.0, value_parser = parse_secs)]
    pub(crate) header_timeout: f64,
    /// Seconds a kept-alive connection may wait for its next request.
    #[arg(long, default_value_t = 15.0, value_parser = parse_secs)]
    pub(crate) idle_timeout: f64,
    /// Seconds a body transfer may make no progress, either direction.
    #[arg(long, default_value_t = 30.0, value_parser = parse_secs)]
    pub(crate) body_timeout: f64,
    /// Largest request head in bytes (431 beyond it).
    #[arg(long, default_value_t = 16 * 1024, value_parser = clap::value_parser!(u64).range(256..=1 << 20))]
    pub(crate) max_head: u64,
    /// Seconds requests in flight may take to finish after SIGINT/SIGTERM.
    #[arg(long, default_value_t = 10.0, value_parser = parse_secs)]
    pub(crate) grace: f64,
    /// No access log (errors are still reported).
    #[arg(long, short)]
    pub(crate) quiet: bool,
    /// Also show the address to open as a QR code on the terminal, for
    /// phones (the first address that is not loopback).
    #[arg(long)]
    pub(crate) qr: bool,
    /// Serve Prometheus metrics on GET /metrics and a health check on
    /// GET /health at this address (off by default; e.g. 127.0.0.1:9090).
    #[arg(long, value_name = "ADDR")]
    pub(crate) metrics: Option<std::net::SocketAddr>,
    /// The access log's form on stderr: clf (Common Log Format and the
    /// duration) or json (one object per line, for log shippers).
    #[arg(long, value_enum, default_value_t = LogFormatArg::Clf)]
    pub(crate) log_format: LogFormatArg,
    /// A user who may write, as USER:PASSWORD; PASSWORD may be plain or a
    /// bcrypt ($2y$, htpasswd -B) or SHA-512 crypt ($6$, mkpasswd -m
    /// sha-512) hash (repeatable).
    #[arg(long, value_name = "USER:PASSWORD")]
    pub(crate) auth: Vec<String>,
    /// Users from an htpasswd file (bcrypt or SHA-512 crypt hashes).
    #[arg(long, value_name = "FILE")]
    pub(crate) auth_file: Option<PathBuf>,
    /// With --auth: GET, HEAD and listings need a login too.
    #[arg(long)]
    pub(crate) auth_reads: bool,
    /// Without --auth: accept writes (PUT, DELETE, WebDAV) from every machine, not only
    /// from this one.
    #[arg(long)]
    pub(crate) public_writes: bool,
    /// A reverse proxy (its address) whose X-Forwarded-For, Forwarded or
    /// X-Real-IP header names the client (repeatable). A request with
    /// proxy headers from any other peer never counts as from this
    /// machine.
    #[arg(long, value_name = "ADDR")]
    pub(crate) trusted_proxy: Vec<IpAddr>,
    /// A host name that names this machine (repeatable): writes from this
    /// machine must use it, `localhost` or an IP address in their Host
    /// (a guard against DNS rebinding). The machine's own host name, and
    /// that name under `.local`, count already.
    #[arg(long, value_name = "NAME")]
    pub(crate) local_name: Vec<String>,
    /// Serve https with this certificate chain (PEM); needs --tls-key.
    /// SIGHUP reloads both files (a bad new pair keeps the old one).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The private key for --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    /// Serve https with an in-memory self-signed certificate for localhost
    /// and the bound addresses; its SHA-256 fingerprint is printed.
    #[arg(long, conflicts_with = "tls_cert")]
    pub(crate) tls_self_signed: bool,
    /// A rule WHO:RIGHTS:PATH, e.g. '*:read:/' or
    /// 'alice:read,write,delete:/team/' (repeatable). WHO is * (everyone)
    /// or a user; RIGHTS are read, create, write, delete, manage, all or
    /// none. With rules, they alone decide: the longest matching PATH
    /// wins, and what no rule allows is refused.
    #[arg(long, value_name = "WHO:RIGHTS:PATH")]
    pub(crate) rule: Vec<String>,
    /// Where the share-link key lives (share.key, 0600) [default:
    /// $STATE_DIRECTORY, else $XDG_STATE_HOME/pared, else
    /// ~/.local/state/pared].
    #[arg(long, value_name = "DIR")]
    pub(crate) state_dir: Option<PathBuf>,
    /// Read settings from this TOML file: every flag by its long name
    /// (port = 8080, max-upload = "1G"), users in [users], rules in
    /// [[rule]]. Flags given here override it; SIGHUP reloads its users,
    /// rules and certificates.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Check the settings (flags and --config), say what they mean, and
    /// exit: 0 when they are good, 1 with the reason when not.
    #[arg(long)]
    pub(crate) check_config: bool,
}

impl ServerArgs {
    /// The users from --auth and --auth-file.
    fn users(&self) -> Result<Vec<User>, String> {
        let mut users = Vec::new();
        for entry in &self.auth {
            users.push(User::parse(entry).map_err(|e| format!("--auth: {e}"))?);
        }
        if let Some(path) = &self.auth_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("--auth-file {}: {e}", path.display()))?;
            users.extend(
                User::parse_file(&text)
                    .map_err(|e| format!("--auth-file {}: {e}", path.display()))?,
            );
        }
        Ok(users)
    }

    fn options(&self) -> ServerOptions {
        let mut o = ServerOptions::default();
        let max_head = self.max_head as usize;
        o.connection.limits = Limits {
            max_head_bytes: max_head,
            max_line_bytes: Limits::default().max_line_bytes.min(max_head),
            ..Limits::default()
        };
        o.connection.head_timeout = secs(self.header_timeout);
        o.connection.idle_timeout = secs(self.idle_timeout);
        o.connection.body_timeout = secs(self.body_timeout);
        // --max-upload is the file service's decision (413 before the body,
        // with the request in the log), not a connection-wide body limit.
        o.service = ServiceConfig {
            read_only: self.read_only,
            max_upload: self.max_upload,
            website: self.website,
            ..ServiceConfig::default()
        };
        o.max_connections = (self.max_connections > 0).then_some(self.max_connections);
        o.max_per_client = (self.max_per_client > 0).then_some(self.max_per_client);
        o.ipv6_client_prefix = self.ipv6_client_prefix;
        o.connection.max_requests = (self.max_requests > 0).then_some(self.max_requests);
        o.connection.min_send_rate = self.min_send_rate;
        o.grace = Duration::from_secs_f64(self.grace);
        o.access_log = !self.quiet;
        o.log_format = match self.log_format {
            LogFormatArg::Clf => pared_core::log::LogFormat::Clf,
            LogFormatArg::Json => pared_core::log::LogFormat::Json,
        };
        o
    }
}

impl ServerArgs {
    /// Who may do what: users, rules and the flags' model.
    fn auth_config(&self) -> Result<AuthConfig, String> {
        let mut users = self.users()?;
        // A later entry of the same name (a flag after the config file's
        // user) replaces the earlier one.
        let mut seen = std::collections::HashSet::new();
        users.reverse();
        users.retain(|u| seen.insert(u.name.clone()));
        users.reverse();
        let mut rules = Vec::new();
        for r in &self.rule {
            rules.push(Rule::parse(r).map_err(|e| format!("--rule {r:?}: {e}"))?);
        }
        let rules = Rules::new(rules);
        let auth = AuthConfig {
            users,
            reads_need_auth: self.auth_reads,
            public_writes: self.public_writes,
            trusted_proxies: self.trusted_proxy.clone(),
            local_names: pared_host::access::machine_names()
                .into_iter()
                .chain(self.local_name.iter().cloned())
                .collect(),
            rules,
        };
        if !auth.rules.is_empty() {
            if self.auth_reads {
                return Err(
                    "--auth-reads means nothing with rules: leave read out of the \
                            '*' rules instead"
                        .into(),
                );
            }
            if self.public_writes {
                return Err(
                    "--public-writes means nothing with rules: grant write to '*' instead".into(),
                );
            }
            for name in auth.rules.users() {
                if !auth.users.iter().any(|u| u.name == name) {
                    return Err(format!(
                        "a rule names the user {name:?}, who is not among the users \
                         (--auth, --auth-file, [users])"
                    ));
                }
            }
        } else if self.auth_reads && auth.users.is_empty() {
            return Err("--auth-reads needs users (--auth or --auth-file)".into());
        }
        Ok(auth)
    }

    /// The share key's file: in --state-dir, or the default state
    /// directory.
    fn share_key_path(&self) -> Option<PathBuf> {
        self.state_dir
            .clone()
            .or_else(pared_host::share_key::default_state_dir)
            .map(|d| d.join(pared_host::share_key::FILE_NAME))
    }
}

/// Where a running server reloads its settings from on SIGHUP.
struct ReloadFrom {
    /// The config file, if any.
    config: Option<PathBuf>,
    /// The flags after `pared server`.
    cli: Vec<std::ffi::OsString>,
}

impl ReloadFrom {
    /// The settings now: the file (as it is now) under the flags.
    fn args(&self, first: &ServerArgs) -> Result<ServerArgs, String> {
        match &self.config {
            Some(path) => Ok(config::merge(path, &self.cli, true)?.args),
            None => Ok(first.clone()),
        }
    }
}

/// `--check-config`: what the settings mean, on stdout.
fn explain(args: &ServerArgs, auth: &AuthConfig) {
    println!("pared: the settings are good");
    println!("  root: {}", args.root.display());
    println!("  port: {}", args.port);
    let names: Vec<&str> = auth.users.iter().map(|u| u.name.as_str()).collect();
    println!(
        "  users: {}",
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    );
    if auth.rules.is_empty() {
        println!("  access: {}", auth.summary());
        println!(
            "  (no rules: the flags decide; see the README's table of how they map onto rules)"
        );
    } else {
        println!("  rules (the longest matching path wins; users add to *; what none allows is refused):");
        for r in auth.rules.iter() {
            println!("    {r}");
        }
    }
    match args.share_key_path() {
        Some(p) => println!("  share key: {}", p.display()),
        None => println!("  share key: none (no state directory): share links are off"),
    }
    if let (Some(c), Some(k)) = (&args.tls_cert, &args.tls_key) {
        println!("  https: {} and {}", c.display(), k.display());
    }
}

fn run_server(runtime: Runtime, args: &ServerArgs, reload_from: ReloadFrom) -> Result<(), String> {
    let mut opts = args.options();
    opts.auth = args.auth_config()?;
    if args.check_config {
        if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
            pared_host::tls::load_pair(cert, key).map_err(|e| e.to_string())?;
        }
        if !args.root.is_dir() {
            return Err(format!(
                "cannot serve {}: not a folder",
                args.root.display()
            ));
        }
        explain(args, &opts.auth);
        return Ok(());
    }
    let root_dir = args
        .root
        .canonicalize()
        .map_err(|e| format!("cannot serve {}: {e}", args.root.display()))?;
    let root = pared_host::Root::open(&root_dir)
        .map_err(|e| format!("cannot serve {}: {e}", root_dir.display()))?;
    let bind = match &args.bind {
        None => None,
        Some(b) => Some(resolve_bind(b, args.port)?),
    };
    // Under systemd socket activation the manager's socket is used (the
    // port and --bind then name nothing).
    let inherited = pared_host::service_manager::inherited_listener()
        .map_err(|e| format!("socket activation: {e}"))?;
    let activated = inherited.is_some();
    let listener = match inherited {
        Some(l) => l,
        None => pared_host::listener::listen(bind, args.port)
            .map_err(|e| format!("cannot listen on port {}: {e}", args.port))?,
    };
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let stop =
        pared_host::Shutdown::on_signals().map_err(|e| format!("cannot handle signals: {e}"))?;
    let mut fingerprint = None;
    let mut cert_holder = None;
    let tls = match (&args.tls_cert, &args.tls_key, args.tls_self_signed) {
        (Some(cert), Some(key), _) => {
            use pared_host::tls;
            let pair = tls::load_pair(cert, key).map_err(|e| e.to_string())?;
            let holder = tls::ServerCert::new(pair);
            cert_holder = Some(holder.clone());
            Some(tls::server_config(holder).map_err(|e| e.to_string())?)
        }
        (_, _, true) => {
            use pared_host::tls;
            // Every name and address the start-up lines tell people to
            // open, so a browser or `--cacert` accepts each of them.
            let mut names = vec!["localhost".to_owned()];
            names.extend(pared_host::access::machine_names());
            names.extend(["127.0.0.1".to_owned(), "::1".to_owned()]);
            names.extend(local_addresses(addr.ip()).iter().map(ToString::to_string));
            let mut seen = std::collections::HashSet::new();
            names.retain(|n| seen.insert(n.clone()));
            let (pair, fp) = tls::self_signed(&names).map_err(|e| e.to_string())?;
            fingerprint = Some(fp);
            Some(tls::server_config(tls::ServerCert::new(pair)).map_err(|e| e.to_string())?)
        }
        _ => None,
    };
    let site = pared_host::Site::new(root, &opts);
    let policy = site.policy.clone();
    let share_key = args.share_key_path();
    policy.replace(pared_host::access::AccessControl::new(
        opts.auth.clone(),
        opts.service.methods.clone(),
        share_key.clone(),
    ));
    {
        let first = args.clone();
        let methods = opts.service.methods.clone();
        pared_host::reload::on_sighup(move || {
            // Everything is built first; nothing changes unless all of it
            // loaded.
            let now = reload_from.args(&first)?;
            let auth = now.auth_config()?;
            let pair = match (&now.tls_cert, &now.tls_key, &cert_holder) {
                (Some(c), Some(k), Some(_)) => {
                    Some(pared_host::tls::load_pair(c, k).map_err(|e| e.to_string())?)
                }
                _ => None,
            };
            let what = format!(
                "{} user(s), {} rule(s){}",
                auth.users.len(),
                auth.rules.iter().count(),
                if pair.is_some() {
                    ", the certificate and key"
                } else {
                    ""
                }
            );
            policy.replace(pared_host::access::AccessControl::new(
                auth,
                methods.clone(),
                now.share_key_path(),
            ));
            if let (Some(pair), Some(holder)) = (pair, &cert_holder) {
                holder.replace(pair);
            }
            Ok(what)
        })
        .map_err(|e| format!("cannot handle SIGHUP: {e}"))?;
    }
    let https = tls.is_some();
    let scheme = if https { "https" } else { "http" };
    let uploads = match (args.read_only, args.max_upload) {
        (true, _) => "uploads off (read-only)".to_owned(),
        (false, None) => "uploads on".to_owned(),
        (false, Some(n)) => format!("uploads on (max {n} bytes)"),
    };
    say(format_args!(
        "pared: serving {} on {scheme}://{addr}/ (port {}, runtime {}, {uploads}; {})",
        root_dir.display(),
        addr.port(),
        match runtime {
            Runtime::Std => "std",
            Runtime::Smol => "smol",
        },
        opts.auth.summary(),
    ));
    if let Some(fp) = &fingerprint {
        say(format_args!(
            "pared: self-signed certificate, SHA-256 fingerprint {fp}"
        ));
    }
    let urls: Vec<String> = local_addresses(addr.ip())
        .into_iter()
        .map(|ip| match ip {
            IpAddr::V6(v6) => format!("{scheme}://[{v6}]:{}/", addr.port()),
            IpAddr::V4(v4) => format!("{scheme}://{v4}:{}/", addr.port()),
        })
        .collect();
    say(format_args!("pared: open {}", urls.join("  ")));
    say(format_args!("pared: {}", opts.auth.proxy_summary()));
    if args.qr {
        match qr::phone_url(&urls).and_then(|u| qr::render(u).map(|art| (u, art))) {
            Some((url, art)) => {
                say(format_args!("pared: scan to open {url}"));
                say(format_args!("{art}"));
            }
            None => eprintln!("pared: --qr: no address to show"),
        }
    }
    if !opts.auth.users.is_empty() && !https && !addr.ip().to_canonical().is_loopback() {
        eprintln!(
            "pared: warning: Basic auth over plain http on {addr}: passwords cross the network \
             readable by anyone on the path; serve https (--tls-cert, --tls-self-signed)"
        );
    }
    if let Some(w) = site.root.shared_fs_warning() {
        eprintln!("pared: warning: {w}");
    }
    if activated {
        eprintln!("pared: listening on the socket the service manager passed (LISTEN_FDS)");
    }
    if let Some(at) = args.metrics {
        let bound = pared_host::metrics::serve(at)
            .map_err(|e| format!("cannot serve metrics on {at}: {e}"))?;
        say(format_args!(
            "pared: metrics on http://{bound}/metrics, health on http://{bound}/health"
        ));
    }
    pared_host::service_manager::notify_on_stop(stop.clone());
    pared_host::service_manager::notify(&format!(
        "READY=1\nSTATUS=serving on port {}",
        addr.port()
    ));
    let result = match runtime {
        Runtime::Std => pared_std::server::serve(listener, site, opts, stop, tls),
        Runtime::Smol => pared_smol::server::serve(listener, site, opts, stop, tls),
    };
    pared_host::service_manager::stopping();
    result.map_err(|e| format!("server failed: {e}"))
}

/// The address `--bind` names: an IP address, or a host name resolved
/// (the first address it has).
fn resolve_bind(bind: &str, port: u16) -> Result<IpAddr, String> {
    use std::net::ToSocketAddrs;
    if let Ok(ip) = bind
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        return Ok(ip);
    }
    (bind, port)
        .to_socket_addrs()
        .map_err(|e| format!("--bind {bind}: {e}"))?
        .next()
        .map(|a| a.ip())
        .ok_or_else(|| format!("--bind {bind}: no address"))
}

/// The addresses a person can open the server at: the bound one, or
/// when bound to every interface, each interface's address (from
/// /proc/net/fib_trie and /proc/net/if_inet6), loopback first.
fn local_addresses(bound: IpAddr) -> Vec<IpAddr> {
    if !bound.is_unspecified() {
        return vec![bound.to_canonical()];
    }
    let mut out: Vec<IpAddr> = vec![[127, 0, 0, 1].into()];
    if let Ok(trie) = std::fs::read_to_string("/proc/net/fib_trie") {
        let mut last: Option<IpAddr> = None;
        for line in trie.lines() {
            let t = line.trim_start_matches([' ', '|', '+', '-']).trim();
            if let Ok(ip) = t.parse::<IpAddr>() {
                last = Some(ip);
            } else if t.starts_with("/32 host LOCAL") {
                if let Some(ip) = last {
                    if !out.contains(&ip) {
                        out.push(ip);
                    }
                }
            }
        }
    }
    if bound.is_ipv6() {
        if let Ok(list) = std::fs::read_to_string("/proc/net/if_inet6") {
            for line in list.lines() {
                let Some(hex) = line.split_whitespace().next() else {
                    continue;
                };
                let Ok(n) = u128::from_str_radix(hex, 16) else {
                    continue;
                };
                let ip = IpAddr::V6(std::net::Ipv6Addr::from(n));
                // Link-local addresses need a zone a URL cannot carry well.
                let link_local =
                    matches!(ip, IpAddr::V6(v) if (v.segments()[0] & 0xffc0) == 0xfe80);
                if !link_local && !out.contains(&ip) {
                    out.push(ip);
                }
            }
        }
    }
    out
}

/// A start-up line on stdout. Whoever started the server may have stopped
/// reading stdout (a closed pipe): that must never stop the server.
fn say(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
