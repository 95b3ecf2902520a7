//! `ssso doctor [--profile NAME] [--json] [SSH OPTIONS] HOST`: the manual guide's checks for
//! one host, as one report. Each check is `ok`, `warn` or `fail`, with the fix when it is not
//! `ok`; the exit status is 1 when any check fails (254 for ssso's own errors, as elsewhere).
//!
//! One connection ([`crate::ssh::master::program_command`]: the user's config, keys and prompts
//! for the host) runs one program (`doctor.sh`, through [`crate::ssh::runner`]) that gathers
//! everything in one round trip: who the user is, the remote `aws` and its version, the remote
//! `~/.aws/config` (compared here with the local profile, by the same parser), the token file
//! (read here by the same parser as the local one, and never shown: only its expiry, start URL,
//! mode and owner are reported), how many long-term keys `~/.aws/credentials` holds, and
//! finally a live `aws sts get-caller-identity --profile NAME`, the only proof that the token
//! works. Nothing on the remote is changed. The program also runs the sync's own path checks
//! (`src/sync/checks.sh`, prepended to it as to the sync's host program): what the sync would
//! refuse to write (the token, `~/.aws/config`) is reported with the reason and the fix that
//! works ([`REFUSALS`]), never with "run ssso once", which cannot.
//!
//! The `mode` check says how the host gets credentials for the profile: `file sync` (the token
//! file is on the host) or `forward` (the profile's `credential_process` is `ssso --forward`'s
//! helper: no token belongs on the host, and credentials come only while a `ssso --forward`
//! session is connected). In forward mode the token checks turn around (a token file on the
//! host is a warning), the helper's client (curl or python3) is checked, and a failed live
//! check without a connected session is a warning that says to connect.
//!
//! `--json` prints one object on one line (stable; new fields may be added):
//!
//! | field | type | meaning |
//! |---|---|---|
//! | `host` | string | the destination as given |
//! | `profile` | string | the AWS profile checked |
//! | `ok` | bool | no check failed |
//! | `checks` | array | in order; each `{"check", "status", "detail", "fix"}` |
//! | `checks[].check` | string | `ssh`, `aws`, `mode`, `config`, `forward-client` (forward mode), `token`, `token-files` (file-sync mode), `credentials`, `identity` |
//! | `checks[].status` | string | `ok`, `warn` or `fail` |
//! | `checks[].detail` | string | what was found |
//! | `checks[].fix` | string or null | what to do about it (null when ok) |

use std::io::Write as _;

use anyhow::{Context, Result};

use crate::aws::config::{AwsConfig, SsoProfile};
use crate::aws::token::{self, Token};
use crate::session;
use crate::ssh::args::SshArgs;
use crate::ssh::config::SshConfig;
use crate::ssh::master;
use crate::ssh::runner::{self, Program, Reply, Via};
use crate::ui;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

#[derive(Debug)]
pub(crate) struct Check {
    name: &'static str,
    status: Status,
    detail: String,
    fix: Option<String>,
}

fn ok(name: &'static str, detail: impl Into<String>) -> Check {
    Check {
        name,
        status: Status::Ok,
        detail: detail.into(),
        fix: None,
    }
}

fn bad(
    name: &'static str,
    status: Status,
    detail: impl Into<String>,
    fix: impl Into<String>,
) -> Check {
    Check {
        name,
        status,
        detail: detail.into(),
        fix: Some(fix.into()),
    }
}

/// `ssso doctor`'s settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub profile: Option<String>,
    /// A token with this much or less left is reported as not fresh.
    pub min_valid: std::time::Duration,
    pub json: bool,
}

