//! Integration-test harness for ssso: a real `sshd` on 127.0.0.1, the real `ssh` client, the
//! real AWS CLI v1 on the "remote" side (test users of this machine), a mock IAM Identity Center
//! portal and moto's STS, and a fake AWS CLI v2 for the local login step.
//!
//! Everything is started lazily, once per test binary, and dies with it:
//! - long-lived children are spawned from one dedicated thread that never exits, with
//!   `PR_SET_PDEATHSIG = SIGKILL` (the signal fires when the *spawning thread* dies, so spawning
//!   from a test thread would kill sshd when that test ends);
//! - the python servers also exit when their stdin (a pipe we hold until exit) reaches EOF;
//! - an `atexit` hook kills sshd's per-connection children and sshd, then removes the run dir.
//!
//! Needs root and a machine prepared by `tests/support/setup.sh`.
//!
//! Use it from a test file with `mod common;`.
#![allow(dead_code)]

mod builder;
#[allow(unused_imports)] // not every test binary tells its stories with the builder
pub use builder::{Ran, Test};

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, mpsc};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

// ---------------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------------

/// The seven login shells and their test users: (shell name, user).
pub const SHELL_USERS: &[(&str, &str)] = &[
    ("bash", "ssso-bash"),
    ("sh", "ssso-sh"),
    ("zsh", "ssso-zsh"),
    ("ksh", "ssso-ksh"),
    ("tcsh", "ssso-tcsh"),
    ("csh", "ssso-csh"),
    ("fish", "ssso-fish"),
];
/// bash user that only has a password (no authorized key): for password-prompt tests.
pub const PW_USER: &str = "ssso-pw";
/// `PW_USER`'s password.
pub const PW_PASSWORD: &str = "ssso-test-pw";
/// bash user whose home is root-owned 0555: creating `~/.aws` fails.
pub const RO_USER: &str = "ssso-ro";
/// bash user with no `aws` on PATH (neither in `sh -c` nor in its login shell).
pub const NOAWS_USER: &str = "ssso-noaws";
/// tcsh user whose ~/.cshrc prints on stdout and stderr (without a final newline), hides `sh`
/// when `~/.aws/.test-nosh` exists and sleeps `~/.aws/.test-slow` seconds first.
pub const NOISY_USER: &str = "ssso-noisy";
/// bash user whose `~/.aws` the tests replace with a tiny tmpfs (see [`TinyAws`]).
pub const FULL_USER: &str = "ssso-full";
/// User whose login shell (`/opt/ssso-test/rec-shell`, from `tests/support/rec-shell.c`)
/// records every start in `~/.ssso-rec/<pid>` (see [`rec_records`]), then is bash.
pub const REC_USER: &str = "ssso-rec";
/// Every test user `user()` knows.
pub const ALL_USERS: &[&str] = &[
    "ssso-bash",
    "ssso-sh",
    "ssso-zsh",
    "ssso-ksh",
    "ssso-tcsh",
    "ssso-csh",
    "ssso-fish",
    PW_USER,
    RO_USER,
    NOAWS_USER,
    NOISY_USER,
    FULL_USER,
    REC_USER,
];

/// The `Host` alias of the test server in `Server::ssh_config()`.
pub const HOST_ALIAS: &str = "ssso-test";
/// Account id that moto's `GetCallerIdentity` reports and `sso_config` uses.
pub const ACCOUNT_ID: &str = "123456789012";
/// Role name used by `sso_config`.
pub const ROLE_NAME: &str = "ReadOnly";
/// Start URL used by `sso_config` and by `write_token` files.
pub const START_URL: &str = "https://example.awsapps.com/start";
/// SSO region used by `sso_config` and by `write_token` files.
pub const SSO_REGION: &str = "us-east-1";
/// The test users' AWS CLI v1 (a venv made by setup.sh).
pub const REMOTE_AWS_VENV: &str = "/opt/ssso-test/venv";
/// The directory holding only the test users' `aws` (a link into [`REMOTE_AWS_VENV`]); setup.sh
/// also puts it on their login shells' PATH (never on anyone else's).
pub const REMOTE_AWS_BIN: &str = "/opt/ssso-test/bin";
/// PATH every test session gets from sshd (except `NOAWS_USER`, which gets `/usr/bin:/bin`).
pub const REMOTE_PATH: &str = "/opt/ssso-test/bin:/usr/local/bin:/usr/bin:/bin";
/// The python with moto[server] (a venv made by setup.sh from
/// `tests/support/tools-requirements.txt`); `SSSO_TEST_PYTHON` names another.
pub const TOOLS_PYTHON: &str = "/opt/ssso-test/tools/bin/python";

/// Default bound for commands run through [`run`].
pub const CMD_TIMEOUT: Duration = Duration::from_secs(60);
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The ssso binary under test.
pub fn ssso_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_ssso"))
}

/// `tests/support` in the source tree.
pub fn support_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support")
}

// ---------------------------------------------------------------------------------------------
// Process plumbing
// ---------------------------------------------------------------------------------------------

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// Spawns `cmd` from a dedicated thread that lives as long as the process, with
/// `PR_SET_PDEATHSIG(SIGKILL)`: the child dies when the test binary does.
fn spawn_tied(mut cmd: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let tx = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        thread::Builder::new()
            .name("harness-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
                // Unreachable in practice: the sender lives in a static. Never return, so that
                // PDEATHSIG never fires before the process exits.
                loop {
                    thread::park();
                }
            })
            .expect("spawn harness-spawner thread");
        Mutex::new(tx)
    });
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (reply_tx, reply_rx) = mpsc::channel();
    tx.lock()
        .unwrap_or_else(|e| e.into_inner())
        .send((cmd, reply_tx))
        .expect("harness-spawner thread is gone");
    reply_rx.recv().expect("harness-spawner thread is gone")
}

/// Runs `cmd` to completion with stdout/stderr captured, killing it and panicking (with the
/// output so far) if it takes longer than `timeout`. stdin is `/dev/null` (use
/// [`run_with_stdin`] to feed some). Also panics if stdout/stderr stay open after the exit
/// (a leftover background process holding them).
pub fn run(cmd: &mut Command, timeout: Duration) -> Output {
    run_inner(cmd, None, timeout)
}

/// Like [`run`], feeding `input` on stdin (then closing it).
pub fn run_with_stdin(cmd: &mut Command, input: &[u8], timeout: Duration) -> Output {
    run_inner(cmd, Some(input), timeout)
}

fn run_inner(cmd: &mut Command, input: Option<&[u8]>, timeout: Duration) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    // This thread waits for the child, so PDEATHSIG only fires if the test binary dies.
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    if let Some(input) = input {
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_vec();
        thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    let out = reader(child.stdout.take().unwrap());
    let err = reader(child.stderr.take().unwrap());
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                let stdout = out.recv_timeout(Duration::from_secs(2)).unwrap_or_default();
                let stderr = err.recv_timeout(Duration::from_secs(2)).unwrap_or_default();
                panic!(
                    "timed out after {timeout:?}: {cmd:?}\n--- stdout:\n{}\n--- stderr:\n{}",
                    String::from_utf8_lossy(&stdout),
                    String::from_utf8_lossy(&stderr)
                );
            }
            Err(e) => panic!("waiting for {cmd:?}: {e}"),
        }
    };
    // The pipes can outlive the child (a grandchild holding them, e.g. a ControlPersist master
    // that forgot to close them): bound that wait too.
    let stdout = join_bounded(out, deadline, cmd, "stdout");
    let stderr = join_bounded(err, deadline, cmd, "stderr");
    Output {
        status,
        stdout,
        stderr,
    }
}

