//! ssso: ssh with a fresh AWS IAM Identity Center token synced to the host.
//!
//! The library behind the `ssso` binary; `main.rs` only parses, dispatches and maps errors to
//! exit codes. The modules are layers, each importing only from the layers below it:
//!
//! | layer | modules | owns |
//! |---|---|---|
//! | base | [`time`], [`ui`], [`files`] | timestamps and durations; messages on stderr; local files written safely |
//! | sides | [`aws`], [`ssh`] | the AWS config, token cache, refresh and login; ssh's grammar, config, master and remote shells |
//! | sync | [`sync`], [`forward`] | what is synced and how the host stores it; least-privilege mode's credential server and host programs |
//! | session | [`session`] | the local half of a sync (or of a forward) for every command that syncs |
//! | commands | [`cmd`] | connect, proxy, sync (fleet), status, login, doctor, setup, completion |
//! | boundary | [`cli`], [`docs`] | the command line, its settings, the man page and completions |

pub mod aws;
pub mod cli;
pub mod cmd;
pub mod docs;
pub mod files;
pub mod forward;
pub mod session;
pub mod ssh;
pub mod sync;
#[cfg(test)]
mod testing;
pub mod time;
pub mod ui;

/// Exit status for ssso's own failures (bad AWS config, no token, failed login, bad usage of
/// the remote side). ssh's own failures keep ssh's 255; a remote command's status passes
/// through unchanged.
pub const EXIT_SSSO: u8 = 254;

/// Exit status for a command line that ssso cannot run (`ssso: error:`): what ssso's own
/// grammar refuses (an unknown option, a missing value, no destination), clap's errors, and a
/// subcommand's name used as a host that ssh does not know.
pub const EXIT_USAGE: u8 = 2;
