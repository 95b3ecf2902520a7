//! The login step: make sure the profile's IAM Identity Center token is fresh, running
//! `aws sso login` only when it is not. `aws sso login` always opens a new browser login, so
//! the decision is ssso's, in this order: a fresh token (more than `--min-valid` left) that is
//! not due for a refresh (see [`crate::aws::schedule`]) is used as it is, without starting any
//! process; a token that is not fresh first has the caller's *reconcile* step (connect and
//! proxy: the host's token, which its botocore may have refreshed, spending the refresh token
//! this file holds; adopted when it is newer and valid), quietly; a refreshable token that is
//! due or still not fresh is then refreshed without a browser ([`crate::aws::oidc`], the same
//! call botocore makes; a failed refresh of a still fresh token is only logged with `-v`); a
//! reconcile that could not read the host is tried once more, prompts allowed; only then does
//! `aws sso login` run, and then the AWS CLI writes the token. Its output goes to stderr in
//! every mode: stdout belongs to the remote command (or the SSH stream). While it runs, the
//! signals that would end ssso end the login instead (`LoginSignals`): it is never left
//! running without ssso.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::aws::config::SsoProfile;
use crate::aws::schedule::Schedule;
use crate::aws::token::{self, Token};

/// When a token counts as fresh, and what to do when it is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Freshness {
    /// A token with this much or less left is not fresh (`--min-valid`).
    pub min_valid: Duration,
    /// A refreshable token with this much or less left is refreshed (`--refresh-before`).
    pub refresh_before: Duration,
    /// Run `aws sso login` when needed; `false` (`--no-login`) makes a stale token an error.
    pub login: bool,
    /// Extra arguments for `aws sso login` (`--login-arg`).
    pub login_args: Vec<String>,
}

const INSTALL_HINT: &str = "install AWS CLI v2: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html";

/// `--profile NAME`, or `--profile=NAME` for a name that starts with `-` (botocore accepts
/// `[profile -x]`, and the AWS CLI would read `--profile -x` as a missing value).
fn profile_arg(name: &str) -> Vec<String> {
    if name.starts_with('-') {
        vec![format!("--profile={name}")]
    } else {
        vec!["--profile".to_owned(), name.to_owned()]
    }
}

/// Make sure the token for `sso` is fresh; run `aws sso login --profile NAME [extra...]` only
/// when it is not (unless `fresh.login` is false: then an error saying to run `aws sso login`
/// or drop --no-login). After the login the token is read again; still not fresh is an error.
///
/// `aws` is looked up on PATH only when a login is needed, and its version is checked then
/// (AWS CLI v1 has no `sso login`). The child's stdout is ssso's stderr, always; when
/// `stdin_is_stream` is true (ProxyCommand mode, where stdin is the SSH stream) its stdin is
/// `/dev/null`, otherwise it stays the terminal.
pub fn ensure_fresh(
    sso: &SsoProfile,
    fresh: &Freshness,
    stdin_is_stream: bool,
) -> anyhow::Result<Token> {
    ensure_fresh_reconciling(sso, fresh, stdin_is_stream, |_, _| None)
}

/// [`ensure_fresh`] with a reconcile step: `reconcile(local, may_prompt)` returns the bytes of
/// another copy of the chain (the host's token), or None when it could not be read; a valid
/// one that is newer than the local file is adopted ([`token::adopt`]) and, when fresh, used
/// as it is. It is called for a stale token before its refresh (`may_prompt` false: a
/// password prompt is not worth a refresh), and, when that read failed and the refresh did
/// too, once more before a browser login (`may_prompt` true).
pub fn ensure_fresh_reconciling(
    sso: &SsoProfile,
    fresh: &Freshness,
    stdin_is_stream: bool,
    reconcile: impl FnMut(Option<&Token>, bool) -> Option<Vec<u8>>,
) -> anyhow::Result<Token> {
    let cache_file = sso.cache_path()?;
    login_if_needed(
        &cache_file,
        || which::which("aws").ok(),
        sso,
        fresh,
        stdin_is_stream,
        Mode::RefreshFirst,
        reconcile,
    )
}

