//! What an upload keeps with its temporary (as an extended attribute),
//! so any pared process on the root can resume it: who made it, how long
//! it is to be, and the creating request's preconditions and digests,
//! which the commit checks again.

use crate::head::RequestHead;

use super::Protocol;

/// An upload's lasting state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadState {
    /// The user who made it (empty: anonymous); no one else may touch it.
    pub user: String,
    /// The whole length, once known.
    pub length: Option<u64>,
    /// Made with tus (else the IETF draft).
    pub tus: bool,
    /// The creating request's `If-Match`.
    pub if_match: String,
    /// The creating request's `If-None-Match`.
    pub if_none_match: String,
    /// The creating request's `If-Unmodified-Since`.
    pub if_unmodified_since: String,
    /// The creating request's `Repr-Digest`, checked over the whole.
    pub repr_digest: String,
    /// tus `Upload-Metadata`, handed back on HEAD.
    pub metadata: String,
}

/// Field values are kept on one line each (a line break would forge
/// another field) and go back out in header fields (HEAD's
/// `Upload-Metadata`): only printable ASCII and spaces are kept.
fn clean(v: Option<&str>) -> String {
    v.unwrap_or("")
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .collect()
}

impl UploadState {
    /// The state a creating request sets (the user is the host's to add).
    pub fn of_request(req: &RequestHead, length: Option<u64>, protocol: Protocol) -> UploadState {
        let h = &req.headers;
        UploadState {
            user: String::new(),
            length,
            tus: protocol == Protocol::Tus,
            if_match: clean(h.get_str("if-match")),
            if_none_match: clean(h.get_str("if-none-match")),
            if_unmodified_since: clean(h.get_str("if-unmodified-since")),
            repr_digest: clean(h.get_str("repr-digest")),
            metadata: clean(h.get_str("upload-metadata")),
        }
    }

    /// The text kept with the temporary.
    pub fn encode(&self) -> String {
        let length = self.length.map_or(String::new(), |n| n.to_string());
        format!(
            "pared-upload 1\nuser={}\nlength={length}\ntus={}\nif-match={}\nif-none-match={}\n\
             if-unmodified-since={}\nrepr-digest={}\nmetadata={}\n",
            self.user
                .chars()
                .filter(|c| !c.is_control())
                .collect::<String>(),
            u8::from(self.tus),
            self.if_match,
            self.if_none_match,
            self.if_unmodified_since,
            self.repr_digest,
            self.metadata
        )
    }

    /// Reads the kept text; `None` when it is not pared's.
    pub fn decode(text: &str) -> Option<UploadState> {
        let mut lines = text.lines();
        if lines.next()? != "pared-upload 1" {
            return None;
        }
        let mut s = UploadState::default();
        for line in lines {
            let (k, v) = line.split_once('=')?;
            let v = v.to_owned();
            match k {
                "user" => s.user = v,
                "length" => {
                    s.length = if v.is_empty() {
                        None
                    } else {
                        Some(v.parse().ok()?)
                    }
                }
                "tus" => s.tus = v == "1",
                "if-match" => s.if_match = v,
                "if-none-match" => s.if_none_match = v,
                "if-unmodified-since" => s.if_unmodified_since = v,
                "repr-digest" => s.repr_digest = v,
                "metadata" => s.metadata = v,
                _ => {}
            }
        }
        Some(s)
    }

    /// A request carrying the creating request's preconditions, for
    /// evaluating them again at the commit.
    pub fn preconditions(&self) -> RequestHead {
        let mut r = RequestHead::new(crate::head::Method::Put, "/", crate::head::Version::Http11);
        for (name, v) in [
            ("If-Match", &self.if_match),
            ("If-None-Match", &self.if_none_match),
            ("If-Unmodified-Since", &self.if_unmodified_since),
        ] {
            if !v.is_empty() {
                r.headers.append(name, v.as_str());
            }
        }
        r
    }
}
