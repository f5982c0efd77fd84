//! `pared server --config FILE`: a TOML file of settings under the
//! command line's flags.
//!
//! Every server flag is a key, spelled as its long name (`max-upload`,
//! or `max_upload`): a string, number or boolean for a flag with one
//! value, a list for a repeatable one (`trusted-proxy = ["10.0.0.1"]`),
//! `true` for a switch. `port` is the port and `runtime` the runtime.
//! Users live in `[users]` (`alice = "$2y$…"`) and rules in `[[rule]]`
//! tables (`path`, `who` = `"*"`, a user or a list, `allow` = rights).
//!
//! The file becomes flags placed before the command line's own: a flag
//! given on the command line wins over the file's key; repeatable flags
//! (users, rules, proxies) add to the file's, a later rule or user of the
//! same name replacing an earlier one. A switch set in the file cannot be
//! turned off by a flag.

use std::ffi::OsString;
use std::path::Path;

use clap::{ArgAction, Args as _, FromArgMatches as _};

use crate::server_cmd::ServerArgs;
use crate::Runtime;

/// The server's settings from the command line and a config file.
pub struct Merged {
    /// The flags, the file's under the command line's.
    pub args: ServerArgs,
    /// The file's `runtime`, when the command line named none.
    pub runtime: Option<Runtime>,
}

/// The server flags as typed after `pared server` (`--runtime`, a global
/// flag, taken out), for merging again on a reload.
pub fn server_argv() -> Vec<OsString> {
    let all: Vec<OsString> = std::env::args_os().skip(1).collect();
    let mut i = 0;
    // Before the subcommand only the global --runtime may come.
    while i < all.len() && all[i] != "server" {
        i += if all[i] == "--runtime" { 2 } else { 1 };
    }
    let mut out = Vec::new();
    let mut rest = all.into_iter().skip(i + 1);
    while let Some(a) = rest.next() {
        if a == "--runtime" {
            rest.next();
        } else if !a.to_string_lossy().starts_with("--runtime=") {
            out.push(a);
        }
    }
    out
}

/// Reads `path` and merges it under `cli` (the flags after `pared
/// server`). `port_on_cli`: the command line named a port.
pub fn merge(path: &Path, cli: &[OsString], runtime_on_cli: bool) -> Result<Merged, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        format!("{}: {}", path.display(), one_line(&e.to_string()))
    })?;
    let at = |e: String| format!("{}: {e}", path.display());
    let cmd = server_command();
    let port_on_cli = cli_has_port(&cmd, cli);
    let mut argv: Vec<OsString> = vec!["server".into()];
    let mut runtime = None;
    for (key, value) in &table {
        let name = key.replace('_', "-");
        match name.as_str() {
            "users" => users(value, &mut argv).map_err(at)?,
            "rule" => rules(value, &mut argv).map_err(at)?,
            "runtime" => {
                let v = value
                    .as_str()
                    .ok_or_else(|| at("runtime: expected \"std\" or \"smol\"".into()))?;
                let r = <Runtime as clap::ValueEnum>::from_str(v, true)
                    .map_err(|_| at(format!("runtime: {v:?} is not std or smol")))?;
                if !runtime_on_cli {
                    runtime = Some(r);
                }
            }
            "config" | "check-config" => {
                return Err(at(format!("{name}: only a command-line flag")));
            }
            "port" => {
                let port = scalar(value).ok_or_else(|| at("port: expected a number".into()))?;
                if !port_on_cli {
                    argv.push(port.into());
                }
            }
            _ => flag(&cmd, &name, value, &mut argv).map_err(at)?,
        }
    }
    argv.extend(cli.iter().cloned());
    let matches = cmd
        .try_get_matches_from(&argv)
        .map_err(|e| one_line(&e.to_string()))?;
    let args = ServerArgs::from_arg_matches(&matches).map_err(|e| one_line(&e.to_string()))?;
    Ok(Merged { args, runtime })
}

/// The `server` subcommand's parser, a later flag overriding an earlier.
fn server_command() -> clap::Command {
    ServerArgs::augment_args(clap::Command::new("server")).args_override_self(true)
}

