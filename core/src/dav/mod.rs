//! WebDAV (RFC 4918, classes 1 and 2) as decisions: request bodies
//! ([`request`], parsed by [`xml`] without DTDs or entities), the fields
//! ([`headers`], [`if_header`]), locks ([`locks`]) and the 207 bodies and
//! live properties ([`multistatus`]). The file-system steps that use them
//! live in pared-host.

pub mod headers;
pub mod if_header;
pub mod listing;
pub mod locks;
pub mod multistatus;
pub mod request;
pub mod xml;

pub use xml::{QName, XmlError};
