//! What a PROPFIND, PROPPATCH or LOCK body asks for (RFC 4918 §14).

use super::xml::{parse, Element, QName, XmlError};

/// What a PROPFIND asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropFind {
    /// Every property with its value (also for an empty body).
    AllProp,
    /// Every property's name, without values.
    PropName,
    /// These properties.
    Props(Vec<QName>),
}

/// One operation of a PROPPATCH, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchOp {
    /// Set the property to this value (self-contained XML content).
    Set(QName, String),
    /// Remove the property (removing an absent one succeeds).
    Remove(QName),
}

/// What a LOCK body asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockRequest {
    /// Exclusive (true) or shared.
    pub exclusive: bool,
    /// The `owner` element, as self-contained XML, if given.
    pub owner: Option<String>,
}

/// Reads a PROPFIND body; an empty body means `allprop`.
pub fn propfind(body: &[u8]) -> Result<PropFind, XmlError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(PropFind::AllProp);
    }
    let root = parse(body)?;
    if !root.name.is_dav("propfind") {
        return Err(XmlError::Unexpected);
    }
    // Unknown elements are ignored (RFC 4918 §17, the "extended" case).
    if let Some(prop) = root.dav_child("prop") {
        return Ok(PropFind::Props(
            prop.elements().map(|e| e.name.clone()).collect(),
        ));
    }
    if root.dav_child("propname").is_some() {
        return Ok(PropFind::PropName);
    }
    if root.dav_child("allprop").is_some() {
        return Ok(PropFind::AllProp);
    }
    Err(XmlError::Unexpected)
}

/// Reads a PROPPATCH body into its operations, in document order.
pub fn proppatch(body: &[u8]) -> Result<Vec<PatchOp>, XmlError> {
    let root = parse(body)?;
    if !root.name.is_dav("propertyupdate") {
        return Err(XmlError::Unexpected);
    }
    let mut ops = Vec::new();
    for action in root.elements() {
        let set = if action.name.is_dav("set") {
            true
        } else if action.name.is_dav("remove") {
            false
        } else {
            continue;
        };
        for prop in action.elements().filter(|e| e.name.is_dav("prop")) {
            for p in prop.elements() {
                ops.push(if set {
                    PatchOp::Set(p.name.clone(), p.inner_fragment())
                } else {
                    PatchOp::Remove(p.name.clone())
                });
            }
        }
    }
    if ops.is_empty() {
        return Err(XmlError::Unexpected);
    }
    Ok(ops)
}

/// Reads a LOCK body: `None` for an empty body (a refresh).
pub fn lockinfo(body: &[u8]) -> Result<Option<LockRequest>, XmlError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let root = parse(body)?;
    if !root.name.is_dav("lockinfo") {
        return Err(XmlError::Unexpected);
    }
    let scope = root.dav_child("lockscope").ok_or(XmlError::Unexpected)?;
    let exclusive = if scope.dav_child("exclusive").is_some() {
        true
    } else if scope.dav_child("shared").is_some() {
        false
    } else {
        return Err(XmlError::Unexpected);
    };
    let ltype = root.dav_child("locktype").ok_or(XmlError::Unexpected)?;
    if ltype.dav_child("write").is_none() {
        return Err(XmlError::Unexpected);
    }
    let owner = root.dav_child("owner").map(Element::inner_fragment);
    Ok(Some(LockRequest { exclusive, owner }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn propfind_bodies() {
        assert_eq!(propfind(b""), Ok(PropFind::AllProp));
        assert_eq!(
            propfind(b"<propfind xmlns='DAV:'><foobar/><allprop/></propfind>"),
            Ok(PropFind::AllProp)
        );
        assert_eq!(
            propfind(b"<D:propfind xmlns:D='DAV:'><D:propname/></D:propfind>"),
            Ok(PropFind::PropName)
        );
        assert_eq!(
            propfind(
                b"<propfind xmlns='DAV:'><prop><getetag/><x xmlns='urn:a'/></prop></propfind>"
            ),
            Ok(PropFind::Props(vec![
                QName::dav("getetag"),
                QName::new("urn:a", "x")
            ]))
        );
        assert!(propfind(b"<foo>").is_err());
    }

    #[test]
    fn proppatch_in_document_order() {
        let ops = proppatch(
            b"<propertyupdate xmlns='DAV:'><remove><prop><r xmlns='urn:n'/></prop></remove>\
              <set><prop><r xmlns='urn:n'>x<foo xmlns='http://bar'/></r></prop></set></propertyupdate>",
        )
        .unwrap();
        assert_eq!(
            ops,
            vec![
                PatchOp::Remove(QName::new("urn:n", "r")),
                PatchOp::Set(
                    QName::new("urn:n", "r"),
                    "x<foo xmlns=\"http://bar\"/>".into()
                ),
            ]
        );
        let ops = proppatch(
            b"<propertyupdate xmlns='DAV:'><set><prop><n xmlns=''>v</n></prop></set></propertyupdate>",
        )
        .unwrap();
        assert_eq!(ops, vec![PatchOp::Set(QName::new("", "n"), "v".into())]);
    }

    #[test]
    fn lock_bodies() {
        let l = lockinfo(
            b"<D:lockinfo xmlns:D='DAV:'><D:lockscope><D:shared/></D:lockscope>\
              <D:locktype><D:write/></D:locktype><D:owner>me</D:owner></D:lockinfo>",
        )
        .unwrap()
        .unwrap();
        assert!(!l.exclusive);
        assert_eq!(l.owner.as_deref(), Some("me"));
        assert_eq!(lockinfo(b"  "), Ok(None));
        assert!(lockinfo(b"<D:lockinfo xmlns:D='DAV:'/>").is_err());
    }
}
