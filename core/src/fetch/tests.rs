//! The client's decisions against response heads, with no network.

use super::*;
use crate::head::{Method, ResponseHead, StatusCode};

fn redirect(status: u16, location: &str) -> ResponseHead {
    let mut h = ResponseHead::new(StatusCode::new(status).unwrap());
    h.headers.append("Location", location);
    h
}

#[test]
fn targets() {
    let t = Target::new("example.com", 80, "index.html").unwrap();
    assert_eq!(
        (t.path.as_str(), t.authority()),
        ("/index.html", "example.com".into())
    );
    let t = Target::new("::1", 8080, "/a b/ü?x=1&y=%41").unwrap();
    assert_eq!(t.path, "/a%20b/%C3%BC?x=1&y=%41");
    assert_eq!(t.authority(), "[::1]:8080");
    assert!(Target::new("h", 80, "/a\r\nX: y").is_err());
    assert!(Target::new("h\r\nX: y", 80, "/").is_err());
    assert_eq!(encode_path("100%"), "/100%25");
}

#[test]
fn request_heads() {
    let t = Target::new("h", 8080, "f.txt").unwrap();
    let s = Session::new(
        Method::Put,
        t,
        vec![("X-A".into(), "1".into())],
        Some(7),
        false,
        10,
    )
    .unwrap();
    let hop = s.hop();
    assert!(hop.upload);
    assert_eq!(hop.head.headers.get_str("host"), Some("h:8080"));
    assert_eq!(hop.head.headers.get_str("content-length"), Some("7"));
    assert_eq!(hop.head.headers.get_str("user-agent"), Some(USER_AGENT));
    assert_eq!(hop.head.headers.get_str("x-a"), Some("1"));
    let bad = Session::new(
        Method::Get,
        Target::new("h", 80, "/").unwrap(),
        vec![("X".into(), "a\nb".into())],
        None,
        false,
        1,
    );
    assert!(bad.is_err());
}

#[test]
fn redirects() {
    let t = Target::new("h", 8000, "/a/b").unwrap();
    let mut s = Session::new(Method::Get, t, vec![], None, true, 3).unwrap();
    assert_eq!(s.on_response(&redirect(301, "c/")), Ok(Verdict::Follow));
    assert_eq!(s.target().path, "/a/c/");
    assert_eq!(
        s.on_response(&redirect(302, "http://other:81/x")),
        Ok(Verdict::Follow)
    );
    assert_eq!((s.target().host.as_str(), s.target().port), ("other", 81));
    assert_eq!(
        s.on_response(&redirect(307, "ftp://h/")),
        Err(FetchError::UnsupportedScheme {
            location: "ftp://h/".into()
        })
    );
    assert_eq!(
        s.on_response(&redirect(301, "http://h:8000/a/b")),
        Err(FetchError::RedirectLoop {
            url: "http://h:8000/a/b".into()
        })
    );
    assert_eq!(s.on_response(&redirect(301, "/y")), Ok(Verdict::Follow));
    assert_eq!(
        s.on_response(&redirect(301, "/z")),
        Err(FetchError::TooManyRedirects { max: 3 })
    );
    let ok = ResponseHead::new(StatusCode::NOT_FOUND);
    assert_eq!(
        s.on_response(&ok),
        Ok(Verdict::Deliver {
            exit: EXIT_HTTP_4XX,
            body: BodyUse::Error,
        })
    );
    let mut nofollow = Session::new(
        Method::Get,
        Target::new("h", 80, "/").unwrap(),
        vec![],
        None,
        false,
        3,
    )
    .unwrap();
    assert_eq!(
        nofollow.on_response(&redirect(301, "/x")),
        Ok(Verdict::Deliver {
            exit: EXIT_HTTP_OTHER,
            body: BodyUse::Error,
        })
    );
}

#[test]
fn exit_codes_and_helpers() {
    assert_eq!(status_exit(StatusCode::NOT_MODIFIED), EXIT_OK);
    assert_eq!(
        status_exit(StatusCode::INTERNAL_SERVER_ERROR),
        EXIT_HTTP_5XX
    );
    assert!(looks_binary(b"ab\0c"));
    assert!(!looks_binary("héllo\tx\r\n".as_bytes()));
    assert!(looks_binary(b"\x1b]0;title\x07"));
    assert!(looks_binary(b"\x1b[31mred"));
    assert!(looks_binary("a\u{9b}31m".as_bytes()));
    assert!(looks_binary(b"x\x7f"));
    assert_eq!(
        escape_for_terminal("ok\u{85}\u{202e}\x1b[0m\tz"),
        "ok\\u{85}\\u{202e}\\x1b[0m\tz"
    );
}

