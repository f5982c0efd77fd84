//! `pared share`: prints a share link (see `pared_core::share`), making
//! the server's key on first use; `--rotate` replaces the key, revoking
//! every link made before.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

/// `pared share` flags.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "The link works on PATH and everything beneath it, without a login, \
on every pared that reads the same key (the same --state-dir). Examples:\n  \
pared share /photos/2024/ --expires 30d\n  pared share /homework/ --upload --expires 2w\n  \
pared share --rotate    (every link made so far stops working)"
)]
pub struct ShareArgs {
    /// The path to share, as in its URL: /photos/2024/ (a folder ends
    /// with /) or /report.pdf.
    #[arg(required_unless_present = "rotate")]
    path: Option<String>,
    /// How long the link works: 90m, 12h, 7d, 4w, or never.
    #[arg(long, default_value = "7d")]
    expires: String,
    /// A drop box: the link lets people upload new files there (never
    /// replace one), and not see what is there.
    #[arg(long)]
    upload: bool,
    /// The server's address as people open it, e.g. https://files.example.org
    /// [default: from --config, else http://THIS-HOST:8080].
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// The server's state directory (as its --state-dir).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// The server's config file: its state-dir, port and TLS say where
    /// the key is and what the URL looks like.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Make a new key: every link made so far stops working at once.
    #[arg(long)]
    rotate: bool,
}

/// Parses `90m`, `12h`, `7d`, `4w`, `3600s`; `never` is `None`.
fn parse_expiry(s: &str) -> Result<Option<Duration>, String> {
    if s.eq_ignore_ascii_case("never") {
        return Ok(None);
    }
    let bad = || format!("--expires {s:?}: use e.g. 90m, 12h, 7d, 4w or never");
    let (n, unit) = s.split_at(s.len().saturating_sub(1));
    let n: u64 = n.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(secs)
        .filter(|t| *t > 0)
        .map(|t| Some(Duration::from_secs(t)))
        .ok_or_else(bad)
}

/// `2026-12-10 14:00` for Unix seconds `t`.
fn utc_minute(t: u64) -> String {
    let (y, m, d) = pared_core::log::civil((t / 86_400) as i64);
    let s = t % 86_400;
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}", s / 3600, s / 60 % 60)
}

/// The machine's host name, for a default URL.
fn host_name() -> String {
    let n = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let n = n.trim();
    if n.is_empty() || n == "(none)" {
        "localhost".into()
    } else {
        n.to_owned()
    }
}

fn run_inner(args: &ShareArgs) -> Result<(), String> {
    let from_config = match &args.config {
        Some(path) => Some(crate::config::merge(path, &[], false)?.args),
        None => None,
    };
    let state_dir = args
        .state_dir
        .clone()
        .or_else(|| from_config.as_ref().and_then(|c| c.state_dir.clone()))
        .or_else(pared_host::share_key::default_state_dir)
        .ok_or("no state directory: give --state-dir")?;
    if args.rotate {
        pared_host::share_key::rotate(&state_dir)
            .map_err(|e| format!("cannot write a key in {}: {e}", state_dir.display()))?;
        eprintln!(
            "pared: new share key in {}: every earlier link is revoked",
            state_dir.display()
        );
        if args.path.is_none() {
            return Ok(());
        }
    }
    let Some(raw) = &args.path else {
        return Ok(());
    };
    let with_slash = if raw.starts_with('/') {
        raw.clone()
    } else {
        format!("/{raw}")
    };
    let path = pared_core::path::resolve_target(&with_slash)
        .map_err(|e| format!("{raw}: not a path to share ({e})"))?;
    let expires = parse_expiry(&args.expires)?;
    let key = pared_host::share_key::load_or_create(&state_dir)
        .map_err(|e| format!("share key in {}: {e}", state_dir.display()))?;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let until = expires.map(|d| now.saturating_add(d.as_secs()));
    let kind = if args.upload {
        pared_core::share::Kind::Upload
    } else {
        pared_core::share::Kind::Read
    };
    let token = pared_core::share::make(&key, &path, kind, until);
    let base = match (&args.url, &from_config) {
        (Some(u), _) => u.clone(),
        (None, Some(c)) => {
            let tls = c.tls_cert.is_some() || c.tls_self_signed;
            let scheme = if tls { "https" } else { "http" };
            format!("{scheme}://{}:{}", host_name(), c.port)
        }
        (None, None) => format!("http://{}:8080", host_name()),
    };
    let href = path.href(path.has_trailing_slash() || path.is_root());
    println!("{}{href}?share={token}", base.trim_end_matches('/'));
    let what = if args.upload {
        "upload (drop box)"
    } else {
        "read-only"
    };
    match until {
        Some(t) => eprintln!("pared: {what} link to {href}, until {} UTC", utc_minute(t)),
        None => eprintln!(
            "pared: {what} link to {href}, never expires (pared share --rotate revokes it)"
        ),
    }
    Ok(())
}

/// Runs `pared share`.
pub fn run(args: &ShareArgs) -> ExitCode {
    match run_inner(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("pared: {msg}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiries_parse() {
        assert_eq!(parse_expiry("7d"), Ok(Some(Duration::from_secs(604_800))));
        assert_eq!(parse_expiry("90m"), Ok(Some(Duration::from_secs(5400))));
        assert_eq!(parse_expiry("never"), Ok(None));
        for bad in ["", "7", "d", "0d", "7y", "-1d"] {
            assert!(parse_expiry(bad).is_err(), "{bad}");
        }
    }
}