fn reader<R: Read + Send + 'static>(mut r: R) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

fn join_bounded(
    rx: mpsc::Receiver<Vec<u8>>,
    deadline: Instant,
    cmd: &Command,
    what: &str,
) -> Vec<u8> {
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_secs(2));
    rx.recv_timeout(left).unwrap_or_else(|_| {
        panic!("{cmd:?} exited but its {what} stayed open (a leftover background process?)")
    })
}

/// Panics with the command's output unless it succeeded.
pub fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed with {}\n--- stdout:\n{}\n--- stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `cmd` (program, arguments and environment changes are taken over; stdio is not) on a
/// fresh pseudo-terminal through `tests/support/pty_run.py`: for each `(regex, text)` step it
/// waits for `regex` in the terminal output, then types `text` (Python escapes: `\\r`, `\\x04`).
/// Then it waits for the program to exit. `Output.stdout` is everything the terminal showed
/// (stderr included, CRLF line ends); the status is the program's. Panics on timeout with the
/// output so far.
pub fn run_in_pty(cmd: &Command, steps: &[(&str, &str)], timeout: Duration) -> Output {
    let mut py = Command::new("/usr/bin/python3");
    py.arg(support_dir().join("pty_run.py"))
        .arg("--timeout")
        .arg(timeout.as_secs_f64().to_string());
    for (rx, text) in steps {
        py.args(["--expect", rx, "--send", text]);
    }
    py.arg("--").arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => py.env(k, v),
            None => py.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        py.current_dir(dir);
    }
    let out = run(&mut py, timeout + Duration::from_secs(10));
    assert!(
        out.status.code() != Some(124),
        "{cmd:?} on a pty: {}\n--- terminal:\n{}",
        String::from_utf8_lossy(&out.stderr).trim(),
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

/// Reads the first line a child prints on stdout (its port), bounded in time.
fn read_port(stdout: ChildStdout, what: &str, log: &Path) -> (u16, BufReader<ChildStdout>) {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        let mut line = String::new();
        let res = r.read_line(&mut line).map(|_| line);
        let _ = tx.send((res, r));
    });
    match rx.recv_timeout(START_TIMEOUT) {
        Ok((Ok(line), r)) => match line.trim().parse() {
            Ok(port) => (port, r),
            Err(_) => panic!(
                "{what} printed {line:?} instead of a port; its stderr ({}):\n{}",
                log.display(),
                fs::read_to_string(log).unwrap_or_default()
            ),
        },
        _ => panic!(
            "{what} did not print its port within {START_TIMEOUT:?}; its stderr ({}):\n{}",
            log.display(),
            fs::read_to_string(log).unwrap_or_default()
        ),
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `YYYY-MM-DDTHH:MM:SSZ` (UTC) for a Unix time, as the AWS CLI writes `expiresAt`.
pub fn iso8601(secs: i64) -> String {
    ssso::time::format_timestamp(secs)
}

/// A token string no other test (or test binary) uses: `LABEL-<pid>-<n>-<nanos>`.
pub fn unique_token(label: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{label}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// SHA-1 hex of `s`: the token cache file name (without `.json`) for an `sso_session` name or
/// `sso_start_url`.
pub fn cache_key(session_or_start_url: &str) -> String {
    let name = ssso::aws::token::cache_file_name(session_or_start_url);
    name.trim_end_matches(".json").to_owned()
}

/// Token cache file contents, exactly as `tests/support/fake-aws` writes them.
pub fn token_json(access_token: &str, expires_in_secs: i64) -> String {
    let now = now_secs();
    serde_json::json!({
        "startUrl": START_URL,
        "region": SSO_REGION,
        "accessToken": access_token,
        "expiresAt": iso8601(now + expires_in_secs),
        "clientId": "fake-client-id",
        "clientSecret": "fake-client-secret",
        "registrationExpiresAt": iso8601(now + 90 * 86400),
        "refreshToken": format!("fake-refresh-{access_token}"),
    })
    .to_string()
}

/// A typical sso-session profile:
/// `[profile P] sso_session=S sso_account_id=123456789012 sso_role_name=ReadOnly region=us-east-1`
/// and `[sso-session S]` with `START_URL`, `SSO_REGION`, `sso:account:access`.
/// Its token cache key is `cache_key(session)`.
pub fn sso_config(profile: &str, session: &str) -> String {
    format!(
        "[profile {profile}]\n\
         sso_session = {session}\n\
         sso_account_id = {ACCOUNT_ID}\n\
         sso_role_name = {ROLE_NAME}\n\
         region = us-east-1\n\
         output = json\n\
         \n\
         [sso-session {session}]\n\
         sso_start_url = {START_URL}\n\
         sso_region = {SSO_REGION}\n\
         sso_registration_scopes = sso:account:access\n"
    )
}

/// A legacy (no sso-session) profile; its token cache key is `cache_key(START_URL)`.
pub fn legacy_sso_config(profile: &str) -> String {
    format!(
        "[profile {profile}]\n\
         sso_start_url = {START_URL}\n\
         sso_region = {SSO_REGION}\n\
         sso_account_id = {ACCOUNT_ID}\n\
         sso_role_name = {ROLE_NAME}\n\
         region = us-east-1\n\
         output = json\n"
    )
}

// ---------------------------------------------------------------------------------------------
// Run directory and exit cleanup
// ---------------------------------------------------------------------------------------------

static SSHD_PID: AtomicI32 = AtomicI32::new(0);
static RUN_DIR: OnceLock<PathBuf> = OnceLock::new();

/// `/run/ssso-test/<pid>`: root-owned, every ancestor root-owned and not group/world-writable,
/// which sshd's StrictModes demands of `AuthorizedKeysFile` paths (so not under /tmp).
/// Readable by the test users (sshd reads authorized keys as the user); secrets in it are 0600.
/// Removed at exit; stale ones from killed test binaries are removed on the next start.
pub fn run_dir() -> &'static Path {
    RUN_DIR.get_or_init(|| {
        assert!(
            unsafe { libc::geteuid() } == 0,
            "ssso's integration tests need root (they start sshd and act as the test users)"
        );
        let base = Path::new("/run/ssso-test");
        fs::create_dir_all(base).expect("create /run/ssso-test");
        fs::set_permissions(base, fs::Permissions::from_mode(0o755)).unwrap();
        for entry in fs::read_dir(base).into_iter().flatten().flatten() {
            let pid = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok());
            if pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
        let dir = base.join(std::process::id().to_string());
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir(&dir).expect("create run dir");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        unsafe {
            libc::atexit(cleanup_at_exit);
        }
        dir
    })
}

extern "C" fn cleanup_at_exit() {
    let sshd = SSHD_PID.load(Ordering::SeqCst);
    if sshd > 0 {
        // sshd's per-connection children (started in their own sessions) outlive the listener.
        for pid in children_of(sshd) {
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        unsafe { libc::kill(sshd, libc::SIGKILL) };
    }
    if let Some(dir) = RUN_DIR.get() {
        let _ = fs::remove_dir_all(dir);
    }
}

/// Pids whose parent is `ppid` (from /proc).
pub fn children_of(ppid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may contain spaces and parentheses.
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        if after.split_whitespace().nth(1).and_then(|s| s.parse().ok()) == Some(ppid) {
            out.push(pid);
        }
    }
    out
}

fn write_file(path: &Path, contents: &[u8], mode: u32) {
    let _ = fs::remove_file(path);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    f.write_all(contents).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Mock SSO portal + moto STS
// ---------------------------------------------------------------------------------------------

/// The mock IAM Identity Center portal (`tests/support/mock_sso.py`, also answering SSO-OIDC
/// refreshes from ssso and from the hosts' botocore, with refresh tokens that rotate and are
/// refused when reused; see [`Portal::register_refresh`], [`Portal::reuses`]) and moto's
/// server (STS).
pub struct Portal {
    /// Port of the mock portal on 127.0.0.1 (`AWS_ENDPOINT_URL_SSO`, `..._SSO_OIDC`).
    pub sso_port: u16,
    /// Port of moto on 127.0.0.1 (`AWS_ENDPOINT_URL_STS`).
    pub sts_port: u16,
    tokens_file: PathBuf,
    seen_log: PathBuf,
    refresh_dir: PathBuf,
    register_lock: Mutex<()>,
    _keep: Mutex<Vec<(Child, ChildStdin, BufReader<ChildStdout>)>>,
}

/// Starts (once) and returns the mock portal and moto.
pub fn portal() -> &'static Portal {
    static PORTAL: OnceLock<Portal> = OnceLock::new();
    PORTAL.get_or_init(|| {
        let dir = run_dir().join("portal");
        fs::create_dir_all(&dir).unwrap();
        let tokens_file = dir.join("tokens");
        let seen_log = dir.join("seen");
        write_file(&tokens_file, b"", 0o644);
        write_file(&seen_log, b"", 0o644);
        let refresh_dir = dir.join("refresh");
        fs::create_dir_all(&refresh_dir).unwrap();

        // mock_sso needs only the standard library: Debian's python3.
        let sso_log = dir.join("mock_sso.log");
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(support_dir().join("mock_sso.py"))
            .arg(&tokens_file)
            .arg(&seen_log)
            .arg(&refresh_dir);
        let (sso_port, sso) = start_python(cmd, "mock_sso.py", &sso_log);

        // moto needs the python that has moto[server]: setup.sh's tools venv.
        let moto_log = dir.join("moto.log");
        let python = tools_python();
        let mut cmd = Command::new(&python);
        cmd.arg(support_dir().join("moto_stdin.py"));
        let (sts_port, moto) = start_python(cmd, "moto_stdin.py (moto[server])", &moto_log);

        Portal {
            sso_port,
            sts_port,
            tokens_file,
            seen_log,
            refresh_dir,
            register_lock: Mutex::new(()),
            _keep: Mutex::new(vec![sso, moto]),
        }
    })
}

/// `SSSO_TEST_PYTHON`, else [`TOOLS_PYTHON`] (which must exist: run setup.sh).
fn tools_python() -> String {
    if let Ok(python) = std::env::var("SSSO_TEST_PYTHON") {
        return python;
    }
    assert!(
        Path::new(TOOLS_PYTHON).exists(),
        "{TOOLS_PYTHON} missing: run tests/support/setup.sh (as root) first, or set \
         SSSO_TEST_PYTHON to a python that has moto[server]"
    );
    TOOLS_PYTHON.to_owned()
}

fn start_python(
    mut cmd: Command,
    what: &str,
    log: &Path,
) -> (u16, (Child, ChildStdin, BufReader<ChildStdout>)) {
    let log_file = fs::File::create(log).unwrap();
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log_file);
    let mut child = spawn_tied(cmd).unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let stdin = child.stdin.take().unwrap();
    let (port, stdout) = read_port(child.stdout.take().unwrap(), what, log);
    (port, (child, stdin, stdout))
}

