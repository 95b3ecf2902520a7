#!/usr/bin/env bash
# Benchmark: does the one refresher keep hosts working across token lifetimes? For a held
# connect session (`ssso HOST 'loop'`) and for `ssso sync --keep --with-refresh-token` with two
# hosts, each host runs `aws sts get-caller-identity` every INTERVAL seconds for DURATION
# seconds, against a mock SSO-OIDC (tests/support/mock_sso.py) that rotates the refresh token on
# every CreateToken, refuses a reused one and refuses expired access tokens, with the hosts' own
# AWS CLI (v1, botocore) allowed to refresh against it. It prints, per scenario: calls,
# failures, token lifetimes elapsed (expiries survived), refreshes by ssso, refreshes by the
# hosts, reuses. Target: 0 failures, 0 host refreshes, 0 reuses. A benchmark: it asserts nothing.
#
#   bench/lifetime.sh                          17-minute tokens, real time (DURATION 240 s)
#   LIFETIME=40 DURATION=160 bench/lifetime.sh compressed: 40-second tokens
#
# LIFETIME (seconds, default 1020 = 17 min, just above botocore's 15-minute window): what each
# CreateToken grants. With LIFETIME under 17 minutes time is compressed: ssso's schedule is
# scaled with SSSO_TEST_SCHEDULE (refresh with LIFETIME/2 left, not within 5 s of the last
# write) and the hosts' aws runs under libfaketime (900 - LIFETIME/4) seconds in the past, so
# that botocore reaches its 15-minute window with LIFETIME/4 left: the analogue of 20 min vs 15.
# Each call starts without the CLI's credential cache; role credentials last no longer than the
# token, so every call presents the current SSO token. Needs root, tests/support/setup.sh (the
# test users ssso-bash and ssso-sh, the awscli v1 venv, moto in the tools venv) and faketime.
# BENCH_USER and BENCH_USER2 choose other users for the two hosts (a long run then does not
# hold the test users' locks, which would make the test suite wait).
set -euo pipefail
lifetime=${LIFETIME:-1020}
duration=${DURATION:-240}
interval=${INTERVAL:-5}
user2=${BENCH_USER2:-ssso-sh}
support=$(cd "$(dirname "$0")/../tests/support" && pwd)

before_sshd() {
  # The mock portal/SSO-OIDC and moto, alive while a fifo has a writer (ended by cleanup).
  mkdir -p "$work/portal/refresh"
  : >"$work/portal/tokens"
  : >"$work/portal/seen"
  mkfifo "$work/hold"
  sleep 1000000 >"$work/hold" 9>&- &
  pids+=($!)
  python3 "$support/mock_sso.py" "$work/portal/tokens" "$work/portal/seen" "$work/portal/refresh" \
    <"$work/hold" >"$work/sso.port" 2>"$work/sso.log" 9>&- &
  pids+=($!)
  /opt/ssso-test/tools/bin/python "$support/moto_stdin.py" <"$work/hold" >"$work/sts.port" \
    2>"$work/sts.log" 9>&- &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$work/sso.port" ] && [ -s "$work/sts.port" ] && break; sleep 0.1; done
  sso="http://127.0.0.1:$(head -n1 "$work/sso.port")"
  sts="http://127.0.0.1:$(head -n1 "$work/sts.port")"
  cp "$work/user_key.pub" "$work/keys/$user2"
  # shellcheck disable=SC2034 # used by lib.sh
  SSHD_EXTRA="SetEnv AWS_ENDPOINT_URL_SSO=$sso AWS_ENDPOINT_URL_SSO_OIDC=$sso AWS_ENDPOINT_URL_STS=$sts AWS_EC2_METADATA_DISABLED=true PATH=/opt/ssso-test/bin:/usr/local/bin:/usr/bin:/bin"
}
# The second user's lock too (see lib.sh), on fd 8.
mkdir -p /run/ssso-test-users
exec 8>"/run/ssso-test-users/$user2"
flock 8
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

cat >"$work/ssh_config" <<CFG
Host h1 h2
  HostName 127.0.0.1
  Port $port
  IdentityFile $work/user_key
  IdentitiesOnly yes
  UserKnownHostsFile $work/known_hosts
  StrictHostKeyChecking accept-new
  HostKeyAlias bench
  LogLevel ERROR
Host h1
  User $user
Host h2
  User $user2
CFG
export HOME=$home AWS_ENDPOINT_URL_SSO_OIDC=$sso
if [ "$lifetime" -lt 1020 ]; then
  export SSSO_TEST_SCHEDULE="$((lifetime / 2)) 5 5 10"
  offset=$((900 - lifetime / 4))
  minvalid=(--min-valid 5s)
  mode="compressed: ${lifetime}s tokens, ssso refreshes with $((lifetime / 2))s left, the hosts' botocore with $((lifetime / 4))s left"