/// True when the command line holds the positional port.
fn cli_has_port(cmd: &clap::Command, cli: &[OsString]) -> bool {
    let mut argv: Vec<OsString> = vec!["server".into()];
    argv.extend(cli.iter().cloned());
    cmd.clone()
        .try_get_matches_from(&argv)
        .ok()
        .and_then(|m| m.value_source("port"))
        == Some(clap::parser::ValueSource::CommandLine)
}

/// The flags of one key.
fn flag(
    cmd: &clap::Command,
    name: &str,
    value: &toml::Value,
    argv: &mut Vec<OsString>,
) -> Result<(), String> {
    let Some(arg) = cmd
        .get_arguments()
        .find(|a| a.get_long() == Some(name) && !a.is_positional())
    else {
        return Err(format!(
            "unknown key `{name}` (keys are the server's flags, as `pared server --help` lists them)"
        ));
    };
    match (arg.get_action(), value) {
        (ArgAction::SetTrue, toml::Value::Boolean(b)) => {
            if *b {
                argv.push(format!("--{name}").into());
            }
        }
        (ArgAction::SetTrue, _) => return Err(format!("{name}: expected true or false")),
        (ArgAction::Append, toml::Value::Array(items)) => {
            for item in items {
                let v = scalar(item).ok_or_else(|| format!("{name}: expected a list of values"))?;
                argv.push(format!("--{name}={v}").into());
            }
        }
        (_, v) => {
            let v = scalar(v).ok_or_else(|| format!("{name}: expected a single value"))?;
            argv.push(format!("--{name}={v}").into());
        }
    }
    Ok(())
}

/// A string, number or boolean as a flag's value.
fn scalar(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `[users]`: `name = "password or hash"`.
fn users(value: &toml::Value, argv: &mut Vec<OsString>) -> Result<(), String> {
    let table = value
        .as_table()
        .ok_or("users: expected a table, [users] with name = \"hash\" lines")?;
    for (name, secret) in table {
        let secret = secret
            .as_str()
            .ok_or_else(|| format!("users: {name}: expected a string"))?;
        argv.push(format!("--auth={name}:{secret}").into());
    }
    Ok(())
}

/// `[[rule]]`: `path`, `who` (default `*`), `allow`.
fn rules(value: &toml::Value, argv: &mut Vec<OsString>) -> Result<(), String> {
    let list = value.as_array().ok_or("rule: expected [[rule]] tables")?;
    for (i, item) in list.iter().enumerate() {
        let n = i + 1;
        let t = item
            .as_table()
            .ok_or_else(|| format!("rule {n}: expected a table"))?;
        if let Some(k) = t
            .keys()
            .find(|k| !["path", "who", "allow"].contains(&k.as_str()))
        {
            return Err(format!("rule {n}: unknown key `{k}` (path, who, allow)"));
        }
        let path = t
            .get("path")
            .and_then(toml::Value::as_str)
            .ok_or_else(|| format!("rule {n}: needs path = \"/…\""))?;
        let words = |key: &str| -> Result<Vec<String>, String> {
            match t.get(key) {
                None => Ok(Vec::new()),
                Some(toml::Value::String(s)) => Ok(vec![s.clone()]),
                Some(toml::Value::Array(a)) => a
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| format!("rule {n}: {key}: expected strings"))
                    })
                    .collect(),
                Some(_) => Err(format!("rule {n}: {key}: expected a string or a list")),
            }
        };
        let mut who = words("who")?;
        if who.is_empty() {
            who.push("*".into());
        }
        let allow = words("allow")?;
        if allow.is_empty() {
            return Err(format!(
                "rule {n}: needs allow = [\"read\", …] (or \"none\")"
            ));
        }
        for w in who {
            let rule = format!("{w}:{}:{path}", allow.join(","));
            pared_core::rights::Rule::parse(&rule).map_err(|e| format!("rule {n}: {e}"))?;
            argv.push(format!("--rule={rule}").into());
        }
    }
    Ok(())
}

/// An error message on one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