/// `ssso login`: [`ensure_fresh`] without ssh (messages on stderr, the terminal for the
/// login), or with `force` a login whatever the token's state.
pub fn login(sso: &SsoProfile, fresh: &Freshness, force: bool) -> anyhow::Result<Token> {
    let cache_file = sso.cache_path()?;
    let mode = if force {
        Mode::Force
    } else {
        Mode::RefreshFirst
    };
    login_if_needed(
        &cache_file,
        || which::which("aws").ok(),
        sso,
        fresh,
        false,
        mode,
        |_, _| None,
    )
}

/// What is wrong with the current token, for messages (never its contents).
fn describe(
    sso: &SsoProfile,
    path: &Path,
    state: &anyhow::Result<Option<Token>>,
    min: u64,
    now: i64,
) -> String {
    let p = &sso.profile;
    match state {
        Ok(None) => format!(
            "there is no SSO token for profile `{p}` ({})",
            path.display()
        ),
        Ok(Some(t)) if t.expires_at <= now => format!(
            "the SSO token for profile `{p}` expired {} ago",
            crate::time::human_duration(now - t.expires_at)
        ),
        Ok(Some(t)) => format!(
            "the SSO token for profile `{p}` expires in {}, less than --min-valid {}",
            crate::time::human_duration(t.expires_at - now),
            crate::time::human_duration(min.try_into().unwrap_or(i64::MAX))
        ),
        Err(e) => format!(
            "the SSO token file for profile `{p}` ({}) is unusable: {}",
            path.display(),
            e.root_cause()
        ),
    }
}

/// [`ensure_fresh`] with the token file and the way to find `aws` given, and no network
/// refresh (tests).
#[cfg(test)]
pub(crate) fn ensure_fresh_with(
    cache_file: &Path,
    find_aws: impl FnOnce() -> Option<PathBuf>,
    sso: &SsoProfile,
    fresh: &Freshness,
    stdin_is_stream: bool,
) -> anyhow::Result<Token> {
    login_if_needed(
        cache_file,
        find_aws,
        sso,
        fresh,
        stdin_is_stream,
        Mode::LoginOnly,
        |_, _| None,
    )
}

/// What to do with a token that is not fresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Refresh it natively (see [`crate::aws::oidc`]) when it can be, else log in.
    RefreshFirst,
    /// Log in (tests: no network).
    #[cfg_attr(not(test), allow(dead_code, reason = "the unit tests' mode"))]
    LoginOnly,
    /// `--force`: log in even when the token is fresh.
    Force,
}

