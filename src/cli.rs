//! The command line: clap's definitions, and their conversion, once, into the settings the
//! commands take ([`parse`] → [`Parsed`]). No clap type goes below this module (and
//! [`crate::docs`], which renders these definitions as the man page and completions).
//!
//! `ssso` is used like `ssh`, so its own options are long options only and never clash with
//! ssh's one-letter ones. The connect path (`ssso [SSSO OPTIONS] [SSH OPTIONS] DESTINATION
//! [COMMAND]`) and the subcommands that take ssh options (`doctor`, `setup`, `sync`) are split
//! by [`crate::ssh::args`] before clap sees them: clap parses only ssso's own long options
//! (whose table the splitter gets from these definitions), and the ssh options, destination
//! and command go to ssh unchanged. Other subcommands are parsed by clap as usual.

use std::ffi::OsString;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::aws::login::Freshness;
use crate::aws::schedule;
use crate::cmd::{connect, doctor, fleet, login, proxy, setup, status};
use crate::session;
use crate::ssh::args::{self as sshargs, Split, SshArgs};
use crate::ui::Verbosity;

pub const USAGE: &str = "ssso [SSSO OPTIONS] [SSH OPTIONS] DESTINATION [COMMAND [ARGUMENT]...]\n       ssso <SUBCOMMAND> [OPTIONS]";

pub const EXAMPLES: &str = "\
Examples:
  ssso alice@jupyter.example.org                  interactive shell, AWS_PROFILE set
  ssso --profile dev -p 2222 alice@host 'aws s3 ls'
  ssso status --json                              local token state, no network
  ssso -- status                                  connect to a host called \"status\"

Any ssh option (-p -i -l -J -o -F -L -R -D -A -t -T -N -v -q ...) is passed to ssh unchanged.
Profile: --profile, then SSSO_PROFILE, then the host's `SetEnv AWS_PROFILE=...` in
~/.ssh/config, then AWS_PROFILE.";

#[derive(Debug, Parser)]
#[command(
    name = "ssso",
    version,
    about = "ssh with your AWS IAM Identity Center (SSO) login: a fresh token synced to the host, AWS_PROFILE set",
    override_usage = USAGE,
    after_help = EXAMPLES,
    args_conflicts_with_subcommands = true,
    disable_version_flag = true
)]
pub struct Cli {
    #[command(flatten)]
    pub connect: ConnectOpts,

    /// Least privilege: keep the SSO token on this machine and give the host only the
    /// profile's role credentials, on demand, while the session lasts (see SECURITY)
    #[arg(long)]
    pub forward: bool,

    /// Print version
    #[arg(long, action = clap::ArgAction::Version)]
    pub version: Option<bool>,

    /// The host, as for ssh ([user@]host or ssh://[user@]host[:port]), then the remote command.
    #[arg(
        value_name = "DESTINATION [COMMAND]",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub rest: Vec<OsString>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options that choose the AWS profile and the token's required lifetime.
#[derive(Debug, Clone, Default, Args)]
pub struct ProfileOpts {
    /// AWS profile to use [default: SSSO_PROFILE, the host's SetEnv AWS_PROFILE, AWS_PROFILE]
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,

    /// Log in again when the token has less than this left (e.g. 15m, 1h, 90s)
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = duration)]
    pub min_valid: Duration,

    /// Refresh a refreshable token that has less than this left, and push it, before the AWS
    /// CLI on a host would (it refreshes with 15m left); at least 16m
    #[arg(long, value_name = "DURATION", default_value = "20m", value_parser = refresh_before)]
    pub refresh_before: Duration,
}

/// Options that control the login step.
#[derive(Debug, Clone, Default, Args)]
pub struct LoginOpts {
    /// Fail instead of running `aws sso login` when the token is not fresh
    #[arg(long)]
    pub no_login: bool,

    /// Extra argument for `aws sso login` (repeatable), e.g. --login-arg=--use-device-code
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    pub login_arg: Vec<String>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct ConnectOpts {
    #[command(flatten)]
    pub profile: ProfileOpts,

    #[command(flatten)]
    pub login: LoginOpts,

    #[command(flatten)]
    pub sync: SyncOpts,
}

/// What a sync sends to the remote (the connect path, ProxyCommand mode and any other sync).
#[derive(Debug, Clone, Default, Args)]
pub struct SyncOpts {
    /// Do not touch the remote ~/.aws/config (sync the token only)
    #[arg(long)]
    pub no_config: bool,

