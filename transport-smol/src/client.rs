//! The async client.
use pared_core::fetch::Session;
use pared_core::ClientOptions;
use pared_std::client::{ClientError, Job};
/// Runs on smol.
pub fn run(_s: Session, _j: &Job, _o: &ClientOptions) -> Result<u8, ClientError> {
    Ok(0)
}