/// Makes the token fresh: as it is, refreshed, adopted from `reconcile`, or by `aws sso login`
/// (see [`Mode`] and the module documentation).
fn login_if_needed(
    cache_file: &Path,
    find_aws: impl FnOnce() -> Option<PathBuf>,
    sso: &SsoProfile,
    fresh: &Freshness,
    stdin_is_stream: bool,
    mode: Mode,
    mut reconcile: impl FnMut(Option<&Token>, bool) -> Option<Vec<u8>>,
) -> anyhow::Result<Token> {
    let min_valid_secs = fresh.min_valid.as_secs();
    let no_login = !fresh.login;
    let extra_args = &fresh.login_args;
    let force = mode == Mode::Force;
    let schedule = Schedule::new(fresh.refresh_before);
    let mut state = token::read(cache_file);
    // Why the refresh without a browser failed, for the login's message.
    let mut refresh_error: Option<String> = None;
    // The host's token is read only when it may be needed: quietly before a refresh, and
    // again (a prompt allowed) before a browser login only when that read failed.
    let mut read = false;
    let mut adopt_hosts =
        |state: &mut anyhow::Result<Option<Token>>, may_prompt: bool| -> Option<Token> {
            if read {
                return None;
            }
            let local = state.as_ref().ok().and_then(Option::as_ref);
            let bytes = reconcile(local, may_prompt)?;
            read = true;
            match token::adopt(cache_file, &bytes) {
                Ok(true) => crate::ui::debug("adopted the host's newer token"),
                Ok(false) => crate::ui::debug("the host's token is not newer than this one"),
                Err(e) => crate::ui::debug(format_args!("the host's token: {e:#}")),
            }
            *state = token::read(cache_file);
            match state {
                Ok(Some(t)) if token::is_fresh(t, crate::time::now(), min_valid_secs) => {
                    Some(t.clone())
                }
                _ => None,
            }
        };
    if !force && let Ok(Some(t)) = &state {
        let now = crate::time::now();
        let usable = token::is_fresh(t, now, min_valid_secs);
        let refreshable = mode == Mode::RefreshFirst && crate::aws::oidc::can_refresh(sso, t);
        let due = refreshable
            && schedule.due(
                t.expires_at,
                token::written_at(cache_file).unwrap_or(0),
                now,
            );
        if usable && !due {
            crate::ui::debug(format_args!(
                "token for profile `{}` is fresh (expires in {}); no login",
                sso.profile,
                crate::time::human_duration(t.expires_at - now)
            ));
            return Ok(t.clone());
        }
        if refreshable && !usable {
            // Stale: a host holding a copy of this chain may have refreshed in its own window
            // (botocore's starts with 15 minutes left) and spent the refresh token this file
            // holds. Its token first, so that a spent refresh token is never presented again.
            if let Some(t) = adopt_hosts(&mut state, false) {
                return Ok(t);
            }
        }
    }
    if !force
        && mode == Mode::RefreshFirst
        && let Ok(Some(t)) = &state
        && crate::aws::oidc::can_refresh(sso, t)
    {
        let usable = token::is_fresh(t, crate::time::now(), min_valid_secs);
        match crate::aws::oidc::refresh_file(cache_file, sso, t) {
            Ok(r) if token::is_fresh(&r, crate::time::now(), min_valid_secs) => {
                crate::ui::debug(format_args!(
                    "the SSO token for profile `{}` is fresh without a login",
                    sso.profile
                ));
                return Ok(r);
            }
            Ok(_) => crate::ui::debug("the refreshed token is still not fresh enough"),
            Err(e) => {
                crate::ui::debug(format_args!("could not refresh the token: {e:#}"));
                refresh_error = Some(format!("{e:#}"));
            }
        }
        if usable {
            // Due, not yet needed: the refresh is tried again later.
            return Ok(t.clone());
        }
        state = token::read(cache_file);
    }
    if !force
        && mode == Mode::RefreshFirst
        && let Some(t) = adopt_hosts(&mut state, true)
    {
        return Ok(t);
    }
    let why = if force {
        format!("--force: logging in again for profile `{}`", sso.profile)
    } else {
        let mut why = describe(sso, cache_file, &state, min_valid_secs, crate::time::now());
        if let Some(e) = &refresh_error {
            why.push_str(&format!(", and its refresh without a browser failed ({e})"));
        }
        why
    };
    let login_cmd = format!("aws sso login {}", profile_arg(&sso.profile).join(" "));
    if no_login {
        bail!("{why}; run `{login_cmd}`, or drop --no-login to let ssso run it");
    }
    let aws = find_aws().with_context(|| {
        format!("{why}, and `aws` (the AWS CLI) is not on PATH, so ssso cannot run `{login_cmd}`; {INSTALL_HINT}")
    })?;
    check_version(&aws)?;

    if state.is_err() {
        crate::ui::warn(format_args!("{why}; running `{login_cmd}`"));
    } else {
        crate::ui::info(format_args!("{why}; running `{login_cmd}`"));
    }
    // The login waits for a person (a browser, or a code to type): say so, once.
    crate::ui::info(format_args!(
        "waiting for the IAM Identity Center login in your browser ({}) to finish; Ctrl-C cancels",
        sso.start_url
    ));
    let mut cmd = Command::new(&aws);
    cmd.args(["sso", "login"])
        .args(profile_arg(&sso.profile))
        .args(extra_args)
        .stdin(if stdin_is_stream {
            Stdio::null()
        } else {
            Stdio::inherit()
        })
        .stderr(Stdio::inherit());
    // Its "Successfully logged into ..." is for the user, not for the remote command's stdout.
    {
        use std::os::fd::AsFd as _;
        let fd = std::io::stderr()
            .as_fd()
            .try_clone_to_owned()
            .context("cannot duplicate stderr for `aws sso login`")?;
        cmd.stdout(Stdio::from(fd));
    }
    let (status, signalled) = {
        let guard = LoginSignals::new();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot run {}; {INSTALL_HINT}", aws.display()))?;
        guard.started(child.id());
        let status = wait_ending(&mut child, &guard);
        (status, guard.finish())
    };
    let status = status.with_context(|| format!("lost track of `{login_cmd}`"))?;
    match signalled {
        Some(libc::SIGINT) => bail!(
            "`{login_cmd}` was cancelled (SIGINT); no token was synced. Run ssso again to log in"
        ),
        Some(sig) => {
            return Err(anyhow::Error::new(Terminated(sig)).context(format!(
                "`{login_cmd}` was ended: ssso received {}; no token was synced",
                signal_name(sig)
            )));
        }
        None => {}
    }
    if !status.success() {
        use std::os::unix::process::ExitStatusExt as _;
        match (status.code(), status.signal()) {
            (_, Some(libc::SIGINT)) => bail!(
                "`{login_cmd}` was cancelled (Ctrl-C); no token was synced. Run ssso again to log in"
            ),
            (_, Some(sig)) => bail!(
                "`{login_cmd}` was interrupted (signal {sig}); no token was synced. Run ssso again to log in"
            ),
            (Some(code), _) => bail!(
                "`{login_cmd}` failed (exit status {code}); see its messages above. Fix that and run ssso again (or run `{login_cmd}` yourself first)"
            ),
            _ => bail!("`{login_cmd}` failed ({status})"),
        }
    }

    let now = crate::time::now();
    match token::read(cache_file) {
        Ok(Some(t)) if token::is_fresh(&t, now, min_valid_secs) => Ok(t),
        Ok(None) => bail!(
            "`{login_cmd}` succeeded but wrote no token to {}; check that the profile's sso_session / sso_start_url are the ones `aws sso login` uses (same AWS_CONFIG_FILE)",
            cache_file.display()
        ),
        state @ Ok(Some(_)) => bail!(
            "{} even after `{login_cmd}`; your IAM Identity Center session may be shorter than that: lower --min-valid",
            describe(sso, cache_file, &state, min_valid_secs, now)
        ),
        Err(e) => Err(e.context(format!("after `{login_cmd}`"))),
    }
}

