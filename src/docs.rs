//! The man page and the shell completions, generated from the clap definitions in
//! [`crate::cli`] plus the hand-written sections below. `completions/` and `man/` hold the
//! checked-in output; `tests/generated.rs` fails when they drift from what this produces
//! (run it with `SSSO_UPDATE_GENERATED=1` to rewrite them).

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// Writes the completion script for `shell` to `out`: clap's static script, plus for bash, zsh
/// and fish the hook that completes `--profile` and DESTINATION through `ssso __complete`
/// (see [`crate::cmd::complete`]).
pub fn completions(shell: Shell, out: &mut dyn Write) -> std::io::Result<()> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "ssso", &mut buf);
    let text = String::from_utf8(buf).expect("clap_complete writes UTF-8");
    let text = match shell {
        Shell::Bash => format!("{text}{BASH_HOOK}"),
        Shell::Fish => format!("{text}{FISH_HOOK}"),
        Shell::Zsh => zsh_with_hook(&text),
        _ => text,
    };
    out.write_all(text.as_bytes())
}

const BASH_HOOK: &str = r#"
# ssso: --profile from the AWS config, DESTINATION from ~/.ssh/config and known_hosts.
_ssso_dynamic() {
    local out
    if out=$(command ssso __complete --shell bash -- "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null); then
        local IFS=$'\n'
        COMPREPLY=($out)
        compopt +o default +o bashdefault 2>/dev/null
        return 0
    fi
    _ssso "$@"
}
complete -F _ssso_dynamic -o bashdefault -o default ssso
"#;

const FISH_HOOK: &str = r#"
# ssso: --profile from the AWS config, DESTINATION from ~/.ssh/config and known_hosts.
complete -c ssso -l profile -x -a '(command ssso __complete --shell fish -- (commandline -opc)[2..] (commandline -ct) 2>/dev/null)'
complete -c ssso -a '(command ssso __complete --shell fish -- (commandline -opc)[2..] (commandline -ct) 2>/dev/null)'
"#;

const ZSH_HOOK: &str = r#"# ssso: --profile from the AWS config, DESTINATION from ~/.ssh/config and known_hosts.
_ssso() {
    local out rc
    out=$(command ssso __complete --shell zsh -- "${(@)words[2,CURRENT]}" 2>/dev/null)
    rc=$?
    if (( rc == 0 )); then
        local -a candidates
        candidates=("${(@f)out}")
        [[ -n $out ]] && compadd -a candidates
    elif (( rc == 2 )); then
        _default
    else
        _ssso_clap "$@"
    fi
}

if [ "$funcstack[1]" = "_ssso" ]; then
    _ssso "$@"
else
    compdef _ssso ssso
fi
"#;

/// clap's zsh script with its `_ssso` renamed `_ssso_clap` and the hook as `_ssso`, the name
/// compsys calls (`#compdef ssso`). clap's spec for DESTINATION is dropped: with it, zsh takes
/// a subcommand's name for DESTINATION and never completes the subcommand's options; the hook
/// completes DESTINATION instead.
fn zsh_with_hook(text: &str) -> String {
    let rest: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("'::rest -- "))
        .collect();
    assert_eq!(rest.len(), 1, "clap's zsh script changed shape");
    // Without it the subcommand is the first positional, not the second.
    assert_eq!(
        text.matches("$line[2]").count(),
        3,
        "clap's zsh script changed shape"
    );
    let text = text
        .replace(&format!("{}\n", rest[0]), "")
        .replace("$line[2]", "$line[1]");
    const DEF: &str = "\n_ssso() {\n";
    const TAIL: &str = "if [ \"$funcstack[1]\" = \"_ssso\" ]; then\n    _ssso \"$@\"\nelse\n    compdef _ssso ssso\nfi\n";
    assert_eq!(
        text.matches(DEF).count(),
        1,
        "clap's zsh script changed shape"
    );
    let body = text
        .strip_suffix(TAIL)
        .expect("clap's zsh script changed shape");
    format!("{}{ZSH_HOOK}", body.replace(DEF, "\n_ssso_clap() {\n"))
}

