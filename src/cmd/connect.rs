//! The connect path, `ssso [OPTIONS] DESTINATION [COMMAND]`: a fresh token, one connection,
//! the sync and the session over it.
//!
//! Order of events: resolve the host's ssh config (`ssh -G`) and the AWS profile; make sure the
//! local token is fresh (no process at all when it is); start the master, which is also the
//! user's session (see [`crate::ssh::master`]), or, when the user's own configuration shares
//! connections for the host, the user's ssh as given, which joins or becomes the user's master
//! (see [`crate::ssh::control`]); as soon as a master answers on the control socket, run the
//! sync over it while the session's wrapper waits on the remote for the sync to release it;
//! then wait for ssh and exit with its status. ssso stays in the foreground only to forward
//! termination signals and report the sync; stdin, stdout, stderr and the terminal are ssh's.
//!
//! In forward mode (`--forward`, or `SetEnv SSSO_MODE=forward` for the host) no token is sent:
//! the credential server of [`session::forward`] runs beside the session, and the host is set
//! up over the master instead of the sync (see [`crate::forward`]); the token stays fresh
//! here, refreshed when a fetch needs it, and nothing is pushed.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::signal::unix::{SignalKind, signal};

use crate::aws::config::SsoProfile;
use crate::session::{self, SYNC_TIMEOUT, keep, stamp};
use crate::ssh::args::SshArgs;
use crate::ssh::config::{SshConfig, Verdict};
use crate::ssh::control::{self, Route};
use crate::ssh::master::{self, PrivateDir, Socket};
use crate::ssh::mux;
use crate::ssh::remote::{self, Run};
use crate::ssh::runner;
use crate::sync;
use crate::ui;

/// The connect path's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub session: session::Settings,
    /// `--forward`: least-privilege mode.
    pub forward: bool,
}

/// The value of `SetEnv SSSO_MODE=...` that makes a host use forward mode without the option.
pub const MODE_FORWARD: &str = "forward";

/// Whether the destination also names one of ssso's subcommands, written after options
/// (`ssso --profile dev status`), where the user may have meant the subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    Host,
    MaybeSubcommand,
}

