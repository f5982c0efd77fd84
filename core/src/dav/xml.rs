//! WebDAV request bodies as a small tree, parsed with quick-xml: no DTD,
//! no entity other than XML's five and character references, namespaces
//! resolved, and bounded depth and size. Any of those refused is
//! [`XmlError`], which a server answers with 400.
//!
//! Invariants: every element and attribute name in a parsed tree carries
//! its resolved namespace; [`Element::to_fragment`] writes an element so
//! that it means the same wherever it is pasted (each element declares
//! its own namespace), which is how dead property values are stored.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

/// A namespace-qualified name; `ns` is empty for no namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QName {
    /// The namespace URI.
    pub ns: String,
    /// The local name.
    pub local: String,
}

impl QName {
    /// A name in `ns`.
    pub fn new(ns: &str, local: &str) -> QName {
        QName {
            ns: ns.to_owned(),
            local: local.to_owned(),
        }
    }

    /// A name in the `DAV:` namespace.
    pub fn dav(local: &str) -> QName {
        QName::new("DAV:", local)
    }

    /// True for `DAV:local`.
    pub fn is_dav(&self, local: &str) -> bool {
        self.ns == "DAV:" && self.local == local
    }
}

/// Why a request body was refused (400).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum XmlError {
    /// Not well-formed XML, or not UTF-8.
    #[error("the XML body is not well-formed")]
    Malformed,
    /// A document type declaration: never processed.
    #[error("DTDs are not accepted")]
    Dtd,
    /// An entity reference other than XML's five.
    #[error("entity references are not accepted")]
    Entity,
    /// A prefix that is not declared, or a prefix undeclared (`xmlns:p=""`).
    #[error("invalid namespace declaration")]
    Namespace,
    /// Nested deeper or holding more nodes than any DAV body needs.
    #[error("the XML body is too large or too deep")]
    TooLarge,
    /// Well-formed, but not the element the method expects.
    #[error("unexpected XML element")]
    Unexpected,
}

/// A node of a parsed body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// An element.
    Element(Element),
    /// Text (entities and character references resolved).
    Text(String),
}

/// An element with its resolved name, attributes and children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// Its name.
    pub name: QName,
    /// Its attributes (namespace declarations left out).
    pub attrs: Vec<(QName, String)>,
    /// Its children, in document order.
    pub children: Vec<Node>,
}

/// Deepest nesting accepted.
const MAX_DEPTH: usize = 64;
/// Most nodes accepted in one body.
const MAX_NODES: usize = 20_000;

impl Element {
    /// The child elements, in order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The first child element named `DAV:local`.
    pub fn dav_child(&self, local: &str) -> Option<&Element> {
        self.elements().find(|e| e.name.is_dav(local))
    }

    /// All the text inside, concatenated.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for n in &self.children {
            match n {
                Node::Text(t) => out.push_str(t),
                Node::Element(e) => out.push_str(&e.text()),
            }
        }
        out
    }

    /// The element's content (children only) as self-contained XML: each
    /// element declares its namespace, so it means the same anywhere.
    pub fn inner_fragment(&self) -> String {
        let mut out = String::new();
        for n in &self.children {
            match n {
                Node::Text(t) => out.push_str(&escape_text(t)),
                Node::Element(e) => e.write_fragment(&mut out),
            }
        }
        out
    }

    /// The element itself as self-contained XML.
    pub fn to_fragment(&self) -> String {
        let mut out = String::new();
        self.write_fragment(&mut out);
        out
    }

    fn write_fragment(&self, out: &mut String) {
        out.push('<');
        out.push_str(&self.name.local);
        out.push_str(" xmlns=\"");
        out.push_str(&escape_attr(&self.name.ns));
        out.push('"');
        for (i, (name, value)) in self.attrs.iter().enumerate() {
            if name.ns.is_empty() {
                out.push_str(&format!(" {}=\"{}\"", name.local, escape_attr(value)));
            } else {
                out.push_str(&format!(
                    " xmlns:a{i}=\"{}\" a{i}:{}=\"{}\"",
                    escape_attr(&name.ns),
                    name.local,
                    escape_attr(value)
                ));
            }
        }
        if self.children.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        for n in &self.children {
            match n {
                Node::Text(t) => out.push_str(&escape_text(t)),
                Node::Element(e) => e.write_fragment(out),
            }
        }
        out.push_str("</");
        out.push_str(&self.name.local);
        out.push('>');
    }
}

/// `s` escaped for element content.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// `s` escaped for an attribute value in double quotes.
pub fn escape_attr(s: &str) -> String {
    escape_text(s)
        .replace('"', "&quot;")
        .replace('\n', "&#10;")
        .replace('\t', "&#9;")
}

fn resolved(r: ResolveResult<'_>) -> Result<String, XmlError> {
    match r {
        ResolveResult::Bound(ns) => {
            String::from_utf8(ns.as_ref().to_vec()).map_err(|_| XmlError::Malformed)
        }
        ResolveResult::Unbound => Ok(String::new()),
        ResolveResult::Unknown(_) => Err(XmlError::Namespace),
    }
}

fn utf8(b: &[u8]) -> Result<String, XmlError> {
    std::str::from_utf8(b)
        .map(str::to_owned)
        .map_err(|_| XmlError::Malformed)
}

/// Parses a whole request body into its root element.
pub fn parse(body: &[u8]) -> Result<Element, XmlError> {
    parse_bounded(body, MAX_NODES)
}

