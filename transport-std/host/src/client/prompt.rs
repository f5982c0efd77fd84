//! Asking for a password on the terminal, as curl does for `-u USER`: on
//! the controlling terminal (`/dev/tty`, so it works with stdin and
//! stdout redirected), with echo off, restored whatever happens.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};

use rustix::termios::{tcgetattr, tcsetattr, LocalModes, OptionalActions};

use super::error::ClientError;

/// Restores the terminal's modes when dropped.
struct Restore<'a> {
    tty: &'a File,
    saved: rustix::termios::Termios,
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        let _ = tcsetattr(self.tty, OptionalActions::Now, &self.saved);
    }
}

/// Asks for `user`'s password on the terminal without echoing it.
pub fn password_for(user: &str) -> Result<String, ClientError> {
    let tty_error = |source: io::Error| ClientError::Local {
        path: "/dev/tty (-u USER without :PASSWORD asks for the password there)".into(),
        source,
    };
    let tty = File::options()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(tty_error)?;
    let saved = tcgetattr(&tty).map_err(|e| tty_error(e.into()))?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    (&tty)
        .write_all(format!("Enter host password for user '{user}': ").as_bytes())
        .map_err(tty_error)?;
    tcsetattr(&tty, OptionalActions::Now, &quiet).map_err(|e| tty_error(e.into()))?;
    let restore = Restore { tty: &tty, saved };
    let mut line = String::new();
    let read = BufReader::new(&tty).read_line(&mut line);
    drop(restore);
    let _ = (&tty).write_all(b"\n");
    read.map_err(tty_error)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}