fn response(status: u16, fields: &[(&str, &str)]) -> ResponseHead {
    let mut h = ResponseHead::new(StatusCode::new(status).unwrap());
    for (n, v) in fields {
        h.headers.append(n, v);
    }
    h
}

#[test]
fn resumes() {
    let t = Target::new("h", 80, "/big").unwrap();
    let mut s = Session::new(Method::Get, t, vec![], None, false, 3).unwrap();
    s.resume(Resume {
        offset: 100,
        validator: "\"v1\"".into(),
    });
    let hop = s.hop();
    assert_eq!(hop.head.headers.get_str("range"), Some("bytes=100-"));
    assert_eq!(hop.head.headers.get_str("if-range"), Some("\"v1\""));
    let append = response(
        206,
        &[("Content-Range", "bytes 100-199/200"), ("ETag", "\"v1\"")],
    );
    assert_eq!(
        s.clone().on_response(&append),
        Ok(Verdict::Deliver {
            exit: EXIT_OK,
            body: BodyUse::Append
        })
    );
    // Not the rest of the same version: start over, never splice.
    for bad in [
        response(
            206,
            &[("Content-Range", "bytes 100-149/200"), ("ETag", "\"v1\"")],
        ),
        response(
            206,
            &[("Content-Range", "bytes 100-199/*"), ("ETag", "\"v1\"")],
        ),
        response(
            206,
            &[("Content-Range", "bytes 100-199/200"), ("ETag", "\"v2\"")],
        ),
        response(206, &[("Content-Range", "bytes 100-199/200")]),
        response(416, &[("Content-Range", "bytes */100"), ("ETag", "\"v2\"")]),
        response(416, &[("Content-Range", "bytes */100")]),
    ] {
        let mut again = s.clone();
        assert_eq!(again.on_response(&bad), Ok(Verdict::Follow), "{bad:?}");
        assert!(again.resuming().is_none());
    }
    assert_eq!(
        s.clone().on_response(&response(200, &[])),
        Ok(Verdict::Deliver {
            exit: EXIT_OK,
            body: BodyUse::Fresh
        })
    );
    assert_eq!(
        s.clone().on_response(&response(
            416,
            &[("Content-Range", "bytes */100"), ("ETag", "\"v1\"")]
        )),
        Ok(Verdict::Deliver {
            exit: EXIT_OK,
            body: BodyUse::Complete
        })
    );
    // A 206 from elsewhere, or a 416 for another length: start over.
    let mut again = s.clone();
    assert_eq!(
        again.on_response(&response(206, &[("Content-Range", "bytes 0-9/200")])),
        Ok(Verdict::Follow)
    );
    assert_eq!(again.hop().head.headers.get_str("range"), None);
    let mut again = s.clone();
    assert_eq!(
        again.on_response(&response(416, &[("Content-Range", "bytes */50")])),
        Ok(Verdict::Follow)
    );
    assert!(again.resuming().is_none());
    // Validators: a strong ETag, else Last-Modified.
    assert_eq!(
        resume_validator(&response(200, &[("ETag", "\"x\""), ("Last-Modified", "d")])),
        Some("\"x\"".into())
    );
    assert_eq!(
        resume_validator(&response(
            200,
            &[("ETag", "W/\"x\""), ("Last-Modified", "d")]
        )),
        Some("d".into())
    );
    assert_eq!(resume_validator(&response(200, &[])), None);
    assert_eq!(
        status_exit(StatusCode::PRECONDITION_FAILED),
        EXIT_PRECONDITION
    );
}

