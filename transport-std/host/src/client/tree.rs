//! `PUT -r DIR` for every client runtime: the local tree walked (links
//! and dot-files left out, as the server refuses them), core's plan run
//! one request at a time with the runtime's own `run`, and one summary.

use std::path::Path;

use pared_core::fetch::tree::{step_succeeded, upload_plan, TreeStep};
use pared_core::fetch::Session;
use pared_core::Method;

use super::error::ClientError;
use super::job::Job;

/// The files and folders under `dir`, relative and `/`-separated (`true`
/// for folders); symlinks, dot-files and names that are not UTF-8 are
/// left out.
pub fn local_entries(dir: &Path) -> Result<Vec<(String, bool)>, ClientError> {
    let mut out = Vec::new();
    walk(dir, "", &mut out)?;
    Ok(out)
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<(String, bool)>) -> Result<(), ClientError> {
    let local = |source| ClientError::Local {
        path: dir.display().to_string(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(local)? {
        let entry = entry.map_err(local)?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let kind = entry.file_type().map_err(local)?;
        let rel = format!("{prefix}{name}");
        if kind.is_dir() {
            out.push((rel.clone(), true));
            walk(&entry.path(), &format!("{rel}/"), out)?;
        } else if kind.is_file() {
            out.push((rel, false));
        }
    }
    Ok(())
}

/// Makes the request of one step: its method, remote path and upload length.
pub type MakeSession<'a> = &'a dyn Fn(Method, &str, Option<u64>) -> Result<Session, ClientError>;

/// Runs one request on the runtime's client; returns its exit code.
pub type RunSession<'a> = &'a dyn Fn(Session, &Job) -> Result<u8, ClientError>;

/// Uploads the tree at `root` into the remote folder `base`: `session`
/// makes the request for a method, remote path and upload length; `run`
/// is the runtime's client. Returns the exit code: 0 when every step
/// succeeded, else the first failure's.
pub fn upload_tree(
    root: &Path,
    base: &str,
    job: &Job,
    session: MakeSession<'_>,
    run: RunSession<'_>,
) -> Result<u8, ClientError> {
    let entries = local_entries(root)?;
    let plan = upload_plan(base, &entries);
    let (mut files, mut folders, mut failed) = (0usize, 0usize, 0usize);
    let mut first_failure = 0u8;
    for step in &plan {
        let mut one = job.clone();
        one.quiet = true;
        one.status.set(None);
        let (method, remote, len) = match step {
            TreeStep::MakeFolder(remote) => (Method::Other("MKCOL".into()), remote, None),
            TreeStep::Upload { local, remote } => {
                let path = root.join(local);
                let len = std::fs::metadata(&path).map(|m| m.len()).ok();
                one.upload = Some(path);
                (Method::Put, remote, len)
            }
        };
        let label = format!("{} {remote}", method.as_str());
        let outcome = session(method, remote, len).and_then(|s| run(s, &one));
        let status = one.status.get();
        match (outcome, status) {
            (Ok(_), Some(s)) if step_succeeded(step, s) => match step {
                TreeStep::MakeFolder(_) => folders += 1,
                TreeStep::Upload { .. } => files += 1,
            },
            (Ok(code), status) => {
                failed += 1;
                first_failure = if first_failure == 0 {
                    code.max(1)
                } else {
                    first_failure
                };
                let s = status.map_or("no answer".to_owned(), |s| s.to_string());
                eprintln!("pared: {label}: {s}");
            }
            (Err(e), _) => {
                failed += 1;
                if first_failure == 0 {
                    first_failure = e.exit_code();
                }
                eprintln!("pared: {label}: {e}");
            }
        }
    }
    if failed == 0 {
        eprintln!("pared: uploaded {files} file(s) into {folders} folder(s)");
    } else {
        eprintln!("pared: uploaded {files} file(s) into {folders} folder(s); {failed} failed");
    }
    Ok(first_failure)
}
