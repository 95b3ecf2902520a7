# ssso doctor's program: run once on the host (src/cmd/doctor.rs), changes nothing there, and
# reports what it finds; src/cmd/doctor.rs judges it. Reply (after `start`):
#   user UID NAME                      who runs this
#   aws-version TEXT | aws-missing     the first line of `aws --version`
#   cache-dir MODE UID | symlink | missing
#   token MODE UID | symlink | missing, and the blob :token (the file, for doctor.rs to read)
#   :config                            ~/.aws/config, when it is a file
#   credentials N                      how many aws_access_key_id lines ~/.aws/credentials has
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
cr="${AWS_SHARED_CREDENTIALS_FILE:-$HOME/.aws/credentials}"
if [ -f "$cr" ]; then rp "credentials $(grep -ci '^[[:space:]]*aws_access_key_id' "$cr")"; else rp "credentials 0"; fi
if [ -n "$a" ]; then
  if command -v timeout >/dev/null 2>&1; then to="timeout 30"; else to=''; fi
  # $to is one or two words on purpose.
  # shellcheck disable=SC2086
  o=$($to "$a" sts get-caller-identity --profile="$P" --output json 2>&1 </dev/null)
  rp "sts-status $?"
  blob_var sts "$o"
fi
rp "done"
