//! The laptop half of one `--forward` session, for the connect path: the credential server
//! ([`crate::forward::server`]) on a socket in ssso's private directory, fed by the profile's
//! [`crate::forward::source::SsoSource`], the session's secret and name, and what the user hears
//! about the setup on the host ([`report`]). While it runs, a small record in ssso's private
//! directory (`fwd-PID.json`: profile, host, pid, start; nothing secret) lets `ssso status`
//! show the session ([`live`]).

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

/// A running forward session, as `ssso status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Live {
    pub profile: String,
    pub host: String,
    pub pid: u32,
    /// Unix seconds.
    pub started: i64,
}

impl Live {
    fn to_json(&self) -> String {
        serde_json::json!({"profile": self.profile, "host": self.host, "pid": self.pid, "started": self.started})
            .to_string()
    }

    fn from_json(bytes: &[u8]) -> Option<Live> {
        let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
        Some(Live {
            profile: v["profile"].as_str()?.to_owned(),
            host: v["host"].as_str()?.to_owned(),
            pid: u32::try_from(v["pid"].as_u64()?).ok()?,
            started: v["started"].as_i64()?,
        })
    }
}

fn record_path(pid: u32) -> Result<PathBuf> {
    Ok(crate::ssh::master::private_base()?.join(format!("fwd-{pid}.json")))
}

/// The forward sessions running on this machine (their process alive), for `profile` or all.
pub fn live(profile: Option<&str>) -> Vec<Live> {
    let Ok(base) = crate::ssh::master::private_base() else {
        return Vec::new();
    };
    let mut out: Vec<Live> = std::fs::read_dir(base)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("fwd-"))
        .filter_map(|e| Live::from_json(&std::fs::read(e.path()).ok()?))
        .filter(|l| unsafe { libc::kill(l.pid as i32, 0) } == 0)
        .filter(|l| profile.is_none_or(|p| p == l.profile))
        .collect();
    out.sort_by_key(|l| l.started);
    out
}

/// One forward session, before and while it runs.
pub struct Local {
    sso: SsoProfile,
    pub server: Arc<Server>,
    listener: std::sync::Mutex<Option<std::os::unix::net::UnixListener>>,
    socket: PathBuf,
    secret: Secret,
    session: String,
    record: Option<PathBuf>,
}

impl Drop for Local {
    fn drop(&mut self) {
        if let Some(r) = &self.record {
            let _ = std::fs::remove_file(r);
        }
    }
}

impl Local {
    /// Checks that the profile can be forwarded (account and role, a plain name), binds the
    /// server's socket `f` in `dir` (ssso's private 0700 directory for this session) and
    /// records the session for `ssso status` (`host` as the user named it).
    pub fn new(sso: &SsoProfile, dir: &Path, host: &str) -> Result<Local> {
        host::check_profile_name(&sso.profile)?;
        let source = SsoSource::new(sso)?;
        let secret = Secret::generate()?;
        let socket = dir.join("f");
        let listener = std::os::unix::net::UnixListener::bind(&socket)
            .with_context(|| format!("cannot listen on {}", socket.display()))?;
        listener.set_nonblocking(true)?;
        let pid = std::process::id();
        let live = Live {
            profile: sso.profile.clone(),
            host: host.to_owned(),
            pid,
            started: crate::time::now(),
        };
        // Written whole before it is visible (a reader never sees half of it).
        let record = record_path(pid).ok().filter(|p| {
            let tmp = p.with_extension("tmp");
            std::fs::write(&tmp, live.to_json()).is_ok() && std::fs::rename(&tmp, p).is_ok()
        });
        Ok(Local {
            record,
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