    /// Send the token without refreshToken and clientSecret: the remote cannot refresh it, and
    /// it stops working at its expiresAt (see SECURITY in the man page)
    #[arg(long)]
    pub access_token_only: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the resolved profile and the local token's state (no network)
    Status(StatusArgs),

    /// Print a shell completion script (bash, zsh, fish, powershell, elvish)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },

    /// Print the man page (roff)
    #[command(hide = true)]
    Man,

    /// Make the local SSO token fresh, running `aws sso login` only when needed (no ssh)
    #[command(after_help = LOGIN_EXAMPLES)]
    Login(LoginArgs),

    /// Check a host for ssso: ssh, remote aws, config, token, credentials, a live AWS call
    #[command(after_help = DOCTOR_EXAMPLES)]
    Doctor(DoctorArgs),

    /// Print, or --write, the ~/.ssh/config block for `ssso proxy`; --persist-profile on the host
    #[command(after_help = SETUP_EXAMPLES)]
    Setup(SetupArgs),

    /// Completion candidates for the shell scripts (internal)
    #[command(name = "__complete", hide = true)]
    Complete(CompleteArgs),

    /// ProxyCommand mode: sync the token, then connect ssh to HOST PORT (see PROXYCOMMAND MODE)
    Proxy(ProxyArgs),

    /// Sync the token and config to many hosts at once; a table of results (see FLEET SYNC)
    #[command(after_help = FLEET_EXAMPLES)]
    Sync(FleetArgs),
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub profile: ProfileOpts,

    /// Machine-readable output (stable; see the man page)
    #[arg(long)]
    pub json: bool,

    /// Every SSO session of the local config, with its profiles and its token
    #[arg(long, conflicts_with = "profile")]
    pub all: bool,
}

const LOGIN_EXAMPLES: &str = "\
Examples:
  ssso login --profile dev                        log in only if the token is not fresh
  ssso login --force --login-arg=--use-device-code";

#[derive(Debug, Args)]
pub struct LoginArgs {
    #[command(flatten)]
    pub profile: ProfileOpts,

    /// Run `aws sso login` even when the token is fresh
    #[arg(long)]
    pub force: bool,

    /// Extra argument for `aws sso login` (repeatable), e.g. --login-arg=--use-device-code
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    pub login_arg: Vec<String>,

    /// Print nothing but errors
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Explain each step
    #[arg(short, long)]
    pub verbose: bool,
}

const DOCTOR_EXAMPLES: &str = "\
Examples:
  ssso doctor alice@host                          one report, each line ok/warn/fail with the fix
  ssso doctor --profile dev -p 2222 host --json";

/// `ssso doctor [--profile NAME] [--json] [SSH OPTIONS] HOST`: the arguments after `doctor`
/// are split like the connect path's; clap sees only the long options.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// AWS profile to use [default: SSSO_PROFILE, the host's SetEnv AWS_PROFILE, AWS_PROFILE]
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,

    /// Warn when the host's token has less than this left (e.g. 15m, 1h, 90s)
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = duration)]
    pub min_valid: Duration,

    /// Machine-readable output (stable; see the man page)
    #[arg(long)]
    pub json: bool,

    /// ssh options and the host, as for ssso HOST
    #[arg(value_name = "[SSH OPTIONS] HOST", allow_hyphen_values = true)]
    pub target: Vec<OsString>,
}

const SETUP_EXAMPLES: &str = "\
Examples:
  ssso setup --profile dev host                   print the ~/.ssh/config block
  ssso setup --profile dev host --write           add it to ~/.ssh/config (idempotent)
  ssso setup --profile dev host --persist-profile --write
                                                  also export AWS_PROFILE in the host's shell startup file
  ssso setup host --undo --persist-profile --write
                                                  remove both blocks again
  ssso setup --forward --profile dev host --write for `ssso host` in least-privilege mode (no ProxyCommand:
                                                  plain ssh/scp/rsync get no AWS credentials there)";

