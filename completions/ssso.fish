# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_ssso_global_optspecs
    string join \n profile= min-valid= refresh-before= no-login login-arg= no-config access-token-only forward version h/help
end

function __fish_ssso_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_ssso_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_ssso_using_subcommand
    set -l cmd (__fish_ssso_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c ssso -n "__fish_ssso_needs_command" -l profile -d 'AWS profile to use [default: SSSO_PROFILE, the host\'s SetEnv AWS_PROFILE, AWS_PROFILE]' -r
complete -c ssso -n "__fish_ssso_needs_command" -l min-valid -d 'Log in again when the token has less than this left (e.g. 15m, 1h, 90s)' -r
complete -c ssso -n "__fish_ssso_needs_command" -l refresh-before -d 'Refresh a refreshable token that has less than this left, and push it, before the AWS CLI on a host would (it refreshes with 15m left); at least 16m' -r
complete -c ssso -n "__fish_ssso_needs_command" -l login-arg -d 'Extra argument for `aws sso login` (repeatable), e.g. --login-arg=--use-device-code' -r
complete -c ssso -n "__fish_ssso_needs_command" -l no-login -d 'Fail instead of running `aws sso login` when the token is not fresh'
complete -c ssso -n "__fish_ssso_needs_command" -l no-config -d 'Do not touch the remote ~/.aws/config (sync the token only)'
complete -c ssso -n "__fish_ssso_needs_command" -l access-token-only -d 'Send the token without refreshToken and clientSecret: the remote cannot refresh it, and it stops working at its expiresAt (see SECURITY in the man page)'
complete -c ssso -n "__fish_ssso_needs_command" -l forward -d 'Least privilege: keep the SSO token on this machine and give the host only the profile\'s role credentials, on demand, while the session lasts (see SECURITY)'
complete -c ssso -n "__fish_ssso_needs_command" -l version -d 'Print version'
complete -c ssso -n "__fish_ssso_needs_command" -s h -l help -d 'Print help'
complete -c ssso -n "__fish_ssso_needs_command" -a "status" -d 'Show the resolved profile and the local token\'s state (no network)'
complete -c ssso -n "__fish_ssso_needs_command" -a "completions" -d 'Print a shell completion script (bash, zsh, fish, powershell, elvish)'
complete -c ssso -n "__fish_ssso_needs_command" -a "man" -d 'Print the man page (roff)'
complete -c ssso -n "__fish_ssso_needs_command" -a "login" -d 'Make the local SSO token fresh, running `aws sso login` only when needed (no ssh)'
complete -c ssso -n "__fish_ssso_needs_command" -a "doctor" -d 'Check a host for ssso: ssh, remote aws, config, token, credentials, a live AWS call'
complete -c ssso -n "__fish_ssso_needs_command" -a "setup" -d 'Print, or --write, the ~/.ssh/config block for `ssso proxy`; --persist-profile on the host'
complete -c ssso -n "__fish_ssso_needs_command" -a "__complete" -d 'Completion candidates for the shell scripts (internal)'
complete -c ssso -n "__fish_ssso_needs_command" -a "proxy" -d 'ProxyCommand mode: sync the token, then connect ssh to HOST PORT (see PROXYCOMMAND MODE)'
complete -c ssso -n "__fish_ssso_needs_command" -a "sync" -d 'Sync the token and config to many hosts at once; a table of results (see FLEET SYNC)'
complete -c ssso -n "__fish_ssso_needs_command" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ssso -n "__fish_ssso_using_subcommand status" -l profile -d 'AWS profile to use [default: SSSO_PROFILE, the host\'s SetEnv AWS_PROFILE, AWS_PROFILE]' -r
complete -c ssso -n "__fish_ssso_using_subcommand status" -l min-valid -d 'Log in again when the token has less than this left (e.g. 15m, 1h, 90s)' -r
complete -c ssso -n "__fish_ssso_using_subcommand status" -l refresh-before -d 'Refresh a refreshable token that has less than this left, and push it, before the AWS CLI on a host would (it refreshes with 15m left); at least 16m' -r
complete -c ssso -n "__fish_ssso_using_subcommand status" -l json -d 'Machine-readable output (stable; see the man page)'
complete -c ssso -n "__fish_ssso_using_subcommand status" -l all -d 'Every SSO session of the local config, with its profiles and its token'
complete -c ssso -n "__fish_ssso_using_subcommand status" -s h -l help -d 'Print help'
complete -c ssso -n "__fish_ssso_using_subcommand completions" -s h -l help -d 'Print help'
complete -c ssso -n "__fish_ssso_using_subcommand man" -s h -l help -d 'Print help'
complete -c ssso -n "__fish_ssso_using_subcommand login" -l profile -d 'AWS profile to use [default: SSSO_PROFILE, the host\'s SetEnv AWS_PROFILE, AWS_PROFILE]' -r
complete -c ssso -n "__fish_ssso_using_subcommand login" -l min-valid -d 'Log in again when the token has less than this left (e.g. 15m, 1h, 90s)' -r
complete -c ssso -n "__fish_ssso_using_subcommand login" -l refresh-before -d 'Refresh a refreshable token that has less than this left, and push it, before the AWS CLI on a host would (it refreshes with 15m left); at least 16m' -r
complete -c ssso -n "__fish_ssso_using_subcommand login" -l login-arg -d 'Extra argument for `aws sso login` (repeatable), e.g. --login-arg=--use-device-code' -r
complete -c ssso -n "__fish_ssso_using_subcommand login" -l force -d 'Run `aws sso login` even when the token is fresh'
complete -c ssso -n "__fish_ssso_using_subcommand login" -s q -l quiet -d 'Print nothing but errors'
complete -c ssso -n "__fish_ssso_using_subcommand login" -s v -l verbose -d 'Explain each step'
complete -c ssso -n "__fish_ssso_using_subcommand login" -s h -l help -d 'Print help'
complete -c ssso -n "__fish_ssso_using_subcommand doctor" -l profile -d 'AWS profile to use [default: SSSO_PROFILE, the host\'s SetEnv AWS_PROFILE, AWS_PROFILE]' -r
complete -c ssso -n "__fish_ssso_using_subcommand doctor" -l min-valid -d 'Warn when the host\'s token has less than this left (e.g. 15m, 1h, 90s)' -r
complete -c ssso -n "__fish_ssso_using_subcommand doctor" -l json -d 'Machine-readable output (stable; see the man page)'
complete -c ssso -n "__fish_ssso_using_subcommand doctor" -s h -l help -d 'Print help'
complete -c ssso -n "__fish_ssso_using_subcommand setup" -l profile -d 'AWS profile for `SetEnv AWS_PROFILE` [default: SSSO_PROFILE, the host\'s SetEnv AWS_PROFILE, AWS_PROFILE]' -r
complete -c ssso -n "__fish_ssso_using_subcommand setup" -l persist-profile -d 'Also set AWS_PROFILE in the host\'s login-shell startup file (a marked block)'
complete -c ssso -n "__fish_ssso_using_subcommand setup" -l write -d 'Change the files; without it, only show what would change'
complete -c ssso -n "__fish_ssso_using_subcommand setup" -l undo -d 'Remove ssso\'s blocks instead of adding them'
complete -c ssso -n "__fish_ssso_using_subcommand setup" -l forward -d 'The block for least-privilege mode: `ssso HOST` forwards role credentials and keeps the token here; no ProxyCommand (it cannot carry the forward)'
complete -c ssso -n "__fish_ssso_using_subcommand setup" -s h -l help -d 'Print help'
complete -c ssso -n "__fish_ssso_using_subcommand __complete" -l shell -d 'bash, zsh or fish' -r
complete -c ssso -n "__fish_ssso_using_subcommand __complete" -s h -l help -d 'Print help'
complete -c ssso -n "__fish_ssso_using_subcommand proxy" -l profile -d 'AWS profile to use [default: SSSO_PROFILE, the host\'s SetEnv AWS_PROFILE, AWS_PROFILE]' -r
complete -c ssso -n "__fish_ssso_using_subcommand proxy" -l min-valid -d 'Log in again when the token has less than this left (e.g. 15m, 1h, 90s)' -r
complete -c ssso -n "__fish_ssso_using_subcommand proxy" -l refresh-before -d 'Refresh a refreshable token that has less than this left, and push it, before the AWS CLI on a host would (it refreshes with 15m left); at least 16m' -r
complete -c ssso -n "__fish_ssso_using_subcommand proxy" -l login-arg -d 'Extra argument for `aws sso login` (repeatable), e.g. --login-arg=--use-device-code' -r
complete -c ssso -n "__fish_ssso_using_subcommand proxy" -l user -d 'The remote user, for the sync connection and the ssh config lookup: pass %r' -r
complete -c ssso -n "__fish_ssso_using_subcommand proxy" -l alias -d 'The host as named on the ssh command line, for the ssh config lookup (SetEnv AWS_PROFILE, ProxyUseFdpass) and the sync connection: the alias itself, or %n with OpenSSH [default: read from the parent ssh\'s command line where possible, else HOST]' -r
complete -c ssso -n "__fish_ssso_using_subcommand proxy" -s F -d 'The ssh config file, when ssh is run with -F (ssh does not tell its ProxyCommand)' -r -F
complete -c ssso -n "__fish_ssso_using_subcommand proxy" -l no-login -d 'Fail instead of running `aws sso login` when the token is not fresh'
complete -c ssso -n "__fish_ssso_using_subcommand proxy" -l no-config -d 'Do not touch the remote ~/.aws/config (sync the token only)'
complete -c ssso -n "__fish_ssso_using_subcommand proxy" -l access-token-only -d 'Send the token without refreshToken and clientSecret: the remote cannot refresh it, and it stops working at its expiresAt (see SECURITY in the man page)'
complete -c ssso -n "__fish_ssso_using_subcommand proxy" -l strict -d 'Fail (exit 254, no connection) when the sync fails, instead of warning and connecting'
complete -c ssso -n "__fish_ssso_using_subcommand proxy" -l quiet -d 'Only errors on stderr'
complete -c ssso -n "__fish_ssso_using_subcommand proxy" -l verbose -d 'Say what ssso does, on stderr'
complete -c ssso -n "__fish_ssso_using_subcommand proxy" -s h -l help -d 'Print help'
complete -c ssso -n "__fish_ssso_using_subcommand sync" -l profile -d 'AWS profile to use [default: SSSO_PROFILE, the host\'s SetEnv AWS_PROFILE, AWS_PROFILE]' -r
complete -c ssso -n "__fish_ssso_using_subcommand sync" -l min-valid -d 'Log in again when the token has less than this left (e.g. 15m, 1h, 90s)' -r
complete -c ssso -n "__fish_ssso_using_subcommand sync" -l refresh-before -d 'Refresh a refreshable token that has less than this left, and push it, before the AWS CLI on a host would (it refreshes with 15m left); at least 16m' -r
complete -c ssso -n "__fish_ssso_using_subcommand sync" -l login-arg -d 'Extra argument for `aws sso login` (repeatable), e.g. --login-arg=--use-device-code' -r
complete -c ssso -n "__fish_ssso_using_subcommand sync" -l jobs -d 'How many hosts to work on at once (prompts need --jobs 1)' -r
complete -c ssso -n "__fish_ssso_using_subcommand sync" -l hosts-file -d 'Read more hosts from FILE, one a line (# comments); - for stdin' -r -F
complete -c ssso -n "__fish_ssso_using_subcommand sync" -l timeout -d 'Give up on a host after this long (connection and sync), e.g. 10s, 1m' -r
complete -c ssso -n "__fish_ssso_using_subcommand sync" -l no-login -d 'Fail instead of running `aws sso login` when the token is not fresh'
complete -c ssso -n "__fish_ssso_using_subcommand sync" -l no-config -d 'Do not touch the remote ~/.aws/config (sync the token only)'
complete -c ssso -n "__fish_ssso_using_subcommand sync" -l access-token-only -d 'Send the token without refreshToken and clientSecret: the remote cannot refresh it, and it stops working at its expiresAt (see SECURITY in the man page)'
complete -c ssso -n "__fish_ssso_using_subcommand sync" -l keep -d 'Stay in the foreground, one connection per host, as the one refresher of the fleet: every refresh is pushed to every host; hosts that go away are reconnected; Ctrl-C ends'
complete -c ssso -n "__fish_ssso_using_subcommand sync" -l with-refresh-token -d 'Send the refresh token too (by default `ssso sync` sends the access token only: hosts that share one refresh token spend it for each other; see FLEET SYNC)'
complete -c ssso -n "__fish_ssso_using_subcommand sync" -s h -l help -d 'Print help'
complete -c ssso -n "__fish_ssso_using_subcommand help; and not __fish_seen_subcommand_from status completions man login doctor setup __complete proxy sync help" -f -a "status" -d 'Show the resolved profile and the local token\'s state (no network)'
complete -c ssso -n "__fish_ssso_using_subcommand help; and not __fish_seen_subcommand_from status completions man login doctor setup __complete proxy sync help" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish, powershell, elvish)'
complete -c ssso -n "__fish_ssso_using_subcommand help; and not __fish_seen_subcommand_from status completions man login doctor setup __complete proxy sync help" -f -a "man" -d 'Print the man page (roff)'
complete -c ssso -n "__fish_ssso_using_subcommand help; and not __fish_seen_subcommand_from status completions man login doctor setup __complete proxy sync help" -f -a "login" -d 'Make the local SSO token fresh, running `aws sso login` only when needed (no ssh)'
complete -c ssso -n "__fish_ssso_using_subcommand help; and not __fish_seen_subcommand_from status completions man login doctor setup __complete proxy sync help" -f -a "doctor" -d 'Check a host for ssso: ssh, remote aws, config, token, credentials, a live AWS call'
complete -c ssso -n "__fish_ssso_using_subcommand help; and not __fish_seen_subcommand_from status completions man login doctor setup __complete proxy sync help" -f -a "setup" -d 'Print, or --write, the ~/.ssh/config block for `ssso proxy`; --persist-profile on the host'
complete -c ssso -n "__fish_ssso_using_subcommand help; and not __fish_seen_subcommand_from status completions man login doctor setup __complete proxy sync help" -f -a "__complete" -d 'Completion candidates for the shell scripts (internal)'
complete -c ssso -n "__fish_ssso_using_subcommand help; and not __fish_seen_subcommand_from status completions man login doctor setup __complete proxy sync help" -f -a "proxy" -d 'ProxyCommand mode: sync the token, then connect ssh to HOST PORT (see PROXYCOMMAND MODE)'
complete -c ssso -n "__fish_ssso_using_subcommand help; and not __fish_seen_subcommand_from status completions man login doctor setup __complete proxy sync help" -f -a "sync" -d 'Sync the token and config to many hosts at once; a table of results (see FLEET SYNC)'
complete -c ssso -n "__fish_ssso_using_subcommand help; and not __fish_seen_subcommand_from status completions man login doctor setup __complete proxy sync help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'

# ssso: --profile from the AWS config, DESTINATION from ~/.ssh/config and known_hosts.
complete -c ssso -l profile -x -a '(command ssso __complete --shell fish -- (commandline -opc)[2..] (commandline -ct) 2>/dev/null)'
complete -c ssso -a '(command ssso __complete --shell fish -- (commandline -opc)[2..] (commandline -ct) 2>/dev/null)'
