//! One-shot remote programs: a POSIX sh program (a `.sh` file of ssso's, its named parameters
//! set before its text) run once on the host through [`crate::ssh::remote::wrap`], fed bytes
//! on its stdin, answering on stdout with a [`Reply`]. Every command that runs something on
//! the host (the sync, `doctor`, `setup`) goes through [`run`] and reads its answer with
//! [`Reply::parse`]; the reply format is written by `reply.sh`, which [`Program`] puts in
//! front of every program.
//!
//! Parameters end up on the remote command line: they must never carry secrets (those travel
//! on the program's stdin).

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::ssh::remote::{self, sh_quote};

/// The reply helpers every program starts with (see the file).
const REPLY_SH: &str = include_str!("reply.sh");

/// A remote program with its parameters.
#[derive(Debug, Clone)]
pub struct Program {
    name: &'static str,
    version: u32,
    params: Vec<(&'static str, String)>,
    body: &'static str,
}

impl Program {
    /// The program `body` (a `.sh` file's text), whose reply starts with `ssso-NAME VERSION`.
    pub fn new(name: &'static str, version: u32, body: &'static str) -> Program {
        Program {
            name,
            version,
            params: Vec::new(),
            body,
        }
    }

    /// Sets the parameter `name` (an sh variable name, documented in the program) to `value`.
    /// Never a secret: parameters are part of the remote command line.
    pub fn param(mut self, name: &'static str, value: impl Into<String>) -> Program {
        debug_assert!(
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
            "{name}"
        );
        self.params.push((name, value.into()));
        self
    }

    /// The whole sh text: parameters, the reply helpers, the program.
    pub fn script(&self) -> String {
        let mut s = format!(
            "SSSO_PROGRAM={}\nSSSO_VERSION={}\n",
            self.name, self.version
        );
        for (name, value) in &self.params {
            s.push_str(name);
            s.push('=');
            s.push_str(&sh_quote(value));
            s.push('\n');
        }
        s.push_str(REPLY_SH);
        s.push_str(self.body);
        s
    }

    /// The command line that runs it under any login shell.
    pub fn command_line(&self) -> String {
        remote::wrap(self.script().as_bytes())
    }
}

/// How a program reaches the host.
#[derive(Debug)]
pub enum Via<'a> {
    /// A new channel of the live master at this control socket (openssh's native mux; the
    /// master is left as it was).
    Master(&'a Path),
    /// The remote command of this ssh (a connection of its own), given up to and including the
    /// destination. ssh's own failure shows in [`Output::ssh_failure`].
    Ssh(std::process::Command),
}

/// What a program printed, and how it ended.
#[derive(Debug, Default)]
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The exit status, when known (a mux channel may not report one).
    pub status: Option<i32>,
}

impl Output {
    /// When ssh itself failed (status 255 and no reply of `program`): ssh's own last words,
    /// which say why.
    pub fn ssh_failure(&self, program: &Program) -> Option<String> {
        if self.status != Some(255) || Reply::start(&self.stdout, program.name).is_some() {
            return None;
        }
        let err = String::from_utf8_lossy(&self.stderr);
        Some(match err.lines().rev().find(|l| !l.trim().is_empty()) {
            Some(l) => l.trim().to_owned(),
            None => "ssh failed (exit status 255)".to_owned(),
        })
    }
}

/// Runs `program` once: `input` on its stdin (then closed), its stdout and stderr read to
/// their ends; `timeout` bounds the whole of it.
pub async fn run(
    via: Via<'_>,
    program: &Program,
    input: &[u8],
    timeout: Duration,
) -> Result<Output> {
    let line = program.command_line();
    let work = async {
        match via {
            Via::Master(ctl) => {
                let session =
                    openssh::Session::resume_mux(ctl.to_path_buf().into_boxed_path(), None);
                let result = async {
                    let mut child = session
                        .raw_command(&line)
                        .stdin(openssh::Stdio::piped())
                        .stdout(openssh::Stdio::piped())
                        .stderr(openssh::Stdio::piped())
                        .spawn()
                        .await
                        .context("could not open a channel on the ssh connection")?;
                    let stdin = child.stdin().take().context("no stdin")?;
                    let stdout = child.stdout().take().context("no stdout")?;
                    let stderr = child.stderr().take().context("no stderr")?;
                    let (stdout, stderr) = talk(stdin, stdout, stderr, input).await?;
                    let status = child.wait().await.ok().and_then(|s| s.code());
                    anyhow::Ok(Output {
                        stdout,
                        stderr,
                        status,
                    })
                }
                .await;
                // The master belongs to its owner (the user's session): never close it.
                let _ = session.detach();
                result
            }
            Via::Ssh(cmd) => {
                let mut cmd = tokio::process::Command::from(cmd);
                cmd.arg(&line)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .kill_on_drop(true);
                let mut child = cmd
                    .spawn()
                    .context("could not run ssh; is OpenSSH installed?")?;
                let stdin = child.stdin.take().context("no stdin")?;
                let stdout = child.stdout.take().context("no stdout")?;
                let stderr = child.stderr.take().context("no stderr")?;
                let (stdout, stderr) = talk(stdin, stdout, stderr, input).await?;
                let status = child.wait().await?.code();
                Ok(Output {
                    stdout,
                    stderr,
                    status,
                })
            }
        }
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => bail!("the remote did not answer within {}s", timeout.as_secs()),
    }
}

