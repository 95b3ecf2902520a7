# ssso doctor's program: run once on the host (src/cmd/doctor.rs), changes nothing there, and
# reports what it finds; src/cmd/doctor.rs judges it. Reply (after `start`):
#   user UID NAME                      who runs this
#   aws-version TEXT | aws-missing     the first line of `aws --version`
#   cache-dir MODE UID | symlink | missing
#   token MODE UID | symlink | missing, and the blob :token (the file, for doctor.rs to read)
#   :config                            ~/.aws/config, when it is a file
#   credentials N                      how many aws_access_key_id lines ~/.aws/credentials has
#   forward-client curl|python3|none   what ssso --forward's helper can use here
#   forward-sessions N                 ssso --forward sessions connected for P (live sockets)
#   refused-token WHY, refused-config WHY
#                                      what the sync would refuse to write there, and why
#                                      (the checks of src/sync/checks.sh, prepended to this)
#   sts-status RC, blob :sts           `aws sts get-caller-identity --profile P` and its output
#   done
#
# Parameters (never secrets):
#   P      the AWS profile
#   K      its token cache file name (<sha1>.json)
set -f
# `ls -ldn` is the POSIX way to read a file's mode and owner uid (no stat(1) in POSIX).
# shellcheck disable=SC2012
perm() { ls -ldn "$1" 2>/dev/null | awk '{print $1, $3}'; }
start
rp "user $(id -u) $(id -un)"
a=$(command -v aws 2>/dev/null)
if [ -z "$a" ]; then
  for x in "$HOME/.local/bin/aws" /usr/local/bin/aws; do
    if [ -x "$x" ]; then a=$x && break; fi
  done
fi
if [ -n "$a" ]; then rp "aws-version $("$a" --version 2>&1 | sed -n 1p)"; else rp "aws-missing"; fi
d="$HOME/.aws/sso/cache"
if [ -L "$d" ]; then rp "cache-dir symlink"; elif [ -d "$d" ]; then rp "cache-dir $(perm "$d")"; else rp "cache-dir missing"; fi
t="$d/$K"
if [ -L "$t" ]; then
  rp "token symlink"
elif [ -f "$t" ]; then
  rp "token $(perm "$t")"
  blob_file token "$t"
else
  rp "token missing"
fi
c="$HOME/.aws/config"
if [ -f "$c" ]; then blob_file config "$c"; fi
# The sync's own checks (checks.sh), creating nothing: what it would refuse, and why.
# shellcheck disable=SC2088,SC2154 # "~/..." is text for people; why is set by verdict
{
  verdict "$t" "~/.aws/sso/cache/$K" "$d"
  [ -z "$why" ] || rp "refused-token $why"
  verdict "$c" "~/.aws/config" "$HOME/.aws"
  [ -z "$why" ] || rp "refused-config $why"
}
cr="${AWS_SHARED_CREDENTIALS_FILE:-$HOME/.aws/credentials}"
if [ -f "$cr" ]; then rp "credentials $(grep -ci '^[[:space:]]*aws_access_key_id' "$cr")"; else rp "credentials 0"; fi
# --forward: the helper's client, and the forward sessions connected for P (live sockets).
fc=none
if command -v curl >/dev/null 2>&1; then fc=curl; elif command -v python3 >/dev/null 2>&1; then fc=python3; fi
rp "forward-client $fc"
fs=0
set +f
for ptr in "$HOME/.aws/ssso/forward/$P"/*; do
  if [ -f "$ptr" ] && IFS= read -r od <"$ptr" && [ -S "$od/s" ]; then fs=$((fs + 1)); fi
done
set -f
rp "forward-sessions $fs"
if [ -n "$a" ]; then
  if command -v timeout >/dev/null 2>&1; then to="timeout 30"; else to=''; fi
  # $to is one or two words on purpose.
  # shellcheck disable=SC2086
  o=$($to "$a" sts get-caller-identity --profile="$P" --output json 2>&1 </dev/null)
  rp "sts-status $?"
  blob_var sts "$o"
fi
rp "done"
