//! Syncing one SSO session's token file and its config sections to the host.
//!
//! The host runs one small program (`host.sh`, sent through [`crate::ssh::remote::wrap`], so
//! the login shell does not matter) over one channel of the connection, and ssso holds a
//! conversation with it ([`crate::ssh::runner::converse`]). The program only reads and writes
//! files, carefully (see the file: a lock, checks of the target and its directory, a temporary
//! file beside it, every status checked, flushed, size and digest verified, renamed); every
//! decision is made here:
//!
//! 1. ssso sends the digests it expects ([`digest`]: the local token's; the config's as it was
//!    after ssso's last sync with this host, from a small local record, see [`record`]). The
//!    host answers `same` for each: one round trip, nothing written (the common case).
//! 2. A token that differs comes back with its bytes and is judged ([`token::judge`]: valid
//!    JSON, an access token, the same start URL, `expiresAt` as an instant). A valid one that
//!    expires later is kept there and adopted here (its botocore refreshed it; the refresh
//!    token may have rotated); otherwise ssso's token is installed, compare-and-swap on the
//!    digest it replaces (if the file changed meanwhile: judged again, once).
//! 3. A config that differs is fetched and merged here ([`merge`], with the parser of the
//!    local config), then installed the same way (a change meanwhile: read and merged again,
//!    once); when the merge only appends, only the added bytes are sent.
//!
//! The token never appears on a command line (it travels on the program's stdin).

pub mod digest;
pub mod home;
pub mod merge;

use std::borrow::Cow;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::aws::token;
use crate::ssh::runner::{self, Channel, Program, Reply, Via};

/// What a sync sends, as the user chose it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Sync the profile's `~/.aws/config` sections too (false: `--no-config`).
    pub config: bool,
    /// Send the token without its refresh secrets (`--access-token-only`).
    pub access_token_only: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            config: true,
            access_token_only: false,
        }
    }
}

/// What to sync.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    /// `<sha1>.json`
    pub cache_file_name: &'a str,
    /// What to write remotely: the local token file byte for byte, or (`--access-token-only`)
    /// that file without its refresh secrets.
    pub token: Cow<'a, [u8]>,
    /// The local token's expiry (unix seconds).
    pub expires_at: i64,
    /// The local token's start URL, if it has one (a remote token for another URL is never kept).
    pub start_url: Option<&'a str>,
    /// Normalized section headers (`profile dev`, `sso-session corp`) and their text, in
    /// order; empty with `--no-config`.
    pub sections: Vec<(&'a str, &'a str)>,
    /// The nonce of the marker a waiting session polls for; `None` when no session waits.
    pub wait_nonce: Option<&'a str>,
    /// The destination as the user named it, for the local record of the host's config
    /// ([`record`]); `None`: no record.
    pub host: Option<String>,
}

impl<'a> Plan<'a> {
    /// The plan for `sso`'s token `tok`: its config sections too unless `--no-config`, the
    /// token without its refresh secrets with `--access-token-only`.
    pub fn new(
        sso: &'a crate::aws::config::SsoProfile,
        tok: &'a crate::aws::token::Token,
        opts: &Options,
        wait_nonce: Option<&'a str>,
    ) -> Result<Plan<'a>> {
        let sections = if opts.config {
            std::iter::once(&sso.profile_section)
                .chain(sso.session_section.as_ref())
                .map(|s| (s.header.as_str(), s.text.as_str()))
                .collect()
        } else {
            Vec::new()
        };
        let token = if opts.access_token_only {
            Cow::Owned(crate::aws::token::access_token_only(&tok.bytes)?)
        } else {
            Cow::Borrowed(tok.bytes.as_slice())
        };
        Ok(Plan {
            cache_file_name: &sso.cache_file_name,
            token,
            expires_at: tok.expires_at,
            start_url: tok.start_url.as_deref(),
            sections,
            wait_nonce,
            host: None,
        })
    }

    /// The plan for destination `host` (see [`Plan::host`]).
    pub fn for_host(mut self, host: &str) -> Plan<'a> {
        self.host = Some(host.to_owned());
        self
    }

    /// What is sent, for `-v`: the token with its secrets redacted, and the section headers.
    pub fn describe(&self) -> String {
        let headers: Vec<String> = self
            .sections
            .iter()
            .map(|(h, _)| format!("[{h}]"))
            .collect();
        format!(
            "syncing ~/.aws/sso/cache/{} ({} bytes: {}){}",
            self.cache_file_name,
            self.token.len(),
            crate::aws::token::redacted(&self.token),
            if headers.is_empty() {
                String::from(", not the config (--no-config)")
            } else {
                format!(" and ~/.aws/config sections {}", headers.join(" "))
            }
        )
    }
}

/// What the host did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub token: TokenOutcome,
    pub config: ConfigOutcome,
    /// No `aws` on the remote's PATH (nor in ~/.local/bin).
    pub aws_missing: bool,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub enum TokenOutcome {
    #[default]
    Unchanged,
    Written,
    /// The host's copy is a valid token that expires later; its bytes (the caller stores them
    /// locally).
    RemoteNewer(Vec<u8>),
    /// Not written, with the reason (a refused target, a full disk...): the host's file is as
    /// it was.
    Failed(String),
}

#[derive(Debug, Default, PartialEq, Eq)]
pub enum ConfigOutcome {
    Unchanged,
    Written,
    /// `--no-config`.
    #[default]
    NotRequested,
    /// Left alone, with the reason.
    Skipped(String),
}

/// The plan's content (the token, then the sections): what a stamp's digest covers.
pub fn input(plan: &Plan) -> Vec<u8> {
    let mut v = plan.token.to_vec();
    for (h, text) in &plan.sections {
        v.push(0);
        v.extend_from_slice(h.as_bytes());
        v.push(0);
        v.extend_from_slice(text.as_bytes());
    }
    v
}

/// The host program (see the file for its parameters and commands), after the path checks it
/// shares with `ssso doctor` ([`CHECKS_SH`]).
const HOST_SH: &str = concat!(include_str!("checks.sh"), include_str!("host.sh"));