/// `ssso setup [--profile NAME] [--persist-profile] [--write] [--undo] [SSH OPTIONS] HOST`.
#[derive(Debug, Args)]
pub struct SetupArgs {
    /// AWS profile for `SetEnv AWS_PROFILE` [default: SSSO_PROFILE, the host's SetEnv AWS_PROFILE, AWS_PROFILE]
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,

    /// Also set AWS_PROFILE in the host's login-shell startup file (a marked block)
    #[arg(long)]
    pub persist_profile: bool,

    /// Change the files; without it, only show what would change
    #[arg(long)]
    pub write: bool,

    /// Remove ssso's blocks instead of adding them
    #[arg(long)]
    pub undo: bool,

    /// The block for least-privilege mode: `ssso HOST` forwards role credentials and keeps the
    /// token here; no ProxyCommand (it cannot carry the forward)
    #[arg(long)]
    pub forward: bool,

    /// ssh options and the host, as for ssso HOST
    #[arg(value_name = "[SSH OPTIONS] HOST", allow_hyphen_values = true)]
    pub target: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct CompleteArgs {
    /// bash, zsh or fish
    #[arg(long)]
    pub shell: String,

    /// The words after `ssso`, the one being completed last
    #[arg(allow_hyphen_values = true, trailing_var_arg = true)]
    pub words: Vec<String>,
}

/// `ssso proxy`, for `ProxyCommand ssso proxy --user %r --alias %n %h %p` in ~/.ssh/config.
#[derive(Debug, Args)]
#[command(
    after_help = "In ~/.ssh/config (what `ssso setup --write jupyter` writes):\n  Host jupyter\n      SetEnv AWS_PROFILE=dev\n      ProxyCommand ssso proxy --alias jupyter --profile dev --user %r %h %p\n\nWith OpenSSH alone, `--alias %n` works too; paramiko and fabric do not expand %n (it is then ignored), so write the alias itself.\n\nstdout is the SSH stream: ssso's messages go to stderr."
)]
pub struct ProxyArgs {
    #[command(flatten)]
    pub connect: ConnectOpts,

    /// Fail (exit 254, no connection) when the sync fails, instead of warning and connecting
    #[arg(long)]
    pub strict: bool,

    /// The remote user, for the sync connection and the ssh config lookup: pass %r
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,

    /// The host as named on the ssh command line, for the ssh config lookup (SetEnv
    /// AWS_PROFILE, ProxyUseFdpass) and the sync connection: the alias itself, or %n with
    /// OpenSSH [default: read from the parent ssh's command line where possible, else HOST]
    #[arg(long, value_name = "ALIAS")]
    pub alias: Option<String>,

    /// The ssh config file, when ssh is run with -F (ssh does not tell its ProxyCommand)
    #[arg(short = 'F', value_name = "CONFIG")]
    pub config: Option<std::path::PathBuf>,

    /// Only errors on stderr
    #[arg(long)]
    pub quiet: bool,

    /// Say what ssso does, on stderr
    #[arg(long)]
    pub verbose: bool,

    /// Host to connect to: pass %h
    pub host: String,

    /// Port to connect to: pass %p
    pub port: u16,
}

const FLEET_EXAMPLES: &str = "\
Examples:
  ssso sync --profile dev web-1 web-2 db-1        one login at most, then every host at once
  ssso sync --jobs 32 --timeout 10s --hosts-file hosts.txt
  ssso sync -F ~/.ssh/fleet.conf -l alice h1 h2   ssh options (before the hosts) apply to every host
  ssso sync --keep --with-refresh-token web-1 web-2
                                                  stay, refresh for the fleet, push every refresh

With --jobs above 1, ssh runs with BatchMode=yes (no password or host-key prompts): use keys,
or --jobs 1. Exit status 1 when any host failed.";

/// `ssso sync [--profile NAME] [--jobs N] [--hosts-file FILE|-] [--timeout D] [SSH OPTIONS]
/// HOST...`: the arguments after `sync` are split like the connect path's.
#[derive(Debug, Args)]
pub struct FleetArgs {
    #[command(flatten)]
    pub connect: ConnectOpts,

