//! `ssso sync [OPTIONS] [SSH OPTIONS] HOST...`: the token and config sections of one profile
//! synced to many hosts at once. The profile is resolved and the token made fresh once (one
//! login at most, before any host is contacted), then up to `--jobs` hosts are worked on
//! concurrently, each within `--timeout`: one ssh connection whose remote command is the
//! usual sync script ([`master::program_command`], [`sync::run_command`]; no master, so one
//! local process per host), with `BatchMode=yes` unless `--jobs 1`, since prompts from many
//! hosts at once cannot be answered. A live progress line goes to stderr when it is a terminal; the
//! per-host table goes to stdout, and the exit status is 1 when any host failed.
//!
//! What a host gets: by default the access token only (`--access-token-only`'s copy, no
//! refresh token): hosts that all hold one refresh token would spend it for each other (the
//! first to refresh wins, every other one fails when its access token expires), and the
//! laptop's copy with them. `--with-refresh-token` sends the whole file; `--keep` stays as the
//! one refresher of the fleet (see [`crate::cmd::fleet_keep`]).

use std::ffi::OsString;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::aws::config::SsoProfile;
use crate::aws::token::Token;
use crate::session;
use crate::ssh::args::SshArgs;
use crate::ssh::config::SshConfig;
use crate::ssh::master;
use crate::sync::{self, ConfigOutcome, TokenOutcome};
use crate::ui;

/// What happened on one host.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Synced(String),
    Current(String),
    Failed(String),
}

impl Outcome {
    fn word(&self) -> &'static str {
        match self {
            Outcome::Synced(_) => "synced",
            Outcome::Current(_) => "already current",
            Outcome::Failed(_) => "failed",
        }
    }
    fn detail(&self) -> &str {
        match self {
            Outcome::Synced(d) | Outcome::Current(d) | Outcome::Failed(d) => d,
        }
    }
}

/// What every host's task shares.
struct Shared {
    sso: SsoProfile,
    tok: Token,
    sync: crate::sync::Options,
    options: Vec<OsString>,
    timeout: Duration,
    batch: bool,
}

/// `ssso sync`'s settings (see `ssso sync --help`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub session: session::Settings,
    /// How many hosts at once (at least 1).
    pub jobs: usize,
    /// More hosts, one a line (`-`: stdin).
    pub hosts_file: Option<std::path::PathBuf>,
    /// The bound on one host's connection and sync.
    pub timeout: Duration,
    /// `--keep`: stay as the fleet's refresher (see [`crate::cmd::fleet_keep`]).
    pub keep: bool,
}

pub fn run(args: &Settings, ssh: SshArgs) -> Result<u8> {
    let hosts = hosts(&ssh, args.hosts_file.as_deref())?;
    let timeout = args.timeout;
    let jobs = args.jobs.max(1);

    // One profile and one fresh token for the whole fleet, before any host is contacted; a
    // login's own output goes to stderr (stdout is the table).
    let first = SshArgs {
        options: ssh.options.clone(),
        destination: Some(hosts[0].clone()),
        ..Default::default()
    };
    let cfg = SshConfig::resolve(&first)?;
    same_profile_everywhere(args, &ssh, &hosts, &cfg)?;
    let (sso, tok) = session::fresh_token(&args.session, &cfg, true, None)?;
    if args.keep {
        return crate::cmd::fleet_keep::run(
            &sso,
            &args.session.sync,
            crate::aws::schedule::Schedule::new(args.session.freshness.refresh_before),
            &hosts,
            &ssh.options,
            timeout,
        );
    }
    let shared = Rc::new(Shared {
        sso,
        tok,
        sync: args.session.sync.clone(),
        options: ssh.options.clone(),
        timeout,
        batch: jobs > 1,
    });

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let progress = std::io::stderr().is_terminal() && ui::level() > 0;
    let results = runtime.block_on(tokio::task::LocalSet::new().run_until(async {
        let slots = Rc::new(tokio::sync::Semaphore::new(jobs));
        let mut set = tokio::task::JoinSet::new();
        for (i, host) in hosts.iter().enumerate() {
            let (host, shared, slots) = (host.clone(), shared.clone(), slots.clone());
            set.spawn_local(async move {
                let _slot = slots.acquire().await;
                (i, one_host(host, &shared).await)
            });
        }
        let mut results: Vec<Option<Outcome>> = hosts.iter().map(|_| None).collect();
        let mut counts = [0usize; 3];
        show_progress(progress, 0, hosts.len(), &counts);
        while let Some(done) = set.join_next().await {
            let (i, outcome) = done.expect("a host's task panicked");
            counts[match outcome {
                Outcome::Synced(_) => 0,
                Outcome::Current(_) => 1,
                Outcome::Failed(_) => 2,
            }] += 1;
            results[i] = Some(outcome);
            show_progress(progress, counts.iter().sum(), hosts.len(), &counts);
        }
        if progress {
            eprint!("\r\x1b[K");
        }
        results
    }));
    let results: Vec<(String, Outcome)> = hosts
        .iter()
        .map(|h| h.to_string_lossy().into_owned())
        .zip(
            results
                .into_iter()
                .map(|r| r.expect("every host has a result")),
        )
        .collect();
    print_table(&results, &mut std::io::stdout())?;
    let failed = results.iter().any(|(_, o)| matches!(o, Outcome::Failed(_)));
    Ok(u8::from(failed))
}

