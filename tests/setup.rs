//! `ssso setup --persist-profile` on real hosts, one test user per login shell: each gets the
//! right startup file and line, a new login (plain ssh, no ssso) has `AWS_PROFILE`, `--undo`
//! gives back the file byte for byte; the host refuses a symlink, another user's file and a
//! home writable by others, naming the path; a full disk leaves the file as it was and says so.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;

use common::*;

const PROFILE: &str = "dev";
const SESSION: &str = "corp";
const BEGIN: &str =
    "# >>> ssso: AWS_PROFILE (added by ssso setup --persist-profile; remove with --undo) >>>\n";
const END: &str = "# <<< ssso <<<\n";

/// Puts a file of a user's home back as it was (bytes, mode, owner; or absent) when dropped.
struct Restore {
    path: PathBuf,
    old: Option<(Vec<u8>, u32)>,
}

impl Restore {
    fn new(user: &str, rel: &str) -> Restore {
        let path = home(user).join(rel);
        let old = fs::symlink_metadata(&path)
            .ok()
            .map(|m| (fs::read(&path).unwrap(), m.mode() & 0o7777));
        Restore { path, old }
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
        if let Some((bytes, mode)) = &self.old {
            let dir = fs::metadata(self.path.parent().unwrap()).unwrap();
            fs::write(&self.path, bytes).unwrap();
            fs::set_permissions(&self.path, fs::Permissions::from_mode(*mode)).unwrap();
            std::os::unix::fs::chown(&self.path, Some(dir.uid()), Some(dir.gid())).unwrap();
        }
    }
}

/// `echo "[$AWS_PROFILE]"` in a new login of `user` (commands on stdin: the login shell reads
/// its login files), and as an ssh command (the files every shell of the user reads).
fn logins(user: &str) -> (String, String) {
    let login = run_with_stdin(
        &mut server().ssh(user, Vec::<&str>::new()),
        b"echo \"[$AWS_PROFILE]\"\n",
        CMD_TIMEOUT,
    );
    let command = run(
        &mut server().ssh(user, ["echo \"[$AWS_PROFILE]\""]),
        CMD_TIMEOUT,
    );
    (
        String::from_utf8_lossy(&login.stdout).into_owned(),
        String::from_utf8_lossy(&command.stdout).into_owned(),
    )
}

/// Every login shell: the file and the line for it, the block first in the file (bash's
/// `~/.bashrc` returns early when not interactive), the file's other bytes and mode kept; a
/// new login has the profile; `--undo` gives the file back byte for byte.
#[test]
fn each_login_shell_gets_its_file_and_line_and_new_logins_have_the_profile() {
    // (user, file, line, whether `ssh HOST COMMAND` reads the file too)
    let cases = [
        ("ssso-bash", ".bashrc", "export AWS_PROFILE='dev'", true),
        ("ssso-sh", ".profile", "export AWS_PROFILE='dev'", false),
        ("ssso-ksh", ".profile", "export AWS_PROFILE='dev'", false),
        ("ssso-zsh", ".zshenv", "export AWS_PROFILE='dev'", true),
        ("ssso-csh", ".cshrc", "setenv AWS_PROFILE 'dev'", true),
        ("ssso-tcsh", ".cshrc", "setenv AWS_PROFILE 'dev'", true),
        ("ssso-tcsh", ".tcshrc", "setenv AWS_PROFILE 'dev'", true),
        (
            "ssso-fish",
            ".config/fish/config.fish",
            "set -gx AWS_PROFILE 'dev'",
            true,
        ),
    ];
    let local = Local::new(&sso_config(PROFILE, SESSION));
    for (name, file, line, by_commands) in cases {
        let u = user(name);
        let _file = Restore::new(name, file);
        let _tcshrc = Restore::new(name, ".tcshrc");
        if file == ".tcshrc" {
            u.write(".tcshrc", b"# mine\r\nset foo = 1\r\n", 0o640);
        }
        let original = u.read(file);
        let mode = u.mode(file);
        let shown = format!("~/{file}");
        let set = |extra: &[&str]| {
            local
                .test()
                .context(format!("{name} {file}"))
                .args(["setup", "--profile", PROFILE, "--persist-profile"])
                .args(extra)
                .to(name)
        };

        // Without --write: the block on stdout, the file untouched.
        set(&[])
            .stdout_contains(format!("{BEGIN}{line}\n{END}"))
            .stderr_contains(format!("would add to {shown}"))
            .run();
        assert_eq!(u.read(file), original, "{name}: a dry run wrote");

        set(&["--write"])
            .stderr_contains(format!("AWS_PROFILE=dev in {shown}"))
            .run();
        let written = u.read(file).unwrap();
        let want = [
            format!("{BEGIN}{line}\n{END}").as_bytes(),
            original.as_deref().unwrap_or_default(),
        ]
        .concat();
        assert!(
            written == want,
            "{name}: {}",
            String::from_utf8_lossy(&written)
        );
        assert_eq!(u.mode(file), Some(mode.unwrap_or(0o644)), "{name}");
        let leftovers: Vec<_> = fs::read_dir(u.home().join(file).parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with(".ssso"))
            .collect();
        assert!(leftovers.is_empty(), "{name}: {leftovers:?}");

        // Again: nothing to do.
        set(&["--write"])
            .stderr_contains(format!("{shown} ({}) already up to date", shell_of(name)))
            .run();

        let (login, command) = logins(name);
        assert!(login.contains("[dev]"), "{name}: a login: {login:?}");
        if by_commands {
            assert!(command.contains("[dev]"), "{name}: a command: {command:?}");
        }

        local
            .test()
            .args(["setup", "--undo", "--persist-profile", "--write"])
            .to(name)
            .stderr_contains(format!("removed ssso's block from {shown}"))
            .run();
        let back = u.read(file);
        match &original {
            Some(o) => assert_eq!(back.as_ref(), Some(o), "{name}: undo"),
            None => assert_eq!(back.as_deref(), Some(&b""[..]), "{name}: undo"),
        }
    }
}