impl Portal {
    /// Makes the portal accept `token` from now on.
    pub fn register_token(&self, token: &str) {
        self.append(&self.tokens_file, token);
    }

    /// Makes the mock SSO-OIDC accept `refresh_token` (once; refresh tokens rotate), issuing access tokens that the portal accepts and that last `expires_in` seconds. The
    /// refresh token names the *family* of every token issued from it.
    pub fn register_refresh(&self, refresh_token: &str, expires_in: i64) {
        self.append(
            &self.refresh_dir.join("registered"),
            &format!("{refresh_token} {expires_in}"),
        );
    }

    /// From now on, every refresh of `family` fails (400 invalid_grant).
    pub fn fail_refresh(&self, family: &str) {
        self.append(&self.refresh_dir.join("fail"), family);
    }

    /// Role credentials that the portal hands out for `token` last `seconds` (default 3600).
    pub fn set_role_lifetime(&self, token: &str, seconds: i64) {
        self.append(
            &self.tokens_file.with_file_name("role-lifetimes"),
            &format!("{token} {seconds}"),
        );
    }

    /// Every `GetRoleCredentials` answered for `token`, in order.
    pub fn role_calls(&self, token: &str) -> Vec<RoleCall> {
        fs::read_to_string(self.tokens_file.with_file_name("role-calls"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let w: Vec<&str> = l.split(' ').collect();
                (w.len() == 5 && w[0] == token).then(|| RoleCall {
                    account_id: w[1].to_owned(),
                    role_name: w[2].to_owned(),
                    access_key_id: w[3].to_owned(),
                    expiration_ms: w[4].parse().unwrap_or(0),
                })
            })
            .collect()
    }

    /// The access tokens issued by refreshes of `family`, in order (by anyone).
    pub fn refreshes(&self, family: &str) -> Vec<String> {
        self.refresh_log(family)
            .into_iter()
            .map(|(t, _)| t)
            .collect()
    }

    /// The access tokens issued by refreshes of `family` that `client` asked for: "ssso", or
    /// "host" (a host's botocore).
    pub fn refreshes_by(&self, family: &str, client: &str) -> Vec<String> {
        self.refresh_log(family)
            .into_iter()
            .filter(|(_, c)| c == client)
            .map(|(t, _)| t)
            .collect()
    }

    fn refresh_log(&self, family: &str) -> Vec<(String, String)> {
        fs::read_to_string(self.refresh_dir.join("log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let w: Vec<&str> = l.split(' ').collect();
                (w.len() == 3 && w[0] == family).then(|| (w[1].to_owned(), w[2].to_owned()))
            })
            .collect()
    }

