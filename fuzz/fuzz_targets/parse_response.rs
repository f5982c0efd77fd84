//! Arbitrary bytes into the response-head parser and the body framing:
//! no panic, split invariance, round trips, and a body reader that never
//! yields more than the framing allows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pared_core::body::{response_framing, BodyEvent, BodyReader};
use pared_core::{write_response, Limits, Method, Parsed, ResponseParser};

fuzz_target!(|data: &[u8]| {
    let (ctl, input) = match data {
        [a, rest @ ..] => (*a, rest),
        _ => return,
    };
    let limits = Limits::default();
    let whole = ResponseParser::new(limits).parse(input);
    let step = usize::from(ctl % 13) + 1;
    let mut p = ResponseParser::new(limits);
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
    let Ok(Parsed::Complete { head, consumed }) = whole else { return };
    let mut wire = Vec::new();
    write_response(&head, &mut wire).expect("a parsed head serializes");
    match ResponseParser::new(limits).parse(&wire) {
        Ok(Parsed::Complete { head: again, .. }) => assert_eq!(again, head),
        other => panic!("re-parse failed: {other:?}"),
    }
    let method = if ctl & 0x80 != 0 { Method::Head } else { Method::Get };
    let Ok(framing) = response_framing(&method, &head) else { return };
    let body = &input[consumed..];
    let mut reader = BodyReader::new(framing);
    let (mut pos, mut got) = (0usize, 0u64);
    loop {
        let avail = (pos + step).min(body.len());
        let Ok((n, ev)) = reader.read(&body[pos..avail]) else { return };
        assert!(n <= avail - pos);
        pos += n;
        match ev {
            BodyEvent::Data(d) => {
                assert!(!d.is_empty());
                got += d.len() as u64;
                if let Some(limit) = framing.known_length() {
                    assert!(got <= limit, "more body than framed");
                }
            }
            BodyEvent::End => break,
            BodyEvent::NeedData if avail == body.len() => {
                let _ = reader.eof();
                break;
            }
            BodyEvent::NeedData => {}
        }
    }
    assert!(got <= body.len() as u64);
});