/// Refuse AWS CLI v1 (no `sso login`) before asking anyone to log in.
fn check_version(aws: &Path) -> anyhow::Result<()> {
    let out = Command::new(aws)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run `{} --version`; {INSTALL_HINT}", aws.display()))?;
    // v2 prints to stdout, v1 (and old Pythons) to stderr.
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let version = text.split_whitespace().next().unwrap_or_default();
    crate::ui::debug(format_args!("{} --version: {version}", aws.display()));
    if version.starts_with("aws-cli/1.") {
        bail!(
            "{} is AWS CLI v1 ({version}), which has no `aws sso login`; {INSTALL_HINT}",
            aws.display()
        );
    }
    Ok(())
}

/// A login that ended because ssso received this terminating signal (SIGTERM, SIGHUP): the
/// login was ended too, and ssso exits 128 + the signal's number, as for a session's ssh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terminated(pub i32);

impl std::fmt::Display for Terminated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ended by {}", signal_name(self.0))
    }
}

impl std::error::Error for Terminated {}

impl Terminated {
    /// The exit status: 128 + the signal's number.
    pub fn exit_status(&self) -> u8 {
        u8::try_from(128 + self.0).unwrap_or(255)
    }
}

fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGHUP => "SIGHUP".into(),
        libc::SIGINT => "SIGINT".into(),
        _ => format!("signal {sig}"),
    }
}

/// How long a login that was passed SIGTERM or SIGHUP may take to end before it is killed.
const END_GRACE: Duration = Duration::from_secs(5);

