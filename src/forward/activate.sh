# ssso --forward, host side, step 2 of 2: run once over the session's connection by
# src/forward/host.rs (through ssh::runner) once the forward of DIR/s is up, with these
# parameters (none is secret):
#   PROFILE  the AWS profile: letters, digits and . _ @ + - only
#   SESSION  16 hex characters naming this session's pointer file
#   DIR      the directory step 1 made (its "dir" line)
#   MODE     activate, or abort (the forward could not be set up: remove DIR if it is one of
#            ssso's, release the session, change nothing else; DIR may be empty)
#   SUM      the cksum of ~/.aws/config that the new text was computed from ("missing": none)
#   CL       the length of the new ~/.aws/config on stdin, or -1: leave the file as it is
#   NONCE    the marker the waiting session polls for (empty: none waits)
# stdin: CL bytes, the new ~/.aws/config.
# Reply (after `start`):
#   config written|unchanged
#   config changed     the file changed since step 1: nothing written; the blob :current is
#                      the file now and "sum CKSUM" its sum: compute again, run again
#   done, or: error MESSAGE
# shellcheck disable=SC2088 # "~/..." in messages is text for people, not a path
set -f
umask 077
release() {
  [ -n "$NONCE" ] || return 0
  m="$HOME/.aws/sso/cache/.ssso-done-$NONCE"
  { [ -d "${m%/*}" ] || mkdir -p "${m%/*}"; } 2>/dev/null && { echo >"$m"; } 2>/dev/null
  return 0
}
fail() { rp "error $*"; release; exit 0; }
start
ours=0
case $DIR in /*/ssso-fwd.*) [ -d "$DIR" ] && [ -O "$DIR" ] && ours=1 ;; esac
if [ "$MODE" = abort ]; then
  if [ "$ours" = 1 ]; then rm -rf "$DIR"; fi
  release
  rp "done"
  exit 0
fi
[ "$ours" = 1 ] || fail "the session's directory $DIR is gone (connection dropped?)"
[ -S "$DIR/s" ] || fail "the forwarded socket $DIR/s did not appear"

a="$HOME/.aws"
cf="$a/config"
if [ "$CL" -ge 0 ]; then
  new=$(head -c "$CL" && printf x) || fail "incomplete input (connection cut?)"
  new=${new%x}
  [ "${#new}" -eq "$CL" ] || fail "incomplete input (connection cut?)"
  [ -L "$cf" ] && fail "~/.aws/config is a symlink; ssso does not replace it: make [profile $PROFILE] read credential_process = $a/ssso/credential-process $PROFILE by hand"
  cur=missing
  if [ -f "$cf" ]; then
    cfg=$(cat "$cf" && printf x) || fail "cannot read ~/.aws/config"
    cfg=${cfg%x}
    cur=$(printf '%s' "$cfg" | cksum)
  fi
  if [ "$cur" != "$SUM" ]; then
    rp "config changed"
    blob_var current "$cfg"
    rp "sum $cur"
    rp "done"
    exit 0
  fi
  n=$(mktemp "$a/.config.ssso.XXXXXX") || fail "cannot write in ~/.aws"
  [ -f "$cf" ] && cp -p "$cf" "$n" 2>/dev/null
  if printf '%s' "$new" >"$n" && mv -f "$n" "$cf"; then
    rp "config written"
  else
    rm -f "$n"
    fail "cannot replace ~/.aws/config"
  fi
else
  rp "config unchanged"
fi

p="$a/ssso/forward/$PROFILE"
n=$(mktemp "$p/.$SESSION.XXXXXX") || fail "cannot write in ~/.aws/ssso/forward/$PROFILE"
if printf '%s\n' "$DIR" >"$n" && mv -f "$n" "$p/$SESSION"; then :; else
  rm -f "$n"
  fail "cannot write ~/.aws/ssso/forward/$PROFILE/$SESSION"
fi
release
rp "done"
