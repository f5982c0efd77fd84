//! `GET -r URL/dir/ -o DIR` for every client runtime: a remote folder
//! mirrored from its JSON listing (`?format=json`, every page), folders
//! first, then the files, several at a time (`-j N`). A file whose local
//! copy has the same size and modification time is skipped (each
//! download sets the local time to the remote one, as `wget -N` and
//! `rsync -t` do); each download is atomic and resumable (its partial is
//! kept when cut, and the next run resumes it). One summary at the end.
//!
//! A listing that names anything but a plain file name (`..`, `a/b`, a
//! dot-file) is refused whole: a hostile server cannot steer a download
//! out of the destination.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, UNIX_EPOCH};

use pared_core::fetch::Session;
use pared_core::listing::{read_listing, RemotePage};
use pared_core::Method;

use super::error::ClientError;
use super::job::Job;

/// Makes the request for a method, a remote path (decoded, `/`-separated)
/// and a raw query (`""` or `?…`).
pub type MakeRequest<'a> = &'a (dyn Fn(Method, &str, &str) -> Result<Session, ClientError> + Sync);

/// Runs one request on the runtime's client; returns its exit code.
pub type RunRequest<'a> = &'a (dyn Fn(Session, &Job) -> Result<u8, ClientError> + Sync);

/// A file to fetch.
#[derive(Debug)]
struct Wanted {
    remote: String,
    local: PathBuf,
    mtime_ns: Option<u128>,
}

/// How the mirror went.
#[derive(Debug, Default)]
struct Tally {
    downloaded: usize,
    bytes: u64,
    fresh: usize,
    unreadable: usize,
    failed: usize,
    first_failure: u8,
}

impl Tally {
    fn fail(&mut self, what: &str, why: &str, code: u8) {
        self.failed += 1;
        if self.first_failure == 0 {
            self.first_failure = code.max(1);
        }
        eprintln!("pared: {what}: {why}");
    }
}

/// True when the local file already is the remote one: same size, and
/// the modification time a previous download set.
fn up_to_date(local: &Path, size: u64, mtime_ns: Option<u128>) -> bool {
    let (Ok(meta), Some(want)) = (std::fs::metadata(local), mtime_ns) else {
        return false;
    };
    let have = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos());
    meta.is_file() && meta.len() == size && have == Some(want)
}

/// One page of the remote folder `dir`'s listing.
fn fetch_page(
    dir: &str,
    page: usize,
    job: &Job,
    make: MakeRequest<'_>,
    run: RunRequest<'_>,
) -> Result<RemotePage, ClientError> {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = std::env::temp_dir().join(format!("pared-listing-{}-{n}.json", std::process::id()));
    let mut one = job.clone();
    one.quiet = true;
    one.resume = false;
    one.output = Some(tmp.clone());
    one.status.set(None);
    let session = make(Method::Get, dir, &format!("?format=json&page={page}"))?;
    let code = run(session, &one)?;
    let text = std::fs::read_to_string(&tmp);
    let _ = std::fs::remove_file(&tmp);
    match one.status.get() {
        Some(200) => {}
        Some(s) => {
            return Err(ClientError::Listing {
                reason: format!("status {s} (is this a pared server's folder?)"),
            })
        }
        None => {
            return Err(ClientError::Listing {
                reason: format!("no answer (exit {code})"),
            })
        }
    }
    let text = text.map_err(|e| ClientError::Listing {
        reason: e.to_string(),
    })?;
    read_listing(&text).map_err(|e| ClientError::Listing {
        reason: e.to_string(),
    })
}