fn shell_of(user: &str) -> &'static str {
    match user {
        "ssso-sh" => "dash",
        "ssso-csh" => "bsd-csh",
        other => SHELL_USERS
            .iter()
            .find(|(_, u)| *u == other)
            .map(|(s, _)| *s)
            .unwrap(),
    }
}

/// A symlink at the startup file (a dotfiles checkout), a file of another user, a home
/// writable by its group: refused with the path and the reason, dry run or not, the block
/// printed for the user to add by hand; nothing changes.
#[test]
fn unsafe_startup_files_are_refused_with_their_path() {
    let u = user("ssso-bash");
    let home = u.home();
    let _rc = Restore::new(u.name(), ".bashrc");
    let _real = Restore::new(u.name(), "dotfiles-bashrc");
    let local = Local::new(&sso_config(PROFILE, SESSION));
    let set = |extra: &[&str], why: &str| {
        local
            .test()
            .args(["setup", "--profile", PROFILE, "--persist-profile"])
            .args(extra)
            .to(u.name())
            .status(254)
            .stderr_contains(why)
            .stderr_contains("add this to the file yourself:")
            .stderr_contains("export AWS_PROFILE='dev'")
            .run();
    };

    u.write("dotfiles-bashrc", b"# mine\n", 0o644);
    fs::remove_file(home.join(".bashrc")).unwrap();
    std::os::unix::fs::symlink("dotfiles-bashrc", home.join(".bashrc")).unwrap();
    let (uid, gid, _) = passwd(u.name()).unwrap();
    std::os::unix::fs::lchown(home.join(".bashrc"), Some(uid), Some(gid)).unwrap();
    for extra in [&[][..], &["--write"]] {
        set(
            extra,
            "~/.bashrc is a symlink; ssso does not write through it",
        );
    }
    assert_eq!(u.read("dotfiles-bashrc").unwrap(), b"# mine\n");
    assert!(
        fs::symlink_metadata(home.join(".bashrc"))
            .unwrap()
            .is_symlink()
    );

    fs::remove_file(home.join(".bashrc")).unwrap();
    fs::write(home.join(".bashrc"), b"# root's\n").unwrap();
    set(&["--write"], "~/.bashrc belongs to another user (uid 0)");
    assert_eq!(u.read(".bashrc").unwrap(), b"# root's\n");
    std::os::unix::fs::chown(home.join(".bashrc"), Some(uid), Some(gid)).unwrap();

    let mode = fs::metadata(&home).unwrap().mode() & 0o7777;
    fs::set_permissions(&home, fs::Permissions::from_mode(0o775)).unwrap();
    struct Mode(PathBuf, u32, u32);
    impl Drop for Mode {
        fn drop(&mut self) {
            std::os::unix::fs::chown(&self.0, None, Some(self.2)).unwrap();
            fs::set_permissions(&self.0, fs::Permissions::from_mode(self.1)).unwrap();
        }
    }
    let _mode = Mode(home.clone(), mode, gid);
    // Writable by the user's own private group: fine (as for Debian's sshd); by another
    // group: refused.
    std::os::unix::fs::chown(&home, None, Some(0)).unwrap();
    set(
        &[],
        "~ is writable by other users (mode drwxrwxr-x, group 0 is not this user's own)",
    );
    assert_eq!(u.read(".bashrc").unwrap(), b"# root's\n");
}

