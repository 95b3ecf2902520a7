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

use std::ffi::OsString;
use std::io::IsTerminal;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::signal::unix::{SignalKind, signal};

use crate::aws::config::SsoProfile;
use crate::aws::token::Token;
use crate::session::{self, SYNC_TIMEOUT, Settings, keep, stamp};
use crate::ssh::args::SshArgs;
use crate::ssh::config::SshConfig;
use crate::ssh::control::{self, Route};
use crate::ssh::master::{self, PrivateDir};
use crate::ssh::remote::{self, Run};
use crate::sync;
use crate::ui;

pub fn run(opts: &Settings, ssh: SshArgs) -> Result<u8> {
    if ssh.flags.query {
        // -G, -V, -Q, -O: ssh answers by itself; nothing to sync.
        let err = master::passthrough(&ssh.to_args()).exec();
        return Err(err).context("could not run ssh; is OpenSSH installed?");
    }
    if ssh.destination.is_none() {
        bail!(
            "no DESTINATION given (usage: ssso [OPTIONS] [SSH OPTIONS] DESTINATION [COMMAND]; see ssso --help)"
        );
    }

    let cfg = match SshConfig::resolve_with(&ssh, &ssh.sharing_options()) {
        Ok(cfg) => cfg,
        Err(e) => {
            ui::error(&e);
            return Ok(255);
        }
    };
    let (sso, tok) = session::fresh_token(opts, &cfg, false)?;
    let name = &sso.profile;

    // What the session runs on the remote.
    let user_command = match ssh.command_line() {
        Some(c) => Some(c),
        None => cfg
            .get("remotecommand")
            .filter(|c| !c.eq_ignore_ascii_case("none"))
            .map(OsString::from),
    };
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
        ssh.command_line()
    };
    let interactive = wrap && user_command.is_none();
    let stdin_tty = std::io::stdin().is_terminal();
    let add_tty = master::wants_tty(&ssh, &cfg, interactive, stdin_tty);
    if interactive && !stdin_tty && ui::level() > 0 && !ssh.flags.no_tty {
        // What plain ssh says in this case, since ssso's wrapper is a command to ssh.
        eprintln!("Pseudo-terminal will not be allocated because stdin is not a terminal.");
    }

    let plan = sync::Plan::new(&sso, &tok, &opts.sync, nonce.as_deref())?;

    let (dir, ctl, mut cmd) = match &route {
        Route::Own => {
            let dir = PrivateDir::new()?;
            let ctl = dir.socket();
            let cmd = master::command(&ssh, &ctl, add_tty, remote_command.as_deref());
            ui::debug(format_args!(
                "starting ssh with control socket {}",
                ctl.display()
            ));
            (Some(dir), ctl, cmd)
        }
        Route::Join(ctl) | Route::Create(ctl) => {
            let cmd = master::user_shared_command(&ssh, add_tty, remote_command.as_deref());
            ui::debug(format_args!(
                "{} your ControlMaster {}; the sync and the session go over it",
                if matches!(route, Route::Join(_)) {
                    "joining"
                } else {
                    "ssh starts"
                },
                ctl.display()
            ));
            (None, ctl.clone(), cmd)
        }
    };
    let users_master = dir.is_none();
    let joined = matches!(route, Route::Join(_));
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
            let mut result = sync::run(&ctl, &plan, SYNC_TIMEOUT).await;
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
            Some(result)
        };
        tokio::pin!(sync);
        // Once the session's own sync is done: keep the remote token fresh while it runs.
        let keep = keep::keep_fresh(
            keep::Session {
                ctl: &ctl,
                sso: &sso,
                sync: &opts.sync,
                min_valid: opts.freshness.min_valid,
                dest: &dest,
            },
            tok.clone(),
        );
        tokio::pin!(keep);
        let mut sync_done = false;
        let status = loop {
            tokio::select! {
                r = &mut sync, if !sync_done => { sync_done = true; report(&r, &dest, &sso, &tok); }
                () = &mut keep, if sync_done => {}
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
                report(&sync.await, &dest, &sso, &tok);
            } else if let Ok(r) = tokio::time::timeout(Duration::from_secs(5), &mut sync).await {
                // The connection died under the sync: its end comes right after ssh's, and
                // the user should hear whether the token got there.
                report(&r, &dest, &sso, &tok);
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

/// Tells the user what the session's own sync did, when it ran.
fn report(result: &Option<Result<sync::Report>>, dest: &str, sso: &SsoProfile, local: &Token) {
    if let Some(result) = result {
        session::report_sync(result, dest, sso, local);
    }
}

fn forward(pid: Option<u32>, sig: i32) {
    if let Some(p) = pid {
        unsafe { libc::kill(p as i32, sig) };
    }
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