/// A conversation with a program that stays up: ssso writes commands to its stdin and reads
/// its answers turn by turn (each turn ends with a line `over`, the last with `done`).
pub struct Channel<'c> {
    stdin: Option<std::pin::Pin<Box<dyn AsyncWrite + Send + 'c>>>,
    stdout: tokio::io::BufReader<std::pin::Pin<Box<dyn AsyncRead + Send + 'c>>>,
    name: &'static str,
    version: u32,
    started: bool,
    /// The program said `done`.
    pub done: bool,
}

impl Channel<'_> {
    /// Writes `bytes` to the program's stdin.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .context("the program's input is already closed")?;
        stdin
            .write_all(bytes)
            .await
            .context("the connection closed while sending (connection lost?)")?;
        stdin.flush().await.context("sending to the remote")?;
        Ok(())
    }

    /// Closes the program's stdin (it reads to its end).
    pub async fn close(&mut self) {
        if let Some(mut s) = self.stdin.take() {
            let _ = s.shutdown().await;
        }
    }

    /// Reads the next turn of the answer: items up to a line `over` (or `done`). An `error
    /// WHY` line is returned as the error WHY.
    pub async fn turn(&mut self) -> Result<Reply> {
        use tokio::io::AsyncBufReadExt;
        let mut reply = Reply::default();
        let cut = || anyhow::anyhow!("the sync stopped before it finished (connection lost?)");
        let mut line = Vec::new();
        if !self.started {
            let tag = format!("ssso-{} ", self.name);
            loop {
                line.clear();
                if self.stdout.read_until(b'\n', &mut line).await? == 0 {
                    bail!("the remote did not run ssso's program (is /bin/sh there?)");
                }
                if let Some(at) = line.windows(tag.len()).position(|w| w == tag.as_bytes()) {
                    let got = String::from_utf8_lossy(&line[at + tag.len()..]);
                    if got.trim() != self.version.to_string() {
                        bail!(
                            "the remote answered with version {} of ssso-{}, not {}",
                            got.trim(),
                            self.name,
                            self.version
                        );
                    }
                    break;
                }
            }
            self.started = true;
        }
        loop {
            line.clear();
            if self.stdout.read_until(b'\n', &mut line).await? == 0 {
                return Err(cut());
            }
            let text = String::from_utf8_lossy(line.strip_suffix(b"\n").ok_or_else(cut)?);
            let (key, value) = text.split_once(' ').unwrap_or((&text, ""));
            if let Some(key) = key.strip_prefix(':') {
                let len: usize = value
                    .trim()
                    .parse()
                    .with_context(|| format!("the remote sent a malformed reply line `{text}`"))?;
                let mut bytes = vec![0; len + 1];
                self.stdout
                    .read_exact(&mut bytes)
                    .await
                    .map_err(|_| cut())?;
                bytes.pop();
                reply.items.push(Item::Blob(key.to_owned(), bytes));
                continue;
            }
            match key {
                "error" => bail!("{value}"),
                "over" => return Ok(reply),
                "done" => {
                    self.done = true;
                    reply.done = true;
                    return Ok(reply);
                }
                "" => {}
                _ => reply
                    .items
                    .push(Item::Line(key.to_owned(), value.to_owned())),
            }
        }
    }
}

