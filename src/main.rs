//! ssso: ssh with a fresh AWS IAM Identity Center token synced to the host.
//!
//! This file only parses, dispatches and maps errors to exit codes; each concept lives in a
//! module of its own (see the `mod` list below).

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use ssso::aws::login;
use ssso::cmd::{complete, connect, doctor, fleet, proxy, setup, status};
use ssso::ssh::args as sshargs;
use ssso::{EXIT_SSSO, cli, docs, ui};

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match run(args) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            ui::error(&err);
            ExitCode::from(EXIT_SSSO)
        }
    }
}

fn run(args: Vec<OsString>) -> anyhow::Result<u8> {
    let names: Vec<String> = cli::Cli::command()
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    match sshargs::split(&args, &names)? {
        sshargs::Split::Subcommand => {
            let cli = cli::Cli::parse_from(
                std::iter::once(OsString::from("ssso")).chain(args.iter().cloned()),
            );
            match cli.command {
                Some(cli::Command::Status(a)) => status::run(&a),
                Some(cli::Command::Completions { shell }) => {
                    docs::completions(shell, &mut std::io::stdout())?;
                    Ok(0)
                }
                Some(cli::Command::Man) => {
                    docs::man(&mut std::io::stdout())?;
                    Ok(0)
                }
                Some(cli::Command::Login(a)) => login::run(&a),
                Some(cli::Command::Doctor(_) | cli::Command::Setup(_) | cli::Command::Sync(_)) => {
                    with_ssh_args(&args, &names)
                }
                Some(cli::Command::Complete(a)) => Ok(complete::run(&a.shell, &a.words, &names)),
                Some(cli::Command::Proxy(a)) => proxy::run(&a),
                None => unreachable!("split() saw a subcommand name"),
            }
        }
        sshargs::Split::Connect { ssso, ssh } => {
            let cli = cli::Cli::parse_from(std::iter::once(OsString::from("ssso")).chain(ssso));
            connect::run(&cli.connect, ssh)
        }
    }
}

/// `doctor`, `setup` and `sync` take ssh options and a host like the connect path: the words after the
/// subcommand are split by [`sshargs::split`]; clap parses only ssso's long options among them.
fn with_ssh_args(args: &[OsString], names: &[&str]) -> anyhow::Result<u8> {
    let sshargs::Split::Connect { ssso, ssh } = sshargs::split(&args[1..], &[])? else {
        unreachable!("no subcommands given to split()")
    };
    let line = [OsString::from("ssso"), args[0].clone()];
    let cli = cli::Cli::parse_from(line.into_iter().chain(ssso));
    match cli.command {
        Some(cli::Command::Doctor(a)) => doctor::run(&a, ssh),
        Some(cli::Command::Setup(a)) => setup::run(&a, ssh),
        Some(cli::Command::Sync(a)) => fleet::run(&a, ssh),
        _ => unreachable!("called for doctor, setup and sync only: {names:?}"),
    }
}
