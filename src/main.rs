//! ssso: ssh with a fresh AWS IAM Identity Center token synced to the host.
//!
//! This file only parses ([`cli::parse`]), dispatches and maps errors to exit codes: 2 for a
//! usage error, 128 + N for SIGTERM or SIGHUP during the login ([`Terminated`]),
//! [`EXIT_SSSO`] for ssso's own failures, otherwise the command's own status (the
//! remote command's, or ssh's 255).

use std::ffi::OsString;
use std::process::ExitCode;

use ssso::aws::login::Terminated;
use ssso::cli::{self, Run, UsageError};
use ssso::cmd::{complete, connect, doctor, fleet, login, proxy, setup, status};
use ssso::{EXIT_SSSO, EXIT_USAGE, docs, ui};

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let result = cli::parse(&args).and_then(|parsed| {
        ui::set_verbosity(parsed.verbosity);
        dispatch(parsed.run)
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            ui::error(&err);
            if err.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(EXIT_USAGE)
            } else if let Some(t) = err.downcast_ref::<Terminated>() {
                // SIGTERM or SIGHUP during the login: 128 + N, as for a session's ssh.
                ExitCode::from(t.exit_status())
            } else {
                ExitCode::from(EXIT_SSSO)
            }
        }
    }
}

fn dispatch(run: Run) -> anyhow::Result<u8> {
    match run {
        Run::Connect(s, ssh, dest) => connect::run(&s, ssh, dest),
        Run::Proxy(s) => proxy::run(&s),
        Run::Fleet(s, ssh) => fleet::run(&s, ssh),
        Run::Status(s) => status::run(&s),
        Run::Login(s) => login::run(&s),
        Run::Doctor(s, ssh) => doctor::run(&s, ssh),
        Run::Setup(s, ssh) => setup::run(&s, ssh),
        Run::Completions(shell) => {
            docs::completions(shell, &mut std::io::stdout())?;
            Ok(0)
        }
        Run::Man => {
            docs::man(&mut std::io::stdout())?;
            Ok(0)
        }
        Run::Complete {
            shell,
            words,
            subcommands,
            long_options,
        } => {
            let subcommands: Vec<&str> = subcommands.iter().map(String::as_str).collect();
            let long_options: Vec<(&str, bool)> =
                long_options.iter().map(|(n, v)| (n.as_str(), *v)).collect();
            let grammar = complete::Grammar {
                subcommands: &subcommands,
                long_options: &long_options,
            };
            Ok(complete::run(&shell, &words, grammar))
        }
        Run::Print(text) => {
            use std::io::Write as _;
            let _ = std::io::stdout().write_all(text.as_bytes());
            Ok(0)
        }
    }
}
