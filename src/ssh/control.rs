//! The user's own connection sharing: `ControlMaster`, `ControlPath` and `ControlPersist` in
//! the user's ssh config or on the command line (ansible passes them as `-o`). It decides
//! whether ssso's session and sync ride on the user's master for a destination, and it owns
//! the two looks at that master's socket: the alive check and the wait for a master to answer.
//!
//! The rule is "do what ssh would do with the same arguments, and sync over that connection":
//!
//! - `ControlMaster auto` with a `ControlPath`: plain ssh joins a live master as a mux client,
//!   or becomes the master itself (a stale socket it removes first), with the user's
//!   `ControlPersist`. ssso runs the session as exactly that ssh ([`Route::Join`] or
//!   [`Route::Create`]) and syncs over the socket as soon as a master answers there.
//! - `ControlMaster no` with a `ControlPath`: plain ssh joins a live master, else connects on
//!   its own. ssso joins a live master too; without one it starts its own private master.
//! - no `ControlPath`, or `ControlMaster yes`/`ask`/`autoask`, or a path where ssh could not
//!   put a socket (not a socket already there, a missing directory, a path too long): ssso's
//!   own private master, as before ([`Route::Own`]).
//!
//! ssso never sends `-O exit` or `-O stop` to the user's master and never changes its
//! `ControlPersist`: a master it joined is left as it was found, and a master that the
//! session's ssh created lives on exactly as long as the user's configuration says.
//! What a mux client cannot change (forwardings, `SetEnv`, the agent) belongs to the master,
//! as with plain ssh over the same master.

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::ssh::config::SshConfig;

/// How the user's configuration shares connections for one destination (`ssh -G`'s
/// `controlmaster` and `controlpath`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sharing {
    /// No `ControlPath`, or a `ControlMaster` that ssso leaves alone (`yes`, `ask`, `autoask`).
    Off,
    /// `ControlMaster no`: join a live master at this path, never become one.
    JoinOnly(PathBuf),
    /// `ControlMaster auto`: join a live master at this path, or become it.
    Auto(PathBuf),
}

impl Sharing {
    /// Reads `controlmaster` and `controlpath` (already expanded by `ssh -G`).
    pub fn from_config(cfg: &SshConfig) -> Sharing {
        let Some(path) = cfg
            .get("controlpath")
            .filter(|p| !p.is_empty() && *p != "none")
        else {
            return Sharing::Off;
        };
        let path = PathBuf::from(path);
        match cfg.get("controlmaster") {
            None | Some("false") | Some("no") => Sharing::JoinOnly(path),
            Some("auto") => Sharing::Auto(path),
            // `yes`/`true` and `ask` always make a new master (a live socket makes ssh give up
            // sharing); `autoask` asks for confirmation on every use. ssso's own master then.
            Some(_) => Sharing::Off,
        }
    }

    pub fn path(&self) -> Option<&Path> {
        match self {
            Sharing::Off => None,
            Sharing::JoinOnly(p) | Sharing::Auto(p) => Some(p),
        }
    }
}

/// What is at the control path now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Socket {
    /// Nothing (ssh can create it if the directory allows).
    Missing,
    /// A master answers the mux protocol's alive check there.
    Live,
    /// A socket that no master answers (a master that died): ssh's `auto` removes it.
    Dead,
    /// Something else (a file, a directory), or a directory ssh cannot create a socket in.
    Unusable,
}

/// How ssso's session and sync reach the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// ssso's own master in its private directory, gone with the session.
    Own,
    /// The session's ssh joins the user's live master at this path; the sync goes over it.
    Join(PathBuf),
    /// The session's ssh becomes the user's master at this path (the user's `ControlPersist`
    /// applies); the sync goes over it once it answers.
    Create(PathBuf),
}

/// The route for `sharing` given what is at its path. Pure: see [`choose`] for the looks.
pub fn route(sharing: &Sharing, socket: Socket) -> Route {
    match (sharing, socket) {
        (Sharing::Off, _) => Route::Own,
        (Sharing::JoinOnly(p) | Sharing::Auto(p), Socket::Live) => Route::Join(p.clone()),
        (Sharing::Auto(p), Socket::Missing | Socket::Dead) => Route::Create(p.clone()),
        (Sharing::JoinOnly(_), _) | (Sharing::Auto(_), Socket::Unusable) => Route::Own,
    }
}

/// The longest control path ssh can bind: `sun_path` is 108 bytes on Linux and 104 on macOS,
/// and ssh first binds `PATH.` plus 16 random characters, then links it to PATH.
const MAX_PATH: usize = 104 - 18;

/// Looks at `path` (alive check over the mux protocol, bounded by `timeout`) and chooses.
pub async fn choose(sharing: &Sharing, timeout: Duration) -> Route {
    let socket = match sharing.path() {
        None => Socket::Unusable,
        Some(p) => probe(p, timeout).await,
    };
    route(sharing, socket)
}

