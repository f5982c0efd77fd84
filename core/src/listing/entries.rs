//! A folder's entries as its page shows them: held compactly (one buffer
//! of names and one of rows, however many entries there are), sorted, and
//! cut into pages, so what a listing renders and holds while a client
//! reads it is bounded by [`PAGE_SIZE`] rows whatever the folder's size.

use std::cmp::Ordering;
use std::time::SystemTime;

use super::{Order, SortKey};
use crate::path::RelPath;

/// Rows on one page of a listing; the rest are on `?page=2` and on.
pub const PAGE_SIZE: usize = 1000;

/// One row: its name is `names[at..at + len]`.
#[derive(Debug, Clone, Copy)]
struct Item {
    at: usize,
    len: u32,
    is_dir: bool,
    size: u64,
    modified: Option<SystemTime>,
    id: u64,
}

/// The entries of one folder that a request could address (dot-files and
/// names that are not one path segment are never shown), with totals.
#[derive(Debug, Default)]
pub struct Listing {
    names: String,
    items: Vec<Item>,
    dirs: u64,
    files: u64,
    bytes: u64,
}

/// One row of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row<'a> {
    /// The file name (one path segment).
    pub name: &'a str,
    /// True for a directory.
    pub is_dir: bool,
    /// Size in bytes (0 for directories).
    pub size: u64,
    /// Modification time, where known.
    pub modified: Option<SystemTime>,
    /// The storage's id of the file (its inode number), for its ETag.
    pub id: u64,
}

/// The rows of one page, and where it lies among all of them.
#[derive(Debug)]
pub struct Page<'a> {
    /// This page's number, from 1 (a number past the end shows the last).
    pub number: usize,
    /// How many pages there are (at least 1).
    pub count: usize,
    /// The index of this page's first row among all rows.
    pub first: usize,
    /// The rows, in order.
    pub rows: Vec<Row<'a>>,
}

impl Listing {
    /// An empty listing.
    pub fn new() -> Listing {
        Listing::default()
    }

    /// Adds an entry of the folder `dir`, unless no request could address
    /// it (then it is left out: it could not be fetched).
    pub fn push(
        &mut self,
        dir: &RelPath,
        name: &str,
        is_dir: bool,
        size: u64,
        modified: Option<SystemTime>,
        id: u64,
    ) {
        if !dir.can_join(name) {
            return;
        }
        let Ok(len) = u32::try_from(name.len()) else {
            return;
        };
        let size = if is_dir { 0 } else { size };
        if is_dir {
            self.dirs += 1;
        } else {
            self.files += 1;
            self.bytes = self.bytes.saturating_add(size);
        }
        self.items.push(Item {
            at: self.names.len(),
            len,
            is_dir,
            size,
            modified,
            id,
        });
        self.names.push_str(name);
    }

    /// How many entries the listing holds.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when the folder shows nothing.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Folders, files and the files' total size, over every page.
    pub fn totals(&self) -> (u64, u64, u64) {
        (self.dirs, self.files, self.bytes)
    }

    /// Sorts the entries in `order` (folders first, then by the column,
    /// ties by name) and returns page `number` (from 1).
    pub fn page(&mut self, order: Order, number: usize) -> Page<'_> {
        let names = &self.names;
        let name = |i: &Item| &names[i.at..i.at + i.len as usize];
        self.items.sort_unstable_by(|a, b| {
            let by = match order.key {
                SortKey::Name => Ordering::Equal,
                SortKey::Size => a.size.cmp(&b.size),
                SortKey::Time => a.modified.cmp(&b.modified),
            }
            .then_with(|| name(a).cmp(name(b)));
            b.is_dir
                .cmp(&a.is_dir)
                .then(if order.desc { by.reverse() } else { by })
        });
        let count = self.items.len().div_ceil(PAGE_SIZE).max(1);
        let number = number.clamp(1, count);
        let first = (number - 1) * PAGE_SIZE;
        let rows = self.items[first..]
            .iter()
            .take(PAGE_SIZE)
            .map(|i| Row {
                name: name(i),
                is_dir: i.is_dir,
                size: i.size,
                modified: i.modified,
                id: i.id,
            })
            .collect();
        Page {
            number,
            count,
            first,
            rows,
        }
    }
}

