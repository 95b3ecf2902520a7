//! The host side of `--forward`: the two one-shot programs that set a session up over its own
//! connection, the helper they install, and the one decision they need, the edit of the host's
//! `~/.aws/config` (made here, in Rust, and written there only if the file did not change
//! meanwhile).
//!
//! [`start`] runs, over the session's master:
//! 1. `prepare.sh` (the secret on its stdin): a fresh 0700 directory under the host's `/tmp`
//!    with the secret in a 0600 file, a watcher that removes both when the connection ends,
//!    the helper `~/.aws/ssso/credential-process` (`credential-process.sh`), and the removal
//!    of a token file that file-sync mode left for this profile; it answers with the
//!    directory, the helper's path, whether curl or python3 can serve the helper, and the
//!    current `~/.aws/config`;
//! 2. `ssh -O forward -R DIR/s:LOCAL` on the live master (the mux protocol, no extra process):
//!    sshd binds the socket as the user (`StreamLocalBindMask` 0177) in the 0700 directory;
//! 3. `activate.sh` (the new `~/.aws/config` on its stdin): writes it when the file is still
//!    the one step 1 read (else step 3 runs again on the new text), points
//!    `~/.aws/ssso/forward/PROFILE/SESSION` at the directory, and releases the waiting session.
//!
//! The profile section forward mode writes ([`forward_section`]) keeps every setting of the
//! local profile except those that choose where credentials come from (`sso_*`, keys, roles)
//! and adds `credential_process`: botocore's provider chain then has nothing before the
//! process provider for this profile, and switching the host back to file-sync mode (whose
//! sync replaces the whole section) leaves a working profile again.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::Secret;
use crate::aws::config::{AwsConfig, SsoProfile};
use crate::ssh::runner::{self, Program, Reply, Via};

/// The bound on one step on the host.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);

const PREPARE: &str = include_str!("prepare.sh");
const ACTIVATE: &str = include_str!("activate.sh");
/// The helper installed on the host as `~/.aws/ssso/credential-process`.
pub const HELPER: &str = include_str!("credential-process.sh");

/// Keys of the local profile that are not carried to the host in forward mode: they choose
/// where credentials come from (besides any `sso_*` key).
const CREDENTIAL_SOURCES: &[&str] = &[
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "credential_process",
    "role_arn",
    "source_profile",
    "credential_source",
    "web_identity_token_file",
];

/// Forward mode names a directory after the profile and writes it into `credential_process`:
/// letters, digits and `. _ @ + -` only.
pub fn check_profile_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._@+-".contains(&b));
    if !ok {
        bail!(
            "--forward works with profile names of letters, digits and . _ @ + - only, not {name:?}; use another profile name"
        );
    }
    Ok(())
}

/// The `[profile NAME]` section forward mode writes on the host: the local profile's settings
/// without the credential-source keys, and `credential_process` = the helper. `eol` is the
/// host file's line end.
pub fn forward_section(local: &SsoProfile, helper: &str, eol: &str) -> Result<String> {
    if helper.is_empty()
        || !helper.starts_with('/')
        || !helper
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._+@-".contains(&b))
    {
        bail!(
            "the host's home directory gives the helper the path {helper:?}, which cannot go into credential_process unquoted; --forward needs a home path of letters, digits and / . _ + @ -"
        );
    }
    let name = &local.profile;
    let mut out = if name == "default" {
        format!("[default]{eol}")
    } else {
        format!("[profile {name}]{eol}")
    };
    out.push_str(&format!(
        "# written by ssso --forward: credentials come from your ssso session while it is connected{eol}credential_process = {helper} {name}{eol}"
    ));
    let mut keep = true;
    for line in local.profile_section.text.lines() {
        let line = line.trim_end_matches('\r');
        let trimmed = line.trim_start_matches([' ', '\t']);
        if trimmed.is_empty() || trimmed.starts_with(['#', ';']) {
            continue;
        }
        if trimmed.starts_with('[') && line == trimmed {
            // A section header (the profile may be split over several in the file).
            keep = false;
            continue;
        }
        if line != trimmed {
            // A continuation line: goes with its property.
            if keep {
                out.push_str(line);
                out.push_str(eol);
            }
            continue;
        }
        let key = trimmed
            .split(['=', ':'])
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        keep = !(key.starts_with("sso_") || CREDENTIAL_SOURCES.contains(&key.as_str()));
        if keep {
            out.push_str(line);
            out.push_str(eol);
        }
    }
    Ok(out)
}

