//! `ssso sync --keep [SSH OPTIONS] HOST...`: the one refresher for a whole fleet. It stays in
//! the foreground holding one connection per host (an ssh master of its own, `BatchMode=yes`,
//! in its own process group), and every [`POLL`] the [`Keeper`] decides, for each connected
//! host, what the held session's keeper decides for one (see [`crate::session::keeper`]): the
//! local token is refreshed once for all, ahead of the hosts' botocore, and pushed to every
//! host; a host's newer token is adopted. A host that goes away (its master exits) is reported
//! and reconnected with backoff: 1 s, doubling up to [`MAX_BACKOFF`], reset only by a
//! successful sync (a connection that comes up and fails at once does not reset it). Ctrl-C,
//! SIGTERM or SIGHUP end it: every master is stopped and the exit status is 0.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::signal::unix::{SignalKind, signal};

use crate::aws::config::SsoProfile;
use crate::aws::schedule::{POLL, Schedule};
use crate::session::adopt_remote_token;
use crate::session::keep::{self, read_local};
use crate::session::keeper::{Action, Host, Keeper, Pushed};
use crate::ssh::args::SshArgs;
use crate::ssh::master::{self, PrivateDir};
use crate::sync;
use crate::ui;

/// The longest wait before reconnecting a host.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Bound on one push over a host's master.
const PUSH_TIMEOUT: Duration = Duration::from_secs(15);

/// One host's connection.
struct Conn {
    name: String,
    target: SshArgs,
    ctl: PathBuf,
    err_log: PathBuf,
    child: Option<Child>,
    up: bool,
    host: Host,
    warned: keep::Warned,
    backoff: Duration,
    retry_at: Instant,
}

impl Conn {
    /// Starts, reaps or notices the master; whether the host is connected.
    fn supervise(&mut self, extra: &[String]) -> bool {
        if let Some(child) = &mut self.child {
            match child.try_wait() {
                Ok(None) => {}
                _ => {
                    self.child = None;
                    let why = std::fs::read_to_string(&self.err_log)
                        .ok()
                        .and_then(|t| {
                            t.lines()
                                .rev()
                                .find(|l| !l.trim().is_empty())
                                .map(str::to_owned)
                        })
                        .unwrap_or_else(|| "the connection closed".to_owned());
                    ui::warn(format_args!(
                        "{}: {} ({why}); reconnecting in {}s",
                        self.name,
                        if self.up {
                            "connection lost"
                        } else {
                            "cannot connect"
                        },
                        self.backoff.as_secs()
                    ));
                    self.up = false;
                    self.retry_at = Instant::now() + self.backoff;
                    self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                    return false;
                }
            }
        } else if Instant::now() >= self.retry_at {
            let _ = std::fs::remove_file(&self.ctl);
            let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
            let mut cmd = master::keep_master_command(&self.target, &self.ctl, &extra);
            let err = std::fs::File::create(&self.err_log).ok();
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(err.map_or_else(Stdio::null, Stdio::from));
            {
                use std::os::unix::process::CommandExt as _;
                // Ctrl-C is ssso's to handle: it stops the masters itself.
                cmd.process_group(0);
            }
            match cmd.spawn() {
                Ok(c) => self.child = Some(c),
                Err(e) => {
                    ui::warn(format_args!("{}: cannot run ssh: {e}", self.name));
                    self.retry_at = Instant::now() + MAX_BACKOFF;
                }
            }
            return false;
        }
        if !self.up && self.child.is_some() && master::socket_is_live(&self.ctl) {
            self.up = true;
            // What the host holds is unknown until the first push reads it.
            self.host = Host::default();
            ui::info(format_args!("{}: connected", self.name));
        }
        self.up
    }

    /// Stops the master (SIGTERM, then SIGKILL) and waits for it.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: a plain kill(2) of a child this process started.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(3);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    Ok(None) => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                }
            }
        }
    }
}

/// Runs `ssso sync --keep` until a signal ends it.
pub fn run(
    sso: &SsoProfile,
    opts: &sync::Options,
    schedule: Schedule,
    hosts: &[OsString],
    ssh_options: &[OsString],
    timeout: Duration,
) -> Result<u8> {
    let path = sso.cache_path()?;
    let dir = PrivateDir::new()?;
    let mut conns: Vec<Conn> = hosts
        .iter()
        .enumerate()
        .map(|(i, h)| Conn {
            name: h.to_string_lossy().into_owned(),
            target: SshArgs {
                options: ssh_options.to_vec(),
                destination: Some(h.clone()),
                ..Default::default()
            },
            ctl: dir.path().join(i.to_string()),
            err_log: dir.path().join(format!("{i}.err")),
            child: None,
            up: false,
            host: Host::default(),
            warned: keep::Warned::default(),
            backoff: Duration::from_secs(1),
            retry_at: Instant::now(),
        })
        .collect();
    let extra = vec![
        "-o".to_owned(),
        "BatchMode=yes".to_owned(),
        "-o".to_owned(),
        format!("ConnectTimeout={}", timeout.as_secs().max(1)),
        "-o".to_owned(),
        "ServerAliveInterval=10".to_owned(),
        "-o".to_owned(),
        "ServerAliveCountMax=3".to_owned(),
    ];
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    ui::info(format_args!(
        "keeping {} host{} fresh for profile `{}`; Ctrl-C ends",
        conns.len(),
        if conns.len() == 1 { "" } else { "s" },
        sso.profile
    ));
    let result = runtime.block_on(async {
        let mut int = signal(SignalKind::interrupt()).context("cannot catch SIGINT")?;
        let mut term = signal(SignalKind::terminate()).context("cannot catch SIGTERM")?;
        let mut hup = signal(SignalKind::hangup()).context("cannot catch SIGHUP")?;
        let mut keeper = Keeper::new(schedule);
        let mut tick = tokio::time::interval(POLL / 4);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = int.recv() => break,
                _ = term.recv() => break,
                _ = hup.recv() => break,
            }
            for c in conns.iter_mut() {
                if !c.supervise(&extra) {
                    continue;
                }
                for _ in 0..4 {
                    let local = read_local(&path, sso);
                    let now = crate::time::now();
                    match keeper.step(now, local.as_ref().map(|l| &l.1), &mut c.host) {
                        Action::Wait => break,
                        Action::Adopt(bytes) => adopt_remote_token(&bytes, sso),
                        Action::Push => {
                            let Some((tok, _)) = &local else { break };
                            let r = keep::push(
                                &c.ctl,
                                None,
                                sso,
                                opts,
                                tok,
                                &c.name,
                                PUSH_TIMEOUT,
                                &mut c.warned,
                            )
                            .await;
                            if r == Pushed::Failed {
                                c.host.pushed(&keeper, crate::time::now(), r);
                                break;
                            }
                            ui::debug(format_args!("{}: synced", c.name));
                            c.backoff = Duration::from_secs(1);
                            c.host.pushed(&keeper, crate::time::now(), r);
                        }
                        Action::Refresh => {
                            let Some((tok, _)) = &local else { break };
                            let r = keep::refresh(&path, sso, tok).await;
                            keeper.refreshed(r);
                        }
                        Action::Warn { left, why } => keep::warn(sso, left, &why, "every host"),
                    }
                }
            }
        }
        anyhow::Ok(())
    });
    for c in conns.iter_mut() {
        c.stop();
    }
    drop(dir);
    result?;
    ui::info("stopped; every connection closed");
    Ok(0)
}