/// The host's path checks (`kind`, `mine`, `chain`, `verdict`): what the sync refuses to write
/// through, and why. `ssso doctor` runs them too, so that it names the same refusals.
pub const CHECKS_SH: &str = include_str!("checks.sh");

/// Test-only: `SSSO_TEST_SYNC_STALL=POINT:SECONDS` makes the host program sleep at POINT
/// (`read`: before its first answer; `token`: with the new token complete in its temporary
/// file, before the rename; `config`: likewise for ~/.aws/config), so that the tests can cut
/// the connection in the middle of a sync. Unset or malformed (the only case in production):
/// the program's `hook` is a no-op. Not documented for users.
pub const TEST_STALL_ENV: &str = "SSSO_TEST_SYNC_STALL";

/// Test-only: `SSSO_TEST_SYNC_TIMEOUT=SECONDS` replaces the sync's time limit.
pub const TEST_TIMEOUT_ENV: &str = "SSSO_TEST_SYNC_TIMEOUT";

fn test_stall() -> (String, u32) {
    std::env::var(TEST_STALL_ENV)
        .ok()
        .and_then(|v| {
            let (point, secs) = v.split_once(':')?;
            let ok = matches!(point, "read" | "token" | "config");
            Some((point.to_owned(), secs.parse().ok()?)).filter(|_| ok)
        })
        .unwrap_or_default()
}

/// The host program for token file `key`, releasing the session waiting on `nonce`.
pub fn program(key: &str, nonce: Option<&str>) -> Program {
    let (point, secs) = test_stall();
    Program::new("host", 1, HOST_SH)
        .param("K", key)
        .param("N", nonce.unwrap_or(""))
        .param("TS", point)
        .param("TSS", secs.to_string())
}

/// `bytes` as one line for the host's `printf %b`: every byte but printable ASCII other than
/// `\` as `\0ooo`.
fn escaped(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() + 1);
    for &b in bytes {
        if (0x20..=0x7e).contains(&b) && b != b'\\' {
            s.push(b as char);
        } else {
            let _ = write!(s, "\\0{b:03o}");
        }
    }
    s.push('\n');
    s
}

/// One answer about file `f` (`t` or `c`): its first line's words after `f`, and its blob.
struct Answer {
    words: Vec<String>,
    blob: Option<Vec<u8>>,
}

impl Answer {
    fn from(reply: &Reply, f: &str) -> Result<Answer> {
        let words = reply
            .lines()
            .find(|(k, _)| *k == f)
            .map(|(_, v)| v.split(' ').map(str::to_owned).collect())
            .context("the host's answer was incomplete")?;
        Ok(Answer {
            words,
            blob: reply.blob(f).map(<[u8]>::to_vec),
        })
    }
    fn word(&self, i: usize) -> &str {
        self.words.get(i).map_or("", String::as_str)
    }
    fn rest(&self) -> String {
        self.words.get(1..).unwrap_or_default().join(" ")
    }
}

async fn ask(ch: &mut Channel<'_>, command: &str, f: &str) -> Result<(Answer, Reply)> {
    ch.send(command.as_bytes()).await?;
    let reply = ch.turn().await?;
    Ok((Answer::from(&reply, f)?, reply))
}

/// What pulling the host's token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    /// The file's bytes; `None`: there is no token file.
    pub bytes: Option<Vec<u8>>,
    /// Its digest ([`digest::NONE`] when missing): what a [`push_token`] that replaces it names.
    pub digest: String,
}

/// What a [`push_token`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pushed {
    /// Installed; the file's digest now.
    Written { digest: String },
    /// The file was not what `replaces_digest` named: nothing written. The host's file now
    /// (`None`: missing) and its digest: judge it, and push again naming that digest.
    Changed {
        current: Option<Vec<u8>>,
        digest: String,
    },
}

/// Reads the host's token file `key` (`<sha1>.json`) over the master at `ctl`, writing
/// nothing. An error when the connection fails or the file is not a regular file of the user.
pub async fn pull_token(ctl: &std::path::Path, key: &str, timeout: Duration) -> Result<Pulled> {
    let program = program(key, None);
    runner::converse(Via::Master(ctl), &program, timeout, async |ch| {
        let r = get_token(ch).await;
        ch.send(b"end\n").await?;
        r
    })
    .await
}

async fn get_token(ch: &mut Channel<'_>) -> Result<Pulled> {
    ch.send(b"get t\n").await?;
    read_pulled(ch).await
}

/// The answer to `get t`.
async fn read_pulled(ch: &mut Channel<'_>) -> Result<Pulled> {
    let reply = ch.turn().await?;
    if let Some(b) = reply.blob("t") {
        return Ok(Pulled {
            digest: digest::of(b),
            bytes: Some(b.to_vec()),
        });
    }
    let a = Answer::from(&reply, "t")?;
    Ok(match a.word(0) {
        "none" => Pulled {
            bytes: None,
            digest: digest::NONE.to_owned(),
        },
        "refused" => bail!("{}", a.rest()),
        _ => bail!("the host's answer was not understood"),
    })
}

/// Installs `bytes` as the host's token file `key` over the master at `ctl`, if the file is
/// still the one whose digest is `replaces_digest` (from [`pull_token`]; [`digest::NONE`]: no
/// file). Written, or the host's current file when it changed; an error when the host refused
/// or could not write (the file then is as it was).
pub async fn push_token(
    ctl: &std::path::Path,
    key: &str,
    bytes: &[u8],
    replaces_digest: &str,
    timeout: Duration,
) -> Result<Pushed> {
    let program = program(key, None);
    runner::converse(Via::Master(ctl), &program, timeout, async |ch| {
        let r = put_token(ch, bytes, replaces_digest).await;
        ch.send(b"end\n").await?;
        r
    })
    .await
}

