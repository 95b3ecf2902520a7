
use builtin;
use str;

set edit:completion:arg-completer[ssso] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'ssso'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'ssso'= {
            cand --profile 'AWS profile to use [default: SSSO_PROFILE, the host''s SetEnv AWS_PROFILE, AWS_PROFILE]'
            cand --min-valid 'Log in again when the token has less than this left (e.g. 15m, 1h, 90s)'
            cand --refresh-before 'Refresh a refreshable token that has less than this left, and push it, before the AWS CLI on a host would (it refreshes with 15m left); at least 16m'
            cand --login-arg 'Extra argument for `aws sso login` (repeatable), e.g. --login-arg=--use-device-code'
            cand --no-login 'Fail instead of running `aws sso login` when the token is not fresh'
            cand --no-config 'Do not touch the remote ~/.aws/config (sync the token only)'
            cand --access-token-only 'Send the token without refreshToken and clientSecret: the remote cannot refresh it, and it stops working at its expiresAt (see SECURITY in the man page)'
            cand --forward 'Least privilege: keep the SSO token on this machine and give the host only the profile''s role credentials, on demand, while the session lasts (see SECURITY)'
            cand --version 'Print version'
            cand -h 'Print help'
            cand --help 'Print help'
            cand status 'Show the resolved profile and the local token''s state (no network)'
            cand completions 'Print a shell completion script (bash, zsh, fish, powershell, elvish)'
            cand man 'Print the man page (roff)'
            cand login 'Make the local SSO token fresh, running `aws sso login` only when needed (no ssh)'
            cand doctor 'Check a host for ssso: ssh, remote aws, config, token, credentials, a live AWS call'
            cand setup 'Print, or --write, the ~/.ssh/config block for `ssso proxy`; --persist-profile on the host'
            cand __complete 'Completion candidates for the shell scripts (internal)'
            cand proxy 'ProxyCommand mode: sync the token, then connect ssh to HOST PORT (see PROXYCOMMAND MODE)'
            cand sync 'Sync the token and config to many hosts at once; a table of results (see FLEET SYNC)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'ssso;status'= {
            cand --profile 'AWS profile to use [default: SSSO_PROFILE, the host''s SetEnv AWS_PROFILE, AWS_PROFILE]'
            cand --min-valid 'Log in again when the token has less than this left (e.g. 15m, 1h, 90s)'
            cand --refresh-before 'Refresh a refreshable token that has less than this left, and push it, before the AWS CLI on a host would (it refreshes with 15m left); at least 16m'
            cand --json 'Machine-readable output (stable; see the man page)'
            cand --all 'Every SSO session of the local config, with its profiles and its token'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'ssso;completions'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'ssso;man'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'ssso;login'= {
            cand --profile 'AWS profile to use [default: SSSO_PROFILE, the host''s SetEnv AWS_PROFILE, AWS_PROFILE]'
            cand --min-valid 'Log in again when the token has less than this left (e.g. 15m, 1h, 90s)'
            cand --refresh-before 'Refresh a refreshable token that has less than this left, and push it, before the AWS CLI on a host would (it refreshes with 15m left); at least 16m'
            cand --login-arg 'Extra argument for `aws sso login` (repeatable), e.g. --login-arg=--use-device-code'
            cand --force 'Run `aws sso login` even when the token is fresh'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand -v 'Explain each step'
            cand --verbose 'Explain each step'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'ssso;doctor'= {
            cand --profile 'AWS profile to use [default: SSSO_PROFILE, the host''s SetEnv AWS_PROFILE, AWS_PROFILE]'
            cand --min-valid 'Warn when the host''s token has less than this left (e.g. 15m, 1h, 90s)'
            cand --json 'Machine-readable output (stable; see the man page)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'ssso;setup'= {
            cand --profile 'AWS profile for `SetEnv AWS_PROFILE` [default: SSSO_PROFILE, the host''s SetEnv AWS_PROFILE, AWS_PROFILE]'
            cand --persist-profile 'Also set AWS_PROFILE in the host''s login-shell startup file (a marked block)'
            cand --write 'Change the files; without it, only show what would change'
            cand --undo 'Remove ssso''s blocks instead of adding them'
            cand --forward 'The block for least-privilege mode: `ssso HOST` forwards role credentials and keeps the token here; no ProxyCommand (it cannot carry the forward)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'ssso;__complete'= {
            cand --shell 'bash, zsh or fish'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'ssso;proxy'= {
            cand --profile 'AWS profile to use [default: SSSO_PROFILE, the host''s SetEnv AWS_PROFILE, AWS_PROFILE]'
            cand --min-valid 'Log in again when the token has less than this left (e.g. 15m, 1h, 90s)'
            cand --refresh-before 'Refresh a refreshable token that has less than this left, and push it, before the AWS CLI on a host would (it refreshes with 15m left); at least 16m'
            cand --login-arg 'Extra argument for `aws sso login` (repeatable), e.g. --login-arg=--use-device-code'
            cand --user 'The remote user, for the sync connection and the ssh config lookup: pass %r'
            cand --alias 'The host as named on the ssh command line, for the ssh config lookup (SetEnv AWS_PROFILE, ProxyUseFdpass) and the sync connection: the alias itself, or %n with OpenSSH [default: read from the parent ssh''s command line where possible, else HOST]'
            cand -F 'The ssh config file, when ssh is run with -F (ssh does not tell its ProxyCommand)'
            cand --no-login 'Fail instead of running `aws sso login` when the token is not fresh'
            cand --no-config 'Do not touch the remote ~/.aws/config (sync the token only)'
            cand --access-token-only 'Send the token without refreshToken and clientSecret: the remote cannot refresh it, and it stops working at its expiresAt (see SECURITY in the man page)'
            cand --strict 'Fail (exit 254, no connection) when the sync fails, instead of warning and connecting'
            cand --quiet 'Only errors on stderr'
            cand --verbose 'Say what ssso does, on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'ssso;sync'= {
            cand --profile 'AWS profile to use [default: SSSO_PROFILE, the host''s SetEnv AWS_PROFILE, AWS_PROFILE]'
            cand --min-valid 'Log in again when the token has less than this left (e.g. 15m, 1h, 90s)'
            cand --refresh-before 'Refresh a refreshable token that has less than this left, and push it, before the AWS CLI on a host would (it refreshes with 15m left); at least 16m'
            cand --login-arg 'Extra argument for `aws sso login` (repeatable), e.g. --login-arg=--use-device-code'
            cand --jobs 'How many hosts to work on at once (prompts need --jobs 1)'
            cand --hosts-file 'Read more hosts from FILE, one a line (# comments); - for stdin'
            cand --timeout 'Give up on a host after this long (connection and sync), e.g. 10s, 1m'
            cand --no-login 'Fail instead of running `aws sso login` when the token is not fresh'
            cand --no-config 'Do not touch the remote ~/.aws/config (sync the token only)'
            cand --access-token-only 'Send the token without refreshToken and clientSecret: the remote cannot refresh it, and it stops working at its expiresAt (see SECURITY in the man page)'
            cand --keep 'Stay in the foreground, one connection per host, as the one refresher of the fleet: every refresh is pushed to every host; hosts that go away are reconnected; Ctrl-C ends'
            cand --with-refresh-token 'Send the refresh token too (by default `ssso sync` sends the access token only: hosts that share one refresh token spend it for each other; see FLEET SYNC)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'ssso;help'= {
            cand status 'Show the resolved profile and the local token''s state (no network)'
            cand completions 'Print a shell completion script (bash, zsh, fish, powershell, elvish)'
            cand man 'Print the man page (roff)'
            cand login 'Make the local SSO token fresh, running `aws sso login` only when needed (no ssh)'
            cand doctor 'Check a host for ssso: ssh, remote aws, config, token, credentials, a live AWS call'
            cand setup 'Print, or --write, the ~/.ssh/config block for `ssso proxy`; --persist-profile on the host'
            cand __complete 'Completion candidates for the shell scripts (internal)'
            cand proxy 'ProxyCommand mode: sync the token, then connect ssh to HOST PORT (see PROXYCOMMAND MODE)'
            cand sync 'Sync the token and config to many hosts at once; a table of results (see FLEET SYNC)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'ssso;help;status'= {
        }
        &'ssso;help;completions'= {
        }
        &'ssso;help;man'= {
        }
        &'ssso;help;login'= {
        }
        &'ssso;help;doctor'= {
        }
        &'ssso;help;setup'= {
        }
        &'ssso;help;__complete'= {
        }
        &'ssso;help;proxy'= {
        }
        &'ssso;help;sync'= {
        }
        &'ssso;help;help'= {
        }
    ]
    $completions[$command]
}