    /// The clients ("ssso", "host") that sent an already used refresh token of `family`.
    pub fn reuses(&self, family: &str) -> Vec<String> {
        fs::read_to_string(self.refresh_dir.join("reuses"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once(' '))
            .filter(|(f, _)| *f == family)
            .map(|(_, c)| c.to_owned())
            .collect()
    }

    /// From now on, the host's botocore may not refresh `family` (each attempt is counted, see
    /// [`Portal::host_refused`]): for token lifetimes below botocore's 15-minute window.
    pub fn refuse_host_refresh(&self, family: &str) {
        self.append(&self.refresh_dir.join("refuse-host"), family);
    }

    /// The access tokens issued by refreshes that were presented to the portal after they
    /// expired (each refused).
    pub fn expired_uses(&self) -> Vec<String> {
        fs::read_to_string(self.refresh_dir.join("expired-uses"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// How many refreshes of `family` the host attempted and was refused.
    pub fn host_refused(&self, family: &str) -> usize {
        fs::read_to_string(self.refresh_dir.join("host-refused"))
            .unwrap_or_default()
            .lines()
            .filter(|l| *l == family)
            .count()
    }

    fn append(&self, file: &Path, line: &str) {
        let _g = self.register_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut f = fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(file)
            .unwrap();
        f.write_all(format!("{line}\n").as_bytes()).unwrap();
    }

    /// Every bearer token the portal has received (one entry per request, in order, all tests
    /// of this binary mixed: use unique tokens).
    pub fn seen_tokens(&self) -> Vec<String> {
        fs::read_to_string(&self.seen_log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// How many requests carried `token`.
    pub fn times_seen(&self, token: &str) -> usize {
        self.seen_tokens().iter().filter(|t| *t == token).count()
    }

    pub fn sso_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.sso_port)
    }

    pub fn sts_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.sts_port)
    }
}

/// One `GetRoleCredentials` the mock portal answered (see [`Portal::role_calls`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleCall {
    pub account_id: String,
    pub role_name: String,
    pub access_key_id: String,
    pub expiration_ms: i64,
}

/// `portal().register_token(token)`.
pub fn register_token(token: &str) {
    portal().register_token(token)
}

// ---------------------------------------------------------------------------------------------
// sshd
// ---------------------------------------------------------------------------------------------

/// The test sshd on 127.0.0.1 and the client-side files to reach it.
pub struct Server {
    /// sshd's port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
    ssh_config: PathBuf,
    client_key: PathBuf,
    known_hosts: PathBuf,
    sshd_log: PathBuf,
    _child: Mutex<Child>,
}

/// Starts (once) and returns the test sshd (and the portal, whose URLs it hands to sessions).
pub fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(start_server)
}

fn keygen(path: &Path, comment: &str) {
    let out = run(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
            .arg(path),
        CMD_TIMEOUT,
    );
    assert_success(&out, "ssh-keygen");
}

fn check_setup() {
    for u in ALL_USERS {
        assert!(
            passwd(u).is_some(),
            "test user {u} does not exist: run tests/support/setup.sh (as root) first"
        );
    }
    assert!(
        Path::new(REMOTE_AWS_BIN).join("aws").exists(),
        "{REMOTE_AWS_BIN}/aws missing: run tests/support/setup.sh (as root) first"
    );
    fs::create_dir_all("/run/sshd").expect("create /run/sshd");
}

fn start_server() -> Server {
    check_setup();
    let portal = portal();
    let dir = run_dir().join("sshd");
    fs::create_dir_all(&dir).unwrap();
    let host_key = dir.join("host_ed25519");
    let client_key = dir.join("client_ed25519");
    keygen(&host_key, "ssso-test-host");
    keygen(&client_key, "ssso-test-client");

    // Authorized keys outside the homes: root-owned dir 0755, files 0644 (StrictModes-clean).
    let ak_dir = dir.join("authorized_keys");
    fs::create_dir_all(&ak_dir).unwrap();
    fs::set_permissions(&ak_dir, fs::Permissions::from_mode(0o755)).unwrap();
    let client_pub = fs::read(client_key.with_extension("pub")).unwrap();
    for u in ALL_USERS.iter().filter(|u| **u != PW_USER) {
        write_file(&ak_dir.join(u), &client_pub, 0o644);
    }

    let env = |path: &str| {
        format!(
            "AWS_ENDPOINT_URL_SSO={sso} AWS_ENDPOINT_URL_SSO_OIDC={sso} \
             AWS_ENDPOINT_URL_STS={sts} AWS_EC2_METADATA_DISABLED=true PATH={path}",
            sso = portal.sso_url(),
            sts = portal.sts_url()
        )
    };
    let sshd_log = dir.join("sshd.log");
    let host_pub = fs::read_to_string(host_key.with_extension("pub")).unwrap();
    let host_pub = host_pub
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");

    let mut last_log = String::new();
    for _attempt in 0..5 {
        let port = free_port();
        // For SetEnv the first directive that applies wins, and Match blocks run to the end of
        // the file: so ssso-noaws's block comes first and everyone else's is under `Match all`.
        let config = format!(
            "ListenAddress 127.0.0.1:{port}\n\
             HostKey {host_key}\n\
             PidFile none\n\
             UsePAM no\n\
             PermitRootLogin no\n\
             AllowUsers ssso-*\n\
             PubkeyAuthentication yes\n\
             PasswordAuthentication yes\n\
             KbdInteractiveAuthentication no\n\
             PermitEmptyPasswords no\n\
             AuthorizedKeysFile {ak}/%u\n\
             StrictModes yes\n\
             Subsystem sftp internal-sftp\n\
             MaxStartups 100:30:200\n\
             MaxSessions 50\n\
             MaxAuthTries 20\n\
             LoginGraceTime 30\n\
             PrintMotd no\n\
             PrintLastLog no\n\
             X11Forwarding no\n\
             PermitUserEnvironment no\n\
             LogLevel VERBOSE\n\
             \n\
             Match User {NOAWS_USER}\n\
             \x20   SetEnv {noaws_env}\n\
             Match all\n\
             \x20   SetEnv {env}\n",
            host_key = host_key.display(),
            ak = ak_dir.display(),
            noaws_env = env("/usr/bin:/bin"),
            env = env(REMOTE_PATH),
        );
        let config_path = dir.join("sshd_config");
        write_file(&config_path, config.as_bytes(), 0o644);

        let log_file = fs::File::create(&sshd_log).unwrap();
        let mut cmd = Command::new("/usr/sbin/sshd");
        cmd.arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file);
        let mut child = spawn_tied(cmd).unwrap_or_else(|e| panic!("cannot start sshd: {e}"));
        SSHD_PID.store(child.id() as i32, Ordering::SeqCst);

        match wait_for_sshd(&mut child, port) {
            Ok(()) => {
                let known_hosts = dir.join("known_hosts");
                write_file(
                    &known_hosts,
                    format!("[127.0.0.1]:{port} {host_pub}\n").as_bytes(),
                    0o644,
                );
                let ssh_config = dir.join("ssh_config");
                let cfg = format!(
                    "Host {HOST_ALIAS}\n\
                     \x20   HostName 127.0.0.1\n\
                     \x20   Port {port}\n\
                     \x20   IdentityFile {key}\n\
                     \x20   IdentitiesOnly yes\n\
                     \x20   UserKnownHostsFile {kh}\n\
                     \x20   GlobalKnownHostsFile /dev/null\n\
                     \x20   StrictHostKeyChecking yes\n\
                     \x20   BatchMode no\n\
                     \x20   LogLevel ERROR\n\
                     \n\
                     Host *\n\
                     \x20   IdentityAgent none\n\
                     \x20   AddKeysToAgent no\n\
                     \x20   ForwardAgent no\n\
                     \x20   ForwardX11 no\n\
                     \x20   UpdateHostKeys no\n\
                     \x20   CheckHostIP no\n\
                     \x20   HashKnownHosts no\n\
                     \x20   ConnectTimeout 10\n\
                     \x20   ServerAliveInterval 15\n\
                     \x20   ServerAliveCountMax 4\n",
                    key = client_key.display(),
                    kh = known_hosts.display(),
                );
                write_file(&ssh_config, cfg.as_bytes(), 0o644);
                return Server {
                    port,
                    dir,
                    ssh_config,
                    client_key,
                    known_hosts,
                    sshd_log,
                    _child: Mutex::new(child),
                };
            }
            Err(msg) => {
                let _ = child.kill();
                let _ = child.wait();
                SSHD_PID.store(0, Ordering::SeqCst);
                last_log = fs::read_to_string(&sshd_log).unwrap_or_default();
                if !last_log.contains("Address already in use") {
                    panic!("test sshd did not start: {msg}\n--- sshd's output:\n{last_log}");
                }
            }
        }
    }
    panic!("test sshd: no free port after 5 attempts\n--- sshd's output:\n{last_log}");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// Polls until sshd answers with an SSH banner (bounded), or says why not.