/// The page a request target asks for (`?page=N`, from 1); 1 when absent
/// or not a number.
pub fn page_of(target: &str) -> usize {
    let query = crate::path::split_query(target).1.unwrap_or("");
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("page="))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::resolve_target;
    use proptest::prelude::*;

    fn order(target: &str) -> Order {
        Order::from_target(target)
    }

    #[test]
    fn pages_cut_the_sorted_rows() {
        let dir = RelPath::root();
        let mut l = Listing::new();
        for i in (0..2500).rev() {
            l.push(&dir, &format!("f{i:05}"), false, i, None, 0);
        }
        l.push(&dir, "zdir", true, 99, None, 0);
        l.push(&dir, ".hidden", false, 1, None, 0);
        l.push(&dir, "a/b", false, 1, None, 0);
        assert_eq!(l.len(), 2501, "dot-files and non-segments are left out");
        assert_eq!(l.totals(), (1, 2500, (0..2500u64).sum()));
        let p = l.page(order("/"), 1);
        assert_eq!((p.number, p.count, p.first), (1, 3, 0));
        assert_eq!(p.rows.len(), PAGE_SIZE);
        assert_eq!(p.rows[0].name, "zdir", "folders first");
        assert_eq!(p.rows[0].size, 0);
        assert_eq!(p.rows[1].name, "f00000");
        let p = l.page(order("/?sort=size&order=desc"), 3);
        assert_eq!((p.number, p.first, p.rows.len()), (3, 2000, 501));
        assert_eq!(p.rows.last().map(|r| r.name), Some("f00000"));
        let past = l.page(order("/"), 99);
        assert_eq!(past.number, 3, "a page past the end shows the last");
        let mut empty = Listing::new();
        let p = empty.page(order("/"), 5);
        assert_eq!((p.number, p.count, p.rows.len()), (1, 1, 0));
        assert!(empty.is_empty());
    }

    #[test]
    fn page_numbers_from_the_query() {
        assert_eq!(page_of("/d/"), 1);
        assert_eq!(page_of("/d/?page=7"), 7);
        assert_eq!(page_of("/d/?sort=size&page=3&order=desc"), 3);
        assert_eq!(page_of("/d/?page=0"), 1);
        assert_eq!(page_of("/d/?page=-2"), 1);
        assert_eq!(page_of("/d/?page=99999999999999999999999"), 1);
        assert_eq!(page_of("/d/?xpage=4"), 1);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Every addressable entry is on exactly one page, in order.
        #[test]
        fn pages_partition_the_folder(
            names in proptest::collection::btree_set("[a-z]{1,6}", 0..2300),
            desc in any::<bool>(),
        ) {
            let dir = resolve_target("/x/").map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
            let mut l = Listing::new();
            for n in &names {
                l.push(&dir, n, n.len() % 3 == 0, n.len() as u64, None, 0);
            }
            let o = order(if desc { "/?order=desc" } else { "/" });
            let count = l.page(o, 1).count;
            let mut seen: Vec<(bool, String)> = Vec::new();
            for p in 1..=count {
                for r in l.page(o, p).rows {
                    seen.push((r.is_dir, r.name.to_owned()));
                }
            }
            let mut want: Vec<(bool, String)> =
                names.iter().map(|n| (n.len() % 3 == 0, n.clone())).collect();
            want.sort_by(|a, b| {
                let by = a.1.cmp(&b.1);
                b.0.cmp(&a.0).then(if desc { by.reverse() } else { by })
            });
            prop_assert_eq!(seen, want);
        }
    }
}
