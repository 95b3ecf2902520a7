# ssso --forward, host side, step 1 of 2: run once over the session's connection by
# src/forward/host.rs (through ssh::runner, with these parameters; none is secret):
#   PROFILE     the AWS profile: letters, digits and . _ @ + - only
#   SESSION     16 hex characters naming this session's pointer file
#   TOKEN_FILE  the profile's token cache file name (<sha1>.json), removed when file-sync
#               mode left it here: in forward mode no SSO token stays on the host
#   HELPER      the text of the credential_process helper (credential-process.sh)
#   NONCE       the session waiting for the setup (empty: none): `-` goes to its run marker,
#               ~/.aws/sso/cache/.ssso-run-NONCE (src/ssh/remote.rs), so that it waits for
#               step 2's done marker
# stdin: the session's secret, one line of 64 hex characters.
# Reply (after `start`):
#   client curl|python3|none   what the helper can use on this host
#   dir PATH                   the session's new 0700 directory: the forwarded socket goes to
#                              PATH/s, the secret is in PATH/secret (0600)
#   helper PATH                the helper's absolute path
#   token-removed              a token file left by file-sync mode was removed
#   :config, or config missing ~/.aws/config
#   sum CKSUM                  cksum of those bytes ("missing" when there is no file)
#   done, or: error MESSAGE
# A watcher (a background sh) removes the directory and the pointer file as soon as the
# connection that ran this (its sshd process, $PPID) is gone.
# shellcheck disable=SC2088 # "~/..." in messages is text for people, not a path
set -f
umask 077
fail() { rp "error $*"; exit 0; }
start
if [ -n "$NONCE" ]; then
  { [ -d "$HOME/.aws/sso/cache" ] || mkdir -p "$HOME/.aws/sso/cache"; } 2>/dev/null &&
    { echo - >"$HOME/.aws/sso/cache/.ssso-run-$NONCE"; } 2>/dev/null
fi
IFS= read -r secret || fail "no secret on stdin (connection cut?)"
case $secret in *[!0-9a-f]* | '') fail "malformed secret" ;; esac
[ "${#secret}" -eq 64 ] || fail "malformed secret"
if [ -z "$HOME" ] || [ ! -d "$HOME" ]; then fail "the home directory (${HOME:-unset}) does not exist"; fi

# The helper's HTTP client: curl with --unix-socket (7.40+; exit 7 = could not connect), or python3.
c=none
if command -v curl >/dev/null 2>&1; then
  curl -s --unix-socket /nonexistent/ssso http://localhost/ >/dev/null 2>&1
  [ $? -eq 7 ] && c=curl
fi
[ "$c" = none ] && command -v python3 >/dev/null 2>&1 && c=python3
rp "client $c"

private() { # private DIR NAME: make DIR (0700) if missing; refuse a symlink or another's
  [ -L "$1" ] && fail "$2 is a symlink; ssso does not write through it"
  # (The session's wrapper may be making ~/.aws at the same moment.)
  if [ ! -d "$1" ]; then mkdir "$1" 2>/dev/null || [ -d "$1" ] || fail "cannot create $2"; fi
  [ -O "$1" ] || fail "$2 is not owned by $(id -un)"
}
a="$HOME/.aws"
private "$a" "~/.aws"
private "$a/ssso" "~/.aws/ssso"
private "$a/ssso/forward" "~/.aws/ssso/forward"
private "$a/ssso/forward/$PROFILE" "~/.aws/ssso/forward/$PROFILE"
ptr="$a/ssso/forward/$PROFILE/$SESSION"

# Leftovers of sessions whose watcher was killed: directories of ours whose watcher is gone,
# pointers to directories that are gone.
t=${TMPDIR:-/tmp}
[ "${#t}" -lt 60 ] && [ -d "$t" ] && [ -w "$t" ] || t=/tmp
set +f
for od in "$t"/ssso-fwd.* /tmp/ssso-fwd.*; do
  if [ ! -d "$od" ] || [ ! -O "$od" ] || [ ! -f "$od/watcher" ]; then continue; fi
  IFS= read -r w <"$od/watcher" || w=
  if [ -z "$w" ] || ! kill -0 "$w" 2>/dev/null; then rm -rf "$od"; fi
done
for op in "$a"/ssso/forward/*/*; do
  [ -f "$op" ] || continue
  IFS= read -r od <"$op" || od=
  if [ -z "$od" ] || [ ! -d "$od" ]; then rm -f "$op"; fi
done
set -f

d=$(mktemp -d "$t/ssso-fwd.XXXXXXXX") || fail "cannot create a private directory in $t"
conn=$PPID
# No descriptor of the channel may stay open in the watcher, or the channel never closes:
# bsd-csh, as the login shell, leaves copies of stdin, stdout and stderr on 3, 4 and 5.
(
  exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
  trap '' HUP INT
  while kill -0 "$conn" 2>/dev/null && [ -d "$d" ]; do sleep 1; done
  rm -f "$ptr"
  rm -rf "$d"
) </dev/null >/dev/null 2>&1 &
printf '%s\n' "$!" >"$d/watcher"
printf '%s\n' "$secret" >"$d/secret" || fail "cannot write in $d"
unset secret
rp "dir $d"

h="$a/ssso/credential-process"
[ -L "$h" ] && fail "~/.aws/ssso/credential-process is a symlink; ssso does not write through it"
if ! printf '%s' "$HELPER" | cmp -s - "$h" 2>/dev/null; then
  n=$(mktemp "$h.XXXXXX") || fail "cannot write in ~/.aws/ssso"
  if printf '%s' "$HELPER" >"$n" && chmod 700 "$n" && mv -f "$n" "$h"; then :; else
    rm -f "$n"
    fail "cannot install ~/.aws/ssso/credential-process"
  fi
fi
rp "helper $h"

k="$a/sso/cache/$TOKEN_FILE"
if [ -f "$k" ] && [ ! -L "$k" ]; then rm -f "$k" && rp "token-removed"; fi

cf="$a/config"
if [ -f "$cf" ]; then
  cfg=$(cat "$cf" && printf x) || fail "cannot read ~/.aws/config"
  cfg=${cfg%x}
  blob_var config "$cfg"
  rp "sum $(printf '%s' "$cfg" | cksum)"
else
  rp "config missing"
  rp "sum missing"
fi
rp "done"
