//! Searching a folder's tree for names (`?q=`), within core's limits
//! (results, entries looked at, time). Folders are walked breadth first,
//! one open at a time; a symlink is found by its name but never walked
//! into, so a link loop or a link out of the root cannot lead the walk.

use std::collections::VecDeque;
use std::fs::File;
use std::time::{Duration, Instant};

use pared_core::listing::search::{matches, Found, Results, MAX_MILLIS, MAX_RESULTS, MAX_VISITS};
use pared_core::path::RelPath;
use rustix::fs::OFlags;

use super::dir::FOLDER_READS;
use super::{os_path, Root};

impl Root {
    /// The names under the folder `path` (opened as `dir`) that contain
    /// `query` (lower-cased), breadth first; with `readable`, only the
    /// relative paths it allows (a folder left out is not walked). At
    /// most two searches or folder reads run at once.
    pub fn search(
        &self,
        dir: &File,
        path: &RelPath,
        query: &str,
        readable: Option<&dyn Fn(&str) -> bool>,
    ) -> Results {
        let _turn = FOLDER_READS.enter();
        let deadline = Instant::now() + Duration::from_millis(MAX_MILLIS);
        let base = os_path(path);
        let mut results = Results {
            found: Vec::new(),
            complete: true,
        };
        let mut visits = 0usize;
        // Below the searched folder: the relative paths still to walk.
        let mut queue: VecDeque<String> = VecDeque::new();
        let mut current = dir.try_clone().ok();
        let mut prefix = String::new();
        loop {
            if let Some(d) = current.take() {
                let mut subdirs = Vec::new();
                let mut stopped = false;
                let _ = self.each_entry_while(&d, |name, is_dir, size, modified, _| {
                    visits += 1;
                    // The limits hold inside a huge folder too: the clock
                    // is read every 1,024 entries.
                    if visits >= MAX_VISITS
                        || results.found.len() >= MAX_RESULTS
                        || (visits % 1024 == 0 && Instant::now() >= deadline)
                    {
                        stopped = true;
                        return false;
                    }
                    if !path.can_join(name) {
                        return true;
                    }
                    let rel = if prefix.is_empty() {
                        name.to_owned()
                    } else {
                        format!("{prefix}/{name}")
                    };
                    if readable.is_some_and(|may| !may(&rel)) {
                        return true;
                    }
                    if matches(name, query) {
                        results.found.push(Found {
                            path: rel.clone(),
                            is_dir,
                            size,
                            modified,
                        });
                    }
                    if is_dir {
                        subdirs.push(rel);
                    }
                    true
                });
                if stopped {
                    results.complete = false;
                    return results;
                }
                queue.extend(subdirs);
            }
            if results.found.len() >= MAX_RESULTS
                || visits >= MAX_VISITS
                || Instant::now() >= deadline
            {
                results.complete = queue.is_empty() && results.found.len() < MAX_RESULTS;
                break;
            }
            let Some(next) = queue.pop_front() else {
                break;
            };
            let full = if base == "." {
                next.clone()
            } else {
                format!("{base}/{next}")
            };
            // NOFOLLOW: a symlink to a folder is found, not walked.
            current = self
                .open_at(
                    &*self.fd,
                    &full,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW,
                )
                .ok()
                .map(File::from);
            prefix = next;
        }
        results
    }
}