/// The host's `~/.aws/config` with the profile in forward form ([`forward_section`]) in place
/// of its sections (the first one replaced, any others removed, every other byte kept), or
/// appended; `None` when it is already so.
pub fn edit_config(
    current: Option<&str>,
    local: &SsoProfile,
    helper: &str,
) -> Result<Option<String>> {
    let text = current.unwrap_or("");
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let section = forward_section(local, helper, eol)?;
    let cfg = AwsConfig::parse(text).map_err(|e| {
        anyhow::anyhow!(
            "the host's ~/.aws/config cannot be parsed ({}); fix it there: --forward writes [profile {}] into it",
            e.root_cause(),
            local.profile
        )
    })?;
    let wanted = |h: &str| {
        if local.profile == "default" {
            h == "default" || h == "profile default"
        } else {
            h == format!("profile {}", local.profile)
        }
    };
    let mut spans: Vec<std::ops::Range<usize>> = cfg
        .sections()
        .into_iter()
        .filter(|s| wanted(&s.header))
        .flat_map(|s| s.spans)
        .collect();
    spans.sort_by_key(|r| r.start);
    spans.dedup();
    let new = if spans.is_empty() {
        let mut t = text.to_owned();
        if !t.is_empty() {
            if !t.ends_with('\n') {
                t.push_str(eol);
            }
            t.push_str(eol);
        }
        t.push_str(&section);
        t
    } else {
        let mut t = String::with_capacity(text.len() + section.len());
        let mut at = 0;
        for (i, r) in spans.iter().enumerate() {
            t.push_str(&text[at..r.start]);
            if i == 0 {
                t.push_str(&section);
            }
            at = r.end;
            // A span at the end of a file without a final newline: the section brings one.
            if text[at..].starts_with('\n') && !text[r.clone()].ends_with('\n') {
                at += 1;
            }
        }
        t.push_str(&text[at..]);
        t
    };
    Ok((new != text).then_some(new))
}

/// Whether the host's config `text` has the profile in forward form: its section's
/// `credential_process` is ssso's helper for this profile (what `ssso doctor` calls the host's
/// mode).
pub fn is_forward_profile(text: &str, profile: &str) -> bool {
    let Ok(cfg) = AwsConfig::parse(text) else {
        return false;
    };
    let wanted = if profile == "default" {
        "default".to_owned()
    } else {
        format!("profile {profile}")
    };
    let suffix = format!("/.aws/ssso/credential-process {profile}");
    cfg.sections()
        .iter()
        .filter(|s| s.header == wanted || (profile == "default" && s.header == "profile default"))
        .flat_map(|s| s.text.lines().map(str::to_owned).collect::<Vec<_>>())
        .any(|l| {
            let l = l.trim();
            l.strip_prefix("credential_process")
                .map(|r| r.trim_start())
                .and_then(|r| r.strip_prefix('='))
                .is_some_and(|v| v.trim().ends_with(&suffix))
        })
}

/// Step 1, with its parameters.
pub fn prepare_program(profile: &str, session: &str, token_file: &str) -> Program {
    Program::new("forward-prepare", 1, PREPARE)
        .param("PROFILE", profile)
        .param("SESSION", session)
        .param("TOKEN_FILE", token_file)
        .param("HELPER", HELPER)
}

/// What step 3 does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activate<'a> {
    pub profile: &'a str,
    pub session: &'a str,
    pub dir: &'a str,
    /// false: remove the directory, release the session, nothing else.
    pub activate: bool,
    pub sum: &'a str,
    /// The new `~/.aws/config`, or None to leave it.
    pub config: Option<&'a str>,
    pub nonce: Option<&'a str>,
}