/// One profile for the whole fleet: without `--profile` (or `SSSO_PROFILE`) it comes from the
/// first host's `SetEnv AWS_PROFILE`, so every other host must name the same one (or none);
/// else the hosts would get a profile by the order of the arguments. One `ssh -G` per host.
fn same_profile_everywhere(
    args: &Settings,
    ssh: &SshArgs,
    hosts: &[OsString],
    first: &SshConfig,
) -> Result<()> {
    if args.session.profile.is_some()
        || std::env::var_os("SSSO_PROFILE").is_some()
        || hosts.len() < 2
    {
        return Ok(());
    }
    let want = first.setenv("AWS_PROFILE");
    let mut other = Vec::new();
    for h in &hosts[1..] {
        let cfg = SshConfig::resolve(&SshArgs {
            options: ssh.options.clone(),
            destination: Some(h.clone()),
            ..Default::default()
        })?;
        let p = cfg.setenv("AWS_PROFILE");
        if p != want {
            other.push(format!(
                "{} names {}",
                h.to_string_lossy(),
                p.as_deref().unwrap_or("none")
            ));
        }
    }
    if other.is_empty() {
        return Ok(());
    }
    bail!(
        "the hosts' ssh configs name different AWS profiles (SetEnv AWS_PROFILE): {} names {}, {}; run one `ssso sync --profile NAME` per profile",
        hosts[0].to_string_lossy(),
        want.as_deref().unwrap_or("none"),
        other.join(", ")
    )
}

/// The hosts: the destination and the words after it, then the `--hosts-file` lines (blank
/// lines and `#` comments skipped; `-` is stdin).
fn hosts(ssh: &SshArgs, file: Option<&Path>) -> Result<Vec<OsString>> {
    let mut hosts: Vec<OsString> = ssh
        .destination
        .iter()
        .chain(&ssh.command)
        .cloned()
        .collect();
    if let Some(w) = hosts.iter().find(|w| w.to_string_lossy().starts_with('-')) {
        bail!(
            "{} after the first host: put ssh options before the hosts",
            w.to_string_lossy()
        );
    }
    if let Some(file) = file {
        let reader: Box<dyn std::io::BufRead> = if file == Path::new("-") {
            Box::new(std::io::stdin().lock())
        } else {
            Box::new(std::io::BufReader::new(
                std::fs::File::open(file)
                    .with_context(|| format!("cannot read {}", file.display()))?,
            ))
        };
        for line in reader.lines() {
            let line = line.context("reading the hosts file")?;
            let line = line.split('#').next().unwrap_or_default().trim();
            if !line.is_empty() {
                hosts.push(line.into());
            }
        }
    }
    // A host named twice is synced once (two syncs of one host at the same time only race).
    let mut seen = std::collections::HashSet::new();
    hosts.retain(|h| seen.insert(h.clone()));
    if hosts.is_empty() {
        bail!(
            "no HOST given (usage: ssso sync [OPTIONS] [SSH OPTIONS] HOST... or --hosts-file FILE)"
        );
    }
    Ok(hosts)
}