/// Runs `program` and holds a conversation with it: `talk` gets the [`Channel`]. `timeout`
/// bounds the whole of it. When ssh itself fails (status 255 before the program answered),
/// the error is ssh's own last words; otherwise the program's last line on stderr is added to
/// the error as context.
pub async fn converse<T>(
    via: Via<'_>,
    program: &Program,
    timeout: Duration,
    talk: impl AsyncFnOnce(&mut Channel<'_>) -> Result<T>,
) -> Result<T> {
    let line = program.command_line();
    let with_channel = async |stdin: Box<dyn AsyncWrite + Send + '_>,
                              stdout: Box<dyn AsyncRead + Send + '_>,
                              stderr: Box<dyn AsyncRead + Send + '_>|
           -> (Result<T>, Vec<u8>, bool) {
        let mut ch = Channel {
            stdin: Some(Box::into_pin(stdin)),
            stdout: tokio::io::BufReader::new(Box::into_pin(stdout)),
            name: program.name,
            version: program.version,
            started: false,
            done: false,
        };
        let mut err = Vec::new();
        let mut stderr = Box::into_pin(stderr);
        let talked = async {
            let r = talk(&mut ch).await;
            ch.close().await;
            r
        };
        let (r, _) = tokio::join!(talked, stderr.read_to_end(&mut err));
        (r, err, ch.started)
    };
    let work = async {
        match via {
            Via::Master(ctl) => {
                let session =
                    openssh::Session::resume_mux(ctl.to_path_buf().into_boxed_path(), None);
                let result = async {
                    let mut child = session
                        .raw_command(&line)
                        .stdin(openssh::Stdio::piped())
                        .stdout(openssh::Stdio::piped())
                        .stderr(openssh::Stdio::piped())
                        .spawn()
                        .await
                        .map_err(|e| anyhow::Error::new(NoChannel(format!("{e:#}"))))?;
                    let stdin = child.stdin().take().context("no stdin")?;
                    let stdout = child.stdout().take().context("no stdout")?;
                    let stderr = child.stderr().take().context("no stderr")?;
                    let (r, err, started) =
                        with_channel(Box::new(stdin), Box::new(stdout), Box::new(stderr)).await;
                    let status = child.wait().await.ok().and_then(|s| s.code());
                    anyhow::Ok(finish(r, &err, started, status))
                }
                .await;
                // The master belongs to its owner (the user's session): never close it.
                let _ = session.detach();
                result?
            }
            Via::Ssh(cmd) => {
                let mut cmd = tokio::process::Command::from(cmd);
                cmd.arg(&line)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .kill_on_drop(true);
                let mut child = cmd
                    .spawn()
                    .context("could not run ssh; is OpenSSH installed?")?;
                let stdin = child.stdin.take().context("no stdin")?;
                let stdout = child.stdout.take().context("no stdout")?;
                let stderr = child.stderr.take().context("no stderr")?;
                let (r, err, started) =
                    with_channel(Box::new(stdin), Box::new(stdout), Box::new(stderr)).await;
                let status = child.wait().await?.code();
                finish(r, &err, started, status)
            }
        }
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => bail!("the remote did not answer within {}s", timeout.as_secs()),
    }
}

/// The master did not open a channel for the program (the server refused a second session,
/// as `MaxSessions 1` does, or the master is gone): nothing ran on the host.
#[derive(Debug)]
pub struct NoChannel(pub String);

impl std::fmt::Display for NoChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "could not open a channel on the ssh connection: {}",
            self.0
        )
    }
}

impl std::error::Error for NoChannel {}

/// Whether `e` is (or wraps) [`NoChannel`].
pub fn is_no_channel(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<NoChannel>().is_some())
}

/// A conversation's result with what stderr says about a failure.
fn finish<T>(r: Result<T>, err: &[u8], started: bool, status: Option<i32>) -> Result<T> {
    let e = match r {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    let err = String::from_utf8_lossy(err);
    let last = err
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(str::trim);
    if status == Some(255) && !started {
        bail!("{}", last.unwrap_or("ssh failed (exit status 255)"));
    }
    match last {
        Some(l) => Err(e.context(format!("remote said: {l}"))),
        None => Err(e),
    }
}

/// [`run`] from synchronous code, on a runtime of its own.
pub fn run_blocking(
    via: Via<'_>,
    program: &Program,
    input: &[u8],
    timeout: Duration,
) -> Result<Output> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run(via, program, input, timeout))
}

/// Writes `input` and reads stdout and stderr to their ends, all at once.
async fn talk(
    mut stdin: impl AsyncWrite + Unpin,
    mut stdout: impl AsyncRead + Unpin,
    mut stderr: impl AsyncRead + Unpin,
    input: &[u8],
) -> Result<(Vec<u8>, Vec<u8>)> {
    let write = async move {
        // A program that exits early closes the pipe: its reply says why.
        let _ = stdin.write_all(input).await;
        let _ = stdin.shutdown().await;
        drop(stdin);
    };
    let mut out = Vec::new();
    let mut err = Vec::new();
    let (_, r1, r2) = tokio::join!(
        write,
        stdout.read_to_end(&mut out),
        stderr.read_to_end(&mut err)
    );
    r1.context("reading the remote's reply")?;
    r2.context("reading the remote's errors")?;
    Ok((out, err))
}

/// One item of a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// `KEY VALUE` (VALUE may be empty).
    Line(String, String),
    /// `:KEY LENGTH`, then LENGTH bytes.
    Blob(String, Vec<u8>),
}

/// A program's reply, read (see `reply.sh` for the format).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    pub items: Vec<Item>,
    /// The program reached its `done` line.
    pub done: bool,
}

