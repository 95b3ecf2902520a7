//! Syncing one SSO session's token file and its config sections to the remote.
//!
//! The whole sync is one remote `sh` script (sent through [`crate::ssh::remote::wrap`], so the login
//! shell does not matter) and one exchange over a channel of the master connection: ssso writes
//! the token file's bytes and the wanted config sections to the script's stdin straight away,
//! and the script answers with a short report. The token therefore never appears on a command
//! line, and when nothing changed the sync costs one round trip and writes nothing.
//!
//! On the remote the script needs only POSIX `sh` and the usual tools (`mkdir`, `mktemp`,
//! `head`, `tail`, `cmp`, `sed`, `mv`): it makes `~/.aws/sso/cache` (0700) if missing, writes
//! the token to a temporary file in that directory and renames it into place only when the
//! remote copy differs, keeps a remote token that is newer than ours (same start URL, later
//! `expiresAt`: its botocore refreshed it, and its refresh token may have rotated) and sends
//! that one back instead, and replaces the `[profile NAME]` and `[sso-session S]` sections of
//! `~/.aws/config` in place, every other byte untouched (CRLF files stay CRLF, a missing final
//! newline stays missing). When it is done it creates the marker file that the waiting session
//! polls for (named by the nonce; see [`crate::ssh::remote::session_script`]).
//!
//! When something has to change, and only then (the unchanged path runs no external program),
//! the script refuses a cache directory that others can write (`ls -ld`), takes a `mkdir` lock
//! (`.ssso-lock` in the cache, with the owner's pid; a lock whose owner is gone is taken over,
//! one held for more than about 10 s is broken), looks again, and writes. A config that
//! botocore's `configparser` would reject is reported and left alone; the check runs in the
//! script with shell built-ins, over the lines it reads anyway (known gaps: option names are
//! compared case-sensitively, only space, tab and CR count as whitespace, and undecodable
//! bytes are not detected).

use std::borrow::Cow;
use std::time::Duration;

use anyhow::{Result, bail};

use crate::ssh::runner::{self, Program, Reply, Via};

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
        })
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

/// What the remote did.
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
    /// The remote's copy is newer; its bytes (the caller checks and stores them locally).
    RemoteNewer(Vec<u8>),
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

/// Whether the token travels as one line (the AWS CLI writes compact JSON) and can be read
/// with the shell's own `read`, or as raw bytes through `head -c`.
fn token_is_one_line(token: &[u8]) -> bool {
    !token.is_empty() && !token.contains(&b'\n') && !token.contains(&0)
}

/// The bytes to write to the script's stdin: the token, the sections, an end marker.
pub fn input(plan: &Plan) -> Vec<u8> {
    let mut v = plan.token.to_vec();
    if token_is_one_line(&plan.token) {
        v.push(b'\n');
    }
    for (_, text) in &plan.sections {
        v.extend_from_slice(text.as_bytes());
    }
    v.extend_from_slice(b"ssso-end\n");
    v
}

/// 14 digits, YYYYMMDDHHMMSS, as the remote script compares them.
fn digits(secs: i64) -> String {
    crate::time::format_timestamp(secs)
        .chars()
        .filter(char::is_ascii_digit)
        .take(14)
        .collect()
}

/// The remote program (see the file for its parameters).
const SYNC_SH: &str = include_str!("sync.sh");

/// Test-only: `SSSO_TEST_SYNC_STALL=POINT:SECONDS` makes the remote script sleep at POINT
/// (`read`: after reading ssso's input; `token`: with the new token in its temporary file,
/// before the rename; `config`: likewise for ~/.aws/config), so that the tests can cut the
/// connection in the middle of a sync. Unset or malformed (the only case in production): the
/// script's `hook` is a no-op. Not documented for users.
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

/// The remote program with its parameters (none of them secret).
pub fn program(plan: &Plan) -> Program {
    let lines = |n: usize| {
        plan.sections
            .get(n)
            .map_or(0, |(_, t)| t.bytes().filter(|&b| b == b'\n').count())
    };
    let header = |n: usize| plan.sections.get(n).map(|(h, _)| *h).unwrap_or("");
    let mode = if token_is_one_line(&plan.token) {
        "line"
    } else {
        "bytes"
    };
    let (point, secs) = test_stall();
    Program::new("sync", 3, SYNC_SH)
        .param("K", plan.cache_file_name)
        .param("TM", mode)
        .param("TL", plan.token.len().to_string())
        .param("N1", lines(0).to_string())
        .param("N2", lines(1).to_string())
        .param("LX", digits(plan.expires_at))
        .param("LU", plan.start_url.unwrap_or(""))
        .param("N", plan.wait_nonce.unwrap_or(""))
        .param("CFG", u8::from(!plan.sections.is_empty()).to_string())
        .param("TS", point)
        .param("TSS", secs.to_string())
        .param("H1", header(0))
        .param("H2", header(1))
}