async fn put_token(ch: &mut Channel<'_>, bytes: &[u8], replaces: &str) -> Result<Pushed> {
    let new = digest::of(bytes);
    let command = format!("put t {} {new} {replaces}\n{}", bytes.len(), escaped(bytes));
    let (a, _) = ask(ch, &command, "t").await?;
    match a.word(0) {
        "written" => Ok(Pushed::Written { digest: new }),
        // The digest of the bytes that came back (the file may have changed again since the
        // host's check: the next put then finds out).
        "changed" => Ok(Pushed::Changed {
            digest: a
                .blob
                .as_deref()
                .map_or(digest::NONE.to_owned(), digest::of),
            current: a.blob,
        }),
        _ => bail!("{}", a.rest()),
    }
}

/// Runs the sync over the master at `ctl`. `timeout` bounds the whole exchange.
pub async fn run(ctl: &std::path::Path, plan: &Plan<'_>, timeout: Duration) -> Result<Report> {
    exchange(|| Via::Master(ctl), plan, timeout).await
}

/// Runs the sync as the remote command of `ssh` (a whole connection of its own, no master):
/// `ssh` is the command up to and including the destination. `timeout` bounds it all.
pub async fn run_command(
    ssh: std::process::Command,
    plan: &Plan<'_>,
    timeout: Duration,
) -> Result<Report> {
    let copy = || {
        let mut c = std::process::Command::new(ssh.get_program());
        c.args(ssh.get_args());
        for (k, v) in ssh.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        Via::Ssh(c)
    };
    exchange(copy, plan, timeout).await
}

