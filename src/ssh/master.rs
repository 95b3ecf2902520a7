//! The one SSH connection: the ControlMaster that carries both the sync and the user's
//! session, the other ssh connections ssso makes, and their private socket directory.
//!
//! ssso does not start a hidden master and then a second ssh for the session. The master *is*
//! the user's session: `ssh -o ControlMaster=yes -S CTL [user's options] DEST WRAPPER`, run in
//! the foreground with the user's terminal, so password, 2FA and host-key prompts appear once
//! and work, and tty, signals, window size, escapes, forwardings and exit status are ssh's
//! own. ssh opens its control socket right after authentication, before it opens the session
//! channel; ssso then runs the sync over the socket in parallel, while the session's wrapper
//! waits on the remote for the sync to finish. `ControlPersist=no` and a private 0700
//! directory with a short socket path (never the user's own ControlPath) mean no stale socket
//! can get in the way and no master outlives the session.

use std::ffi::{OsStr, OsString};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::ssh::args::SshArgs;
use crate::ssh::config::SshConfig;

/// Set in the environment of every ssh that ssso starts: a `ssso proxy` that sees it only
/// connects (no config lookup, no sync), which ends the recursion through the user's
/// ProxyCommand (ssso syncs by itself on every path that starts ssh).
pub const INNER_ENV: &str = "SSSO_PROXY_INNER";

/// Marks `cmd` (an ssh that ssso starts) with [`INNER_ENV`].
pub fn mark_inner(cmd: &mut Command) {
    cmd.env(INNER_ENV, "1");
}

/// A private directory for the control socket, removed on drop.
#[derive(Debug)]
pub struct PrivateDir {
    dir: tempfile::TempDir,
}

impl PrivateDir {
    /// `$XDG_RUNTIME_DIR/ssso/XXXXXX` or `/tmp/ssso-UID/XXXXXX`: short enough for the 104-byte
    /// socket path limit even with ssh's 17-character temporary suffix.
    pub fn new() -> Result<PrivateDir> {
        let base = private_base()?;
        let dir = tempfile::Builder::new()
            .prefix("")
            .rand_bytes(6)
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(&base)
            .with_context(|| format!("cannot create a directory in {}", base.display()))?;
        Ok(PrivateDir { dir })
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("c")
    }

