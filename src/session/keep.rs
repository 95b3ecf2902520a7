//! Keeping a held session's host fresh: while `ssso HOST` holds the session's master, every
//! [`POLL`] the local token file is read and the [`Keeper`] decides (see
//! [`crate::session::keeper`]): a changed token is pushed over the master ([`sync::run`], one
//! short remote `sh` that exits, which also sends back a newer token the host holds: adopted
//! at once); a refreshable token is refreshed ahead of the host's botocore
//! ([`crate::aws::schedule`]) and pushed within [`POLL`]; after a failed refresh the host is
//! read again; when the token cannot be refreshed, one warning line goes to the terminal
//! before it expires. ssso is then the one refresher for the chain.

use std::path::Path;
use std::time::Duration;

use crate::aws::config::SsoProfile;
use crate::aws::oidc::{can_refresh, refresh_file};
use crate::aws::schedule::{self, Schedule};
use crate::aws::token::{self, Token};
use crate::session::keeper::{self, Action, Host, Keeper, Pushed};
use crate::session::{SYNC_TIMEOUT, adopt_remote_token};
use crate::ssh::args::SshArgs;
use crate::ssh::{master, runner};
use crate::sync;
use crate::ui;

/// How often [`keep_fresh`] looks at the local token file.
pub const POLL: Duration = schedule::POLL;

/// What [`keep_fresh`] works on: the session's master and what to push over it.
pub struct Session<'a> {
    pub ctl: &'a Path,
    /// The user's ssh options and destination: a connection of its own for a push when the
    /// server refuses a second channel beside the session (`MaxSessions 1`).
    pub ssh: &'a SshArgs,
    pub sso: &'a SsoProfile,
    pub sync: &'a sync::Options,
    pub schedule: Schedule,
    /// The host, for messages.
    pub dest: &'a str,
}

/// The local token file as the keeper sees it (None: missing or unusable).
pub fn read_local(path: &Path, sso: &SsoProfile) -> Option<(Token, keeper::Local)> {
    let t = token::read(path).ok()??;
    let local = keeper::Local {
        bytes: t.bytes.clone(),
        expires_at: t.expires_at,
        refreshable: can_refresh(sso, &t),
        written_at: token::written_at(path).unwrap_or(0),
    };
    Some((t, local))
}

/// Refreshes the token (in a blocking task), logging a failure with `-v`.
pub async fn refresh(path: &Path, sso: &SsoProfile, tok: &Token) -> Result<(), String> {
    let (p, sso, tok) = (path.to_path_buf(), sso.clone(), tok.clone());
    let r = match tokio::task::spawn_blocking(move || refresh_file(&p, &sso, &tok)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("{e:#}")),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = &r {
        ui::debug(format_args!("could not refresh the SSO token: {e}"));
    }
    r
}

/// The expiry warning (rounded up: 119 s left reads "2m").
pub fn warn(sso: &SsoProfile, left: i64, why: &str, dest: &str) {
    ui::warn_in_session(format_args!(
        "the AWS SSO token for profile `{}` expires in {} and could not be refreshed ({why}); run `aws sso login --profile {}` here: ssso pushes the new token to {}",
        sso.profile,
        schedule::left_for_warning(left),
        sso.profile,
        dest
    ));
}

/// Keeps the remote token of a running session fresh until dropped (it never returns).
/// `pushed` is the token the session's own sync sent.
pub async fn keep_fresh(s: Session<'_>, pushed: Token) {
    let Ok(path) = s.sso.cache_path() else {
        return std::future::pending().await;
    };
    let mut keeper = Keeper::new(s.schedule);
    let mut host = Host::holding(Some(pushed.bytes));
    let mut warned = Warned::default();
    loop {
        tokio::time::sleep(POLL).await;
        // A few actions per poll: a refresh is pushed in the same poll.
        for _ in 0..4 {
            let local = read_local(&path, s.sso);
            let now = crate::time::now();
            match keeper.step(now, local.as_ref().map(|l| &l.1), &mut host) {
                Action::Wait => break,
                Action::Adopt(bytes) => adopt_remote_token(&bytes, s.sso),
                Action::Push => {
                    let Some((tok, _)) = &local else { break };
                    let result = push_session(&s, tok, &mut warned).await;
                    host.pushed(&keeper, crate::time::now(), result);
                }
                Action::Refresh => {
                    let Some((tok, _)) = &local else { break };
                    let r = refresh(&path, s.sso, tok).await;
                    keeper.refreshed(r);
                }
                Action::Warn { left, why } => warn(s.sso, left, &why, s.dest),
            }
        }
    }
}

