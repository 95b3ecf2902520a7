//! Clients that are not OpenSSH's own (issue 12), real ones from PyPI (pinned in
//! tests/support/tools-requirements.txt, installed by setup.sh in /opt/ssso-test/tools), against
//! the harness's real sshd on 127.0.0.1:
//!
//! - paramiko and fabric through the `~/.ssh/config` block that `ssso setup --write` adds (they
//!   expand only `~ %h %p %r` in a ProxyCommand and have no parent ssh): neither has an ssh
//!   executable to replace;
//! - ansible-core with `ansible_ssh_executable=ssso` (its own ControlMaster/ControlPersist/
//!   ControlPath `-o` options, `-C`, `-tt`; sftp, scp and piped transfers), whose persistent
//!   master ssso creates and then rides on;
//! - ansible-core with the system ssh through the same ProxyCommand block.
//!
//! Each is followed by the host's `aws sts get-caller-identity`, run by the client itself.

mod common;

use std::fs;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

const PROFILE: &str = "cl";
const SESSION: &str = "clsess";
/// The host alias in the local `~/.ssh/config`.
const ALIAS: &str = "box";
const TOOLS: &str = "/opt/ssso-test/tools/bin";

/// A local side: a fresh registered token, `~/.ssh/config` (in the temp HOME) with a `Host box`
/// block for the test sshd, `ssso` on PATH, the test user locked.
struct Client {
    local: Local,
    user: UserGuard,
    cfg: PathBuf,
    token: String,
    path: String,
}

impl Client {
    fn new(user: &str) -> Client {
        assert!(
            Path::new(TOOLS).join("ansible-playbook").exists(),
            "{TOOLS}/ansible-playbook missing: run tests/support/setup.sh (as root)"
        );
        let srv = server();
        let user = common::user(user);
        let local = Local::new(&sso_config(PROFILE, SESSION));
        let token = unique_token("clients");
        local.write_token(&cache_key(SESSION), &token, 3600);
        local.register_token(&token);
        let cfg = local.home().join(".ssh/config");
        fs::create_dir_all(cfg.parent().unwrap()).unwrap();
        fs::write(
            &cfg,
            format!(
                "Host {ALIAS}\n\
                 \x20   HostName 127.0.0.1\n\
                 \x20   Port {port}\n\
                 \x20   IdentityFile {key}\n\
                 \x20   IdentitiesOnly yes\n\
                 \x20   UserKnownHostsFile {kh}\n\
                 \x20   GlobalKnownHostsFile /dev/null\n\
                 \x20   StrictHostKeyChecking yes\n\
                 \x20   BatchMode yes\n\
                 \x20   LogLevel ERROR\n\
                 \x20   IdentityAgent none\n",
                port = srv.port,
                key = srv.client_key().display(),
                kh = srv.known_hosts().display(),
            ),
        )
        .unwrap();
        // `ssso` by name, as the ProxyCommand line and ansible_ssh_executable say it.
        let bin = local.scratch().join("ssso-bin");
        fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(ssso_bin(), bin.join("ssso")).unwrap();
        let path = format!("{}:{}", bin.display(), local.path_var());
        Client {
            local,
            user,
            cfg,
            token,
            path,
        }
    }