fn wait_for_sshd(child: &mut Child, port: u16) -> Result<(), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("sshd exited with {status}"));
        }
        if let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
            s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            let mut banner = [0u8; 8];
            if s.read_exact(&mut banner).is_ok() && &banner == b"SSH-2.0-" {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(format!(
                "no SSH banner on 127.0.0.1:{port} within {START_TIMEOUT:?}"
            ));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

impl Server {
    /// The client config to pass with `-F` (`Host ssso-test` = this server).
    pub fn ssh_config(&self) -> &Path {
        &self.ssh_config
    }

    /// The client's private key (authorized for every test user except `PW_USER`).
    pub fn client_key(&self) -> &Path {
        &self.client_key
    }

    /// known_hosts holding the host key for `[127.0.0.1]:PORT`.
    pub fn known_hosts(&self) -> &Path {
        &self.known_hosts
    }

    /// The server's private directory (keys, configs, logs).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Everything sshd logged so far (LogLevel VERBOSE), for failure messages.
    pub fn sshd_log(&self) -> String {
        fs::read_to_string(&self.sshd_log).unwrap_or_default()
    }

    /// sshd's pid (the listener).
    pub fn sshd_pid(&self) -> i32 {
        SSHD_PID.load(Ordering::SeqCst)
    }

    /// `USER@ssso-test`.
    pub fn dest(&self, user: &str) -> String {
        format!("{user}@{HOST_ALIAS}")
    }

    /// `ssh -F CONFIG USER@ssso-test` (append `remote_args`), stdin `/dev/null`.
    pub fn ssh<I, S>(&self, user: &str, remote_args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new("ssh");
        cmd.arg("-F")
            .arg(&self.ssh_config)
            .arg(self.dest(user))
            .args(remote_args)
            .stdin(Stdio::null());
        cmd
    }
}

// ---------------------------------------------------------------------------------------------
// Remote users
// ---------------------------------------------------------------------------------------------

/// uid, gid and home of a local account.
pub fn passwd(user: &str) -> Option<(u32, u32, PathBuf)> {
    let name = std::ffi::CString::new(user).ok()?;
    // getpwnam is not thread-safe; serialize our calls (nothing else in tests calls it).
    static LOCK: Mutex<()> = Mutex::new(());
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    unsafe {
        let pw = libc::getpwnam(name.as_ptr());
        if pw.is_null() {
            return None;
        }
        let home = std::ffi::CStr::from_ptr((*pw).pw_dir);
        Some((
            (*pw).pw_uid,
            (*pw).pw_gid,
            PathBuf::from(home.to_string_lossy().into_owned()),
        ))
    }
}

/// The test user's home directory.
pub fn home(user: &str) -> PathBuf {
    passwd(user)
        .unwrap_or_else(|| panic!("no user {user}: run tests/support/setup.sh first"))
        .2
}

/// Exclusive use of one test user for the lifetime of the guard. Acquiring it wipes the
/// user's `~/.aws` (as root) so every test starts clean.
pub struct UserGuard {
    name: &'static str,
    _lock: MutexGuard<'static, ()>,
    _machine_lock: fs::File,
}

/// Locks test user `name` (one of `ALL_USERS`) and wipes its `~/.aws`.
/// Does not start the server: call `server()` for that.
pub fn user(name: &str) -> UserGuard {
    static LOCKS: OnceLock<HashMap<&'static str, Mutex<()>>> = OnceLock::new();
    let locks = LOCKS.get_or_init(|| ALL_USERS.iter().map(|u| (*u, Mutex::new(()))).collect());
    let (name, lock) = locks
        .get_key_value(name)
        .unwrap_or_else(|| panic!("{name} is not a test user (see ALL_USERS)"));
    let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
    // Other test processes on this machine (another checkout's `cargo test`) use the same
    // users: an flock per user, released when the guard's file closes, keeps them apart.
    let dir = Path::new("/run/ssso-test-users");
    fs::create_dir_all(dir).unwrap();
    let machine_lock = fs::File::create(dir.join(name)).unwrap();
    use std::os::fd::AsRawFd;
    // SAFETY: a plain flock on a file this function owns.
    while unsafe { libc::flock(machine_lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
        assert_eq!(
            io::Error::last_os_error().kind(),
            io::ErrorKind::Interrupted
        );
    }
    let aws = home(name).join(".aws");
    match fs::remove_dir_all(&aws) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => panic!("wipe {}: {e}", aws.display()),
    }
    UserGuard {
        name,
        _lock: guard,
        _machine_lock: machine_lock,
    }
}

impl UserGuard {
    pub fn name(&self) -> &'static str {
        self.name
    }
    /// `USER@ssso-test`.
    pub fn dest(&self) -> String {
        format!("{}@{HOST_ALIAS}", self.name)
    }
    pub fn home(&self) -> PathBuf {
        home(self.name)
    }
    pub fn read(&self, rel_path: &str) -> Option<Vec<u8>> {
        remote_read(self.name, rel_path)
    }
    pub fn write(&self, rel_path: &str, bytes: &[u8], mode: u32) {
        remote_write(self.name, rel_path, bytes, mode)
    }
    pub fn mode(&self, rel_path: &str) -> Option<u32> {
        remote_mode(self.name, rel_path)
    }
    /// `~/.aws/sso/cache/<cache_key>.json` parsed, if present.
    pub fn token(&self, cache_key: &str) -> Option<serde_json::Value> {
        self.read(&token_rel_path(cache_key))
            .map(|b| serde_json::from_slice(&b).expect("remote token file is not JSON"))
    }
    /// Writes `~/.aws/config` = `config` and a token file (mode 0600) as a finished sync would.
    pub fn install(&self, config: &str, cache_key: &str, access_token: &str, expires_in: i64) {
        self.write(".aws/config", config.as_bytes(), 0o600);
        self.write(
            &token_rel_path(cache_key),
            token_json(access_token, expires_in).as_bytes(),
            0o600,
        );
    }
}

