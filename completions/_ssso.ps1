
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'ssso' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'ssso'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'ssso' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile to use [default: SSSO_PROFILE, the host''s SetEnv AWS_PROFILE, AWS_PROFILE]')
            [CompletionResult]::new('--min-valid', '--min-valid', [CompletionResultType]::ParameterName, 'Log in again when the token has less than this left (e.g. 15m, 1h, 90s)')
            [CompletionResult]::new('--refresh-before', '--refresh-before', [CompletionResultType]::ParameterName, 'Refresh a refreshable token that has less than this left, and push it, before the AWS CLI on a host would (it refreshes with 15m left); at least 16m')
            [CompletionResult]::new('--login-arg', '--login-arg', [CompletionResultType]::ParameterName, 'Extra argument for `aws sso login` (repeatable), e.g. --login-arg=--use-device-code')
            [CompletionResult]::new('--no-login', '--no-login', [CompletionResultType]::ParameterName, 'Fail instead of running `aws sso login` when the token is not fresh')
            [CompletionResult]::new('--no-config', '--no-config', [CompletionResultType]::ParameterName, 'Do not touch the remote ~/.aws/config (sync the token only)')
            [CompletionResult]::new('--access-token-only', '--access-token-only', [CompletionResultType]::ParameterName, 'Send the token without refreshToken and clientSecret: the remote cannot refresh it, and it stops working at its expiresAt (see SECURITY in the man page)')
            [CompletionResult]::new('--forward', '--forward', [CompletionResultType]::ParameterName, 'Least privilege: keep the SSO token on this machine and give the host only the profile''s role credentials, on demand, while the session lasts (see SECURITY)')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the resolved profile and the local token''s state (no network)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script (bash, zsh, fish, powershell, elvish)')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page (roff)')
            [CompletionResult]::new('login', 'login', [CompletionResultType]::ParameterValue, 'Make the local SSO token fresh, running `aws sso login` only when needed (no ssh)')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Check a host for ssso: ssh, remote aws, config, token, credentials, a live AWS call')
            [CompletionResult]::new('setup', 'setup', [CompletionResultType]::ParameterValue, 'Print, or --write, the ~/.ssh/config block for `ssso proxy`; --persist-profile on the host')
            [CompletionResult]::new('__complete', '__complete', [CompletionResultType]::ParameterValue, 'Completion candidates for the shell scripts (internal)')
            [CompletionResult]::new('proxy', 'proxy', [CompletionResultType]::ParameterValue, 'ProxyCommand mode: sync the token, then connect ssh to HOST PORT (see PROXYCOMMAND MODE)')
            [CompletionResult]::new('sync', 'sync', [CompletionResultType]::ParameterValue, 'Sync the token and config to many hosts at once; a table of results (see FLEET SYNC)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'ssso;status' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile to use [default: SSSO_PROFILE, the host''s SetEnv AWS_PROFILE, AWS_PROFILE]')
            [CompletionResult]::new('--min-valid', '--min-valid', [CompletionResultType]::ParameterName, 'Log in again when the token has less than this left (e.g. 15m, 1h, 90s)')
            [CompletionResult]::new('--refresh-before', '--refresh-before', [CompletionResultType]::ParameterName, 'Refresh a refreshable token that has less than this left, and push it, before the AWS CLI on a host would (it refreshes with 15m left); at least 16m')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable output (stable; see the man page)')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Every SSO session of the local config, with its profiles and its token')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'ssso;completions' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'ssso;man' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'ssso;login' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile to use [default: SSSO_PROFILE, the host''s SetEnv AWS_PROFILE, AWS_PROFILE]')
            [CompletionResult]::new('--min-valid', '--min-valid', [CompletionResultType]::ParameterName, 'Log in again when the token has less than this left (e.g. 15m, 1h, 90s)')
            [CompletionResult]::new('--refresh-before', '--refresh-before', [CompletionResultType]::ParameterName, 'Refresh a refreshable token that has less than this left, and push it, before the AWS CLI on a host would (it refreshes with 15m left); at least 16m')
            [CompletionResult]::new('--login-arg', '--login-arg', [CompletionResultType]::ParameterName, 'Extra argument for `aws sso login` (repeatable), e.g. --login-arg=--use-device-code')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Run `aws sso login` even when the token is fresh')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Explain each step')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Explain each step')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'ssso;doctor' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile to use [default: SSSO_PROFILE, the host''s SetEnv AWS_PROFILE, AWS_PROFILE]')
            [CompletionResult]::new('--min-valid', '--min-valid', [CompletionResultType]::ParameterName, 'Warn when the host''s token has less than this left (e.g. 15m, 1h, 90s)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable output (stable; see the man page)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'ssso;setup' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile for `SetEnv AWS_PROFILE` [default: SSSO_PROFILE, the host''s SetEnv AWS_PROFILE, AWS_PROFILE]')
            [CompletionResult]::new('--persist-profile', '--persist-profile', [CompletionResultType]::ParameterName, 'Also set AWS_PROFILE in the host''s login-shell startup file (a marked block)')
            [CompletionResult]::new('--write', '--write', [CompletionResultType]::ParameterName, 'Change the files; without it, only show what would change')
            [CompletionResult]::new('--undo', '--undo', [CompletionResultType]::ParameterName, 'Remove ssso''s blocks instead of adding them')
            [CompletionResult]::new('--forward', '--forward', [CompletionResultType]::ParameterName, 'The block for least-privilege mode: `ssso HOST` forwards role credentials and keeps the token here; no ProxyCommand (it cannot carry the forward)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'ssso;__complete' {
            [CompletionResult]::new('--shell', '--shell', [CompletionResultType]::ParameterName, 'bash, zsh or fish')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'ssso;proxy' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile to use [default: SSSO_PROFILE, the host''s SetEnv AWS_PROFILE, AWS_PROFILE]')
            [CompletionResult]::new('--min-valid', '--min-valid', [CompletionResultType]::ParameterName, 'Log in again when the token has less than this left (e.g. 15m, 1h, 90s)')
            [CompletionResult]::new('--refresh-before', '--refresh-before', [CompletionResultType]::ParameterName, 'Refresh a refreshable token that has less than this left, and push it, before the AWS CLI on a host would (it refreshes with 15m left); at least 16m')
            [CompletionResult]::new('--login-arg', '--login-arg', [CompletionResultType]::ParameterName, 'Extra argument for `aws sso login` (repeatable), e.g. --login-arg=--use-device-code')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'The remote user, for the sync connection and the ssh config lookup: pass %r')
            [CompletionResult]::new('--alias', '--alias', [CompletionResultType]::ParameterName, 'The host as named on the ssh command line, for the ssh config lookup (SetEnv AWS_PROFILE, ProxyUseFdpass) and the sync connection: the alias itself, or %n with OpenSSH [default: read from the parent ssh''s command line where possible, else HOST]')
            [CompletionResult]::new('-F', '-F ', [CompletionResultType]::ParameterName, 'The ssh config file, when ssh is run with -F (ssh does not tell its ProxyCommand)')
            [CompletionResult]::new('--no-login', '--no-login', [CompletionResultType]::ParameterName, 'Fail instead of running `aws sso login` when the token is not fresh')
            [CompletionResult]::new('--no-config', '--no-config', [CompletionResultType]::ParameterName, 'Do not touch the remote ~/.aws/config (sync the token only)')
            [CompletionResult]::new('--access-token-only', '--access-token-only', [CompletionResultType]::ParameterName, 'Send the token without refreshToken and clientSecret: the remote cannot refresh it, and it stops working at its expiresAt (see SECURITY in the man page)')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Fail (exit 254, no connection) when the sync fails, instead of warning and connecting')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say what ssso does, on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'ssso;sync' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile to use [default: SSSO_PROFILE, the host''s SetEnv AWS_PROFILE, AWS_PROFILE]')
            [CompletionResult]::new('--min-valid', '--min-valid', [CompletionResultType]::ParameterName, 'Log in again when the token has less than this left (e.g. 15m, 1h, 90s)')
            [CompletionResult]::new('--refresh-before', '--refresh-before', [CompletionResultType]::ParameterName, 'Refresh a refreshable token that has less than this left, and push it, before the AWS CLI on a host would (it refreshes with 15m left); at least 16m')
            [CompletionResult]::new('--login-arg', '--login-arg', [CompletionResultType]::ParameterName, 'Extra argument for `aws sso login` (repeatable), e.g. --login-arg=--use-device-code')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'How many hosts to work on at once (prompts need --jobs 1)')
            [CompletionResult]::new('--hosts-file', '--hosts-file', [CompletionResultType]::ParameterName, 'Read more hosts from FILE, one a line (# comments); - for stdin')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Give up on a host after this long (connection and sync), e.g. 10s, 1m')
            [CompletionResult]::new('--no-login', '--no-login', [CompletionResultType]::ParameterName, 'Fail instead of running `aws sso login` when the token is not fresh')
            [CompletionResult]::new('--no-config', '--no-config', [CompletionResultType]::ParameterName, 'Do not touch the remote ~/.aws/config (sync the token only)')
            [CompletionResult]::new('--access-token-only', '--access-token-only', [CompletionResultType]::ParameterName, 'Send the token without refreshToken and clientSecret: the remote cannot refresh it, and it stops working at its expiresAt (see SECURITY in the man page)')
            [CompletionResult]::new('--keep', '--keep', [CompletionResultType]::ParameterName, 'Stay in the foreground, one connection per host, as the one refresher of the fleet: every refresh is pushed to every host; hosts that go away are reconnected; Ctrl-C ends')
            [CompletionResult]::new('--with-refresh-token', '--with-refresh-token', [CompletionResultType]::ParameterName, 'Send the refresh token too (by default `ssso sync` sends the access token only: hosts that share one refresh token spend it for each other; see FLEET SYNC)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'ssso;help' {
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the resolved profile and the local token''s state (no network)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script (bash, zsh, fish, powershell, elvish)')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page (roff)')
            [CompletionResult]::new('login', 'login', [CompletionResultType]::ParameterValue, 'Make the local SSO token fresh, running `aws sso login` only when needed (no ssh)')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Check a host for ssso: ssh, remote aws, config, token, credentials, a live AWS call')
            [CompletionResult]::new('setup', 'setup', [CompletionResultType]::ParameterValue, 'Print, or --write, the ~/.ssh/config block for `ssso proxy`; --persist-profile on the host')
            [CompletionResult]::new('__complete', '__complete', [CompletionResultType]::ParameterValue, 'Completion candidates for the shell scripts (internal)')
            [CompletionResult]::new('proxy', 'proxy', [CompletionResultType]::ParameterValue, 'ProxyCommand mode: sync the token, then connect ssh to HOST PORT (see PROXYCOMMAND MODE)')
            [CompletionResult]::new('sync', 'sync', [CompletionResultType]::ParameterValue, 'Sync the token and config to many hosts at once; a table of results (see FLEET SYNC)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'ssso;help;status' {
            break
        }
        'ssso;help;completions' {
            break
        }
        'ssso;help;man' {
            break
        }
        'ssso;help;login' {
            break
        }
        'ssso;help;doctor' {
            break
        }
        'ssso;help;setup' {
            break
        }
        'ssso;help;__complete' {
            break
        }
        'ssso;help;proxy' {
            break
        }
        'ssso;help;sync' {
            break
        }
        'ssso;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
