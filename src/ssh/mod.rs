//! The ssh side: which ssh runs and its option letters ([`grammar`]), its argument grammar
//! ([`args`]), the resolved client configuration ([`config`]), the ControlMaster that carries
//! the user's session ([`master`]), the user's own connection sharing ([`control`]), and how a
//! POSIX sh program reaches the remote whatever the login shell ([`remote`]), run once with its
//! reply read back ([`runner`]). Nothing here knows about AWS.

pub mod args;
pub mod config;
pub mod control;
pub mod grammar;
pub mod master;
pub mod mux;
pub mod remote;
pub mod runner;