    /// The directory itself (0700), for other sockets of the session.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// ssso's per-user directory (moved to [`crate::files`], kept here for its users).
pub use crate::files::private_base;

/// Whether the master needs ssso's `-t` so that ssh decides about the tty as it would for the
/// user's own line. ssh requests a tty for a session without a command unless `RequestTTY`
/// says no, but for a command only when asked (`RequestTTY yes`, `-t`); ssso always sends a
/// command (its wrapper), so for a login ssso turns `RequestTTY auto` into `-t`. ssh itself
/// then allocates the tty when stdin is one and, when it is not (or with `-n`), prints
/// "Pseudo-terminal will not be allocated..." exactly when, where (stderr, `-E`, `-y`) and as
/// often as it would without ssso, at the user's `LogLevel`. `cfg` is `ssh -G` of the user's
/// whole line ([`SshConfig::resolve_line`]), so it has the line's `-t`/`-T` in `requesttty`.
pub fn adds_tty(cfg: &SshConfig, login: bool) -> bool {
    login && matches!(cfg.get("requesttty"), None | Some("auto"))
}

/// Where the session's master listens.
#[derive(Debug, Clone, Copy)]
pub enum Socket<'a> {
    /// ssso's private socket: `ControlMaster=yes`, `ControlPersist=no`, `-S CTL`.
    Private(&'a Path),
    /// The user's own `-M` with a `ControlPath` (config or `-S`): the master is ssh's as the
    /// user asked for it (their path, their `ControlPersist`, `-MM`'s confirmations), and ssso
    /// syncs over that socket.
    Users(&'a Path),
}

impl Socket<'_> {
    pub fn path(&self) -> &Path {
        match self {
            Socket::Private(p) | Socket::Users(p) => p,
        }
    }
}

/// The master command: the user's ssh, as the master at `socket`, running `remote_command`.
pub fn command(
    ssh: &SshArgs,
    socket: Socket<'_>,
    add_tty: bool,
    remote_command: Option<&OsStr>,
) -> Command {
    session(ssh, Some(socket), add_tty, remote_command)
}

/// The session over the user's own connection sharing (see [`crate::ssh::control`]): the
/// user's ssh exactly as given, running `remote_command`, which joins the user's live master
/// or becomes it as the user's `ControlMaster`/`ControlPath`/`ControlPersist` say.
pub fn user_shared_command(
    ssh: &SshArgs,
    add_tty: bool,
    remote_command: Option<&OsStr>,
) -> Command {
    session(ssh, None, add_tty, remote_command)
}

fn session(
    ssh: &SshArgs,
    socket: Option<Socket<'_>>,
    add_tty: bool,
    remote_command: Option<&OsStr>,
) -> Command {
    let mut cmd = Command::new("ssh");
    mark_inner(&mut cmd);
    // The first value of an option wins in ssh, so these come before the user's own;
    // -S is a plain flag where the last one wins, so it comes after them.
    if let Some(Socket::Private(_)) = socket {
        cmd.args(["-o", "ControlMaster=yes", "-o", "ControlPersist=no"]);
    }
    if remote_command.is_some() {
        cmd.args(["-o", "RemoteCommand=none"]);
    }
    if add_tty {
        cmd.arg("-t");
    }
    cmd.args(&ssh.options);
    if let Some(Socket::Private(ctl)) = socket {
        cmd.arg("-S").arg(ctl);
    }
    cmd.arg("--");
    cmd.arg(ssh.destination.as_deref().unwrap_or(OsStr::new("")));
    if let Some(c) = remote_command {
        cmd.arg(c);
    }
    cmd
}

/// Options for a connection that only runs ssso's sync: no tty, forwardings, agent, X11,
/// LocalCommand or RemoteCommand, whatever the user's config says for the host (the first
/// value of an option wins in ssh: these come before the user's own). A `ssso proxy` in the
/// host's ProxyCommand only connects (see [`mark_inner`]).
const SYNC_ONLY: &[&str] = &[
    "-T",
    "-o",
    "ClearAllForwardings=yes",
    "-o",
    "ForwardAgent=no",
    "-o",
    "ForwardX11=no",
    "-o",
    "PermitLocalCommand=no",
    "-o",
    "RemoteCommand=none",
];

/// A background master for syncs only (ProxyCommand mode): `ssh -M -N -f -S CTL` with
/// `ControlPersist=persist`, the user's config options for the host and `extra`.
pub fn sync_master_command(ssh: &SshArgs, ctl: &Path, persist: &str, extra: &[&str]) -> Command {
    let mut cmd = Command::new("ssh");
    cmd.args(["-M", "-N", "-f", "-S"]).arg(ctl);
    cmd.args(["-o", &format!("ControlPersist={persist}")]);
    sync_connection(cmd, ssh, extra)
}

/// A master for `ssso sync --keep`: `ssh -M -N -S CTL -o ControlPersist=no`, a child that stays
/// in the foreground (ssso stops it), with the user's config options for the host and `extra`.
pub fn keep_master_command(ssh: &SshArgs, ctl: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new("ssh");
    cmd.args(["-M", "-N", "-S"]).arg(ctl);
    cmd.args(["-o", "ControlPersist=no"]);
    sync_connection(cmd, ssh, extra)
}

/// The options of a connection of its own for one of ssso's programs when the server refuses
/// it a channel on the session's (`MaxSessions 1`): no prompt (the user answered those once
/// already), no connection sharing.
pub const SECOND_CONNECTION: &[&str] = &[
    "-o",
    "BatchMode=yes",
    "-o",
    "ControlMaster=no",
    "-o",
    "ControlPath=none",
];

/// One connection that runs one of ssso's remote programs as its remote command (the caller
/// appends it): for `ssso sync` (where a master would only add processes), `doctor` and
/// `setup`.
pub fn program_command(ssh: &SshArgs, extra: &[&str]) -> Command {
    sync_connection(Command::new("ssh"), ssh, extra)
}

fn sync_connection(mut cmd: Command, ssh: &SshArgs, extra: &[&str]) -> Command {
    cmd.args(SYNC_ONLY);
    cmd.args(extra);
    cmd.args(ssh.config_options());
    cmd.arg("--");
    cmd.arg(ssh.destination.as_deref().unwrap_or_default());
    mark_inner(&mut cmd);
    cmd
}

/// Plain ssh with exactly the user's arguments (queries such as `-G`, `-V`, `-O`).
pub fn passthrough(args: &[OsString]) -> Command {
    let mut cmd = Command::new("ssh");
    cmd.args(args);
    cmd
}

/// Waits for ssh to exit, in a thread of its own, and follows its job-control stops: when ssh
/// stops (`~^Z`, or SIGTSTP/SIGTTIN/SIGTTOU), ssso stops too, so the shell sees the whole job
/// stopped and `fg` (SIGCONT to the job) resumes both; a plain parent would keep the job
/// "running" with ssh frozen.
pub fn wait_following_stops(
    child: std::process::Child,
) -> tokio::sync::oneshot::Receiver<std::io::Result<std::process::ExitStatus>> {
    use std::os::unix::process::ExitStatusExt;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let pid = child.id() as libc::pid_t;
    std::thread::spawn(move || {
        let _child = child; // std never reaps on its own: this thread does.
        let result = loop {
            let mut status = 0;
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WUNTRACED) };
            if r < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                break Err(e);
            }
            if libc::WIFSTOPPED(status) {
                // Stop the whole of ssso; SIGCONT from `fg` reaches ssh and ssso alike.
                unsafe { libc::raise(libc::SIGTSTP) };
                continue;
            }
            break Ok(std::process::ExitStatus::from_raw(status));
        };
        let _ = tx.send(result);
    });
    rx
}