    /// How many hosts to work on at once (prompts need --jobs 1)
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = jobs)]
    pub jobs: usize,

    /// Read more hosts from FILE, one a line (# comments); - for stdin
    #[arg(long, value_name = "FILE")]
    pub hosts_file: Option<std::path::PathBuf>,

    /// Give up on a host after this long (connection and sync), e.g. 10s, 1m
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = duration)]
    pub timeout: Duration,

    /// Stay in the foreground, one connection per host, as the one refresher of the fleet:
    /// every refresh is pushed to every host; hosts that go away are reconnected; Ctrl-C ends
    #[arg(long)]
    pub keep: bool,

    /// Send the refresh token too (by default `ssso sync` sends the access token only: hosts
    /// that share one refresh token spend it for each other; see FLEET SYNC)
    #[arg(long, conflicts_with = "access_token_only")]
    pub with_refresh_token: bool,

    /// ssh options, then the hosts
    #[arg(value_name = "[SSH OPTIONS] HOST", allow_hyphen_values = true)]
    pub target: Vec<OsString>,
}

/// `--min-valid`, `--timeout`: a duration as [`crate::time::parse_duration`] reads it.
fn duration(s: &str) -> Result<Duration, String> {
    crate::time::parse_duration(s).map_err(|e| e.to_string())
}

/// `--jobs`: a whole number, at least 1.
fn jobs(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("0 hosts at a time would never finish; use at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{s:?} is not a whole number")),
    }
}

/// `--refresh-before`: a duration, at least [`schedule::REFRESH_BEFORE_MIN`].
fn refresh_before(s: &str) -> Result<Duration, String> {
    schedule::check_refresh_before(duration(s)?)
}

/// A usage error: a command line that ssso cannot run (exit status 2).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A parsed command line: what to run, with its settings, and how much ssso says meanwhile.
#[derive(Debug)]
pub struct Parsed {
    pub verbosity: Verbosity,
    pub run: Run,
}

/// What to run.
#[derive(Debug)]
pub enum Run {
    /// `ssso [OPTIONS] [SSH OPTIONS] DESTINATION [COMMAND]`
    Connect(connect::Settings, SshArgs, connect::Destination),
    Proxy(proxy::Settings),
    /// `ssso sync`
    Fleet(fleet::Settings, SshArgs),
    Status(status::Settings),
    Login(login::Settings),
    Doctor(doctor::Settings, SshArgs),
    Setup(setup::Settings, SshArgs),
    Completions(clap_complete::Shell),
    Man,
    /// The completion helper, with what it needs to know of this command line's grammar.
    Complete {
        shell: String,
        words: Vec<String>,
        subcommands: Vec<String>,
        long_options: Vec<(String, bool)>,
    },
    /// `--help` or `--version`: text for stdout.
    Print(String),
}

/// Parses ssso's arguments (without `argv[0]`) into what to run. Errors are [`UsageError`]s.
pub fn parse(args: &[OsString]) -> anyhow::Result<Parsed> {
    let root = Cli::command();
    let subcommands: Vec<String> = root
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    let names: Vec<&str> = subcommands.iter().map(String::as_str).collect();
    if let Some(first) = args.first()
        && names.iter().any(|n| first == *n)
    {
        return match first.to_str() {
            Some("doctor" | "setup" | "sync") => with_ssh_args(args),
            _ => subcommand(args, &subcommands),
        };
    }
    let (ssso, ssh) = split(args, &root)?;
    let cli = clap_parse(&ssso, &[])?;
    let cli = match cli {
        Ok(cli) => cli,
        Err(text) => return Ok(print(text)),
    };
    // Everything that is not one of ssso's long options went to ssh; a word left over here
    // is a long option that ssso does not have.
    no_leftover(&cli.rest, "ssso --help")?;
    if ssh.destination.is_none() && !ssh.flags.query {
        return Err(UsageError(
            "no DESTINATION given (usage: ssso [SSSO OPTIONS] [SSH OPTIONS] DESTINATION [COMMAND]; see ssso --help)"
                .to_owned(),
        )
        .into());
    }
    // `ssso --profile dev status`: a subcommand's name after options is a host for ssh, but
    // maybe not what the user meant; the connect path asks the ssh config before any login.
    let destination = match &ssh.destination {
        Some(d) if !ssh.flags.end_of_options && names.iter().any(|n| d == *n) => {
            connect::Destination::MaybeSubcommand
        }
        _ => connect::Destination::Host,
    };
    Ok(Parsed {
        verbosity: ssh_verbosity(&ssh),
        run: Run::Connect(
            connect::Settings {
                session: cli.connect.settings(),
                forward: cli.forward,
            },
            ssh,
            destination,
        ),
    })
}

