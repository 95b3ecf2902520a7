//! `Test`: one run of the real `ssso`, written as the user's story, in the style of the `just`
//! crate's test harness.
//!
//! ```ignore
//! let local = Local::new(&sso_config("dev", "corp"));     // the user's laptop
//! local.write_token(&cache_key("corp"), &token, 3600);
//! Test::with(&local)
//!     .args(["--profile", "dev"])                         // ssso's and ssh's options
//!     .to("ssso-bash")                                    // -F <test ssh config> ssso-bash@ssso-test
//!     .remote(["echo out; echo err >&2; exit 7"])         // the remote command
//!     .status(7)
//!     .stdout("out\n")
//!     .stderr("err\n")
//!     .run();
//! ```
//!
//! Nothing is faked: `run` starts the built `ssso` (with [`Local::command`]'s environment: the
//! temporary HOME, the fake *local* AWS CLI v2, a scratch `XDG_RUNTIME_DIR`), which starts the
//! real `ssh` to the test `sshd` on 127.0.0.1, where the real AWS CLI v1 runs.
//!
//! - Where: [`Test::new`] makes its own [`Local`] with no AWS config (dropped, and so cleaned
//!   up, when the run ends); [`Test::with`] (or [`Local::test`]) runs in a `Local` the test
//!   keeps, for stories of several steps.
//! - What: [`Test::args`] in order, then, with [`Test::to`], `-F <config> USER@ssso-test`
//!   (config: the test server's, or [`Test::ssh_config`]), then [`Test::remote`]'s words. A
//!   subcommand therefore goes first in `args`: `.args(["doctor", "--profile", "dev"])`.
//!   [`Test::env`] and [`Test::env_remove`] change the environment.
//! - How: stdin is `/dev/null`; [`Test::typing`] runs it on a pseudo-terminal instead and, for
//!   each step, waits for a regex on the screen and then types (see [`run_in_pty`]). Every run
//!   is bounded by [`CMD_TIMEOUT`] or [`Test::timeout`].
//! - Expectations, checked by `run` (which panics with the command, the status and both
//!   outputs when one fails): the exit status is 0 unless [`Test::status`] says otherwise;
//!   [`Test::stdout`] and [`Test::stderr`] are exact; `*_contains` and `*_lacks` look for a
//!   piece. On a terminal there is only the screen (stderr included, `\r\n` line ends): it is
//!   the stdout, and the stderr is empty.
//! - `run` returns a [`Ran`] (the output as text, and the raw [`Output`]) for what the
//!   builder does not say, such as parsing JSON or checking the remote side.
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Output};
use std::time::Duration;

use super::{CMD_TIMEOUT, Local, run, run_in_pty, server};

/// One run of `ssso` and what it must do (see the module documentation).
#[must_use = "a Test does nothing until .run()"]
pub struct Test<'a> {
    local: Where<'a>,
    context: String,
    args: Vec<OsString>,
    dest: Option<String>,
    ssh_config: Option<PathBuf>,
    remote: Vec<OsString>,
    env: Vec<(OsString, Option<OsString>)>,
    steps: Option<Vec<(String, String)>>,
    timeout: Duration,
    status: i32,
    stdout: Option<String>,
    stderr: Option<String>,
    stdout_contains: Vec<String>,
    stderr_contains: Vec<String>,
    stdout_lacks: Vec<String>,
    stderr_lacks: Vec<String>,
}

enum Where<'a> {
    Own(Box<Local>),
    Borrowed(&'a Local),
}

/// What a [`Test`] ran into: exit status and output (lossy UTF-8), and the raw output.
pub struct Ran {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub output: Output,
}

impl Ran {
    /// stdout parsed as JSON (panics with stdout if it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

impl Local {
    /// A [`Test`] that runs in this environment.
    pub fn test(&self) -> Test<'_> {
        Test::with(self)
    }
}

impl Default for Test<'static> {
    fn default() -> Self {
        Test::new()
    }
}

impl Test<'static> {
    /// A run in a fresh [`Local`] with no AWS config.
    pub fn new() -> Test<'static> {
        Test::in_(Where::Own(Box::new(Local::new(""))))
    }
}