/// Step 3, with its parameters.
pub fn activate_program(a: &Activate) -> Program {
    Program::new("forward-activate", 1, ACTIVATE)
        .param("PROFILE", a.profile)
        .param("SESSION", a.session)
        .param("DIR", a.dir)
        .param("MODE", if a.activate { "activate" } else { "abort" })
        .param("SUM", a.sum)
        .param("CL", a.config.map_or(-1, |c| c.len() as i64).to_string())
        .param("NONCE", a.nonce.unwrap_or(""))
}

/// The reply of `program`, which must have finished.
fn finished(out: &runner::Output, name: &str) -> Result<Reply> {
    let reply = Reply::parse(&out.stdout, name, 1).map_err(|e| {
        let err = String::from_utf8_lossy(&out.stderr);
        match err.lines().rev().find(|l| !l.trim().is_empty()) {
            Some(last) if !out.stdout.windows(5).any(|w| w == b"ssso-") => {
                anyhow::anyhow!("{e} ({})", last.trim())
            }
            _ => e,
        }
    })?;
    if !reply.done {
        bail!("the host's program stopped before it finished (connection lost?)");
    }
    Ok(reply)
}

/// What step 1 found and made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// `curl` or `python3`, or None when the host has neither.
    pub client: Option<String>,
    pub dir: String,
    pub helper: String,
    pub token_removed: bool,
    pub config: Option<String>,
    pub sum: String,
}

fn parse_prepared(out: &runner::Output) -> Result<Prepared> {
    let r = finished(out, "forward-prepare")?;
    let config = r
        .blob("config")
        .map(|b| String::from_utf8(b.to_vec()))
        .transpose()
        .context("the host's ~/.aws/config is not valid UTF-8")?;
    let p = Prepared {
        client: r.get("client").filter(|c| *c != "none").map(str::to_owned),
        dir: r.get("dir").unwrap_or_default().to_owned(),
        helper: r.get("helper").unwrap_or_default().to_owned(),
        token_removed: r.has("token-removed"),
        config,
        sum: r.get("sum").unwrap_or_default().to_owned(),
    };
    if p.dir.is_empty() || p.helper.is_empty() || p.sum.is_empty() {
        bail!("the host's answer is incomplete");
    }
    Ok(p)
}

/// What step 3 did.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Activated {
    /// Config `written` or `unchanged`.
    Done(String),
    /// The config changed since it was read: its current text (None: no file) and sum.
    Changed(Option<String>, String),
}

fn parse_activated(out: &runner::Output) -> Result<Activated> {
    let r = finished(out, "forward-activate")?;
    let config = r.get("config").unwrap_or_default().to_owned();
    if config == "changed" {
        let sum = r.get("sum").unwrap_or("missing").to_owned();
        let text = String::from_utf8_lossy(r.blob("current").unwrap_or_default()).into_owned();
        return Ok(Activated::Changed((sum != "missing").then_some(text), sum));
    }
    Ok(Activated::Done(config))
}

/// Runs one program over the master at `ctl`.
async fn run(ctl: &Path, program: &Program, input: &[u8]) -> Result<runner::Output> {
    runner::run(Via::Master(ctl), program, input, STEP_TIMEOUT).await
}

/// What one forward session needs from the connect path.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    pub local: &'a SsoProfile,
    /// 16 hex characters ([`super::session_id`]).
    pub session: &'a str,
    /// The waiting session's marker, if one waits.
    pub nonce: Option<&'a str>,
}

/// A forward that is up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// The host-side directory (socket `s`, `secret`).
    pub dir: String,
    /// `curl` or `python3`.
    pub client: String,
    /// A token file left by file-sync mode was removed from the host.
    pub token_removed: bool,
    /// `~/.aws/config` was `written` or `unchanged`.
    pub config: String,
}