/// Subcommands that clap parses whole.
fn subcommand(args: &[OsString], subcommands: &[String]) -> anyhow::Result<Parsed> {
    let cli = match clap_parse(args, &[])? {
        Ok(cli) => cli,
        Err(text) => return Ok(print(text)),
    };
    let normal = |run| Parsed {
        verbosity: Verbosity::Normal,
        run,
    };
    Ok(
        match cli.command.expect("the first word names a subcommand") {
            Command::Status(a) => normal(Run::Status(status::Settings {
                profile: a.profile.profile,
                min_valid: a.profile.min_valid,
                refresh_before: a.profile.refresh_before,
                json: a.json,
                all: a.all,
            })),
            Command::Completions { shell } => normal(Run::Completions(shell)),
            Command::Man => normal(Run::Man),
            Command::Login(a) => Parsed {
                verbosity: Verbosity::from_flags(a.quiet, a.verbose),
                run: Run::Login(login::Settings {
                    profile: a.profile.profile,
                    freshness: Freshness {
                        min_valid: a.profile.min_valid,
                        refresh_before: a.profile.refresh_before,
                        login: true,
                        login_args: a.login_arg,
                    },
                    force: a.force,
                }),
            },
            Command::Complete(a) => normal(Run::Complete {
                shell: a.shell,
                words: a.words,
                subcommands: subcommands.to_vec(),
                long_options: long_options(&Cli::command()),
            }),
            Command::Proxy(a) => Parsed {
                verbosity: Verbosity::from_flags(a.quiet, a.verbose),
                run: Run::Proxy(proxy::Settings {
                    session: a.connect.settings(),
                    strict: a.strict,
                    user: a.user,
                    alias: a.alias,
                    config: a.config,
                    host: a.host,
                    port: a.port,
                }),
            },
            Command::Doctor(_) | Command::Setup(_) | Command::Sync(_) => {
                unreachable!("parsed by with_ssh_args")
            }
        },
    )
}

/// `doctor`, `setup` and `sync` take ssh options and a host like the connect path: the words
/// after the subcommand are split by [`sshargs::split`]; clap parses only ssso's long options
/// among them.
fn with_ssh_args(args: &[OsString]) -> anyhow::Result<Parsed> {
    let name = args[0].to_str().expect("a subcommand name");
    let root = Cli::command();
    let sub = root
        .find_subcommand(name)
        .expect("a subcommand of the root command");
    let (ssso, ssh) = split(&args[1..], sub)?;
    let cli = match clap_parse(&ssso, &[name])? {
        Ok(cli) => cli,
        Err(text) => return Ok(print(text)),
    };
    let verbosity = ssh_verbosity(&ssh);
    let leftover = match &cli.command {
        Some(Command::Doctor(a)) => &a.target,
        Some(Command::Setup(a)) => &a.target,
        Some(Command::Sync(a)) => &a.target,
        _ => unreachable!("called for doctor, setup and sync only"),
    };
    no_leftover(leftover, &format!("ssso {name} --help"))?;
    let run = match cli.command {
        Some(Command::Doctor(a)) => Run::Doctor(
            doctor::Settings {
                profile: a.profile,
                min_valid: a.min_valid,
                json: a.json,
            },
            ssh,
        ),
        Some(Command::Setup(a)) => Run::Setup(
            setup::Settings {
                profile: a.profile,
                persist_profile: a.persist_profile,
                write: a.write,
                undo: a.undo,
                forward: a.forward,
            },
            ssh,
        ),
        Some(Command::Sync(a)) => {
            if ssh.destination.is_none() && a.hosts_file.is_none() {
                return Err(UsageError(
                    "no HOST given (usage: ssso sync [OPTIONS] [SSH OPTIONS] HOST... or --hosts-file FILE)"
                        .into(),
                )
                .into());
            }
            let mut session = a.connect.settings();
            session.sync.access_token_only = !a.with_refresh_token;
            Run::Fleet(
                fleet::Settings {
                    session,
                    jobs: a.jobs.max(1),
                    hosts_file: a.hosts_file,
                    timeout: a.timeout,
                    keep: a.keep,
                },
                ssh,
            )
        }
        _ => unreachable!("called for doctor, setup and sync only"),
    };
    Ok(Parsed { verbosity, run })
}