/// Hand-written sections, in roff. Kept in one place so the man page and README agree.
const SECTIONS: &[(&str, &str)] = &[
    (
        "DESCRIPTION",
        r#"ssso replaces \fBssh\fR for people who log in to AWS IAM Identity Center (SSO) on their own machine and work on a remote one. \fBssso user@host\fR:
.IP 1. 3
resolves the AWS profile (see PROFILE RESOLUTION) to its SSO session and finds its token in \fI~/.aws/sso/cache\fR;
.IP 2. 3
checks that the token has more than \fB\-\-min\-valid\fR left (15 minutes by default) and is not due for a refresh; a refreshable token with less than \fB\-\-refresh\-before\fR left (20 minutes by default) is refreshed first, without a browser; a stale one (less than \fB\-\-min\-valid\fR left) is first looked for on the host (its token is read, over your live ControlMaster for the host when your configuration shares connections, else over a short connection that never prompts, and adopted when it is newer: its AWS CLI may have refreshed it and spent the refresh token the local file holds), and only then refreshed; only then does \fBaws sso login \-\-profile\fR \fINAME\fR run, its output on stderr (Ctrl-C, or a SIGINT sent to ssso, cancels it; SIGTERM or SIGHUP sent to ssso end it too, and ssso exits 128 + the signal's number); a fresh token starts no process at all;
.IP 3. 3
starts \fBssh\fR with your options, as a ControlMaster on a private socket, so password, 2FA and host-key prompts appear once, on your terminal; when your own configuration shares connections for the host (\fBControlMaster auto\fR or \fBno\fR with a \fBControlPath\fR, in \fI~/.ssh/config\fR or as \fB\-o\fR), ssh runs exactly as you gave it instead: it joins your live master, or becomes it with your \fBControlPersist\fR, and the sync goes over that connection;
.IP 4. 3
over that one connection, copies that one session's token file (mode 0600, in a 0700 directory, written to a temporary file and renamed) and the profile's \fB[profile NAME]\fR and \fB[sso\-session S]\fR sections of \fI~/.aws/config\fR to the host, changing nothing else in the remote file; when the remote already holds a newer token for the same session (its own botocore refreshed it) that one is kept, and copied back here;
.IP 5. 3
runs your shell or command with \fBAWS_PROFILE\fR exported, whatever your login shell is (sh, bash, dash, zsh, ksh, tcsh, csh, fish). The session starts in parallel with the sync and waits on the host only until the token is in place.
.PP
No master connection of ssso's is left behind when ssso exits; your own master is never stopped and its \fBControlPersist\fR never changed. Only the one token file is ever sent; \fI~/.aws/credentials\fR is never read, and profiles with long-term keys are refused. The host needs a POSIX \fBsh\fR whose \fBprintf\fR understands \fB%b\fR, any login shell, and on its PATH: cksum, wc, cat, ls, id, mkdir, mv, rm, sleep and (optionally) sync; an unchanged sync runs only cksum, id and ls (without cksum nothing is written, and the warning says that cksum is missing). tr, mktemp, head, sed, awk and cmp are not used. The program that runs there only reads and writes files; ssso decides. It reports the digests (POSIX cksum) of the token file and \fI~/.aws/config\fR: when both are as expected, nothing more happens. Otherwise ssso keeps the host's token if it is a valid token for the same start URL that expires later (and copies it back), else replaces it, and replaces the profile's two sections in the host's config with the same parser that reads the local one, every other byte kept (a file the AWS CLI could not read, or over 16 MB, is left alone with a warning). Each write is a compare-and-swap on the digest of the file it replaces, under a lock, through a temporary file that is flushed, checked for size and digest, and renamed; symlinks, directories, FIFOs, files or directories of other users and directories that others can write (a directory writable by its group is accepted when that group is the user's own private group, named as the user with no other member) are refused with the path and the reason, and so is the target's directory or any directory above it up to the home (\fI~/.aws\fR, \fI~/.aws/sso\fR), checked from the top before anything is made or written beneath it. ssso remembers each host's config digest in \fI$XDG_STATE_HOME/ssso/sync/\fR (else \fI~/.local/state/ssso/sync/\fR) so that an unchanged config is not fetched."#,
    ),
    (
        "SSH OPTIONS",
        r#"Every \fBssh\fR option (\-p \-i \-l \-J \-o \-F \-L \-R \-D \-A \-t \-T \-N \-v \-q \-C \-4 \-6 ...) is accepted before or after DESTINATION, exactly as \fBssh\fR accepts it, and passed to \fBssh\fR unchanged; \fB\-\-\fR ends the options. ssso's own options are long options only. \fB\-G\fR, \fB\-V\fR, \fB\-Q\fR and \fB\-O\fR (and \fB\-Z\fR where ssh has it) run plain \fBssh\fR. \fB\-N\fR, \fB\-W\fR and \fB\-s\fR sync the token but leave the session as \fBssh\fR makes it. A \fBRemoteCommand\fR in your ssh config is run as the command.
.PP
The line is read with the grammar of the \fBssh\fR that will run it: \fB\-P\fR is a flag in OpenSSH 9.3 and before and takes a tag from 9.4 on; \fB\-Z\fR exists from OpenSSH 10.5. ssso asks \fBssh \-V\fR only when a line uses one of these letters, and caches the answer in its runtime directory until the ssh binary changes (see FILES).
.PP
Before anything else, \fBssh \-G\fR reads your whole line. A line that ssh refuses before connecting (\fB\-f\fR without a command, a \fBRemoteCommand\fR together with a command on the line, \fB\-s\fR without a subsystem, a bad \fB\-L\fR) is handed to \fBssh\fR, which says why and exits 255, before any login or sync. An empty command (\fBssso host \(aq\(aq\fR) is no command, as for ssh: your login shell starts and reads stdin. In the remote command, \fB$0\fR is the login shell's name as sshd gives it (where the host has bash, which ssso uses for it). For a login, ssh decides about the terminal as it would without ssso: "Pseudo-terminal will not be allocated" appears when, and as often as, plain ssh prints it, at your \fBLogLevel\fR. With \fB\-M\fR and a \fBControlPath\fR (config or \fB\-S\fR), the session's master is ssh's own at your path, with your \fBControlPersist\fR, and the sync goes over it (with \fB\-MM\fR ssh asks before that channel too); without a ControlPath, \fB\-M\fR changes nothing, as for ssh.
.PP
What differs from ssh on purpose: a line ssso's own grammar cannot read (an unknown option letter, a missing value, no DESTINATION, an unknown long option) is ssso's usage error (\fBssso: error:\fR, exit 2) where ssh prints its usage and exits 255; a subcommand's name used as DESTINATION after options (\fBssso \-\-profile dev status\fR) is a usage error when your ssh config has no such host and the name does not resolve; and an interactive login shows no message of the day and no "Last login": sshd prints them only for a session without a command, and ssso's session is a command (the wrapper that waits for the sync), while what sshd would print (PrintMotd, pam_motd, ~/.hushlogin, lastlog) is the server's to know."#,
    ),
    (
        "SUBCOMMANDS AND HOST NAMES",
        r#"A subcommand is recognised only as the very first argument. To reach a host whose name is a subcommand, write \fBssso \-\- status\fR or \fBssso user@status\fR. After options (\fBssso \-\-profile dev status\fR) such a name is a host only when your ssh config gives it one (a \fBHostName\fR, \fBProxyCommand\fR or \fBProxyJump\fR) or the name resolves; otherwise ssso stops with a usage error that suggests \fBssso status\fR or \fBssso \-\- status\fR, before any login."#,
    ),
    (
        "LOGIN",
        r#"\fBssso login\fR [\fB\-\-profile\fR \fINAME\fR] [\fB\-\-min\-valid\fR \fID\fR] [\fB\-\-force\fR] [\fB\-\-login\-arg\fR \fIARG\fR]... makes the local token fresh without connecting anywhere: \fBaws sso login\fR runs only when the token has less than \fB\-\-min\-valid\fR left, or always with \fB\-\-force\fR. Before the browser login starts, one line on stderr says what ssso is waiting for. \fB\-q\fR prints only errors, \fB\-v\fR explains each step."#,
    ),
    (
        "STATUS",
        r#"\fBssso status\fR reports the chosen profile and its local token; \fBssso status \-\-all\fR reports every SSO session of the local config with its profiles and its token ("expires in 3h12m", "expired 20m ago", refreshable or not). Neither uses the network. Exit status 0 when the token (with \fB\-\-all\fR: every token a profile uses) has more than \fB\-\-min\-valid\fR left, 1 otherwise.
.PP
\fB\-\-json\fR prints one object on one line; new fields may be added, existing ones keep their meaning. For one profile: \fBprofile\fR, \fBprofile_source\fR ("flag", "SSSO_PROFILE", "AWS_PROFILE"), \fBsso_session\fR (null for a legacy profile), \fBstart_url\fR, \fBregion\fR, \fBcache_file\fR, \fBmin_valid_seconds\fR, \fBrefresh_before_seconds\fR and \fBtoken\fR (with \fBrefresh_in_seconds\fR: seconds until ssso refreshes it without a browser, 0 when due, null when it cannot; and \fBerror\fR: why the file is unusable, or null). With \fB\-\-all\fR: \fBsessions\fR, an array of {\fBsso_session\fR, \fBstart_url\fR, \fBregion\fR, \fBprofiles\fR (array of names), \fBcache_file\fR, \fBtoken\fR}, \fBerrors\fR, an array of {\fBprofile\fR, \fBerror\fR} for SSO profiles that do not resolve, and \fBmin_valid_seconds\fR. A \fBtoken\fR object has \fBpresent\fR (bool), \fBexpires_at\fR (UTC, YYYY\-MM\-DDTHH:MM:SSZ, or null), \fBexpires_in_seconds\fR (negative once expired, or null), \fBfresh\fR (bool), \fBrefreshable\fR (bool: it can be refreshed without a browser; never for a legacy profile, which botocore does not refresh) and, with \fB\-\-all\fR, \fBerror\fR (why the file is unusable, or null). For one profile, \fBforward\fR is {\fBpossible\fR (bool: \fB\-\-forward\fR can serve it), \fBwhy_not\fR, \fBsessions\fR: [{\fBhost\fR, \fBpid\fR, \fBstarted\fR}]}, the \fBssso \-\-forward\fR sessions running here; the text report shows the same as \fB\-\-forward\fR and \fBmode\fR lines."#,
    ),
    (
        "DOCTOR",
        r#"\fBssso doctor\fR [\fB\-\-profile\fR \fINAME\fR] [\fB\-\-json\fR] [\fISSH OPTIONS\fR] \fIHOST\fR checks a host over one ssh connection, with the same options, config and profile resolution as \fBssso\fR \fIHOST\fR, and changes nothing. Each line is \fBok\fR, \fBwarn\fR or \fBfail\fR, with the fix: \fBssh\fR (reachable and authenticated; the key and \fBssh\-copy\-id\fR hint when not), \fBaws\fR (present, v1 or v2), \fBconfig\fR (the remote \fI~/.aws/config\fR has the profile and it matches the local one), \fBtoken\fR (present, for the same start URL, fresh; a token path or \fI~/.aws/config\fR that the sync refuses, by the sync's own checks: a symlink, a FIFO or a directory at the target, a directory above it that is another user's or writable by others, fails with the path, the reason and the fix that works, such as \fBchmod go\-w ~/.aws\fR), \fBtoken\-files\fR (0600 in a 0700 \fI~/.aws/sso/cache\fR, owned by the user), \fBcredentials\fR (long-term keys in the remote \fI~/.aws/credentials\fR: a warning) and \fBidentity\fR (a live \fBaws sts get\-caller\-identity \-\-profile\fR \fINAME\fR on the host). Exit status 1 when a check fails. \fB\-\-json\fR prints {\fBhost\fR, \fBprofile\fR, \fBok\fR, \fBchecks\fR: [{\fBcheck\fR, \fBstatus\fR, \fBdetail\fR, \fBfix\fR}]}. A \fBmode\fR check says how the host gets credentials for the profile: file sync (the token is there) or forward (its \fBcredential_process\fR is \fB\-\-forward\fR's helper); in forward mode a token file on the host is a warning, the helper's \fBforward\-client\fR (curl or python3) is checked, and a failed live check with no \fBssso \-\-forward\fR session connected is a warning that says to connect."#,
    ),
    (
        "SETUP",
        r#"\fBssso setup\fR [\fB\-\-profile\fR \fINAME\fR] [\fB\-\-persist\-profile\fR] [\fB\-\-write\fR] [\fB\-\-undo\fR] [\fISSH OPTIONS\fR] \fIHOST\fR prints the \fI~/.ssh/config\fR block that makes plain \fBssh\fR \fIHOST\fR (and scp, rsync, editors) go through \fBssso proxy\fR, with \fBSetEnv AWS_PROFILE=\fR\fINAME\fR; with \fB\-\-write\fR it adds the block before the first \fBHost\fR or \fBMatch\fR line, or replaces it, atomically. \fB\-\-persist\-profile\fR also sets AWS_PROFILE in the host's login-shell startup file (\fI~/.bashrc\fR, \fI~/.zshenv\fR, \fI~/.profile\fR, \fI~/.tcshrc\fR or \fI~/.cshrc\fR, \fI~/.config/fish/config.fish\fR), as a block at the top of the file, written as carefully as the sync writes \fI~/.aws/config\fR (the file's mode kept; a symlink, another user's file or a directory writable by others refused with the path; a full disk leaves the file as it was and says so). Both are marked blocks: running it again changes nothing, \fB\-\-undo\fR removes them, and nothing outside them is touched. Without \fB\-\-write\fR nothing is changed. With \fB\-\-forward\fR the block has no ProxyCommand but \fBSetEnv AWS_PROFILE=\fR\fINAME\fR \fBSSSO_MODE=forward\fR, so that \fBssso\fR \fIHOST\fR uses least-privilege mode; plain ssh, scp and rsync then get no AWS credentials on that host, which ssso says when it writes the block (see LEAST-PRIVILEGE MODE)."#,
    ),
    (
        "SHELL COMPLETION",
        r#"\fBssso completions\fR \fISHELL\fR prints the script for bash, zsh, fish, powershell or elvish. The bash, zsh and fish scripts also complete \fB\-\-profile\fR from the SSO profiles of the local AWS config and \fIDESTINATION\fR from the \fBHost\fR names of \fI~/.ssh/config\fR and \fI~/.ssh/known_hosts\fR (hashed entries cannot be read), by asking \fBssso\fR itself; that reads local files only."#,
    ),
    (
        "PROXYCOMMAND MODE",
        r#"For tools that run \fBssh\fR themselves (scp, rsync, sftp, git, editors), put ssso in the host's ssh configuration:
.PP
.nf
Host jupyter
    HostName jupyter.example.org
    User alice
    SetEnv AWS_PROFILE=dev
    ProxyCommand ssso proxy \-\-alias jupyter \-\-profile dev \-\-user %r %h %p
.fi
.PP
\fBssso proxy\fR resolves the profile as the connect path does (with the \fBSetEnv\fR of \fB\-\-alias\fR, or of the destination on the parent ssh's command line, or of HOST), logs in if needed with all output on stderr, syncs the token and config sections over a connection of its own (your ssh configuration for the host, ProxyJump included; a ControlMaster in ssso's private directory, one per host, user and port, kept 60 seconds after its last use), then connects to HOST:PORT and relays, or hands ssh the socket when the host has \fBProxyUseFdpass yes\fR. stdout carries the SSH stream and nothing else. The sync connection's ssh runs the same ProxyCommand: \fBSSSO_PROXY_INNER\fR in its environment makes that inner call only connect. A sync of the same token to the same host less than 60 seconds ago is not repeated (a stamp file next to the socket). A failed sync is a warning, and the connection goes ahead; with \fB\-\-strict\fR ssso exits 254 before connecting. Pass \fB\-F\fR \fICONFIG\fR when ssh runs with \fB\-F\fR. \fBssso setup \-\-write\fR \fIHOST\fR writes this block with the alias and the profile spelled out, as clients that are not OpenSSH need them: paramiko and fabric expand only \fB~ %h %p %r\fR and have no parent ssh to read (an unexpanded \fB%n\fR is ignored).
.PP
The session itself is ssh's, so ssso cannot export \fBAWS_PROFILE\fR in it. Either let the server accept it (\fBSetEnv AWS_PROFILE=\fR\fINAME\fR in the Host block works where the server's \fBAcceptEnv\fR allows \fBAWS_PROFILE\fR), or persist it on the host with \fBssso setup \-\-persist\-profile\fR.
.PP
ssso also works as the ssh program of these tools: \fBrsync \-e ssso\fR, \fBscp \-S ssso\fR, \fBsftp \-S ssso\fR, \fBGIT_SSH_COMMAND=ssso\fR, with the same output and exit status as ssh."#,
    ),
    (
        "LONG SESSIONS",
        r#"While \fBssso\fR \fIHOST\fR holds a session open, it keeps the host's token fresh over the same connection, with no process left on the host (each push is one short \fBsh\fR that exits), and stops when the session ends:
.IP \(bu 2
every 2 seconds it looks at the local token file; a new token (you ran \fBaws sso login\fR, or your local AWS CLI refreshed it) is pushed within seconds;
.IP \(bu 2
when the token comes within \fB\-\-refresh\-before\fR of expiry (20 minutes by default; less than 16 minutes is refused) and can be refreshed (an sso-session profile whose token has a refresh token and an unexpired client registration), ssso first reads the host's token back (a newer one, refreshed by the host's AWS CLI, is adopted instead), then refreshes it itself, as botocore does (SSO-OIDC \fBCreateToken\fR with the refresh_token grant at \fBAWS_ENDPOINT_URL_SSO_OIDC\fR or \fBhttps://oidc.\fR\fIREGION\fR\fB.amazonaws.com\fR; at most one attempt a minute; a token written less than a minute ago is not refreshed again; the old token is kept when it fails, and the failure is logged with \fB\-v\fR) and pushes it within 2 seconds, before the host's botocore (which refreshes with 15 minutes left) would. Every push also reads the host's token back; a newer one is adopted at once;
.IP \(bu 2
one refresher per chain on this machine: the read-refresh-write runs under an \fBflock\fR on \fI~/.aws/sso/cache/<sha1>.ssso\-lock\fR, and the result is written with compare-and-swap on "the file is still what was read", never on the order of expiries, so a rotated refresh token is never dropped;
.IP \(bu 2
when it cannot refresh, one warning line appears on your terminal 5 minutes before the token expires (the time left rounded up), saying to run \fBaws sso login\fR; nothing with \fB\-q\fR.
.PP
\fBssso login\fR and the login step of every command refresh the same way before they fall back to \fBaws sso login\fR."#,
    ),
    (
        "LEAST-PRIVILEGE MODE",
        r#"\fBssso \-\-forward\fR [\fIOPTIONS\fR] \fIDESTINATION\fR [\fICOMMAND\fR] keeps the SSO token on this machine. The host gets the credentials of the profile's one role (\fBsso_account_id\fR and \fBsso_role_name\fR; a profile without them is refused), on demand, only while the session is connected:
.IP \(bu 2
here, ssso serves the container-credentials protocol (the JSON every AWS SDK reads from \fBAWS_CONTAINER_CREDENTIALS_FULL_URI\fR) on a unix socket in its private directory; it calls SSO \fBGetRoleCredentials\fR (at \fBAWS_ENDPOINT_URL_SSO\fR or \fBhttps://portal.sso.\fR\fIREGION\fR\fB.amazonaws.com\fR) with the local token, refreshed first when it is close to its end, and keeps the answer until 15 minutes (or a quarter of its life) before it expires: one call at a time, however many requests wait;
.IP \(bu 2
the session's own connection forwards a socket in a fresh 0700 directory under the host's \fI/tmp\fR to it (\fBssh \-O forward \-R\fR on the live master); every request must carry a random per-session secret, which reaches the host on a channel's stdin and lives in a 0600 file next to the socket;
.IP \(bu 2
on the host, \fB[profile\fR \fINAME\fR\fB]\fR in \fI~/.aws/config\fR keeps its other settings and gets \fBcredential_process = \fR\fIHOME\fR\fB/.aws/ssso/credential\-process\fR \fINAME\fR instead of the \fBsso_*\fR keys, so every process of yours there (the session, another ssh login, cron, notebook kernels) gets credentials through the profile while a session lasts; the session itself has \fBAWS_PROFILE\fR set. The helper needs \fBcurl\fR 7.40 or later or \fBpython3\fR on the host (\fBSSSO_FORWARD_CLIENT=curl\fR or \fBpython3\fR chooses); without either ssso says so. A token file that file-sync mode left for the profile is removed;
.IP \(bu 2
when the session ends (normally, by a dropped connection, or with ssh killed), a watcher on the host removes the socket's directory and the secret within a second, and \fBaws\fR there then says to reconnect with ssso. A plain \fBssso\fR \fIHOST\fR later puts the profile back in file-sync form.
.PP
\fB\-f\fR is refused (ssso must stay to serve); \fB\-N\fR gives a forward without a shell. \fBSetEnv SSSO_MODE=forward\fR for a host in your ssh configuration (\fBssso setup \-\-forward\fR writes it) makes \fBssso\fR \fIHOST\fR use this mode without the option. ProxyCommand mode cannot carry the forward (the connection is ssh's own, and a ProxyCommand only relays bytes): \fBssso proxy\fR copies no token to such a host, and plain ssh, scp and rsync get no AWS credentials there. See SECURITY for what each mode lets a host do."#,
    ),
    (
        "FLEET SYNC",
        r#"\fBssso sync\fR [\fB\-\-profile\fR \fINAME\fR] [\fB\-\-jobs\fR \fIN\fR] [\fB\-\-hosts\-file\fR \fIFILE\fR|\fB\-\fR] [\fB\-\-timeout\fR \fID\fR] [\fISSH OPTIONS\fR] \fIHOST\fR... syncs the token and config sections to every host. The profile is \fB\-\-profile\fR, \fBSSSO_PROFILE\fR, the first host's \fBSetEnv AWS_PROFILE\fR, then \fBAWS_PROFILE\fR; the token is made fresh once (one login at most) before any host is contacted. Then up to \fB\-\-jobs\fR hosts (8 by default) are worked on at once, each within \fB\-\-timeout\fR (30s by default, connection and sync), so a slow or dead host holds no other up: one ssh connection per host whose remote command is the sync. With \fB\-\-jobs\fR above 1, ssh runs with \fBBatchMode=yes\fR: password, 2FA and host-key prompts from many hosts at once cannot be answered, so use keys, or \fB\-\-jobs 1\fR. ssh options come before the hosts and apply to every host (\fB\-F\fR included); \fB\-\-hosts\-file\fR adds one host a line (\fB#\fR comments, \fB\-\fR for stdin). A progress line goes to stderr when it is a terminal; the table (HOST, RESULT: synced, already current or failed, DETAIL) goes to stdout. Exit status 1 when any host failed, 254 when ssso failed before contacting any.
.PP
By default \fBssso sync\fR sends the access token only (as \fB\-\-access\-token\-only\fR does): hosts that all hold one refresh token would spend it for each other, since the first to refresh makes it useless for the rest (and for this machine). \fB\-\-with\-refresh\-token\fR sends the whole file.
.PP
\fB\-\-keep\fR stays in the foreground holding one connection per host (an ssh master each, \fBBatchMode=yes\fR) and is the one refresher of the fleet: the token is refreshed once, ahead of the hosts' botocore (\fB\-\-refresh\-before\fR), and pushed to every host; a host's newer token is adopted. A host that goes away is reported on stderr and reconnected with backoff (1 second, doubling up to 60; only a successful sync resets it). Ctrl-C, SIGTERM or SIGHUP close every connection; the exit status is then 0."#,
    ),
    (
        "PROFILE RESOLUTION",
        r#"The first of: \fB\-\-profile\fR; \fBSSSO_PROFILE\fR; the host's \fBSetEnv AWS_PROFILE=\fR\fINAME\fR in your ssh configuration (as \fBssh \-G\fR resolves it); \fBAWS_PROFILE\fR. With none, ssso stops and lists the SSO profiles it found. The profile must be an IAM Identity Center profile: either \fBsso_session\fR pointing at an \fB[sso\-session]\fR section, or a legacy profile with \fBsso_start_url\fR and \fBsso_region\fR."#,
    ),
    (
        "FILES",
        r#".TP
\fI~/.aws/config\fR (or \fBAWS_CONFIG_FILE\fR)
read locally; on the host, only the profile's and its session's sections are written.
.TP
\fI~/.aws/sso/cache/<sha1>.json\fR
the token: SHA-1 of the sso_session name, or of the start URL for a legacy profile. Read locally, written on the host.
.TP
\fI$XDG_RUNTIME_DIR/ssso/\fR or \fI/tmp/ssso\-UID/\fR
private (0700) directory for the control socket, removed when ssso exits; in ProxyCommand mode also the sync masters' sockets (\fIp<KEY>\fR, gone 60 seconds after their last use) and their stamp files (\fIp<KEY>.s\fR); with \fB\-\-forward\fR the credential server's socket (\fIf\fR) and a record of the running session for \fBssso status\fR (\fIfwd\-PID.json\fR); \fIssh\-version\fR caches \fBssh \-V\fR for the ssh binary on PATH (its path, inode, size, mtime and ctime: an upgraded ssh is asked again).
.TP
\fI~/.aws/ssso/\fR on the host (\fB\-\-forward\fR)
\fIcredential\-process\fR, the helper that \fIcredential_process\fR runs, and \fIforward/PROFILE/SESSION\fR, pointers (0600, nothing secret) to the live sessions' directories \fI/tmp/ssso\-fwd.*\fR (0700: the socket \fIs\fR, the secret, the watcher's pid)."#,
    ),
    (
        "ENVIRONMENT",
        r#".TP
\fBSSSO_PROFILE\fR, \fBAWS_PROFILE\fR
choose the profile (see PROFILE RESOLUTION).
.TP
\fBSSSO_PROXY_INNER\fR
set by ssso for the ssh it runs: a \fBssso proxy\fR that sees it only connects (see PROXYCOMMAND MODE).
.TP
\fBAWS_CONFIG_FILE\fR
the local AWS config file.
.TP
\fBAWS_ENDPOINT_URL_SSO\fR, \fBAWS_ENDPOINT_URL_SSO_OIDC\fR
the IAM Identity Center portal (\fB\-\-forward\fR's GetRoleCredentials) and SSO-OIDC (refresh) endpoints, as botocore reads them.
.TP
\fBSSSO_FORWARD_CLIENT\fR (on the host)
\fBcurl\fR or \fBpython3\fR: which one \fB\-\-forward\fR's helper uses.
.TP
\fBHOME\fR
locates \fI~/.aws\fR.
.TP
\fBNO_COLOR\fR
no colour in ssso's messages."#,
    ),
    (
        "EXIT STATUS",
        r#"The remote command's exit status; 255 when \fBssh\fR fails (unknown host, refused, authentication failed: ssh's own message is shown); 254 when ssso itself fails before connecting (no AWS config, unknown or non-SSO profile, unreadable token, failed or cancelled login, \-\-no\-login with a stale token); 143 or 129 when SIGTERM or SIGHUP end ssso during \fBaws sso login\fR (which they end too); 2 for a usage error (\fBssso: error:\fR and what to write instead: what ssso's own grammar or clap cannot read, and a subcommand's name as an unknown host); where \fBssh\fR refuses a well-formed line before connecting, ssh's message and 255. A failed sync does not stop the session: it is reported as a warning. \fBssso status\fR exits 0 when the token is fresh and 1 when it is not; \fBssso doctor\fR exits 1 when a check fails; \fBssso login\fR exits 0 when the token is fresh afterwards; \fBssso sync\fR exits 1 when any host failed."#,
    ),
    (
        "SECURITY",
        r#"The token never appears on a command line, local or remote, nor in a message: it travels on the stdin of one channel of the encrypted connection. Files written on the host are created with umask 077. Symlinks at \fI~/.aws/sso/cache\fR or at the token file are refused, not followed. ssso never reads \fI~/.aws/credentials\fR and never copies long-term credentials. With \fB\-v\fR, ssso shows what it sends with every secret replaced by its length.
.PP
By default \fBssso\fR \fIHOST\fR sends the token file byte for byte, refresh token and client secret included (\fBssso sync\fR sends the access token only unless \fB\-\-with\-refresh\-token\fR): the host's AWS CLI can then refresh the access token by itself, when no ssso holds a connection to it, for as long as the SSO session lasts (8 hours by default, up to 90 days), and a refresh done there comes back to your machine at the next sync (the newest \fIexpiresAt\fR wins, in both directions). Anyone who can read your files on the host (root, a backup) can do the same until the session ends. \fB\-\-access\-token\-only\fR sends the file without \fIrefreshToken\fR and \fIclientSecret\fR (every other field kept): the host holds a bearer token that dies at its \fIexpiresAt\fR (about an hour for an sso-session profile), cannot be refreshed there, and a long job on the host fails when it expires unless you connect again. Such a copy replaces a full one already on the host at the next sync, unless the host's is newer; and a token that cannot refresh is never written over a local one that can, whatever its expiry.
.PP
On the host, the token and \fI~/.aws/config\fR are written to a temporary file in the same directory, fsynced and renamed into place, under a lock (a \fI.ssso\-lock\fR directory in the cache, taken over when its owner is gone), so concurrent syncs and a crash at any point leave the old file or the new one. The cache directory and each directory above it up to the home (\fI~/.aws\fR, \fI~/.aws/sso\fR) are checked from the top before anything is made, read or written beneath them: one that is a symlink, not yours, or writable by group or others (sticky or not) is refused, and nothing is created inside it. A \fI~/.aws/config\fR that the AWS CLI (botocore) would reject (text before the first section, a section or a key given twice in a section, a line that is neither a section nor key = value) is left as it is, with a warning naming the line.
.PP
\fBThe two modes compared\fR: what a host can do with what ssso gives it, and for how long.
.TP
file sync (the default)
The host holds your SSO token. Whoever can read your files there (you, root, a backup, an intruder in your account) can get credentials for \fIevery\fR account and role assigned to you, and with the refresh token go on doing so until the SSO session ends (8 hours by default, up to 90 days), long after you disconnect. \fB\-\-access\-token\-only\fR cuts that to the access token's life (about an hour), still for every role. Nothing needs ssso to stay connected: plain ssh, scp, rsync, cron and jobs that outlive the session all work.
.TP
\fB\-\-forward\fR
No token, refresh token or client secret is ever written on the host. The host can get the credentials of the profile's \fIone\fR role, and only while a session is connected: whoever runs as you there (or as root) can ask for them during that time and keep what they got until it expires (the permission set's session duration: 1 hour by default, up to 12 hours). Role credentials exist there only in the memory of the processes that asked; the per-session secret and the socket live in a 0700 directory under \fI/tmp\fR and go when the connection does. Other users of the host cannot reach the socket, read the secret, or take the socket's place first. The price: a job on the host gets no new credentials once you disconnect, plain ssh/scp/rsync and ProxyCommand mode get none, and the first call of each credential lifetime crosses the connection to this machine."#,
    ),
    (
        "EXAMPLES",
        r#".TP
\fBssso alice@jupyter.example.org\fR
interactive login shell with AWS_PROFILE set (profile from SSSO_PROFILE, SetEnv or AWS_PROFILE).
.TP
\fBssso \-\-profile dev \-p 2222 alice@host 'aws s3 ls'\fR
a remote command with AWS_PROFILE=dev.
.TP
\fBssso \-\-login\-arg=\-\-use\-device\-code host\fR
log in with the device-code flow when a login is needed.
.TP
\fBssso status \-\-json\fR
the local token's state, without network.
.TP
\fBssso \-\-forward \-\-profile dev alice@gpubox 'python train.py'\fR
least privilege: the job gets the role's credentials while connected; no token on the host.
.TP
\fBssso sync \-\-profile dev \-\-jobs 32 \-\-timeout 10s \-\-hosts\-file hosts.txt\fR
the token and config to every host in hosts.txt, 32 at a time; a table of results.
.TP
\fBssso \-\-profile dev alice@host\fR, then \fBaws sso login \-\-profile dev\fR on your machine
the new token reaches the open session within seconds (see LONG SESSIONS).
.TP
\fBProxyCommand ssso proxy \-\-alias jupyter \-\-profile dev \-\-user %r %h %p\fR
in \fI~/.ssh/config\fR: scp, rsync, sftp and git to that host get a fresh, synced token first.
.TP
\fBrsync \-e ssso \-a dir/ host:dir/\fR
ssso as rsync's ssh (also \fBscp \-S ssso\fR, \fBGIT_SSH_COMMAND=ssso\fR)."#,
    ),
];

/// Writes the man page (roff) to `out`.
pub fn man(out: &mut dyn Write) -> std::io::Result<()> {
    let cmd = Cli::command();
    let man = clap_mangen::Man::new(cmd).manual("ssso manual");
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    let (first, rest) = SECTIONS.split_first().expect("sections");
    write_section(out, first)?;
    man.render_options_section(out)?;
    man.render_subcommands_section(out)?;
    for s in rest {
        write_section(out, s)?;
    }
    man.render_version_section(out)?;
    Ok(())
}

fn write_section(out: &mut dyn Write, (title, body): &(&str, &str)) -> std::io::Result<()> {
    writeln!(out, ".SH \"{title}\"")?;
    writeln!(out, "{body}")
}