/// Sets the forward up over the master at `ctl`: steps 1 to 3 of the module doc. On any
/// failure after step 1, the host's directory is removed and the waiting session released.
pub async fn start(
    ctl: &Path,
    plan: &Plan<'_>,
    secret: &Secret,
    local_socket: &Path,
    timeout: Duration,
) -> Result<Started> {
    match tokio::time::timeout(timeout, steps(ctl, plan, secret, local_socket)).await {
        Ok(r) => r,
        Err(_) => Err(anyhow::anyhow!(
            "the host did not answer within {}s",
            timeout.as_secs()
        )),
    }
}

/// Asks the live master at `ctl` to forward `remote` (on the host) to `local` (here).
async fn remote_forward(ctl: &Path, remote: &Path, local: &Path) -> Result<()> {
    let session = openssh::Session::resume_mux(ctl.to_path_buf().into_boxed_path(), None);
    let r = session
        .request_port_forward(
            openssh::ForwardType::Remote,
            openssh::Socket::UnixSocket {
                path: remote.into(),
            },
            openssh::Socket::UnixSocket { path: local.into() },
        )
        .await;
    // The master belongs to the user's session: never let the Session close it.
    let _ = session.detach();
    r.map_err(|e| {
        anyhow::anyhow!(
            "the host's sshd refused to forward a unix socket ({e}); --forward needs AllowStreamLocalForwarding (the default) there"
        )
    })
}