async fn exchange<'v>(
    via: impl Fn() -> Via<'v>,
    plan: &Plan<'_>,
    timeout: Duration,
) -> Result<Report> {
    crate::ui::debug(plan.describe());
    let timeout = std::env::var(TEST_TIMEOUT_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(timeout, Duration::from_secs);
    let deadline = tokio::time::Instant::now() + timeout;
    let program = program(plan.cache_file_name, plan.wait_nonce);
    let sections_crc = digest::of(&input_sections(plan));
    let recorded = record::read(plan).filter(|r| r.sections == sections_crc);
    let (mut report, retry) = runner::converse(via(), &program, timeout, async |ch| {
        conversation(
            ch,
            plan,
            recorded.as_ref().map(|r| r.config.as_str()),
            &sections_crc,
        )
        .await
    })
    .await?;
    if let Some(old) = retry {
        // The config changed between the read and the write: read and merge again, once.
        let program = program_no_wait(plan);
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        report.config = runner::converse(via(), &program, left, async |ch| {
            let _ = &old;
            let (c, _) = config_step(ch, plan, &sections_crc).await?;
            Ok(c)
        })
        .await?;
    }
    Ok(report)
}

fn program_no_wait(plan: &Plan) -> Program {
    program(plan.cache_file_name, None)
}

fn input_sections(plan: &Plan) -> Vec<u8> {
    let mut v = Vec::new();
    for (h, t) in &plan.sections {
        v.extend_from_slice(h.as_bytes());
        v.push(0);
        v.extend_from_slice(t.as_bytes());
        v.push(0);
    }
    v
}

/// The whole sync over one channel; the second value is the digest of a config that changed
/// under the write (to be tried again on a new channel).
async fn conversation(
    ch: &mut Channel<'_>,
    plan: &Plan<'_>,
    expected_config: Option<&str>,
    sections_crc: &str,
) -> Result<(Report, Option<String>)> {
    let want = digest::of(&plan.token);
    let mut look = format!("look t {want}\n");
    if !plan.sections.is_empty() {
        look.push_str(&format!("look c {}\n", expected_config.unwrap_or("?")));
    }
    // Nothing changed (the common case) is one round trip: the program ends at once after
    // answering `same` to every look, and the waiting session is released.
    look.push_str("end-if-same\n");
    ch.send(look.as_bytes()).await?;
    let first = ch.turn().await?;
    let mut report = Report {
        aws_missing: first.get("aws") == Some("missing"),
        ..Report::default()
    };
    let t = Answer::from(&first, "t")?;
    let c = if plan.sections.is_empty() {
        None
    } else {
        Some(Answer::from(&ch.turn().await?, "c")?)
    };
    let same = t.word(0) == "same" && c.as_ref().is_none_or(|c| c.word(0) == "same");
    let after = ch.turn().await?;
    if same {
        if !after.done {
            bail!("the host's answer was not understood");
        }
        report.token = TokenOutcome::Unchanged;
        if c.is_some() {
            report.config = ConfigOutcome::Unchanged;
        }
        return Ok((report, None));
    }
    if after.done || !after.has("continue") {
        bail!("the host's answer was not understood");
    }
    report.token = token_step(ch, plan, t).await?;
    let mut retry = None;
    let mut closed = false;
    if let Some(c) = c {
        let (outcome, changed) = match c.word(0) {
            "same" => (ConfigOutcome::Unchanged, None),
            "refused" => (ConfigOutcome::Skipped(c.rest()), None),
            "differs" if c.word(2).parse::<usize>().is_ok_and(|n| n > merge::MAX) => {
                // Not even fetched: the merge would refuse it.
                let n: usize = c.word(2).parse().unwrap_or_default();
                (ConfigOutcome::Skipped(merge::too_large(n)), None)
            }
            "none" | "differs" => {
                let (l, _) = ask(ch, "lock c\n", "c").await?;
                if l.word(0) == "locked" {
                    closed = true;
                    config_step(ch, plan, sections_crc).await?
                } else {
                    (ConfigOutcome::Skipped(l.rest()), None)
                }
            }
            _ => bail!("the host's answer was not understood"),
        };
        report.config = outcome;
        retry = changed;
    }
    if !closed {
        ch.send(b"end\n").await?;
    }
    if !ch.done {
        let last = ch.turn().await?;
        if !last.done {
            bail!("the sync stopped before it finished (connection lost?)");
        }
    }
    Ok((report, retry))
}

/// Decides about the host's token: keep a valid one that expires later, else install ours
/// (compare-and-swap; judged again once if it changed meanwhile).
async fn token_step(ch: &mut Channel<'_>, plan: &Plan<'_>, t: Answer) -> Result<TokenOutcome> {
    match t.word(0) {
        "same" => return Ok(TokenOutcome::Unchanged),
        "refused" => return Ok(TokenOutcome::Failed(t.rest())),
        "none" | "differs" => {}
        _ => bail!("the host's answer was not understood"),
    }
    // Something differs: hold the file's lock (other syncs wait), read it again under the
    // lock, decide, write.
    // One round trip: the lock, then the file (read even when the lock failed; unused then).
    ch.send(b"lock t\nget t\n").await?;
    let l = Answer::from(&ch.turn().await?, "t")?;
    let pulled = read_pulled(ch).await;
    if l.word(0) != "locked" {
        return Ok(TokenOutcome::Failed(l.rest()));
    }
    let pulled = match pulled {
        Ok(p) => p,
        Err(e) => return Ok(TokenOutcome::Failed(format!("{e:#}"))),
    };
    let (mut old, mut current) = (pulled.digest, pulled.bytes);
    for _ in 0..2 {
        if let Some(bytes) = &current {
            match token::judge(bytes, plan.start_url) {
                Ok(theirs) if theirs.expires_at > plan.expires_at => {
                    return Ok(TokenOutcome::RemoteNewer(bytes.clone()));
                }
                Ok(_) => crate::ui::debug("the host's token expires earlier: replacing it"),
                Err(why) => {
                    crate::ui::debug(format_args!("the host's token is {why}: replacing it"))
                }
            }
        }
        match put_token(ch, &plan.token, &old).await {
            Ok(Pushed::Written { .. }) => return Ok(TokenOutcome::Written),
            Ok(Pushed::Changed { current: c, digest }) => {
                old = digest;
                current = c;
            }
            Err(e) => return Ok(TokenOutcome::Failed(format!("{e:#}"))),
        }
    }
    Ok(TokenOutcome::Failed(
        "the host's token file kept changing while ssso wrote it; try again".to_owned(),
    ))
}

/// Fetches the host's config, merges, installs: the channel's last use (a `put` closes the
/// input).
async fn config_step(
    ch: &mut Channel<'_>,
    plan: &Plan<'_>,
    sections_crc: &str,
) -> Result<(ConfigOutcome, Option<String>)> {
    ch.send(b"get c\n").await?;
    let reply = ch.turn().await?;
    let (bytes, old) = match reply.blob("c") {
        Some(b) => (b.to_vec(), digest::of(b)),
        None => {
            let a = Answer::from(&reply, "c")?;
            match a.word(0) {
                "none" => (Vec::new(), digest::NONE.to_owned()),
                "refused" => {
                    ch.send(b"end\n").await?;
                    return Ok((ConfigOutcome::Skipped(a.rest()), None));
                }
                _ => bail!("the host's answer was not understood"),
            }
        }
    };
    merge_and_put(ch, plan, &bytes, &old, sections_crc).await
}

async fn merge_and_put(
    ch: &mut Channel<'_>,
    plan: &Plan<'_>,
    old_bytes: &[u8],
    old: &str,
    sections_crc: &str,
) -> Result<(ConfigOutcome, Option<String>)> {
    let new = match merge::merge(old_bytes, &plan.sections) {
        Err(why) => {
            ch.send(b"end\n").await?;
            return Ok((ConfigOutcome::Skipped(why), None));
        }
        Ok(merge::Merge::Unchanged) => {
            record::write(plan, old, sections_crc);
            ch.send(b"end\n").await?;
            return Ok((ConfigOutcome::Unchanged, None));
        }
        Ok(merge::Merge::Changed(b)) => b,
    };
    let new_digest = digest::of(&new);
    // Sections appended to an existing file (a first sync into a file without the profile):
    // only what is added goes, the host puts its file in front (and checks the whole).
    let (verb, rest) = match new.strip_prefix(old_bytes) {
        Some(added) if !old_bytes.is_empty() => ("add", added),
        _ => ("put", &new[..]),
    };
    ch.send(format!("{verb} c {} {new_digest} {old}\n", new.len()).as_bytes())
        .await?;
    ch.send(rest).await?;
    ch.close().await;
    let reply = ch.turn().await?;
    let a = Answer::from(&reply, "c")?;
    Ok(match a.word(0) {
        "written" => {
            record::write(plan, &new_digest, sections_crc);
            (ConfigOutcome::Written, None)
        }
        "changed" => (
            ConfigOutcome::Skipped("~/.aws/config changed while ssso wrote it".to_owned()),
            Some(a.word(1).to_owned()),
        ),
        _ => (ConfigOutcome::Skipped(a.rest()), None),
    })
}

/// The local record of the host's config as ssso last left it, so that an unchanged sync is one
/// round trip without fetching the file: `$XDG_STATE_HOME/ssso/sync/<sha1 of host and token
/// file>` (else `~/.local/state/...`), holding the config's digest and the digest of the
/// sections it was merged with. Only a hint: when it is missing or wrong, the host's digest
/// differs, and ssso fetches the file and decides from it.
pub mod record {
    use super::Plan;
    use sha1::Digest as _;

    pub struct Record {
        pub config: String,
        pub sections: String,
    }

    pub(crate) fn path(plan: &Plan) -> Option<std::path::PathBuf> {
        let host = plan.host.as_deref()?;
        let base = std::env::var_os("XDG_STATE_HOME")
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".local/state"))
            })?;
        let mut h = sha1::Sha1::new();
        h.update(host.as_bytes());
        h.update([0]);
        h.update(plan.cache_file_name.as_bytes());
        let name: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Some(base.join("ssso/sync").join(name))
    }

    pub fn read(plan: &Plan) -> Option<Record> {
        let text = std::fs::read_to_string(path(plan)?).ok()?;
        let mut w = text.split_whitespace();
        Some(Record {
            config: w.next()?.to_owned(),
            sections: w.next()?.to_owned(),
        })
    }

    pub fn write(plan: &Plan, config: &str, sections: &str) {
        let Some(p) = path(plan) else { return };
        if let Some(dir) = p.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = crate::files::write_atomic(
            &p,
            format!("{config} {sections}\n").as_bytes(),
            &crate::files::Options::PRIVATE,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// `sh -c` with HOME at `home`: the host program runs locally, through the same encoding.
    fn local_sh(home: &Path) -> std::process::Command {
        let mut c = std::process::Command::new("sh");
        c.arg("-c").env("HOME", home).env_remove("XDG_STATE_HOME");
        c
    }

    fn block<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn run_local(home: &Path, plan: &Plan) -> Report {
        run_local_result(home, plan).unwrap()
    }

    fn run_local_result(home: &Path, plan: &Plan) -> Result<Report> {
        block(run_command(local_sh(home), plan, Duration::from_secs(30)))
    }

    fn home() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    const PROFILE: &str = "[profile dev]\nsso_session = corp\nregion = eu-west-1\n";
    const SESSION: &str =
        "[sso-session corp]\nsso_start_url = https://x.awsapps.com/start\nsso_region = eu-west-1\n";

    fn plan(token: &[u8], expires_at: i64) -> Plan<'_> {
        Plan {
            cache_file_name: "abc.json",
            token: Cow::Borrowed(token),
            expires_at,
            start_url: Some("https://x.awsapps.com/start"),
            sections: vec![("profile dev", PROFILE), ("sso-session corp", SESSION)],
            wait_nonce: None,
            host: None,
        }
    }

    fn tok(exp: &str) -> Vec<u8> {
        format!(r#"{{"startUrl": "https://x.awsapps.com/start", "accessToken": "secret", "expiresAt": "{exp}"}}"#).into_bytes()
    }

    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    fn leftovers(home: &Path) -> Vec<String> {
        let mut v = Vec::new();
        for dir in [".aws", ".aws/sso/cache"] {
            if let Ok(rd) = std::fs::read_dir(home.join(dir)) {
                v.extend(
                    rd.map(|e| e.unwrap().file_name().into_string().unwrap())
                        .filter(|n| n.starts_with(".ssso")),
                );
            }
        }
        v
    }

    #[test]
    fn first_sync_creates_everything_private_and_the_second_writes_nothing() {
        let h = home();
        let t = tok("2030-01-01T00:00:00Z");
        let r = run_local(h.path(), &plan(&t, 1_893_456_000));
        assert_eq!(r.token, TokenOutcome::Written);
        assert_eq!(r.config, ConfigOutcome::Written);
        let cache = h.path().join(".aws/sso/cache");
        assert_eq!(std::fs::read(cache.join("abc.json")).unwrap(), t);
        assert_eq!(mode(&cache.join("abc.json")), 0o600);
        assert_eq!(mode(&cache), 0o700);
        let cfg = std::fs::read_to_string(h.path().join(".aws/config")).unwrap();
        assert_eq!(cfg, format!("{PROFILE}\n{SESSION}"));
        assert!(leftovers(h.path()).is_empty(), "{:?}", leftovers(h.path()));
        let r = run_local(h.path(), &plan(&t, 1_893_456_000));
        assert_eq!(
            (r.token, r.config),
            (TokenOutcome::Unchanged, ConfigOutcome::Unchanged)
        );
    }

    /// With a record of the host's config, an unchanged sync never fetches the file; a wrong
    /// record only costs the fetch.
    #[test]
    fn the_record_saves_the_fetch_and_a_wrong_one_is_harmless() {
        let h = home();
        let t = tok("2030-01-01T00:00:00Z");
        let mut p = plan(&t, 1_893_456_000);
        // A name no one uses: the record goes to this user's state directory, removed below.
        p.host = Some(format!(
            "unit-test-{}-{:?}",
            std::process::id(),
            std::time::Instant::now()
        ));
        assert_eq!(run_local(h.path(), &p).config, ConfigOutcome::Written);
        let rec = record::read(&p).unwrap();
        let cfg = std::fs::read(h.path().join(".aws/config")).unwrap();
        assert_eq!(rec.config, digest::of(&cfg));
        assert_eq!(run_local(h.path(), &p).config, ConfigOutcome::Unchanged);
        // Someone edits the host's file: the digest differs, the file is fetched and merged.
        std::fs::write(h.path().join(".aws/config"), b"[default]\nregion = x\n").unwrap();
        assert_eq!(run_local(h.path(), &p).config, ConfigOutcome::Written);
        let after = std::fs::read_to_string(h.path().join(".aws/config")).unwrap();
        assert!(
            after.starts_with("[default]\nregion = x\n\n[profile dev]"),
            "{after}"
        );
        record::write(&p, "1.2", "3.4");
        assert_eq!(run_local(h.path(), &p).config, ConfigOutcome::Unchanged);
        std::fs::remove_file(record::path(&p).unwrap()).unwrap();
    }

    #[test]
    fn a_newer_valid_remote_token_is_kept_and_sent_back_a_broken_one_replaced() {
        let h = home();
        let cache = h.path().join(".aws/sso/cache");
        std::fs::create_dir_all(&cache).unwrap();
        let newer = tok("2030-06-01T00:00:00-08:00");
        std::fs::write(cache.join("abc.json"), &newer).unwrap();
        let older = tok("2030-01-01T00:00:00Z");
        let r = run_local(h.path(), &plan(&older, 1_893_456_000));
        assert_eq!(r.token, TokenOutcome::RemoteNewer(newer.clone()));
        assert_eq!(std::fs::read(cache.join("abc.json")).unwrap(), newer);
        for broken in [
            &br#"{"startUrl": "https://x.awsapps.com/start", "expiresAt": "2031-01-01T00:00:00Z"}"#[..],
            br#"{"startUrl": "https://x.awsapps.com/start", "accessToken": "a", "expi"#,
            br#"{"startUrl": "https://other/start", "accessToken": "a", "expiresAt": "2031-01-01T00:00:00Z"}"#,
        ] {
            std::fs::write(cache.join("abc.json"), broken).unwrap();
            let r = run_local(h.path(), &plan(&older, 1_893_456_000));
            assert_eq!(r.token, TokenOutcome::Written);
            assert_eq!(std::fs::read(cache.join("abc.json")).unwrap(), older);
        }
    }

    #[test]
    fn no_config_leaves_the_config_alone() {
        let h = home();
        let t = tok("2030-01-01T00:00:00Z");
        let mut p = plan(&t, 1_893_456_000);
        p.sections.clear();
        let r = run_local(h.path(), &p);
        assert_eq!(r.config, ConfigOutcome::NotRequested);
        assert!(!h.path().join(".aws/config").exists());
    }

    #[test]
    fn configs_the_aws_cli_cannot_parse_are_left_alone() {
        let h = home();
        std::fs::create_dir_all(h.path().join(".aws")).unwrap();
        let cfg = "region = x\n[profile dev]\n";
        std::fs::write(h.path().join(".aws/config"), cfg).unwrap();
        let t = tok("2030-01-01T00:00:00Z");
        let r = run_local(h.path(), &plan(&t, 1_893_456_000));
        assert!(
            matches!(&r.config, ConfigOutcome::Skipped(m) if m.contains("cannot be parsed")),
            "{:?}",
            r.config
        );
        assert_eq!(r.token, TokenOutcome::Written);
        assert_eq!(
            std::fs::read_to_string(h.path().join(".aws/config")).unwrap(),
            cfg
        );
        assert!(leftovers(h.path()).is_empty());
    }

    #[test]
    fn unsafe_targets_are_refused_with_the_path_and_the_reason() {
        use std::os::unix::fs::PermissionsExt;
        let t = tok("2030-01-01T00:00:00Z");
        for m in [0o770, 0o702, 0o777, 0o1777] {
            let h = home();
            let cache = h.path().join(".aws/sso/cache");
            std::fs::create_dir_all(&cache).unwrap();
            std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(m)).unwrap();
            if m & 0o020 != 0 {
                // Writable by a group that is not the user's own (gid 1: daemon).
                std::os::unix::fs::chown(&cache, None, Some(1)).unwrap();
            }
            let r = run_local(h.path(), &plan(&t, 1_893_456_000));
            assert!(
                matches!(&r.token, TokenOutcome::Failed(w) if w.contains("~/.aws/sso/cache is writable by other users")),
                "{m:o}: {:?}",
                r.token
            );
            assert!(!cache.join("abc.json").exists());
        }
        let h = home();
        let cache = h.path().join(".aws/sso/cache");
        std::fs::create_dir_all(cache.join("abc.json")).unwrap();
        let r = run_local(h.path(), &plan(&t, 1_893_456_000));
        assert!(
            matches!(&r.token, TokenOutcome::Failed(w) if w.contains("abc.json is a directory")),
            "{:?}",
            r.token
        );
        assert!(
            std::fs::read_dir(cache.join("abc.json"))
                .unwrap()
                .next()
                .is_none()
        );
        let h = home();
        let cache = h.path().join(".aws/sso/cache");
        std::fs::create_dir_all(&cache).unwrap();
        let target = h.path().join("target");
        std::fs::write(&target, b"keep").unwrap();
        std::os::unix::fs::symlink(&target, cache.join("abc.json")).unwrap();
        std::os::unix::fs::symlink(&target, h.path().join(".aws/config")).unwrap();
        let r = run_local(h.path(), &plan(&t, 1_893_456_000));
        assert!(
            matches!(&r.token, TokenOutcome::Failed(w) if w.contains("symlink")),
            "{:?}",
            r.token
        );
        assert!(
            matches!(&r.config, ConfigOutcome::Skipped(w) if w.contains("~/.aws/config is a symlink")),
            "{:?}",
            r.config
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
    }

    /// A directory its group may write is fine when that group is the user's own (a user
    /// private group, umask 002: Ubuntu's users, Debian's sshd allows it too).
    #[test]
    fn a_user_private_group_may_write() {
        use std::os::unix::fs::PermissionsExt;
        // The tests run as a user whose primary group is named as the user, with no other
        // member (root here); skip the check otherwise, and say so.
        let own = std::process::Command::new("sh")
            .args(["-c", "getent group \"$(id -g)\""])
            .output()
            .unwrap();
        let line = String::from_utf8_lossy(&own.stdout).trim().to_owned();
        let user = String::from_utf8_lossy(
            &std::process::Command::new("id")
                .arg("-un")
                .output()
                .unwrap()
                .stdout,
        )
        .trim()
        .to_owned();
        let fields: Vec<&str> = line.split(':').collect();
        assert!(
            fields.len() == 4 && fields[0] == user && (fields[3].is_empty() || fields[3] == user),
            "this test needs a user private group: {line:?} for {user}"
        );
        let t = tok("2030-01-01T00:00:00Z");
        let h = home();
        let aws = h.path().join(".aws");
        std::fs::create_dir_all(aws.join("sso/cache")).unwrap();
        for d in [aws.clone(), aws.join("sso"), aws.join("sso/cache")] {
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o775)).unwrap();
        }
        let r = run_local(h.path(), &plan(&t, 1_893_456_000));
        assert_eq!(r.token, TokenOutcome::Written);
        assert_eq!(r.config, ConfigOutcome::Written);
    }

    /// Every directory from the home's child down is checked before anything is made or
    /// written beneath it: a `~/.aws` or `~/.aws/sso` that others can write (sticky or not)
    /// refuses the token (and, for `~/.aws`, the config), with the path and the reason, and
    /// nothing is created inside it; `get t` (the refresher's pull) refuses it too.
    #[test]
    fn every_directory_above_the_targets_is_checked_before_anything_is_made() {
        use std::os::unix::fs::PermissionsExt;
        let t = tok("2030-01-01T00:00:00Z");
        for (rel, m) in [
            (".aws", 0o777),
            (".aws", 0o1777),
            (".aws", 0o770),
            (".aws", 0o775),
            (".aws/sso", 0o777),
            (".aws/sso", 0o702),
        ] {
            let h = home();
            let dir = h.path().join(rel);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(m)).unwrap();
            if m & 0o020 != 0 {
                // Writable by a group that is not the user's own (gid 1: daemon).
                std::os::unix::fs::chown(&dir, None, Some(1)).unwrap();
            }
            let mut p = plan(&t, 1_893_456_000);
            p.wait_nonce = Some("n1");
            let r = run_local(h.path(), &p);
            let want = format!("~/{rel} is writable by other users");
            assert!(
                matches!(&r.token, TokenOutcome::Failed(w) if w.contains(&want)),
                "{rel} {m:o}: {:?}",
                r.token
            );
            if rel == ".aws" {
                assert!(
                    matches!(&r.config, ConfigOutcome::Skipped(w) if w.contains(&want)),
                    "{rel} {m:o}: {:?}",
                    r.config
                );
                assert!(!h.path().join(".aws/config").exists());
                assert!(!h.path().join(".aws/sso").exists(), "{rel} {m:o}");
            } else {
                assert_eq!(r.config, ConfigOutcome::Written, "{rel} {m:o}");
                assert!(!h.path().join(".aws/sso/cache").exists(), "{rel} {m:o}");
            }
            // The refresher's pull refuses it too (a token there may be someone else's).
            let cache = h.path().join(".aws/sso/cache");
            std::fs::create_dir_all(&cache).unwrap();
            std::fs::write(cache.join("abc.json"), &t).unwrap();
            let pulled = block(runner::converse(
                Via::Ssh(local_sh(h.path())),
                &program("abc.json", None),
                Duration::from_secs(10),
                async |ch| {
                    let r = get_token(ch).await;
                    ch.send(b"end\n").await?;
                    r
                },
            ));
            let e = format!("{:#}", pulled.unwrap_err());
            assert!(e.contains(&want), "{rel} {m:o}: {e}");
        }
        // A token already as ours, in a ~/.aws that others can write: still refused (the
        // next write would be), with the config.
        let h = home();
        let cache = h.path().join(".aws/sso/cache");
        std::fs::create_dir_all(&cache).unwrap();
        std::fs::write(cache.join("abc.json"), &t).unwrap();
        std::fs::write(
            h.path().join(".aws/config"),
            format!("{PROFILE}\n{SESSION}"),
        )
        .unwrap();
        std::fs::set_permissions(
            h.path().join(".aws"),
            std::fs::Permissions::from_mode(0o777),
        )
        .unwrap();
        let r = run_local(h.path(), &plan(&t, 1_893_456_000));
        assert!(
            matches!(&r.token, TokenOutcome::Failed(w) if w.contains("~/.aws is writable by other users")),
            "{:?}",
            r.token
        );
        assert!(
            matches!(&r.config, ConfigOutcome::Skipped(w) if w.contains("~/.aws is writable by other users")),
            "{:?}",
            r.config
        );
        // A file where a directory belongs: refused with its path.
        let h = home();
        std::fs::create_dir_all(h.path().join(".aws")).unwrap();
        std::fs::write(h.path().join(".aws/sso"), b"").unwrap();
        let r = run_local(h.path(), &plan(&t, 1_893_456_000));
        assert!(
            matches!(&r.token, TokenOutcome::Failed(w) if w.contains("~/.aws/sso is not a directory")),
            "{:?}",
            r.token
        );
        assert_eq!(r.config, ConfigOutcome::Written);
    }

    /// A host without `cksum`: an error that says so, and nothing written.
    #[test]
    fn a_host_without_cksum_says_so() {
        let h = home();
        let bin = h.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        for tool in [
            "sh", "wc", "cat", "ls", "id", "mkdir", "mv", "rm", "sync", "sleep",
        ] {
            let real = ["/bin", "/usr/bin"]
                .iter()
                .map(|d| Path::new(d).join(tool))
                .find(|p| p.exists())
                .unwrap();
            std::os::unix::fs::symlink(real, bin.join(tool)).unwrap();
        }
        let cache = h.path().join(".aws/sso/cache");
        std::fs::create_dir_all(&cache).unwrap();
        std::fs::write(cache.join("abc.json"), b"old").unwrap();
        let t = tok("2030-01-01T00:00:00Z");
        let mut sh = local_sh(h.path());
        sh.env("PATH", &bin);
        let e = block(run_command(
            sh,
            &plan(&t, 1_893_456_000),
            Duration::from_secs(30),
        ))
        .unwrap_err();
        let e = format!("{e:#}");
        assert!(e.contains("no `cksum`"), "{e}");
        assert!(!e.contains("kept changing"), "{e}");
        assert_eq!(std::fs::read(cache.join("abc.json")).unwrap(), b"old");
        assert!(!h.path().join(".aws/config").exists());
    }

    /// A lock left by a dead sync is taken over; one held by a live one is waited for; the
    /// temporaries of killed runs are removed.
    #[test]
    fn the_remote_lock_and_leftovers_recover_from_dead_owners() {
        let h = home();
        let cache = h.path().join(".aws/sso/cache");
        let lock = cache.join(".ssso-lock");
        std::fs::create_dir_all(&lock).unwrap();
        std::fs::write(lock.join("pid"), b"2147483646\n").unwrap();
        std::fs::write(cache.join(".ssso-tok.2147483645"), b"secret").unwrap();
        std::fs::write(cache.join(".ssso-tok.2147483644.abc"), b"secret").unwrap();
        let t = tok("2030-01-01T00:00:00Z");
        let r = run_local(h.path(), &plan(&t, 1_893_456_000));
        assert_eq!(r.token, TokenOutcome::Written);
        assert!(leftovers(h.path()).is_empty(), "{:?}", leftovers(h.path()));
        std::fs::create_dir_all(&lock).unwrap();
        std::fs::write(lock.join("pid"), format!("{}\n", std::process::id())).unwrap();
        let l2 = lock.clone();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(600));
            std::fs::remove_dir_all(&l2).unwrap();
        });
        let started = std::time::Instant::now();
        let newer = tok("2031-01-01T00:00:00Z");
        let r = run_local(h.path(), &plan(&newer, 1_924_992_000));
        assert!(started.elapsed() >= Duration::from_millis(500));
        assert_eq!(r.token, TokenOutcome::Written);
        releaser.join().unwrap();
        assert!(leftovers(h.path()).is_empty());
    }

    /// The refresher's API: pull writes nothing; push is a compare-and-swap.
    #[test]
    fn pull_and_push_token() {
        let h = home();
        let key = "abc.json";
        let p = program(key, None);
        let pull = || {
            block(runner::converse(
                Via::Ssh(local_sh(h.path())),
                &p,
                Duration::from_secs(10),
                async |ch| {
                    let r = get_token(ch).await;
                    ch.send(b"end\n").await?;
                    r
                },
            ))
            .unwrap()
        };
        let push = |bytes: &[u8], old: &str| {
            block(runner::converse(
                Via::Ssh(local_sh(h.path())),
                &p,
                Duration::from_secs(10),
                async |ch| {
                    let r = put_token(ch, bytes, old).await;
                    ch.send(b"end\n").await?;
                    r
                },
            ))
        };
        let none = pull();
        assert_eq!(none.bytes, None);
        assert_eq!(none.digest, digest::NONE);
        assert!(!h.path().join(".aws").exists());
        let a = b"{\"a\": \"\\\\ \xc3\xa9 \\n\"}\n\x01x".to_vec();
        assert_eq!(
            push(&a, digest::NONE).unwrap(),
            Pushed::Written {
                digest: digest::of(&a)
            }
        );
        let got = pull();
        assert_eq!(got.bytes.as_deref(), Some(&a[..]));
        assert_eq!(got.digest, digest::of(&a));
        // A push naming a stale digest writes nothing and returns what is there.
        let b = b"b".to_vec();
        assert_eq!(
            push(&b, digest::NONE).unwrap(),
            Pushed::Changed {
                current: Some(a.clone()),
                digest: digest::of(&a)
            }
        );
        assert_eq!(
            push(&b, &digest::of(&a)).unwrap(),
            Pushed::Written {
                digest: digest::of(&b)
            }
        );
        assert_eq!(pull().bytes.as_deref(), Some(&b"b"[..]));
        assert!(leftovers(h.path()).is_empty());
    }

    /// `add c`: the host's file, then the bytes sent, installed when the file is still the one
    /// named (else `changed`, nothing written); never for the token.
    #[test]
    fn add_appends_to_the_file_named() {
        let h = home();
        let p = program("abc.json", None);
        let talk = |script: Vec<u8>| {
            block(runner::converse(
                Via::Ssh(local_sh(h.path())),
                &p,
                Duration::from_secs(10),
                async |ch| {
                    ch.send(&script).await?;
                    ch.close().await;
                    let r = ch.turn().await?;
                    let a = Answer::from(&r, "c")?;
                    Ok(format!("{} {}", a.word(0), a.rest()).trim_end().to_owned())
                },
            ))
        };
        let add = |old: &[u8], added: &[u8], named: &str| {
            let new = [old, added].concat();
            let mut s = format!("add c {} {} {named}\n", new.len(), digest::of(&new)).into_bytes();
            s.extend_from_slice(added);
            talk(s)
        };
        let cfg = h.path().join(".aws/config");
        std::fs::create_dir_all(cfg.parent().unwrap()).unwrap();
        let old = b"[default]\r\nregion = x".to_vec();
        std::fs::write(&cfg, &old).unwrap();
        assert_eq!(
            add(&old, b"\r\n\r\n[profile dev]\r\n", "1.2").unwrap(),
            "changed ".to_owned() + &digest::of(&old)
        );
        assert_eq!(std::fs::read(&cfg).unwrap(), old);
        assert_eq!(
            add(&old, b"\r\n\r\n[profile dev]\r\n", &digest::of(&old)).unwrap(),
            "written"
        );
        assert_eq!(
            std::fs::read(&cfg).unwrap(),
            b"[default]\r\nregion = x\r\n\r\n[profile dev]\r\n"
        );
        assert!(leftovers(h.path()).is_empty(), "{:?}", leftovers(h.path()));
        let e = talk(b"add t 1 2.1 none\nx\n".to_vec()).unwrap_err();
        assert!(format!("{e:#}").contains("add is for c only"), "{e:#}");
    }

    /// `--access-token-only`: the refresh secrets never leave, every other field does.
    #[test]
    fn access_token_only_plan() {
        let cfg = crate::aws::config::AwsConfig::parse(&format!("{PROFILE}\n{SESSION}")).unwrap();
        let sso = cfg.sso_profile("dev").unwrap();
        let full = br#"{"startUrl":"https://x.awsapps.com/start","region":"eu-west-1","accessToken":"AT-SECRET","expiresAt":"2030-01-01T00:00:00Z","clientId":"cid","clientSecret":"CS-SECRET","registrationExpiresAt":"2030-06-01T00:00:00Z","refreshToken":"RT-SECRET"}"#;
        let tok = crate::aws::token::parse(full).unwrap();
        let opts = Options {
            access_token_only: true,
            ..Default::default()
        };
        let p = Plan::new(&sso, &tok, &opts, None).unwrap();
        let sent: serde_json::Value = serde_json::from_slice(&p.token).unwrap();
        assert!(sent.get("refreshToken").is_none() && sent.get("clientSecret").is_none());
        let stripped = crate::aws::token::parse(&p.token).unwrap();
        assert!(!stripped.refreshable);
        assert_eq!(stripped.expires_at, tok.expires_at);
        let p = Plan::new(&sso, &tok, &Options::default(), None).unwrap();
        assert_eq!(&*p.token, full.as_slice());
        let d = p.describe();
        for secret in ["AT-SECRET", "CS-SECRET", "RT-SECRET"] {
            assert!(!d.contains(secret), "{d}");
        }
        assert!(!program(p.cache_file_name, None).script().contains("SECRET"));
    }

    #[test]
    fn escaped_lines_carry_every_byte() {
        let all: Vec<u8> = (1..=255u8).collect();
        let line = escaped(&all);
        assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg("IFS= read -r l; printf %b \"$l\"")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(line.as_bytes())?;
                c.wait_with_output()
            })
            .unwrap();
        assert_eq!(out.stdout, all);
    }
}