impl Reply {
    /// Where the reply of program `name` starts in `out` (after the startup files' noise).
    fn start(out: &[u8], name: &str) -> Option<usize> {
        let start = format!("ssso-{name} ");
        out.windows(start.len()).position(|w| w == start.as_bytes())
    }

    /// Reads the reply of program `name` at `version` from `out`. Noise before the start line
    /// (a `.cshrc` that prints, with or without a final newline) is ignored. An `error WHY` line
    /// is returned as the error WHY.
    pub fn parse(out: &[u8], name: &str, version: u32) -> Result<Reply> {
        let Some(at) = Reply::start(out, name) else {
            bail!("the remote did not run ssso's program (is /bin/sh there?)");
        };
        let mut rest = &out[at..];
        let first = take_line(&mut rest);
        let got = first.split_once(' ').map(|(_, v)| v.trim()).unwrap_or("");
        if got != version.to_string() {
            bail!("the remote answered with version {got} of ssso-{name}, not {version}");
        }
        let mut reply = Reply::default();
        while !rest.is_empty() {
            let line = take_line(&mut rest);
            let (key, value) = line.split_once(' ').unwrap_or((line.as_str(), ""));
            if let Some(key) = key.strip_prefix(':') {
                let len: usize = value
                    .trim()
                    .parse()
                    .with_context(|| format!("the remote sent a malformed reply line `{line}`"))?;
                if rest.len() < len {
                    bail!("the remote's reply was cut short");
                }
                reply
                    .items
                    .push(Item::Blob(key.to_owned(), rest[..len].to_vec()));
                rest = &rest[len..];
                if rest.first() == Some(&b'\n') {
                    rest = &rest[1..];
                }
                continue;
            }
            match key {
                "error" => bail!("{value}"),
                "done" => reply.done = true,
                "" => {}
                _ => reply
                    .items
                    .push(Item::Line(key.to_owned(), value.to_owned())),
            }
        }
        Ok(reply)
    }

    /// The value of the first line `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.items.iter().find_map(|i| match i {
            Item::Line(k, v) if k == key => Some(v.as_str()),
            _ => None,
        })
    }

    /// Whether there is a line `key`.
    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The bytes of the first blob `key`.
    pub fn blob(&self, key: &str) -> Option<&[u8]> {
        self.items.iter().find_map(|i| match i {
            Item::Blob(k, v) if k == key => Some(v.as_slice()),
            _ => None,
        })
    }

    /// Every line, in order.
    pub fn lines(&self) -> impl Iterator<Item = (&str, &str)> {
        self.items.iter().filter_map(|i| match i {
            Item::Line(k, v) => Some((k.as_str(), v.as_str())),
            Item::Blob(..) => None,
        })
    }
}

/// The next line of `rest` (without its `\n`), lossily as text; `rest` moves past it.
fn take_line(rest: &mut &[u8]) -> String {
    let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let line = String::from_utf8_lossy(&rest[..end]).into_owned();
    *rest = rest.get(end + 1..).unwrap_or(&[]);
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    const BODY: &str = r#"start
rp "param $P"
blob_var token "$(cat)"
printf 'a\nb' >"$T/f"
blob_file file "$T/f"
rp done
"#;

    /// Runs a program locally with `sh -c` through the same encoding, `T` a scratch dir.
    fn run_local(p: &Program, input: &[u8]) -> Vec<u8> {
        use std::io::Write as _;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(p.command_line())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap().stdout
    }

    #[test]
    fn parameters_lines_and_blobs_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = Program::new("test", 3, BODY)
            .param("P", "it's $x")
            .param("T", dir.path().to_str().unwrap());
        let mut out = b"Welcome!\ntoken written\nerror noise\x1b[0m\r\nno newline".to_vec();
        out.extend(run_local(&p, b"{\"json\": \"line\"}"));
        let r = Reply::parse(&out, "test", 3).unwrap();
        assert!(r.done);
        assert_eq!(r.get("param"), Some("it's $x"));
        assert_eq!(r.blob("token"), Some(&b"{\"json\": \"line\"}"[..]));
        assert_eq!(r.blob("file"), Some(&b"a\nb"[..]));
    }

    #[test]
    fn replies_that_are_wrong_say_so() {
        assert!(Reply::parse(b"sh: not found\n", "x", 1).is_err());
        assert!(Reply::parse(b"ssso-x 2\n", "x", 1).is_err());
        let e = Reply::parse(b"ssso-x 1\nerror the disk is full\n", "x", 1).unwrap_err();
        assert_eq!(e.to_string(), "the disk is full");
        assert!(Reply::parse(b"ssso-x 1\n:t 99\nabc", "x", 1).is_err());
        assert!(Reply::parse(b"ssso-x 1\n:t x\n", "x", 1).is_err());
        let r = Reply::parse(b"ssso-x 1\nk v\n", "x", 1).unwrap();
        assert!(!r.done, "no done line: cut short");
    }
}
