//! The async server.
use pared_core::ServerOptions;
use pared_std::{Root, Shutdown};
/// Serves on smol.
pub fn serve(
    _l: std::net::TcpListener,
    _r: Root,
    _o: ServerOptions,
    _s: Shutdown,
) -> std::io::Result<()> {
    Err(std::io::Error::other("todo"))
}