impl<'a> Test<'a> {
    /// A run in `local`, which the test keeps (its HOME, tokens, fake-aws log).
    pub fn with(local: &'a Local) -> Test<'a> {
        Test::in_(Where::Borrowed(local))
    }

    fn in_(local: Where<'a>) -> Test<'a> {
        Test {
            local,
            context: String::new(),
            args: Vec::new(),
            dest: None,
            ssh_config: None,
            remote: Vec::new(),
            env: Vec::new(),
            steps: None,
            timeout: CMD_TIMEOUT,
            status: 0,
            stdout: None,
            stderr: None,
            stdout_contains: Vec::new(),
            stderr_contains: Vec::new(),
            stdout_lacks: Vec::new(),
            stderr_lacks: Vec::new(),
        }
    }

    /// A label for failure messages (which shell, which case).
    pub fn context(mut self, what: impl Into<String>) -> Self {
        self.context = what.into();
        self
    }

    /// One more argument to ssso (before the destination).
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// More arguments to ssso (before the destination).
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Connect to test user `user` on the test server: `-F <config> USER@ssso-test`.
    pub fn to(mut self, user: &str) -> Self {
        self.dest = Some(server().dest(user));
        self
    }

    /// The ssh config given with `-F` before the [`Test::to`] destination (default: the test
    /// server's).
    pub fn ssh_config(mut self, path: impl Into<PathBuf>) -> Self {
        self.ssh_config = Some(path.into());
        self
    }

    /// The remote command's words (after the destination).
    pub fn remote<I, S>(mut self, words: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.remote
            .extend(words.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets a variable in ssso's environment.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    /// Removes a variable from ssso's environment.
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    /// Runs on a pseudo-terminal: waits for `expect` (a regex; "" waits for nothing) on the
    /// screen, then types `text` (Python escapes: `\\r`, `\\x1a`). Steps run in order.
    pub fn typing(mut self, expect: &str, text: &str) -> Self {
        self.steps
            .get_or_insert_with(Vec::new)
            .push((expect.to_owned(), text.to_owned()));
        self
    }

    /// Bound for the whole run (default [`CMD_TIMEOUT`]).
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = limit;
        self
    }

    /// The exit status ssso must end with (default 0).
    pub fn status(mut self, code: i32) -> Self {
        self.status = code;
        self
    }

    /// stdout must be exactly `text`.
    pub fn stdout(mut self, text: impl Into<String>) -> Self {
        self.stdout = Some(text.into());
        self
    }

    /// stderr must be exactly `text`.
    pub fn stderr(mut self, text: impl Into<String>) -> Self {
        self.stderr = Some(text.into());
        self
    }

    /// stdout must contain `piece`.
    pub fn stdout_contains(mut self, piece: impl Into<String>) -> Self {
        self.stdout_contains.push(piece.into());
        self
    }

    /// stderr must contain `piece`.
    pub fn stderr_contains(mut self, piece: impl Into<String>) -> Self {
        self.stderr_contains.push(piece.into());
        self
    }

    /// stdout must not contain `piece`.
    pub fn stdout_lacks(mut self, piece: impl Into<String>) -> Self {
        self.stdout_lacks.push(piece.into());
        self
    }

    /// stderr must not contain `piece`.
    pub fn stderr_lacks(mut self, piece: impl Into<String>) -> Self {
        self.stderr_lacks.push(piece.into());
        self
    }

    fn local(&self) -> &Local {
        match &self.local {
            Where::Own(l) => l,
            Where::Borrowed(l) => l,
        }
    }

    /// The command line `run` starts (ssso with the Local's environment and the changes).
    pub fn command(&self) -> Command {
        let mut cmd = self.local().ssso();
        cmd.args(&self.args);
        if let Some(dest) = &self.dest {
            let config = match &self.ssh_config {
                Some(path) => path.as_path(),
                None => server().ssh_config(),
            };
            cmd.arg("-F").arg(config).arg(dest);
        }
        cmd.args(&self.remote);
        for (key, value) in &self.env {
            match value {
                Some(v) => cmd.env(key, v),
                None => cmd.env_remove(key),
            };
        }
        cmd
    }

    /// Runs it, checks every expectation, and returns what it did.
    #[track_caller]
    pub fn run(self) -> Ran {
        let mut cmd = self.command();
        let output = match &self.steps {
            None => run(&mut cmd, self.timeout),
            Some(steps) => {
                let steps: Vec<(&str, &str)> = steps
                    .iter()
                    .map(|(e, t)| (e.as_str(), t.as_str()))
                    .collect();
                run_in_pty(&cmd, &steps, self.timeout)
            }
        };
        let ran = Ran {
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            output,
        };
        if ran.status.code() != Some(self.status) {
            self.fail(&cmd, &ran, format!("expected exit status {}", self.status));
        }
        let checks = [
            (
                "stdout",
                &ran.stdout,
                &self.stdout,
                &self.stdout_contains,
                &self.stdout_lacks,
            ),
            (
                "stderr",
                &ran.stderr,
                &self.stderr,
                &self.stderr_contains,
                &self.stderr_lacks,
            ),
        ];
        for (name, got, exact, contains, lacks) in checks {
            if let Some(want) = exact
                && got != want
            {
                self.fail(&cmd, &ran, format!("{name} should be exactly {want:?}"));
            }
            for piece in contains {
                if !got.contains(piece.as_str()) {
                    self.fail(&cmd, &ran, format!("{name} should contain {piece:?}"));
                }
            }
            for piece in lacks {
                if got.contains(piece.as_str()) {
                    self.fail(&cmd, &ran, format!("{name} should not contain {piece:?}"));
                }
            }
        }
        ran
    }

    #[track_caller]
    fn fail(&self, cmd: &Command, ran: &Ran, what: String) -> ! {
        let context = if self.context.is_empty() {
            String::new()
        } else {
            format!("{}: ", self.context)
        };
        panic!(
            "{context}{what}\n--- command: {cmd:?}\n--- status: {}\n--- stdout:\n{}\n--- stderr:\n{}",
            ran.status, ran.stdout, ran.stderr
        )
    }
}