pub fn run(args: &Settings, ssh: SshArgs) -> Result<u8> {
    let min_valid = args.min_valid.as_secs();
    let dest = ssh.destination.clone().context(
        "no HOST given (usage: ssso doctor [--profile NAME] [--json] [SSH OPTIONS] HOST)",
    )?;
    if !ssh.command.is_empty() {
        anyhow::bail!("ssso doctor takes no remote command");
    }
    let cfg = SshConfig::resolve(&ssh)?;
    let sso = session::host_profile(args.profile.as_deref(), &cfg)?;
    let dest = dest.to_string_lossy().into_owned();

    // One connection that only runs the program (no tty: a tty would turn the reply's
    // newlines into CRLF), with the user's config, keys and prompts for the host.
    let cmd = master::program_command(&ssh, &[]);
    ui::debug(format_args!("checking {dest} with one ssh connection"));
    let out = runner::run_blocking(
        Via::Ssh(cmd),
        &program(&sso.profile, &sso.cache_file_name),
        b"",
        CHECK_TIMEOUT,
    )?;
    let checks = evaluate(
        &dest,
        &sso,
        &out.stdout,
        &String::from_utf8_lossy(&out.stderr),
        crate::time::now(),
        min_valid,
    );
    let failed = checks.iter().any(|c| c.status == Status::Fail);
    let text = if args.json {
        format!("{}\n", json(&dest, &sso.profile, &checks))
    } else {
        report(&dest, &sso.profile, &checks)
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
    Ok(u8::from(failed))
}

/// Bound on the whole check, the live AWS call on the host (30 s there) included.
const CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(90);

/// The remote program (see the file for its parameters and reply), after the sync's own path
/// checks ([`crate::sync::CHECKS_SH`]), so that doctor names what the sync refuses.
const DOCTOR_SH: &str = concat!(include_str!("../sync/checks.sh"), include_str!("doctor.sh"));

/// The reply's version.
const VERSION: u32 = 3;

/// The host's refusals to write a path (the reasons `why` of `src/sync/checks.sh`, which the
/// sync gives), each with the fix that works (`{path}`: the path the reason names). Pinned:
/// a test checks that every reason in checks.sh is here.
pub(crate) const REFUSALS: &[(&str, &str)] = &[
    (
        " is a symlink;",
        "replace the symlink {path} with a regular file (or a real directory) holding what it points to: ssso does not write through symlinks",
    ),
    (
        " is a directory, not a file",
        "move the directory {path} out of the way",
    ),
    (" is a FIFO, not a file", "remove the FIFO {path}"),
    (
        " is not a regular file",
        "remove {path} (it is not a regular file)",
    ),
    (
        " is not a directory",
        "move {path} out of the way: it must be a directory",
    ),
    (
        " belongs to another user",
        "have {path} removed, or given to you (as root: chown -R YOU {path})",
    ),
    (" is writable by other users", "chmod go-w {path}"),
    ("cannot look at ", "check who may read {path}"),
];

/// The fix for a refusal `why` of the host's checks (see [`REFUSALS`]), if it is one.
pub(crate) fn refusal_fix(why: &str) -> Option<String> {
    let (phrase, fix) = REFUSALS.iter().find(|(p, _)| why.contains(p))?;
    let path = match why.strip_prefix(phrase) {
        Some(rest) => rest,
        None => why.split(' ').next().unwrap_or(why),
    };
    Some(fix.replace("{path}", path))
}

/// The remote program for `profile`, whose token file is `cache_file_name`.
fn program(profile: &str, cache_file_name: &str) -> Program {
    Program::new("doctor", VERSION, DOCTOR_SH)
        .param("P", profile)
        .param("K", cache_file_name)
}

/// The remote's answer, read.
#[derive(Debug, Default)]
struct Facts {
    reply: Reply,
    /// The host's token, when its file could be read as one.
    token: Option<anyhow::Result<Token>>,
}

impl Facts {
    fn parse(out: &[u8]) -> Option<Facts> {
        let reply = Reply::parse(out, "doctor", VERSION).ok()?;
        let token = reply.blob("token").map(token::parse);
        Some(Facts { reply, token })
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.reply.get(key)
    }

    fn config(&self) -> Option<String> {
        self.reply
            .blob("config")
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    fn sts(&self) -> Option<(i32, String)> {
        let rc = self.get("sts-status")?.trim().parse().ok()?;
        let out = String::from_utf8_lossy(self.reply.blob("sts")?).into_owned();
        Some((rc, out))
    }
}

/// Turns ssh's result into the checks, in report order.
pub(crate) fn evaluate(
    dest: &str,
    local: &SsoProfile,
    stdout: &[u8],
    stderr: &str,
    now: i64,
    min_valid: u64,
) -> Vec<Check> {
    let p = &local.profile;
    let Some(f) = Facts::parse(stdout) else {
        return vec![ssh_failure(dest, stderr)];
    };
    // What the sync refuses on the host (its own checks): running it again cannot help until
    // that is fixed, so every fix that says to run it names that first.
    let refused = |key| f.get(key).map(|why| (why, refusal_fix(why)));
    let (refused_token, refused_config) = (refused("refused-token"), refused("refused-config"));
    let first = refused_token
        .iter()
        .chain(&refused_config)
        .filter_map(|(_, fix)| fix.clone())
        .collect::<Vec<_>>();
    let rerun = if first.is_empty() {
        format!("run `ssso --profile {p} {dest}` once: it syncs the token and the profile")
    } else {
        let mut first = first;
        first.dedup();
        format!(
            "on the host, {}; then run `ssso --profile {p} {dest}` once: it syncs the token and the profile",
            first.join("; ")
        )
    };
    let mut checks = Vec::new();
    let (uid, user) = f
        .get("user")
        .and_then(|v| v.split_once(' '))
        .unwrap_or(("?", "?"));
    checks.push(ok(
        "ssh",
        format!("connected to {dest} as {user} (uid {uid})"),
    ));

    checks.push(match (f.get("aws-version"), f.get("aws-missing")) {
        (Some(v), _) if v.starts_with("aws-cli/2.") => ok("aws", v),
        (Some(v), _) if v.starts_with("aws-cli/1.") => bad(
            "aws",
            Status::Warn,
            format!("AWS CLI v1 ({v})"),
            "v1 uses the synced token (1.27 or later for sso-session profiles) but has no `aws sso login`; AWS CLI v2 is recommended: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html",
        ),
        (Some(v), _) => bad("aws", Status::Warn, format!("unrecognised `aws --version`: {v}"), "check that `aws` on the host is the AWS CLI"),
        _ => bad(
            "aws",
            Status::Fail,
            "no `aws` on the host's PATH (nor ~/.local/bin, /usr/local/bin)",
            "install AWS CLI v2 on the host: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html",
        ),
    });

    let forward = f
        .config()
        .is_some_and(|t| crate::forward::host::is_forward_profile(&t, p));
    if forward {
        forward_checks(&f, local, dest, &mut checks);
        return checks;
    }
    let token = match &refused_token {
        Some((why, _)) => bad(
            "token",
            Status::Fail,
            format!("ssso cannot write the token there: {why}"),
            rerun.clone(),
        ),
        None => token_check(&f, local, now, min_valid, &rerun),
    };
    // The mode line does not claim a token that the token check did not find.
    checks.push(ok(
        "mode",
        if token.status == Status::Fail {
            format!("file sync: ssso syncs the SSO token for profile {p} to the host, see the token check (connect with --forward to keep it on your machine)")
        } else {
            format!("file sync: the host holds the SSO token for profile {p} (connect with --forward to keep it on your machine)")
        },
    ));
    checks.push(match &f.config() {
        _ if refused_config.is_some() => bad(
            "config",
            Status::Fail,
            format!(
                "ssso cannot write ~/.aws/config there: {}",
                refused_config.as_ref().map_or("", |(why, _)| why)
            ),
            rerun.clone(),
        ),
        None => bad(
            "config",
            Status::Fail,
            "the host has no ~/.aws/config",
            rerun.clone(),
        ),
        Some(text) => match AwsConfig::parse(text).and_then(|c| c.sso_profile(p)) {
            Err(e) => bad(
                "config",
                Status::Fail,
                format!("on the host: {}", e.root_cause()),
                rerun.clone(),
            ),
            Ok(remote) => {
                let diff = differences(local, &remote);
                if diff.is_empty() {
                    ok("config", format!("profile {p} matches the local one"))
                } else {
                    bad(
                        "config",
                        Status::Warn,
                        format!(
                            "profile {p} differs from the local one: {}",
                            diff.join(", ")
                        ),
                        rerun.clone(),
                    )
                }
            }
        },
    });

    checks.push(token);
    checks.push(files_check(&f, uid));

    checks.push(match f.get("credentials").and_then(|n| n.trim().parse::<u32>().ok()) {
        Some(0) => ok("credentials", "no long-term keys in ~/.aws/credentials"),
        Some(n) => bad(
            "credentials",
            Status::Warn,
            format!("~/.aws/credentials on the host holds {n} long-term access key(s)"),
            format!("remove them if they are not needed; keys for a profile named {p} there would take precedence over the SSO token"),
        ),
        None => bad("credentials", Status::Warn, "could not read ~/.aws/credentials", "check its permissions"),
    });

    checks.push(match &f.sts() {
        None if f.get("aws-missing").is_some() => bad(
            "identity",
            Status::Fail,
            "not checked: no `aws` on the host",
            "install AWS CLI v2 on the host",
        ),
        None => bad(
            "identity",
            Status::Fail,
            "the check did not run (connection cut?)",
            "run ssso doctor again",
        ),
        Some((0, out)) => {
            let v: serde_json::Value = serde_json::from_str(out).unwrap_or_default();
            match v["Arn"].as_str() {
                Some(arn) => ok(
                    "identity",
                    format!("aws sts get-caller-identity --profile {p}: {arn}"),
                ),
                None => bad(
                    "identity",
                    Status::Warn,
                    "aws sts get-caller-identity answered without an Arn",
                    "run it on the host to see why",
                ),
            }
        }
        Some((rc, out)) => {
            let last = out.trim().lines().last().unwrap_or("").to_owned();
            let fix = if out.contains("xpired")
                || out.contains("SSO Token")
                || out.contains("sso login")
            {
                rerun.clone()
            } else {
                format!("run `aws sts get-caller-identity --profile {p}` on the host to see why")
            };
            bad(
                "identity",
                Status::Fail,
                format!("aws sts get-caller-identity --profile {p} failed ({rc}): {last}"),
                fix,
            )
        }
    });
    checks
}

/// The checks for a host in forward mode (after `ssh` and `aws`).
fn forward_checks(f: &Facts, local: &SsoProfile, dest: &str, checks: &mut Vec<Check>) {
    let p = &local.profile;
    let connect = format!("connect with `ssso --forward --profile {p} {dest}`");
    let sessions: u32 = f
        .get("forward-sessions")
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    checks.push(ok(
        "mode",
        format!(
            "forward: [profile {p}] takes credentials from ssso --forward (credential_process); {sessions} session(s) connected"
        ),
    ));
    checks.push(ok(
        "config",
        format!("profile {p} is in forward form (credential_process = ~/.aws/ssso/credential-process {p})"),
    ));
    checks.push(match f.get("forward-client") {
        Some(c @ ("curl" | "python3")) => ok("forward-client", format!("the helper uses {c}")),
        _ => bad(
            "forward-client",
            Status::Fail,
            "neither curl nor python3 on the host: the helper cannot reach the forward",
            "install curl (7.40 or later) or python3 on the host",
        ),
    });
    checks.push(match f.get("token") {
        None | Some("missing") => ok("token", "no SSO token on the host (forward mode keeps it on your machine)"),
        Some(_) => bad(
            "token",
            Status::Warn,
            format!("an SSO token file is on the host (~/.aws/sso/cache/{}) although profile {p} is in forward mode", local.cache_file_name),
            format!("{connect}: it removes that file; or remove it by hand"),
        ),
    });
    checks.push(match f.get("credentials").and_then(|n| n.trim().parse::<u32>().ok()) {
        Some(0) => ok("credentials", "no long-term keys in ~/.aws/credentials"),
        Some(n) => bad(
            "credentials",
            Status::Warn,
            format!("~/.aws/credentials on the host holds {n} long-term access key(s)"),
            format!("remove them if they are not needed; keys for a profile named {p} there would take precedence over the forward"),
        ),
        None => bad("credentials", Status::Warn, "could not read ~/.aws/credentials", "check its permissions"),
    });
    checks.push(match f.sts() {
        Some((0, out)) => {
            let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
            ok(
                "identity",
                format!(
                    "aws sts get-caller-identity --profile {p}: {}",
                    v["Arn"].as_str().unwrap_or("(no Arn)")
                ),
            )
        }
        Some((rc, out)) if sessions == 0 => bad(
            "identity",
            Status::Warn,
            format!(
                "no ssso --forward session is connected, so aws has no credentials there now ({rc}: {})",
                out.trim().lines().last().unwrap_or("")
            ),
            connect,
        ),
        Some((rc, out)) => bad(
            "identity",
            Status::Fail,
            format!(
                "aws sts get-caller-identity --profile {p} failed ({rc}) with a session connected: {}",
                out.trim().lines().last().unwrap_or("")
            ),
            "see the message; `ssso -v --forward ...` shows the forward's steps",
        ),
        None => bad(
            "identity",
            Status::Fail,
            "not checked (no `aws` on the host, or the connection was cut)",
            "install AWS CLI v2 on the host",
        ),
    });
}

/// ssh did not run the script: say why, with the fix for the usual causes.
fn ssh_failure(dest: &str, stderr: &str) -> Check {
    let last: Vec<&str> = stderr.trim().lines().rev().take(3).collect();
    let msg: String = last.into_iter().rev().collect::<Vec<_>>().join(" / ");
    let fix = if stderr.contains("Permission denied") {
        format!(
            "ssh found no key the host accepts: make one with `ssh-keygen -t ed25519` and install it with `ssh-copy-id {dest}`, or give it with -i"
        )
    } else if stderr.contains("Could not resolve") {
        format!("check the host name; `ssh -G {dest}` shows what ssh connects to")
    } else if stderr.contains("Host key verification failed") {
        format!(
            "run `ssh {dest}` once to accept the host key (or remove a stale one with `ssh-keygen -R HOST`)"
        )
    } else if stderr.contains("refused")
        || stderr.contains("timed out")
        || stderr.contains("No route")
    {
        "no sshd answers at that address and port: check -p / Port and that the host is up"
            .to_owned()
    } else {
        format!("run `ssh -v {dest} true` to see where it fails")
    };
    let detail = if msg.is_empty() {
        "ssh failed without a message, or the host did not run the check script".to_owned()
    } else {
        format!("ssh failed: {msg}")
    };
    bad("ssh", Status::Fail, detail, fix)
}

/// The profile settings that matter, local against remote.
fn differences(local: &SsoProfile, remote: &SsoProfile) -> Vec<String> {
    let mut diff = Vec::new();
    let pairs = [
        (
            "sso_session",
            local.session.as_deref(),
            remote.session.as_deref(),
        ),
        (
            "sso_start_url",
            Some(local.start_url.as_str()),
            Some(remote.start_url.as_str()),
        ),
        (
            "sso_region",
            Some(local.region.as_str()),
            Some(remote.region.as_str()),
        ),
        (
            "sso_account_id",
            local.account_id.as_deref(),
            remote.account_id.as_deref(),
        ),
        (
            "sso_role_name",
            local.role_name.as_deref(),
            remote.role_name.as_deref(),
        ),
    ];
    for (key, l, r) in pairs {
        if l != r {
            diff.push(format!(
                "{key} {} here, {} there",
                l.unwrap_or("unset"),
                r.unwrap_or("unset")
            ));
        }
    }
    diff
}

fn token_check(f: &Facts, local: &SsoProfile, now: i64, min_valid: u64, rerun: &str) -> Check {
    match f.get("token") {
        None | Some("missing") => {
            return bad(
                "token",
                Status::Fail,
                format!(
                    "no token on the host (~/.aws/sso/cache/{})",
                    local.cache_file_name
                ),
                rerun,
            );
        }
        Some("symlink") => {
            return bad(
                "token",
                Status::Fail,
                "the token file on the host is a symlink",
                "replace it with a regular file: remove the link, then run ssso again",
            );
        }
        Some(_) => {}
    }
    let tok = match &f.token {
        Some(Ok(t)) => t,
        Some(Err(e)) => {
            return bad(
                "token",
                Status::Fail,
                format!("the host's token file is unusable: {}", e.root_cause()),
                rerun,
            );
        }
        None => {
            return bad(
                "token",
                Status::Fail,
                "the host's token file could not be read",
                rerun,
            );
        }
    };
    let url = tok.start_url.as_deref().unwrap_or("");
    if url != local.start_url {
        return bad(
            "token",
            Status::Warn,
            format!("the host's token is for {url:?}, not {}", local.start_url),
            rerun,
        );
    }
    let exp = tok.expires_at;
    let when = crate::time::relative_expiry(exp, now);
    if exp <= now {
        bad(
            "token",
            Status::Fail,
            format!("the host's token {when}"),
            rerun,
        )
    } else if exp - now <= i64::try_from(min_valid).unwrap_or(i64::MAX) {
        bad(
            "token",
            Status::Warn,
            format!("the host's token {when}"),
            rerun,
        )
    } else {
        ok("token", format!("the host's token {when}"))
    }
}

/// Mode 0600 in a 0700 directory, both owned by the user.
fn files_check(f: &Facts, uid: &str) -> Check {
    let fix = "chmod 700 ~/.aws/sso/cache && chmod 600 ~/.aws/sso/cache/*.json on the host (and chown them to the user)";
    match f.get("cache-dir") {
        None | Some("missing") => {
            return bad(
                "token-files",
                Status::Fail,
                "the host has no ~/.aws/sso/cache",
                "mkdir -p ~/.aws/sso/cache && chmod 700 ~/.aws/sso/cache on the host (ssso creates it too)",
            );
        }
        Some("symlink") => {
            return bad(
                "token-files",
                Status::Warn,
                "~/.aws/sso/cache on the host is a symlink; ssso does not write through it",
                "make it a real directory",
            );
        }
        Some(_) => {}
    }
    let mut problems = Vec::new();
    let mut look = |what: &str, key: &str, want: &str| {
        if let Some((mode, owner)) = f.get(key).and_then(|v| v.split_once(' ')) {
            if !mode.starts_with(want) {
                problems.push(format!("{what} is {mode}, not {want}"));
            }
            if owner != uid {
                problems.push(format!("{what} is owned by uid {owner}, not {uid}"));
            }
        }
    };
    look("~/.aws/sso/cache", "cache-dir", "drwx------");
    if !matches!(f.get("token"), None | Some("missing" | "symlink")) {
        look("the token file", "token", "-rw-------");
    }
    if problems.is_empty() {
        ok(
            "token-files",
            "mode 0600 in a 0700 directory, owned by the user",
        )
    } else {
        bad("token-files", Status::Warn, problems.join("; "), fix)
    }
}

fn report(dest: &str, profile: &str, checks: &[Check]) -> String {
    let mut out = format!("ssso doctor {dest} (profile {profile})\n");
    for c in checks {
        out.push_str(&format!(
            "{:<5} {:<12} {}\n",
            c.status.as_str(),
            c.name,
            c.detail
        ));
        if let Some(fix) = &c.fix {
            out.push_str(&format!("{:<18} fix: {fix}\n", ""));
        }
    }
    out
}

fn json(dest: &str, profile: &str, checks: &[Check]) -> serde_json::Value {
    let list: Vec<serde_json::Value> = checks
        .iter()
        .map(|c| {
            serde_json::json!({
                "check": c.name, "status": c.status.as_str(), "detail": c.detail, "fix": c.fix,
            })
        })
        .collect();
    serde_json::json!({
        "host": dest,
        "profile": profile,
        "ok": !checks.iter().any(|c| c.status == Status::Fail),
        "checks": list,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = "[profile dev]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = R\n[sso-session corp]\nsso_start_url = https://corp/start\nsso_region = eu-west-1\n";

    fn local() -> SsoProfile {
        AwsConfig::parse(CFG).unwrap().sso_profile("dev").unwrap()
    }

    /// Runs the remote script locally with `sh`, HOME set, a fake `aws` on PATH.
    fn run_script(home: &std::path::Path, aws: &str) -> Vec<u8> {
        let bin = home.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let path = bin.join("aws");
        std::fs::write(&path, format!("#!/bin/sh\n{aws}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let sso = local();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(program(&sso.profile, &sso.cache_file_name).script())
            .env("HOME", home)
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    fn statuses(checks: &[Check]) -> Vec<(&str, &str)> {
        checks.iter().map(|c| (c.name, c.status.as_str())).collect()
    }

    #[test]
    fn healthy_host() {
        let h = tempfile::tempdir().unwrap();
        let sso = local();
        let cache = h.path().join(".aws/sso/cache");
        std::fs::create_dir_all(&cache).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o700)).unwrap();
        let tok = cache.join(&sso.cache_file_name);
        std::fs::write(&tok, r#"{"startUrl": "https://corp/start", "accessToken": "SECRET", "expiresAt": "2099-01-01T00:00:00Z"}"#).unwrap();
        std::fs::set_permissions(&tok, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(h.path().join(".aws/config"), CFG).unwrap();
        let aws = r#"case $1 in --version) echo 'aws-cli/2.15.0 Python/3.11';; *) echo '{"Account": "1", "Arn": "arn:aws:sts::1:assumed-role/R/me"}';; esac"#;
        let out = run_script(h.path(), aws);
        let checks = evaluate("h", &sso, &out, "", crate::time::now(), 900);
        // The token is read here, by the same parser as the local one, and never shown.
        let shown = format!(
            "{}{}",
            report("h", "dev", &checks),
            json("h", "dev", &checks)
        );
        assert!(!shown.contains("SECRET"), "{shown}");
        assert_eq!(
            statuses(&checks),
            [
                ("ssh", "ok"),
                ("aws", "ok"),
                ("mode", "ok"),
                ("config", "ok"),
                ("token", "ok"),
                ("token-files", "ok"),
                ("credentials", "ok"),
                ("identity", "ok")
            ],
            "{checks:#?}"
        );
        assert!(
            checks[7]
                .detail
                .contains("arn:aws:sts::1:assumed-role/R/me")
        );
    }

    /// A host in forward mode: no token is right, a left-over one is a warning, and a failed
    /// live check without a connected session says to connect with --forward.
    #[test]
    fn forward_mode_host() {
        let h = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(h.path().join(".aws")).unwrap();
        let sso = local();
        let helper = format!("{}/.aws/ssso/credential-process", h.path().display());
        let cfg = crate::forward::host::edit_config(None, &sso, &helper)
            .unwrap()
            .unwrap();
        std::fs::write(h.path().join(".aws/config"), cfg).unwrap();
        let aws = r#"case $1 in --version) echo 'aws-cli/2.15.0 Python/3.11';; *) echo 'ssso: no ssso --forward session for AWS profile dev is connected' >&2; exit 255;; esac"#;
        let out = run_script(h.path(), aws);
        let checks = evaluate("h", &sso, &out, "", crate::time::now(), 900);
        assert_eq!(
            statuses(&checks),
            [
                ("ssh", "ok"),
                ("aws", "ok"),
                ("mode", "ok"),
                ("config", "ok"),
                ("forward-client", "ok"),
                ("token", "ok"),
                ("credentials", "ok"),
                ("identity", "warn")
            ],
            "{checks:#?}"
        );
        assert!(checks[2].detail.starts_with("forward:"), "{checks:#?}");
        assert_eq!(
            checks[7].fix.as_deref(),
            Some("connect with `ssso --forward --profile dev h`")
        );
    }

    #[test]
    fn empty_host_fails_with_fixes() {
        let h = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(h.path().join(".aws")).unwrap();
        std::fs::write(
            h.path().join(".aws/credentials"),
            "[default]\naws_access_key_id = AKIA\n",
        )
        .unwrap();
        std::fs::write(h.path().join(".aws/config"), "[profile dev]\nsso_session = corp\nsso_account_id = 2\nsso_role_name = R\n[sso-session corp]\nsso_start_url = https://corp/start\nsso_region = eu-west-1\n").unwrap();
        let aws = r#"case $1 in --version) echo 'aws-cli/1.29.0 Python/3.11' >&2;; *) echo 'Error loading SSO Token: Token for corp does not exist' >&2; exit 255;; esac"#;
        let out = run_script(h.path(), aws);
        let checks = evaluate("h", &local(), &out, "", crate::time::now(), 900);
        assert_eq!(
            statuses(&checks),
            [
                ("ssh", "ok"),
                ("aws", "warn"),
                ("mode", "ok"),
                ("config", "warn"),
                ("token", "fail"),
                ("token-files", "fail"),
                ("credentials", "warn"),
                ("identity", "fail")
            ],
            "{checks:#?}"
        );
        assert!(
            checks[3].detail.contains("sso_account_id 1 here, 2 there"),
            "{}",
            checks[3].detail
        );
        assert!(
            checks[5]
                .fix
                .as_deref()
                .unwrap()
                .contains("mkdir -p ~/.aws/sso/cache")
        );
        assert!(
            checks[7]
                .fix
                .as_deref()
                .unwrap()
                .contains("ssso --profile dev h")
        );
    }

    /// Every reason the host's checks give for refusing a path (checks.sh's `why="..."`) has
    /// its fix in [`REFUSALS`]: doctor and the sync name the same refusals.
    #[test]
    fn every_refusal_of_the_host_checks_has_its_fix() {
        let mut seen = std::collections::BTreeSet::new();
        for piece in crate::sync::CHECKS_SH.split("why=\"").skip(1) {
            let text = piece.split('"').next().unwrap();
            // A directory that cannot be made is a failure (res=failed), not a refusal: doctor
            // makes nothing.
            if text.is_empty() || text.starts_with("cannot create ") {
                continue;
            }
            let why = text
                .replace("$w_", "~/.aws/sso")
                .replace("$cs_", "~/.aws/sso")
                .replace("$shown", "~/.aws/config")
                .replace("$3", "0")
                .replace("$1", "drwxrwxrwx");
            let fix = refusal_fix(&why).unwrap_or_else(|| panic!("no fix for {why:?}"));
            assert!(fix.contains("~/.aws/"), "{why:?}: {fix}");
            seen.insert(REFUSALS.iter().position(|(p, _)| why.contains(p)));
        }
        assert_eq!(
            seen.len(),
            REFUSALS.len(),
            "a reason in REFUSALS that checks.sh never gives"
        );
        assert_eq!(
            refusal_fix("~/.aws is writable by other users (mode drwxrwxrwx); ssso does not write there (chmod go-w it)").unwrap(),
            "chmod go-w ~/.aws"
        );
    }

    fn healthy_home() -> tempfile::TempDir {
        let h = tempfile::tempdir().unwrap();
        let sso = local();
        let cache = h.path().join(".aws/sso/cache");
        std::fs::create_dir_all(&cache).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        for d in [".aws", ".aws/sso", ".aws/sso/cache"] {
            std::fs::set_permissions(h.path().join(d), std::fs::Permissions::from_mode(0o700))
                .unwrap();
        }
        let tok = cache.join(&sso.cache_file_name);
        std::fs::write(&tok, r#"{"startUrl": "https://corp/start", "accessToken": "SECRET", "expiresAt": "2099-01-01T00:00:00Z"}"#).unwrap();
        std::fs::set_permissions(&tok, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(h.path().join(".aws/config"), CFG).unwrap();
        h
    }

    const AWS_OK: &str = r#"case $1 in --version) echo 'aws-cli/2.15.0 Python/3.11';; *) echo '{"Account": "1", "Arn": "arn:aws:sts::1:assumed-role/R/me"}';; esac"#;

    fn check<'a>(checks: &'a [Check], name: &str) -> &'a Check {
        checks.iter().find(|c| c.name == name).unwrap()
    }

    /// What the sync refuses (a symlink at ~/.aws/config, a ~/.aws others can write, a FIFO
    /// at the token path), doctor names, with the fix that works; the mode line does not say
    /// the host holds a token that the token check did not find.
    #[test]
    fn what_the_sync_refuses_doctor_names_with_the_fix_that_works() {
        use std::os::unix::fs::PermissionsExt as _;
        let sso = local();
        // ~/.aws/config a symlink (to a file without the profile).
        let h = healthy_home();
        let cfg = h.path().join(".aws/config");
        std::fs::remove_file(&cfg).unwrap();
        std::fs::write(h.path().join("elsewhere"), "[default]\nregion = x\n").unwrap();
        std::os::unix::fs::symlink(h.path().join("elsewhere"), &cfg).unwrap();
        let checks = evaluate(
            "h1",
            &sso,
            &run_script(h.path(), AWS_OK),
            "",
            crate::time::now(),
            900,
        );
        let c = check(&checks, "config");
        assert_eq!(c.status, Status::Fail, "{checks:#?}");
        assert!(c.detail.contains("~/.aws/config is a symlink"), "{c:?}");
        assert!(!c.detail.contains("configure sso"), "{c:?}");
        let fix = c.fix.as_deref().unwrap();
        assert!(
            fix.starts_with("on the host, replace the symlink ~/.aws/config with a regular file"),
            "{fix}"
        );

        // ~/.aws at 0777: the token and the config are refused; the fix is chmod go-w.
        let h = healthy_home();
        std::fs::set_permissions(
            h.path().join(".aws"),
            std::fs::Permissions::from_mode(0o777),
        )
        .unwrap();
        let checks = evaluate(
            "h1",
            &sso,
            &run_script(h.path(), AWS_OK),
            "",
            crate::time::now(),
            900,
        );
        for name in ["token", "config"] {
            let c = check(&checks, name);
            assert_eq!(c.status, Status::Fail, "{checks:#?}");
            assert!(
                c.detail.contains("~/.aws is writable by other users"),
                "{c:?}"
            );
            assert!(
                c.fix.as_deref().unwrap().starts_with(
                    "on the host, chmod go-w ~/.aws; then run `ssso --profile dev h1`"
                ),
                "{c:?}"
            );
        }
        assert!(
            !check(&checks, "mode").detail.contains("holds"),
            "{checks:#?}"
        );

        // A FIFO at the token path.
        let h = healthy_home();
        let tok = h.path().join(".aws/sso/cache").join(&sso.cache_file_name);
        std::fs::remove_file(&tok).unwrap();
        let c_path = std::ffi::CString::new(tok.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let checks = evaluate(
            "h1",
            &sso,
            &run_script(h.path(), AWS_OK),
            "",
            crate::time::now(),
            900,
        );
        let c = check(&checks, "token");
        assert_eq!(c.status, Status::Fail, "{checks:#?}");
        assert!(c.detail.contains("is a FIFO, not a file"), "{c:?}");
        assert!(
            c.fix
                .as_deref()
                .unwrap()
                .starts_with("on the host, remove the FIFO ~/.aws/sso/cache/"),
            "{c:?}"
        );
        assert_eq!(check(&checks, "config").status, Status::Ok, "{checks:#?}");
        let mode = check(&checks, "mode");
        assert_eq!(mode.status, Status::Ok);
        assert!(!mode.detail.contains("holds"), "{mode:?}");
    }

    #[test]
    fn ssh_failures_name_the_fix() {
        let c = evaluate(
            "h",
            &local(),
            b"",
            "alice@h: Permission denied (publickey).\n",
            0,
            900,
        );
        assert_eq!(statuses(&c), [("ssh", "fail")]);
        assert!(c[0].fix.as_deref().unwrap().contains("ssh-copy-id h"));
        let c = evaluate(
            "h",
            &local(),
            b"",
            "ssh: connect to host h port 22: Connection refused\n",
            0,
            900,
        );
        assert!(c[0].fix.as_deref().unwrap().contains("-p"));
        let j = json("h", "dev", &c);
        assert_eq!(j["ok"], false);
        assert_eq!(j["checks"][0]["status"], "fail");
    }
}
