//! `pared client PUT FILE` as a resumable upload, for every client
//! runtime: core's plan (`pared_core::fetch::resumable_put`) run one
//! request at a time with the runtime's own `run`. A cut part resumes
//! from the server's offset by itself; `-C` takes up an upload an earlier
//! run left, from the URL kept in the state directory.

use std::path::{Path, PathBuf};

use pared_core::fetch::resumable_put::{Outcome, Request, ResumablePut};
use pared_core::Method;
use sha2::{Digest as _, Sha256};

use super::error::ClientError;
use super::job::Job;
use super::tree::RunSession;

/// Makes the request for a method, a path with its query, extra fields
/// and an upload length.
pub type MakeRequest<'a> = &'a dyn Fn(
    Method,
    &str,
    Vec<(String, String)>,
    Option<u64>,
) -> Result<pared_core::fetch::Session, ClientError>;

/// Where the URL of an unfinished upload of `local` to `url` is kept for
/// `-C`: a file in `state_dir/uploads/` named by a hash of the URL and
/// the local file's path, size and modification time (another version of
/// the file never resumes this upload).
pub fn memory_file(state_dir: &Path, url: &str, local: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let abs = std::fs::canonicalize(local).ok()?;
    let meta = std::fs::metadata(&abs).ok()?;
    let key = format!(
        "{url}\0{}\0{}\0{}.{}",
        abs.display(),
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec()
    );
    let hex: String = Sha256::digest(key.as_bytes())
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    Some(state_dir.join("uploads").join(hex))
}

fn remember(memory: Option<&Path>, url: &str) {
    if let Some(m) = memory {
        if let Some(dir) = m.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::write(m, url);
    }
}

fn forget(memory: Option<&Path>) {
    if let Some(m) = memory {
        let _ = std::fs::remove_file(m);
    }
}

/// Uploads `job.upload` to `remote` (a path) in parts of `part` bytes.
/// `creating` are the creating request's own fields (preconditions, a
/// digest). Returns `None` when the server does not take resumable
/// uploads (the caller sends a plain PUT), else the exit code.
#[allow(clippy::too_many_arguments)]
pub fn put(
    job: &Job,
    remote: &str,
    part: u64,
    memory: Option<&Path>,
    resume_earlier: bool,
    retries: u32,
    creating: &[(String, String)],
    make: MakeRequest<'_>,
    run: RunSession<'_>,
) -> Result<Option<u8>, ClientError> {
    let Some((_, size)) = job.open_upload()? else {
        return Ok(None);
    };
    let saved = memory
        .filter(|_| resume_earlier)
        .and_then(|m| std::fs::read_to_string(m).ok())
        .map(|u| u.trim().to_owned())
        .filter(|u| u.contains("?upload="));
    let mut plan = ResumablePut::new(size, part, saved).with_retries(retries);
    loop {
        let request = plan.next(creating);
        let mut one = job.clone();
        one.status.set(None);
        *one.head.borrow_mut() = None;
        one.quiet = true;
        let (method, target, fields, len) = match &request {
            Request::Probe => (Method::Options, remote.to_owned(), Vec::new(), None),
            Request::Create { headers } => {
                one.upload_range = Some((0, 0));
                (Method::Put, remote.to_owned(), headers.clone(), Some(0))
            }
            Request::Offset { url } => (Method::Head, url.clone(), Vec::new(), None),
            Request::Append {
                url,
                offset,
                len,
                headers,
                last,
            } => {
                one.upload_range = Some((*offset, *len));
                one.progress_of = Some((*offset, size));
                // The last part's answer is the upload's: shown as a PUT's.
                one.quiet = !*last;
                (
                    Method::Other("PATCH".into()),
                    url.clone(),
                    headers.clone(),
                    Some(*len),
                )
            }
        };
        let label = format!("{} {target}", method.as_str());
        let outcome = make(method, &target, fields, len).and_then(|s| run(s, &one));
        let code = match outcome {
            Ok(code) => code,
            Err(e) if e.is_transient() => match plan.on_network_error() {
                Some(wait) => {
                    eprintln!(
                        "pared: {e}; resuming the upload in {} s (at {} of {size} bytes)",
                        wait.as_secs(),
                        plan.offset()
                    );
                    std::thread::sleep(wait);
                    continue;
                }
                None => {
                    if memory.is_some() && plan.url().is_some() {
                        eprintln!(
                            "pared: the upload stopped (the server held {} of {size} bytes when \
                             last asked); run the same command with -C to resume it",
                            plan.offset()
                        );
                    }
                    return Err(e);
                }
            },
            Err(e) => return Err(e),
        };
        let Some(head) = one.head.borrow().clone() else {
            return Ok(Some(code.max(1)));
        };
        match plan.on_answer(&head) {
            Outcome::Continue => {}
            Outcome::Unsupported => return Ok(None),
            Outcome::Created(url) => remember(memory, &url),
            Outcome::Restart => forget(memory),
            Outcome::Finished => {
                forget(memory);
                return Ok(Some(code));
            }
            Outcome::Failed(status) => {
                if one.quiet {
                    eprintln!(
                        "pared: {label}: {status} {}",
                        pared_core::fetch::escape_for_terminal(&head.reason)
                    );
                }
                if status == 404 || status == 410 {
                    forget(memory);
                }
                return Ok(Some(code.max(1)));
            }
        }
    }
}