pub fn run(settings: &Settings, ssh: SshArgs, destination: Destination) -> Result<u8> {
    let opts = &settings.session;
    if ssh.flags.query {
        // -G, -V, -Q, -O (-Z): ssh answers by itself; nothing to sync.
        let err = master::passthrough(&ssh.to_args()).exec();
        return Err(err).context("could not run ssh; is OpenSSH installed?");
    }
    let Some(dest) = ssh.destination.clone() else {
        bail!("no DESTINATION given (usage: ssso [OPTIONS] [SSH OPTIONS] DESTINATION [COMMAND])");
    };

    // ssh's own reading of the whole line, before anything else happens.
    let cfg = match SshConfig::resolve_line(&ssh)? {
        Verdict::Runs(cfg) => cfg,
        Verdict::Refused { status, stderr } => {
            // ssh refuses this line before connecting (`-f` without a command, RemoteCommand
            // and a command, a bad option value...): plain ssh says why, in its own words,
            // where the user's -q, -E, -y and LogLevel send them, with its own status.
            ui::debug(format_args!("ssh -G refused the line ({status}): {stderr}"));
            let err = master::passthrough(&ssh.to_args()).exec();
            return Err(err).context("could not run ssh; is OpenSSH installed?");
        }
    };
    if destination == Destination::MaybeSubcommand {
        let name = dest.to_string_lossy();
        if !cfg.configures(&name) && !resolves(&name, cfg.get("port")) {
            ui::error(&anyhow::anyhow!(
                "`{name}` is a subcommand of ssso, and your ssh config has no host `{name}` \
                 (no HostName, ProxyCommand or ProxyJump) nor does the name resolve: for the \
                 subcommand, put it first (`ssso {name} [OPTIONS]`); for a host called \
                 {name}, write `ssso [OPTIONS] -- {name}`"
            ));
            return Ok(crate::EXIT_USAGE);
        }
    }

    let (sso, tok) = session::fresh_token(opts, &cfg, false, Some(&ssh))?;
    let name = &sso.profile;

    // What the session runs on the remote. An empty command line is no command, as for ssh.
    let user_command = match ssh.command_line() {
        Some(c) => Some(c),
        None => cfg
            .get("remotecommand")
            .filter(|c| !c.eq_ignore_ascii_case("none"))
            .map(OsString::from),
    };
    // `ssh -G` of the whole line has -N, -W, -s and SessionType in `sessiontype`.
    let wrap = !(ssh.flags.no_shell
        || ssh.flags.stdio_forward
        || ssh.flags.subsystem
        || matches!(cfg.get("sessiontype"), Some("none" | "subsystem")));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // The user's own ControlMaster when their configuration shares connections for this
    // destination (see `ssh::control`), else ssso's own in a private directory.
    let route = runtime.block_on(control::choose(
        &control::Sharing::from_config(&cfg),
        PROBE_TIMEOUT,
    ));
    // Over a master of the user's, a sync of exactly this token and these sections that went
    // over the same master less than a minute ago is not repeated, and then the session does
    // not wait: ansible's tasks, or a loop of `ssso HOST cmd`, cost what ssh over the master
    // costs plus ssso's own start.
    let digest = stamp::digest(&sync::Plan::new(&sso, &tok, &opts.sync, None)?);
    let synced_recently = match &route {
        Route::Join(ctl) => {
            stamp::for_users_master(ctl).is_some_and(|p| stamp::current_at(&p, &digest))
        }
        Route::Own | Route::Create(_) => false,
    };
    if synced_recently {
        ui::debug(format_args!(
            "this token was synced over this master less than {}s ago; not syncing again",
            stamp::FRESH.as_secs()
        ));
    }
    let nonce = (wrap && !synced_recently).then(nonce);
    let remote_command: Option<OsString> = if wrap {
        let run = match &user_command {
            None => Run::LoginShell,
            Some(c) => Run::Command(c.as_bytes().to_vec()),
        };
        let script = remote::session_script(name, nonce.as_deref(), &run);
        Some(remote::wrap(&script).into())
    } else {
        // The words as given (a subsystem's name, or nothing): ssh joins them itself.
        (!ssh.command.is_empty()).then(|| {
            let mut line = OsString::new();
            for (n, w) in ssh.command.iter().enumerate() {
                if n > 0 {
                    line.push(" ");
                }
                line.push(w);
            }
            line
        })
    };
    let add_tty = master::adds_tty(&cfg, wrap && user_command.is_none());

    let plan = sync::Plan::new(&sso, &tok, &opts.sync, nonce.as_deref())?.for_host(
        &ssh.destination
            .as_deref()
            .unwrap_or_default()
            .to_string_lossy(),
    );

    let dir = PrivateDir::new()?;
    let forward_mode = settings.forward || cfg.setenv("SSSO_MODE").as_deref() == Some(MODE_FORWARD);
    let fwd = if forward_mode {
        if ssh.flags.fork {
            bail!(
                "--forward keeps ssso in the foreground to serve the host's credentials: drop -f (-N gives a session without a shell)"
            );
        }
        let host = ssh
            .destination
            .as_deref()
            .unwrap_or_default()
            .to_string_lossy();
        Some(session::forward::Local::new(&sso, dir.path(), &host)?)
    } else {
        None
    };
    // The user's -M with a ControlPath: the master is theirs, where they asked for it, and the
    // sync goes over it. A dead socket left at the user's path would make ssh -M run without a
    // master (ssh: "already exists, disabling multiplexing") and the sync find nobody: then
    // the route below decides.
    let users_path = (ssh.flags.master > 0)
        .then(|| cfg.get("controlpath"))
        .flatten()
        .filter(|p| !p.eq_ignore_ascii_case("none"))
        .map(PathBuf::from)
        .filter(|p| !p.exists() || master::socket_is_live(p));
    // Forward mode always has a master of its own: its remote forward must end with the
    // session, not live on in a master of the user's.
    let route = if fwd.is_some() { Route::Own } else { route };
    // The warm command over a live master of the user's: the session opened in-process, as
    // ssh's mux client would open it (see `ssh::mux`), without starting ssh at all.
    if let (Route::Join(ctl), None, true, false, Some(command)) = (
        &route,
        &users_path,
        // ssh's own log (-E, -y) and its checks of them ("Can't specify both -y and -E") are
        // ssh's: the session's ssh runs then.
        synced_recently
            && wrap
            && fwd.is_none()
            && user_command.is_some()
            && ssh.flags.master == 0
            && !ssh.flags.logging,
        add_tty,
        &remote_command,
    ) {
        // The environment the session's ssh would get: ssso's own with INNER_ENV set, in the
        // order std gives a child whose environment was changed (sorted by name).
        let mut environ: std::collections::BTreeMap<OsString, OsString> =
            std::env::vars_os().collect();
        environ.insert(master::INNER_ENV.into(), "1".into());
        if let Some(env) = mux::Eligible::check(
            &cfg,
            environ.iter().map(|(k, v)| (k.as_os_str(), v.as_os_str())),
        ) {
            let outcome = runtime.block_on(async {
                let mut term = signal(SignalKind::terminate())?;
                let mut hup = signal(SignalKind::hangup())?;
                let mut int = signal(SignalKind::interrupt())?;
                let mut quit = signal(SignalKind::quit())?;
                let stop = async move {
                    tokio::select! {
                        _ = term.recv() => libc::SIGTERM,
                        _ = hup.recv() => libc::SIGHUP,
                        _ = int.recv() => libc::SIGINT,
                        _ = quit.recv() => libc::SIGQUIT,
                    }
                };
                anyhow::Ok(mux::run(ctl, command.as_bytes(), &env, stop).await)
            })?;
            match outcome {
                mux::Outcome::Status(s) => {
                    ui::debug(format_args!(
                        "the session ran in-process over your ControlMaster {} (no ssh started)",
                        ctl.display()
                    ));
                    return Ok(s);
                }
                mux::Outcome::NotOpened(why) => ui::debug(format_args!(
                    "{why}; running ssh, which tries the master itself"
                )),
            }
        }
    }
    let private = dir.socket();
    let (ctl, mut cmd) = match (&users_path, &route) {
        (Some(p), _) => (
            p.clone(),
            master::command(&ssh, Socket::Users(p), add_tty, remote_command.as_deref()),
        ),
        (None, Route::Own) => {
            ui::debug(format_args!(
                "starting ssh with control socket {}",
                private.display()
            ));
            // A -M here would only make ssh ask for confirmations (-MM): left out (plain ssh
            // has no master without a path either).
            let line = ssh.without(b'M');
            let cmd = master::command(
                &line,
                Socket::Private(&private),
                add_tty,
                remote_command.as_deref(),
            );
            (private.clone(), cmd)
        }
        (None, Route::Join(ctl) | Route::Create(ctl)) => {
            ui::debug(format_args!(
                "{} your ControlMaster {}; the sync and the session go over it",
                if matches!(route, Route::Join(_)) {
                    "joining"
                } else {
                    "ssh starts"
                },
                ctl.display()
            ));
            let cmd = master::user_shared_command(&ssh, add_tty, remote_command.as_deref());
            (ctl.clone(), cmd)
        }
    };
    let users_master = users_path.is_some() || !matches!(route, Route::Own);
    let joined = users_path.is_none() && matches!(route, Route::Join(_));
    let dest = ssh
        .destination
        .as_deref()
        .unwrap_or_default()
        .to_string_lossy();
    let status = runtime.block_on(async {
        let child = cmd
            .spawn()
            .context("could not run ssh; is OpenSSH installed?")?;
        let pid = Some(child.id());
        let mut exited = master::wait_following_stops(child);
        let mut term = signal(SignalKind::terminate())?;
        let mut hup = signal(SignalKind::hangup())?;
        // Ctrl-C and Ctrl-\ reach ssh from the terminal; ssso only must not die of them.
        let mut int = signal(SignalKind::interrupt())?;
        let mut quit = signal(SignalKind::quit())?;

        let sync = async {
            if synced_recently {
                return None;
            }
            let running = || pid.is_some_and(|p| unsafe { libc::kill(p as i32, 0) } == 0);
            let up = if joined {
                // It answered a moment ago: no second look.
                true
            } else if users_master {
                // A master of the user's answers there (the session's ssh became it,
                // removing a dead socket first).
                control::wait_live(&ctl, running).await
            } else {
                master::wait_for_socket(&ctl, running).await
            };
            if !up {
                return None;
            }
            if let Some(f) = &fwd {
                return Some(Setup::Forward(
                    f.start_on_host(&ctl, nonce.as_deref(), SYNC_TIMEOUT).await,
                ));
            }
            let mut result = sync::run(&ctl, &plan, SYNC_TIMEOUT).await;
            if let Err(e) = &result
                && runner::is_no_channel(e)
                && running()
            {
                // The server refused a second session on the connection (`MaxSessions 1`):
                // the sync goes over a connection of its own, which never asks for anything
                // (BatchMode), and releases the waiting session when it is done.
                ui::debug(format_args!(
                    "{e:#}; the server allows one session per connection (MaxSessions 1?): syncing over a second connection"
                ));
                let cmd = master::program_command(&ssh, master::SECOND_CONNECTION);
                result = sync::run_command(cmd, &plan, SYNC_TIMEOUT).await;
            }
            if joined
                && result.is_err()
                && !control::alive(&ctl, PROBE_TIMEOUT).await
                && control::wait_live(&ctl, running).await
            {
                // The master that answered went away before the sync; the session's ssh
                // (ControlMaster auto) became the new one.
                result = sync::run(&ctl, &plan, SYNC_TIMEOUT).await;
            }
            if users_master
                && result.as_ref().is_ok_and(stamp::complete)
                && let Some(path) = stamp::for_users_master(&ctl)
            {
                stamp::record_at(&path, &digest);
            }
            Some(Setup::Sync(result))
        };
        tokio::pin!(sync);
        // Forward mode: the credential server, for as long as the session runs.
        let serving = async {
            match &fwd {
                Some(f) => f.serve().await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(serving);
        // Once the session's own sync is done: keep the remote token fresh while it runs.
        let keep = keep::keep_fresh(
            keep::Session {
                ctl: &ctl,
                ssh: &ssh,
                sso: &sso,
                sync: &opts.sync,
                schedule: crate::aws::schedule::Schedule::new(opts.freshness.refresh_before),
                dest: &dest,
            },
            tok.clone(),
        );
        tokio::pin!(keep);
        let mut sync_done = false;
        let status = loop {
            tokio::select! {
                r = &mut sync, if !sync_done => { sync_done = true; report(&r, &dest, &sso); }
                () = &mut keep, if sync_done && fwd.is_none() => {}
                () = &mut serving => {}
                s = &mut exited => break s.context("lost track of ssh")??,
                _ = term.recv() => forward(pid, libc::SIGTERM),
                _ = hup.recv() => forward(pid, libc::SIGHUP),
                _ = int.recv() => {},
                _ = quit.recv() => {},
            }
        };
        if !sync_done {
            if status.success() {
                // `ssh -f`: the master went to the background; finish the sync against it.
                report(&sync.await, &dest, &sso);
            } else if let Ok(r) = tokio::time::timeout(Duration::from_secs(5), &mut sync).await {
                // The connection died under the sync: its end comes right after ssh's, and
                // the user should hear whether the token got there.
                report(&r, &dest, &sso);
            }
        }
        anyhow::Ok(status)
    })?;
    drop(dir);
    Ok(match (status.code(), status.signal()) {
        (Some(c), _) => c as u8,
        (None, Some(sig)) => 128u8.saturating_add(sig as u8),
        _ => 255,
    })
}

/// Bound on the alive check of the user's own master.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// What ran once the connection was up: the sync, or the forward's setup.
enum Setup {
    Sync(Result<sync::Report>),
    Forward(Result<crate::forward::host::Started>),
}

/// Tells the user what the session's own sync (or forward setup) did, when it ran.
fn report(result: &Option<Setup>, dest: &str, sso: &SsoProfile) {
    match result {
        Some(Setup::Sync(result)) => session::report_sync(result, dest, sso),
        Some(Setup::Forward(result)) => session::forward::report(result, dest, &sso.profile),
        None => {}
    }
}

fn forward(pid: Option<u32>, sig: i32) {
    if let Some(p) = pid {
        unsafe { libc::kill(p as i32, sig) };
    }
}

/// Whether `name` resolves as a host name (for a destination that is also a subcommand's name).
fn resolves(name: &str, port: Option<&str>) -> bool {
    use std::net::ToSocketAddrs;
    let port = port.and_then(|p| p.parse::<u16>().ok()).unwrap_or(22);
    (name, port)
        .to_socket_addrs()
        .is_ok_and(|mut a| a.next().is_some())
}

/// 16 random hex characters, naming the marker file the session waits for.
fn nonce() -> String {
    let mut buf = [0u8; 8];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut buf);
    }
    if buf == [0; 8] {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        buf = (t.as_nanos() as u64 ^ u64::from(std::process::id())).to_le_bytes();
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
