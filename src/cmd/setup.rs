//! `ssso setup [--profile NAME] [--persist-profile] [--write] [--undo] [SSH OPTIONS] HOST`:
//! the one-time setup for a host, as marked blocks that ssso adds, replaces and removes and
//! never anything outside them.
//!
//! - Local `~/.ssh/config`: a `Host` block for ProxyCommand mode (`ProxyCommand ssso proxy
//!   --alias HOST --profile NAME --user %r [-F CONFIG] %h %p`, `SetEnv AWS_PROFILE=NAME`), so
//!   that plain `ssh HOST`, scp, rsync, editors' remote plugins and clients that are not
//!   OpenSSH (paramiko, fabric: no `%n`, no parent ssh) get the token too; `-F CONFIG` when
//!   setup itself was given one, for the ProxyCommand's own sync connection. It goes before the first `Host`/`Match` line (ssh uses
//!   the first value it finds, so a later `Host *` cannot override it; global options above
//!   it stay global) and is written atomically (temporary file, rename, mode kept).
//! - With `--persist-profile`, on the host: `AWS_PROFILE` in the login shell's startup file,
//!   for sessions that ssso does not start (a JupyterHub terminal, a plain ssh login):
//!   `export` in `~/.bashrc` (bash), `~/.zshenv` (zsh) or `~/.profile` (sh, dash, ksh),
//!   `setenv` in `~/.tcshrc` (tcsh, when it exists) or `~/.cshrc`, `set -gx` in
//!   `~/.config/fish/config.fish`, as a marked block at the top of the file. The decisions are
//!   [`super::persist`]'s; over one ssh connection the sync's host program
//!   ([`crate::sync::home`]) reports the login shell, reads the file and installs the new
//!   bytes carefully (refusing a symlink, another user's file, a directory writable by
//!   others; a full disk leaves the file as it was and says so).
//!
//! - With `--forward`, the `Host` block has no ProxyCommand but `SetEnv SSSO_MODE=forward`:
//!   `ssso HOST` then uses least-privilege mode without the option. Plain `ssh HOST`, scp,
//!   rsync and editors get no AWS credentials on that host: a ProxyCommand only relays bytes
//!   and cannot add a remote forward to ssh's own connection, and syncing the token from it
//!   would undo the point of forward mode. The command says so.
//!
//! Nothing changes without `--write`: the blocks are printed instead. `--undo` removes them.
//! Running it twice changes nothing the second time.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::persist::{self, Outcome, Profile};
use crate::files;
use crate::session;
use crate::ssh::args::SshArgs;
use crate::ssh::config::SshConfig;
use crate::ssh::master;
use crate::ssh::runner::{self, Via};
use crate::sync::home;
use crate::ui;

/// `ssso setup`'s settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub profile: Option<String>,
    /// Also set AWS_PROFILE in the host's login-shell startup file.
    pub persist_profile: bool,
    /// Change the files; without it, only show what would change.
    pub write: bool,
    /// Remove ssso's blocks instead of adding them.
    pub undo: bool,
    /// The block for least-privilege mode (`SetEnv SSSO_MODE=forward`, no ProxyCommand).
    pub forward: bool,
}

