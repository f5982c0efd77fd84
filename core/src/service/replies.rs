//! Answers that need no file: errors with their one-line texts, redirects,
//! refusals (busy, access, plain http on a TLS port) and protocol errors.

use crate::head::{Method, RequestHead, ResponseHead, StatusCode};
use std::time::SystemTime;

use super::{Reply, ReplyBody, SERVER};
use crate::date::append_date;

/// A response head with `status`, `Date` and `Server`: what every answer
/// starts from.
pub fn base(status: StatusCode, now: SystemTime) -> ResponseHead {
    let mut h = ResponseHead::new(status);
    h.headers = crate::Headers::with_capacity(10, 320);
    append_date(&mut h.headers, "Date", now);
    h.headers.append("Server", SERVER);
    h
}

fn error_text(status: StatusCode) -> &'static [u8] {
    match status.as_u16() {
        400 => b"400 Bad Request\n",
        401 => b"401 Unauthorized\n",
        403 => b"403 Forbidden\n",
        404 => b"404 Not Found\n",
        405 => b"405 Method Not Allowed\n",
        408 => b"408 Request Timeout\n",
        409 => b"409 Conflict\n",
        411 => b"411 Length Required\n",
        412 => b"412 Precondition Failed\n",
        413 => b"413 Content Too Large\n",
        414 => b"414 URI Too Long\n",
        416 => b"416 Range Not Satisfiable\n",
        431 => b"431 Request Header Fields Too Large\n",
        501 => b"501 Not Implemented\n",
        503 => b"503 Service Unavailable\n",
        505 => b"505 HTTP Version Not Supported\n",
        507 => b"507 Insufficient Storage\n",
        _ => b"500 Internal Server Error\n",
    }
}

/// An error answer with a one-line text body (omitted for HEAD).
pub fn error_reply(status: StatusCode, method: Option<&Method>, now: SystemTime) -> Reply {
    let mut reply = text_reply(status, method, error_text(status), now);
    // Every 503 is a condition that passes (a busy server, a shared file
    // system that lost a handle): say when to try again.
    if status == StatusCode::SERVICE_UNAVAILABLE {
        reply.head.headers.append("Retry-After", "1");
    }
    reply
}

/// An answer whose body is the one-line `text` (omitted for HEAD, which
/// keeps the Content-Length a GET would have).
fn text_reply(
    status: StatusCode,
    method: Option<&Method>,
    text: &'static [u8],
    now: SystemTime,
) -> Reply {
    let mut head = base(status, now);
    head.headers
        .append("Content-Type", "text/plain; charset=utf-8");
    head.headers.append_u64("Content-Length", text.len() as u64);
    let body = if method == Some(&Method::Head) {
        ReplyBody::None
    } else {
        ReplyBody::Static(text)
    };
    Reply { head, body }
}

pub(super) fn with_allow(mut reply: Reply, allow: &str) -> Reply {
    reply.head.headers.append("Allow", allow);
    reply
}

/// A 303 See Other to `location` (a path starting with one `/`): where a
/// browser goes once it has logged in.
pub fn see_other_reply(location: &str, now: SystemTime) -> Reply {
    let mut reply = empty_reply(StatusCode::new(303).unwrap_or(StatusCode::OK), now);
    reply.head.headers.append("Location", location);
    reply
}

/// A 301 to `location`, which must be a path starting with one `/`.
pub fn redirect_reply(req: &RequestHead, location: &str, now: SystemTime) -> Reply {
    let mut reply = text_reply(
        StatusCode::MOVED_PERMANENTLY,
        Some(&req.method),
        b"301 Moved Permanently\n",
        now,
    );
    reply.head.headers.append("Location", location);
    reply
}

/// The answer to a connection refused before its request is read (its
/// client holds too many connections): 503 with `Retry-After`, and the
/// connection closes.
pub fn busy_reply(now: SystemTime) -> Reply {
    let mut reply = error_reply(StatusCode::SERVICE_UNAVAILABLE, None, now);
    reply.head.headers.append("Connection", "close");
    reply
}

