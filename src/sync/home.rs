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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssh::runner::{self, Via};
    use std::os::unix::fs::PermissionsExt as _;
    use std::time::Duration;

    /// The host program run locally (`sh -c`, as ssh would run it) with this HOME and SHELL.
    fn talk<T>(
        home: &std::path::Path,
        shell: Option<&str>,
        f: impl AsyncFnOnce(&mut Channel<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut sh = std::process::Command::new("sh");
        sh.arg("-c").env("HOME", home);
        match shell {
            Some(s) => sh.env("SHELL", s),
            None => sh.env_remove("SHELL"),
        };
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(runner::converse(
                Via::Ssh(sh),
                &program(),
                Duration::from_secs(20),
                f,
            ))
    }

    fn listing(dir: &std::path::Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn facts_read_and_install_of_a_startup_file() {
        let h = tempfile::tempdir().unwrap();
        std::fs::set_permissions(h.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let rc = h.path().join(".zshenv");
        std::fs::write(&rc, b"mine\r\nno newline").unwrap();
        std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o640)).unwrap();
        let before = listing(h.path());

        // Reading writes nothing, anywhere.
        let (facts, file) = talk(h.path(), Some("/usr/bin/zsh"), async |ch| {
            let facts = super::facts(ch).await?;
            let file = get(ch, ".zshenv").await?;
            end(ch).await?;
            Ok((facts, file))
        })
        .unwrap();
        assert_eq!(
            facts,
            Facts {
                shell: "/usr/bin/zsh".into(),
                passwd: String::new(),
                tcshrc: false
            }
        );
        assert_eq!(file.bytes.as_deref(), Some(&b"mine\r\nno newline"[..]));
        assert_eq!(file.mode.as_deref(), Some("-rw-r-----"));
        assert_eq!(listing(h.path()), before);

        // The install: the bytes, the mode asked for, no temporary or lock left.
        talk(h.path(), Some("/usr/bin/zsh"), async |ch| {
            let file = get(ch, ".zshenv").await?;
            put(ch, ".zshenv", b"new\nbytes", &file.digest, "640").await
        })
        .unwrap();
        assert_eq!(std::fs::read(&rc).unwrap(), b"new\nbytes");
        let mode = std::fs::metadata(&rc).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
        assert_eq!(listing(h.path()), before);

        // A stale digest: nothing written.
        let e = talk(h.path(), Some("/usr/bin/zsh"), async |ch| {
            get(ch, ".zshenv").await?;
            put(ch, ".zshenv", b"x", digest::NONE, "644").await
        })
        .unwrap_err();
        assert!(
            format!("{e:#}").contains("~/.zshenv changed while"),
            "{e:#}"
        );
        assert_eq!(std::fs::read(&rc).unwrap(), b"new\nbytes");

        // A missing file in a missing directory: none, and nothing created by the read.
        let fish = talk(h.path(), None, async |ch| {
            let facts = super::facts(ch).await?;
            let file = get(ch, ".config/fish/config.fish").await?;
            end(ch).await?;
            Ok((facts, file))
        })
        .unwrap();
        assert!(
            fish.0.shell.is_empty() && fish.0.passwd.contains(':'),
            "{fish:?}"
        );
        assert_eq!(fish.1.bytes, None);
        assert!(!h.path().join(".config").exists());
    }

    #[test]
    fn unknown_names_and_symlinks_are_refused() {
        let h = tempfile::tempdir().unwrap();
        std::fs::set_permissions(h.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        for name in ["../.bashrc", ".ssh/authorized_keys", "x"] {
            let e = talk(h.path(), Some("/bin/bash"), async |ch| {
                get(ch, name).await.map(|_| ())
            })
            .unwrap_err();
            assert!(format!("{e:#}").contains("unknown startup file"), "{e:#}");
        }
        std::os::unix::fs::symlink("elsewhere", h.path().join(".bashrc")).unwrap();
        let e = talk(h.path(), Some("/bin/bash"), async |ch| {
            get(ch, ".bashrc").await.map(|_| ())
        })
        .unwrap_err();
        assert_eq!(
            format!("{e:#}"),
            "~/.bashrc is a symlink; ssso does not write through it"
        );
        let e = talk(h.path(), Some("/bin/bash"), async |ch| {
            put(ch, ".bashrc", b"x", digest::NONE, "644").await
        })
        .unwrap_err();
        assert!(format!("{e:#}").contains("no startup file named"), "{e:#}");
    }
}