/// Reads the program's reply. Whatever comes before it is the noise of the remote's shell
/// startup files (a `.cshrc` or `.bashrc` that prints) and is ignored.
pub fn parse_report(out: &[u8]) -> Result<Report> {
    let reply = Reply::parse(out, "sync", 3)?;
    if !reply.done {
        bail!("the sync stopped before it finished (connection lost?)");
    }
    let mut report = Report {
        aws_missing: reply.get("aws") == Some("missing"),
        ..Report::default()
    };
    if let Some(bytes) = reply.blob("token-newer") {
        report.token = TokenOutcome::RemoteNewer(bytes.to_vec());
    }
    for (key, value) in reply.lines() {
        match (key, value) {
            ("token", "written") => report.token = TokenOutcome::Written,
            ("token", "unchanged") => report.token = TokenOutcome::Unchanged,
            ("config", "written") => report.config = ConfigOutcome::Written,
            ("config", "unchanged") => report.config = ConfigOutcome::Unchanged,
            ("config", why) => {
                let why = why.strip_prefix("skipped ").unwrap_or(why);
                report.config = ConfigOutcome::Skipped(why.to_owned());
            }
            _ => {}
        }
    }
    Ok(report)
}

/// Runs the sync over the master at `ctl`. `timeout` bounds the whole exchange.
pub async fn run(ctl: &std::path::Path, plan: &Plan<'_>, timeout: Duration) -> Result<Report> {
    exchange(Via::Master(ctl), plan, timeout).await
}

/// Runs the sync as the remote command of `ssh` (a whole connection of its own, no master):
/// `ssh` is the command up to and including the destination. `timeout` bounds it all.
pub async fn run_command(
    ssh: std::process::Command,
    plan: &Plan<'_>,
    timeout: Duration,
) -> Result<Report> {
    exchange(Via::Ssh(ssh), plan, timeout).await
}