/// The answer a request gets from access control before anything else,
/// if it is refused: 401 with the Basic challenge, or 403 for a write from
/// another machine while no users are configured.
pub fn access_reply(
    access: &crate::auth::Access,
    method: &Method,
    now: SystemTime,
) -> Option<Reply> {
    use crate::auth::Access;
    match access {
        Access::Allowed | Access::Verify { .. } => None,
        Access::Challenge => Some(unauthorized_reply(method, now)),
        Access::WritesNeedAuth => Some(text_reply(
            StatusCode::FORBIDDEN,
            Some(method),
            b"403 Forbidden: writes from other machines need --auth (or --public-writes)\n",
            now,
        )),
        Access::Foreign(why) => {
            use crate::local_origin::Foreign;
            let text: &'static [u8] = match why {
                Foreign::Host(_) => b"403 Forbidden: writes from this machine need a Host that only this machine answers to (localhost, an IP address, or --local-name): a guard against DNS rebinding; use --auth for other names\n",
                Foreign::Origin(_) => b"403 Forbidden: a write from another site's page (its Origin is not the Host it names): a guard against DNS rebinding\n",
            };
            Some(text_reply(StatusCode::FORBIDDEN, Some(method), text, now))
        }
        Access::Forbidden(why) => Some(forbidden_reply(*why, method, now)),
    }
}

/// 403 with one line saying which right the rules (or a share link) did
/// not give.
pub fn forbidden_reply(why: crate::permit::Forbidden, method: &Method, now: SystemTime) -> Reply {
    use crate::permit::Forbidden;
    use crate::rights::Right;
    use crate::share::ShareError;
    let text: &'static [u8] = match why {
        Forbidden::Lacks(Right::Read) => b"403 Forbidden: no read right here\n",
        Forbidden::Lacks(Right::Create) => b"403 Forbidden: no right to add files here\n",
        Forbidden::Lacks(Right::Write) => {
            b"403 Forbidden: you may add new names here but not replace what exists\n"
        }
        Forbidden::Lacks(Right::Delete) => {
            b"403 Forbidden: no delete right here (or on something beneath)\n"
        }
        Forbidden::Lacks(Right::Manage) => {
            b"403 Forbidden: no right to move, rename or lock here (or beneath)\n"
        }
        Forbidden::LacksAtDestination(Right::Write) => {
            b"403 Forbidden: no right to replace at the destination (send Overwrite: F)\n"
        }
        Forbidden::LacksAtDestination(_) => {
            b"403 Forbidden: no right to put things at the destination\n"
        }
        Forbidden::Share(ShareError::Expired) => b"403 Forbidden: this share link has expired\n",
        Forbidden::Share(_) => {
            b"403 Forbidden: this share link is not valid here (altered, for another path, or revoked)\n"
        }
    };
    text_reply(StatusCode::FORBIDDEN, Some(method), text, now)
}

/// 401 with `WWW-Authenticate: Basic realm="pared", charset="UTF-8"`: the
/// same for missing, unknown and wrong credentials.
pub fn unauthorized_reply(method: &Method, now: SystemTime) -> Reply {
    let mut reply = error_reply(StatusCode::UNAUTHORIZED, Some(method), now);
    reply
        .head
        .headers
        .append("WWW-Authenticate", crate::auth::CHALLENGE);
    reply
}

/// The answer to plain http on a TLS port: 400 saying the port speaks
/// https, and the connection closes.
pub fn plain_http_on_tls_reply(now: SystemTime) -> Reply {
    let mut reply = text_reply(
        StatusCode::BAD_REQUEST,
        None,
        b"400 Bad Request: this port speaks https; use an https:// URL\n",
        now,
    );
    reply.head.headers.append("Connection", "close");
    reply
}

/// The answer to a peer's protocol error, if it deserves one.
pub fn protocol_error_reply(e: crate::ProtocolError, now: SystemTime) -> Option<Reply> {
    e.status().map(|s| error_reply(s, None, now))
}

/// An answer with no body: `Content-Length: 0` (201, 204 and the like).
pub fn empty_reply(status: StatusCode, now: SystemTime) -> Reply {
    let mut head = base(status, now);
    head.headers.append("Content-Length", "0");
    Reply {
        head,
        body: ReplyBody::None,
    }
}

/// An answer whose body is `len` bytes of XML the caller generated (a
/// WebDAV 207 or lock discovery).
pub fn xml_reply(status: StatusCode, len: usize, now: SystemTime) -> Reply {
    let mut reply = xml_stream_reply(status, now);
    reply.head.headers.append_u64("Content-Length", len as u64);
    reply
}

/// An answer whose XML body is generated while it is sent (a 207 over a
/// folder of any size): no Content-Length, so the connection sends it
/// chunked to HTTP/1.1 clients and close-delimited to HTTP/1.0 ones.
pub fn xml_stream_reply(status: StatusCode, now: SystemTime) -> Reply {
    let mut head = base(status, now);
    head.headers
        .append("Content-Type", "application/xml; charset=utf-8");
    Reply {
        head,
        body: ReplyBody::Generated,
    }
}