/// Splits a connect-style line: ssso's long options (those of `cmd`) for clap, the rest for ssh.
fn split(args: &[OsString], cmd: &clap::Command) -> anyhow::Result<(Vec<OsString>, SshArgs)> {
    let table = long_options(cmd);
    let table: Vec<(&str, bool)> = table.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    match sshargs::split(args, &table) {
        Ok(Split { ssso, ssh }) => Ok((ssso, ssh)),
        Err(e) => Err(UsageError(format!("{e:#}")).into()),
    }
}

/// After [`split`], the words clap did not take as one of ssso's options: a long option that
/// ssso does not have (the ssh options and the host went to ssh).
fn no_leftover(rest: &[OsString], help: &str) -> anyhow::Result<()> {
    match rest.first() {
        None => Ok(()),
        Some(w) => Err(UsageError(format!(
            "unknown option `{}` (ssso's own options: see {help})",
            w.to_string_lossy()
        ))
        .into()),
    }
}

/// The long options of `cmd` (help and version included) and whether each takes a value: the
/// table [`sshargs::split`] sets aside for clap, derived from the definitions so it cannot drift.
pub fn long_options(cmd: &clap::Command) -> Vec<(String, bool)> {
    let mut cmd = cmd.clone();
    cmd.build();
    cmd.get_arguments()
        .filter_map(|a| Some((a.get_long()?.to_owned(), a.get_action().takes_values())))
        .collect()
}

/// clap over `ssso PREFIX.. WORDS..`: the parsed line, or the help/version text to print, or
/// a [`UsageError`] carrying clap's message.
fn clap_parse(words: &[OsString], prefix: &[&str]) -> anyhow::Result<Result<Cli, String>> {
    let line = std::iter::once(OsString::from("ssso"))
        .chain(prefix.iter().map(OsString::from))
        .chain(words.iter().cloned());
    match Cli::try_parse_from(line) {
        Ok(cli) => Ok(Ok(cli)),
        Err(e) => match e.kind() {
            clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                Ok(Err(e.render().to_string()))
            }
            _ => {
                let text = e.render().to_string();
                let text = text.strip_prefix("error: ").unwrap_or(&text).trim_end();
                Err(UsageError(text.to_owned()).into())
            }
        },
    }
}

fn print(text: String) -> Parsed {
    Parsed {
        verbosity: Verbosity::Normal,
        run: Run::Print(text),
    }
}

/// ssh's `-q` and `-v` set ssso's verbosity too.
fn ssh_verbosity(ssh: &SshArgs) -> Verbosity {
    Verbosity::from_flags(ssh.flags.quiet, ssh.flags.verbose > 0)
}

