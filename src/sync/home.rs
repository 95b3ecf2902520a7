//! The host program's third target, `s`: a login-shell startup file in the home directory
//! (one of a fixed list of names, see `host.sh`), read and installed with the same careful
//! install as the token and the config (checks of the file and its directory, a temporary
//! beside it, every status checked, flushed, size and digest verified, renamed; refusals that
//! name the path and the reason). These are the steps of the conversation that `ssso setup
//! --persist-profile` holds over [`crate::ssh::runner::converse`]; which file, and what goes in
//! it, is decided by the caller.

use anyhow::{Result, bail};

use super::{Answer, ask, digest};
use crate::ssh::runner::{Channel, Program};

/// The host program without a token file: it looks at nothing under `~/.aws`.
pub fn program() -> Program {
    super::program("", None)
}

/// What the host says about its login shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// `$SHELL` (empty when unset).
    pub shell: String,
    /// The user's passwd line (`getent passwd`), asked only when `$SHELL` is empty.
    pub passwd: String,
    /// `~/.tcshrc` exists.
    pub tcshrc: bool,
}

/// The `shell` command: the login shell's facts.
pub async fn facts(ch: &mut Channel<'_>) -> Result<Facts> {
    ch.send(b"shell\n").await?;
    let r = ch.turn().await?;
    Ok(Facts {
        shell: r.get("shell").unwrap_or_default().to_owned(),
        passwd: r.get("passwd").unwrap_or_default().to_owned(),
        tcshrc: r.get("tcshrc") == Some("yes"),
    })
}

/// A startup file as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Its bytes; `None`: there is no such file.
    pub bytes: Option<Vec<u8>>,
    /// Its digest ([`digest::NONE`] when missing): what a [`put`] that replaces it names.
    pub digest: String,
    /// Its mode as `ls -l` shows it (`-rw-r--r--`), when it exists.
    pub mode: Option<String>,
}

/// Names `~/NAME` as the target `s` and reads it, writing nothing. An error when the host
/// refuses it (a symlink, not a regular file, another user's, a directory writable by
/// others): the reason, with the path.
pub async fn get(ch: &mut Channel<'_>, name: &str) -> Result<File> {
    let (a, _) = ask(ch, &format!("rc {name}\n"), "s").await?;
    if a.word(0).is_empty() {
        bail!("the host's answer was not understood");
    }
    ch.send(b"get s\n").await?;
    let reply = ch.turn().await?;
    if let Some(b) = reply.blob("s") {
        let mode = reply
            .lines()
            .find_map(|(k, v)| (k == "s").then(|| v.strip_prefix("mode ")).flatten())
            .map(str::to_owned);
        return Ok(File {
            digest: digest::of(b),
            bytes: Some(b.to_vec()),
            mode,
        });
    }
    let a = Answer::from(&reply, "s")?;
    match a.word(0) {
        "none" => Ok(File {
            bytes: None,
            digest: digest::NONE.to_owned(),
            mode: None,
        }),
        "refused" => bail!("{}", a.rest()),
        _ => bail!("the host's answer was not understood"),
    }
}

/// Installs `bytes` with permissions `perm` (octal, `644`) as the file named by [`get`], if
/// it is still the one whose digest is `replaces`. The channel's last use (the bytes are the
/// rest of the input). An error says why nothing was written: the file changed meanwhile, was
/// refused, or could not be written (a full disk...); the file then is as it was.
pub async fn put(
    ch: &mut Channel<'_>,
    name: &str,
    bytes: &[u8],
    replaces: &str,
    perm: &str,
) -> Result<()> {
    let new = digest::of(bytes);
    ch.send(format!("put s {} {new} {replaces} {perm}\n", bytes.len()).as_bytes())
        .await?;
    ch.send(bytes).await?;
    ch.close().await;
    let a = Answer::from(&ch.turn().await?, "s")?;
    match a.word(0) {
        "written" => finish(ch).await,
        "changed" => bail!("~/{name} changed while ssso wrote it; nothing was written: run again"),
        _ => bail!("{}", a.rest()),
    }
}

/// Ends the conversation without a `put`.
pub async fn end(ch: &mut Channel<'_>) -> Result<()> {
    ch.send(b"end\n").await?;
    ch.close().await;
    finish(ch).await
}

/// Reads up to the program's `done`.
async fn finish(ch: &mut Channel<'_>) -> Result<()> {
    while !ch.done {
        ch.turn().await?;
    }
    Ok(())
}