pub fn run(args: &Settings, ssh: SshArgs) -> Result<u8> {
    let dest = ssh
        .destination
        .clone()
        .context("no HOST given (usage: ssso setup [--profile NAME] [--persist-profile] [--write] [--undo] [SSH OPTIONS] HOST)")?;
    let dest = dest.to_str().context("HOST is not valid UTF-8")?.to_owned();
    let (user, host) = match dest.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, dest.as_str()),
    };
    if host.is_empty() || !host.bytes().all(alias_byte) || host.starts_with('-') {
        bail!(
            "ssso setup needs a plain host name or alias (user@host; letters, digits and . _ + -), not {dest:?}"
        );
    }
    // The ssh config the ProxyCommand's own sync connection must read: the one given here.
    let words = ssh.config_options();
    let config = words
        .iter()
        .zip(words.iter().skip(1))
        .rfind(|(w, _)| *w == "-F")
        .map(|(_, path)| std::path::PathBuf::from(path));
    let name = if args.undo {
        String::new()
    } else {
        let cfg = SshConfig::resolve(&ssh)?;
        let sso = session::host_profile(args.profile.as_deref(), &cfg)?;
        if args.forward {
            crate::forward::source::SsoSource::new(&sso)?;
        }
        Profile::new(&sso.profile)?;
        sso.profile
    };

    let path = ssh_config_path()?;
    let before = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let block = match args.undo {
        true => None,
        false => Some(ssh_block(
            host,
            user,
            &name,
            config.as_deref(),
            args.forward,
        )?),
    };
    let after = edit_ssh_config(&before, host, block.as_deref());
    let shown = path.display();
    match (&block, after == before, args.write) {
        (_, true, _) => ui::info(format_args!("{shown}: already up to date for {host}")),
        (Some(b), false, false) => {
            print(b);
            ui::info(format_args!(
                "add this to {shown} yourself, or run again with --write"
            ));
        }
        (None, false, false) => ui::info(format_args!(
            "would remove ssso's block for {host} from {shown}; run again with --write"
        )),
        (_, false, true) => {
            files::write_atomic(&path, after.as_bytes(), &files::Options::USERS)?;
            ui::info(format_args!(
                "{} ssso's block for {host} in {shown}",
                if block.is_some() { "wrote" } else { "removed" }
            ));
        }
    }
    if args.forward && !args.undo {
        ui::info(format_args!(
            "`ssso {host}` now keeps the SSO token on this machine and forwards role credentials while connected; plain ssh, scp and rsync to {host} get no AWS credentials there (a ProxyCommand cannot carry the forward)"
        ));
    }

    if args.persist_profile {
        let profile = match args.undo {
            true => None,
            false => Some(Profile::new(&name)?),
        };
        persist_profile(&ssh, &dest, profile.as_ref(), args.write)
            .with_context(|| format!("{dest}: persisting AWS_PROFILE"))?;
    }
    Ok(0)
}

/// `--persist-profile`: over one connection, the host's login shell, its startup file read,
/// the decision made here ([`persist::decide`]) and, with `--write`, the new bytes installed.
/// Without `--write` the host only reads.
fn persist_profile(
    ssh: &SshArgs,
    dest: &str,
    profile: Option<&Profile>,
    write: bool,
) -> Result<()> {
    let program = home::program();
    let talk = async |ch: &mut runner::Channel<'_>| {
        let facts = home::facts(ch).await?;
        let st = persist::startup(
            &persist::login_shell(&facts.shell, &facts.passwd),
            facts.tcshrc,
        );
        let file = match home::get(ch, st.file).await {
            Ok(f) => f,
            Err(e) => {
                let hint = profile.map_or(String::new(), |p| {
                    format!(
                        "; add this to the file yourself:\n{}",
                        st.block(p).trim_end()
                    )
                });
                bail!("{e:#}{hint}");
            }
        };
        let outcome = persist::decide(file.bytes.as_deref(), &st, profile)?;
        if let Outcome::Change {
            bytes, done, note, ..
        } = &outcome
            && write
        {
            if let Some(n) = note {
                ui::warn(format_args!("{dest}: {n}"));
            }
            let perm = persist::mode(file.mode.as_deref());
            home::put(ch, st.file, bytes, &file.digest, &perm).await?;
            ui::info(format_args!("{dest}: {done}"));
            return Ok(());
        }
        home::end(ch).await?;
        match outcome {
            Outcome::Unchanged(m) => ui::info(format_args!("{dest}: {m}")),
            Outcome::Change {
                would, show, note, ..
            } => {
                if let Some(n) = note {
                    ui::warn(format_args!("{dest}: {n}"));
                }
                ui::info(format_args!("{dest}: {would}"));
                if let Some(b) = show {
                    print(&b);
                }
            }
        }
        Ok(())
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(runner::converse(
            Via::Ssh(master::program_command(ssh, &[])),
            &program,
            SETUP_TIMEOUT,
            talk,
        ))
}

fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

fn ssh_config_path() -> Result<PathBuf> {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .context("HOME is not set")?;
    Ok(Path::new(&home).join(".ssh/config"))
}

fn markers(host: &str) -> (String, String) {
    (
        format!("# >>> ssso setup {host} >>>"),
        format!("# <<< ssso setup {host} <<<"),
    )
}