    fn cfg(&self) -> &str {
        self.cfg.to_str().unwrap()
    }

    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = self.local.command(program);
        cmd.env("PATH", &self.path).env("LC_ALL", "C.UTF-8");
        cmd
    }

    /// `ssso setup --profile cl --write -F ~/.ssh/config USER@box`: the ProxyCommand block.
    fn setup_block(&self) -> String {
        let mut cmd = self.command(ssso_bin());
        cmd.args(["setup", "--profile", PROFILE, "--write", "-F", self.cfg()])
            .arg(format!("{}@{ALIAS}", self.user.name()));
        let out = run(&mut cmd, CMD_TIMEOUT);
        assert_success(&out, "ssso setup --write");
        let text = fs::read_to_string(&self.cfg).unwrap();
        let line = format!(
            "    ProxyCommand ssso proxy --alias {ALIAS} --profile {PROFILE} --user %r -F {} %h %p\n",
            self.cfg()
        );
        assert!(text.contains(&line), "{text}");
        text
    }

    /// A python client script of tests/support with the tools venv's python.
    fn python(&self, script: &str, command: &str) -> Output {
        let mut cmd = self.command(Path::new(TOOLS).join("python"));
        cmd.arg(support_dir().join(script))
            .arg(&self.cfg)
            .arg(server().known_hosts())
            .arg(ALIAS)
            .arg(command);
        run(&mut cmd, CMD_TIMEOUT)
    }

    /// The token is in the test user's cache (not some other account's).
    fn assert_synced(&self) {
        let tok = remote_read(self.user.name(), &token_rel_path(&cache_key(SESSION)))
            .unwrap_or_else(|| panic!("no token synced to {}", self.user.name()));
        assert!(String::from_utf8_lossy(&tok).contains(&self.token));
    }

    /// ansible-playbook with tests/support/ansible_playbook.yml against `inventory`, once per
    /// transfer method; returns the sshd logins of the test user after each run.
    fn ansible(&self, inventory: &str, what: &str, env: &[(&str, &str)]) -> Vec<usize> {
        let inv = self.local.scratch().join("inventory");
        fs::write(&inv, inventory).unwrap();
        let out_dir = self.local.scratch().join("ansible-out");
        fs::create_dir_all(&out_dir).unwrap();
        let mut logins_after = Vec::new();
        for method in ["sftp", "scp", "piped"] {
            let mut cmd = self.command(Path::new(TOOLS).join("ansible-playbook"));
            cmd.current_dir(self.local.scratch())
                .env("ANSIBLE_NOCOLOR", "1")
                .env("ANSIBLE_RETRY_FILES_ENABLED", "0")
                .envs(env.iter().copied())
                .args(["-i"])
                .arg(&inv)
                .arg(support_dir().join("ansible_playbook.yml"))
                .args(["-e", &format!("ansible_ssh_transfer_method={method}")])
                .args(["-e", &format!("method={method} profile={PROFILE}")])
                .args(["-e", &format!("out={}", out_dir.display())]);
            let out = run(&mut cmd, CMD_TIMEOUT * 2);
            assert_success(&out, &format!("ansible-playbook ({what}, {method})"));
            assert_eq!(
                fs::read_to_string(out_dir.join(format!("fetched-{method}.txt"))).unwrap(),
                format!("hello by {method}\n")
            );
            assert_eq!(
                self.user.read(&format!("ansible-{method}.txt")).as_deref(),
                Some(format!("hello by {method}\n").as_bytes())
            );
            let identity = Output {
                status: std::process::ExitStatus::default(),
                stdout: fs::read(out_dir.join(format!("identity-{method}.json"))).unwrap(),
                stderr: Vec::new(),
            };
            assert_caller_identity(&identity);
            assert_token_used(&self.token);
            logins_after.push(logins(self.user.name()));
        }
        self.assert_synced();
        logins_after
    }
}

impl Drop for Client {
    /// Ends every ssh master this test made (ansible's, ssso proxy's sync masters): `ssh -O
    /// exit` on each socket under the scratch directory, so nothing outlives the test.
    fn drop(&mut self) {
        stop_masters(self.local.scratch());
    }
}

fn stop_masters(dir: &Path) {
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let Ok(t) = e.file_type() else { continue };
        if t.is_dir() {
            stop_masters(&e.path());
        } else if t.is_socket() {
            let _ = Command::new("ssh")
                .args(["-F", "/dev/null", "-o", "LogLevel=QUIET", "-S"])
                .arg(e.path())
                .args(["-O", "exit", "x"])
                .output();
        }
    }
}

/// "Accepted publickey for USER" lines in sshd's log so far: one per connection.
fn logins(user: &str) -> usize {
    let needle = format!("Accepted publickey for {user} ");
    server().sshd_log().matches(&needle).count()
}