/// A home whose disk is full: the write fails, the message says the disk is full and names
/// the file, the file is as it was and no temporary or lock is left.
#[test]
fn a_full_disk_leaves_the_startup_file_as_it_was() {
    let u = user(FULL_USER);
    let tiny = TinyAws::mount_home(256);
    let rc = b"# a bashrc on a small disk\nexport EDITOR=vi\n".repeat(20);
    u.write(".bashrc", &rc, 0o644);
    tiny.fill();
    let local = Local::new(&sso_config(PROFILE, SESSION));
    let ran = local
        .test()
        .args([
            "setup",
            "--profile",
            PROFILE,
            "--persist-profile",
            "--write",
        ])
        .to(u.name())
        .status(254)
        .stderr_contains("~/.bashrc")
        .run();
    assert!(
        ran.stderr.to_lowercase().contains("no space left"),
        "{}",
        ran.stderr
    );
    assert_eq!(u.read(".bashrc").unwrap(), rc);
    let names: Vec<_> = fs::read_dir(u.home())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with(".ssso")), "{names:?}");
}

/// A host whose PATH has only sh and the utilities the README names for setup (no `awk`,
/// `cmp`, `mktemp`, `tr`, `head`): the block is written and removed.
#[test]
fn a_host_with_only_the_utilities_the_readme_names() {
    let u = user("ssso-bash");
    let _rc = Restore::new(u.name(), ".bashrc");
    let bin = u.home().join(".ssso-test-bin");
    struct Gone(PathBuf);
    impl Drop for Gone {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
    let _bin = Gone(bin.clone());
    u.write(".ssso-test-bin/.keep", b"", 0o600);
    for tool in [
        "sh", "cksum", "wc", "cat", "ls", "id", "mkdir", "mv", "rm", "sync", "sleep", "chmod",
    ] {
        let real = ["/bin", "/usr/bin"]
            .iter()
            .map(|d| std::path::Path::new(d).join(tool))
            .find(|p| p.exists())
            .unwrap();
        std::os::unix::fs::symlink(real, bin.join(tool)).unwrap();
    }
    // bash reads ~/.bashrc for sshd's commands (Debian builds it so).
    let rc = format!("PATH={}\n", bin.display());
    u.write(".bashrc", rc.as_bytes(), 0o644);
    let local = Local::new(&sso_config(PROFILE, SESSION));
    local
        .test()
        .args([
            "setup",
            "--profile",
            PROFILE,
            "--persist-profile",
            "--write",
        ])
        .to(u.name())
        .stderr_contains("AWS_PROFILE=dev in ~/.bashrc (bash)")
        .run();
    assert_eq!(
        u.read(".bashrc").unwrap(),
        format!("{BEGIN}export AWS_PROFILE='dev'\n{END}{rc}").as_bytes()
    );
    let out = run(
        &mut server().ssh(u.name(), ["command -v awk || command -v cmp || echo none"]),
        CMD_TIMEOUT,
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "none\n");
    local
        .test()
        .args(["setup", "--undo", "--persist-profile", "--write"])
        .to(u.name())
        .run();
    assert_eq!(u.read(".bashrc").unwrap(), rc.as_bytes());
}