/// Mirrors the remote folder `base` (decoded, ending in `/`) into `out`
/// with `jobs` downloads at a time; returns the exit code: 0 when every
/// file is there, else the first failure's.
pub fn download_tree(
    base: &str,
    out: &Path,
    job: &Job,
    jobs: usize,
    make: MakeRequest<'_>,
    run: RunRequest<'_>,
) -> Result<u8, ClientError> {
    let local = |path: &Path, source| ClientError::Local {
        path: path.display().to_string(),
        source,
    };
    let mut tally = Tally::default();
    let mut wanted = Vec::new();
    let mut folders = VecDeque::from([(base.to_owned(), out.to_path_buf())]);
    while let Some((dir, here)) = folders.pop_front() {
        std::fs::create_dir_all(&here).map_err(|e| local(&here, e))?;
        let mut page = 1;
        loop {
            let listing = match fetch_page(&dir, page, job, make, run) {
                Ok(l) => l,
                Err(e) => {
                    tally.fail(&format!("GET {dir}"), &e.to_string(), e.exit_code());
                    break;
                }
            };
            for e in listing.entries {
                let path = here.join(&e.name);
                if e.is_dir {
                    folders.push_back((format!("{dir}{}/", e.name), path));
                } else if e.etag.is_none() && e.mtime_ns.is_none() {
                    // Listed but not described: a link the server will
                    // not follow (it leaves its folder); never fetchable.
                    tally.unreadable += 1;
                } else if up_to_date(&path, e.size, e.mtime_ns) {
                    tally.fresh += 1;
                } else {
                    wanted.push(Wanted {
                        remote: format!("{dir}{}", e.name),
                        local: path,
                        mtime_ns: e.mtime_ns,
                    });
                }
            }
            if listing.page >= listing.pages {
                break;
            }
            page += 1;
        }
    }
    let work = Mutex::new(wanted.into_iter());
    let tally = Mutex::new(tally);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            let mut one = job.clone();
            one.quiet = true;
            one.resume = true;
            let (work, tally) = (&work, &tally);
            scope.spawn(move || loop {
                let next = work.lock().ok().and_then(|mut w| w.next());
                let Some(w) = next else {
                    break;
                };
                let outcome = fetch_file(&w, &mut one, make, run);
                if let Ok(mut t) = tally.lock() {
                    match outcome {
                        Ok(bytes) => {
                            t.downloaded += 1;
                            t.bytes += bytes;
                        }
                        Err((why, code)) => t.fail(&format!("GET {}", w.remote), &why, code),
                    }
                }
            });
        }
    });
    let t = tally.into_inner().unwrap_or_default();
    let failed = if t.failed > 0 {
        format!(", {} failed", t.failed)
    } else {
        String::new()
    };
    let unreadable = if t.unreadable > 0 {
        format!(
            ", {} link(s) the server does not follow left out",
            t.unreadable
        )
    } else {
        String::new()
    };
    eprintln!(
        "pared: downloaded {} file(s), {} bytes; {} already up to date{unreadable}{failed}",
        t.downloaded, t.bytes, t.fresh
    );
    Ok(t.first_failure)
}

/// Downloads one file (resuming its partial), then gives it the remote
/// modification time; its size, or why not and the exit code.
fn fetch_file(
    w: &Wanted,
    one: &mut Job,
    make: MakeRequest<'_>,
    run: RunRequest<'_>,
) -> Result<u64, (String, u8)> {
    one.output = Some(w.local.clone());
    one.status.set(None);
    let mut session =
        make(Method::Get, &w.remote, "").map_err(|e| (e.to_string(), e.exit_code()))?;
    if let Some(resume) = one.resume_point() {
        session.resume(resume);
    }
    let code = run(session, one).map_err(|e| (e.to_string(), e.exit_code()))?;
    match one.status.get() {
        Some(200 | 206) if code == 0 => {}
        Some(s) => return Err((format!("status {s}"), code)),
        None => return Err(("no answer".into(), code)),
    }
    if let Some(ns) = w.mtime_ns {
        let when = UNIX_EPOCH + Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX));
        let set = std::fs::File::options()
            .write(true)
            .open(&w.local)
            .and_then(|f| f.set_modified(when));
        if let Err(e) = set {
            return Err((
                format!("cannot set its time: {e}"),
                pared_core::fetch::EXIT_LOCAL,
            ));
        }
    }
    std::fs::metadata(&w.local)
        .map(|m| m.len())
        .map_err(|e| (e.to_string(), pared_core::fetch::EXIT_LOCAL))
}
