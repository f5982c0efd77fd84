#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admission;
pub mod archive;
pub mod auth;
pub mod body;
pub mod chunked;
pub mod client;
mod date;
pub mod dav;
mod deadline;
pub mod digest;
mod error;
pub mod fetch;
mod head;
pub mod json;
pub mod listing;
pub mod local_origin;
pub mod log;
pub mod methods;
mod mime;
pub mod options;
mod parse;
pub mod path;
pub mod permit;
pub mod proxy;
pub mod range;
pub mod resumable;
pub mod rights;
pub mod server;
pub mod service;
pub mod share;
pub mod validators;
mod write;

pub use body::Framing;
pub use error::{ProtocolError, UsageError};
pub use head::{Field, Headers, Method, RequestHead, ResponseHead, StatusCode, Version};
pub use options::{ClientOptions, ServerOptions};
pub use parse::{Limits, Parsed, RequestIndex, RequestParser, ResponseParser};
pub use write::{write_request, write_response};