/// Waits for the login `child`; once ssso was told to end (see [`LoginSignals`]) and the
/// child has not ended within [`END_GRACE`], kills it. Polls: the handler only sets flags.
fn wait_ending(
    child: &mut std::process::Child,
    guard: &LoginSignals,
) -> std::io::Result<std::process::ExitStatus> {
    let mut told: Option<std::time::Instant> = None;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if guard.ending() {
            let since = *told.get_or_insert_with(std::time::Instant::now);
            if since.elapsed() > END_GRACE {
                let _ = child.kill();
                return child.wait();
            }
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The pid of the running `aws sso login` (0: none), for the signal handler.
static LOGIN_CHILD: AtomicI32 = AtomicI32::new(0);
/// The signal that ssso was sent while the login ran and passed on to it (0: none).
static LOGIN_SIGNAL: AtomicI32 = AtomicI32::new(0);

/// The signals that end or cancel a login.
const LOGIN_SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// While `aws sso login` runs, the signals that would end ssso end the login instead, and
/// ssso then reports it: SIGTERM and SIGHUP sent to ssso are passed on to the login (which
/// would otherwise be left running, orphaned), and so is a SIGINT sent to ssso alone (`kill
/// -INT`). A Ctrl-C at the terminal reaches the login by itself (the kernel signals the whole
/// foreground process group): it is not passed on a second time, and only must not kill
/// ssso, so that the cancelled login is reported. A handler (unlike SIG_IGN) is reset to the
/// default in the child by exec. The previous dispositions are restored by
/// [`LoginSignals::finish`] or on drop.
struct LoginSignals {
    old: Vec<(libc::c_int, libc::sigaction)>,
}

extern "C" fn on_login_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel hands a valid siginfo to an SA_SIGINFO handler.
    let code = if info.is_null() {
        libc::SI_USER
    } else {
        unsafe { (*info).si_code }
    };
    if sig == libc::SIGINT && !sent_by_a_process(code) {
        return;
    }
    if sig == libc::SIGINT {
        // SIGTERM or SIGHUP, once sent, say how ssso ends.
        let _ = LOGIN_SIGNAL.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
    } else {
        LOGIN_SIGNAL.store(sig, Ordering::SeqCst);
    }
    let child = LOGIN_CHILD.load(Ordering::SeqCst);
    if child > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(child, sig) };
    }
}

/// Whether a signal's `si_code` says a process sent it (kill, sigqueue, tgkill), rather than
/// the kernel (a terminal's Ctrl-C).
fn sent_by_a_process(code: libc::c_int) -> bool {
    code == libc::SI_USER || code < 0
}

impl LoginSignals {
    /// Catches the signals, before the login starts: one that comes before
    /// [`LoginSignals::started`] is passed on there.
    fn new() -> LoginSignals {
        LOGIN_SIGNAL.store(0, Ordering::SeqCst);
        LOGIN_CHILD.store(0, Ordering::SeqCst);
        let mut old = Vec::new();
        for sig in LOGIN_SIGNALS {
            // SAFETY: plain sigaction calls with zeroed, then filled, structs; the handler
            // only touches atomics and calls kill, both async-signal-safe.
            unsafe {
                let mut new: libc::sigaction = std::mem::zeroed();
                new.sa_sigaction = on_login_signal as *const () as libc::sighandler_t;
                new.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
                libc::sigemptyset(&mut new.sa_mask);
                let mut prev: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, &new, &mut prev) == 0 {
                    old.push((sig, prev));
                }
            }
        }
        LoginSignals { old }
    }

    /// The login runs as `child`: from now on a signal is passed on to it by the handler;
    /// one that came before is passed on here. (The handler stores the signal before it reads
    /// the pid and this stores the pid before it reads the signal: one of the two passes it
    /// on, maybe both, which does no harm.)
    fn started(&self, child: u32) {
        let pid = i32::try_from(child).unwrap_or(0);
        LOGIN_CHILD.store(pid, Ordering::SeqCst);
        let sig = LOGIN_SIGNAL.load(Ordering::SeqCst);
        if sig != 0 && pid > 0 {
            // SAFETY: a plain kill of our own child.
            unsafe { libc::kill(pid, sig) };
        }
    }

    /// Whether ssso was sent SIGTERM or SIGHUP (passed on to the login).
    fn ending(&self) -> bool {
        matches!(
            LOGIN_SIGNAL.load(Ordering::SeqCst),
            libc::SIGTERM | libc::SIGHUP
        )
    }

    /// Restores the signals and says which one ssso was sent meanwhile, if any.
    fn finish(self) -> Option<i32> {
        drop(self);
        Some(LOGIN_SIGNAL.swap(0, Ordering::SeqCst)).filter(|&s| s != 0)
    }
}

