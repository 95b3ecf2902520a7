//! Command-line definitions, and nothing else.
//!
//! `ssso` is used like `ssh`, so its own options are long options only and never clash with
//! ssh's one-letter ones. The connect path (`ssso [SSSO OPTIONS] [SSH OPTIONS] DESTINATION
//! [COMMAND]`) is split by [`crate::sshargs`] before clap sees it: clap parses only ssso's own
//! long options, and the ssh options, destination and command go to ssh unchanged. Subcommands
//! are parsed by clap as usual. These definitions also feed `--help`, the completions and the
//! man page.

use std::ffi::OsString;

use clap::{Args, Parser, Subcommand};

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
    #[arg(long, value_name = "DURATION", default_value = "15m")]
    pub min_valid: String,
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
    /// Least privilege: keep the SSO token on this machine and give the host only the
    /// profile's role credentials, on demand, while the session lasts (see SECURITY)
    #[arg(long)]
    pub forward: bool,

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
    #[command(flatten)]
    pub profile: ProfileOpts,

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
                                                  remove both blocks again";

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
    after_help = "In ~/.ssh/config:\n  Host jupyter\n      SetEnv AWS_PROFILE=dev\n      ProxyCommand ssso proxy --user %r --alias %n %h %p\n\nstdout is the SSH stream: ssso's messages go to stderr."
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
    /// AWS_PROFILE, ProxyUseFdpass) and the sync connection: pass %n [default: read from the
    /// parent ssh's command line where possible, else HOST]
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

With --jobs above 1, ssh runs with BatchMode=yes (no password or host-key prompts): use keys,
or --jobs 1. Exit status 1 when any host failed.";

/// `ssso sync [--profile NAME] [--jobs N] [--hosts-file FILE|-] [--timeout D] [SSH OPTIONS]
/// HOST...`: the arguments after `sync` are split like the connect path's.
#[derive(Debug, Args)]
pub struct FleetArgs {
    #[command(flatten)]
    pub connect: ConnectOpts,

    /// How many hosts to work on at once (prompts need --jobs 1)
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub jobs: usize,

    /// Read more hosts from FILE, one a line (# comments); - for stdin
    #[arg(long, value_name = "FILE")]
    pub hosts_file: Option<std::path::PathBuf>,

    /// Give up on a host after this long (connection and sync), e.g. 10s, 1m
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub timeout: String,

    /// ssh options, then the hosts
    #[arg(value_name = "[SSH OPTIONS] HOST", allow_hyphen_values = true)]
    pub target: Vec<OsString>,
}