/// Pushes `tok` over the session's master, with no session waiting for it.
async fn push_session(s: &Session<'_>, tok: &Token, warned: &mut Warned) -> Pushed {
    push(
        s.ctl,
        Some(s.ssh),
        s.sso,
        s.sync,
        tok,
        s.dest,
        SYNC_TIMEOUT,
        warned,
    )
    .await
}

/// The last push failure the user was told about, per host: a failure that repeats (a host
/// that refuses the write keeps refusing it) is said once, and again only when it changes or
/// after a push that worked.
#[derive(Debug, Default)]
pub struct Warned(Option<String>);

impl Warned {
    fn failed(&mut self, message: String) {
        if self.0.as_deref() != Some(message.as_str()) {
            ui::warn_in_session(format_args!(
                "{message} (tried again with a growing pause; said again only if the reason changes)"
            ));
            self.0 = Some(message);
        } else {
            ui::debug(&message);
        }
    }

    fn worked(&mut self, dest: &str) {
        if self.0.take().is_some() {
            ui::info_in_session(format_args!("pushed the AWS token to {dest} again"));
        }
    }
}

/// Pushes `tok` (with `opts`: the config sections, access token only) over the master at `ctl`
/// to `dest`, which also reads the host's token back; what the host holds afterwards. When the
/// server refuses the channel (`MaxSessions 1`, the session holds the only one) and `fallback`
/// gives the user's ssh options, the push goes over a connection of its own. A failure is
/// told to the user through `warned`.
#[allow(
    clippy::too_many_arguments,
    reason = "one push: where, what and how long"
)]
pub async fn push(
    ctl: &Path,
    fallback: Option<&SshArgs>,
    sso: &SsoProfile,
    opts: &sync::Options,
    tok: &Token,
    dest: &str,
    timeout: Duration,
    warned: &mut Warned,
) -> Pushed {
    let plan = match sync::Plan::new(sso, tok, opts, None) {
        Ok(p) => p.for_host(dest),
        Err(e) => {
            warned.failed(format!("could not push the new token to {dest}: {e:#}"));
            return Pushed::Failed;
        }
    };
    let mut result = sync::run(ctl, &plan, timeout).await;
    if let Err(e) = &result
        && runner::is_no_channel(e)
        && let Some(ssh) = fallback
    {
        ui::debug(format_args!(
            "{e:#}; pushing over a second connection (MaxSessions 1?)"
        ));
        let cmd = master::program_command(ssh, master::SECOND_CONNECTION);
        result = sync::run_command(cmd, &plan, timeout).await;
    }
    let pushed = match result {
        Ok(r) => {
            ui::debug(format_args!("pushed the token to {dest}: {:?}", r.token));
            match r.token {
                sync::TokenOutcome::RemoteNewer(bytes) => Pushed::Newer(bytes),
                sync::TokenOutcome::Failed(why) => {
                    warned.failed(format!("could not push the new AWS token to {dest}: {why}"));
                    return Pushed::Failed;
                }
                // Written or current: the host holds what the local file is (or, with
                // --access-token-only, its copy without the refresh secrets).
                _ => Pushed::Holds(tok.bytes.clone()),
            }
        }
        Err(e) => {
            warned.failed(format!("could not push the new AWS token to {dest}: {e:#}"));
            return Pushed::Failed;
        }
    };
    warned.worked(dest);
    pushed
}