async fn exchange(via: Via<'_>, plan: &Plan<'_>, timeout: Duration) -> Result<Report> {
    crate::ui::debug(plan.describe());
    let timeout = std::env::var(TEST_TIMEOUT_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(timeout, Duration::from_secs);
    let program = program(plan);
    let out = runner::run(via, &program, &input(plan), timeout).await?;
    if let Some(why) = out.ssh_failure(&program) {
        bail!("{why}");
    }
    parse_report(&out.stdout).map_err(|e| {
        let err = String::from_utf8_lossy(&out.stderr);
        match err.trim().lines().last() {
            Some(last) => e.context(format!("remote said: {last}")),
            None => e,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::process::{Command, Stdio};
    use std::time::Duration;

    /// Runs the sync script locally with `sh`, HOME pointing at `home`.
    fn run_local(home: &Path, plan: &Plan) -> Report {
        run_local_result(home, plan).unwrap()
    }

    /// [`run_local`], the report's error (an `error` line) as an error.
    fn run_local_result(home: &Path, plan: &Plan) -> Result<Report> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(program(plan).script())
            .env("HOME", home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&input(plan)).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        parse_report(&out.stdout)
    }

    fn home() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    const PROFILE: &str = "[profile dev]\nsso_session = corp\nregion = eu-west-1\n";
    const SESSION: &str =
        "[sso-session corp]\nsso_start_url = https://x.awsapps.com/start\nsso_region = eu-west-1\n";

    fn plan<'a>(token: &'a [u8], expires_at: i64) -> Plan<'a> {
        Plan {
            cache_file_name: "abc.json",
            token: Cow::Borrowed(token),
            expires_at,
            start_url: Some("https://x.awsapps.com/start"),
            sections: vec![("profile dev", PROFILE), ("sso-session corp", SESSION)],
            wait_nonce: None,
        }
    }

    fn tok(exp: &str) -> Vec<u8> {
        format!(r#"{{"startUrl": "https://x.awsapps.com/start", "accessToken": "secret", "expiresAt": "{exp}"}}"#).into_bytes()
    }

    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn first_sync_creates_everything_private() {
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
        let leftovers: Vec<_> = std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from("abc.json")]);
        // Second run: nothing to do.
        let r = run_local(h.path(), &plan(&t, 1_893_456_000));
        assert_eq!(
            (r.token, r.config),
            (TokenOutcome::Unchanged, ConfigOutcome::Unchanged)
        );
    }

    #[test]
    fn config_sections_are_replaced_in_place_keeping_every_other_byte() {
        let h = home();
        std::fs::create_dir_all(h.path().join(".aws")).unwrap();
        let before = "# top\r\n[default]\r\nregion = us-east-1\r\n\r\n[ profile  dev ]\r\nsso_session = old\r\ns3 =\r\n  max = 1\r\n\r\n# about other\r\n[profile other]\r\nregion=x\r\n[sso-session corp]\r\nsso_start_url = old\r\n[sso-session  corp]\r\ndup = 1\r\n[last]\r\nno = newline";
        std::fs::write(h.path().join(".aws/config"), before).unwrap();
        let t = tok("2030-01-01T00:00:00Z");
        let r = run_local(h.path(), &plan(&t, 1_893_456_000));
        assert_eq!(r.config, ConfigOutcome::Written);
        let after = std::fs::read_to_string(h.path().join(".aws/config")).unwrap();
        let crlf = |s: &str| s.replace('\n', "\r\n");
        let want = format!(
            "# top\r\n[default]\r\nregion = us-east-1\r\n\r\n{}\r\n# about other\r\n[profile other]\r\nregion=x\r\n{}[last]\r\nno = newline",
            crlf(PROFILE),
            crlf(SESSION)
        );
        assert_eq!(after, want);
        let r = run_local(h.path(), &plan(&t, 1_893_456_000));
        assert_eq!(r.config, ConfigOutcome::Unchanged);
    }

    #[test]
    fn missing_sections_are_appended_after_a_missing_final_newline() {
        let h = home();
        std::fs::create_dir_all(h.path().join(".aws")).unwrap();
        std::fs::write(h.path().join(".aws/config"), "[default]\nregion = x").unwrap();
        let t = tok("2030-01-01T00:00:00Z");
        run_local(h.path(), &plan(&t, 1_893_456_000));
        let after = std::fs::read_to_string(h.path().join(".aws/config")).unwrap();
        assert_eq!(
            after,
            format!("[default]\nregion = x\n\n{PROFILE}\n{SESSION}")
        );
    }

    #[test]
    fn a_newer_remote_token_is_kept_and_sent_back() {
        let h = home();
        let cache = h.path().join(".aws/sso/cache");
        std::fs::create_dir_all(&cache).unwrap();
        let newer = tok("2030-06-01T00:00:00Z");
        std::fs::write(cache.join("abc.json"), &newer).unwrap();
        let older = tok("2030-01-01T00:00:00Z");
        let r = run_local(h.path(), &plan(&older, 1_893_456_000));
        assert_eq!(r.token, TokenOutcome::RemoteNewer(newer.clone()));
        assert_eq!(std::fs::read(cache.join("abc.json")).unwrap(), newer);
        // An older remote token is replaced.
        let newest = tok("2031-01-01T00:00:00Z");
        let r = run_local(h.path(), &plan(&newest, 1_924_992_000));
        assert_eq!(r.token, TokenOutcome::Written);
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

    /// Configs that botocore's configparser rejects are left byte for byte, with the reason.
    #[test]
    fn configs_the_aws_cli_cannot_parse_are_left_alone() {
        let cases: &[(&str, &str)] = &[
            ("region = x\n[profile dev]\n", "before the first [section]"),
            ("  region = x\n[default]\n", "before the first [section]"),
            (
                "[default]\nregion = x\n[default]\n",
                "[default] appears twice",
            ),
            (
                "[profile dev]\nx = 1\n[profile dev]\n",
                "[profile dev] appears twice",
            ),
            (
                "[default]\r\nregion = a\r\nregion = b\r\n",
                "region is set twice",
            ),
            (
                "[default]\njust words\n",
                "neither a [section] nor key = value",
            ),
            ("[default]\n = x\n", "a value without a key"),
            ("[profile dev\nregion = x\n", "before the first [section]"),
            ("[default]\n[profile dev\n", "neither a [section]"),
        ];
        for (cfg, why) in cases {
            let h = home();
            std::fs::create_dir_all(h.path().join(".aws")).unwrap();
            std::fs::write(h.path().join(".aws/config"), cfg).unwrap();
            let t = tok("2030-01-01T00:00:00Z");
            let r = run_local(h.path(), &plan(&t, 1_893_456_000));
            match &r.config {
                ConfigOutcome::Skipped(m) => {
                    assert!(
                        m.contains("cannot be parsed") && m.contains(why),
                        "{cfg:?}: {m}"
                    )
                }
                other => panic!("{cfg:?}: {other:?}"),
            }
            assert_eq!(r.token, TokenOutcome::Written, "{cfg:?}");
            assert_eq!(
                std::fs::read_to_string(h.path().join(".aws/config")).unwrap(),
                *cfg
            );
            assert!(leftovers(h.path()).is_empty(), "{cfg:?}");
        }
    }

    /// What botocore accepts is edited as usual.
    #[test]
    fn configs_the_aws_cli_accepts_are_edited() {
        let cases = [
            "# c\n; c\n\n[default]\nregion = x\n",
            "[default]\ns3 =\n  max = 1\n\n  region = 1\n",
            "[default]\nregion:x\n\t# indented comment\n[DEFAULT]\n[DEFAULT]\n",
            "[profile  dev]\nregion = x\n[other] trailing\nregion = y\n",
            "",
        ];
        for cfg in cases {
            let h = home();
            std::fs::create_dir_all(h.path().join(".aws")).unwrap();
            std::fs::write(h.path().join(".aws/config"), cfg).unwrap();
            let t = tok("2030-01-01T00:00:00Z");
            let r = run_local(h.path(), &plan(&t, 1_893_456_000));
            assert_eq!(r.config, ConfigOutcome::Written, "{cfg:?}");
            let after = std::fs::read_to_string(h.path().join(".aws/config")).unwrap();
            assert_eq!(after.matches("[profile dev]").count(), 1, "{after}");
            assert_eq!(
                run_local(h.path(), &plan(&t, 1_893_456_000)).config,
                ConfigOutcome::Unchanged
            );
        }
    }

    /// `tests/corpus/remote/`: each remote config is edited (our sections once, a second run
    /// changes nothing) or, when the AWS CLI could not parse it, left byte for byte.
    #[test]
    fn remote_config_corpus() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/remote");
        let mut n = 0;
        for e in std::fs::read_dir(dir).unwrap() {
            let f = e.unwrap().path();
            let before = std::fs::read(&f).unwrap();
            let h = home();
            std::fs::create_dir_all(h.path().join(".aws")).unwrap();
            std::fs::write(h.path().join(".aws/config"), &before).unwrap();
            let t = tok("2030-01-01T00:00:00Z");
            let r = run_local(h.path(), &plan(&t, 1_893_456_000));
            let after = std::fs::read(h.path().join(".aws/config")).unwrap();
            match r.config {
                ConfigOutcome::Skipped(why) => {
                    assert!(why.contains("cannot be parsed"), "{f:?}: {why}");
                    assert_eq!(after, before, "{f:?}");
                }
                ConfigOutcome::Written => {
                    let a = String::from_utf8_lossy(&after);
                    assert_eq!(a.matches("[profile dev]").count(), 1, "{f:?}");
                    assert_eq!(a.matches("[sso-session corp]").count(), 1, "{f:?}");
                    let again = run_local(h.path(), &plan(&t, 1_893_456_000));
                    assert_eq!(again.config, ConfigOutcome::Unchanged, "{f:?}");
                }
                other => panic!("{f:?}: {other:?}"),
            }
            assert!(leftovers(h.path()).is_empty(), "{f:?}");
            n += 1;
        }
        assert!(n >= 15);
    }

    #[test]
    fn unsafe_cache_directories_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let t = tok("2030-01-01T00:00:00Z");
        for m in [0o770, 0o702, 0o777, 0o1777] {
            let h = home();
            let cache = h.path().join(".aws/sso/cache");
            std::fs::create_dir_all(&cache).unwrap();
            std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(m)).unwrap();
            let e = run_local_result(h.path(), &plan(&t, 1_893_456_000)).unwrap_err();
            assert!(
                e.to_string().contains("writable by other users"),
                "{m:o}: {e}"
            );
            assert!(!cache.join("abc.json").exists());
        }
        // Symlinks at the directory or at the token file are not followed.
        let h = home();
        let elsewhere = h.path().join("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::fs::create_dir_all(h.path().join(".aws/sso")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, h.path().join(".aws/sso/cache")).unwrap();
        let e = run_local_result(h.path(), &plan(&t, 1_893_456_000)).unwrap_err();
        assert!(e.to_string().contains("symlink"), "{e}");
        assert!(std::fs::read_dir(&elsewhere).unwrap().next().is_none());
        let h = home();
        let cache = h.path().join(".aws/sso/cache");
        std::fs::create_dir_all(&cache).unwrap();
        let target = h.path().join("target");
        std::fs::write(&target, b"keep").unwrap();
        std::os::unix::fs::symlink(&target, cache.join("abc.json")).unwrap();
        let e = run_local_result(h.path(), &plan(&t, 1_893_456_000)).unwrap_err();
        assert!(e.to_string().contains("symlink"), "{e}");
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
    }

    /// A lock left by a dead sync is taken over; one held by a live one is waited for.
    #[test]
    fn the_remote_lock_recovers_from_dead_owners() {
        let h = home();
        let cache = h.path().join(".aws/sso/cache");
        let lock = cache.join(".ssso-lock");
        std::fs::create_dir_all(&lock).unwrap();
        // A pid that is surely not running.
        std::fs::write(lock.join("pid"), b"2147483646\n").unwrap();
        let t = tok("2030-01-01T00:00:00Z");
        let r = run_local(h.path(), &plan(&t, 1_893_456_000));
        assert_eq!(r.token, TokenOutcome::Written);
        assert!(!lock.exists());
        // A live owner (this test process): the sync waits until it lets go.
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
        assert!(!lock.exists());
        assert!(leftovers(h.path()).is_empty());
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
        for k in [
            "startUrl",
            "region",
            "accessToken",
            "expiresAt",
            "clientId",
            "registrationExpiresAt",
        ] {
            assert!(sent.get(k).is_some(), "{k}");
        }
        let stripped = crate::aws::token::parse(&p.token).unwrap();
        assert!(!stripped.refreshable);
        assert_eq!(stripped.expires_at, tok.expires_at);
        // Default: byte for byte.
        let p = Plan::new(&sso, &tok, &Options::default(), None).unwrap();
        assert_eq!(&*p.token, full.as_slice());
        // -v's description hides every secret.
        let d = p.describe();
        for secret in ["AT-SECRET", "CS-SECRET", "RT-SECRET"] {
            assert!(!d.contains(secret), "{d}");
        }
        assert!(d.contains("cid") && d.contains("[profile dev]"), "{d}");
        assert!(!program(&p).script().contains("SECRET"));
    }

    #[test]
    fn report_parsing() {
        assert!(parse_report(b"").is_err());
        assert!(parse_report(b"ssso-sync 2\ntoken written\ndone\n").is_err());
        let e = parse_report(
            b"ssso-sync 3\nerror cannot create ~/.aws/sso/cache: Read-only file system\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("Read-only"), "{e}");
        let r = parse_report(
            b"ssso-sync 3\naws missing\n:token-newer 3\nabc\nconfig unchanged\ndone\n",
        )
        .unwrap();
        assert!(r.aws_missing);
        assert_eq!(r.token, TokenOutcome::RemoteNewer(b"abc".to_vec()));
        // Startup-file noise before the report, with or without a final newline, even when it
        // looks like report lines.
        for noise in [
            &b"Welcome!\ntoken written\nerror x\ndone\n"[..],
            b"no newline at the end",
            b"\x1b[31mcolour\x1b[0m\r\n\0binary\xff",
        ] {
            let mut out = noise.to_vec();
            out.extend_from_slice(b"ssso-sync 3\ntoken unchanged\nconfig unchanged\ndone\n");
            let r = parse_report(&out).unwrap();
            assert_eq!(r.token, TokenOutcome::Unchanged);
            assert_eq!(r.config, ConfigOutcome::Unchanged);
        }
        // Noise only: the script never ran.
        let e = parse_report(b"sh: Command not found.\n").unwrap_err();
        assert!(e.to_string().contains("/bin/sh"), "{e}");
        assert!(parse_report(b"ssso-sync 3\n:token-newer 99\nabc").is_err());
        assert!(parse_report(b"ssso-sync 3\n:token-newer x\n").is_err());
        // Cut short: no `done`.
        let e = parse_report(b"ssso-sync 3\ntoken written\n").unwrap_err();
        assert!(e.to_string().contains("stopped before it finished"), "{e}");
    }
}