/// A tmpfs of `kib` KiB mounted on `FULL_USER`'s `~/.aws` (0700, the user's), unmounted on
/// drop. Hold the user's [`UserGuard`] first: it wipes `~/.aws`, which cannot be done to a
/// mount point.
pub struct TinyAws {
    path: PathBuf,
}

impl TinyAws {
    pub fn mount(kib: u32) -> TinyAws {
        let home = passwd(FULL_USER).expect("run tests/support/setup.sh").2;
        TinyAws::mount_on(home.join(".aws"), kib, 0o700)
    }

    /// The same over `FULL_USER`'s whole home directory (0755, the user's; empty: write what
    /// the test needs, then [`TinyAws::fill`]). Its authorized keys live outside the home, so
    /// logins still work.
    pub fn mount_home(kib: u32) -> TinyAws {
        let home = passwd(FULL_USER).expect("run tests/support/setup.sh").2;
        TinyAws::mount_on(home, kib, 0o755)
    }

    fn mount_on(path: PathBuf, kib: u32, mode: u32) -> TinyAws {
        let (uid, gid, _) = passwd(FULL_USER).expect("run tests/support/setup.sh");
        // A mount left by a killed test, if any.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&path)
            .stderr(Stdio::null())
            .status();
        fs::create_dir_all(&path).unwrap();
        let out = run(
            Command::new("mount")
                .args(["-t", "tmpfs", "-o"])
                .arg(format!("size={kib}k,mode={mode:o},uid={uid},gid={gid}"))
                .arg("tmpfs")
                .arg(&path),
            CMD_TIMEOUT,
        );
        assert_success(&out, &format!("mount a tmpfs on {}", path.display()));
        TinyAws { path }
    }

    /// Fills the file system up, leaving nothing free.
    pub fn fill(&self) {
        let filler = self.path.join("filler");
        let mut f = fs::File::create(&filler).unwrap();
        let chunk = [b'x'; 4096];
        while f.write_all(&chunk).is_ok() {}
        while f.write_all(b"x").is_ok() {}
    }

    /// Remounts it read-only.
    pub fn read_only(&self) {
        let out = run(
            Command::new("mount")
                .args(["-o", "remount,ro"])
                .arg(&self.path),
            CMD_TIMEOUT,
        );
        assert_success(&out, "remount ~ssso-full/.aws read-only");
    }
}

impl Drop for TinyAws {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// How `REC_USER`'s login shell was started, per process (its pid): each start's argv
/// (argv[0] first), in order. A process that exec'd the shell again has several.
pub fn rec_records() -> Vec<(u32, Vec<Vec<Vec<u8>>>)> {
    let dir = home(REC_USER).join(".ssso-rec");
    let mut out = Vec::new();
    for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse().ok()) else {
            continue;
        };
        let bytes = fs::read(entry.path()).unwrap();
        let mut fields = bytes.split(|&b| b == 0);
        let mut starts = Vec::new();
        while let Some(count) = fields.next() {
            if count.is_empty() {
                break; // the split's tail after the last NUL
            }
            let n: usize = std::str::from_utf8(count)
                .ok()
                .and_then(|c| c.parse().ok())
                .unwrap_or_else(|| panic!("bad record in {}", entry.path().display()));
            let argv: Vec<Vec<u8>> = (0..n)
                .map(|_| fields.next().expect("truncated record").to_vec())
                .collect();
            starts.push(argv);
        }
        out.push((pid, starts));
    }
    out.sort();
    out
}

/// Forgets every record of `REC_USER`'s login shell.
pub fn rec_clear() {
    let dir = home(REC_USER).join(".ssso-rec");
    match fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => panic!("remove {}: {e}", dir.display()),
    }
}

/// `.aws/sso/cache/<cache_key>.json`.
pub fn token_rel_path(cache_key: &str) -> String {
    format!(".aws/sso/cache/{cache_key}.json")
}

fn checked_rel(rel_path: &str) -> &Path {
    let p = Path::new(rel_path);
    assert!(
        p.is_relative() && !p.components().any(|c| c.as_os_str() == ".."),
        "remote path must be relative to the home, without '..': {rel_path}"
    );
    p
}

/// Contents of `~USER/REL_PATH` (read as root), `None` if it does not exist.
pub fn remote_read(user: &str, rel_path: &str) -> Option<Vec<u8>> {
    match fs::read(home(user).join(checked_rel(rel_path))) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => panic!("read ~{user}/{rel_path}: {e}"),
    }
}