fn text(out: &Output) -> String {
    format!(
        "{}\n--- stdout:\n{}\n--- stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn paramiko_through_the_setup_block() {
    let c = Client::new("ssso-bash");
    c.setup_block();
    // As in the issue: SSSO_PROFILE set in the environment. The line's --profile and --alias
    // decide, and the sync goes to the block's user.
    let out = {
        let mut cmd = c.command(Path::new(TOOLS).join("python"));
        cmd.env("SSSO_PROFILE", PROFILE)
            .arg(support_dir().join("paramiko_client.py"))
            .arg(&c.cfg)
            .arg(server().known_hosts())
            .arg(ALIAS)
            .arg(caller_identity_command(PROFILE));
        run(&mut cmd, CMD_TIMEOUT)
    };
    assert!(out.status.success(), "paramiko: {}", text(&out));
    assert_caller_identity(&out);
    assert_token_used(&c.token);
    c.assert_synced();
}

#[test]
fn fabric_through_the_setup_block() {
    let c = Client::new("ssso-zsh");
    c.setup_block();
    let out = c.python("fabric_client.py", &caller_identity_command(PROFILE));
    assert!(out.status.success(), "fabric: {}", text(&out));
    assert_caller_identity(&out);
    assert_token_used(&c.token);
    c.assert_synced();
}

/// The block an older `ssso setup` wrote (`ssso proxy %h %p`) cannot be placed by a client
/// without %n and without a parent ssh: ssso proxy says so, and how to fix it.
#[test]
fn a_proxycommand_without_alias_under_a_python_parent_says_how_to_fix_it() {
    let c = Client::new("ssso-ksh");
    let mut cmd = c.command(Path::new(TOOLS).join("python"));
    cmd.args([
        "-c",
        "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))",
        "ssso",
        "proxy",
        "127.0.0.1",
    ])
    .arg(server().port.to_string());
    let out = run(&mut cmd, CMD_TIMEOUT);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(254), "{}", text(&out));
    assert!(
        err.contains("its parent is not ssh") && err.contains("--alias ALIAS --profile NAME"),
        "{err}"
    );
    assert!(
        out.stdout.is_empty(),
        "stdout is the SSH stream: {}",
        text(&out)
    );
}

#[test]
fn ansible_with_ssso_as_its_ssh_rides_on_its_own_persistent_master() {
    let c = Client::new("ssso-sh");
    // The connect path, not ProxyCommand: the harness's config for ssso-test, the profile from
    // SSSO_PROFILE through ansible's environment.
    let inventory = format!(
        "ssso-test ansible_user={user} ansible_ssh_executable=ssso \
         ansible_ssh_common_args='-F {cfg}' ansible_python_interpreter=/usr/bin/python3\n",
        user = c.user.name(),
        cfg = server().ssh_config().display(),
    );
    let before = logins(c.user.name());
    // ansible passes its environment on: SSSO_PROFILE reaches ssso.
    let after = c.ansible(
        &inventory,
        "ansible_ssh_executable=ssso",
        &[("SSSO_PROFILE", PROFILE)],
    );
    // One connection in all: the persistent master that ssso's first session created with
    // ansible's ControlPersist=60s; every later task and transfer (ssso's sessions, sftp, scp)
    // rode on it.
    assert_eq!(after, vec![before + 1; 3], "sshd logins after each run");
    let cp = c.local.home().join(".ansible/cp");
    let sockets: Vec<_> = fs::read_dir(&cp).unwrap().flatten().collect();
    assert_eq!(sockets.len(), 1, "{sockets:?}");
}

#[test]
fn ansible_through_the_setup_block() {
    let c = Client::new("ssso-tcsh");
    c.setup_block();
    let inventory = format!(
        "{ALIAS} ansible_ssh_common_args='-F {cfg}' ansible_python_interpreter=/usr/bin/python3\n",
        cfg = c.cfg(),
    );
    let before = logins(c.user.name());
    let after = c.ansible(&inventory, "ProxyCommand block", &[]);
    // ansible's master and the ProxyCommand's own sync connection: two connections.
    assert_eq!(after, vec![before + 2; 3], "sshd logins after each run");
}