async fn steps(
    ctl: &Path,
    plan: &Plan<'_>,
    secret: &Secret,
    local_socket: &Path,
) -> Result<Started> {
    let profile = plan.local.profile.as_str();
    check_profile_name(profile)?;
    let abort = |dir: String| async move {
        let a = Activate {
            profile,
            session: plan.session,
            dir: &dir,
            activate: false,
            sum: "",
            config: None,
            nonce: plan.nonce,
        };
        let _ = run(ctl, &activate_program(&a), b"").await;
    };
    let program = prepare_program(profile, plan.session, &plan.local.cache_file_name)
        .param("NONCE", plan.nonce.unwrap_or(""));
    let mut input = secret.expose().as_bytes().to_vec();
    input.push(b'\n');
    let prepared = match run(ctl, &program, &input)
        .await
        .and_then(|o| parse_prepared(&o))
    {
        Ok(p) => p,
        Err(e) => {
            abort(String::new()).await;
            return Err(e);
        }
    };
    crate::ui::debug(format_args!(
        "forward step 1 done on the host: {} (helper client {:?})",
        prepared.dir, prepared.client
    ));
    let Some(client) = prepared.client.clone() else {
        abort(prepared.dir).await;
        bail!(
            "the host has neither curl (7.40 or later) nor python3, one of which --forward needs there; install one"
        );
    };
    let remote_socket = format!("{}/s", prepared.dir);
    if let Err(e) = remote_forward(ctl, Path::new(&remote_socket), local_socket).await {
        abort(prepared.dir).await;
        return Err(e);
    }
    crate::ui::debug(format_args!(
        "forwarding {remote_socket} to {}",
        local_socket.display()
    ));
    let (mut current, mut sum) = (prepared.config.clone(), prepared.sum.clone());
    for _ in 0..3 {
        let new = match edit_config(current.as_deref(), plan.local, &prepared.helper) {
            Ok(n) => n,
            Err(e) => {
                abort(prepared.dir).await;
                return Err(e);
            }
        };
        let a = Activate {
            profile,
            session: plan.session,
            dir: &prepared.dir,
            activate: true,
            sum: &sum,
            config: new.as_deref(),
            nonce: plan.nonce,
        };
        let input = new.as_deref().unwrap_or("").as_bytes();
        match run(ctl, &activate_program(&a), input)
            .await
            .and_then(|o| parse_activated(&o))
        {
            Ok(Activated::Done(config)) => {
                return Ok(Started {
                    dir: prepared.dir,
                    client,
                    token_removed: prepared.token_removed,
                    config,
                });
            }
            Ok(Activated::Changed(text, s)) => {
                current = text;
                sum = s;
            }
            Err(e) => {
                abort(prepared.dir).await;
                return Err(e);
            }
        }
    }
    abort(prepared.dir).await;
    bail!("the host's ~/.aws/config kept changing while ssso edited it; connect again")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sso(cfg: &str, name: &str) -> SsoProfile {
        AwsConfig::parse(cfg).unwrap().sso_profile(name).unwrap()
    }

    const LOCAL: &str = "[profile dev]\nsso_session = corp\nsso_account_id = 123456789012\nregion = eu-west-1\nsso_role_name = ReadOnly\ns3 =\n  max_concurrent_requests = 4\noutput = json\n\n[sso-session corp]\nsso_start_url = https://x.awsapps.com/start\nsso_region = eu-west-1\n";
    const H: &str = "/home/alice/.aws/ssso/credential-process";

    #[test]
    fn the_forward_section_keeps_settings_and_drops_credential_sources() {
        let s = forward_section(&sso(LOCAL, "dev"), H, "\n").unwrap();
        assert_eq!(
            s,
            "[profile dev]\n# written by ssso --forward: credentials come from your ssso session while it is connected\ncredential_process = /home/alice/.aws/ssso/credential-process dev\nregion = eu-west-1\ns3 =\n  max_concurrent_requests = 4\noutput = json\n"
        );
        // Legacy profiles, default.
        let legacy = "[default]\nsso_start_url = https://x/start\nsso_region = us-east-1\nsso_account_id = 1\nsso_role_name = R\nregion=us-west-2\ncli_pager =\n";
        let s = forward_section(&sso(legacy, "default"), H, "\r\n").unwrap();
        assert_eq!(
            s,
            "[default]\r\n# written by ssso --forward: credentials come from your ssso session while it is connected\r\ncredential_process = /home/alice/.aws/ssso/credential-process default\r\nregion=us-west-2\r\ncli_pager =\r\n"
        );
        for bad in ["relative/path", "/home/a b/x", "/home/$USER/x", ""] {
            assert!(
                forward_section(&sso(LOCAL, "dev"), bad, "\n").is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_host_config_is_edited_in_place() {
        let local = sso(LOCAL, "dev");
        let section = forward_section(&local, H, "\n").unwrap();
        // No file, an empty one, one without the profile (no final newline).
        assert_eq!(edit_config(None, &local, H).unwrap().unwrap(), section);
        assert_eq!(edit_config(Some(""), &local, H).unwrap().unwrap(), section);
        assert_eq!(
            edit_config(Some("[default]\nregion = x"), &local, H)
                .unwrap()
                .unwrap(),
            format!("[default]\nregion = x\n\n{section}")
        );
        // File-sync mode's section is replaced where it stands, every other byte kept; a
        // second edit changes nothing.
        let host = "# mine\n[profile dev]\nsso_session = corp\nsso_account_id = 1\n\n[sso-session corp]\nsso_start_url = u\nsso_region = r\n[other]\n";
        let edited = edit_config(Some(host), &local, H).unwrap().unwrap();
        assert_eq!(
            edited,
            format!(
                "# mine\n{section}\n[sso-session corp]\nsso_start_url = u\nsso_region = r\n[other]\n"
            )
        );
        assert_eq!(edit_config(Some(&edited), &local, H).unwrap(), None);
        assert!(is_forward_profile(&edited, "dev"));
        assert!(!is_forward_profile(host, "dev"));
        assert!(!is_forward_profile(&edited, "other"));
        // And back: file-sync mode's own parser still reads it, and finds no SSO profile.
        let back = AwsConfig::parse(&edited).unwrap();
        assert!(back.sso_profile("dev").is_err());
        // CRLF files get CRLF; a profile at the very end without a newline.
        let crlf = "[default]\r\nregion = x\r\n[profile dev]\r\nsso_session = corp";
        let e = edit_config(Some(crlf), &local, H).unwrap().unwrap();
        assert!(
            e.starts_with("[default]\r\nregion = x\r\n[profile dev]\r\n# written"),
            "{e}"
        );
        assert!(!e.replace("\r\n", "").contains('\n'), "{e:?}");
        // A file the SDKs cannot parse is refused, untouched.
        let e = edit_config(Some("region = x\n"), &local, H).unwrap_err();
        assert!(e.to_string().contains("cannot be parsed"), "{e}");
    }

    #[test]
    fn profile_names() {
        for ok in ["dev", "a.b-c_d@e+f", "default"] {
            check_profile_name(ok).unwrap();
        }
        for bad in ["a/b", "a%b", "a:b", "..", ".", ""] {
            assert!(check_profile_name(bad).is_err(), "{bad}");
        }
    }

    fn output(stdout: &[u8]) -> runner::Output {
        runner::Output {
            stdout: stdout.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn answers_are_read_through_noise() {
        let out = output(
            b"Welcome!\nssso-forward-prepare 1\nclient curl\ndir /tmp/ssso-fwd.ab\nhelper /h/.aws/ssso/credential-process\n:config 12\n[default]\nx\n\nsum 123 12\ndone\n",
        );
        let p = parse_prepared(&out).unwrap();
        assert_eq!(p.client.as_deref(), Some("curl"));
        assert_eq!(p.dir, "/tmp/ssso-fwd.ab");
        assert_eq!(p.config.as_deref(), Some("[default]\nx\n"));
        assert_eq!(p.sum, "123 12");
        assert!(!p.token_removed);
        let e = parse_prepared(&output(
            b"ssso-forward-prepare 1\nclient none\nerror cannot create ~/.aws\n",
        ))
        .unwrap_err();
        assert!(e.to_string().contains("cannot create"));
        assert!(parse_prepared(&output(b"ssso-forward-prepare 1\n:config 99\nshort")).is_err());
        assert!(parse_prepared(&output(b"ssso-forward-prepare 1\nclient curl\n")).is_err());
        assert!(parse_prepared(&output(b"sh: not found\n")).is_err());
        assert_eq!(
            parse_activated(&output(b"ssso-forward-activate 1\nconfig written\ndone\n")).unwrap(),
            Activated::Done("written".into())
        );
        assert_eq!(
            parse_activated(&output(
                b"ssso-forward-activate 1\nconfig changed\n:current 3\nabc\nsum 9 3\ndone\n"
            ))
            .unwrap(),
            Activated::Changed(Some("abc".into()), "9 3".into())
        );
    }

    /// Runs a program with `sh` locally, HOME = `home`, the way the host runs it.
    fn sh(home: &Path, program: &Program, input: &[u8]) -> runner::Output {
        use std::io::Write as _;
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(program.script())
            .env("HOME", home)
            .env("TMPDIR", home)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // A program that stops early (an error) does not read its input.
        let _ = child.stdin.take().unwrap().write_all(input);
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        runner::Output {
            stdout: out.stdout,
            stderr: out.stderr,
            status: out.status.code(),
        }
    }

    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    /// Steps 1 and 3 against a scratch home: files, modes, the config edit, the pointer, the
    /// marker, the removal of file-sync mode's token; the secret only where it belongs.
    #[test]
    fn prepare_and_activate_locally() {
        let h = tempfile::Builder::new()
            .prefix("f")
            .tempdir_in("/tmp")
            .unwrap();
        let home = h.path();
        let local = sso(LOCAL, "dev");
        std::fs::create_dir_all(home.join(".aws/sso/cache")).unwrap();
        std::fs::write(
            home.join(".aws/sso/cache").join(&local.cache_file_name),
            "TOKEN",
        )
        .unwrap();
        let original = "[profile dev]\nsso_session = corp\n[sso-session corp]\nsso_start_url = u\nsso_region = r\n";
        std::fs::write(home.join(".aws/config"), original).unwrap();
        let secret = Secret::generate().unwrap();
        let input = format!("{}\n", secret.expose());
        let out = sh(
            home,
            &prepare_program("dev", "0123456789abcdef", &local.cache_file_name),
            input.as_bytes(),
        );
        let p = parse_prepared(&out).unwrap();
        assert!(p.client.is_some(), "curl or python3 on the build machine");
        assert!(p.token_removed);
        assert!(
            !home
                .join(".aws/sso/cache")
                .join(&local.cache_file_name)
                .exists()
        );
        assert_eq!(p.config.as_deref(), Some(original));
        let dir = Path::new(&p.dir);
        assert!(
            dir.starts_with(home)
                && dir
                    .file_name()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .starts_with("ssso-fwd.")
        );
        assert_eq!(mode(dir), 0o700);
        assert_eq!(mode(&dir.join("secret")), 0o600);
        assert_eq!(std::fs::read_to_string(dir.join("secret")).unwrap(), input);
        assert_eq!(
            p.helper,
            format!("{}/.aws/ssso/credential-process", home.display())
        );
        assert_eq!(std::fs::read_to_string(&p.helper).unwrap(), HELPER);
        assert_eq!(mode(Path::new(&p.helper)), 0o700);
        for d in [".aws/ssso", ".aws/ssso/forward", ".aws/ssso/forward/dev"] {
            assert_eq!(mode(&home.join(d)), 0o700, "{d}");
        }
        // The secret is nowhere else in the home.
        assert_eq!(
            files_containing(home, secret.expose()),
            [dir.join("secret")]
        );

        // Step 3 with no socket: refused, the session released.
        let new = edit_config(p.config.as_deref(), &local, &p.helper)
            .unwrap()
            .unwrap();
        let a = Activate {
            profile: "dev",
            session: "0123456789abcdef",
            dir: &p.dir,
            activate: true,
            sum: &p.sum,
            config: Some(&new),
            nonce: Some("n1"),
        };
        let e = parse_activated(&sh(home, &activate_program(&a), new.as_bytes())).unwrap_err();
        assert!(e.to_string().contains("did not appear"), "{e}");
        assert!(home.join(".aws/sso/cache/.ssso-done-n1").exists());
        assert_eq!(
            std::fs::read_to_string(home.join(".aws/config")).unwrap(),
            original
        );

        // With a socket there: written, pointer made.
        let _l = std::os::unix::net::UnixListener::bind(dir.join("s")).unwrap();
        let a = Activate {
            nonce: Some("n2"),
            ..a
        };
        let r = parse_activated(&sh(home, &activate_program(&a), new.as_bytes())).unwrap();
        assert_eq!(r, Activated::Done("written".into()));
        assert_eq!(
            std::fs::read_to_string(home.join(".aws/config")).unwrap(),
            new
        );
        assert_eq!(
            std::fs::read_to_string(home.join(".aws/ssso/forward/dev/0123456789abcdef")).unwrap(),
            format!("{}\n", p.dir)
        );
        assert!(home.join(".aws/sso/cache/.ssso-done-n2").exists());

        // The file changed meanwhile: nothing written, the current text sent back.
        std::fs::write(home.join(".aws/config"), "[default]\n").unwrap();
        let r = parse_activated(&sh(home, &activate_program(&a), new.as_bytes())).unwrap();
        let Activated::Changed(Some(text), sum) = r else {
            panic!("{r:?}")
        };
        assert_eq!(text, "[default]\n");
        assert_ne!(sum, p.sum);
        assert_eq!(
            std::fs::read_to_string(home.join(".aws/config")).unwrap(),
            "[default]\n"
        );

        // Abort: the directory goes (the watcher follows it).
        let a = Activate {
            activate: false,
            ..a
        };
        parse_activated(&sh(home, &activate_program(&a), b"")).unwrap();
        assert!(!dir.exists());
        assert!(files_containing(home, secret.expose()).is_empty());
    }

    struct Fixed;
    impl super::super::server::Source for Fixed {
        fn fetch(
            &self,
        ) -> Result<crate::aws::portal::RoleCredentials, super::super::server::Failure> {
            Ok(crate::aws::portal::RoleCredentials {
                access_key_id: "ASIAHELPER".into(),
                secret_access_key: "helper-secret-key".into(),
                session_token: "helper-session-token".into(),
                expiration: crate::time::now() + 3600,
            })
        }
    }

    fn helper(home: &Path, client: &str, profile: &str) -> std::process::Output {
        std::process::Command::new(home.join(".aws/ssso/credential-process"))
            .arg(profile)
            .env("SSSO_FORWARD_CLIENT", client)
            .env_remove("HOME")
            .output()
            .unwrap()
    }

    /// The installed helper, with curl and with python3, against a live server; then with a
    /// wrong secret; then with the session gone.
    #[test]
    fn the_helper_talks_to_the_server() {
        let h = tempfile::Builder::new()
            .prefix("f")
            .tempdir_in("/tmp")
            .unwrap();
        let home = h.path();
        let local = sso(LOCAL, "dev");
        let secret = Secret::generate().unwrap();
        let out = sh(
            home,
            &prepare_program("dev", "00000000000000aa", &local.cache_file_name),
            format!("{}\n", secret.expose()).as_bytes(),
        );
        let p = parse_prepared(&out).unwrap();
        let sock = Path::new(&p.dir).join("s");
        let server = std::sync::Arc::new(super::super::server::Server::new(
            secret.clone(),
            Some("123456789012".into()),
            std::sync::Arc::new(Fixed),
        ));
        let (tx, rx) = std::sync::mpsc::channel();
        let srv = server.clone();
        let sock2 = sock.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let l = tokio::net::UnixListener::bind(&sock2).unwrap();
                tx.send(()).unwrap();
                tokio::select! {
                    () = srv.serve(l) => {}
                    () = tokio::time::sleep(Duration::from_secs(60)) => {}
                }
            });
        });
        rx.recv().unwrap();
        let new = edit_config(p.config.as_deref(), &local, &p.helper).unwrap();
        let a = Activate {
            profile: "dev",
            session: "00000000000000aa",
            dir: &p.dir,
            activate: true,
            sum: &p.sum,
            config: new.as_deref(),
            nonce: None,
        };
        parse_activated(&sh(
            home,
            &activate_program(&a),
            new.as_deref().unwrap_or("").as_bytes(),
        ))
        .unwrap();
        for client in ["curl", "python3"] {
            let out = helper(home, client, "dev");
            assert!(
                out.status.success(),
                "{client}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(v["Version"], 1, "{client}");
            assert_eq!(v["AccessKeyId"], "ASIAHELPER");
            assert_eq!(v["SessionToken"], "helper-session-token");
            assert_eq!(v["AccountId"], "123456789012");
        }
        // Another profile: no session for it.
        let out = helper(home, "curl", "prod");
        assert_eq!(out.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("no ssso --forward session for AWS profile prod")
        );
        // A wrong secret: the server's message, and no credentials.
        std::fs::write(Path::new(&p.dir).join("secret"), "0".repeat(64)).unwrap();
        for client in ["curl", "python3"] {
            let out = helper(home, client, "dev");
            assert_eq!(out.status.code(), Some(1), "{client}");
            assert!(out.stdout.is_empty());
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("does not carry the ssso session's secret"),
                "{client}: {err}"
            );
        }
        assert_eq!(
            server
                .stats
                .unauthorized
                .load(std::sync::atomic::Ordering::Relaxed),
            2
        );
        // The session's directory gone (its connection ended): the reconnect message.
        std::fs::remove_dir_all(&p.dir).unwrap();
        for client in ["curl", "python3"] {
            let out = helper(home, client, "dev");
            assert_eq!(out.status.code(), Some(1));
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("no ssso --forward session for AWS profile dev is connected")
                    && err.contains("reconnect from your machine: ssso --forward --profile dev"),
                "{client}: {err}"
            );
        }
    }

    fn files_containing(dir: &Path, needle: &str) -> Vec<std::path::PathBuf> {
        let mut found = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                found.extend(files_containing(&p, needle));
            } else if m.is_file()
                && std::fs::read(&p)
                    .unwrap()
                    .windows(needle.len())
                    .any(|w| w == needle.as_bytes())
            {
                found.push(p);
            }
        }
        found
    }
}