/// What is at `path`: a live master, a dead socket, nothing, or something ssh cannot use.
pub async fn probe(path: &Path, timeout: Duration) -> Socket {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            if alive(path, timeout).await {
                Socket::Live
            } else {
                Socket::Dead
            }
        }
        Ok(_) => Socket::Unusable,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let dir_ok = path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .map_or(Path::new(".").is_dir(), Path::is_dir);
            if dir_ok && path.as_os_str().len() <= MAX_PATH {
                Socket::Missing
            } else {
                Socket::Unusable
            }
        }
        Err(_) => Socket::Unusable,
    }
}

/// The mux protocol's alive check (what `ssh -O check` sends), in-process: about a
/// millisecond where `ssh -O check` costs a whole ssh start (reading the config included).
pub async fn alive(path: &Path, timeout: Duration) -> bool {
    let session = openssh::Session::resume_mux(path.to_path_buf().into_boxed_path(), None);
    let ok = matches!(
        tokio::time::timeout(timeout, session.check()).await,
        Ok(Ok(()))
    );
    // Dropping a Session would ask the master to exit: it is the user's, leave it.
    let _ = session.detach();
    ok
}

/// Waits until a master answers at `path` (the session's ssh joined or created it); `running`
/// says whether that ssh still runs. `false` when it ended first.
pub async fn wait_live(path: &Path, running: impl FnMut() -> bool) -> bool {
    crate::ssh::master::poll_until(
        async || path.exists() && alive(path, Duration::from_secs(2)).await,
        running,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sharing(text: &str) -> Sharing {
        Sharing::from_config(&SshConfig::parse(text))
    }

    #[test]
    fn reads_ssh_g() {
        let p = PathBuf::from("/h/.ssh/cm-abc");
        assert_eq!(sharing("controlmaster false\n"), Sharing::Off);
        assert_eq!(
            sharing("controlmaster auto\ncontrolpath /h/.ssh/cm-abc\n"),
            Sharing::Auto(p.clone())
        );
        assert_eq!(
            sharing("controlmaster false\ncontrolpath /h/.ssh/cm-abc\n"),
            Sharing::JoinOnly(p.clone())
        );
        assert_eq!(
            sharing("controlpath /h/.ssh/cm-abc\n"),
            Sharing::JoinOnly(p)
        );
        for m in ["true", "ask", "autoask"] {
            let s = sharing(&format!("controlmaster {m}\ncontrolpath /h/x\n"));
            assert_eq!(s, Sharing::Off, "{m}");
        }
        assert_eq!(
            sharing("controlmaster auto\ncontrolpath none\n"),
            Sharing::Off
        );
    }

    #[test]
    fn routes() {
        let p = PathBuf::from("/s");
        let auto = Sharing::Auto(p.clone());
        let join_only = Sharing::JoinOnly(p.clone());
        assert_eq!(route(&auto, Socket::Live), Route::Join(p.clone()));
        assert_eq!(route(&auto, Socket::Missing), Route::Create(p.clone()));
        assert_eq!(route(&auto, Socket::Dead), Route::Create(p.clone()));
        assert_eq!(route(&auto, Socket::Unusable), Route::Own);
        assert_eq!(route(&join_only, Socket::Live), Route::Join(p.clone()));
        for s in [Socket::Missing, Socket::Dead, Socket::Unusable] {
            assert_eq!(route(&join_only, s), Route::Own, "{s:?}");
            assert_eq!(route(&Sharing::Off, s), Route::Own, "{s:?}");
        }
        assert_eq!(route(&Sharing::Off, Socket::Live), Route::Own);
    }

    #[tokio::test]
    async fn probes_what_is_at_the_path() {
        let d = tempfile::tempdir().unwrap();
        let t = Duration::from_secs(1);
        assert_eq!(probe(&d.path().join("c"), t).await, Socket::Missing);
        assert_eq!(probe(&d.path().join("no/c"), t).await, Socket::Unusable);
        let long = d.path().join("x".repeat(MAX_PATH));
        assert_eq!(probe(&long, t).await, Socket::Unusable);
        std::fs::write(d.path().join("f"), b"").unwrap();
        assert_eq!(probe(&d.path().join("f"), t).await, Socket::Unusable);
        // A socket nobody listens on any more: a master that died.
        let s = d.path().join("s");
        drop(std::os::unix::net::UnixListener::bind(&s).unwrap());
        assert_eq!(probe(&s, t).await, Socket::Dead);
        // A listener that never answers the mux hello is not a master either.
        let l = d.path().join("l");
        let _keep = std::os::unix::net::UnixListener::bind(&l).unwrap();
        assert_eq!(probe(&l, Duration::from_millis(200)).await, Socket::Dead);
    }
}
