//! `pared`: an HTTP/1.0 file server and client. This file only turns flags
//! into pared-core's config types and hands them to a transport.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use pared_core::client::Config as ClientConfig;
use pared_core::ClientOptions;
use server_cmd::ServerArgs;

mod client_cmd;
mod config;
mod qr;
mod server_cmd;
mod share_cmd;

/// The runtime that drives pared-core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Runtime {
    /// Blocking sockets, one thread per connection.
    Std,
    /// The smol async runtime.
    Smol,
}

#[derive(Debug, Parser)]
#[command(
    name = "pared",
    version,
    about = "A small, serious HTTP/1.0 file server and client."
)]
struct Cli {
    /// Which runtime drives the protocol core.
    #[arg(long, value_enum, default_value_t = Runtime::Std, global = true)]
    runtime: Runtime,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the files under a root directory (GET, HEAD, PUT, DELETE).
    Server(ServerArgs),
    /// Fetch, show, upload or delete one resource on an HTTP/1.x server.
    Client(client_cmd::ClientArgs),
    /// Print a share link: a URL that opens PATH (and what is beneath it)
    /// without a login, read-only or as a drop box, until it expires.
    Share(share_cmd::ShareArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish,
    /// powershell), e.g. `pared completions bash > /etc/bash_completion.d/pared`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff), e.g. `pared man | man -l -`: pared(1), or
    /// pared-server(1) or pared-client(1) with every option of that command.
    Man {
        /// Which page: the top one when left out.
        page: Option<ManPage>,
    },
}

/// The man pages `pared man` prints.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum ManPage {
    /// pared-server(1).
    Server,
    /// pared-client(1).
    Client,
}

/// Parses `123`, `64K`, `10M`, `2G` (binary units) into bytes.
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (digits, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => return Err(format!("unknown unit in {s:?} (use K, M, G or T)")),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("not a size: {s:?}"))
}

/// Parses a non-negative number of seconds.
fn parse_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1e7).contains(&v) => Ok(v),
        _ => Err(format!("not a number of seconds: {s:?}")),
    }
}

/// Zero seconds means "no limit".
fn secs(v: f64) -> Option<Duration> {
    (v > 0.0).then(|| Duration::from_secs_f64(v))
}

fn main() -> ExitCode {
    use clap::{CommandFactory as _, FromArgMatches as _};
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m).map(|cli| (cli, m)));
    let (cli, matches) = match parsed {
        Ok(both) => both,
        Err(e) => {
            let code = if e.use_stderr() {
                client_cmd::EXIT_USAGE
            } else {
                0
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match &cli.command {
        Command::Server(args) => {
            let runtime_on_cli =
                matches.value_source("runtime") == Some(clap::parser::ValueSource::CommandLine);
            server_cmd::run(cli.runtime, runtime_on_cli, args)
        }
        Command::Share(args) => share_cmd::run(args),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut cmd, "pared", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Command::Man { page } => {
            let top = <Cli as clap::CommandFactory>::command();
            let cmd = match page {
                None => top,
                Some(p) => {
                    let (name, page) = match p {
                        ManPage::Server => ("server", "pared-server"),
                        ManPage::Client => ("client", "pared-client"),
                    };
                    match top.find_subcommand(name) {
                        Some(sub) => sub.clone().name(page),
                        None => return ExitCode::from(1),
                    }
                }
            };
            match clap_mangen::Man::new(cmd).render(&mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("pared: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Client(args) => {
            let mut opts = ClientOptions::default();
            opts.connection = ClientConfig {
                read_timeout: args.timeout.and_then(secs).or(opts.connection.read_timeout),
                ..opts.connection
            };
            client_cmd::run(cli.runtime == Runtime::Smol, args, opts)
        }
    }
}