/// Writes `~USER/REL_PATH` as root with `mode`, owned by the user; missing parent directories
/// are created 0700 and owned by the user.
pub fn remote_write(user: &str, rel_path: &str, bytes: &[u8], mode: u32) {
    let (uid, gid, home) = passwd(user).unwrap_or_else(|| panic!("no user {user}"));
    let path = home.join(checked_rel(rel_path));
    let mut missing = Vec::new();
    let mut p = path.parent().unwrap();
    while !p.exists() {
        missing.push(p.to_path_buf());
        p = p.parent().unwrap();
    }
    for d in missing.iter().rev() {
        fs::create_dir(d).unwrap_or_else(|e| panic!("mkdir {}: {e}", d.display()));
        fs::set_permissions(d, fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::chown(d, Some(uid), Some(gid)).unwrap();
    }
    write_file(&path, bytes, mode);
    std::os::unix::fs::chown(&path, Some(uid), Some(gid)).unwrap();
}

/// Permission bits (`mode & 0o7777`) of `~USER/REL_PATH`, `None` if it does not exist.
pub fn remote_mode(user: &str, rel_path: &str) -> Option<u32> {
    fs::symlink_metadata(home(user).join(checked_rel(rel_path)))
        .ok()
        .map(|m| m.mode() & 0o7777)
}

/// Owner uid of `~USER/REL_PATH`, `None` if it does not exist.
pub fn remote_owner(user: &str, rel_path: &str) -> Option<u32> {
    fs::symlink_metadata(home(user).join(checked_rel(rel_path)))
        .ok()
        .map(|m| m.uid())
}

// ---------------------------------------------------------------------------------------------
// Caller identity
// ---------------------------------------------------------------------------------------------

/// The remote command that proves the profile works: valid in every test shell.
pub fn caller_identity_command(profile: &str) -> String {
    format!("aws sts get-caller-identity --profile {profile} --output json")
}

/// Runs `aws sts get-caller-identity --profile P` as USER over plain ssh (no ssso).
pub fn remote_caller_identity(user: &str, profile: &str) -> Output {
    run(
        &mut server().ssh(user, [caller_identity_command(profile)]),
        CMD_TIMEOUT,
    )
}

/// Asserts `out` is a successful `get-caller-identity` (JSON with Account 123456789012
/// somewhere in stdout) and returns the parsed JSON.
pub fn assert_caller_identity(out: &Output) -> serde_json::Value {
    assert_success(out, "aws sts get-caller-identity");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = stdout
        .find('{')
        .zip(stdout.rfind('}'))
        .and_then(|(a, b)| serde_json::from_str::<serde_json::Value>(&stdout[a..=b]).ok())
        .unwrap_or_else(|| panic!("no JSON in get-caller-identity output:\n{stdout}"));
    assert_eq!(
        json["Account"], ACCOUNT_ID,
        "unexpected get-caller-identity answer:\n{stdout}"
    );
    json
}

/// Asserts `out` is a successful `get-caller-identity` AND that the mock portal saw `token`
/// (so the remote used exactly that token); returns the JSON.
pub fn caller_identity_check(out: &Output, token: &str) -> serde_json::Value {
    let json = assert_caller_identity(out);
    assert_token_used(token);
    json
}

/// Asserts `out` is a failed AWS call whose stderr mentions one of `needles`
/// (case-insensitive).
pub fn assert_aws_failed(out: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(
        !out.status.success() && needles.iter().any(|n| stderr.contains(&n.to_lowercase())),
        "expected a failure mentioning one of {needles:?}, got {}\n--- stdout:\n{}\n--- stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Asserts the mock portal saw `token` at least once (the remote used that token).
pub fn assert_token_used(token: &str) {
    assert!(
        portal().times_seen(token) > 0,
        "the mock SSO portal never saw token {token}; it saw: {:?}",
        portal().seen_tokens()
    );
}

/// Asserts the mock portal never saw `token`.
pub fn assert_token_unused(token: &str) {
    assert_eq!(
        portal().times_seen(token),
        0,
        "the mock SSO portal saw token {token}"
    );
}

// ---------------------------------------------------------------------------------------------
// The local side
// ---------------------------------------------------------------------------------------------

/// A per-test local environment: a temp HOME (`/tmp/ssso-XXXXXX`, removed on drop) with
/// `~/.aws/config`, the fake AWS CLI v2 first on PATH, its log, and the token it will issue.
/// Every command it makes has the scratch directory as `XDG_RUNTIME_DIR`, so ssso's control
/// sockets live there; on drop it ends every ssh master still listening there (`ssh -O exit`)
/// and kills whatever process it started that is still running (see [`end_processes_of`]):
/// a `ControlPersist` master of `ssso proxy` must not outlive the test.
pub struct Local {
    dir: tempfile::TempDir,
    home: PathBuf,
    bin: PathBuf,
    fake_log: PathBuf,
    token: String,
}

impl Local {
    /// A fresh HOME whose `~/.aws/config` is `config` (no config file if `config` is empty).
    /// `FAKE_AWS_TOKEN` is a unique token (see `login_token`), NOT registered with the portal.
    pub fn new(config: &str) -> Local {
        let dir = tempfile::Builder::new()
            .prefix("ssso-")
            .tempdir()
            .expect("temp dir");
        let home = dir.path().join("h");
        let bin = dir.path().join("bin");
        fs::create_dir_all(home.join(".aws")).unwrap();
        fs::create_dir_all(&bin).unwrap();
        if !config.is_empty() {
            write_file(&home.join(".aws/config"), config.as_bytes(), 0o600);
        }
        std::os::unix::fs::symlink(support_dir().join("fake-aws"), bin.join("aws")).unwrap();
        let fake_log = dir.path().join("fake-aws.log");
        write_file(&fake_log, b"", 0o644);
        Local {
            dir,
            home,
            bin,
            fake_log,
            token: unique_token("login"),
        }
    }

    /// The temp HOME.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// A scratch directory next to HOME (removed on drop).
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    /// The accessToken `aws sso login` (fake) will write: `FAKE_AWS_TOKEN`.
    pub fn login_token(&self) -> &str {
        &self.token
    }

    /// Takes the fake aws off PATH: the local machine has no AWS CLI at all.
    pub fn remove_fake_aws(&self) {
        fs::remove_file(self.bin.join("aws")).unwrap();
    }

    /// Lines of `FAKE_AWS_LOG`: one per `aws sso login` call, e.g. `sso login --profile p`.
    pub fn login_calls(&self) -> Vec<String> {
        fs::read_to_string(&self.fake_log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The PATH `command` uses: the fake-aws dir, then this process's PATH without root's
    /// pyenv and without any directory that holds an `aws` (the machine's own AWS CLI v2 in
    /// `/usr/local/bin`, a pip `--user` one, the test users' v1): the local side must never
    /// run a real AWS CLI, not even after [`Local::remove_fake_aws`]. `/usr/bin` and `/bin`
    /// stay whatever they hold (everything needs them); `local_path_hides_real_aws` fails on a
    /// machine with an `aws` there (Debian's awscli package).
    pub fn path_var(&self) -> String {
        let system = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into());
        let mut parts = vec![self.bin.display().to_string()];
        for dir in system.split(':').filter(|d| !d.is_empty()) {
            if dir.contains("/.pyenv/") || dir.ends_with("/.pyenv") {
                continue;
            }
            let essential = matches!(dir, "/usr/bin" | "/bin");
            if !essential && fs::symlink_metadata(Path::new(dir).join("aws")).is_ok() {
                continue;
            }
            parts.push(dir.to_owned());
        }
        parts.join(":")
    }

    /// `program` with this environment: HOME, PATH (see `path_var`), FAKE_AWS_LOG,
    /// FAKE_AWS_TOKEN, `AWS_ENDPOINT_URL_SSO_OIDC` and `AWS_ENDPOINT_URL_SSO` at a closed port
    /// of 127.0.0.1 (ssso's own token refresh and `--forward`'s GetRoleCredentials fail at
    /// once and never leave the machine; set them to `portal().sso_url()` to use the mock); AWS_PROFILE, SSSO_PROFILE, AWS_CONFIG_FILE and other AWS/agent variables
    /// removed. stdin is `/dev/null`.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        for var in [
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "SSSO_PROFILE",
            "AWS_CONFIG_FILE",
            "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "FAKE_AWS_FAIL",
            "FAKE_AWS_EXPIRES_IN",
            "FAKE_AWS_SLEEP",
            "SSH_AUTH_SOCK",
            "SSH_ASKPASS",
        ] {
            cmd.env_remove(var);
        }
        // ssso's private sockets and stamps go to XDG_RUNTIME_DIR: keep them in the scratch
        // directory, removed with it, instead of the machine's /tmp/ssso-UID.
        cmd.env("HOME", &self.home)
            .env("XDG_RUNTIME_DIR", self.dir.path())
            .env("PATH", self.path_var())
            .env("FAKE_AWS_LOG", &self.fake_log)
            .env("FAKE_AWS_TOKEN", &self.token)
            .env("AWS_ENDPOINT_URL_SSO_OIDC", "http://127.0.0.1:9")
            .env("AWS_ENDPOINT_URL_SSO", "http://127.0.0.1:9")
            .stdin(Stdio::null());
        cmd
    }

    /// `command(ssso_bin())`.
    pub fn ssso(&self) -> Command {
        self.command(ssso_bin())
    }

    /// `ssso -F <test config> [args...] USER@ssso-test [remote...]` in this environment.
    pub fn ssso_to(&self, args: &[&str], user: &str, remote: &[&str]) -> Command {
        let mut cmd = self.ssso();
        cmd.arg("-F").arg(server().ssh_config());
        cmd.args(args).arg(server().dest(user)).args(remote);
        cmd
    }

    /// `ssso proxy -F <test config> --user USER --alias ssso-test [args...] 127.0.0.1 PORT`:
    /// its stdout is the SSH stream (stdin is `/dev/null`, so just the server's banner).
    pub fn ssso_proxy(&self, args: &[&str], user: &str) -> Command {
        let mut cmd = self.ssso();
        cmd.arg("proxy").arg("-F").arg(server().ssh_config());
        cmd.args(["--user", user, "--alias", HOST_ALIAS]).args(args);
        cmd.args(["127.0.0.1", &server().port.to_string()]);
        cmd
    }

    /// `~/.aws/sso/cache/<cache_key>.json` in the temp HOME.
    pub fn token_path(&self, cache_key: &str) -> PathBuf {
        self.home.join(token_rel_path(cache_key))
    }

    /// Writes a token cache file exactly like fake-aws (dirs 0700, file 0600).
    pub fn write_token(&self, cache_key: &str, access_token: &str, expires_in_secs: i64) {
        let cache = self.home.join(".aws/sso/cache");
        fs::create_dir_all(&cache).unwrap();
        for d in [
            self.home.join(".aws"),
            self.home.join(".aws/sso"),
            cache.clone(),
        ] {
            fs::set_permissions(&d, fs::Permissions::from_mode(0o700)).unwrap();
        }
        write_file(
            &self.token_path(cache_key),
            token_json(access_token, expires_in_secs).as_bytes(),
            0o600,
        );
    }

    /// Sets the local token file's mtime `secs` into the past: ssso takes the mtime for the
    /// token's age, and does not refresh a token written less than a minute ago.
    pub fn backdate_token(&self, cache_key: &str, secs: u64) {
        let f = fs::File::options()
            .write(true)
            .open(self.token_path(cache_key))
            .unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(secs))
            .unwrap();
    }

    /// The local token file parsed, if present.
    pub fn read_token(&self, cache_key: &str) -> Option<serde_json::Value> {
        fs::read(self.token_path(cache_key))
            .ok()
            .map(|b| serde_json::from_slice(&b).expect("local token file is not JSON"))
    }

    /// Makes the mock portal accept `token` (starts the portal if needed).
    pub fn register_token(&self, token: &str) {
        register_token(token)
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        end_processes_of(self.dir.path());
    }
}

/// An ssh config (written under the Local's scratch directory) with one `Host ALIAS` per
/// `(alias, port, user)`, each reaching 127.0.0.1:PORT (the test sshd's port, or a relay's)
/// with the test client key.
pub fn hosts_config(local: &Local, hosts: &[(&str, u16, &str)]) -> PathBuf {
    use std::fmt::Write as _;
    let s = server();
    let mut cfg = String::new();
    for (alias, port, user) in hosts {
        writeln!(cfg, "Host {alias}\n    Port {port}\n    User {user}").unwrap();
    }
    writeln!(
        cfg,
        "Host *\n    HostName 127.0.0.1\n    IdentityFile {}\n    IdentitiesOnly yes\n    \
         UserKnownHostsFile {}\n    GlobalKnownHostsFile /dev/null\n    \
         StrictHostKeyChecking no\n    CheckHostIP no\n    IdentityAgent none\n    LogLevel ERROR",
        s.client_key().display(),
        s.known_hosts().display()
    )
    .unwrap();
    let path = local.scratch().join("hosts_config");
    fs::write(&path, cfg).unwrap();
    path
}

/// Ends what a [`Local`] started and left running: first every ssh master whose control socket
/// is under `scratch` gets `ssh -O exit` (which closes its connection cleanly, so the remote
/// side ends too), then every process whose environment has `XDG_RUNTIME_DIR=<scratch>` (what
/// `Local::command` sets, inherited by ssso, its ssh and a master that ssh forked into the
/// background) gets SIGTERM, and SIGKILL if it is still there after a second. Never panics: it
/// runs in `drop`, maybe while a failed test unwinds.
pub fn end_processes_of(scratch: &Path) {
    for socket in sockets_under(scratch) {
        let mut cmd = Command::new("ssh");
        cmd.args(["-F", "/dev/null", "-o", "LogLevel=QUIET", "-S"])
            .arg(&socket)
            .args(["-O", "exit", "ssso-test-cleanup"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Ok(mut child) = cmd.spawn() {
            wait_or_kill(&mut child, Duration::from_secs(5));
        }
    }
    let started_here = || processes_of(scratch);
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut signal = libc::SIGTERM;
    loop {
        let pids = started_here();
        if pids.is_empty() {
            return;
        }
        for pid in &pids {
            // SAFETY: a plain kill(2) of a process this test's Local started.
            unsafe { libc::kill(*pid, signal) };
        }
        if Instant::now() > deadline {
            return;
        }
        thread::sleep(Duration::from_millis(100));
        if deadline.saturating_duration_since(Instant::now()) < Duration::from_secs(2) {
            signal = libc::SIGKILL;
        }
    }
}

/// Processes (not zombies, not this one) whose environment has `XDG_RUNTIME_DIR=<scratch>`:
/// everything a [`Local`] started that is still running.
pub fn processes_of(scratch: &Path) -> Vec<i32> {
    let mut wanted = b"XDG_RUNTIME_DIR=".to_vec();
    wanted.extend_from_slice(scratch.as_os_str().as_encoded_bytes());
    let ours = std::process::id() as i32;
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == ours {
            continue;
        }
        let Ok(env) = fs::read(entry.path().join("environ")) else {
            continue;
        };
        let zombie = fs::read_to_string(entry.path().join("stat"))
            .ok()
            .and_then(|st| {
                st.rsplit_once(')')
                    .map(|(_, r)| r.trim_start().starts_with('Z'))
            })
            .unwrap_or(true);
        if !zombie && env.split(|&b| b == 0).any(|var| var == wanted.as_slice()) {
            pids.push(pid);
        }
    }
    pids
}

/// Unix sockets anywhere under `dir` (ssso's control sockets), not following symlinks.
fn sockets_under(dir: &Path) -> Vec<PathBuf> {
    use std::os::unix::fs::FileTypeExt;
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).into_iter().flatten().flatten() {
            match entry.file_type() {
                Ok(t) if t.is_dir() => todo.push(entry.path()),
                Ok(t) if t.is_socket() => found.push(entry.path()),
                _ => {}
            }
        }
    }
    found
}

/// Waits for `child` at most `limit`, then kills it; never panics.
fn wait_or_kill(child: &mut Child, limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(_)) | Err(_) = child.try_wait() {
            return;
        }
        thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// `(exit status, stdout, stderr)` as strings, for assertions.
pub fn text(out: &Output) -> (ExitStatus, String, String) {
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