#[test]
fn urls_and_schemes() {
    let t = Target::from_url("https://www.example.com/a?b=1#frag").unwrap();
    assert_eq!(
        (t.host.as_str(), t.port, t.path.as_str(), t.tls),
        ("www.example.com", 443, "/a?b=1", true)
    );
    assert_eq!(t.authority(), "www.example.com");
    assert_eq!(t.url(), "https://www.example.com/a?b=1");
    let t = Target::from_url("http://[::1]:8080").unwrap();
    assert_eq!(
        (t.host.as_str(), t.port, t.path.as_str(), t.tls),
        ("::1", 8080, "/", false)
    );
    assert_eq!(t.authority(), "[::1]:8080");
    assert!(Target::from_url("HTTPS://H:444/x").unwrap().tls);
    for bad in [
        "ftp://h/",
        "h:80/x",
        "http://",
        "http://u:p@h/",
        "http://h:99999/",
        "http://h/a b",
    ] {
        assert!(Target::from_url(bad).is_err(), "{bad}");
    }
    assert!(
        Target::new("h", 443, "/").unwrap().tls,
        "port 443 means https"
    );
    // The www.cnn.com case: http -> 301 -> https, followed.
    let t = Target::new("www.example.com", 80, "index.html").unwrap();
    let mut s = Session::new(Method::Get, t, vec![], None, true, 5).unwrap();
    assert_eq!(
        s.on_response(&redirect(301, "https://www.example.com/index.html")),
        Ok(Verdict::Follow)
    );
    assert!(s.target().tls && s.target().port == 443);
    // Relative and network-path references keep the scheme.
    assert_eq!(s.on_response(&redirect(302, "/x")), Ok(Verdict::Follow));
    assert!(s.target().tls);
    assert_eq!(
        s.on_response(&redirect(302, "//other/y")),
        Ok(Verdict::Follow)
    );
    assert!(s.target().tls && s.target().host == "other");
}

#[test]
fn remote_names() {
    let name = |u: &str| Target::from_url(u).unwrap().remote_file_name();
    assert_eq!(name("http://h/a/b%20c.txt?x=1"), Some("b c.txt".into()));
    assert_eq!(name("http://h/dir/"), None);
    assert_eq!(name("http://h/"), None);
    assert_eq!(name("http://h/.bashrc"), None);
    assert_eq!(name("http://h/a/%2e%2e"), None);
}

#[test]
fn basic_credentials() {
    let t = Target::new("example.com", 80, "/f").unwrap();
    let mut s = Session::new(Method::Get, t, vec![], None, false, 3).unwrap();
    assert!(s.basic_auth("nocolon").is_err());
    assert_eq!(s.cleartext_credentials_warning(), None);
    s.basic_auth("ann:sécret").unwrap();
    assert_eq!(
        s.hop().head.headers.get_str("authorization"),
        Some("Basic YW5uOnPDqWNyZXQ=")
    );
    assert!(s.cleartext_credentials_warning().is_some());
    let t = Target::new("127.0.0.1", 8080, "/f").unwrap();
    let mut local = Session::new(Method::Get, t, vec![], None, false, 3).unwrap();
    local.basic_auth("a:b").unwrap();
    assert_eq!(local.cleartext_credentials_warning(), None);
}

#[test]
fn conditional_flags() {
    let t = Target::new("h", 80, "/f").unwrap();
    let mut s = Session::new(Method::Put, t, vec![], Some(1), false, 3).unwrap();
    s.if_match("abc").unwrap();
    s.create_only().unwrap();
    let hop = s.hop();
    assert_eq!(hop.head.headers.get_str("if-match"), Some("\"abc\""));
    assert_eq!(hop.head.headers.get_str("if-none-match"), Some("*"));
    s.if_match("\"q\"").unwrap();
    assert_eq!(s.hop().head.headers.get_str("if-match"), Some("\"q\""));
    assert!(s.if_match("a\r\nX: y").is_err());
}

#[test]
fn credentials_stay_with_their_origin() {
    let t = Target::new("h", 8000, "/a").unwrap();
    let fields = vec![
        ("Authorization".to_owned(), "Basic eDp5".to_owned()),
        ("Cookie".to_owned(), "s=1".to_owned()),
        ("Proxy-Authorization".to_owned(), "x".to_owned()),
        ("X-Other".to_owned(), "kept".to_owned()),
    ];
    let mut s = Session::new(Method::Get, t.clone(), fields.clone(), None, true, 5).unwrap();
    assert_eq!(s.on_response(&redirect(302, "/b")), Ok(Verdict::Follow));
    assert!(
        s.hop().head.headers.contains("authorization"),
        "same origin keeps them"
    );
    assert_eq!(
        s.on_response(&redirect(302, "http://h:8001/c")),
        Ok(Verdict::Follow)
    );
    let hop = s.hop();
    for c in CREDENTIAL_FIELDS {
        assert!(!hop.head.headers.contains(c), "{c} sent to another port");
    }
    assert_eq!(hop.head.headers.get_str("x-other"), Some("kept"));
    // A PUT body is never re-sent to another origin.
    let mut put = Session::new(Method::Put, t, fields, Some(3), true, 5).unwrap();
    assert!(matches!(
        put.on_response(&redirect(307, "http://evil:80/x")),
        Err(FetchError::BodyToOtherOrigin { .. })
    ));
    assert_eq!(
        put.on_response(&redirect(307, "/same")),
        Ok(Verdict::Follow)
    );
}