/// Parses a whole document of at most `max_nodes` elements (a client
/// reading a server's 207 allows more than a server reading a request).
pub fn parse_bounded(body: &[u8], max_nodes: usize) -> Result<Element, XmlError> {
    let text = std::str::from_utf8(body).map_err(|_| XmlError::Malformed)?;
    let mut reader = NsReader::from_str(text);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.check_comments = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut nodes = 0usize;
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|_| XmlError::Malformed)?;
        let ns = match &event {
            Event::Start(_) | Event::Empty(_) => Some(resolved(ns)?),
            _ => None,
        };
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                if root.is_some() {
                    return Err(XmlError::Malformed);
                }
                nodes += 1;
                if nodes > max_nodes || stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooLarge);
                }
                let mut attrs = Vec::new();
                for a in e.attributes() {
                    let a = a.map_err(|_| XmlError::Malformed)?;
                    let key = a.key.as_ref();
                    let value = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|_| XmlError::Entity)?;
                    if key == b"xmlns" {
                        continue;
                    }
                    if let Some(prefix) = key.strip_prefix(b"xmlns:") {
                        // Namespaces in XML 1.0 forbids undeclaring a prefix.
                        if value.is_empty() || prefix.is_empty() {
                            return Err(XmlError::Namespace);
                        }
                        continue;
                    }
                    let (ans, local) = reader.resolver().resolve_attribute(a.key);
                    attrs.push((
                        QName {
                            ns: resolved(ans)?,
                            local: utf8(local.as_ref())?,
                        },
                        value.into_owned(),
                    ));
                }
                let el = Element {
                    name: QName {
                        ns: ns.unwrap_or_default(),
                        local: utf8(e.local_name().as_ref())?,
                    },
                    attrs,
                    children: Vec::new(),
                };
                if matches!(event, Event::Empty(_)) {
                    attach(&mut stack, &mut root, el);
                } else {
                    stack.push(el);
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or(XmlError::Malformed)?;
                attach(&mut stack, &mut root, el);
            }
            Event::Text(t) => {
                let t = t.decode().map_err(|_| XmlError::Malformed)?;
                push_text(&mut stack, &t)?;
            }
            Event::CData(c) => {
                let t = c.decode().map_err(|_| XmlError::Malformed)?;
                push_text(&mut stack, &t)?;
            }
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => {
                        let name = r.decode().map_err(|_| XmlError::Malformed)?;
                        match &*name {
                            "lt" => "<".into(),
                            "gt" => ">".into(),
                            "amp" => "&".into(),
                            "apos" => "'".into(),
                            "quot" => "\"".into(),
                            _ => return Err(XmlError::Entity),
                        }
                    }
                    Err(_) => return Err(XmlError::Entity),
                };
                push_text(&mut stack, &c)?;
            }
            Event::DocType(_) => return Err(XmlError::Dtd),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Malformed);
    }
    root.ok_or(XmlError::Malformed)
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, el: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(Node::Element(el)),
        None => *root = Some(el),
    }
}

fn push_text(stack: &mut [Element], t: &str) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(parent) => {
            if let Some(Node::Text(prev)) = parent.children.last_mut() {
                prev.push_str(t);
            } else {
                parent.children.push(Node::Text(t.to_owned()));
            }
            Ok(())
        }
        // Only white space may stand outside the root element.
        None if t.trim().is_empty() => Ok(()),
        None => Err(XmlError::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_text_and_references() {
        let e = parse(
            br#"<?xml version="1.0"?><D:a xmlns:D="DAV:"><b xmlns="urn:x" k="v">t&amp;&#65536;</b><D:c/></D:a>"#,
        )
        .unwrap();
        assert!(e.name.is_dav("a"));
        let b = e.elements().next().unwrap();
        assert_eq!(b.name, QName::new("urn:x", "b"));
        assert_eq!(b.text(), "t&\u{10000}");
        assert_eq!(b.attrs, vec![(QName::new("", "k"), "v".into())]);
        assert!(e.dav_child("c").is_some());
        assert_eq!(
            b.to_fragment(),
            "<b xmlns=\"urn:x\" k=\"v\">t&amp;\u{10000}</b>"
        );
        // A fragment parses back to the same element.
        assert_eq!(&parse(b.to_fragment().as_bytes()).unwrap(), b);
    }

    #[test]
    fn refuses_what_a_dav_body_never_needs() {
        assert_eq!(parse(b"<foo>"), Err(XmlError::Malformed));
        assert_eq!(parse(b""), Err(XmlError::Malformed));
        assert_eq!(parse(b"<a/><b/>"), Err(XmlError::Malformed));
        assert_eq!(
            parse(b"<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>"),
            Err(XmlError::Dtd)
        );
        assert_eq!(parse(b"<a>&x;</a>"), Err(XmlError::Entity));
        assert_eq!(
            parse(b"<!DOCTYPE a SYSTEM \"file:///etc/passwd\"><a/>"),
            Err(XmlError::Dtd)
        );
        assert_eq!(
            parse(br#"<D:a xmlns:D="DAV:"><b:f xmlns:b=""/></D:a>"#),
            Err(XmlError::Namespace)
        );
        assert_eq!(parse(b"<p:a/>"), Err(XmlError::Namespace));
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert_eq!(parse(deep.as_bytes()), Err(XmlError::TooLarge));
    }
}