/// A byte of a host alias that setup writes: one that means itself to ssh's config reader,
/// its `%` expansion, `sh`, Python's `shlex` and paramiko's `~` expansion alike.
fn alias_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"._+-".contains(&b)
}

/// The `~/.ssh/config` block for `host`, markers included.
pub(crate) fn ssh_block(
    host: &str,
    user: Option<&str>,
    profile: &str,
    config: Option<&Path>,
    forward: bool,
) -> Result<String> {
    let (begin, end) = markers(host);
    let mut b = format!("{begin}\nHost {host}\n");
    if let Some(u) = user {
        b.push_str(&format!("    User {u}\n"));
    }
    if forward {
        b.push_str(&format!(
            "    # ssso --forward: use `ssso {host}`; plain ssh/scp/rsync get no AWS credentials here\n    SetEnv AWS_PROFILE={profile} SSSO_MODE=forward\n{end}\n"
        ));
    } else {
        b.push_str(&format!(
            "    ProxyCommand {}\n    SetEnv AWS_PROFILE={profile}\n{end}\n",
            proxy_command(host, profile, config)?
        ));
    }
    Ok(b)
}

/// The `ProxyCommand` line: `ssso proxy --alias HOST --profile NAME --user %r [-F CONFIG] %h
/// %p`. The alias and the profile are written out because not every client expands `%n` or
/// has a parent ssh to read: paramiko (and fabric, on top of it) expands only `~`, `%h`,
/// `%p` and `%r` in a ProxyCommand, then runs it without a shell, splitting it with Python's
/// `shlex`; OpenSSH expands `%` tokens and runs it with `$SHELL -c`. Every word here reads
/// the same in both: plain words, or single-quoted ones for a config path with other bytes.
pub(crate) fn proxy_command(host: &str, profile: &str, config: Option<&Path>) -> Result<String> {
    let mut line = format!("ssso proxy --alias {host} --profile {profile} --user %r");
    if let Some(path) = config {
        let text = path.to_str().context("the -F path is not valid UTF-8")?;
        let abs = if path.is_absolute() {
            text.to_owned()
        } else {
            std::env::current_dir()
                .context("cannot read the current directory")?
                .join(path)
                .to_str()
                .context("the -F path is not valid UTF-8")?
                .to_owned()
        };
        line.push_str(" -F ");
        line.push_str(&config_word(&abs)?);
    }
    line.push_str(" %h %p");
    Ok(line)
}

/// `path` as one word of the ProxyCommand line (see [`proxy_command`]).
fn config_word(path: &str) -> Result<String> {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"._/+@,:=-".contains(&b);
    if path.bytes().all(plain) {
        return Ok(path.to_owned());
    }
    // ssh expands `%`; paramiko expands `~` anywhere; a quote or a control byte cannot be
    // written the same way for sh and shlex.
    if path
        .bytes()
        .any(|b| b"%~'\\\"".contains(&b) || b.is_ascii_control())
    {
        bail!(
            "ssso setup cannot write the ssh config path {path:?} into a ProxyCommand (it holds % ~ a quote, a backslash or a control character); move or link the file"
        );
    }
    Ok(format!("'{path}'"))
}

/// `text` with ssso's block for `host` removed and, when given, `block` put before the first
/// `Host`/`Match` line (or at the end). Every other line is kept as it was.
pub(crate) fn edit_ssh_config(text: &str, host: &str, block: Option<&str>) -> String {
    let (begin, end) = markers(host);
    let mut kept = String::with_capacity(text.len());
    let mut inside = false;
    let mut insert_at = None;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        if !inside && bare == begin {
            inside = true;
            insert_at.get_or_insert(kept.len());
            continue;
        }
        if inside {
            inside = bare != end;
            continue;
        }
        let first = bare
            .trim_start()
            .split(|c: char| c.is_whitespace() || c == '=')
            .next()
            .unwrap_or("");
        if insert_at.is_none()
            && (first.eq_ignore_ascii_case("host") || first.eq_ignore_ascii_case("match"))
        {
            insert_at = Some(kept.len());
        }
        kept.push_str(line);
    }
    let Some(block) = block else { return kept };
    match insert_at {
        Some(at) => format!("{}{block}{}", &kept[..at], &kept[at..]),
        None if kept.is_empty() || kept.ends_with('\n') => format!("{kept}{block}"),
        None => format!("{kept}\n{block}"),
    }
}