/// One host: one ssh connection whose remote command is the sync, within the timeout.
async fn one_host(host: OsString, sh: &Shared) -> Outcome {
    let name = host.to_string_lossy().into_owned();
    let target = SshArgs {
        options: sh.options.clone(),
        destination: Some(host),
        ..Default::default()
    };
    let extra: Vec<String> = if sh.batch {
        vec![
            "-o".into(),
            "BatchMode=yes".into(),
            "-o".into(),
            format!("ConnectTimeout={}", sh.timeout.as_secs().max(1)),
        ]
    } else {
        Vec::new()
    };
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let cmd = master::program_command(&target, &extra);
    let plan = match sync::Plan::new(&sh.sso, &sh.tok, &sh.sync, None) {
        Ok(p) => p.for_host(&name),
        Err(e) => return Outcome::Failed(format!("{e:#}")),
    };
    match sync::run_command(cmd, &plan, sh.timeout).await {
        Err(e) => Outcome::Failed(format!("{e:#}")),
        Ok(r) => outcome(&r, sh),
    }
}

/// Classifies a finished sync.
fn outcome(r: &sync::Report, sh: &Shared) -> Outcome {
    let mut notes = Vec::new();
    let mut wrote = false;
    if let TokenOutcome::Failed(why) = &r.token {
        return Outcome::Failed(why.clone());
    }
    match &r.token {
        TokenOutcome::Failed(_) => {}
        TokenOutcome::Written => {
            wrote = true;
            notes.push("token written".to_owned());
        }
        TokenOutcome::Unchanged => {}
        TokenOutcome::RemoteNewer(bytes) => {
            session::adopt_remote_token(bytes, &sh.sso);
            notes.push("the host had a newer token: kept it, stored it here".to_owned());
        }
    }
    match &r.config {
        ConfigOutcome::Written => {
            wrote = true;
            notes.push("config updated".to_owned());
        }
        ConfigOutcome::Skipped(why) => notes.push(format!("config skipped: {why}")),
        ConfigOutcome::Unchanged | ConfigOutcome::NotRequested => {}
    }
    if r.aws_missing {
        notes.push("no `aws` on the host's PATH".to_owned());
    }
    let detail = notes.join("; ");
    if wrote {
        Outcome::Synced(detail)
    } else {
        Outcome::Current(detail)
    }
}

fn show_progress(on: bool, done: usize, total: usize, c: &[usize; 3]) {
    if on {
        eprint!(
            "\r\x1b[Kssso: {done}/{total} hosts: {} synced, {} already current, {} failed",
            c[0], c[1], c[2]
        );
        let _ = std::io::stderr().flush();
    }
}

/// `HOST  RESULT  DETAIL`, aligned.
fn print_table(rows: &[(String, Outcome)], out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let w = rows.iter().map(|(h, _)| h.len()).max().unwrap_or(0).max(4);
    writeln!(out, "{:w$}  {:15}  DETAIL", "HOST", "RESULT")?;
    for (host, o) in rows {
        let line = format!("{host:w$}  {:15}  {}", o.word(), o.detail());
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_from_words_and_file() {
        let ssh = SshArgs {
            destination: Some("a".into()),
            command: vec!["b".into(), "c".into()],
            ..Default::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("hosts");
        std::fs::write(&f, "d\n\n# comment\n  e  # web\nb\n").unwrap();
        let got = hosts(&ssh, Some(&f)).unwrap();
        // b twice: synced once.
        assert_eq!(got, ["a", "b", "c", "d", "e"]);
        let bad = SshArgs {
            destination: Some("a".into()),
            command: vec!["-p".into(), "22".into()],
            ..Default::default()
        };
        let e = hosts(&bad, None).unwrap_err().to_string();
        assert!(e.contains("put ssh options before the hosts"), "{e}");
        assert!(hosts(&SshArgs::default(), None).is_err());
    }

    #[test]
    fn table_is_aligned() {
        let rows = vec![
            (
                "alice@web-1".to_owned(),
                Outcome::Synced("token written".into()),
            ),
            (
                "db".to_owned(),
                Outcome::Failed("Connection refused".into()),
            ),
        ];
        let mut out = Vec::new();
        print_table(&rows, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HOST         RESULT           DETAIL\n\
             alice@web-1  synced           token written\n\
             db           failed           Connection refused\n"
        );
    }
}
