//! The AWS side: the config file and how a profile resolves to its IAM Identity Center
//! settings ([`config`], [`profile`]), the token cache ([`token`]), the SSO-OIDC refresh
//! ([`oidc`]), when it happens ([`schedule`]) and the `aws sso login` step ([`login`]).
//! Nothing here knows about ssh.

pub mod config;
pub mod login;
pub mod oidc;
pub mod portal;
pub mod profile;
pub mod schedule;
pub mod token;
