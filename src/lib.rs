//! ssso: ssh with a fresh AWS IAM Identity Center token synced to the host.
//!
//! The library behind the `ssso` binary; `main.rs` only parses, dispatches and maps errors to
//! exit codes.

/// The AWS side. Only the portal client lives here until the layout of issue 11 lands.
pub mod aws {
    pub mod portal;
}
pub mod awsconfig;
pub mod cli;
pub mod complete;
pub mod connect;
pub mod docs;
pub mod doctor;
pub mod fleet;
pub mod forward;
pub mod login;
pub mod master;
pub mod profile;
pub mod proxy;
pub mod refresh;
pub mod remote;
pub mod setup;
pub mod sshargs;
pub mod status;
pub mod sync;
pub mod token;
pub mod ui;

/// Exit status for ssso's own failures (bad AWS config, no token, failed login, bad usage of
/// the remote side). ssh's own failures keep ssh's 255; a remote command's status passes
/// through unchanged.
pub const EXIT_SSSO: u8 = 254;
