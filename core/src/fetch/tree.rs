//! `PUT -r DIR`: the requests that upload a local tree into a remote
//! folder, in an order that works (every folder made with MKCOL before
//! anything goes into it), and what each answer means.

/// One request of a tree upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeStep {
    /// MKCOL of this remote folder (ends in `/`).
    MakeFolder(String),
    /// PUT of the local file (relative to the tree's root) to this remote path.
    Upload {
        /// The file, relative to the local tree's root, `/`-separated.
        local: String,
        /// The remote path.
        remote: String,
    },
}

/// The requests that upload `entries` (paths relative to the local root,
/// `/`-separated, with `true` for folders) into the remote folder `base`:
/// the base folder first, then each folder before what it holds.
pub fn upload_plan(base: &str, entries: &[(String, bool)]) -> Vec<TreeStep> {
    let base = format!("/{}/", base.trim_matches('/')).replace("//", "/");
    let mut sorted: Vec<&(String, bool)> = entries.iter().collect();
    // Parents sort before their members; folders before files at a level.
    sorted.sort_by(|a, b| {
        let depth = |p: &str| p.matches('/').count();
        depth(&a.0)
            .cmp(&depth(&b.0))
            .then(b.1.cmp(&a.1))
            .then(a.0.cmp(&b.0))
    });
    let mut steps = vec![TreeStep::MakeFolder(base.clone())];
    for (rel, is_dir) in sorted {
        let remote = format!("{base}{rel}");
        steps.push(if *is_dir {
            TreeStep::MakeFolder(format!("{remote}/"))
        } else {
            TreeStep::Upload {
                local: rel.clone(),
                remote,
            }
        });
    }
    steps
}

/// The request target of a remote path made of raw names: each segment
/// percent-encoded (a `%` in a file name is a name, never an escape), the
/// trailing `/` of a folder kept.
pub fn remote_target(remote: &str) -> String {
    let mut out = String::with_capacity(remote.len() + 8);
    for seg in remote.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        crate::path::encode_into(seg, &mut out);
    }
    if out.is_empty() || remote.ends_with('/') {
        out.push('/');
    }
    out
}

/// True when `status` is success for `step`: a folder that already
/// exists (405) is as good as one made.
pub fn step_succeeded(step: &TreeStep, status: u16) -> bool {
    match step {
        TreeStep::MakeFolder(_) => status == 201 || status == 405,
        TreeStep::Upload { .. } => (200..300).contains(&status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_come_before_what_they_hold() {
        let entries = vec![
            ("a/b/c.txt".to_owned(), false),
            ("a".to_owned(), true),
            ("z.txt".to_owned(), false),
            ("a/b".to_owned(), true),
        ];
        let plan = upload_plan("up", &entries);
        assert_eq!(
            plan,
            vec![
                TreeStep::MakeFolder("/up/".into()),
                TreeStep::MakeFolder("/up/a/".into()),
                TreeStep::Upload {
                    local: "z.txt".into(),
                    remote: "/up/z.txt".into()
                },
                TreeStep::MakeFolder("/up/a/b/".into()),
                TreeStep::Upload {
                    local: "a/b/c.txt".into(),
                    remote: "/up/a/b/c.txt".into()
                },
            ]
        );
        assert_eq!(upload_plan("/", &[])[0], TreeStep::MakeFolder("/".into()));
        assert!(step_succeeded(&plan[0], 405));
        assert_eq!(remote_target("/up/a b%41/"), "/up/a%20b%2541/");
        assert_eq!(remote_target("/"), "/");
        assert!(!step_succeeded(&plan[2], 405));
    }
}
