//! The commands: each takes its settings (never a clap type) and returns an exit status.

pub mod complete;
pub mod connect;
pub mod doctor;
pub mod fleet;
pub mod fleet_keep;
pub mod login;
pub mod persist;
pub mod proxy;
pub mod setup;
pub mod status;