/// Whether a master answers at `path` (a stale socket file refuses the connection).
pub fn socket_is_live(path: &Path) -> bool {
    std::os::unix::net::UnixStream::connect(path).is_ok()
}

/// Waits until the control socket exists; `running` says whether the master is still running.
pub async fn wait_for_socket(ctl: &Path, running: impl FnMut() -> bool) -> bool {
    poll_until(async || ctl.exists(), running).await
}

/// Polls `ready` until it says yes (`true`) or `running` says the ssh it waits for has ended
/// (`false`): every 2 ms at first (a master's socket appears a few ms after authentication),
/// then every 25 ms while a person types a password. The one waiting loop of the ssh side.
pub async fn poll_until(
    mut ready: impl AsyncFnMut() -> bool,
    mut running: impl FnMut() -> bool,
) -> bool {
    let start = Instant::now();
    loop {
        if ready().await {
            return true;
        }
        if !running() {
            return false;
        }
        let step = if start.elapsed() < Duration::from_secs(2) {
            2
        } else {
            25
        };
        tokio::time::sleep(Duration::from_millis(step)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_dir_is_short_and_private() {
        let d = PrivateDir::new().unwrap();
        let s = d.socket();
        assert!(s.as_os_str().len() + 17 < 104, "{}", s.display());
        let m = std::fs::metadata(s.parent().unwrap()).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o700);
        let parent = s.parent().unwrap().to_path_buf();
        drop(d);
        assert!(!parent.exists());
    }

    #[test]
    fn user_shared_session_is_the_users_ssh_as_given() {
        let ssh = SshArgs {
            options: vec!["-oControlMaster=auto".into(), "-C".into(), "-tt".into()],
            destination: Some("h".into()),
            ..Default::default()
        };
        let cmd = user_shared_command(&ssh, false, Some(OsStr::new("cmd")));
        let args: Vec<_> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "-o",
                "RemoteCommand=none",
                "-oControlMaster=auto",
                "-C",
                "-tt",
                "--",
                "h",
                "cmd"
            ]
        );
        let envs: Vec<_> = cmd.get_envs().collect();
        assert_eq!(envs, [(OsStr::new(INNER_ENV), Some(OsStr::new("1")))]);
    }

    #[test]
    fn master_command_puts_socket_after_user_options() {
        let ssh = SshArgs {
            options: vec!["-S".into(), "/x".into(), "-p".into(), "22".into()],
            destination: Some("h".into()),
            ..Default::default()
        };
        let args = |cmd: Command| -> Vec<String> {
            cmd.get_args()
                .map(|a| a.to_string_lossy().into_owned())
                .collect()
        };
        let cmd = command(
            &ssh,
            Socket::Private(Path::new("/c")),
            true,
            Some(OsStr::new("cmd")),
        );
        assert_eq!(
            args(cmd),
            [
                "-o",
                "ControlMaster=yes",
                "-o",
                "ControlPersist=no",
                "-o",
                "RemoteCommand=none",
                "-t",
                "-S",
                "/x",
                "-p",
                "22",
                "-S",
                "/c",
                "--",
                "h",
                "cmd"
            ]
        );
        // The user's -M: ssh's own master, nothing of ssso's but the command.
        let cmd = command(
            &ssh,
            Socket::Users(Path::new("/x")),
            false,
            Some(OsStr::new("cmd")),
        );
        assert_eq!(
            args(cmd),
            [
                "-o",
                "RemoteCommand=none",
                "-S",
                "/x",
                "-p",
                "22",
                "--",
                "h",
                "cmd"
            ]
        );
    }

    #[test]
    fn a_login_gets_ssh_s_own_tty_decision() {
        let cfg = |t: &str| SshConfig::parse(t);
        assert!(adds_tty(&cfg("requesttty auto\n"), true));
        assert!(adds_tty(&cfg(""), true));
        for rt in ["no", "yes", "force"] {
            assert!(!adds_tty(&cfg(&format!("requesttty {rt}\n")), true), "{rt}");
        }
        assert!(!adds_tty(&cfg("requesttty auto\n"), false));
    }
}
