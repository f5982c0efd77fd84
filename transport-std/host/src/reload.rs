//! SIGHUP: reload what can change while serving (users, rules,
//! certificates), as the caller's closure builds it. A reload that fails
//! keeps everything as it was and says why on stderr; connections are
//! never dropped. The service manager hears RELOADING=1, then READY=1.

use std::io;

/// Runs `reload` on every SIGHUP, on a thread of its own; it returns a
/// line saying what was reloaded, or why nothing was.
pub fn on_sighup<F>(mut reload: F) -> io::Result<()>
where
    F: FnMut() -> Result<String, String> + Send + 'static,
{
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGHUP])?;
    std::thread::Builder::new()
        .name("pared-sighup".into())
        .spawn(move || {
            for _ in signals.forever() {
                let usec = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
                let usec = usec.tv_sec as u64 * 1_000_000 + usec.tv_nsec as u64 / 1000;
                crate::service_manager::notify(&format!("RELOADING=1\nMONOTONIC_USEC={usec}"));
                match reload() {
                    Ok(what) => eprintln!("pared: SIGHUP: reloaded {what}"),
                    Err(why) => eprintln!("pared: SIGHUP: kept the old configuration: {why}"),
                }
                crate::service_manager::notify("READY=1");
            }
        })?;
    Ok(())
}
