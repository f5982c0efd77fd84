//! The pieces every client runtime shares: typed errors and exit codes
//! ([`error`]), the job and its delivery ([`job`]), the output sinks and
//! downloads ([`output`]), the progress line ([`progress`]), and the
//! tree transfers ([`tree`] up, [`mirror`] down). The
//! runtimes' own loops (sockets and waits) live in pared-std and pared-smol.

pub mod error;
pub mod job;
pub mod mirror;
pub mod output;
pub mod progress;
pub mod prompt;
pub mod response;
pub mod resumable_put;
pub mod tree;

pub use error::{
    response_failed, shorter, time_left, timeout_or, tls_error, wire_error, ClientError,
};
pub use job::{Job, UploadBody, RECV_CAPACITY, UPLOAD_CHUNK};
pub use output::{partial_path, remove_temporaries_on_signal, Check, Download, Sink};
pub use progress::Progress;
pub use response::{Next, ResponseRead};