impl ConnectOpts {
    /// The settings of every command that syncs.
    fn settings(&self) -> session::Settings {
        session::Settings {
            profile: self.profile.profile.clone(),
            freshness: Freshness {
                min_valid: self.profile.min_valid,
                refresh_before: self.profile.refresh_before,
                login: !self.login.no_login,
                login_args: self.login.login_arg.clone(),
            },
            sync: crate::sync::Options {
                config: !self.sync.no_config,
                access_token_only: self.sync.access_token_only,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_splitter_sets_aside_exactly_clap_s_long_options() {
        let table = long_options(&Cli::command());
        for name in ["profile", "min-valid", "login-arg"] {
            assert!(
                table.contains(&(name.to_owned(), true)),
                "{name}: {table:?}"
            );
        }
        for name in [
            "no-login",
            "no-config",
            "access-token-only",
            "help",
            "version",
        ] {
            assert!(
                table.contains(&(name.to_owned(), false)),
                "{name}: {table:?}"
            );
        }
        let sync = long_options(Cli::command().find_subcommand("sync").unwrap());
        assert!(sync.contains(&("jobs".to_owned(), true)), "{sync:?}");
        assert!(sync.contains(&("hosts-file".to_owned(), true)), "{sync:?}");
    }

    #[test]
    fn connect_settings() {
        let p = parse(&os(&[
            "--profile",
            "dev",
            "--min-valid",
            "1h",
            "--no-login",
            "-v",
            "host",
            "ls",
        ]))
        .unwrap();
        assert_eq!(p.verbosity, Verbosity::Verbose);
        let Run::Connect(s, ssh, _) = p.run else {
            panic!("{:?}", p.run)
        };
        assert!(!s.forward);
        let s = s.session;
        assert_eq!(s.profile.as_deref(), Some("dev"));
        assert_eq!(s.freshness.min_valid, Duration::from_secs(3600));
        assert_eq!(s.freshness.refresh_before, Duration::from_secs(20 * 60));
        assert!(!s.freshness.login);
        assert!(s.sync.config);
        assert_eq!(ssh.destination, Some("host".into()));
        assert_eq!(ssh.command, os(&["ls"]));
    }

    #[test]
    fn fleet_settings_send_the_access_token_only_unless_asked() {
        let fleet = |v: &[&str]| match parse(&os(v)).unwrap().run {
            Run::Fleet(s, _) => s,
            other => panic!("{other:?}"),
        };
        let s = fleet(&["sync", "h1", "h2"]);
        assert!(s.session.sync.access_token_only);
        assert!(!s.keep);
        let s = fleet(&[
            "sync",
            "--keep",
            "--with-refresh-token",
            "--refresh-before",
            "30m",
            "h",
        ]);
        assert!(!s.session.sync.access_token_only);
        assert!(s.keep);
        assert_eq!(
            s.session.freshness.refresh_before,
            Duration::from_secs(30 * 60)
        );
    }

    #[test]
    fn usage_errors() {
        for line in [
            &["--no-such-option", "host"][..],
            &["--min-valid", "soon", "host"],
            &["-p"],
            &["completions", "nosuchshell"],
            &["sync", "--jobs", "x", "h"],
            &["--refresh-before", "15m", "host"],
            &["sync", "--with-refresh-token", "--access-token-only", "h"],
            // A subcommand's unknown long option (a typo) is an error, never dropped.
            &["sync", "--keeep", "h1", "h2"],
            &["sync", "h1", "--with-refesh-token"],
            &["doctor", "--bogus", "h"],
            &["setup", "--profile", "dev", "--bogus", "h"],
            &["sync", "--jobs", "0", "h"],
            &["sync", "--profile", "dev"],
        ] {
            let e = parse(&os(line)).unwrap_err();
            assert!(e.downcast_ref::<UsageError>().is_some(), "{line:?}: {e:#}");
        }
        let e = format!(
            "{:#}",
            parse(&os(&["--refresh-before", "10m", "h"])).unwrap_err()
        );
        assert!(e.contains("at least 16m"), "{e}");
        assert!(matches!(
            parse(&os(&["--help"])).unwrap().run,
            Run::Print(t) if t.contains("Usage:")
        ));
    }

    #[test]
    fn subcommand_names_after_options_may_be_mistakes() {
        let dest = |v: &[&str]| match parse(&os(v)).unwrap().run {
            Run::Connect(_, _, d) => d,
            other => panic!("{other:?}"),
        };
        use connect::Destination::{Host, MaybeSubcommand};
        assert_eq!(dest(&["--profile", "dev", "status"]), MaybeSubcommand);
        assert_eq!(dest(&["-p", "22", "login", "ls"]), MaybeSubcommand);
        assert_eq!(dest(&["--profile", "dev", "--", "status"]), Host);
        assert_eq!(dest(&["alice@status"]), Host);
        assert_eq!(dest(&["--profile", "dev", "statuses"]), Host);
        assert!(matches!(
            parse(&os(&["status"])).unwrap().run,
            Run::Status(_)
        ));
    }

    #[test]
    fn no_destination_is_a_usage_error() {
        for line in [&["-v"][..], &["--profile", "dev"], &["-p", "22", "--"]] {
            let e = parse(&os(line)).unwrap_err();
            assert!(e.downcast_ref::<UsageError>().is_some(), "{line:?}");
        }
        assert!(parse(&os(&["-V"])).is_ok());
    }

    #[test]
    fn subcommands_with_ssh_options() {
        let p = parse(&os(&["sync", "--jobs", "3", "-l", "alice", "a", "b"])).unwrap();
        let Run::Fleet(s, ssh) = p.run else {
            panic!("{:?}", p.run)
        };
        assert_eq!(s.jobs, 3);
        assert_eq!(ssh.options, os(&["-l", "alice"]));
        assert_eq!(ssh.destination, Some("a".into()));
    }
}