impl Drop for LoginSignals {
    fn drop(&mut self) {
        LOGIN_CHILD.store(0, Ordering::SeqCst);
        for (sig, old) in &self.old {
            // SAFETY: restores a disposition saved in new().
            unsafe {
                libc::sigaction(*sig, old, std::ptr::null_mut());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::config::AwsConfig;
    use crate::aws::token::tests::{TempDir, token_json};
    use std::sync::Mutex;

    /// Tests that write and exec a script run one at a time: a fork in another thread while
    /// a script is still open for writing would make its exec fail with ETXTBSY.
    static EXEC: Mutex<()> = Mutex::new(());

    struct Fake {
        dir: TempDir,
        aws: PathBuf,
        log: PathBuf,
        cache_file: PathBuf,
        sso: SsoProfile,
    }

    /// A fake `aws` that logs its argv and, for `sso login`, runs `action` (sh).
    fn fake(tag: &str, version: &str, action: &str) -> Fake {
        let dir = TempDir::new(tag);
        let sso = AwsConfig::parse(
            "[profile p]\nsso_session = s\n[sso-session s]\nsso_start_url = https://x/start\nsso_region = eu-west-1\n",
        )
        .unwrap()
        .sso_profile("p")
        .unwrap();
        let cache = dir.0.join("home/.aws/sso/cache");
        let cache_file = cache.join(&sso.cache_file_name);
        let log = dir.0.join("argv.log");
        let aws = dir.0.join("bin/aws");
        std::fs::create_dir_all(aws.parent().unwrap()).unwrap();
        let script = format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{log}'\nif [ \"$1\" = --version ]; then\n{version}\nexit 0\nfi\nCACHE='{cache}'\nFILE='{file}'\n{action}\n",
            log = log.display(),
            cache = cache.display(),
            file = cache_file.display(),
        );
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o755)
                .open(&aws)
                .unwrap();
            std::io::Write::write_all(&mut f, script.as_bytes()).unwrap();
        }
        Fake {
            dir,
            aws,
            log,
            cache_file,
            sso,
        }
    }

    #[test]
    fn who_sent_a_signal_and_the_status_it_ends_with() {
        assert!(sent_by_a_process(libc::SI_USER));
        assert!(sent_by_a_process(libc::SI_QUEUE));
        #[cfg(target_os = "linux")]
        {
            // A terminal's Ctrl-C comes from the kernel; tgkill from a process.
            assert!(!sent_by_a_process(libc::SI_KERNEL));
            assert!(sent_by_a_process(libc::SI_TKILL));
        }
        assert_eq!(Terminated(libc::SIGTERM).exit_status(), 143);
        assert_eq!(Terminated(libc::SIGHUP).exit_status(), 129);
        assert_eq!(Terminated(libc::SIGTERM).to_string(), "ended by SIGTERM");
    }

    const V2: &str = "echo 'aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64'";

    /// Writes a token as CLI v2 does: 0600, JSON, expiring in `secs`.
    fn write_token_action(secs: i64) -> String {
        format!(
            "umask 077\nmkdir -p \"$CACHE\"\nprintf '%s' '{}' > \"$FILE\"",
            token_json(crate::time::now() + secs)
        )
    }

