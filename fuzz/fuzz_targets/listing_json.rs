//! The JSON a client reads from a server (a folder listing for `GET -r`):
//! hostile input, so the reader must never panic, never recurse without
//! bound, and never hand back a name that is not one plain path segment
//! (which would let a server steer a download out of its folder).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pared_core::listing::read_listing;
use pared_core::path::RelPath;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = pared_core::json::parse(text);
    if let Ok(page) = read_listing(text) {
        for e in &page.entries {
            assert!(RelPath::root().can_join(&e.name), "{:?}", e.name);
        }
    }
});