else
  unset SSSO_TEST_SCHEDULE
  offset=0
  minvalid=()
  mode="real time: ${lifetime}s tokens, ssso refreshes with 20m left (at most once a minute), the hosts' botocore with 15m left"
fi
faked=""
[ "$offset" -gt 0 ] && faked="faketime -f -$offset"
# The hosts' loop: one line ok/fail per call.
loop="end=\$((\$(date +%s) + $duration)); while [ \"\$(date +%s)\" -lt \"\$end\" ]; do rm -rf ~/.aws/cli/cache; if $faked aws sts get-caller-identity --profile bench >/dev/null 2>&1; then echo ok; else echo fail; fi; sleep $interval; done"
key=$(printf %s bench | sha1sum | cut -d' ' -f1).json

# A fresh chain for a scenario: the local token (LIFETIME left, written an hour ago) whose
# refresh token names a new family at the mock; the hosts' token caches emptied.
new_chain() {
  family="bench-refresh-$1-$RANDOM$RANDOM"
  local access="bench-$1-$RANDOM$RANDOM" now exp reg
  echo "$access" >>"$work/portal/tokens"
  echo "$family $lifetime" >>"$work/portal/refresh/registered"
  now=$(date +%s)
  exp=$(date -u -d "@$((now + lifetime))" +%Y-%m-%dT%H:%M:%SZ)
  reg=$(date -u -d "@$((now + 86400))" +%Y-%m-%dT%H:%M:%SZ)
  printf '{"startUrl": "https://example.awsapps.com/start", "region": "us-east-1", "accessToken": "%s", "expiresAt": "%s", "clientId": "cid", "clientSecret": "csecret", "registrationExpiresAt": "%s", "refreshToken": "%s"}' \
    "$access" "$exp" "$reg" "$family" >"$home/.aws/sso/cache/$key"
  touch -d '-1 hour' "$home/.aws/sso/cache/$key"
  for u in "$user" "$user2"; do
    h=$(getent passwd "$u" | cut -d: -f6)
    rm -rf "$h/.aws/sso/cache" "$h/.aws/cli/cache"
  done
}

report() {  # scenario, files with the hosts' ok/fail lines
  local name=$1 calls fails ours hosts reuses
  shift
  calls=$(cat "$@" | wc -l)
  fails=$(cat "$@" | grep -vc '^ok$' || true)
  ours=$(grep -c "^$family .* ssso\$" "$work/portal/refresh/log" || true)
  hosts=$(grep -c "^$family .* host\$" "$work/portal/refresh/log" || true)
  reuses=$(grep -c "^$family " "$work/portal/refresh/reuses" 2>/dev/null || true)
  printf '%-22s calls %4d  failures %3d  lifetimes elapsed %3d  refreshes: ssso %3d, hosts %d  reuses %d\n' \
    "$name" "$calls" "$fails" "$((duration / lifetime))" "$ours" "$hosts" "$reuses"
}

echo "$mode; every host calls aws every ${interval}s for ${duration}s"

# 1. A held connect session.
new_chain session
"$ssso" "${minvalid[@]}" --profile bench -F "$work/ssh_config" h1 "$loop" >"$work/session.out" 2>"$work/session.err" 9>&- 8>&- || true
report "held connect session" "$work/session.out"

# 2. ssso sync --keep with two hosts.
new_chain keep
"$ssso" sync --keep --with-refresh-token "${minvalid[@]}" --profile bench -F "$work/ssh_config" h1 h2 \
  >/dev/null 2>"$work/keep.err" 9>&- 8>&- &
keep=$!
pids+=("$keep")
for _ in $(seq 100); do
  [ -s "$(getent passwd "$user" | cut -d: -f6)/.aws/sso/cache/$key" ] &&
    [ -s "$(getent passwd "$user2" | cut -d: -f6)/.aws/sso/cache/$key" ] && break
  sleep 0.2
done
ssh -F "$work/ssh_config" h1 "$loop" >"$work/keep1.out" 2>/dev/null 9>&- 8>&- &
l1=$!
ssh -F "$work/ssh_config" h2 "$loop" >"$work/keep2.out" 2>/dev/null 9>&- 8>&- &
l2=$!
wait "$l1" "$l2" || true
kill -INT "$keep"
wait "$keep" && status=0 || status=$?
report "sync --keep, 2 hosts" "$work/keep1.out" "$work/keep2.out"
echo "sync --keep ended with status $status on Ctrl-C"
