//! Arbitrary bytes into the request-head parser, whole and split at
//! fuzzer-chosen points: no panic, the same verdict for every split, an
//! accepted head re-serializes and re-parses to an equal head, the
//! limits are never exceeded, and what a resumable-upload request asks
//! (core's `resumable::classify`, the kept state of a creation) never
//! panics and round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pared_core::{write_request, Limits, Parsed, RequestParser};

fuzz_target!(|data: &[u8]| {
    // The first two bytes pick the split points and a small head limit.
    let (ctl, input) = match data {
        [a, b, rest @ ..] => ((*a, *b), rest),
        _ => return,
    };
    let limits = Limits {
        max_head_bytes: 64 + usize::from(ctl.1) * 8,
        max_line_bytes: 32 + usize::from(ctl.1) * 4,
        max_headers: 1 + usize::from(ctl.1 % 16),
    };
    let whole = RequestParser::new(limits).parse(input);
    let step = usize::from(ctl.0 % 17) + 1;
    let mut p = RequestParser::new(limits);
    let mut split = p.parse(&[]);
    let mut end = 0;
    while end < input.len() {
        end = (end + step).min(input.len());
        split = p.parse(&input[..end]);
        if !matches!(split, Ok(Parsed::Partial)) {
            break;
        }
    }
    assert_eq!(whole, split, "verdict depends on the split");
    if let Ok(Parsed::Complete { head, consumed }) = whole {
        assert!(consumed <= limits.max_head_bytes);
        assert!(head.headers.len() <= limits.max_headers);
        let mut wire = Vec::new();
        write_request(&head, &mut wire).expect("a parsed head serializes");
        match RequestParser::new(Limits::default()).parse(&wire) {
            Ok(Parsed::Complete { head: again, consumed }) => {
                assert_eq!(again, head);
                assert_eq!(consumed, wire.len());
            }
            other => panic!("re-parse failed: {other:?}"),
        }
        if let Ok(pared_core::resumable::Op::Create(c)) = pared_core::resumable::classify(&head) {
            let kept = c.state.encode();
            assert!(kept.len() <= pared_core::resumable::MAX_STATE);
            assert_eq!(
                pared_core::resumable::UploadState::decode(&kept).as_ref(),
                Some(&c.state)
            );
        }
    }
});