    fn log(f: &Fake) -> Vec<String> {
        std::fs::read_to_string(&f.log)
            .map(|s| s.lines().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    fn freshness(min: u64, no_login: bool, extra: &[&str]) -> Freshness {
        Freshness {
            min_valid: Duration::from_secs(min),
            refresh_before: crate::aws::schedule::REFRESH_BEFORE,
            login: !no_login,
            login_args: extra.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn run(
        f: &Fake,
        min: u64,
        no_login: bool,
        extra: &[&str],
        to_stderr: bool,
    ) -> anyhow::Result<Token> {
        ensure_fresh_with(
            &f.cache_file,
            || Some(f.aws.clone()),
            &f.sso,
            &freshness(min, no_login, extra),
            to_stderr,
        )
    }

    fn put_token(f: &Fake, secs: i64) {
        token::write_atomic(
            &f.cache_file,
            token_json(crate::time::now() + secs).as_bytes(),
        )
        .unwrap();
    }

    #[test]
    fn profile_arg_keeps_dash_names_a_value() {
        assert_eq!(profile_arg("dev"), ["--profile", "dev"]);
        assert_eq!(profile_arg("-x"), ["--profile=-x"]);
    }

    #[test]
    fn fresh_token_starts_nothing() {
        let _l = EXEC.lock().unwrap_or_else(|e| e.into_inner());
        let f = fake("fresh", V2, "exit 99");
        put_token(&f, 3600);
        let t = ensure_fresh_with(
            &f.cache_file,
            || panic!("looked for aws with a fresh token"),
            &f.sso,
            &freshness(900, false, &[]),
            false,
        )
        .unwrap();
        assert!(t.expires_at > crate::time::now() + 3000);
        assert!(log(&f).is_empty());
    }

    #[test]
    fn stale_token_runs_exactly_one_login() {
        let _l = EXEC.lock().unwrap_or_else(|e| e.into_inner());
        let f = fake("stale", V2, &write_token_action(3600));
        put_token(&f, 600); // 10 min left < 15 min
        let t = run(
            &f,
            900,
            false,
            &["--use-device-code", "--no-browser"],
            false,
        )
        .unwrap();
        assert!(token::is_fresh(&t, crate::time::now(), 900));
        assert_eq!(
            log(&f),
            [
                "--version",
                "sso login --profile p --use-device-code --no-browser"
            ]
        );
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&f.cache_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn missing_token_logs_in() {
        let _l = EXEC.lock().unwrap_or_else(|e| e.into_inner());
        let f = fake("missing", V2, &write_token_action(3600));
        run(&f, 900, false, &[], false).unwrap();
        assert_eq!(log(&f), ["--version", "sso login --profile p"]);
    }

    #[test]
    fn corrupt_token_logs_in() {
        let _l = EXEC.lock().unwrap_or_else(|e| e.into_inner());
        let f = fake("corrupt", V2, &write_token_action(3600));
        token::write_atomic(&f.cache_file, b"{\"accessToken\": \"SECRET\"").unwrap();
        run(&f, 900, false, &[], false).unwrap();
        assert_eq!(log(&f).len(), 2);
    }

    #[test]
    fn failing_login_is_an_error_and_writes_nothing() {
        let _l = EXEC.lock().unwrap_or_else(|e| e.into_inner());
        let f = fake("fail", V2, "echo 'Error: boom' >&2\nexit 255");
        let e = format!("{:#}", run(&f, 900, false, &[], false).unwrap_err());
        assert!(
            e.contains("`aws sso login --profile p` failed (exit status 255)"),
            "{e}"
        );
        assert!(!f.cache_file.exists());
        assert!(!f.cache_file.parent().unwrap().exists());
    }

    #[test]
    fn killed_login_is_an_error() {
        let _l = EXEC.lock().unwrap_or_else(|e| e.into_inner());
        let f = fake("killed", V2, "kill -TERM $$");
        let e = format!("{:#}", run(&f, 900, false, &[], false).unwrap_err());
        assert!(e.contains("was interrupted (signal 15)"), "{e}");
        assert!(!f.cache_file.exists());
    }

    #[test]
    fn no_login_errors() {
        let _l = EXEC.lock().unwrap_or_else(|e| e.into_inner());
        let f = fake("nologin", V2, "exit 99");
        put_token(&f, -1200);
        let e = ensure_fresh_with(
            &f.cache_file,
            || panic!("looked for aws"),
            &f.sso,
            &freshness(900, true, &[]),
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("expired 20m ago"), "{e}");
        assert!(
            e.contains("run `aws sso login --profile p`, or drop --no-login"),
            "{e}"
        );
        std::fs::remove_file(&f.cache_file).unwrap();
        let e = run(&f, 900, true, &[], false).unwrap_err().to_string();
        assert!(e.contains("there is no SSO token for profile `p`"), "{e}");
        assert!(log(&f).is_empty());
    }

    #[test]
    fn no_aws_on_path() {
        let _l = EXEC.lock().unwrap_or_else(|e| e.into_inner());
        let f = fake("noaws", V2, "exit 99");
        let e = ensure_fresh_with(
            &f.cache_file,
            || None,
            &f.sso,
            &freshness(900, false, &[]),
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("not on PATH") && e.contains("getting-started-install.html"),
            "{e}"
        );
    }

    #[test]
    fn aws_cli_v1_is_refused() {
        let _l = EXEC.lock().unwrap_or_else(|e| e.into_inner());
        let f = fake(
            "v1",
            "echo 'aws-cli/1.18.69 Python/2.7.18 Linux/5.4 botocore/1.17.0' >&2",
            "exit 99",
        );
        let e = run(&f, 900, false, &[], false).unwrap_err().to_string();
        assert!(e.contains("AWS CLI v1 (aws-cli/1.18.69)"), "{e}");
        assert!(e.contains("getting-started-install.html"), "{e}");
        assert_eq!(log(&f), ["--version"]);
    }

    #[test]
    fn login_that_leaves_a_stale_token_is_an_error() {
        let _l = EXEC.lock().unwrap_or_else(|e| e.into_inner());
        let f = fake("short", V2, &write_token_action(290));
        let e = run(&f, 900, false, &[], false).unwrap_err().to_string();
        assert!(
            e.contains("expires in 4m, less than --min-valid 15m even after"),
            "{e}"
        );
        assert!(e.contains("lower --min-valid"), "{e}");

        let f = fake("nowrite", V2, "exit 0");
        let e = run(&f, 900, false, &[], false).unwrap_err().to_string();
        assert!(e.contains("wrote no token"), "{e}");
    }

    #[test]
    fn stdout_goes_to_stderr_in_every_mode() {
        let _l = EXEC.lock().unwrap_or_else(|e| e.into_inner());
        let action = format!(
            "{}\nprintf '%s %s\\n' \"$(readlink /proc/$$/fd/1)\" \"$(readlink /proc/$$/fd/2)\" > \"$CACHE.fds\"",
            write_token_action(3600)
        );
        let f = fake("connectmode", V2, &action);
        run(&f, 900, false, &[], false).unwrap();
        let fds = std::fs::read_to_string(f.dir.0.join("home/.aws/sso/cache.fds")).unwrap();
        let (out, err) = fds.trim().split_once(' ').unwrap();
        assert_eq!(out, err, "child stdout should be ssso's stderr");
    }

    #[test]
    fn stdout_goes_to_stderr_in_proxy_mode() {
        let _l = EXEC.lock().unwrap_or_else(|e| e.into_inner());
        let action = format!(
            "{}\nprintf '%s %s\\n' \"$(readlink /proc/$$/fd/1)\" \"$(readlink /proc/$$/fd/2)\" > \"$CACHE.fds\"",
            write_token_action(3600)
        );
        let f = fake("proxy", V2, &action);
        run(&f, 900, false, &[], true).unwrap();
        let fds = std::fs::read_to_string(f.dir.0.join("home/.aws/sso/cache.fds")).unwrap();
        let (out, err) = fds.trim().split_once(' ').unwrap();
        assert_eq!(out, err, "child stdout should be ssso's stderr");
    }
}
