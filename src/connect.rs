//! The connect path, `ssso [OPTIONS] DESTINATION [COMMAND]`: a fresh token, one connection,
//! the sync and the session over it.
//!
//! Order of events: resolve the host's ssh config (`ssh -G`) and the AWS profile; make sure the
//! local token is fresh (no process at all when it is); start the master, which is also the
//! user's session (see [`crate::master`]); as soon as its control socket appears, run the sync
//! over it while the session's wrapper waits on the remote for the sync to release it; then
//! wait for ssh and exit with its status. ssso stays in the foreground only to forward
//! termination signals and report the sync; stdin, stdout, stderr and the terminal are ssh's.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::signal::unix::{SignalKind, signal};

use crate::awsconfig;
use crate::cli::ConnectOpts;
use crate::master::{self, PrivateDir};
use crate::remote::{self, Run};
use crate::sshargs::SshArgs;
use crate::sync::{self, ConfigOutcome, TokenOutcome};
use crate::{login, profile, refresh, token, ui};

/// How long the sync may take once the connection is up.
pub(crate) const SYNC_TIMEOUT: Duration = Duration::from_secs(30);

pub fn run(opts: &ConnectOpts, ssh: SshArgs) -> Result<u8> {
    ui::set_verbosity(ssh.flags.quiet, ssh.flags.verbose > 0);
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

    let cfg = match master::resolve(&ssh) {
        Ok(cfg) => cfg,
        Err(e) => {
            ui::error(&e);
            return Ok(255);
        }
    };
    let (name, sso, tok) = fresh_token(opts, &cfg, false)?;
    let min_valid = token::parse_duration(&opts.profile.min_valid)?;

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
    let nonce = wrap.then(nonce);
    let remote_command: Option<OsString> = if wrap {
        let run = match &user_command {
            None => Run::LoginShell,
            Some(c) => Run::Command(
                c.to_str()
                    .context("the remote command is not valid UTF-8")?
                    .to_owned(),
            ),
        };
        let script = remote::session_script(&name, nonce.as_deref(), &run);
        if !remote::can_wrap(&script) {
            bail!(
                "the remote command has control characters 0x00-0x04, which ssso cannot pass through the remote shell"
            );
        }
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

    let dir = PrivateDir::new()?;
    let fwd = if opts.forward {
        if ssh.flags.fork {
            bail!(
                "--forward keeps ssso in the foreground to serve the host's credentials: drop -f (-N gives a session without a shell)"
            );
        }
        Some(crate::forward::local::Local::new(&sso, dir.path())?)
    } else {
        None
    };
    let ctl = dir.socket();
    let mut cmd = master::command(&ssh, &ctl, add_tty, remote_command.as_deref());
    crate::proxy::mark_inner(&mut cmd);
    ui::debug(format_args!(
        "starting ssh with control socket {}",
        ctl.display()
    ));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
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
            let up = master::wait_for_socket(&ctl, || {
                pid.is_some_and(|p| unsafe { libc::kill(p as i32, 0) } == 0)
            })
            .await;
            if !up {
                return None;
            }
            Some(match &fwd {
                None => Setup::Sync(sync::run(&ctl, &plan, SYNC_TIMEOUT).await),
                Some(f) => {
                    Setup::Forward(f.start_on_host(&ctl, nonce.as_deref(), SYNC_TIMEOUT).await)
                }
            })
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
        let keep = refresh::keep_fresh(
            refresh::Session {
                ctl: &ctl,
                sso: &sso,
                sync: &opts.sync,
                min_valid,
                dest: &dest,
            },
            tok.clone(),
        );
        tokio::pin!(keep);
        let mut sync_done = false;
        let status = loop {
            tokio::select! {
                r = &mut sync, if !sync_done => { sync_done = true; report(&r, &dest, &sso, &tok); }
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

/// The steps before any connection, shared by the connect path and ProxyCommand mode: the
/// profile (from the options, the environment or the host's `SetEnv AWS_PROFILE` in `cfg`),
/// its SSO section, and a token with more than `--min-valid` left, logging in if needed
/// (`login_stdout_to_stderr`: see [`login::ensure_fresh`]).
pub(crate) fn fresh_token(
    opts: &ConnectOpts,
    cfg: &master::SshConfig,
    login_stdout_to_stderr: bool,
) -> Result<(String, awsconfig::SsoProfile, token::Token)> {
    let (_, sso) = profile::resolve(opts.profile.profile.as_deref(), || {
        cfg.setenv("AWS_PROFILE")
    })?;
    // awsconfig accepts only the SDKs' identifier characters, so the name needs no more
    // checking before it goes into the remote script.
    let name = sso.profile.clone();
    let min_valid = token::parse_duration(&opts.profile.min_valid)?;
    let tok = login::ensure_fresh(
        &sso,
        min_valid,
        opts.login.no_login,
        &opts.login.login_arg,
        login_stdout_to_stderr,
    )?;
    Ok((name, sso, tok))
}

fn forward(pid: Option<u32>, sig: i32) {
    if let Some(p) = pid {
        unsafe { libc::kill(p as i32, sig) };
    }
}

/// What ran once the connection was up: the sync, or the forward's setup.
enum Setup {
    Sync(Result<sync::Report>),
    Forward(Result<crate::forward::host::Started>),
}

/// Tells the user what the sync did: nothing when all is well, warnings otherwise.
fn report(result: &Option<Setup>, dest: &str, sso: &awsconfig::SsoProfile, local: &token::Token) {
    match result {
        Some(Setup::Sync(result)) => report_sync(result, dest, sso, local),
        Some(Setup::Forward(result)) => crate::forward::local::report(result, dest, &sso.profile),
        None => {}
    }
}

/// Tells the user what one finished sync did (see [`report`]).
pub(crate) fn report_sync(
    result: &Result<sync::Report>,
    dest: &str,
    sso: &awsconfig::SsoProfile,
    local: &token::Token,
) {
    match result {
        Err(e) => ui::warn(format_args!(
            "could not sync the AWS token to {dest}: {e:#}; AWS commands there will not see your login"
        )),
        Ok(r) => {
            match &r.token {
                TokenOutcome::Written => ui::debug("token written on the remote"),
                TokenOutcome::Unchanged => ui::debug("remote token already current"),
                TokenOutcome::RemoteNewer(bytes) => keep_remote_token(bytes, sso, local),
            }
            match &r.config {
                ConfigOutcome::Written => ui::debug("remote ~/.aws/config updated"),
                ConfigOutcome::Unchanged | ConfigOutcome::NotRequested => {}
                ConfigOutcome::Skipped(why) => ui::warn(format_args!("{dest}: {why}")),
            }
            if r.aws_missing {
                ui::warn(format_args!(
                    "{dest} has no `aws` on its PATH; install AWS CLI v2 there: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html"
                ));
            }
        }
    }
}

/// The remote had a newer token for the same session (its botocore refreshed it): keep it
/// here too, so the next sync does not push the older one and a rotated refresh token is not lost.
pub(crate) fn keep_remote_token(bytes: &[u8], sso: &awsconfig::SsoProfile, local: &token::Token) {
    let store = || -> Result<bool> {
        let remote = token::parse(bytes).context("the remote's newer token is not valid")?;
        if remote.start_url != local.start_url {
            bail!("the remote's token is for another start URL; left it alone");
        }
        let path = token::cache_dir()?.join(&sso.cache_file_name);
        token::write_if_newer(&path, bytes)
    };
    match store() {
        Ok(true) => ui::debug("the remote's token was newer: kept it and stored it locally"),
        Ok(false) => {}
        Err(e) => ui::warn(format_args!("{e:#}")),
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
