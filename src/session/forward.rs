//! The laptop half of one `--forward` session, for the connect path: the credential server
//! ([`crate::forward::server`]) on a socket in ssso's private directory, fed by the profile's
//! [`crate::forward::source::SsoSource`], the session's secret and name, and what the user hears about
//! the setup on the host ([`report`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};

use crate::aws::config::SsoProfile;
use crate::forward::host::{self, Started};
use crate::forward::server::Server;
use crate::forward::source::SsoSource;
use crate::forward::{Secret, session_id};
use crate::ui;

/// One forward session, before and while it runs.
pub struct Local {
    sso: SsoProfile,
    pub server: Arc<Server>,
    listener: std::sync::Mutex<Option<std::os::unix::net::UnixListener>>,
    socket: PathBuf,
    secret: Secret,
    session: String,
}

impl Local {
    /// Checks that the profile can be forwarded (account and role, a plain name) and binds
    /// the server's socket `f` in `dir` (ssso's private 0700 directory for this session).
    pub fn new(sso: &SsoProfile, dir: &Path) -> Result<Local> {
        host::check_profile_name(&sso.profile)?;
        let source = SsoSource::new(sso)?;
        let secret = Secret::generate()?;
        let socket = dir.join("f");
        let listener = std::os::unix::net::UnixListener::bind(&socket)
            .with_context(|| format!("cannot listen on {}", socket.display()))?;
        listener.set_nonblocking(true)?;
        Ok(Local {
            sso: sso.clone(),
            server: Arc::new(Server::new(
                secret.clone(),
                sso.account_id.clone(),
                Arc::new(source),
            )),
            listener: std::sync::Mutex::new(Some(listener)),
            socket,
            secret,
            session: session_id()?,
        })
    }

    /// Serves requests until dropped (call once, inside the runtime).
    pub async fn serve(&self) {
        let listener = self
            .listener
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .and_then(|l| tokio::net::UnixListener::from_std(l).ok());
        match listener {
            Some(l) => self.server.clone().serve(l).await,
            None => std::future::pending().await,
        }
    }

    /// Sets the host up over the master at `ctl` (see [`host::start`]).
    pub async fn start_on_host(
        &self,
        ctl: &Path,
        nonce: Option<&str>,
        timeout: Duration,
    ) -> Result<Started> {
        let plan = host::Plan {
            local: &self.sso,
            session: &self.session,
            nonce,
        };
        host::start(ctl, &plan, &self.secret, &self.socket, timeout).await
    }
}

/// Tells the user how the setup on the host went: nothing when all is well (the steps with
/// `-v`), a warning when the host will get no credentials.
pub fn report(result: &Result<Started>, dest: &str, profile: &str) {
    match result {
        Ok(s) => {
            ui::debug(format_args!(
                "forwarding role credentials for profile {profile} to {dest} through {}/s (helper: {}; ~/.aws/config {})",
                s.dir, s.client, s.config
            ));
            if s.token_removed {
                ui::info(format_args!(
                    "removed the SSO token that an earlier ssso session without --forward left on {dest}"
                ));
            }
        }
        Err(e) => ui::warn(format_args!(
            "could not set up the credential forward to {dest}: {e:#}; AWS commands there will get no credentials from this session"
        )),
    }
}