/// Bound on the `--persist-profile` connection (a password prompt included).
const SETUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_block_goes_before_the_first_host_and_is_idempotent() {
        let before =
            "# mine\nServerAliveInterval 30\n\nHost *\n    User me\nHost other\n    Port 2\n";
        let block = ssh_block("box", Some("alice"), "dev", None, false).unwrap();
        let after = edit_ssh_config(before, "box", Some(&block));
        assert_eq!(
            after,
            "# mine\nServerAliveInterval 30\n\n# >>> ssso setup box >>>\nHost box\n    User alice\n    ProxyCommand ssso proxy --alias box --profile dev --user %r %h %p\n    SetEnv AWS_PROFILE=dev\n# <<< ssso setup box <<<\nHost *\n    User me\nHost other\n    Port 2\n"
        );
        assert_eq!(edit_ssh_config(&after, "box", Some(&block)), after);
        // A changed profile replaces the block in place.
        let again = edit_ssh_config(
            &after,
            "box",
            Some(&ssh_block("box", None, "prod", None, false).unwrap()),
        );
        assert!(again.contains("AWS_PROFILE=prod") && !again.contains("AWS_PROFILE=dev"));
        assert_eq!(again.matches(">>> ssso setup box").count(), 1);
        // Undo gives back the original, byte for byte; other hosts' blocks stay.
        assert_eq!(edit_ssh_config(&after, "box", None), before);
        let two = edit_ssh_config(
            &after,
            "b2",
            Some(&ssh_block("b2", None, "x", None, false).unwrap()),
        );
        assert_eq!(
            edit_ssh_config(&edit_ssh_config(&two, "b2", None), "box", None),
            before
        );
        // --forward: no ProxyCommand, the mode in SetEnv.
        let f = ssh_block("box", None, "dev", None, true).unwrap();
        assert!(
            !f.contains("ProxyCommand")
                && f.contains("    SetEnv AWS_PROFILE=dev SSSO_MODE=forward\n"),
            "{f}"
        );
        // No Host line, no final newline: appended after a newline.
        assert_eq!(edit_ssh_config("Port 2", "box", Some("B\n")), "Port 2\nB\n");
    }

    /// paramiko splits the line with `shlex` and runs it without a shell; ssh hands it to
    /// `sh -c`: both must see the same words.
    #[test]
    fn proxy_command_reads_the_same_in_sh_and_shlex() {
        let line = proxy_command(
            "gpu-1.lab",
            "dev@corp+x",
            Some(Path::new("/home/a b/.ssh/work,conf")),
        )
        .unwrap();
        assert_eq!(
            line,
            "ssso proxy --alias gpu-1.lab --profile dev@corp+x --user %r -F '/home/a b/.ssh/work,conf' %h %p"
        );
        let words = shell_words::split(&line).unwrap();
        assert_eq!(words[5..8], ["dev@corp+x", "--user", "%r"]);
        assert_eq!(words[9], "/home/a b/.ssh/work,conf");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf '%s\\n' {}", &line["ssso ".len()..]))
            .output()
            .unwrap();
        let sh_words: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
        assert_eq!(sh_words, words[1..]);
        assert!(proxy_command("h", "p", Some(Path::new("/x/%d/c"))).is_err());
        assert!(proxy_command("h", "p", Some(Path::new("/x/~/c"))).is_err());
        assert!(proxy_command("h", "p", Some(Path::new("/x/it's"))).is_err());
        let rel = proxy_command("h", "p", Some(Path::new("cfg"))).unwrap();
        assert!(
            rel.contains(" -F /") && rel.ends_with("/cfg %h %p"),
            "{rel}"
        );
        for bad in ["a'b", "a$b", "a%b", "a~b", "-oProxyCommand=x", "a b"] {
            assert!(
                !bad.bytes().all(alias_byte) || bad.starts_with('-'),
                "{bad}"
            );
        }
    }
}
