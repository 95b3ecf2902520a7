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
    #[command(flatten)]
    pub profile: ProfileOpts,

    #[command(flatten)]
    pub login: LoginOpts,

    /// Do not touch the remote ~/.aws/config (sync the token only)
    #[arg(long)]
    pub no_config: bool,
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

    /// ProxyCommand mode: sync the token, then connect ssh to HOST PORT (see PROXYCOMMAND MODE)
    Proxy(ProxyArgs),
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub profile: ProfileOpts,

    /// Machine-readable output (stable; see the man page)
    #[arg(long)]
    pub json: bool,
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
